"""Fetch tasks (queue ``fetch``): one per resource, argument: the scan id only.

Each returns ``{resource, count, key, keys, parts, ok, error}``: every part it fills (users
and logins, project keys and service accounts, ...) is ``ok``, ``failed`` or ``unavailable``
on its own. A typed connector failure is a result, not an exception, so the chord body
always runs and the lifecycle knows which types it may not resolve. A rate budget still
exhausted after the client's own wait is retried a few times with a short countdown (never
a sleep in the task).
Results are kept (chord header); everything else in the fleet ignores results.
"""

from __future__ import annotations

import random
from typing import Any

from celery import Task

from connectors.errors import RateLimitedError
from pipeline.posture import record_failure, run_fetch
from schemas.stages import FetchSummary
from tasks.guard import guarded_delivery, worker_lost
from workers.celery_app import app
from workers.celeryconfig import (
    FETCH_ADMIN_KEYS,
    FETCH_CHATGPT_LOGINS,
    FETCH_CONVERSATIONS,
    FETCH_FILES,
    FETCH_GPTS,
    FETCH_INVITES,
    FETCH_PROJECT_KEYS,
    FETCH_USERS,
)

MAX_RATE_RETRIES = 5
MAX_COUNTDOWN = 30.0


def _fetch(task: Task, scan_id: int, resource: str) -> FetchSummary:
    # The last try records a still rate-limited part as failed and keeps its siblings.
    defer = task.request.retries < MAX_RATE_RETRIES
    with guarded_delivery(task) as delivery:
        lost = worker_lost(delivery, f"fetch of {resource}")
        if lost is not None:
            return record_failure(int(scan_id), resource, lost)
        try:
            return run_fetch(int(scan_id), resource, defer_rate_limited=defer)
        except RateLimitedError as exc:
            if task.request.retries < MAX_RATE_RETRIES:
                wait = min(exc.retry_after or 5.0, MAX_COUNTDOWN)
                raise task.retry(
                    countdown=wait + random.uniform(0, 2), max_retries=MAX_RATE_RETRIES
                ) from None
            return record_failure(int(scan_id), resource, exc)


_OPTIONS: dict[str, Any] = {
    "bind": True,
    "ignore_result": False,
    "acks_late": True,
    "scan_stage": True,
}


@app.task(name=FETCH_USERS, **_OPTIONS)
def fetch_users(self: Task, scan_id: int, **_: Any) -> FetchSummary:
    """Organization members and their latest audit-log logins."""
    return _fetch(self, scan_id, "users")


@app.task(name=FETCH_INVITES, **_OPTIONS)
def fetch_invites(self: Task, scan_id: int, **_: Any) -> FetchSummary:
    return _fetch(self, scan_id, "invites")


@app.task(name=FETCH_ADMIN_KEYS, **_OPTIONS)
def fetch_admin_keys(self: Task, scan_id: int, **_: Any) -> FetchSummary:
    return _fetch(self, scan_id, "admin_keys")


@app.task(name=FETCH_PROJECT_KEYS, **_OPTIONS)
def fetch_project_keys(self: Task, scan_id: int, **_: Any) -> FetchSummary:
    """Projects (archived included) and every project's API keys."""
    return _fetch(self, scan_id, "project_keys")


@app.task(name=FETCH_GPTS, **_OPTIONS)
def fetch_gpts(self: Task, scan_id: int, **_: Any) -> FetchSummary:
    """Workspace GPTs with their latest config, plus the GPT knowledge-file listing."""
    return _fetch(self, scan_id, "gpts")


@app.task(name=FETCH_FILES, **_OPTIONS)
def fetch_files(self: Task, scan_id: int, **_: Any) -> FetchSummary:
    """ChatGPT project file listing for DLP."""
    return _fetch(self, scan_id, "files")


@app.task(name=FETCH_CONVERSATIONS, **_OPTIONS)
def fetch_conversations(self: Task, scan_id: int, **_: Any) -> FetchSummary:
    """The conversation source (``/conversations`` or the Logs Platform): conversation file
    listing and message-text DLP verdicts."""
    return _fetch(self, scan_id, "conversations")


@app.task(name=FETCH_CHATGPT_LOGINS, **_OPTIONS)
def fetch_chatgpt_logins(self: Task, scan_id: int, **_: Any) -> FetchSummary:
    """ChatGPT sign-ins (Logs Platform AUTH_LOG) for the inactive-user rule."""
    return _fetch(self, scan_id, "chatgpt_logins")
