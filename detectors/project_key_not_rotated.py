"""Project API key not rotated within key_rotation_days."""

from __future__ import annotations

from collections.abc import Iterator

from detectors._keys import PROJECT_EXTRA, ROTATION_EVIDENCE, rotation_evidence
from detectors.base import Detector, finding, older_than
from schemas.catalog import BY_KEY
from schemas.findings import DetectedFinding, Thresholds
from schemas.snapshot import PostureSnapshot

FINDING_TYPE = BY_KEY["project_key_not_rotated"]


def rule(snapshot: PostureSnapshot, thresholds: Thresholds) -> Iterator[DetectedFinding]:
    """A project API key (any project, archived ones included; user- and service-account-owned)
    whose `created_at` is strictly more than `key_rotation_days` days before the scan (age >
    threshold: at 90 days exactly it is not yet flagged). A key without `created_at` cannot be
    aged and is not flagged."""
    now, days = snapshot.now, thresholds.key_rotation_days
    for key in snapshot.project_keys or ():
        if older_than(now, key.created_at, days):
            yield finding(FINDING_TYPE, key.id, key.name, rotation_evidence(now, key, days))


DETECTOR = Detector(
    finding_type=FINDING_TYPE,
    needs=("project_keys",),
    rule=rule,
    evidence_fields=(*ROTATION_EVIDENCE, *PROJECT_EXTRA),
    thresholds=("key_rotation_days",),
)
