"""``casb.finish_scan(scan_id, failed=False, dlp=False)`` (queue ``scans``): close the scan run.

Also the canvas's errback (``failed=True``, immutable signature): Celery calls a
one-positional-argument errback as a task, so ``failed`` stays keyword-only. Finishing an
already finished run changes nothing.

In a scan with the DLP stage the canvas's body is this task with ``dlp=True``: it ends the
stage first (``pipeline.dlp.finalize_dlp``: resolutions, watermarks, the stage's record on
the run), then the run. A finalization its worker keeps dying on is given up after
``CASB_MAX_DELIVERIES`` deliveries like the other stages' (tasks/guard.py): the task raises
and the errback finishes the run as failed.
"""

from __future__ import annotations

from typing import Any

from celery import Task

from pipeline.dlp import finalize_dlp
from pipeline.posture import run_finish
from schemas.stages import FinishResult
from tasks.guard import guarded_delivery, worker_lost
from workers.celery_app import app
from workers.celeryconfig import DELIVER_ALERT, FINISH_SCAN, NOTIFY


@app.task(name=FINISH_SCAN, bind=True, acks_late=True)
def finish_scan(
    self: Task, scan_id: int, *, failed: bool = False, dlp: bool = False, **_: Any
) -> FinishResult:
    if dlp and not failed:
        with guarded_delivery(self) as this_delivery:
            lost = worker_lost(this_delivery, "DLP finalize")
            if lost is not None:
                raise lost  # the errback finishes the scan as failed
            finalize_dlp(int(scan_id))
    result = run_finish(int(scan_id), failed=bool(failed))
    # The scan's alerts (planned by run_finish once its findings are committed): one
    # delivery task each, by row id only. A message lost here is picked up by the retry sweep.
    for alert in result.get("alerts", []):
        app.send_task(DELIVER_ALERT, args=[alert], queue=NOTIFY)
    return result
