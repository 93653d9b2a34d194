"""Backup and restore: ``pg_dump`` of a live fleet, restored into a new database, resumes.

The dump is taken while a worker is scanning. The restore goes into a fresh database,
``casb db upgrade`` runs on it, the scan that was in flight at dump time is reaped as stale,
and a worker pointed at the restored database scans on: every finding keeps its id and its
``first_seen``, nothing is duplicated, and scan run ids continue after the restored ones.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlmodel import Session, create_engine, select

from schemas.tables import Finding, ScanRun, ScanStatus
from simulator.world import World
from tests.conftest import PG_ADMIN_URL
from tests.integration.resilience.conftest import (
    REPO,
    WorkerProcess,
    producer,
    register_tenants,
    request_scan,
    wait_finished,
    wait_until,
    worker_env,
)

pytestmark = pytest.mark.slow


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture
def restored_url() -> Iterator[str]:
    name = f"casb_restore_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}".replace(
        "postgresql://", "postgresql+psycopg://", 1
    )
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _rows(url: str) -> tuple[dict[int, tuple[str, str, Any, str]], list[ScanRun]]:
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            findings = {
                f.id: (f.finding_type_id, f.resource_id, f.first_seen, f.status)
                for f in session.exec(select(Finding)).all()
                if f.id is not None
            }
            runs = list(session.exec(select(ScanRun).order_by(ScanRun.id)).all())
    finally:
        engine.dispose()
    return findings, runs


def test_a_dump_of_a_live_fleet_restores_and_scans_on(
    db: str,
    redis_url: str,
    secret_key: str,
    restored_url: str,
    tmp_path: Path,
    start_sim: Callable[[Any], Any],
    spawn_worker: Callable[..., WorkerProcess],
) -> None:
    world = World.generate(tenants=2, seed=61, size="tiny")
    sim = start_sim(world)
    ids = register_tenants(sim)
    worker = spawn_worker(worker_env(db, redis_url, secret_key), pool="threads", concurrency=8)
    app = producer(redis_url)
    first = [request_scan(app, tid) for tid in ids.values()]
    assert {wait_finished(s, 120).status for s in first} == {ScanStatus.SUCCEEDED.value}

    in_flight = request_scan(app, ids["tenant-01"])  # the dump is taken while this one runs
    dump = tmp_path / "fleet.dump"
    subprocess.run(
        ["pg_dump", "--format=custom", "--no-owner", f"--file={dump}", _libpq(db)], check=True
    )
    wait_finished(in_flight, 120)
    worker.stop()
    subprocess.run(
        ["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={_libpq(restored_url)}", dump],
        check=True,
    )
    env = worker_env(restored_url, redis_url, secret_key)
    upgrade = subprocess.run(
        [sys.executable, "-m", "workers.cli", "db", "upgrade"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert upgrade.returncode == 0, upgrade.stderr
    dumped_findings, dumped_runs = _rows(restored_url)
    assert dumped_findings and len(dumped_runs) >= len(first)

    # The run that was in flight when the dump was taken is active in the copy with no worker:
    # the reaper fails it, and a worker on the restored database scans on.
    spawn_worker(env, pool="threads", concurrency=8)
    reaper = subprocess.run(
        [sys.executable, "-c", "from tasks.maintenance import reap_stale; print(reap_stale(1))"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert reaper.returncode == 0, reaper.stderr
    os.environ["CASB_DATABASE_URL"] = restored_url
    try:
        from core.settings import reset_settings_cache
        from store.db import dispose_engines

        reset_settings_cache()
        dispose_engines()
        wait_until(
            lambda: all(r.status not in ScanStatus.active() for r in _rows(restored_url)[1]),
            120,
            "every restored run to be closed",
        )
        after = [request_scan(app, tid) for tid in ids.values()]
        statuses = {wait_finished(s, 120).status for s in after}
    finally:
        os.environ["CASB_DATABASE_URL"] = db
        reset_settings_cache()
        dispose_engines()
    assert statuses == {ScanStatus.SUCCEEDED.value}

    findings, _ = _rows(restored_url)
    assert min(after) > max(r.id for r in dumped_runs if r.id is not None)
    for finding_id, (type_id, resource, first_seen, _status) in dumped_findings.items():
        assert findings[finding_id][:3] == (type_id, resource, first_seen), "lifecycle kept"
    keys = [(t, r) for t, r, _, _ in findings.values()]
    assert len(keys) == len(set(keys)), "no finding duplicated"
    truth = set().union(*(world.ground_truth(slug, dlp_profiles=[]) for slug in ids))
    assert {(t, r) for t, r, _, s in findings.values() if s == "open"} == truth
