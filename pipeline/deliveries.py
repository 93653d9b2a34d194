"""Poison messages: a job whose worker keeps dying on it stops being run.

Every task is delivered late-acked and re-queued when its worker process dies (an OOM
kill, a hard time limit), which is right for a blip and wrong for input that kills every
worker it reaches: that message would be redelivered for ever. The ledger keeps, per job
(a DLP batch key, a task id), in Redis:

    count      deliveries so far
    open       1 while a delivery runs (set at ``begin``, cleared at ``end``)
    inflight   the item (a DLP file) the running delivery is working on, and its pid
    deaths     deliveries that began and never ended: their worker died
    lost:<i>   deaths while item ``i`` was in flight

A delivery that finds ``open`` still set knows the previous one died, and which item it
was on. ``max_deliveries`` (``CASB_MAX_DELIVERIES``) bounds how often that may happen: on
the delivery after ``max_deliveries - 1`` deaths, the item that was in flight is skipped
(``worker_lost``) and the rest of the job runs; a job that dies outside any item is
given up. The ledger is keyed by ids only, never by content.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

KEY_PREFIX = "casb:deliveries:"


class WorkerLost(Exception):
    """A job was given up because its worker died on it too often (no content, ids only)."""

    kind = "worker_lost"


@dataclass(frozen=True)
class Delivery:
    """This delivery of a job, and what earlier ones left behind."""

    job: str
    number: int
    deaths: int
    losses: dict[str, int] = field(default_factory=dict)

    def poisoned(self, max_deliveries: int) -> set[str]:
        """Items to skip in this delivery: in flight when ``max_deliveries - 1`` deliveries
        died (at least one)."""
        threshold = max(1, max_deliveries - 1)
        return {item for item, n in self.losses.items() if n >= threshold}

    def exhausted(self, max_deliveries: int) -> bool:
        """The job itself has died ``max_deliveries - 1`` times (whatever it was doing)."""
        return self.deaths >= max(1, max_deliveries - 1)


class DeliveryLedger(Protocol):
    def begin(self, job: str) -> Delivery: ...

    def working_on(self, job: str, item: str | None) -> None: ...

    def end(self, job: str) -> None: ...

    def state(self, job: str) -> dict[str, Any]: ...


class RedisDeliveryLedger:
    """The fleet's ledger: one Redis hash per job, expiring after ``ttl_seconds``."""

    def __init__(self, redis: Any, ttl_seconds: int) -> None:
        self.redis = redis
        self.ttl = max(60, int(ttl_seconds))

    def _key(self, job: str) -> str:
        return KEY_PREFIX + job

    def begin(self, job: str) -> Delivery:
        key = self._key(job)
        pipe = self.redis.pipeline()
        pipe.hincrby(key, "count", 1)
        pipe.hget(key, "open")
        pipe.hget(key, "inflight")
        number, was_open, inflight = pipe.execute()[:3]
        if was_open in (b"1", "1"):
            self.redis.hincrby(key, "deaths", 1)
            item = _item_of(inflight)
            if item:
                self.redis.hincrby(key, f"lost:{item}", 1)
        pipe = self.redis.pipeline()
        pipe.hset(key, "open", 1)
        pipe.hdel(key, "inflight")
        pipe.expire(key, self.ttl)
        pipe.execute()
        raw = self.redis.hgetall(key)
        return _delivery(job, int(number), raw)

    def working_on(self, job: str, item: str | None) -> None:
        key = self._key(job)
        if item is None:
            self.redis.hdel(key, "inflight")
        else:
            self.redis.hset(key, "inflight", json.dumps({"item": item, "pid": os.getpid()}))

    def end(self, job: str) -> None:
        pipe = self.redis.pipeline()
        pipe.hdel(self._key(job), "open", "inflight")
        pipe.execute()

    def state(self, job: str) -> dict[str, Any]:
        return _decode(self.redis.hgetall(self._key(job)))


class MemoryDeliveryLedger:
    """In-process ledger (embedded runs: no redelivery ever happens, the API is the same)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, dict[str, Any]] = {}

    def begin(self, job: str) -> Delivery:
        with self._lock:
            data = self._jobs.setdefault(job, {})
            data["count"] = int(data.get("count", 0)) + 1
            if data.get("open") == "1":
                data["deaths"] = int(data.get("deaths", 0)) + 1
                item = _item_of(data.get("inflight"))
                if item:
                    data[f"lost:{item}"] = int(data.get(f"lost:{item}", 0)) + 1
            data["open"] = "1"
            data.pop("inflight", None)
            return _delivery(job, data["count"], data)

    def working_on(self, job: str, item: str | None) -> None:
        with self._lock:
            data = self._jobs.setdefault(job, {})
            if item is None:
                data.pop("inflight", None)
            else:
                data["inflight"] = json.dumps({"item": item, "pid": os.getpid()})

    def end(self, job: str) -> None:
        with self._lock:
            data = self._jobs.get(job, {})
            data.pop("open", None)
            data.pop("inflight", None)

    def state(self, job: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._jobs.get(job, {}))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _decode(raw: dict[Any, Any]) -> dict[str, Any]:
    return {_text(k): _text(v) for k, v in raw.items()}


def _item_of(inflight: Any) -> str | None:
    if not inflight:
        return None
    try:
        item = json.loads(_text(inflight)).get("item")
    except (ValueError, AttributeError):
        return None
    return str(item) if item else None


def _delivery(job: str, number: int, raw: dict[Any, Any]) -> Delivery:
    data = _decode(raw)
    losses = {k[5:]: int(v) for k, v in data.items() if k.startswith("lost:")}
    return Delivery(job=job, number=number, deaths=int(data.get("deaths", 0)), losses=losses)
