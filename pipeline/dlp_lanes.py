"""A scan's DLP work queue: batches are queued as each file listing is planned, and at most
``lanes`` tasks of the scan take them one at a time.

    enqueue(scan_id, keys, claim, lanes)  queue the batch keys; returns the keys that start
                                          new lanes (as many as free lanes, at most)
    next_batch(scan_id, claim)            a lane finished its batch: its next key, or None
                                          (the queue is empty: the lane ends)

Both are atomic (one Lua script in Redis), so a lane that ends on an empty queue and a
listing queued at the same moment never strand a batch: either the lane takes it, or the
lane has already given up its place and ``enqueue`` starts a new one.

Both are idempotent per ``claim`` (the fetch's resource for ``enqueue``, the lane task's id
for ``next_batch``): a task redelivered after a worker died gets the same answer again and
neither loses a popped batch nor counts a lane twice. ``mark_sent`` records that the claim's
lanes were sent, so a redelivery does not send them a second time.

    fetched(scan_id, resource, fetches)   a fetch ended: ``("detect",)`` once all ``fetches``
                                          of the scan have (claim ``detect``), else nothing

so detection starts as soon as the last fetch ends, beside the DLP lanes.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

from pipeline.snapshots import part_key


@dataclass(frozen=True)
class Claim:
    """What one claim got: the batch keys to send (as lanes), and whether they were sent."""

    keys: tuple[str, ...]
    sent: bool = False


class DlpLanes(Protocol):
    def enqueue(self, scan_id: int, keys: list[str], claim: str, lanes: int) -> Claim: ...

    def next_batch(self, scan_id: int, claim: str) -> Claim: ...

    def mark_sent(self, scan_id: int, claim: str) -> None: ...

    def fetched(self, scan_id: int, resource: str, fetches: int) -> Claim: ...


DETECT = "detect"


def _queue_key(scan_id: int) -> str:
    return part_key(scan_id, "dlp_queue")


def _lanes_key(scan_id: int) -> str:
    return part_key(scan_id, "dlp_lanes")


def _fetched_key(scan_id: int) -> str:
    return part_key(scan_id, "fetched")


# KEYS[1]: the queue (list of batch keys); KEYS[2]: hash of 'active' and 'claim:<id>'.
# ARGV: claim id, ttl, mode ('enqueue' / 'next'), lanes, batch keys (enqueue)...
_CLAIM_LUA = """
local field = 'claim:' .. ARGV[1]
local known = redis.call('HGET', KEYS[2], field)
if known then
  return known
end
local active = tonumber(redis.call('HGET', KEYS[2], 'active') or '0')
local keys = {}
if ARGV[3] == 'enqueue' then
  for i = 5, #ARGV do
    redis.call('RPUSH', KEYS[1], ARGV[i])
  end
  local free = tonumber(ARGV[4]) - active
  while free > 0 do
    local key = redis.call('LPOP', KEYS[1])
    if not key then break end
    table.insert(keys, key)
    free = free - 1
  end
  active = active + #keys
else
  local key = redis.call('LPOP', KEYS[1])
  if key then
    table.insert(keys, key)
  else
    active = active - 1
  end
end
local record = '{"keys":[]}'
if #keys > 0 then record = cjson.encode({keys = keys}) end
redis.call('HSET', KEYS[2], 'active', active, field, record)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[2]))
return record
"""


# KEYS[1]: set of the fetches that ended; KEYS[2]: the lanes hash. ARGV: resource, number of
# fetches, ttl.
_FETCHED_LUA = """
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
local known = redis.call('HGET', KEYS[2], 'claim:detect')
if known then
  return known
end
if redis.call('SCARD', KEYS[1]) < tonumber(ARGV[2]) then
  return '{"keys":[]}'
end
local record = cjson.encode({keys = {'detect'}})
redis.call('HSET', KEYS[2], 'claim:detect', record)
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[3]))
return record
"""


def _claim(raw: Any) -> Claim:
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    record = json.loads(text)
    return Claim(tuple(str(k) for k in record.get("keys") or ()), bool(record.get("sent")))


class RedisDlpLanes:
    """The queue and the lane count in the scan's snapshot namespace (dropped with it)."""

    def __init__(self, client: Any, ttl_seconds: int) -> None:
        self.client = client
        self.ttl = ttl_seconds
        self._script = client.register_script(_CLAIM_LUA)
        self._fetched = client.register_script(_FETCHED_LUA)

    def _run(self, scan_id: int, claim: str, mode: str, lanes: int, keys: list[str]) -> Claim:
        raw = self._script(
            keys=[_queue_key(scan_id), _lanes_key(scan_id)],
            args=[claim, self.ttl, mode, lanes, *keys],
        )
        return _claim(raw)

    def enqueue(self, scan_id: int, keys: list[str], claim: str, lanes: int) -> Claim:
        return self._run(scan_id, claim, "enqueue", lanes, keys)

    def next_batch(self, scan_id: int, claim: str) -> Claim:
        return self._run(scan_id, claim, "next", 0, [])

    def mark_sent(self, scan_id: int, claim: str) -> None:
        field_name = f"claim:{claim}"
        raw = self.client.hget(_lanes_key(scan_id), field_name)
        if raw is None:
            return
        claimed = _claim(raw)
        record = {"keys": list(claimed.keys), "sent": True}
        self.client.hset(_lanes_key(scan_id), field_name, json.dumps(record))

    def fetched(self, scan_id: int, resource: str, fetches: int) -> Claim:
        raw = self._fetched(
            keys=[_fetched_key(scan_id), _lanes_key(scan_id)], args=[resource, fetches, self.ttl]
        )
        return _claim(raw)


@dataclass
class _ScanLanes:
    queue: deque[str] = field(default_factory=deque)
    active: int = 0
    claims: dict[str, Claim] = field(default_factory=dict)
    fetched: set[str] = field(default_factory=set)


class MemoryDlpLanes:
    """The same contract in process memory (embedded runtime)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scans: dict[int, _ScanLanes] = {}

    def enqueue(self, scan_id: int, keys: list[str], claim: str, lanes: int) -> Claim:
        with self._lock:
            scan = self._scans.setdefault(scan_id, _ScanLanes())
            if claim in scan.claims:
                return scan.claims[claim]
            scan.queue.extend(keys)
            taken: list[str] = []
            while scan.queue and scan.active + len(taken) < lanes:
                taken.append(scan.queue.popleft())
            scan.active += len(taken)
            scan.claims[claim] = Claim(tuple(taken))
            return scan.claims[claim]

    def next_batch(self, scan_id: int, claim: str) -> Claim:
        with self._lock:
            scan = self._scans.setdefault(scan_id, _ScanLanes())
            if claim in scan.claims:
                return scan.claims[claim]
            if scan.queue:
                got = Claim((scan.queue.popleft(),))
            else:
                scan.active -= 1
                got = Claim(())
            scan.claims[claim] = got
            return got

    def mark_sent(self, scan_id: int, claim: str) -> None:
        with self._lock:
            scan = self._scans.get(scan_id)
            if scan is not None and claim in scan.claims:
                scan.claims[claim] = Claim(scan.claims[claim].keys, sent=True)

    def fetched(self, scan_id: int, resource: str, fetches: int) -> Claim:
        with self._lock:
            scan = self._scans.setdefault(scan_id, _ScanLanes())
            scan.fetched.add(resource)
            if DETECT not in scan.claims and len(scan.fetched) >= fetches:
                scan.claims[DETECT] = Claim((DETECT,))
            return scan.claims.get(DETECT, Claim(()))
