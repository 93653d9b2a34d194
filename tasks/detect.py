"""``casb.detect_posture(scan_id)`` (queue ``detect``): detectors + finding lifecycle.

Safe to run twice: findings are upserted by natural key under row locks, and a run that
is no longer ``running`` is skipped.
"""

from __future__ import annotations

from typing import Any

from pipeline.posture import run_detect
from workers.celery_app import app
from workers.celeryconfig import DETECT_POSTURE


@app.task(name=DETECT_POSTURE, acks_late=True, scan_stage=True)
def detect_posture(scan_id: int, **_: Any) -> dict[str, Any]:
    return run_detect(int(scan_id))
