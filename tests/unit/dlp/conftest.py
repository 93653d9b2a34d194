"""Runs every ``test_matcher*.py`` test once per stage-1 engine (Hyperscan and RE2).

The engine reaches ``compile_policy`` as the matcher's default (``DEFAULT_ENGINE``), which
is what a caller that names no engine gets; the fleet passes its ``CASB_DLP_ENGINE`` setting
explicitly. Module-scoped (not ``monkeypatch``) because hypothesis refuses function-scoped
fixtures around ``@given`` tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from detectors.dlp import matcher
from detectors.dlp.matcher import ENGINES


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    if module.startswith("test_matcher") and "dlp_engine" in metafunc.fixturenames:
        metafunc.parametrize("dlp_engine", ENGINES, indirect=True, scope="module")


@pytest.fixture(scope="module")
def dlp_engine(request: pytest.FixtureRequest) -> str:
    return str(getattr(request, "param", "auto"))


@pytest.fixture(scope="module", autouse=True)
def _dlp_engine_default(dlp_engine: str) -> Iterator[None]:
    old = matcher.DEFAULT_ENGINE
    matcher.DEFAULT_ENGINE = dlp_engine
    yield
    matcher.DEFAULT_ENGINE = old
