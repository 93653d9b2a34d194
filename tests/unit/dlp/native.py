"""Switching the DLP value checks between their compiled versions and the Python reference.

Each module below calls ``_native_checks`` when its module attribute of that name is set;
with it set to None the Python body runs. ``pure_python()`` sets it to None in all of them."""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Iterator
from types import ModuleType

from detectors.dlp import checks, masking, placeholders, validators

MODULES = (placeholders, checks, validators, masking)


def native_module() -> ModuleType | None:
    """The built accelerator, or None where it was not built (only allowed on a host without
    a C compiler: the test command sets CASB_REQUIRE_NATIVE=1 where one is)."""
    try:
        return importlib.import_module("detectors.dlp._native_checks")
    except ImportError:
        if os.environ.get("CASB_REQUIRE_NATIVE") == "1":
            raise
        return None


@contextlib.contextmanager
def pure_python() -> Iterator[None]:
    saved = [getattr(m, "_native_checks") for m in MODULES]  # noqa: B009
    for m in MODULES:
        setattr(m, "_native_checks", None)  # noqa: B010
    try:
        yield
    finally:
        for m, old in zip(MODULES, saved, strict=True):
            setattr(m, "_native_checks", old)  # noqa: B010
