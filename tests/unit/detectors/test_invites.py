"""High-privilege and stale pending invites."""

from __future__ import annotations

import pytest

from detectors import high_privilege_invite, stale_pending_invite
from schemas.catalog import BY_KEY
from schemas.findings import Thresholds
from tests.unit.detectors.factories import DAY, DEFAULTS, invite, snapshot


def run(detector, invites, thresholds: Thresholds = DEFAULTS) -> list[str]:
    found = detector.DETECTOR.detect(snapshot(invites=invites), thresholds)
    return [f.resource_id for f in found]


# --------------------------------------------------------------------------- high privilege


def test_pending_org_owner_invite_fires_with_evidence() -> None:
    inv = invite(
        "invite-own", role="owner", sent_days=3, projects=[{"id": "proj_a", "role": "member"}]
    )
    [f] = high_privilege_invite.DETECTOR.detect(snapshot(invites=[inv]), DEFAULTS)
    assert f.finding_type is BY_KEY["high_privilege_invite"]
    assert (f.resource_id, f.resource_name) == ("invite-own", "invite-own@example.com")
    ev = f.evidence
    assert ev["email"] == "invite-own@example.com"
    assert ev["org_role"] == "owner"
    assert ev["org_owner"] is True
    assert ev["owner_projects"] == []
    assert ev["project_roles"] == [{"project_id": "proj_a", "role": "member"}]
    assert ev["age_days"] == 3.0
    assert ev["sent_at"].endswith("Z") and ev["expires_at"].endswith("Z")


def test_pending_project_owner_invite_fires() -> None:
    inv = invite(
        "invite-powner",
        role="reader",
        projects=[{"id": "proj_a", "role": "member"}, {"id": "proj_b", "role": "owner"}],
    )
    [f] = high_privilege_invite.DETECTOR.detect(snapshot(invites=[inv]), DEFAULTS)
    assert f.evidence["org_owner"] is False
    assert f.evidence["owner_projects"] == ["proj_b"]


def test_high_privilege_silent_for_readers_members_and_non_pending() -> None:
    invites = [
        invite("invite-reader", role="reader", projects=[{"id": "p", "role": "member"}]),
        invite("invite-accepted", role="owner", status="accepted"),
        invite("invite-expired", role="owner", status="expired"),
        invite("invite-proj-accepted", status="accepted", projects=[{"id": "p", "role": "owner"}]),
    ]
    assert run(high_privilege_invite, invites) == []


def test_high_privilege_with_legacy_invited_at() -> None:
    inv = invite("invite-old-api", role="owner", sent_days=2, legacy_invited_at=True)
    [f] = high_privilege_invite.DETECTOR.detect(snapshot(invites=[inv]), DEFAULTS)
    assert f.evidence["sent_at"] is not None and f.evidence["age_days"] == 2.0


# --------------------------------------------------------------------------- stale


@pytest.mark.parametrize(
    ("sent_days", "fires"), [(13, False), (14, False), (14 + 1 / DAY, True), (15, True)]
)
def test_stale_invite_age_boundary(sent_days: float, fires: bool) -> None:
    inv = invite("invite-s", sent_days=sent_days, expires_in_days=30)
    assert run(stale_pending_invite, [inv]) == (["invite-s"] if fires else [])


@pytest.mark.parametrize(("sent_days", "fires"), [(13, False), (15, True)])
def test_stale_invite_age_from_invited_at_only(sent_days: float, fires: bool) -> None:
    inv = invite("invite-l", sent_days=sent_days, expires_in_days=None, legacy_invited_at=True)
    assert inv.created_at is None
    assert run(stale_pending_invite, [inv]) == (["invite-l"] if fires else [])


@pytest.mark.parametrize(
    ("expires_in_days", "fires"),
    [(-1, True), (-1 / DAY, True), (0, False), (1 / DAY, False), (5, False), (None, False)],
)
def test_stale_invite_expiry(expires_in_days: float | None, fires: bool) -> None:
    """Young invite: only a passed expires_at makes it stale (at expiry itself: not yet)."""
    inv = invite("invite-e", sent_days=1, expires_in_days=expires_in_days)
    assert run(stale_pending_invite, [inv]) == (["invite-e"] if fires else [])


def test_stale_invite_evidence_reasons() -> None:
    both = invite("invite-both", sent_days=40, expires_in_days=-10)
    aged = invite("invite-aged", sent_days=40, expires_in_days=10)
    expired = invite("invite-exp", sent_days=2, expires_in_days=-1)
    found = {
        f.resource_id: f
        for f in stale_pending_invite.DETECTOR.detect(
            snapshot(invites=[both, aged, expired]), DEFAULTS
        )
    }
    assert found["invite-both"].evidence["reasons"] == ["age", "expired"]
    assert found["invite-aged"].evidence["reasons"] == ["age"]
    assert found["invite-exp"].evidence["reasons"] == ["expired"]
    assert found["invite-aged"].evidence["threshold_days"] == 14
    assert found["invite-aged"].evidence["age_days"] == 40.0
    assert found["invite-aged"].finding_type is BY_KEY["stale_pending_invite"]


def test_stale_invite_silent_when_not_pending() -> None:
    invites = [
        invite("invite-acc", status="accepted", sent_days=100, expires_in_days=-50),
        invite("invite-exp", status="expired", sent_days=100, expires_in_days=-50),
    ]
    assert run(stale_pending_invite, invites) == []


def test_stale_invite_custom_threshold() -> None:
    invites = [invite("invite-6", sent_days=6), invite("invite-8", sent_days=8)]
    assert run(stale_pending_invite, invites, Thresholds(stale_invite_days=7)) == ["invite-8"]
    assert run(stale_pending_invite, invites) == []
