"""Recovery with the shipped defaults: a whole worker killed mid-scan, beat running.

Nothing is lowered for the test: the stale threshold (3 minutes), the heartbeat (30 s) and
the reaper's cadence (every minute, sent by a real ``celery beat``) are the defaults. The lost
run is failed as ``stale`` and the fresh scan succeeds on a new worker, findings exact, within
the five minutes the defaults promise. A stage task that arrives after its run finished (what
a late redelivery looks like) does nothing, says so in the log and is counted.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlmodel import update

from core.metrics import EVENTS_KEY
from schemas.tables import ScanStatus, Tenant, utcnow
from simulator.app import ADMIN_PREFIX
from simulator.faults import Fault
from simulator.world import World
from store.db import session_scope
from tests.integration.resilience.conftest import (
    REPO,
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
RECOVERY_BOUND_SECONDS = 300

pytestmark = [pytest.mark.slow, pytest.mark.long_wait]


@pytest.fixture
def beat(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (tmp_path / "beat.log").open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "workers", "beat", "-l", "INFO",
             "-s", str(tmp_path / "beat-schedule")],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        log.close()
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.terminate()
        proc.wait(timeout=20)


def test_a_killed_worker_is_recovered_with_default_settings(
    db: str,
    redis_url: str,
    secret_key: str,
    start_sim: Callable[[Any], Any],
    spawn_worker: Callable[..., WorkerProcess],
    beat: Callable[[dict[str, str]], subprocess.Popen[bytes]],
) -> None:
    world = World.generate(tenants=1, seed=71, size="tiny")
    sim = start_sim(world)
    tid = register_tenants(sim)[SLUG]
    with session_scope() as session:  # no scheduled scan of its own during the test
        session.execute(update(Tenant).values(next_scan_at=utcnow() + timedelta(days=1)))
    world.faults.add(SLUG, Fault("slow", api="admin", path_contains=USERS_PATH, delay=8, count=1))
    env = worker_env(db, redis_url, secret_key)
    assert not any(k in env for k in ("CASB_SCAN_STALE_AFTER_SECONDS", "CASB_REAP_EVERY_SECONDS"))
    beat(env)
    first = spawn_worker(env, pool="prefork", concurrency=2)
    app = producer(redis_url)

    scan_id = request_scan(app, tid)
    wait_until(
        lambda: world.stats(SLUG).get("counters", {}).get("fault:slow"),
        30,
        "the users fetch to be in flight",
    )
    first.kill()  # the main process and its children
    killed_at = time.monotonic()
    replacement = spawn_worker(env, pool="prefork", concurrency=2)

    lost = wait_finished(scan_id, RECOVERY_BOUND_SECONDS)
    assert lost.status == ScanStatus.FAILED.value and lost.errors[-1]["kind"] == "stale"
    fresh_id = wait_until(
        lambda: next((r.id for r in runs_of(tid) if r.id != scan_id), None),
        RECOVERY_BOUND_SECONDS,
        "the reaper's fresh scan",
    )
    remaining = max(1.0, RECOVERY_BOUND_SECONDS - (time.monotonic() - killed_at))
    fresh = wait_finished(fresh_id, remaining)
    assert fresh.status == ScanStatus.SUCCEEDED.value, fresh.errors
    print(f"recovered {time.monotonic() - killed_at:.0f}s after the kill")
    assert_exact_findings(tid, world.ground_truth(SLUG, dlp_profiles=[]), SLUG)

    # A stage task of the finished run, as a redelivery after the visibility timeout would be.
    app.send_task("casb.detect_posture", args=[scan_id], queue="detect")
    wait_until(
        lambda: "arrived after the scan finished" in replacement.log(),
        30,
        "the late task to be refused",
    )
    counter = redis.Redis.from_url(redis_url).hget(EVENTS_KEY, "late_redelivery")
    assert counter is not None and int(counter) >= 1
    assert get_run(scan_id).status == ScanStatus.FAILED.value, "the late task changed nothing"
