"""Shared pieces of the two invite detectors: what "pending" means and the evidence shape."""

from __future__ import annotations

from typing import Any

from detectors.base import age_days, iso
from schemas.openai import Invite

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
