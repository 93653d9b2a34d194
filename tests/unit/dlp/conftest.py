"""Runs every ``test_matcher*.py`` test once per stage-1 engine (Hyperscan and RE2) with the
compiled stage-2 loops of ``_native_stream``, and once more with the pure-Python methods
they stand in for (behind Hyperscan), and every test that uses ``slide_reader`` or ``zipdir_reader`` once per
reader (compiled and pure Python).

The engine reaches ``compile_policy`` as the matcher's default (``DEFAULT_ENGINE``), which
is what a caller that names no engine gets; the fleet passes its ``CASB_DLP_ENGINE`` setting
explicitly. Module-scoped (not ``monkeypatch``) because hypothesis refuses function-scoped
fixtures around ``@given`` tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from detectors.dlp import matcher
from detectors.dlp.extract import ooxml_fast, zipparts
from detectors.dlp.matcher import ENGINES

READERS = ("native", "python")
STAGE2_PATHS = ("native", "python")
COMPILED_ONLY_WHERE_BUILT = frozenset(
    {"test_matcher_layout", "test_matcher_catalog", "test_matcher_paths"}
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    engines = module.startswith("test_matcher") and "dlp_engine" in metafunc.fixturenames
    stage2 = module.startswith(("test_matcher", "test_leading_byte", "test_engines_differential"))
    stage2 = stage2 and "dlp_stage2" in metafunc.fixturenames
    if engines and stage2:
        # the compiled stage 2 behind each engine, the Python stage 2 behind the first: the
        # Python path's loops do not depend on the engine (test_stream_native compares the
        # two paths behind both engines on generated text). The slowest modules, whose
        # layouts and catalogue values that comparison plants too, run the Python path
        # only where nothing is compiled (then behind both engines).
        if matcher._native_stream is None:
            combos = [(engine, "python") for engine in ENGINES]
        else:
            combos = [(engine, "native") for engine in ENGINES]
            if module not in COMPILED_ONLY_WHERE_BUILT:
                combos.append((ENGINES[0], "python"))
        metafunc.parametrize(("dlp_engine", "dlp_stage2"), combos, indirect=True, scope="module")
    elif engines:
        metafunc.parametrize("dlp_engine", ENGINES, indirect=True, scope="module")
    elif stage2:
        metafunc.parametrize("dlp_stage2", STAGE2_PATHS, indirect=True, scope="module")
    for name in ("slide_reader", "zipdir_reader"):
        if name in metafunc.fixturenames:
            metafunc.parametrize(name, READERS, indirect=True, scope="module")


@pytest.fixture(scope="module")
def dlp_engine(request: pytest.FixtureRequest) -> str:
    return str(getattr(request, "param", "auto"))


@pytest.fixture(scope="module", autouse=True)
def _dlp_engine_default(dlp_engine: str) -> Iterator[None]:
    old = matcher.DEFAULT_ENGINE
    matcher.DEFAULT_ENGINE = dlp_engine
    yield
    matcher.DEFAULT_ENGINE = old


def _reader(request: pytest.FixtureRequest, module: object, attribute: str) -> Iterator[str]:
    mode = str(getattr(request, "param", "native"))
    built = getattr(module, attribute)
    if mode == "native" and built is None:
        if os.environ.get("CASB_REQUIRE_NATIVE") == "1":
            pytest.fail(f"detectors.dlp.extract.{attribute} is not built")
        pytest.skip("no compiled reader on this host (no C compiler)")
    if mode == "python":
        setattr(module, attribute, None)
    try:
        yield mode
    finally:
        setattr(module, attribute, built)


@pytest.fixture(scope="module")
def dlp_stage2(request: pytest.FixtureRequest) -> Iterator[str]:
    """``native``: the matcher's compiled stage-2 loops (``_native_stream``), where built;
    ``python``: the methods they stand in for. Tests outside the parametrized modules get the
    compiled loops where they are built."""
    mode = str(getattr(request, "param", "native"))
    built = matcher._native_stream
    if mode == "native" and built is None and hasattr(request, "param"):
        if os.environ.get("CASB_REQUIRE_NATIVE") == "1":
            pytest.fail("detectors.dlp._native_stream is not built")
        pytest.skip("no compiled stage 2 on this host (no C compiler)")
    if mode == "python":
        matcher._native_stream = None
    try:
        yield mode
    finally:
        matcher._native_stream = built


@pytest.fixture(scope="module", autouse=True)
def _dlp_stage2_path(dlp_stage2: str) -> str:
    return dlp_stage2


@pytest.fixture(scope="module")
def slide_reader(request: pytest.FixtureRequest) -> Iterator[str]:
    """``native``: the compiled slide tokenizer and reader (``_native_slides``), where built
    (a host with a C compiler must have built it); ``python``: the pure-Python path, as on a
    host without a compiler."""
    yield from _reader(request, ooxml_fast, "_native_slides")


@pytest.fixture(scope="module")
def zipdir_reader(request: pytest.FixtureRequest) -> Iterator[str]:
    """The central directory loop: compiled (``_native_zipdir``) or pure Python."""
    yield from _reader(request, zipparts, "_native_zipdir")
