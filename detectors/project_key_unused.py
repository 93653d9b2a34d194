"""Project API key not used within unused_key_days."""

from __future__ import annotations

from collections.abc import Iterator

from detectors._keys import key_detector, unused_findings
from schemas.catalog import BY_KEY
from schemas.findings import DetectedFinding, Thresholds
from schemas.snapshot import PostureSnapshot

FINDING_TYPE = BY_KEY["project_key_unused"]


def rule(snapshot: PostureSnapshot, thresholds: Thresholds) -> Iterator[DetectedFinding]:
    """A project API key (any project, archived ones included; user- and service-account-owned)
    whose `last_used_at` is strictly more than `unused_key_days` days before the scan, or that
    was never used (`last_used_at` null) and was created more than `unused_key_days` days before
    the scan."""
    return unused_findings(
        FINDING_TYPE, snapshot.project_keys, snapshot.now, thresholds.unused_key_days
    )


DETECTOR = key_detector(FINDING_TYPE, rule, part="project_keys", threshold="unused_key_days")
