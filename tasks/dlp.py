"""DLP tasks (queue ``dlp``): plan the batches, scan each batch, finalize the stage.

The scan canvas runs ``casb.dlp_plan(scan_id)`` between detect and finish. It cuts the
file listings into small batches (``settings.dlp_batch_size``) and replaces itself with

    chord( group(casb.dlp_scan(scan_id, batch_key) ...), casb.dlp_finalize(scan_id) )

followed by the rest of the scan's chain (``casb.finish_scan``), so the batches spread over
every dlp worker and the scan finishes only after all of them. Arguments are the scan id and
a snapshot key: no file list, no content, no credential ever rides in a message.
``casb.dlp_scan`` records a failing file or batch in its result instead of raising, so the
chord body always runs and the stage reports a partial result.
"""

from __future__ import annotations

from typing import Any

from celery import Task, chord, group
from celery.canvas import Signature

from tasks.dlp_pipeline import finalize_dlp, plan_dlp, run_dlp_batch
from workers.celery_app import app
from workers.celeryconfig import DLP_FINALIZE, DLP_PLAN, DLP_SCAN, ROUTES


def _sig(name: str, *args: object) -> Signature:
    return app.signature(name, args=args, immutable=True, queue=ROUTES[name])


@app.task(name=DLP_PLAN, bind=True, acks_late=True)
def dlp_plan(self: Task, scan_id: int, **_: Any) -> dict[str, Any]:
    planned = plan_dlp(int(scan_id))
    keys = planned.get("batches") or []
    if planned.get("status") != "planned":
        return planned
    if not keys:  # nothing listed: still resolve files gone from the listings
        return finalize_dlp(int(scan_id))
    header = group([_sig(DLP_SCAN, int(scan_id), key) for key in keys])
    return self.replace(chord(header, _sig(DLP_FINALIZE, int(scan_id))))


@app.task(name=DLP_SCAN, acks_late=True, ignore_result=False)
def dlp_scan(scan_id: int, batch_key: str, **_: Any) -> dict[str, Any]:
    """Scan one batch of files (a chord header task: its small summary is its result)."""
    return run_dlp_batch(int(scan_id), str(batch_key))


@app.task(name=DLP_FINALIZE, acks_late=True)
def dlp_finalize(scan_id: int, **_: Any) -> dict[str, Any]:
    return finalize_dlp(int(scan_id))
