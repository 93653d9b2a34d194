"""The host's file store of compiled databases: private, atomic, bounded."""

from __future__ import annotations

import os
from pathlib import Path

from core.settings import Settings
from pipeline import engine_store
from pipeline.engine_store import FileDatabaseStore, cache_directory

KEY = "ab" * 32


def test_entries_round_trip_in_a_private_directory(tmp_path: Path) -> None:
    store = FileDatabaseStore(tmp_path / "hs")
    assert store.load(KEY) is None
    store.save(KEY, b"payload")
    assert store.load(KEY) == b"payload"
    assert (tmp_path / "hs").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "hs" / f"{KEY}.hsdb").stat().st_mode & 0o077 == 0


def test_a_directory_others_may_write_is_not_used(tmp_path: Path) -> None:
    directory = tmp_path / "shared"
    store = FileDatabaseStore(directory)
    store.save(KEY, b"payload")
    os.chmod(directory, 0o777)
    assert store.load(KEY) is None
    store.save("cd" * 32, b"other")
    assert not (directory / f"{'cd' * 32}.hsdb").exists()


def test_only_the_newest_entries_are_kept(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(engine_store, "MAX_ENTRIES", 3)
    store = FileDatabaseStore(tmp_path)
    os.chmod(tmp_path, 0o700)
    for i in range(5):
        key = f"{i:064x}"
        store.save(key, b"x")
        os.utime(tmp_path / f"{key}.hsdb", (1000 + i, 1000 + i))
    kept = sorted(p.name for p in tmp_path.glob("*.hsdb"))
    assert kept == [f"{i:064x}.hsdb" for i in (2, 3, 4)]


def test_the_directory_setting(tmp_path: Path, monkeypatch) -> None:
    assert cache_directory(Settings(dlp_engine_cache_dir="off")) is None
    assert cache_directory(Settings(dlp_engine_cache_dir=str(tmp_path))) == tmp_path
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_directory(Settings()) == tmp_path / "openai-casb" / "hyperscan"
