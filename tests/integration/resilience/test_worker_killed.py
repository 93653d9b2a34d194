"""A worker killed with SIGKILL in the middle of a scan: the scan still completes, exactly.

Two ways a worker dies: the kernel kills one prefork pool child (an OOM kill), or the whole
worker host disappears. The first is recovered by redelivery (``task_acks_late`` with
``task_reject_on_worker_lost``: the parent rejects the lost task and it runs again); the
second by the stale-scan reaper (the run's heartbeat stops, ``casb.reap_stale_scans`` fails it
and queues a fresh scan). In both cases the findings equal the simulator's ground truth, with
one row per finding.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from schemas.tables import ScanStatus
from simulator.app import ADMIN_PREFIX
from simulator.faults import Fault
from simulator.world import World
from tests.integration.resilience.conftest import (
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

pytestmark = pytest.mark.slow


def _users_requests(world: World) -> int:
    group = world.stats(SLUG).get("groups", {}).get("admin:users", {})
    return int(group.get("requests", 0))


def _parked(world: World) -> bool:
    """The users request is sleeping in the simulator: its fetch task is mid-flight."""
    return bool(world.stats(SLUG).get("counters", {}).get("fault:slow"))


def _pid_running(app: Any, task_name: str) -> int | None:
    replies = app.control.inspect(timeout=2.0).active() or {}
    for tasks in replies.values():
        for task in tasks:
            if task.get("name") == task_name:
                return int(task["worker_pid"])
    return None


def test_sigkill_of_a_pool_child_mid_fetch_is_redelivered(
    db: str,
    redis_url: str,
    secret_key: str,
    start_sim: Callable[[Any], Any],
    spawn_worker: Callable[..., WorkerProcess],
) -> None:
    world = World.generate(tenants=1, seed=21, size="tiny")
    sim = start_sim(world)
    tid = register_tenants(sim)[SLUG]
    # The first users request hangs, so the fetch task is certainly running when we kill.
    world.faults.add(SLUG, Fault("slow", api="admin", path_contains=USERS_PATH, delay=8, count=1))
    worker = spawn_worker(worker_env(db, redis_url, secret_key), pool="prefork", concurrency=2)
    app = producer(redis_url)

    scan_id = request_scan(app, tid)
    wait_until(lambda: _parked(world), 30, "the users fetch to be in flight")
    victim = wait_until(
        lambda: _pid_running(app, "casb.fetch_users"), 20, "casb.fetch_users in a pool child"
    )
    assert victim in worker.children()
    before = _users_requests(world)
    os.kill(victim, signal.SIGKILL)

    run = wait_finished(scan_id, 60)
    assert run.status == ScanStatus.SUCCEEDED.value, run.errors
    assert [r.id for r in runs_of(tid)] == [scan_id], "the same run completed, no new scan"
    assert_exact_findings(tid, world.ground_truth(SLUG, dlp_profiles=[]), SLUG)
    # The killed task ran again in a fresh child of the same worker.
    assert _users_requests(world) > before
    assert worker.alive() and victim not in worker.children()
    assert f"pid:{victim} exited with 'signal 9 (SIGKILL)'" in worker.log()


def test_sigkill_of_the_whole_worker_mid_scan_is_reaped_and_rescanned(
    db: str,
    redis_url: str,
    secret_key: str,
    start_sim: Callable[[Any], Any],
    spawn_worker: Callable[..., WorkerProcess],
) -> None:
    world = World.generate(tenants=1, seed=22, size="tiny")
    sim = start_sim(world)
    tid = register_tenants(sim)[SLUG]
    world.faults.add(SLUG, Fault("slow", api="admin", path_contains=USERS_PATH, delay=8, count=1))
    stale_after = 3
    env = worker_env(db, redis_url, secret_key, scan_stale_after_seconds=str(stale_after))
    first = spawn_worker(env, pool="prefork", concurrency=2)
    app = producer(redis_url)

    scan_id = request_scan(app, tid)
    wait_until(lambda: _parked(world), 30, "the users fetch to be in flight")
    first.kill()  # main process and pool children, no chance to restore anything
    assert get_run(scan_id).status == ScanStatus.RUNNING.value

    # A replacement worker comes up; once the lost run's heartbeat is older than the
    # threshold, the reaper (beat sends it every few minutes; here we send it once) fails it
    # and queues a fresh scan of the tenant.
    spawn_worker(env, pool="prefork", concurrency=2)

    def heartbeat_age() -> float:
        beat = get_run(scan_id).heartbeat_at
        assert beat is not None
        beat = beat if beat.tzinfo else beat.replace(tzinfo=UTC)
        return (datetime.now(UTC) - beat).total_seconds()

    # The replacement worker may first run fetches of the lost scan that were still queued,
    # which keeps its heartbeat fresh (rightly: it is progressing), so the reaper is sent
    # again, as beat would, until the run went stale for good and was failed.
    last_sent = [0.0]

    def reaped() -> bool:
        if get_run(scan_id).status not in ScanStatus.active():
            return True
        if heartbeat_age() > stale_after + 0.5 and time.monotonic() - last_sent[0] > 2:
            app.send_task("casb.reap_stale_scans", queue="scans")
            last_sent[0] = time.monotonic()
        return False

    wait_until(reaped, 60, "the reaper to fail the lost run")
    lost = get_run(scan_id)
    assert lost.status == ScanStatus.FAILED.value
    assert lost.errors[-1]["kind"] == "stale"
    fresh_id = wait_until(
        lambda: next((r.id for r in runs_of(tid) if r.id != scan_id), None),
        30,
        "the reaper's fresh scan",
    )
    fresh = wait_finished(fresh_id, 60)
    assert fresh.status == ScanStatus.SUCCEEDED.value, fresh.errors
    assert fresh.trigger == "schedule"
    assert all(r.status not in ScanStatus.active() for r in runs_of(tid))
    assert_exact_findings(tid, world.ground_truth(SLUG, dlp_profiles=[]), SLUG)
