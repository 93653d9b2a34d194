"""store.suppressions against the real PostgreSQL: rules, expiry, release, idempotence."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session

from schemas.catalog import BY_KEY
from store import suppressions as sup
from store.db import get_engine
from tests.integration.ops.seed import T0, add_finding, add_scan, add_tenant, get_finding

NOW = T0 + timedelta(days=2)


def _apply(db: str, tenant_id: int, now=NOW) -> int:
    with Session(get_engine(db)) as s:
        changed = sup.apply(s, tenant_id, now)
        s.commit()
        return changed


def _rule(db: str, *args, **kw) -> int:
    with Session(get_engine(db)) as s:
        rule = sup.add_rule(s, *args, now=NOW, **kw)
        s.commit()
        assert rule.id is not None
        return rule.id


def test_rule_by_tenant_type_and_glob_is_applied_retroactively_and_idempotently(db: str) -> None:
    acme = add_tenant(db, "acme")
    beta = add_tenant(db, "beta")
    hit = add_finding(db, acme, "gpt_custom_actions", "g-sales-1")
    other_type = add_finding(db, acme, "gpt_web_browsing", "g-sales-2")
    other_glob = add_finding(db, acme, "gpt_custom_actions", "g-hr-1")
    other_tenant = add_finding(db, beta, "gpt_custom_actions", "g-sales-1")
    resolved = add_finding(
        db, acme, "gpt_custom_actions", "g-sales-9", status="resolved", resolved_at=T0
    )

    rule_id = _rule(
        db,
        "acme",
        "gpt_custom_actions",
        "g-sales-*",
        "approved vendor",
        NOW + timedelta(days=30),
        "alice",
    )
    assert _apply(db, acme) == 1
    assert _apply(db, acme) == 0  # idempotent
    assert _apply(db, beta) == 0

    f = get_finding(db, hit)
    assert (f.status, f.ignored_reason, f.suppression_id) == ("ignored", "approved vendor", rule_id)
    assert f.ignored_until == NOW + timedelta(days=30)
    for fid in (other_type, other_glob, other_tenant):
        assert get_finding(db, fid).status == "open"
    assert get_finding(db, resolved).status == "resolved"

    # A finding that appears later is caught by the next apply (pipeline hook).
    late = add_finding(db, acme, "gpt_custom_actions", "g-sales-3")
    assert _apply(db, acme) == 1
    assert get_finding(db, late).suppression_id == rule_id


def test_fleet_wide_name_rule_matches_resource_name_case_insensitively(db: str) -> None:
    acme = add_tenant(db, "acme")
    beta = add_tenant(db, "beta")
    a = add_finding(db, acme, "inactive_user", "user-1", resource_name="Bob@Contractor.com")
    b = add_finding(db, beta, "inactive_user", "user-2", resource_name="eve@contractor.com")
    c = add_finding(db, beta, "inactive_user", "user-3", resource_name="carol@acme.com")
    _rule(
        db,
        None,
        BY_KEY["inactive_user"].finding_type_id,
        "*",
        "contractors rotate",
        name_pattern="*@contractor.com",
    )
    with Session(get_engine(db)) as s:
        assert sup.apply_all(s, NOW) == 2
        s.commit()
    assert [get_finding(db, i).status for i in (a, b, c)] == ["ignored", "ignored", "open"]


def test_a_resource_glob_never_matches_names_users_choose(db: str) -> None:
    """A GPT author names their GPT like the ids an operator suppressed: still open."""
    acme = add_tenant(db, "acme")
    approved = add_finding(db, acme, "gpt_custom_actions", "g-approved-1", resource_name="Sales")
    sneaky = add_finding(
        db, acme, "gpt_custom_actions", "g-7f3a9c", resource_name="g-approved-exfiltrator"
    )
    _rule(db, "acme", "gpt_custom_actions", "g-approved-*", "vetted vendor GPTs")
    assert _apply(db, acme) == 1
    assert get_finding(db, approved).status == "ignored"
    assert get_finding(db, sneaky).status == "open"


def test_resource_and_name_globs_must_both_match(db: str) -> None:
    acme = add_tenant(db, "acme")
    both = add_finding(db, acme, "gpt_custom_actions", "g-sales-1", resource_name="CRM helper")
    id_only = add_finding(db, acme, "gpt_custom_actions", "g-sales-2", resource_name="other")
    _rule(db, "acme", None, "g-sales-*", "crm", name_pattern="crm *")
    assert _apply(db, acme) == 1
    assert get_finding(db, both).status == "ignored"
    assert get_finding(db, id_only).status == "open"


def test_expiry_releases_to_open_when_still_seen_else_resolved(db: str) -> None:
    acme = add_tenant(db, "acme")
    add_scan(db, acme, T0 + timedelta(days=10))  # latest successful scan started here
    seen = add_finding(
        db, acme, "stale_pending_invite", "invite-1", last_seen=T0 + timedelta(days=10, minutes=1)
    )
    gone = add_finding(
        db, acme, "stale_pending_invite", "invite-2", last_seen=T0 + timedelta(days=5)
    )
    _rule(
        db, "acme", "stale_pending_invite", "invite-*", "onboarding wave", NOW + timedelta(days=7)
    )
    assert _apply(db, acme) == 2

    later = NOW + timedelta(days=8)
    assert _apply(db, acme, later) == 2
    f_seen, f_gone = get_finding(db, seen), get_finding(db, gone)
    assert (
        f_seen.status == "open" and f_seen.ignored_reason is None and f_seen.suppression_id is None
    )
    assert f_gone.status == "resolved" and f_gone.resolved_at == later
    # The expired rule does not ignore it again.
    assert _apply(db, acme, later + timedelta(minutes=1)) == 0


def test_ignore_one_finding_with_expiry_and_unignore(db: str) -> None:
    acme = add_tenant(db, "acme")
    fid = add_finding(db, acme, "admin_key_unused", "key_abc")
    with Session(get_engine(db)) as s:
        sup.ignore_finding(s, fid, "break-glass key", NOW + timedelta(days=1), now=NOW)
        s.commit()
    f = get_finding(db, fid)
    assert (f.status, f.ignored_reason, f.suppression_id) == ("ignored", "break-glass key", None)
    assert _apply(db, acme) == 0  # not expired yet
    with Session(get_engine(db)) as s:
        sup.unignore_finding(s, fid, now=NOW)
        s.commit()
    assert get_finding(db, fid).status == "open"  # no successful scan yet: never hidden by guess


def test_unignore_refuses_a_rule_held_finding_and_remove_rule_releases(db: str) -> None:
    acme = add_tenant(db, "acme")
    fid = add_finding(db, acme, "gpt_public_link", "g-1")
    rule_id = _rule(db, "acme", None, "g-1", "public by design")
    _apply(db, acme)
    with (
        Session(get_engine(db)) as s,
        pytest.raises(sup.SuppressionError, match=f"suppress remove {rule_id}"),
    ):
        sup.unignore_finding(s, fid, now=NOW)
    with Session(get_engine(db)) as s:
        assert sup.remove_rule(s, rule_id, now=NOW) == 1
        s.commit()
    assert get_finding(db, fid).status == "open"
    with Session(get_engine(db)) as s:
        assert sup.list_rules(s, include_expired=True) == []


def test_bad_input_is_refused_before_writing(db: str) -> None:
    add_tenant(db, "acme")
    cases = [
        (("nope", None, "*", "r"), "unknown tenant 'nope'"),
        (("acme", "no_such_type", "*", "r"), "unknown finding type"),
        (("acme", None, "*", "  "), "a reason is required"),
        ((None, None, "*", "everything"), "every finding of every tenant"),
    ]
    with Session(get_engine(db)) as s:
        for args, message in cases:
            with pytest.raises(sup.SuppressionError, match=message):
                sup.add_rule(s, *args, now=NOW)
        with pytest.raises(sup.SuppressionError, match="already past"):
            sup.add_rule(s, "acme", None, "g-*", "r", NOW - timedelta(days=1), now=NOW)
        with pytest.raises(sup.SuppressionError, match="no finding 999"):
            sup.ignore_finding(s, 999, "r", now=NOW)
        assert sup.list_rules(s, include_expired=True) == []
