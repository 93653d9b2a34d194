"""The C accelerators (``_native_*.c`` under detectors/) are built where a compiler is.

Each accelerator is optional at install time (the pure-Python path beside it gives the same
results), so a failed build would go unnoticed but for this test: the test command sets
``CASB_REQUIRE_NATIVE=1`` on hosts with a C compiler, and then every source must have an
importable module built from its current text."""

from __future__ import annotations

import importlib
import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(ROOT.glob("detectors/**/_native_*.c"))


def _module_name(source: Path) -> str:
    return ".".join(source.relative_to(ROOT).with_suffix("").parts)


def test_setup_builds_every_native_source() -> None:
    import runpy

    namespace = runpy.run_path(str(ROOT / "setup.py"), run_name="not_main")
    names = sorted(ext.name for ext in namespace["native_extensions"]())
    assert names == sorted(_module_name(s) for s in SOURCES)


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.name)
def test_native_module_built_and_current(source: Path) -> None:
    if os.environ.get("CASB_REQUIRE_NATIVE") != "1":
        pytest.skip("no C compiler on this host: the pure-Python paths run")
    name = _module_name(source)
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.origin is not None, f"{name} was not built"
    built = Path(spec.origin)
    assert built.suffix == ".so", f"{name} resolves to {built}, not a built module"
    assert built.stat().st_mtime >= source.stat().st_mtime, (
        f"{built.name} is older than {source.name}: reinstall (./scripts/test does)"
    )
    importlib.import_module(name)
