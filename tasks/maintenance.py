"""``casb.reap_stale_scans()`` and ``casb.prune_retention()`` (beat): recover, and bound growth.

A run still active with no heartbeat for ``scan_stale_after_seconds`` is marked failed
(typed error ``stale``, ``pipeline.schedule.reap_stale_runs``) and a fresh scan of its tenant
is queued, so a lost message or a killed worker costs one scan interval at most.
"""

from __future__ import annotations

from typing import Any

from pipeline.schedule import prune_expired, reap_stale_runs
from schemas.tables import ScanTrigger
from workers.celery_app import app
from workers.celeryconfig import PRUNE_RETENTION, REAP_STALE_SCANS, SCAN_TENANT, SCANS


def reap_stale(stale_after_seconds: int | None = None, *, requeue: bool = True) -> dict[str, Any]:
    result = reap_stale_runs(stale_after_seconds)
    if requeue:
        for tenant_id in result.tenants_to_requeue():
            app.send_task(
                SCAN_TENANT,
                args=[tenant_id],
                kwargs={"trigger": ScanTrigger.SCHEDULE.value},
                queue=SCANS,
            )
    return {"reaped": [scan_id for _, scan_id in result.reaped], "held": result.held}


@app.task(name=REAP_STALE_SCANS, acks_late=False, reject_on_worker_lost=False)
def reap_stale_scans(**_: Any) -> dict[str, Any]:
    return reap_stale()


@app.task(name=PRUNE_RETENTION, acks_late=False, reject_on_worker_lost=False)
def prune_retention(**_: Any) -> dict[str, int]:
    """Daily: delete resolved findings, old scan runs and DLP cache rows past retention."""
    return {count.kind: count.rows for count in prune_expired()}
