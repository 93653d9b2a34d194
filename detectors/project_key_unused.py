"""Project API key not used within unused_key_days."""

from __future__ import annotations

from collections.abc import Iterator

from detectors._keys import PROJECT_EXTRA, UNUSED_EVIDENCE, is_unused, unused_evidence
from detectors.base import Detector, finding
from schemas.catalog import BY_KEY
from schemas.findings import DetectedFinding, Thresholds
from schemas.snapshot import PostureSnapshot

FINDING_TYPE = BY_KEY["project_key_unused"]


def rule(snapshot: PostureSnapshot, thresholds: Thresholds) -> Iterator[DetectedFinding]:
    """A project API key (any project, archived ones included; user- and service-account-owned)
    whose `last_used_at` is strictly more than `unused_key_days` days before the scan, or that
    was never used (`last_used_at` null) and was created more than `unused_key_days` days before
    the scan."""
    now, days = snapshot.now, thresholds.unused_key_days
    for key in snapshot.project_keys or ():
        if is_unused(now, key.created_at, key.last_used_at, days):
            yield finding(FINDING_TYPE, key.id, key.name, unused_evidence(now, key, days))


DETECTOR = Detector(
    finding_type=FINDING_TYPE,
    needs=("project_keys",),
    rule=rule,
    evidence_fields=(*UNUSED_EVIDENCE, *PROJECT_EXTRA),
    thresholds=("unused_key_days",),
)
