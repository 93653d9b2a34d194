"""Redis restarted in the middle of a scan (its own ``redis-server``, no persistence).

Everything Redis held is gone: queued messages, the chord's counters, the scan's snapshot
parts. The worker must reconnect by itself, and the scan must not stay ``running`` forever:
the stale-scan reaper fails it with a typed ``stale`` error and queues a fresh scan, which
the reconnected worker runs to completion with exact findings.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from schemas.tables import ScanStatus
from simulator.app import ADMIN_PREFIX
from simulator.faults import Fault
from simulator.world import World
from tests.integration.resilience.conftest import (
    RedisServer,
    WorkerProcess,
    assert_exact_findings,
    get_run,
    producer,
    register_tenants,
    request_scan,
    runs_of,
    wait_finished,
    wait_until,
    worker_env,
)

SLUG = "tenant-01"
USERS_PATH = ADMIN_PREFIX + "/organization/users"
STALE_AFTER = 3

pytestmark = pytest.mark.slow


def _heartbeat_age(scan_id: int) -> float:
    beat = get_run(scan_id).heartbeat_at
    assert beat is not None
    beat = beat if beat.tzinfo else beat.replace(tzinfo=UTC)
    return (datetime.now(UTC) - beat).total_seconds()


def test_redis_restart_mid_scan_worker_reconnects_and_reaper_rescans(
    db: str,
    secret_key: str,
    private_redis: RedisServer,
    start_sim: Callable[[Any], Any],
    spawn_worker: Callable[..., WorkerProcess],
) -> None:
    world = World.generate(tenants=1, seed=23, size="tiny")
    sim = start_sim(world)
    tid = register_tenants(sim)[SLUG]
    world.faults.add(SLUG, Fault("slow", api="admin", path_contains=USERS_PATH, delay=6, count=1))
    env = worker_env(db, private_redis.url, secret_key, scan_stale_after_seconds=str(STALE_AFTER))
    worker = spawn_worker(env, pool="prefork", concurrency=2)
    app = producer(private_redis.url)

    scan_id = request_scan(app, tid)
    wait_until(
        lambda: world.stats(SLUG).get("counters", {}).get("fault:slow"),
        30,
        "the users fetch to be in flight",
    )
    log_mark = len(worker.log())
    private_redis.restart()  # queued messages, chord state and snapshots are lost

    # The worker notices and reconnects on its own (same process, no restart).
    wait_until(
        lambda: "Connected to redis://" in worker.log()[log_mark:], 60, "the worker to reconnect"
    )
    assert worker.alive()
    assert "Connection to broker lost" in worker.log()[log_mark:]

    # The run cannot complete (its chord state is gone) and is still "running"...
    assert get_run(scan_id).status == ScanStatus.RUNNING.value
    # ...until its heartbeat is stale and the reaper, sent through the restarted broker to
    # the reconnected worker, fails it and queues a fresh scan.
    wait_until(lambda: _heartbeat_age(scan_id) > STALE_AFTER + 0.5, 30, "the run to go stale")
    app.send_task("casb.reap_stale_scans", queue="scans")
    lost = wait_finished(scan_id, 30)
    assert lost.status == ScanStatus.FAILED.value
    assert lost.errors[-1]["kind"] == "stale"

    fresh_id = wait_until(
        lambda: next((r.id for r in runs_of(tid) if r.id != scan_id), None),
        30,
        "the reaper's fresh scan",
    )
    fresh = wait_finished(fresh_id, 60)
    assert fresh.status == ScanStatus.SUCCEEDED.value, fresh.errors
    assert all(r.status not in ScanStatus.active() for r in runs_of(tid))
    assert_exact_findings(tid, world.ground_truth(SLUG, dlp_profiles=[]), SLUG)
    assert worker.alive()
