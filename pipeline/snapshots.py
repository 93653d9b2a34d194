"""Where fetched snapshot parts travel between pipeline stages.

Fetch tasks write each part once, under a scan-scoped key, and pass only the key on:
messages stay small and credentials or payloads never enter the broker. Layout in Redis
(every key expires after ``snapshot_ttl_seconds``; ``finish_scan`` deletes them early):

* ``casb:scan:{scan_id}:{part}`` — a JSON array of the part's objects (``users``,
  ``logins``, ``invites``, ``admin_keys``, ``project_keys``, ``service_accounts``,
  ``project_members``, ``gpts``, ``workspace_users``, ``chatgpt_logins``, ``conversation_files``,
  ``conversation_messages``, ``gpt_files``,
  ``project_files``), written only for parts that succeeded.
* ``casb:scan:{scan_id}:parts`` — a hash: fetch resource -> JSON summary
  ``{resource, count, key, keys, parts, ok, error}`` as the fetch task returned it.
* ``casb:scan:{scan_id}:listing:{digest}:pages`` / ``:state`` — the pages a listing has
  received so far and its cursors (``connectors.checkpoints``), so a retried fetch resumes.

``MemorySnapshotStore`` has the same interface for the embedded demo and ``--inline``.
"""

from __future__ import annotations

import json
import threading
from typing import Any, Protocol, cast

from schemas.stages import FetchSummary

KEY_PREFIX = "casb:scan:"
#: Keys SCAN examines per round trip when a scan's keys are dropped.
DROP_SCAN_COUNT = 5000


def part_key(scan_id: int, part: str) -> str:
    return f"{KEY_PREFIX}{scan_id}:{part}"


def parts_key(scan_id: int) -> str:
    return f"{KEY_PREFIX}{scan_id}:parts"


class SnapshotStore(Protocol):
    def put(self, scan_id: int, part: str, items: list[dict[str, Any]]) -> str:
        """Store one part (replacing any earlier write) and return its key."""
        ...

    def get(self, key: str) -> list[dict[str, Any]] | None:
        """The part under ``key``, or None when it expired or was never written."""
        ...

    def record(self, scan_id: int, resource: str, summary: FetchSummary) -> None:
        """Record a fetch task's summary (idempotent: a re-run overwrites it)."""
        ...

    def summaries(self, scan_id: int) -> dict[str, FetchSummary]:
        """Every recorded fetch summary of the scan, by resource."""
        ...

    def drop(self, scan_id: int) -> None:
        """Delete everything stored for the scan."""
        ...


class RedisSnapshotStore:
    """Snapshot parts in Redis with a TTL (shared by every worker of the fleet)."""

    def __init__(self, redis: Any, ttl_seconds: int) -> None:
        self.redis = redis
        self.ttl = ttl_seconds

    def put(self, scan_id: int, part: str, items: list[dict[str, Any]]) -> str:
        key = part_key(scan_id, part)
        self.redis.set(key, json.dumps(items, separators=(",", ":")), ex=self.ttl)
        return key

    def get(self, key: str) -> list[dict[str, Any]] | None:
        raw = self.redis.get(key)
        if raw is None:
            return None
        value = json.loads(raw)
        return value if isinstance(value, list) else None

    def record(self, scan_id: int, resource: str, summary: FetchSummary) -> None:
        key = parts_key(scan_id)
        pipe = self.redis.pipeline()
        pipe.hset(key, resource, json.dumps(summary, separators=(",", ":")))
        pipe.expire(key, self.ttl)
        pipe.execute()

    def summaries(self, scan_id: int) -> dict[str, FetchSummary]:
        raw = self.redis.hgetall(parts_key(scan_id))
        return {_text(k): cast(FetchSummary, json.loads(v)) for k, v in raw.items()}

    def drop(self, scan_id: int) -> None:
        # SCAN walks the whole keyspace (task results, every running scan's parts) for the
        # few keys of this scan: a large COUNT walks it in a few round trips, not one per
        # hundred keys.
        keys = list(self.redis.scan_iter(match=f"{KEY_PREFIX}{scan_id}:*", count=DROP_SCAN_COUNT))
        if keys:
            self.redis.delete(*keys)


class MemorySnapshotStore:
    """The same contract in process memory (embedded demo, ``casb scan --inline``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._parts: dict[str, str] = {}
        self._summaries: dict[int, dict[str, str]] = {}

    def put(self, scan_id: int, part: str, items: list[dict[str, Any]]) -> str:
        key = part_key(scan_id, part)
        with self._lock:
            self._parts[key] = json.dumps(items)
        return key

    def get(self, key: str) -> list[dict[str, Any]] | None:
        with self._lock:
            raw = self._parts.get(key)
        return None if raw is None else json.loads(raw)

    def record(self, scan_id: int, resource: str, summary: FetchSummary) -> None:
        with self._lock:
            self._summaries.setdefault(scan_id, {})[resource] = json.dumps(summary)

    def summaries(self, scan_id: int) -> dict[str, FetchSummary]:
        with self._lock:
            stored = dict(self._summaries.get(scan_id, {}))
        return {k: cast(FetchSummary, json.loads(v)) for k, v in stored.items()}

    def drop(self, scan_id: int) -> None:
        prefix = f"{KEY_PREFIX}{scan_id}:"
        with self._lock:
            for key in [k for k in self._parts if k.startswith(prefix)]:
                del self._parts[key]
            self._summaries.pop(scan_id, None)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def finished_channel(scan_id: int) -> str:
    """The Redis channel a scan's end is published on (``Runtime.announce_finished``)."""
    return f"casb:scan:{scan_id}:finished"
