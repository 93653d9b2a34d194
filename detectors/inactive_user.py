"""Inactive user: an organization member with no sign of activity for inactive_user_days.

The Admin API has no last-login field, so "last activity" is reconstructed as the newest of
the signals the scan has: the user's ``api_key_last_used_at`` (newer API versions), their
latest ``login.succeeded`` in the audit logs (only if audit logging is on and the fetch
worked), the ``last_used_at`` of project keys they own, their newest ChatGPT sign-in
(Compliance Logs Platform AUTH_LOG records of the workspace user with the same email), and
finally ``added_at`` (a user added yesterday is not inactive). Missing audit logs mean one
signal fewer, not a failed rule, so ``logins`` (and ``chatgpt_logins``) are optional while
``users`` and ``project_keys`` are required: without the keys a user active only through the
API would be flagged wrongly.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from detectors.base import Detector, age_days, finding, iso, older_than
from schemas.catalog import BY_KEY
from schemas.findings import DetectedFinding, Thresholds
from schemas.openai import AdminUser, ProjectApiKey
from schemas.snapshot import PostureSnapshot

FINDING_TYPE = BY_KEY["inactive_user"]

#: Signal names, in the order ties are broken (the first listed wins on equal timestamps).
SIGNALS: tuple[str, ...] = (
    "api_key_last_used_at",
    "audit_login",
    "project_key_last_used_at",
    "chatgpt_login",
    "added_at",
)


def _latest_key_use(keys: list[ProjectApiKey]) -> dict[str, tuple[float, str]]:
    """Per user id: newest ``last_used_at`` of the project keys the user owns, and that key's id."""
    latest: dict[str, tuple[float, str]] = {}
    for key in keys:
        owner = key.owner
        if owner is None or (owner.type or "").lower() != "user" or owner.user is None:
            continue
        user_id = owner.user.id
        if user_id is None or key.last_used_at is None:
            continue
        if user_id not in latest or key.last_used_at > latest[user_id][0]:
            latest[user_id] = (key.last_used_at, key.id)
    return latest


def _chatgpt_logins(snapshot: PostureSnapshot) -> dict[str, float]:
    """Newest ChatGPT sign-in per email (lower case): how a workspace user maps to a member."""
    latest: dict[str, float] = {}
    for login in snapshot.chatgpt_logins or ():
        email = (login.email or "").strip().lower()
        if email and login.last_login_at > latest.get(email, float("-inf")):
            latest[email] = login.last_login_at
    return latest


def _signals(
    user: AdminUser,
    logins: dict[str, float],
    key_use: dict[str, tuple[float, str]],
    chatgpt: dict[str, float],
) -> dict[str, float | None]:
    key = key_use.get(user.id)
    return {
        "api_key_last_used_at": user.api_key_last_used_at,
        "audit_login": logins.get(user.id),
        "project_key_last_used_at": key[0] if key else None,
        "chatgpt_login": chatgpt.get((user.email or "").strip().lower()),
        "added_at": user.added_at,
    }


def rule(snapshot: PostureSnapshot, thresholds: Thresholds) -> Iterator[DetectedFinding]:
    """An organization user (not a service account) whose last activity is strictly more than
    `inactive_user_days` days before the scan. Last activity is the newest of:
    `api_key_last_used_at`, the latest `login.succeeded` audit-log event for the user, the
    `last_used_at` of project keys the user owns, the newest ChatGPT sign-in (Logs Platform
    AUTH_LOG) of the workspace user with the same email, and `added_at`. Audit logs and
    ChatGPT sign-ins are optional (without them that signal is simply absent); a user with no
    signal at all is not flagged.
    Service-account users are skipped: they never log in, and their keys are covered by the
    unused-key findings."""
    now, days = snapshot.now, thresholds.inactive_user_days
    logins: dict[str, float] = {}
    for login in snapshot.logins or ():
        if login.effective_at > logins.get(login.user_id, float("-inf")):
            logins[login.user_id] = login.effective_at
    key_use = _latest_key_use(snapshot.project_keys or [])
    chatgpt = _chatgpt_logins(snapshot)

    for user in snapshot.users or ():
        if user.is_service_account:
            continue
        signals = _signals(user, logins, key_use, chatgpt)
        known = [(ts, name) for name, ts in signals.items() if ts is not None]
        if not known:
            continue
        # max by timestamp; on a tie the earlier-listed signal wins (stable, deterministic).
        last, source = max(known, key=lambda item: (item[0], -SIGNALS.index(item[1])))
        if not older_than(now, last, days):
            continue
        evidence: dict[str, Any] = {
            "email": user.email,
            "name": user.name,
            "role": user.role,
            "last_activity_at": iso(last),
            "last_activity_source": source,
            "days_inactive": age_days(now, last),
            "threshold_days": days,
            "signals": {name: iso(ts) for name, ts in signals.items()},
            "project_key_id": key_use[user.id][1] if user.id in key_use else None,
            "audit_logins_available": bool(snapshot.logins),
        }
        yield finding(FINDING_TYPE, user.id, user.email or user.name, evidence)


DETECTOR = Detector(
    finding_type=FINDING_TYPE,
    needs=("users", "project_keys"),
    optional=("logins", "chatgpt_logins"),
    rule=rule,
    evidence_fields=(
        "email",
        "name",
        "role",
        "last_activity_at",
        "last_activity_source",
        "days_inactive",
        "threshold_days",
        "signals",
        "project_key_id",
        "audit_logins_available",
    ),
    thresholds=("inactive_user_days",),
)
