"""PartRun and the run's error/health view: a part's failure is its own."""

from __future__ import annotations

import pytest

from connectors.errors import RateLimitedError, UpstreamError
from pipeline.fetchers import FAILED, OK, UNAVAILABLE, PartRun, PartUnavailable
from pipeline.posture import fetch_errors, part_states, with_owner_emails


def boom(status: int = 500) -> list[dict]:
    raise UpstreamError("upstream failed", status=status, route="/x")


def test_a_failed_part_keeps_its_sibling() -> None:
    out = PartRun()
    assert out.run("users", lambda: [{"id": "u1"}]) == [{"id": "u1"}]
    assert out.run("logins", boom) is None
    assert out.results["users"].state == OK and out.results["users"].items == [{"id": "u1"}]
    assert out.results["logins"].state == FAILED
    assert out.results["logins"].error is not None
    assert out.results["logins"].error["status"] == 500


def test_unavailable_is_not_a_failure() -> None:
    out = PartRun()

    def off() -> list[dict]:
        raise PartUnavailable("audit logging off", 400)

    assert out.run("logins", off) is None
    assert out.results["logins"].state == UNAVAILABLE
    assert out.results["logins"].error == {
        "kind": "unavailable",
        "message": "audit logging off",
        "status": 400,
    }


def test_a_failed_prerequisite_fails_every_part_that_needs_it() -> None:
    out = PartRun()
    assert out.prerequisite(("a", "b"), boom) is None
    assert {out.results[p].state for p in ("a", "b")} == {FAILED}
    assert out.prerequisite(("c",), lambda: [1, 2]) == [1, 2]
    assert "c" not in out.results  # a prerequisite alone stores nothing


def test_rate_limited_defers_the_task_only_when_asked() -> None:
    def limited() -> list[dict]:
        raise RateLimitedError("slow down", status=429, retry_after=5)

    with pytest.raises(RateLimitedError):
        PartRun(defer_rate_limited=True).run("gpts", limited)
    out = PartRun()
    assert out.run("gpts", limited) is None and out.results["gpts"].state == FAILED


def test_errors_group_parts_by_failure_and_skip_unavailable() -> None:
    error = {"kind": "api_error", "status": 500, "message": "m"}
    summary = {
        "resource": "project_keys",
        "ok": False,
        "parts": {
            "project_keys": {"state": OK, "count": 3, "error": None},
            "service_accounts": {"state": FAILED, "count": 0, "error": error},
            "project_members": {"state": FAILED, "count": 0, "error": error},
        },
    }
    assert fetch_errors(summary) == [
        {"resource": "project_keys", "parts": ["service_accounts", "project_members"], **error}
    ]
    users = {
        "resource": "users",
        "ok": True,
        "parts": {
            "users": {"state": OK},
            "logins": {"state": UNAVAILABLE, "error": {"kind": "unavailable", "status": 400}},
        },
    }
    assert fetch_errors(users) == []
    assert part_states(users) == {
        "users": "ok",
        "logins": {"state": "unavailable", "kind": "unavailable", "status": 400},
    }


def test_admin_key_owner_email_comes_from_the_users_part() -> None:
    keys = [
        {"id": "k1", "owner": {"type": "user", "id": "user-1"}},
        {"id": "k2", "owner": {"type": "service_account", "id": "svc_1"}},
        {"id": "k3", "owner": {"type": "user", "id": "user-9", "email": "kept@x.io"}},
    ]
    users = [{"id": "user-1", "email": "a@x.io"}, {"id": "user-9", "email": "other@x.io"}]
    got = with_owner_emails(keys, users)
    assert [k["owner"].get("email") for k in got] == ["a@x.io", None, "kept@x.io"]
    assert "email" not in keys[0]["owner"]  # inputs untouched


def test_every_catalog_source_is_a_part_some_fetch_fills() -> None:
    from pipeline.fetchers import FETCHES
    from pipeline.posture import POSTURE_PARTS
    from schemas.catalog import CATALOG, FetchResource

    filled = {part for spec in FETCHES.values() for part in spec.parts}
    # Message text is never stored: the conversation source's part carries its DLP verdicts.
    assert {"message_matches", "message_clean"} <= set(FETCHES["conversations"].parts)
    filled.add(FetchResource.CONVERSATION_MESSAGES.value)
    assert {r.value for r in FetchResource} <= filled
    assert {s.value for ft in CATALOG for s in ft.sources} <= filled
    assert set(POSTURE_PARTS) <= filled
    for spec in FETCHES.values():
        assert spec.primary in spec.parts
