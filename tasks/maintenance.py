"""``casb.reap_stale_scans()`` (beat, every 5 minutes): recover scans whose worker died.

A run still active with no heartbeat for ``scan_stale_after_seconds`` is marked failed
(typed error ``stale``) and a fresh scan of its tenant is queued, so a lost message or a
killed worker costs one scan interval at most, never a tenant stuck forever. After
``MAX_STALE_REQUEUES`` stale runs in a row the tenant is no longer re-queued at once (a scan
that kills its worker every time would loop); its regular schedule still tries again.
"""

from __future__ import annotations

from typing import Any

from schemas.tables import ScanStatus, utcnow
from store.db import session_scope
from store.scans import consecutive_stale_failures, finish_run, stale_runs
from workers.celery_app import app
from workers.celeryconfig import REAP_STALE_SCANS, SCAN_TENANT, SCANS
from workers.settings import get_settings

MAX_STALE_REQUEUES = 3


def reap_stale(stale_after_seconds: int | None = None, *, requeue: bool = True) -> dict[str, Any]:
    after = stale_after_seconds or get_settings().scan_stale_after_seconds
    reaped: list[tuple[int, int]] = []
    held: list[int] = []
    with session_scope() as session:
        for run in stale_runs(session, utcnow(), after):
            assert run.id is not None
            looping = consecutive_stale_failures(session, run.tenant_id) + 1 >= MAX_STALE_REQUEUES
            hint = (
                f"{MAX_STALE_REQUEUES} scans in a row were lost: not re-queued; the next "
                "scheduled scan retries (check worker logs for OOM kills or crashes)"
                if looping
                else "a new scan was queued; check that fetch/detect workers run"
            )
            finish_run(
                session,
                run,
                status=ScanStatus.FAILED.value,
                counts=run.counts,
                errors=[
                    *run.errors,
                    {
                        "resource": "pipeline",
                        "kind": "stale",
                        "message": f"no progress for more than {after}s (worker lost?)",
                        "hint": hint,
                    },
                ],
                parts=run.parts,
            )
            reaped.append((run.tenant_id, run.id))
            if looping:
                held.append(run.tenant_id)
    if requeue:
        for tenant_id in dict.fromkeys(t for t, _ in reaped if t not in held):
            app.send_task(
                SCAN_TENANT, args=[tenant_id], kwargs={"trigger": "schedule"}, queue=SCANS
            )
    return {"reaped": [scan_id for _, scan_id in reaped], "held": held}


@app.task(name=REAP_STALE_SCANS, acks_late=False, reject_on_worker_lost=False)
def reap_stale_scans(**_: Any) -> dict[str, Any]:
    return reap_stale()
