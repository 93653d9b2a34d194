"""Fetch tasks (queue ``fetch``): one per resource, arguments: the scan id and ``dlp_fetches``.

The tasks are made from the one list of fetch resources (``schemas.stages.FETCH_RESOURCES``).
Each returns its ``FetchSummary`` (schemas/stages.py): every part it fills (users
and logins, project keys and service accounts, ...) is ``ok``, ``failed`` or ``unavailable``
on its own. A typed connector failure is a result, not an exception, so the chord body
always runs and the lifecycle knows which types it may not resolve. A rate budget still
exhausted after the client's own wait is retried a few times with a short countdown (never
a sleep in the task). A listing fetch (``gpts``, ``files``, ``conversations``) plans its files
for DLP as soon as its listing is stored and starts the scan's DLP lanes (tasks/dlp.py); a
redelivered one whose files are planned returns its recorded summary without listing again.
In a DLP scan the fetch that ends last starts detection (``casb.detect_posture``):
``dlp_fetches`` is the scan's number of fetches then, 0 in a scan without the DLP stage
(absent from a message sent before it existed: the run's plan is read instead).
Results are kept (chord header); everything else in the fleet ignores results.
"""

from __future__ import annotations

import random
from typing import Any

from celery import Task

from connectors.errors import RateLimitedError
from pipeline.common import load_scan
from pipeline.dlp import planned_summary
from pipeline.posture import record_failure, run_fetch
from schemas.stages import FETCH_RESOURCES, FetchSummary, fetch_task_name
from schemas.tables import ScanRun, Tenant
from tasks.dlp import start_detect_when_fetched, start_dlp_lanes
from tasks.guard import guarded_delivery, worker_lost
from workers.celery_app import app

MAX_RATE_RETRIES = 5
MAX_COUNTDOWN = 30.0


def _fetch(task: Task, scan_id: int, resource: str, dlp_fetches: int | None) -> FetchSummary:
    """The fetch; a listing fetch then starts the DLP lanes on the files it listed (planned
    with the run and tenant the fetch loaded)."""
    scan: tuple[ScanRun, Tenant] | None = None
    summary = planned_summary(int(scan_id), resource)
    if summary is None:
        summary, scan = _run(task, scan_id, resource)
    start_dlp_lanes(task, int(scan_id), resource, scan)
    start_detect_when_fetched(task, int(scan_id), resource, dlp_fetches)
    return summary


def _run(
    task: Task, scan_id: int, resource: str
) -> tuple[FetchSummary, tuple[ScanRun, Tenant] | None]:
    # The last try records a still rate-limited part as failed and keeps its siblings.
    defer = task.request.retries < MAX_RATE_RETRIES
    with guarded_delivery(task) as delivery:
        lost = worker_lost(delivery, f"fetch of {resource}")
        if lost is not None:
            return record_failure(int(scan_id), resource, lost), None
        scan = load_scan(int(scan_id))
        try:
            return run_fetch(int(scan_id), resource, defer_rate_limited=defer, scan=scan), scan
        except RateLimitedError as exc:
            if task.request.retries < MAX_RATE_RETRIES:
                wait = min(exc.retry_after or 5.0, MAX_COUNTDOWN)
                raise task.retry(
                    countdown=wait + random.uniform(0, 2), max_retries=MAX_RATE_RETRIES
                ) from None
            return record_failure(int(scan_id), resource, exc), scan


_OPTIONS: dict[str, Any] = {
    "bind": True,
    "ignore_result": False,
    "acks_late": True,
    "scan_stage": True,
}


def _fetch_task(resource: str) -> Task:
    """The registered Celery task ``casb.fetch_<resource>`` (arguments: the scan id and
    ``dlp_fetches``)."""

    def fetch(self: Task, scan_id: int, dlp_fetches: int | None = None, **_: Any) -> FetchSummary:
        return _fetch(self, scan_id, resource, None if dlp_fetches is None else int(dlp_fetches))

    fetch.__name__ = fetch.__qualname__ = f"fetch_{resource}"
    fetch.__doc__ = FETCH_RESOURCES[resource]
    task: Task = app.task(name=fetch_task_name(resource), **_OPTIONS)(fetch)
    return task


#: One fetch task per fetch resource, by resource.
FETCH_TASKS: dict[str, Task] = {resource: _fetch_task(resource) for resource in FETCH_RESOURCES}
