"""Fixtures of the pipeline tests: the simulator over HTTP, registered tenants, a worker.

The worker is Celery's embedded test worker (``start_worker``: a real consumer in a thread,
threads pool) on the leased Redis database, consuming every fleet queue, with the real
PostgreSQL test database. One worker serves the whole module set (session scope).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from schemas.tables import ScanRun, ScanStatus


@pytest.fixture
def world() -> Any:
    from simulator.world import World

    return World.generate(tenants=3, seed=11, size="tiny")


@pytest.fixture
def sim(world: Any) -> Iterator[Any]:
    from simulator.server import start_in_thread
    from tests.storage import storage_allowed

    running = start_in_thread(world)
    with storage_allowed(running):
        yield running
    running.stop()


def register(sim: Any, slugs: list[str] | None = None, **extra: Any) -> dict[str, int]:
    """Register the simulator's tenants: {slug: tenant id}."""
    from workers.cli.demo import register_simulated_tenants

    return register_simulated_tenants(sim, slugs, **extra)


def aws_profile_scan(sim: Any, slug: str, profile: str) -> tuple[int, int]:
    """A custom profile ``profile`` (AWS key ids) added, ``slug`` registered with it, a scan
    started and every fetch of it run: (tenant id, scan id)."""
    from pipeline.posture import run_fetch, start_scan
    from tests.cli import run_cli

    added = run_cli("dlp", "profile", "add", profile, "--regex", "AWS key id=AKIA[0-9A-Z]{16}")
    assert added.code == 0, added.output
    tid = register(sim, [slug], dlp_profiles=[profile])[slug]
    started = start_scan(tid, "manual")
    scan_id = int(started["scan_id"])
    for resource in started["fetches"]:
        assert run_fetch(scan_id, resource)["ok"], resource
    return tid, scan_id


def all_secrets(world: Any) -> list[str]:
    out: list[str] = []
    for tenant in world.tenants.values():
        creds = tenant.credentials()
        out += [creds["admin_key"], creds["compliance_key"], *creds["project_keys"]]
    return [s for s in out if s]


def wait_for_run(scan_id: int, timeout: float = 60.0) -> ScanRun:
    """Poll until the run is finished (bounded wait, not a timing assertion)."""
    from store.db import session_scope

    deadline = time.monotonic() + timeout
    while True:
        with session_scope() as session:
            run = session.get(ScanRun, scan_id)
            if run is not None and run.status not in ScanStatus.active():
                return run
        if time.monotonic() > deadline:
            raise AssertionError(f"scan {scan_id} did not finish within {timeout}s")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def celery_app_configured(redis_url: str, migrated_db: str) -> Iterator[Any]:
    from pipeline.runtime import reset_runtime, use_embedded
    from workers.celery_app import app, load_tasks, reconfigure

    # The shared budget stays in force, just wide enough that tests do not wait on it.
    added = []
    for group in ("ADMIN", "AUDIT", "COMPLIANCE_LIST", "COMPLIANCE_FILE"):
        name = f"CASB_RATE_LIMIT_{group}"
        if name not in os.environ:
            os.environ[name] = "200/1"
            added.append(name)
    reconfigure()
    use_embedded(False)
    reset_runtime()
    load_tasks()
    yield app
    for name in added:
        os.environ.pop(name, None)
    reset_runtime()


QUEUES = ("scans", "fetch", "detect", "dlp", "notify")


def _purge_queues(url: str) -> None:
    """Drop whatever other tests left in the fleet's queue lists (raw test values included)."""
    import redis

    client = redis.Redis.from_url(url)
    keys = [q.encode() for q in QUEUES]
    for queue in QUEUES:
        keys += list(client.scan_iter(match=f"{queue}\x06\x16*"))
    client.delete(*keys)
    client.close()


@pytest.fixture(scope="module")
def worker(celery_app_configured: Any, redis_url: str) -> Iterator[Any]:
    """Per module, so it never consumes the messages of other packages' tests."""
    from celery.contrib.testing.worker import start_worker

    _purge_queues(redis_url)
    with start_worker(
        celery_app_configured,
        pool="threads",
        concurrency=4,
        queues=list(QUEUES),
        perform_ping_check=False,
        loglevel="WARNING",
        shutdown_timeout=30,
    ) as controller:
        yield controller
