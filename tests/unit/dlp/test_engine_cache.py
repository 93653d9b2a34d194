"""Compiled Hyperscan databases reused through a store: same verdicts, damage detected."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from detectors.dlp import engine_cache
from detectors.dlp.matcher import FileMatch, Policy
from detectors.dlp.profiles import PREDEFINED
from tests.unit.dlp.samples import Gen, entry_samples

hyperscan = pytest.importorskip("hyperscan")

SAMPLES = entry_samples(Gen(5))


class DictStore:
    def __init__(self) -> None:
        self.entries: dict[str, bytes] = {}
        self.loads = 0
        self.saves = 0

    def load(self, key: str) -> bytes | None:
        self.loads += 1
        return self.entries.get(key)

    def save(self, key: str, data: bytes) -> None:
        self.saves += 1
        self.entries[key] = data


@pytest.fixture
def store() -> Iterator[DictStore]:
    store = DictStore()
    engine_cache.use_database_store(store)
    try:
        yield store
    finally:
        engine_cache.use_database_store(None)


def _text() -> bytes:
    return "\n\n".join(text for text, _, _ in SAMPLES.values()).encode()


def _verdict(policy: Policy) -> tuple[FileMatch, FileMatch]:
    # Small chunks: matches straddle chunk edges; two files: streams open and close twice.
    data = _text()
    return policy.scan_bytes(data, chunk_size=997), policy.scan_bytes(data[::-1])


def test_a_stored_database_gives_the_compiled_verdicts(store: DictStore) -> None:
    engine_cache.use_database_store(None)
    expected = _verdict(Policy(list(PREDEFINED.values()), "hyperscan"))
    engine_cache.use_database_store(store)

    Policy(list(PREDEFINED.values()), "hyperscan")  # compiles and saves
    assert store.saves == 1 and len(store.entries) == 1
    reused = Policy(list(PREDEFINED.values()), "hyperscan")  # loads
    assert store.saves == 1 and store.loads == 2
    assert _verdict(reused) == expected
    assert expected[0].entries  # the samples do match


def test_a_damaged_entry_is_compiled_again_and_replaced(store: DictStore) -> None:
    Policy(list(PREDEFINED.values()), "hyperscan")
    ((key, good),) = store.entries.items()
    damaged = bytearray(good)
    damaged[-100] ^= 0xFF  # Hyperscan itself would load this without complaint
    store.entries[key] = bytes(damaged)

    policy = Policy(list(PREDEFINED.values()), "hyperscan")
    assert store.saves == 2 and store.entries[key] == good
    engine_cache.use_database_store(None)
    assert _verdict(policy) == _verdict(Policy(list(PREDEFINED.values()), "hyperscan"))


def test_the_key_follows_every_input() -> None:
    mode = hyperscan.HS_MODE_STREAM
    base = engine_cache.database_key([b"ab", b"cd"], [1, 2], [0, 0], mode)
    assert base == engine_cache.database_key([b"ab", b"cd"], [1, 2], [0, 0], mode)
    others = [
        engine_cache.database_key([b"ab", b"ce"], [1, 2], [0, 0], mode),
        engine_cache.database_key([b"a", b"bcd"], [1, 2], [0, 0], mode),
        engine_cache.database_key([b"ab", b"cd"], [1, 3], [0, 0], mode),
        engine_cache.database_key([b"ab", b"cd"], [1, 2], [0, 1], mode),
        engine_cache.database_key([b"ab", b"cd"], [1, 2], [0, 0], hyperscan.HS_MODE_BLOCK),
    ]
    assert base not in others and len(set(others)) == len(others)


def test_a_failing_store_costs_a_compilation_only() -> None:
    class Broken:
        def load(self, key: str) -> bytes | None:
            raise OSError("read-only file system")

        def save(self, key: str, data: bytes) -> None:
            raise OSError("read-only file system")

    engine_cache.use_database_store(Broken())
    try:
        policy = Policy(list(PREDEFINED.values()), "hyperscan")
    finally:
        engine_cache.use_database_store(None)
    assert _verdict(policy)[0].entries
