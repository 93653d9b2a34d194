"""Property tests: every age rule fires exactly when the age strictly exceeds its threshold."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from detectors import admin_key_not_rotated, inactive_user, project_key_unused, stale_pending_invite
from schemas.findings import Thresholds
from schemas.openai import AdminApiKey, AdminUser, AuditLogin, Invite, ProjectApiKey
from tests.unit.detectors.factories import DAY, NOW, snapshot

ages = st.integers(min_value=-5 * DAY, max_value=4000 * DAY)  # seconds before NOW
maybe_ages = st.none() | ages
days = st.integers(min_value=1, max_value=3650)


@settings(max_examples=300, deadline=None)
@given(age=ages, threshold=days)
def test_rotation_fires_iff_age_exceeds_threshold(age: int, threshold: int) -> None:
    key = AdminApiKey(id="k", created_at=NOW - age)
    found = list(
        admin_key_not_rotated.DETECTOR.detect(
            snapshot(admin_keys=[key]), Thresholds(key_rotation_days=threshold)
        )
    )
    assert bool(found) == (age > threshold * DAY)


@settings(max_examples=300, deadline=None)
@given(created=ages, used=maybe_ages, threshold=days)
def test_unused_fires_iff_last_use_or_creation_is_too_old(
    created: int, used: int | None, threshold: int
) -> None:
    key = ProjectApiKey(
        id="k", created_at=NOW - created, last_used_at=None if used is None else NOW - used
    )
    found = list(
        project_key_unused.DETECTOR.detect(
            snapshot(project_keys=[key]), Thresholds(unused_key_days=threshold)
        )
    )
    basis = created if used is None else used
    assert bool(found) == (basis > threshold * DAY)


@settings(max_examples=300, deadline=None)
@given(
    added=maybe_ages,
    api=maybe_ages,
    login=maybe_ages,
    key_use=maybe_ages,
    threshold=days,
)
def test_inactive_fires_iff_newest_signal_is_too_old(
    added: int | None, api: int | None, login: int | None, key_use: int | None, threshold: int
) -> None:
    user = AdminUser(
        id="u",
        added_at=None if added is None else NOW - added,
        api_key_last_used_at=None if api is None else NOW - api,
    )
    logins = [] if login is None else [AuditLogin(user_id="u", effective_at=NOW - login)]
    keys = [
        ProjectApiKey.model_validate(
            {
                "id": "k",
                "last_used_at": None if key_use is None else NOW - key_use,
                "owner": {"type": "user", "user": {"id": "u"}},
            }
        )
    ]
    found = list(
        inactive_user.DETECTOR.detect(
            snapshot(users=[user], logins=logins, project_keys=keys),
            Thresholds(inactive_user_days=threshold),
        )
    )
    known = [a for a in (added, api, login, key_use) if a is not None]
    assert bool(found) == (bool(known) and min(known) > threshold * DAY)


@settings(max_examples=300, deadline=None)
@given(sent=maybe_ages, expires_in=st.none() | st.integers(-100 * DAY, 100 * DAY), threshold=days)
def test_stale_invite_fires_iff_old_or_expired(
    sent: int | None, expires_in: int | None, threshold: int
) -> None:
    invite = Invite(
        id="i",
        status="pending",
        created_at=None if sent is None else NOW - sent,
        expires_at=None if expires_in is None else NOW + expires_in,
    )
    found = list(
        stale_pending_invite.DETECTOR.detect(
            snapshot(invites=[invite]), Thresholds(stale_invite_days=threshold)
        )
    )
    old = sent is not None and sent > threshold * DAY
    expired = expires_in is not None and expires_in < 0
    assert bool(found) == (old or expired)
