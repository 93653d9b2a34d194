"""The host's store of compiled Hyperscan databases (``detectors.dlp.engine_cache``).

A directory of files, one per database key, private to the user running the fleet (mode
0700, entries 0600, written atomically). A directory another user owns or may write to is
not used: a database is loaded into the matcher, so only this user may have written it.
The newest ``MAX_ENTRIES`` entries are kept. Every failure here only costs a compilation.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

from core.settings import Settings
from detectors.dlp.engine_cache import use_database_store

#: Entries kept (one per distinct profile set and engine build; about 1.2 MB each for the
#: predefined profiles).
MAX_ENTRIES = 64
SUFFIX = ".hsdb"


class FileDatabaseStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, key: str) -> Path:
        if not key.isalnum():
            raise ValueError("database keys are hex digests")
        return self.directory / f"{key}{SUFFIX}"

    def _usable(self) -> bool:
        """Ours alone: owned by this user, nobody else may write to it."""
        try:
            info = self.directory.stat()
        except OSError:
            return False
        return info.st_uid == os.getuid() and not info.st_mode & 0o022

    def load(self, key: str) -> bytes | None:
        if not self._usable():
            return None
        try:
            return self._path(key).read_bytes()
        except OSError:
            return None

    def save(self, key: str, data: bytes) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not self._usable():
            return
        fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, self._path(key))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._prune()

    def _prune(self) -> None:
        entries = sorted(
            self.directory.glob(f"*{SUFFIX}"), key=lambda p: p.stat().st_mtime, reverse=True
        )
        for stale in entries[MAX_ENTRIES:]:
            stale.unlink(missing_ok=True)


def cache_directory(settings: Settings) -> Path | None:
    """The configured directory, the user's cache directory by default, None when off."""
    configured = settings.dlp_engine_cache_dir.strip()
    if configured.lower() == "off":
        return None
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "openai-casb" / "hyperscan"


_lock = threading.Lock()
_installed: tuple[Path | None] | None = None


def install_engine_store(settings: Settings) -> None:
    """Make this process's matchers use the configured store (once per directory)."""
    global _installed
    directory = cache_directory(settings)
    with _lock:
        if _installed == (directory,):
            return
        _installed = (directory,)
    use_database_store(FileDatabaseStore(directory) if directory is not None else None)
