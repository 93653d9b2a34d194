"""Listing checkpoints: a retried fetch resumes a listing where it stopped, not at page 1.

``ApiSession.paginate`` saves every page it received (its items and the cursor after it)
under a key derived from the listing (path and query, not ``after``/``limit``). When the same
listing starts again within the same scope (a retried task of the same scan), the saved pages
are replayed without a request and paging continues from the last saved cursor; a listing
that had finished is replayed whole.

A page is saved only if the checkpoint still has exactly the pages this listing has seen, so
two copies of one task (a redelivery running beside the original) never interleave pages:
the second simply stops saving.

``RedisListingCheckpoints`` keeps them in Redis under a caller-chosen prefix with a TTL (the
pipeline uses the scan's snapshot namespace and TTL, so they go when the scan's parts go);
``MemoryListingCheckpoints`` is the same contract in process memory.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class Checkpoint:
    """What a listing saved so far: its pages, the cursors after them, and whether it ended."""

    pages: list[list[dict[str, Any]]] = field(default_factory=list)
    cursors: list[str] = field(default_factory=list)
    done: bool = False

    @property
    def cursor(self) -> str | None:
        return self.cursors[-1] if self.cursors else None


class ListingCheckpoints(Protocol):
    def load(self, listing: str) -> Checkpoint | None:
        """The saved state of ``listing``, or None when nothing was saved."""
        ...

    def save_page(
        self,
        listing: str,
        index: int,
        items: list[dict[str, Any]],
        cursor: str | None,
        done: bool,
    ) -> bool:
        """Save page number ``index`` (0-based) and the cursor after it; False (nothing
        saved) when the checkpoint does not hold exactly ``index`` pages."""
        ...


def listing_id(path: str, params: Sequence[tuple[str, Any]]) -> str:
    """A short stable name for a listing: its path and query, paging parameters aside."""
    query = sorted((k, str(v)) for k, v in params if k not in ("after", "limit"))
    raw = json.dumps([path, query], separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


# KEYS[1]: pages (list of JSON arrays); KEYS[2]: state hash (pages, cursors, done).
# ARGV: index, page JSON, cursor ('' for none), done ('1'/'0'), ttl seconds.
_SAVE_LUA = """
local have = tonumber(redis.call('HGET', KEYS[2], 'pages') or '0')
if have ~= tonumber(ARGV[1]) or redis.call('HGET', KEYS[2], 'done') == '1' then
  return 0
end
redis.call('RPUSH', KEYS[1], ARGV[2])
local cursors = cjson.decode(redis.call('HGET', KEYS[2], 'cursors') or '[]')
if ARGV[3] ~= '' then
  table.insert(cursors, ARGV[3])
end
local encoded = '[]'
if #cursors > 0 then encoded = cjson.encode(cursors) end
redis.call('HSET', KEYS[2], 'pages', have + 1, 'cursors', encoded, 'done', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[5])
return 1
"""


class RedisListingCheckpoints:
    """Checkpoints in Redis: ``{prefix}{listing}:pages`` and ``{prefix}{listing}:state``."""

    def __init__(self, redis: Any, prefix: str, ttl_seconds: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl = max(1, int(ttl_seconds))
        self._save = redis.register_script(_SAVE_LUA)

    def _keys(self, listing: str) -> list[str]:
        return [f"{self.prefix}{listing}:pages", f"{self.prefix}{listing}:state"]

    def load(self, listing: str) -> Checkpoint | None:
        pages_key, state_key = self._keys(listing)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hgetall(state_key)
        pipe.lrange(pages_key, 0, -1)
        state, pages = pipe.execute()
        if not state:
            return None
        state = {_text(k): _text(v) for k, v in state.items()}
        count = int(state.get("pages", "0"))
        if count != len(pages):
            return None  # torn by an expiry between the two keys: start over
        return Checkpoint(
            pages=[json.loads(p) for p in pages],
            cursors=list(json.loads(state.get("cursors") or "[]")),
            done=state.get("done") == "1",
        )

    def save_page(
        self,
        listing: str,
        index: int,
        items: list[dict[str, Any]],
        cursor: str | None,
        done: bool,
    ) -> bool:
        saved = self._save(
            keys=self._keys(listing),
            args=[
                index,
                json.dumps(items, separators=(",", ":")),
                cursor or "",
                "1" if done else "0",
                self.ttl,
            ],
        )
        return bool(int(saved))


class MemoryListingCheckpoints:
    """The same contract in process memory (tests, one-process runs)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._saved: dict[str, Checkpoint] = {}

    def load(self, listing: str) -> Checkpoint | None:
        with self._lock:
            saved = self._saved.get(listing)
            if saved is None:
                return None
            return Checkpoint(
                pages=json.loads(json.dumps(saved.pages)),
                cursors=list(saved.cursors),
                done=saved.done,
            )

    def save_page(
        self,
        listing: str,
        index: int,
        items: list[dict[str, Any]],
        cursor: str | None,
        done: bool,
    ) -> bool:
        with self._lock:
            saved = self._saved.setdefault(listing, Checkpoint())
            if len(saved.pages) != index or saved.done:
                return False
            saved.pages.append(json.loads(json.dumps(items)))
            if cursor:
                saved.cursors.append(cursor)
            saved.done = done
            return True


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
