"""The finding lifecycle decision (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from detectors.lifecycle import Action, Stored, plan_lifecycle
from schemas.catalog import BY_KEY
from schemas.findings import DetectedFinding

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
GPT = BY_KEY["gpt_custom_actions"]
INVITE = BY_KEY["high_privilege_invite"]
ALL = {GPT.finding_type_id, INVITE.finding_type_id}


def seen(ft: object, rid: str) -> DetectedFinding:
    return DetectedFinding(finding_type=ft, resource_id=rid)  # type: ignore[arg-type]


def stored(ft: object, rid: str, status: str, **kw: object) -> Stored:
    return Stored(ft.finding_type_id, rid, status, **kw)  # type: ignore[attr-defined,arg-type]


def test_new_finding_is_inserted_and_duplicates_collapse() -> None:
    plan = plan_lifecycle([], [seen(GPT, "g1"), seen(GPT, "g1")], ALL, scan_id=1, now=NOW)
    assert {k: a for k, (a, _) in plan.seen.items()} == {(GPT.finding_type_id, "g1"): Action.INSERT}
    assert plan.resolve == {}


def test_open_kept_resolved_reopened_absent_resolved() -> None:
    rows = [
        stored(GPT, "open", "open"),
        stored(GPT, "back", "resolved"),
        stored(GPT, "gone", "open"),
        stored(GPT, "still-gone", "resolved"),
    ]
    plan = plan_lifecycle(rows, [seen(GPT, "open"), seen(GPT, "back")], ALL, scan_id=5, now=NOW)
    actions = {k[1]: a for k, (a, _) in plan.seen.items()}
    assert actions == {"open": Action.KEEP_OPEN, "back": Action.REOPEN}
    assert plan.resolve == {(GPT.finding_type_id, "gone"): Action.RESOLVE}
    assert plan.summary() == {"keep_open": 1, "reopen": 1, "resolve": 1}


def test_unresolvable_type_is_never_resolved() -> None:
    rows = [stored(INVITE, "i1", "open"), stored(GPT, "g1", "open")]
    plan = plan_lifecycle(rows, [], {GPT.finding_type_id}, scan_id=2, now=NOW)
    assert plan.resolve == {(GPT.finding_type_id, "g1"): Action.RESOLVE}


def test_ignored_stays_ignored_until_it_expires() -> None:
    active = stored(GPT, "a", "ignored", ignored_until=NOW + timedelta(days=1))
    forever = stored(GPT, "f", "ignored")
    expired = stored(GPT, "e", "ignored", ignored_until=NOW - timedelta(seconds=1))
    expired_absent = stored(GPT, "x", "ignored", ignored_until=NOW - timedelta(days=1))
    absent_forever = stored(GPT, "y", "ignored")
    detected = [seen(GPT, "a"), seen(GPT, "f"), seen(GPT, "e")]
    plan = plan_lifecycle(
        [active, forever, expired, expired_absent, absent_forever],
        detected,
        ALL,
        scan_id=3,
        now=NOW,
    )
    actions = {k[1]: a for k, (a, _) in plan.seen.items()}
    assert actions == {"a": Action.KEEP_IGNORED, "f": Action.KEEP_IGNORED, "e": Action.KEEP_OPEN}
    assert plan.resolve == {(GPT.finding_type_id, "x"): Action.UNIGNORE_RESOLVE}


def test_an_older_scan_never_overrides_a_newer_one() -> None:
    rows = [
        stored(GPT, "g1", "resolved", last_scan_id=9),
        stored(GPT, "g2", "open", last_scan_id=9),
    ]
    plan = plan_lifecycle(rows, [seen(GPT, "g1")], ALL, scan_id=7, now=NOW)
    assert plan.seen == {} and plan.resolve == {}
    same = plan_lifecycle(rows, [seen(GPT, "g1")], ALL, scan_id=9, now=NOW)
    assert same.seen[(GPT.finding_type_id, "g1")][0] is Action.REOPEN
    assert same.resolve == {(GPT.finding_type_id, "g2"): Action.RESOLVE}


def test_replaying_a_plan_outcome_is_stable() -> None:
    """After applying (g1 reopened, g2 resolved), the same scan decides no further reopen."""
    after = [
        stored(GPT, "g1", "open", last_scan_id=4),
        stored(GPT, "g2", "resolved", last_scan_id=4),
    ]
    plan = plan_lifecycle(after, [seen(GPT, "g1")], ALL, scan_id=4, now=NOW)
    assert plan.seen[(GPT.finding_type_id, "g1")][0] is Action.KEEP_OPEN
    assert plan.resolve == {}
