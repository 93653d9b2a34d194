"""The fleet through a real PgBouncer in transaction mode.

With ``CASB_DATABASE_POOLER=transaction`` psycopg prepares nothing server-side and the code
keeps no session state, so a scan through PgBouncer's transaction pooling (each transaction
on whichever server connection is free) runs exactly as it does directly: findings equal the
ground truth, for several tenants at once, through a worker and the dispatcher.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from schemas.tables import ScanStatus
from simulator.world import World
from tests.integration.resilience.conftest import (
    WorkerProcess,
    assert_exact_findings,
    producer,
    register_tenants,
    request_scan,
    wait_finished,
    worker_env,
)
from tests.integration.resilience.pgbouncer import PgBouncer

pytestmark = pytest.mark.slow


@pytest.fixture
def bouncer(db: str) -> Iterator[PgBouncer]:
    server = PgBouncer(db.rsplit("/", 1)[1], pool_size=3).start()
    yield server
    server.stop()


def test_a_fleet_scans_through_pgbouncer_in_transaction_mode(
    db: str,
    redis_url: str,
    secret_key: str,
    bouncer: PgBouncer,
    start_sim: Callable[[Any], Any],
    spawn_worker: Callable[..., WorkerProcess],
) -> None:
    world = World.generate(tenants=3, seed=81, size="tiny")
    sim = start_sim(world)
    ids = register_tenants(sim)
    env = worker_env(bouncer.url, redis_url, secret_key, database_pooler="transaction")
    spawn_worker(env, pool="threads", concurrency=8)
    app = producer(redis_url)

    for _ in range(2):  # a rescan runs the same statements again: prepared ones would break
        scans = [request_scan(app, tid) for tid in ids.values()]
        runs = [wait_finished(scan_id, 120) for scan_id in scans]
        assert [r.status for r in runs] == [ScanStatus.SUCCEEDED.value] * len(ids), [
            r.errors for r in runs
        ]
    for slug, tid in ids.items():
        assert_exact_findings(tid, world.ground_truth(slug, dlp_profiles=[]), slug)
    assert "prepared statement" not in bouncer.log()
    with psycopg.connect(bouncer.url.replace("+psycopg", "")) as conn:
        prepared = conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()
    assert prepared == (0,)
