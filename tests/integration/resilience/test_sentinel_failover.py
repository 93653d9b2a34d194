"""Redis behind Sentinel: the master fails over in the middle of a scan, nothing is lost.

Broker, result backend and the rate-budget/snapshot client all reach Redis through three
real Sentinels (``sentinel://…;sentinel://…;sentinel://…/0``). While a fetch is in flight the
master is SIGKILLed; the Sentinels promote the replica, every client follows it, and the scan
completes with findings equal to the ground truth and one row per finding.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

from core.redisconn import parse_sentinel_url, redis_client
from schemas.tables import ScanStatus
from simulator.app import ADMIN_PREFIX
from simulator.faults import Fault
from simulator.world import World
from tests.integration.resilience.conftest import (
    WorkerProcess,
    assert_exact_findings,
    register_tenants,
    request_scan,
    runs_of,
    wait_finished,
    wait_until,
    worker_env,
)
from tests.integration.resilience.sentinel import MASTER_NAME, SentinelCluster

SLUG = "tenant-01"
USERS_PATH = ADMIN_PREFIX + "/organization/users"

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[SentinelCluster]:
    running = SentinelCluster(tmp_path / "sentinel").start()
    yield running
    running.stop()


def test_parse_sentinel_url_reads_every_sentinel_password_and_db() -> None:
    parsed = parse_sentinel_url(
        "redis+sentinel://:s3cret@a:26379;sentinel://b:26380;sentinel://c/2"
    )
    assert parsed.hosts == (("a", 26379), ("b", 26380), ("c", 26379))
    assert (parsed.password, parsed.db) == ("s3cret", 2)


def test_a_master_failover_mid_scan_loses_nothing(
    db: str,
    secret_key: str,
    cluster: SentinelCluster,
    start_sim: Callable[[Any], Any],
    spawn_worker: Callable[..., WorkerProcess],
) -> None:
    world = World.generate(tenants=1, seed=91, size="tiny")
    sim = start_sim(world)
    tid = register_tenants(sim)[SLUG]
    world.faults.add(SLUG, Fault("slow", api="admin", path_contains=USERS_PATH, delay=6, count=1))
    env = worker_env(db, cluster.url, secret_key, redis_sentinel_master=MASTER_NAME)
    worker = spawn_worker(env, pool="threads", concurrency=8)
    app = Celery("casb-sentinel-producer")
    app.config_from_object("workers.celeryconfig")
    app.conf.update(
        broker_url=cluster.url,
        result_backend=cluster.url,
        broker_transport_options={"master_name": MASTER_NAME},
        result_backend_transport_options={"master_name": MASTER_NAME},
    )

    scan_id = request_scan(app, tid)
    wait_until(
        lambda: world.stats(SLUG).get("counters", {}).get("fault:slow"),
        30,
        "the users fetch to be in flight",
    )
    new_master = cluster.kill_master()
    assert new_master == cluster.redis_ports[1]

    run = wait_finished(scan_id, 120)
    assert run.status == ScanStatus.SUCCEEDED.value, (run.errors, worker.problems())
    assert [r.id for r in runs_of(tid)] == [scan_id], "no second run: nothing was re-queued"
    assert_exact_findings(tid, world.ground_truth(SLUG, dlp_profiles=[]), SLUG)
    budget = redis_client(cluster.url, MASTER_NAME)
    assert budget.connection_pool.connection_kwargs.get("db", 0) == 0
    assert int(budget.info("server")["tcp_port"]) == new_master, "clients follow the new master"
