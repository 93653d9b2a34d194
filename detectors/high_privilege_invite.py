"""High-privilege invite: someone can still accept ownership of the organization or a project."""

from __future__ import annotations

from collections.abc import Iterator

from detectors._invites import invite_detector, invite_evidence, pending_invites, role_of
from detectors.base import finding
from schemas.catalog import BY_KEY
from schemas.findings import DetectedFinding, Thresholds
from schemas.snapshot import PostureSnapshot

FINDING_TYPE = BY_KEY["high_privilege_invite"]
OWNER = "owner"


def rule(snapshot: PostureSnapshot, thresholds: Thresholds) -> Iterator[DetectedFinding]:
    """A pending invite (`status` `pending`) whose organization role is `owner`, or that makes
    the invitee `owner` of any project (`projects[].role`). Accepted and expired invites do not
    count. Evidence names the owner scopes: `org_owner` and `owner_projects`."""
    for invite in pending_invites(snapshot):
        org_owner = role_of(invite.role) == OWNER
        owner_projects = [p.id for p in invite.projects if role_of(p.role) == OWNER]
        if org_owner or owner_projects:
            evidence = invite_evidence(snapshot.now, invite)
            evidence["org_owner"] = org_owner
            evidence["owner_projects"] = owner_projects
            yield finding(FINDING_TYPE, invite.id, invite.email, evidence)


DETECTOR = invite_detector(FINDING_TYPE, rule, ("org_owner", "owner_projects"))
