"""Fixtures of the resilience tests: real worker processes, a private Redis, the simulator.

Faults are done to things these tests own, never to the servers other test runs share:
workers are subprocesses started here (``python -m celery -A workers worker ...``, killed by
their own pid or process group), "Redis restarted" is a ``redis-server`` started here on a
free port, and "PostgreSQL unavailable" is ``proxy.TcpProxy`` in front of the real server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery
from sqlmodel import col, func, select

from schemas.tables import Finding, ScanRun, ScanStatus
from store.db import session_scope
from tests.processes import (  # noqa: F401  (the tests import them from here too)
    ALL_QUEUES,
    REPO,
    RedisServer,
    WorkerProcess,
    fleet_env,
    free_port,
    wait_until,
)
from tests.storage import with_storage_of

#: Simulators started by ``start_sim`` and still running: their storage is allowed.
_SIMULATORS: list[Any] = []
RATE_GROUPS = ("ADMIN", "AUDIT", "COMPLIANCE_LIST", "COMPLIANCE_FILE")


# --------------------------------------------------------------------------- worker processes


def worker_env(
    database_url: str,
    redis_url: str,
    secret_key: str,
    *,
    rate_limits: dict[str, str] | None = None,
    **settings: str,
) -> dict[str, str]:
    """The environment of a worker subprocess: only what the fleet reads, nothing inherited
    from the test run's CASB_* variables."""
    env = fleet_env(database_url, redis_url, secret_key, log_format="console", log_level="INFO")
    env["PYTHONUNBUFFERED"] = "1"
    for group in RATE_GROUPS:
        env[f"CASB_RATE_LIMIT_{group}"] = (rate_limits or {}).get(group, "200/1")
    for name, value in settings.items():
        env[f"CASB_{name.upper()}"] = str(value)
    # The storage of every simulator this test started (downloads are refused elsewhere).
    return with_storage_of(env, *_SIMULATORS)


@pytest.fixture(autouse=True)
def _empty_leased_redis(request: pytest.FixtureRequest) -> None:
    """Start from an empty leased Redis database (this run's own): no stray message from an
    earlier test may reach the worker subprocesses started here."""
    if "redis_url" in request.fixturenames:
        client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
        client.flushdb()
        client.close()


@pytest.fixture
def spawn_worker(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start worker subprocesses; every one is stopped at the end of the test."""
    started: list[WorkerProcess] = []

    def spawn(env: dict[str, str], **kwargs: Any) -> WorkerProcess:
        worker = WorkerProcess(env, tmp_path / f"worker-{len(started)}.log", **kwargs)
        started.append(worker)
        return worker.start()

    yield spawn
    for worker in started:  # all shut down side by side: each may finish a running task
        worker.ask_to_stop()
    for worker in started:
        worker.stop()


# --------------------------------------------------------------------------- a private Redis


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


# --------------------------------------------------------------------------- producing and reading


def producer(broker_url: str) -> Celery:
    """A Celery app that only sends and inspects (the fleet's config, this broker)."""
    app = Celery("casb-resilience-producer")
    app.config_from_object("workers.celeryconfig")
    app.conf.update(broker_url=broker_url, result_backend=broker_url)
    return app


def latest_run_id(tenant_id: int) -> int:
    with session_scope() as session:
        value = session.exec(
            select(func.max(ScanRun.id)).where(ScanRun.tenant_id == tenant_id)
        ).one()
    return int(value or 0)


def request_scan(app: Celery, tenant_id: int, trigger: str = "api") -> int:
    """Send ``casb.scan_tenant`` as any producer would; the new run's id."""
    before = latest_run_id(tenant_id)
    app.send_task("casb.scan_tenant", args=[tenant_id], kwargs={"trigger": trigger}, queue="scans")
    return int(
        wait_until(
            lambda: (lambda latest: latest if latest > before else 0)(latest_run_id(tenant_id)),
            30,
            f"a scan run of tenant {tenant_id}",
            step=0.05,
        )
    )


def get_run(scan_id: int) -> ScanRun:
    with session_scope() as session:
        run = session.get(ScanRun, scan_id)
        assert run is not None
        return run


def wait_finished(scan_id: int, timeout: float = 60.0) -> ScanRun:
    def finished() -> ScanRun | None:
        run = get_run(scan_id)
        return run if run.status not in ScanStatus.active() else None

    return wait_until(finished, timeout, f"scan {scan_id} to finish")


def runs_of(tenant_id: int) -> list[ScanRun]:
    with session_scope() as session:
        return list(
            session.exec(
                select(ScanRun).where(ScanRun.tenant_id == tenant_id).order_by(col(ScanRun.id))
            ).all()
        )


def finding_rows(tenant_id: int) -> list[Finding]:
    with session_scope() as session:
        return list(session.exec(select(Finding).where(Finding.tenant_id == tenant_id)).all())


def open_findings(tenant_id: int) -> set[tuple[str, str]]:
    return {
        (f.finding_type_id, f.resource_id) for f in finding_rows(tenant_id) if f.status == "open"
    }


def assert_exact_findings(tenant_id: int, expected: set[tuple[str, str]], label: str) -> None:
    """Open findings equal the ground truth, and there is exactly one row per finding."""
    rows = finding_rows(tenant_id)
    keys = [(f.finding_type_id, f.resource_id) for f in rows]
    assert len(keys) == len(set(keys)), f"{label}: duplicated finding rows"
    got = {(f.finding_type_id, f.resource_id) for f in rows if f.status == "open"}
    assert got == expected, (label, sorted(got ^ expected)[:10])
    assert len(rows) == len(expected), f"{label}: rows beyond the ground truth"


# --------------------------------------------------------------------------- tenants


def register_tenants(
    sim: Any,
    slugs: Sequence[str] | None = None,
    *,
    rename: Callable[[str], str] = lambda slug: slug,
    **extra: Any,
) -> dict[str, int]:
    """Register simulator tenants; ``rename`` maps the simulator's slug to the registered one,
    so tenants of two simulators can live in one registry. Returns {simulator slug: id}."""
    from workers.cli.demo import register_simulated_tenants

    return register_simulated_tenants(sim, slugs, rename=rename, **extra)


@pytest.fixture
def start_sim() -> Iterator[Callable[[Any], Any]]:
    """Serve simulator worlds over HTTP for the test; all stopped at its end."""
    from simulator.server import start_in_thread

    running: list[Any] = []

    def start(world: Any) -> Any:
        handle = start_in_thread(world)
        running.append(handle)
        _SIMULATORS.append(handle)
        return handle

    yield start
    for handle in running:
        handle.stop()
        _SIMULATORS.remove(handle)
