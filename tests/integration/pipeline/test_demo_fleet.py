"""`casb demo` in fleet mode: with CASB_DATABASE_URL/CASB_BROKER_URL set and answering, it
runs through PostgreSQL, Redis and a real Celery worker subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlmodel import select

from schemas.tables import Finding, FindingStatus, ScanRun, Tenant
from store.db import session_scope
from tests.integration.pipeline.conftest import _purge_queues


def test_demo_runs_through_postgres_redis_and_a_worker(
    db: str, redis_url: str, secret_key: str, tmp_path: Path
) -> None:
    _purge_queues(redis_url)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "CASB_DATABASE_URL": db,
        "CASB_BROKER_URL": redis_url,
        "CASB_RESULT_BACKEND": redis_url,
        "CASB_REDIS_URL": redis_url,
        "CASB_SECRET_KEY": secret_key,
    }
    proc = subprocess.run(
        [sys.executable, "-m", "workers.cli", "demo", "--size", "tiny", "--tenants", "2"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "fleet mode" in out and "scanning through Redis" in out
    assert not (tmp_path / ".casb").exists()  # no SQLite fallback

    from simulator.world import World

    world = World.generate(tenants=2, seed=7, size="tiny")
    with session_scope() as session:
        tenants = {t.slug: t for t in session.exec(select(Tenant)).all()}
        assert set(tenants) == {f"demo-{slug}" for slug in world.tenants}
        for slug in world.tenants:
            tenant = tenants[f"demo-{slug}"]
            (run,) = session.exec(select(ScanRun).where(ScanRun.tenant_id == tenant.id)).all()
            assert run.status == "succeeded", run.errors
            open_rows = session.exec(
                select(Finding).where(
                    Finding.tenant_id == tenant.id, Finding.status == FindingStatus.OPEN.value
                )
            ).all()
            stored = {(f.finding_type_id, f.resource_id) for f in open_rows}
            assert stored == world.ground_truth(slug, dlp_profiles=tenant.dlp_profiles), slug
            assert f"demo-{slug}" in out
    secrets = [v for t in world.tenants.values() for v in (t.admin_key, t.compliance_key)]
    for secret in secrets:
        assert secret not in out and secret not in proc.stderr
    assert len(secrets) == 4
