"""PostgreSQL unavailable for a while in the middle of a scan (through ``proxy.TcpProxy``).

The worker reaches PostgreSQL only through the proxy; the test cuts it (open connections
severed, new ones hung up on) while a fetch is in flight, so the stages after it meet a dead
database. Persistence must retry rather than fail: once the proxy is restored the same scan
completes, with exactly the ground truth's findings and nothing written twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy.engine import make_url

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
from tests.integration.resilience.proxy import TcpProxy

SLUG = "tenant-01"
USERS_PATH = ADMIN_PREFIX + "/organization/users"

pytestmark = pytest.mark.slow


@pytest.fixture
def pg_proxy(db: str) -> Iterator[tuple[TcpProxy, str]]:
    """A proxy to the test database's server and the database URL through it."""
    url = make_url(db)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    via = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    yield proxy, via
    proxy.close()


def test_proxy_cut_refuses_and_restore_reconnects(pg_proxy: tuple[TcpProxy, str]) -> None:
    """The proxy itself: traffic flows, a cut severs and refuses, a restore lets it through."""
    import psycopg

    proxy, via = pg_proxy
    dsn = make_url(via).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        assert proxy.cut() == 1
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(dsn, connect_timeout=5)
    assert proxy.refused == 1
    proxy.restore()
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT 2").fetchone() == (2,)


def test_postgres_outage_mid_scan_retries_and_completes(
    db: str,
    redis_url: str,
    secret_key: str,
    pg_proxy: tuple[TcpProxy, str],
    start_sim: Callable[[Any], Any],
    spawn_worker: Callable[..., WorkerProcess],
) -> None:
    proxy, via = pg_proxy
    world = World.generate(tenants=1, seed=24, size="tiny")
    sim = start_sim(world)
    tid = register_tenants(sim)[SLUG]
    world.faults.add(SLUG, Fault("slow", api="admin", path_contains=USERS_PATH, delay=2, count=1))
    worker = spawn_worker(worker_env(via, redis_url, secret_key), pool="prefork", concurrency=2)
    app = producer(redis_url)

    scan_id = request_scan(app, tid)
    wait_until(
        lambda: world.stats(SLUG).get("counters", {}).get("fault:slow"),
        30,
        "the users fetch to be in flight",
    )
    proxy.cut()
    # The outage lasts until the workers have hit it several times (detect, retries).
    wait_until(lambda: proxy.refused >= 8, 90, "the workers to retry against the dead database")
    assert get_run(scan_id).status == ScanStatus.RUNNING.value  # read directly, not via proxy
    proxy.restore()

    run = wait_finished(scan_id, 90)
    assert run.status == ScanStatus.SUCCEEDED.value, run.errors
    assert [r.id for r in runs_of(tid)] == [scan_id]
    assert run.parts.get("detect", {}).get("findings") == len(
        world.ground_truth(SLUG, dlp_profiles=[])
    )
    assert_exact_findings(tid, world.ground_truth(SLUG, dlp_profiles=[]), SLUG)
    log = worker.log()
    assert "OperationalError" in log and "Retry in" in log, "persistence was retried"
    assert worker.alive()
