"""Runs every ``test_matcher*.py`` test once per stage-1 engine (Hyperscan and RE2).

The engine reaches ``compile_policy`` through ``CASB_DLP_ENGINE``, exactly as in production,
so the tests exercise the real selection path. Module-scoped (not ``monkeypatch``) because
hypothesis refuses function-scoped fixtures around ``@given`` tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from detectors.dlp.matcher import ENGINE_ENV, ENGINES


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    if module.startswith("test_matcher") and "dlp_engine" in metafunc.fixturenames:
        metafunc.parametrize("dlp_engine", ENGINES, indirect=True, scope="module")


@pytest.fixture(scope="module")
def dlp_engine(request: pytest.FixtureRequest) -> str:
    return str(getattr(request, "param", "auto"))


@pytest.fixture(scope="module", autouse=True)
def _dlp_engine_env(dlp_engine: str) -> Iterator[None]:
    old = os.environ.get(ENGINE_ENV)
    os.environ[ENGINE_ENV] = dlp_engine
    yield
    if old is None:
        os.environ.pop(ENGINE_ENV, None)
    else:
        os.environ[ENGINE_ENV] = old
