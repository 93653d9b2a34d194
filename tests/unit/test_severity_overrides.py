"""Validation of per-tenant severity overrides and the severity they give (no servers)."""

from __future__ import annotations

import pytest

from schemas.catalog import BY_KEY, Severity
from schemas.tables import Tenant
from store.tenants import (
    TenantInputError,
    effective_severity,
    parse_severity_pairs,
    severity_overrides_by_key,
    validate_severity_overrides,
)

INVITE = BY_KEY["stale_pending_invite"]
GPT = BY_KEY["gpt_custom_actions"]


def test_pairs_parse_and_reject_bad_syntax() -> None:
    assert parse_severity_pairs([" inactive_user = high ", "gpt_public_link=LOW"]) == {
        "inactive_user": "high",
        "gpt_public_link": "LOW",
    }
    for bad in ("inactive_user", "=high", "inactive_user=", "inactive_user high"):
        with pytest.raises(TenantInputError, match="TYPE=SEVERITY"):
            parse_severity_pairs([bad])


def test_keys_and_ids_validate_to_ids_with_normalised_severity() -> None:
    got = validate_severity_overrides(
        {"stale_pending_invite": "Critical", GPT.finding_type_id: " low "}
    )
    assert got == {INVITE.finding_type_id: "critical", GPT.finding_type_id: "low"}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"no_such_type": "high"}, "unknown finding type 'no_such_type'"),
        ({"inactive_user": "urgent"}, "bad severity for inactive_user"),
        ({"inactive_user": 3}, "bad severity for inactive_user"),
        ({"inactive_user": "high", BY_KEY["inactive_user"].finding_type_id: "low"}, "two"),
    ],
)
def test_unknown_type_or_severity_is_refused(values: dict[str, object], message: str) -> None:
    with pytest.raises(TenantInputError, match=message):
        validate_severity_overrides(values)


def test_effective_severity_prefers_the_override_then_the_catalog() -> None:
    tenant = Tenant(slug="t", name="t", admin_key_enc="x")
    tenant.severity_overrides = {INVITE.finding_type_id: "critical", GPT.finding_type_id: "bogus"}
    assert effective_severity(tenant, INVITE) is Severity.CRITICAL
    assert effective_severity(tenant, GPT) is GPT.severity  # unreadable value: default
    assert effective_severity(tenant, BY_KEY["inactive_user"]) is Severity.MEDIUM
    assert effective_severity(None, INVITE) is Severity.LOW
    assert severity_overrides_by_key(tenant) == {
        "gpt_custom_actions": "bogus",
        "stale_pending_invite": "critical",
    }
