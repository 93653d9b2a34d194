"""Shared pieces of the two invite detectors: what "pending" means, the evidence shape and
the detector shape."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from detectors.base import Detector, Rule, age_days, iso
from schemas.catalog import FindingType
from schemas.openai import Invite
from schemas.snapshot import PostureSnapshot

INVITE_EVIDENCE: tuple[str, ...] = (
    "email",
    "org_role",
    "project_roles",
    "sent_at",
    "expires_at",
    "age_days",
)


def is_pending(invite: Invite) -> bool:
    """Only ``status == "pending"`` counts: accepted and expired invites grant nothing more."""
    return (invite.status or "").strip().lower() == "pending"


def pending_invites(snapshot: PostureSnapshot) -> Iterator[Invite]:
    """The snapshot's invites that are still pending."""
    return (invite for invite in snapshot.invites or () if is_pending(invite))


def role_of(raw: str | None) -> str | None:
    return raw.strip().lower() if raw else None


def invite_evidence(now: float, invite: Invite) -> dict[str, Any]:
    """Who was invited, to what, and when; ``sent_at`` is ``created_at`` or ``invited_at``."""
    return {
        "email": invite.email,
        "org_role": role_of(invite.role),
        "project_roles": [{"project_id": p.id, "role": role_of(p.role)} for p in invite.projects],
        "sent_at": iso(invite.sent_at),
        "expires_at": iso(invite.expires_at),
        "age_days": age_days(now, invite.sent_at),
    }


def invite_detector(
    finding_type: FindingType,
    rule: Rule,
    extra: tuple[str, ...],
    thresholds: tuple[str, ...] = (),
) -> Detector:
    """An invite detector: it needs ``invites``; evidence is the common one plus ``extra``."""
    return Detector(
        finding_type=finding_type,
        needs=("invites",),
        rule=rule,
        evidence_fields=(*INVITE_EVIDENCE, *extra),
        thresholds=thresholds,
    )
