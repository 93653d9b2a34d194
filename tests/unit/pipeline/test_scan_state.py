"""Scan outcome and tenant health decisions (pure)."""

from __future__ import annotations

from store.scans import (
    dlp_skip_summary,
    dlp_skips,
    health_kind,
    health_of,
    scan_outcome,
    worst_error,
)

EXPECTED = ["users", "invites", "admin_keys"]


def test_outcome_from_fetch_summaries() -> None:
    ok = {"ok": True}
    bad = {"ok": False, "error": {"kind": "api_error"}}
    assert scan_outcome(EXPECTED, dict.fromkeys(EXPECTED, ok)) == "succeeded"
    assert scan_outcome(EXPECTED, {"users": ok, "invites": bad, "admin_keys": ok}) == "partial"
    assert scan_outcome(EXPECTED, dict.fromkeys(EXPECTED, bad)) == "failed"
    assert scan_outcome(EXPECTED, {"users": ok}) == "partial"  # missing results are not ok
    assert scan_outcome(EXPECTED, dict.fromkeys(EXPECTED, ok), pipeline_failed=True) == "failed"


def test_health_picks_the_most_actionable_error() -> None:
    assert health_of([]) == ("healthy", None)
    errors = [
        {"resource": "gpts", "kind": "not_found", "message": "workspace gone", "status": 404},
        {
            "resource": "users",
            "kind": "credential_error",
            "message": "revoked",
            "status": 401,
            "hint": "the admin key was revoked or is wrong",
            "remedy": "set_key",
            "api": "admin",
        },
    ]
    health, detail = health_of(errors)
    assert health == "credential_error"
    assert worst_error(errors) is errors[1]
    assert detail == (
        "users: credential_error (HTTP 401): revoked -- the admin key was revoked or is wrong "
        "(+1 more error)"
    )  # the stored detail stays neutral: the CLI adds the command from the remedy
    assert worst_error([]) is None


def test_unknown_kinds_map_to_api_error() -> None:
    for kind in ("rate_limited", "malformed_response", "task_error", "stale", None):
        assert health_kind(kind) == "api_error"
    assert health_of([{"kind": "permission_error", "resource": "invites"}])[0] == "permission_error"


def test_health_detail_names_the_parts_an_error_cost() -> None:
    error = {
        "resource": "project_keys",
        "parts": ["service_accounts", "project_members"],
        "kind": "api_error",
        "status": 500,
        "message": "boom",
    }
    _, detail = health_of([error])
    assert detail is not None
    assert detail.startswith("project_keys (service_accounts, project_members): api_error")


def test_dlp_skips_by_reason_for_the_health_table() -> None:
    parts = {
        "dlp": {"skip_reasons": {"truncated": 1, "ocr_unavailable": 2, "worker_lost": 1, "x": 0}}
    }
    skips = dlp_skips(parts)
    assert skips == {"ocr_unavailable": 2, "truncated": 1, "worker_lost": 1}
    assert list(skips) == sorted(skips)
    # worker_lost is already in the tenant's health detail (see dlp_attention)
    assert dlp_skip_summary(skips) == "DLP files skipped: ocr_unavailable 2, truncated 1"
    assert dlp_skips({}) == {} and dlp_skips(None) == {}
    assert dlp_skips({"dlp": {"skip_reasons": {"corrupt": "bad"}}}) == {}
    assert dlp_skip_summary({"redirect_refused": 3}) == ""
