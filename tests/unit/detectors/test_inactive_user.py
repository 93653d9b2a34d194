"""Inactive user: the newest activity signal decides, on both sides of the threshold."""

from __future__ import annotations

from typing import Any

import pytest

from detectors import inactive_user
from schemas.catalog import BY_KEY
from schemas.findings import Thresholds
from tests.unit.detectors.factories import DAY, DEFAULTS, login, project_key, snapshot, user


def run(thresholds: Thresholds = DEFAULTS, **parts: Any) -> dict[str, Any]:
    parts.setdefault("project_keys", [])
    found = inactive_user.DETECTOR.detect(snapshot(**parts), thresholds)
    return {f.resource_id: f for f in found}


@pytest.mark.parametrize(
    ("added_days", "fires"), [(89, False), (90, False), (90 + 1 / DAY, True), (91, True)]
)
def test_added_at_is_the_fallback_signal(added_days: float, fires: bool) -> None:
    found = run(users=[user("user-a", added_days=added_days)], logins=[])
    assert list(found) == (["user-a"] if fires else [])
    if fires:
        ev = found["user-a"].evidence
        assert ev["last_activity_source"] == "added_at"
        assert ev["threshold_days"] == 90


@pytest.mark.parametrize(("days", "fires"), [(89, False), (91, True)])
def test_api_key_last_used_at_signal(days: float, fires: bool) -> None:
    found = run(users=[user("user-a", added_days=500, api_key_last_used_days=days)])
    assert list(found) == (["user-a"] if fires else [])
    if fires:
        assert found["user-a"].evidence["last_activity_source"] == "api_key_last_used_at"
        assert found["user-a"].evidence["days_inactive"] == 91.0


@pytest.mark.parametrize(("days", "fires"), [(89, False), (91, True)])
def test_audit_login_signal_takes_the_latest_login(days: float, fires: bool) -> None:
    logins = [login("user-a", 300), login("user-a", days), login("user-a", 200), login("user-b", 1)]
    found = run(users=[user("user-a", added_days=500)], logins=logins)
    assert list(found) == (["user-a"] if fires else [])
    if fires:
        ev = found["user-a"].evidence
        assert ev["last_activity_source"] == "audit_login"
        assert ev["audit_logins_available"] is True
        assert ev["signals"]["audit_login"] == ev["last_activity_at"]


@pytest.mark.parametrize(("days", "fires"), [(89, False), (91, True)])
def test_owned_project_key_use_signal(days: float, fires: bool) -> None:
    keys = [
        project_key("key_old", owner_user="user-a", last_used_days=300),
        project_key("key_recent", owner_user="user-a", last_used_days=days),
        project_key("key_never", owner_user="user-a", last_used_days=None),
    ]
    found = run(users=[user("user-a", added_days=500)], project_keys=keys)
    assert list(found) == (["user-a"] if fires else [])
    if fires:
        ev = found["user-a"].evidence
        assert ev["last_activity_source"] == "project_key_last_used_at"
        assert ev["project_key_id"] == "key_recent"


def test_keys_of_other_users_and_service_accounts_do_not_count() -> None:
    keys = [
        project_key("key_other", owner_user="user-b", last_used_days=0),
        project_key("key_svc", owner_user=None, last_used_days=0),
    ]
    found = run(users=[user("user-a", added_days=500)], project_keys=keys)
    assert list(found) == ["user-a"]
    assert found["user-a"].evidence["project_key_id"] is None


def test_newest_signal_wins_over_older_ones() -> None:
    """Old login, old API use, but a key used yesterday: active."""
    users = [user("user-a", added_days=900, api_key_last_used_days=400)]
    found = run(
        users=users,
        logins=[login("user-a", 300)],
        project_keys=[project_key("k", owner_user="user-a", last_used_days=1)],
    )
    assert found == {}


def test_service_account_users_are_skipped() -> None:
    users = [
        user("user-svc", added_days=900, is_service_account=True),
        user("user-h", added_days=900),
    ]
    assert list(run(users=users)) == ["user-h"]


def test_missing_audit_logs_only_remove_a_signal() -> None:
    users = [
        user("user-a", added_days=900, api_key_last_used_days=10),
        user("user-b", added_days=900),
    ]
    found = run(users=users, logins=None)
    assert list(found) == ["user-b"]
    ev = found["user-b"].evidence
    assert ev["audit_logins_available"] is False
    assert ev["signals"] == {
        "api_key_last_used_at": None,
        "audit_login": None,
        "project_key_last_used_at": None,
        "chatgpt_login": None,
        "added_at": ev["last_activity_at"],
    }


def test_user_without_any_signal_is_not_flagged() -> None:
    assert run(users=[user("user-x", added_days=None)]) == {}


def test_custom_threshold_is_honoured() -> None:
    users = [user("user-29", added_days=29), user("user-31", added_days=31)]
    assert list(run(Thresholds(inactive_user_days=30), users=users)) == ["user-31"]
    assert run(users=users) == {}


def test_evidence_and_metadata() -> None:
    found = run(users=[user("user-a", added_days=120, role="owner")])
    f = found["user-a"]
    assert f.finding_type is BY_KEY["inactive_user"]
    assert f.resource_name == "user-a@example.com"
    assert f.evidence["email"] == "user-a@example.com"
    assert f.evidence["role"] == "owner"
    assert f.evidence["days_inactive"] == 120.0


def test_tie_prefers_the_first_listed_signal() -> None:
    users = [user("user-a", added_days=100, api_key_last_used_days=100)]
    found = run(users=users, logins=[login("user-a", 100)])
    assert found["user-a"].evidence["last_activity_source"] == "api_key_last_used_at"


@pytest.mark.parametrize(("days", "fires"), [(89, False), (91, True)])
def test_chatgpt_sign_in_maps_by_email(days: float, fires: bool) -> None:
    from schemas.openai import ChatGptLogin
    from tests.unit.detectors.factories import NOW

    signins = [
        ChatGptLogin(email="USER-A@example.com", user_id="ws-9", last_login_at=NOW - 300 * DAY),
        ChatGptLogin(email="user-a@example.com", last_login_at=NOW - days * DAY),
        ChatGptLogin(email="someone-else@example.com", last_login_at=NOW - DAY),
    ]
    found = run(users=[user("user-a", added_days=500)], chatgpt_logins=signins)
    assert list(found) == (["user-a"] if fires else [])
    if fires:
        ev = found["user-a"].evidence
        assert ev["last_activity_source"] == "chatgpt_login"
        assert ev["signals"]["chatgpt_login"] == ev["last_activity_at"]
