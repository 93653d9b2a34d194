"""Stale pending invite: an invitation nobody accepted, still usable or just clutter."""

from __future__ import annotations

from collections.abc import Iterator

from detectors._invites import invite_detector, invite_evidence, pending_invites
from detectors.base import finding, older_than
from schemas.catalog import BY_KEY
from schemas.findings import DetectedFinding, Thresholds
from schemas.snapshot import PostureSnapshot

FINDING_TYPE = BY_KEY["stale_pending_invite"]


def rule(snapshot: PostureSnapshot, thresholds: Thresholds) -> Iterator[DetectedFinding]:
    """A pending invite (`status` `pending`) sent strictly more than `stale_invite_days` days
    before the scan (sent = `created_at`, or `invited_at` on older API versions), or whose
    `expires_at` is before the scan time. Evidence `reasons` says which held: `age`,
    `expired`, or both."""
    now, days = snapshot.now, thresholds.stale_invite_days
    for invite in pending_invites(snapshot):
        reasons = []
        if older_than(now, invite.sent_at, days):
            reasons.append("age")
        if invite.expires_at is not None and invite.expires_at < now:
            reasons.append("expired")
        if reasons:
            evidence = invite_evidence(now, invite)
            evidence["reasons"] = reasons
            evidence["threshold_days"] = days
            yield finding(FINDING_TYPE, invite.id, invite.email, evidence)


DETECTOR = invite_detector(
    FINDING_TYPE, rule, ("reasons", "threshold_days"), thresholds=("stale_invite_days",)
)
