"""The stale-scan reaper re-queues a lost scan, but not a tenant whose scans keep dying."""

from __future__ import annotations

from datetime import timedelta

import redis

from schemas.tables import ScanRun, ScanStatus
from store.db import session_scope
from tests.integration.pipeline.rows import insert_run, insert_tenant


def _tenant() -> int:
    return insert_tenant("loopy")


def _run(tenant_id: int, *, status: str, stale: bool, hours_ago: int) -> int:
    errors = [{"resource": "pipeline", "kind": "stale", "message": "lost"}] if stale else []
    return insert_run(tenant_id, status, timedelta(hours=hours_ago), errors)


def _queued_scans(redis_url: str) -> int:
    return int(redis.Redis.from_url(redis_url).llen("scans"))


def _reap(redis_url: str) -> dict[str, object]:
    from tasks.maintenance import reap_stale
    from workers.celery_app import reconfigure

    reconfigure()
    redis.Redis.from_url(redis_url).delete("scans")
    return reap_stale(3600)


def test_one_lost_scan_is_requeued(db: str, redis_url: str) -> None:
    tid = _tenant()
    _run(tid, status=ScanStatus.FAILED.value, stale=False, hours_ago=30)
    stuck = _run(tid, status=ScanStatus.RUNNING.value, stale=False, hours_ago=5)
    result = _reap(redis_url)
    assert result == {"reaped": [stuck], "held": []}
    assert _queued_scans(redis_url) == 1


def test_a_tenant_whose_scans_keep_dying_is_not_requeued(db: str, redis_url: str) -> None:
    tid = _tenant()
    _run(tid, status=ScanStatus.FAILED.value, stale=True, hours_ago=30)
    _run(tid, status=ScanStatus.FAILED.value, stale=True, hours_ago=20)
    stuck = _run(tid, status=ScanStatus.RUNNING.value, stale=False, hours_ago=5)
    result = _reap(redis_url)
    assert result == {"reaped": [stuck], "held": [tid]}
    assert _queued_scans(redis_url) == 0
    with session_scope() as session:
        run = session.get(ScanRun, stuck)
        assert run is not None and run.status == ScanStatus.FAILED.value
        assert "not re-queued" in run.errors[-1]["hint"]
