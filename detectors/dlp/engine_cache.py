"""Compiled Hyperscan databases, reused across processes through an injected store.

Compiling the predefined profile set's STREAM database takes most of a second of CPU, and
every new process (a ``casb scan --inline`` run, a prefork worker child) compiled it again.
A compiled database is a pure function of its expressions, ids, flags and mode and of the
Hyperscan build, so it is keyed by a digest of exactly those and kept as Hyperscan's own
serialization. Deserializing it takes well under a millisecond.

Pure: this module does no I/O. The layer above installs a :class:`DatabaseStore`
(``use_database_store``); without one every database is compiled, as before. A stored
database that Hyperscan refuses (another build, a damaged entry) is compiled again and
replaced.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from typing import Any, Protocol

try:  # same optional import as the matcher: no Linux aarch64 wheel for hyperscan 0.9.x
    import hyperscan
except ImportError:  # pragma: no cover - exercised on hosts without the wheel
    hyperscan = None  # type: ignore[assignment]

__all__ = ["DatabaseStore", "compiled_database", "database_key", "use_database_store"]

#: Bumped when the way databases are built or serialized here changes.
FORMAT = 1


class DatabaseStore(Protocol):
    """Where serialized databases live between processes (installed by the pipeline)."""

    def load(self, key: str) -> bytes | None: ...

    def save(self, key: str, data: bytes) -> None: ...


_lock = threading.Lock()
_store: DatabaseStore | None = None


def use_database_store(store: DatabaseStore | None) -> None:
    """Install (or, with None, remove) the store every later compilation consults."""
    global _store
    with _lock:
        _store = store


def database_key(
    expressions: Sequence[bytes], ids: Sequence[int], flags: Sequence[int], mode: int
) -> str:
    """A digest of everything the compiled database depends on, Hyperscan's build included."""
    assert hyperscan is not None
    digest = hashlib.sha256()
    header = {
        "format": FORMAT,
        "hyperscan": getattr(hyperscan, "__version__", ""),
        "engine": _engine_version(),
        "mode": mode,
        "ids": list(ids),
        "flags": list(flags),
    }
    digest.update(json.dumps(header, sort_keys=True).encode())
    for expression in expressions:
        digest.update(len(expression).to_bytes(8, "big"))
        digest.update(expression)
    return digest.hexdigest()


def compiled_database(
    expressions: Sequence[bytes], ids: Sequence[int], flags: Sequence[int], mode: int
) -> Any:
    """The Hyperscan database of these expressions: from the store when it has it, else
    compiled (and offered to the store)."""
    assert hyperscan is not None
    store = _store
    key = database_key(expressions, ids, flags, mode) if store is not None else ""
    if store is not None:
        payload = _unwrap(_quietly(lambda: store.load(key)))
        # Another build or a damaged entry does not load: compiled below and replaced.
        loaded = _quietly(lambda: _load(payload, mode)) if payload else None
        if loaded is not None:
            return loaded
    database = hyperscan.Database(mode=mode)
    database.compile(expressions=list(expressions), ids=list(ids), flags=list(flags))
    if store is not None:
        _quietly(lambda: store.save(key, _wrap(bytes(hyperscan.dumpb(database)))))
    return database


def _load(payload: bytes, mode: int) -> Any:
    assert hyperscan is not None
    database = hyperscan.loadb(payload, mode)
    # A compiled database carries its own scratch (python-hyperscan allocates it in
    # compile, and Stream.close uses it); a deserialized one has none until given one.
    database.scratch = hyperscan.Scratch(database)
    return database


_MAGIC = b"casb-hs1"


def _wrap(payload: bytes) -> bytes:
    """The entry as stored: a magic, the payload's SHA-256, the payload. Hyperscan loads a
    damaged serialization without complaint, so the digest is what catches one."""
    return _MAGIC + hashlib.sha256(payload).digest() + payload


def _unwrap(data: object) -> bytes | None:
    if not isinstance(data, bytes) or not data.startswith(_MAGIC):
        return None
    digest, payload = data[len(_MAGIC) : len(_MAGIC) + 32], data[len(_MAGIC) + 32 :]
    return payload if payload and hashlib.sha256(payload).digest() == digest else None


def _quietly(call: Any) -> Any:
    """A store that fails (full disk, read-only home) costs a compilation, never a scan."""
    try:
        return call()
    except Exception:
        return None


def _engine_version() -> str:
    """The Hyperscan library's own version string (the serialization depends on it)."""
    assert hyperscan is not None
    global _version
    if _version is None:
        try:
            probe = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            probe.compile(expressions=[b"casb"])
            info: Any = probe.info()
            _version = info.decode(errors="replace") if isinstance(info, bytes) else str(info)
        except Exception:
            _version = ""
    return _version


_version: str | None = None
