"""Admin API key not rotated within key_rotation_days."""

from __future__ import annotations

from collections.abc import Iterator

from detectors._keys import key_detector, rotation_findings
from schemas.catalog import BY_KEY
from schemas.findings import DetectedFinding, Thresholds
from schemas.snapshot import PostureSnapshot

FINDING_TYPE = BY_KEY["admin_key_not_rotated"]


def rule(snapshot: PostureSnapshot, thresholds: Thresholds) -> Iterator[DetectedFinding]:
    """An organization Admin API key whose `created_at` is strictly more than
    `key_rotation_days` days before the scan (age > threshold: at 90 days exactly it is not yet
    flagged). A key without `created_at` cannot be aged and is not flagged."""
    return rotation_findings(
        FINDING_TYPE, snapshot.admin_keys, snapshot.now, thresholds.key_rotation_days
    )


DETECTOR = key_detector(FINDING_TYPE, rule, part="admin_keys", threshold="key_rotation_days")
