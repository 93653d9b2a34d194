"""``casb.finish_scan(scan_id, failed=False)`` (queue ``scans``): close the scan run.

Also the canvas's errback (``failed=True``, immutable signature): Celery calls a
one-positional-argument errback as a task, so ``failed`` stays keyword-only. Finishing an
already finished run changes nothing.
"""

from __future__ import annotations

from typing import Any

from pipeline.posture import run_finish
from schemas.stages import FinishResult
from workers.celery_app import app
from workers.celeryconfig import DELIVER_ALERT, FINISH_SCAN, NOTIFY


@app.task(name=FINISH_SCAN, acks_late=True)
def finish_scan(scan_id: int, *, failed: bool = False, **_: Any) -> FinishResult:
    result = run_finish(int(scan_id), failed=bool(failed))
    # The scan's alerts (planned by run_finish once its findings are committed): one
    # delivery task each, by row id only. A message lost here is picked up by the retry sweep.
    for delivery in result.get("alerts", []):
        app.send_task(DELIVER_ALERT, args=[delivery], queue=NOTIFY)
    return result
