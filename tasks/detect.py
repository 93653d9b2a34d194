"""``casb.detect_posture(scan_id)`` (queue ``detect``): detectors + finding lifecycle.

Safe to run twice: findings are upserted by natural key under row locks, and a run that
is no longer ``running`` is skipped.
"""

from __future__ import annotations

from typing import Any

from celery import Task

from pipeline.posture import run_detect
from schemas.stages import DetectResult
from tasks.guard import guarded_delivery, worker_lost
from workers.celery_app import app
from workers.celeryconfig import DETECT_POSTURE


@app.task(name=DETECT_POSTURE, bind=True, acks_late=True, scan_stage=True)
def detect_posture(self: Task, scan_id: int, **_: Any) -> DetectResult:
    with guarded_delivery(self) as delivery:
        lost = worker_lost(delivery, "posture detection")
        if lost is not None:
            raise lost  # the canvas's errback finishes the scan as failed
        return run_detect(int(scan_id))
