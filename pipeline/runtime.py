"""Per-process resources of the pipeline: snapshot store, rate budget, limit memory,
delivery ledger, DLP work queue.

A fleet worker uses Redis for both (shared by every worker, so a tenant's API budget holds
fleet-wide). The embedded demo and ``casb scan --inline`` switch the process to
``use_embedded()``: in-memory snapshots and a local budget, no Redis needed. Resources are
created lazily and dropped after a fork (``reset_runtime``), never shared across processes.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

from connectors.checkpoints import ListingCheckpoints, RedisListingCheckpoints
from connectors.http import CallEvent, CallObserver
from connectors.ratelimit import (
    LocalRateBudget,
    RateBudget,
    RedisRateBudget,
    policy_from_settings,
)
from core.metrics import record_api_call
from core.settings import get_settings
from pipeline.deliveries import DeliveryLedger, MemoryDeliveryLedger, RedisDeliveryLedger
from pipeline.dlp_lanes import DlpLanes, MemoryDlpLanes, RedisDlpLanes
from pipeline.engine_store import install_engine_store
from pipeline.snapshots import (
    MemorySnapshotStore,
    RedisSnapshotStore,
    SnapshotStore,
    finished_channel,
    part_key,
)

log = logging.getLogger("casb.pipeline")


class LimitMemory(Protocol):
    """Per tenant: the list routes whose API refused a ``limit`` (listed without it since)."""

    def routes(self, tenant_key: str) -> frozenset[str]: ...

    def remember(self, tenant_key: str, route: str) -> None: ...


#: How long a tenant's "this route refuses limit" is remembered before it is tried again.
LIMIT_MEMORY_TTL_SECONDS = 30 * 86_400


class RedisLimitMemory:
    """``casb:limitless:{tenant}``: a set of route templates, shared by the fleet."""

    def __init__(self, client: Any, ttl_seconds: int = LIMIT_MEMORY_TTL_SECONDS) -> None:
        self.client = client
        self.ttl = ttl_seconds

    def _key(self, tenant_key: str) -> str:
        return f"casb:limitless:{tenant_key}"

    def routes(self, tenant_key: str) -> frozenset[str]:
        members = self.client.smembers(self._key(tenant_key))
        return frozenset(m.decode() if isinstance(m, bytes) else str(m) for m in members)

    def remember(self, tenant_key: str, route: str) -> None:
        pipe = self.client.pipeline()
        pipe.sadd(self._key(tenant_key), route)
        pipe.expire(self._key(tenant_key), self.ttl)
        pipe.execute()


class MemoryLimitMemory:
    """The same, in this process (embedded demo, ``--inline``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._routes: dict[str, set[str]] = {}

    def routes(self, tenant_key: str) -> frozenset[str]:
        with self._lock:
            return frozenset(self._routes.get(tenant_key, ()))

    def remember(self, tenant_key: str, route: str) -> None:
        with self._lock:
            self._routes.setdefault(tenant_key, set()).add(route)


@dataclass
class Runtime:
    snapshots: SnapshotStore
    budget: RateBudget
    embedded: bool
    pid: int
    deliveries: DeliveryLedger
    observer: CallObserver | None = None  # API-call metrics (fleet workers only)
    limits: LimitMemory = field(default_factory=MemoryLimitMemory)
    lanes: DlpLanes = field(default_factory=MemoryDlpLanes)
    redis: Any = None  # the fleet's Redis client (None when embedded)
    checkpoint_ttl: int = 0

    def announce_finished(self, scan_id: int, status: str) -> None:
        """Tell whoever follows the scan (``casb scan --wait``) that it is over, at once.

        A Redis publish: followers subscribe before they read the run's state, so they see
        either the finished run or this message. Best effort: a follower also polls."""
        if self.redis is None:
            return
        try:
            self.redis.publish(finished_channel(scan_id), status)
        except Exception as exc:  # the run is finished in PostgreSQL either way
            log.debug("announcing scan %s finished failed (%s)", scan_id, type(exc).__name__)

    def listing_checkpoints(self, scan_id: int) -> ListingCheckpoints | None:
        """Where a scan's listings save their pages: in the scan's snapshot namespace, with
        its TTL, so a retried fetch resumes and ``finish_scan`` drops them with the parts.
        None when embedded: a one-process run has no task retry to resume."""
        if self.redis is None:
            return None
        return RedisListingCheckpoints(
            self.redis, part_key(scan_id, "listing:"), self.checkpoint_ttl
        )


_lock = threading.Lock()
_runtime: Runtime | None = None
_embedded = False


def get_runtime() -> Runtime:
    global _runtime
    with _lock:
        if _runtime is None or _runtime.pid != os.getpid():
            install_engine_store(get_settings())
            _runtime = _embedded_runtime() if _embedded else _redis_runtime()
        return _runtime


def use_embedded(enabled: bool = True) -> None:
    """Switch this process to in-memory snapshots and a local rate budget (or back)."""
    global _embedded, _runtime
    with _lock:
        _embedded = enabled
        _runtime = None


def reset_runtime() -> None:
    """Forget the resources (after fork, or when the Redis URL changed)."""
    global _runtime
    with _lock:
        _runtime = None


def _redis_runtime() -> Runtime:
    settings = get_settings()
    client = settings.redis()
    return Runtime(
        snapshots=RedisSnapshotStore(client, settings.snapshot_ttl_seconds),
        budget=RedisRateBudget(
            client, settings.rate_limits(), policy=policy_from_settings(settings)
        ),
        embedded=False,
        pid=os.getpid(),
        deliveries=RedisDeliveryLedger(client, settings.snapshot_ttl_seconds),
        observer=observe_call,
        redis=client,
        checkpoint_ttl=settings.snapshot_ttl_seconds,
        limits=RedisLimitMemory(client),
        lanes=RedisDlpLanes(client, settings.snapshot_ttl_seconds),
    )


def observe_call(event: CallEvent) -> None:
    """The connectors' call observer of a worker: every HTTP attempt counts in the metrics."""
    record_api_call(event.tenant, event.group, event.status)


def _embedded_runtime() -> Runtime:
    settings = get_settings()
    return Runtime(
        snapshots=MemorySnapshotStore(),
        budget=LocalRateBudget(settings.rate_limits(), policy=policy_from_settings(settings)),
        embedded=True,
        pid=os.getpid(),
        deliveries=MemoryDeliveryLedger(),
    )
