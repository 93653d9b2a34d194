"""The shapes that cross the scan's stage boundaries, in one place.

Fetch summaries, stage results and DLP batch results travel as JSON: Celery task results
(chord headers), the snapshot store (Redis hashes and one-item parts) and the scan run's
``parts`` column. They are therefore ``TypedDict``s: plain JSON-serialisable dicts at run
time, checked key by key by mypy where they are built and read.

Keys marked ``NotRequired`` are present only in some outcomes (a skipped stage carries
``run`` or ``reason``; a started scan carries ``fetches``; ...).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, NotRequired, TypedDict

#: Part states of a fetch: ``ok`` (stored), ``unavailable`` (the API says the tenant does not
#: offer it, e.g. audit logging off: not an error of the scan) and ``failed`` (a typed error).
OK, UNAVAILABLE, FAILED = "ok", "unavailable", "failed"


class Remedy(StrEnum):
    """What an operator does about an error, as a stable code.

    Errors carry the code and the ``api`` it concerns; the layer that shows an error (the
    CLI) turns them into the command to run. ``hint`` stays prose that names no command.
    """

    SET_KEY = "set_key"  # the key is missing, revoked or wrong: set another one
    GRANT_SCOPE = "grant_scope"  # the key lacks a scope or role: grant it or use another key
    CHECK_BASE_URL = "check_base_url"  # the API base URL answers nothing useful
    CHECK_WORKSPACE = "check_workspace"  # the workspace id (or the base URL) is wrong
    SET_WORKSPACE_ID = "set_workspace_id"  # no workspace id is configured
    SET_ORG_ID = "set_org_id"  # no organization id is configured
    RETRY_LATER = "retry_later"  # rate limited: the next scan (or a later rescan) retries
    RETRY = "retry"  # a transient failure: rescan
    REPORT = "report"  # the API answered something unexpected: nothing to run, report it


class ErrorSummary(TypedDict, total=False):
    """A typed, scrubbed error (connector errors, task errors, DLP errors).

    ``api`` (``admin``, ``compliance``, ``logs``, ``storage``) and ``remedy`` (a ``Remedy``
    value) are absent from summaries stored before they existed.
    """

    kind: str
    error: str
    message: str
    status: int | None
    route: str | None
    hint: str | None
    api: str | None
    remedy: str | None
    retry_after: float | None
    resource: str
    parts: list[str]
    file_id: str


class PartSummary(TypedDict):
    """One snapshot part of a fetch: its state, item count and typed error (or None)."""

    state: str
    count: int
    error: ErrorSummary | None


class FetchSummary(TypedDict):
    """What one fetch (or the DLP stage) records beside the snapshot and returns.

    ``keys``/``counts`` hold the stored parts only; ``ok`` is False when a part failed (an
    unavailable part is not a failure) and ``error`` is then the first failure.
    """

    resource: str
    count: int
    key: str | None
    keys: dict[str, str]
    ok: bool
    error: ErrorSummary | None
    counts: NotRequired[dict[str, Any]]
    parts: NotRequired[dict[str, PartSummary]]
    seconds: NotRequired[float]
    notes: NotRequired[dict[str, Any]]


class StartResult(TypedDict):
    """``start_scan``: ``started`` (launch ``fetches``), ``coalesced``, ``already_running``,
    ``skipped`` or ``unknown_tenant``."""

    status: str
    tenant: str
    scan_id: NotRequired[int]
    fetches: NotRequired[list[str]]
    run: NotRequired[str]


class DetectResult(TypedDict):
    """``run_detect``: the findings count and lifecycle summary, or ``skipped``."""

    scan_id: int
    status: NotRequired[str]
    run: NotRequired[str]
    findings: NotRequired[int]
    lifecycle: NotRequired[dict[str, int]]


class FinishResult(TypedDict):
    """``run_finish``: the run's final status, its error count and the alerts it planned."""

    scan_id: int
    status: str
    errors: NotRequired[int]
    alerts: NotRequired[list[int]]
    already_finished: NotRequired[bool]
    tenant: NotRequired[str]


class DlpPlanResult(TypedDict):
    """``plan_dlp``: ``planned`` (``batches`` are snapshot keys), ``failed`` or ``skipped``."""

    scan_id: int
    status: str
    batches: NotRequired[list[str]]
    files: NotRequired[int]
    run: NotRequired[str]
    reason: NotRequired[str]


class DlpPlanRecord(TypedDict):
    """One listing fetch's plan as stored for ``finalize_dlp`` (a one-item snapshot part)."""

    version: str
    batches: list[str]
    files: int
    listed: NotRequired[dict[str, bool]]
    """Per file kind the fetch lists: whether its listing was stored and planned."""
    failed: NotRequired[bool]
    """The tenant's DLP profiles could not be resolved: nothing was planned."""


class DlpBatchOutcome(TypedDict):
    """One batch's stored outcome: per-file outcomes (by ``kind:file_id``), counts, errors."""

    ok: bool
    version: str
    outcomes: dict[str, str]
    counts: dict[str, int]
    skip_reasons: dict[str, int]
    errors: list[ErrorSummary]
    fatal: ErrorSummary | None


class DlpStageResult(TypedDict):
    """``run_dlp_batch`` and ``finalize_dlp``: ok, counts (and the lifecycle), or skipped."""

    scan_id: int
    status: NotRequired[str]
    run: NotRequired[str]
    reason: NotRequired[str]
    ok: NotRequired[bool]
    counts: NotRequired[dict[str, int]]
    lifecycle: NotRequired[dict[str, int]]


#: The fetches of a scan, in plan order, with what each reads: the one list from which the
#: fetch specs (``pipeline.fetchers.FETCHES``), the Celery task names and routes
#: (``workers.celeryconfig``), the fetch tasks (``tasks.fetch``) and the scan canvas derive.
FETCH_RESOURCES: dict[str, str] = {
    "users": "Organization members and their latest audit-log logins.",
    "invites": "Pending and accepted organization invites.",
    "admin_keys": "Admin API keys of the organization.",
    "project_keys": "Projects (archived included) and every project's API keys.",
    "gpts": "Workspace GPTs with their latest config, plus the GPT knowledge-file listing.",
    "files": "ChatGPT project file listing for DLP.",
    "conversations": "The conversation source (``/conversations`` or the Logs Platform): "
    "conversation file listing and message-text DLP verdicts.",
    "chatgpt_logins": "ChatGPT sign-ins (Logs Platform AUTH_LOG) for the inactive-user rule.",
}


def fetch_task_name(resource: str) -> str:
    """The Celery task of one fetch resource: ``casb.fetch_<resource>``."""
    return f"casb.fetch_{resource}"
