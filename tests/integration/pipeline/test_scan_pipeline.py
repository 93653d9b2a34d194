"""The whole pipeline through a real worker, Redis, PostgreSQL and the simulator over HTTP."""

from __future__ import annotations

from typing import Any

from schemas.tables import ScanStatus
from store.db import session_scope
from store.findings import open_keys
from tests.integration.pipeline.conftest import register, wait_for_run


def _scan(app: Any, tenant_id: int) -> int:
    result = app.send_task(
        "casb.scan_tenant", args=[tenant_id], kwargs={"trigger": "api"}, queue="scans"
    )
    # scan_tenant ignores its result; find the run it creates.
    from sqlmodel import select

    from schemas.tables import ScanRun

    import time

    for _ in range(300):
        with session_scope() as session:
            run = session.exec(
                select(ScanRun).where(ScanRun.tenant_id == tenant_id).order_by(ScanRun.id.desc())
            ).first()
            if run is not None and run.id is not None:
                return run.id
        time.sleep(0.05)
    raise AssertionError(f"no scan run appeared for tenant {tenant_id} ({result.id})")


def test_open_findings_equal_ground_truth(db: str, sim: Any, worker: Any) -> None:
    ids = register(sim)
    runs = {slug: _scan(worker.app, tid) for slug, tid in ids.items()}
    for slug, scan_id in runs.items():
        run = wait_for_run(scan_id)
        assert run.status == ScanStatus.SUCCEEDED.value, (slug, run.errors)
        with session_scope() as session:
            stored = open_keys(session, ids[slug])
        expected = sim.world.ground_truth(slug, dlp_profiles=[])
        assert stored == expected, (slug, stored ^ expected)
