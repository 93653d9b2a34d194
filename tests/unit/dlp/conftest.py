"""Runs every ``test_matcher*.py`` test once per stage-1 engine (Hyperscan and RE2), and
once per stage-2 path: the compiled loops (``_native_stream``, where it was built) and the
pure-Python methods they stand in for (the module attribute set to None).

The engine reaches ``compile_policy`` as the matcher's default (``DEFAULT_ENGINE``), which
is what a caller that names no engine gets; the fleet passes its ``CASB_DLP_ENGINE`` setting
explicitly. Module-scoped (not ``monkeypatch``) because hypothesis refuses function-scoped
fixtures around ``@given`` tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from detectors.dlp import matcher
from detectors.dlp.matcher import ENGINES

# the stage-2 paths: "python" always; "native" where the accelerator was built (the build
# test fails where a compiler is present and it was not)
STAGE2_PATHS = ("native", "python") if matcher._native_stream is not None else ("python",)
_NATIVE = matcher._native_stream


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    if module.startswith("test_matcher") and "dlp_engine" in metafunc.fixturenames:
        metafunc.parametrize("dlp_engine", ENGINES, indirect=True, scope="module")
    stage2 = module.startswith(("test_matcher", "test_leading_byte", "test_engines_differential"))
    if stage2 and "dlp_stage2" in metafunc.fixturenames:
        metafunc.parametrize("dlp_stage2", STAGE2_PATHS, indirect=True, scope="module")


@pytest.fixture(scope="module")
def dlp_stage2(request: pytest.FixtureRequest) -> str:
    return str(getattr(request, "param", "native"))


@pytest.fixture(scope="module", autouse=True)
def _dlp_stage2_path(dlp_stage2: str) -> Iterator[None]:
    old = matcher._native_stream
    matcher._native_stream = _NATIVE if dlp_stage2 == "native" else None
    yield
    matcher._native_stream = old


@pytest.fixture(scope="module")
def dlp_engine(request: pytest.FixtureRequest) -> str:
    return str(getattr(request, "param", "auto"))


@pytest.fixture(scope="module", autouse=True)
def _dlp_engine_default(dlp_engine: str) -> Iterator[None]:
    old = matcher.DEFAULT_ENGINE
    matcher.DEFAULT_ENGINE = dlp_engine
    yield
    matcher.DEFAULT_ENGINE = old
