"""Project API key whose owner lost project access (an extension beyond the seed catalogue).

The Admin API lists a project's keys with ``owner_project_access=any``; a key whose owner
was removed from the project (or lost it through a group) stays listed and usable, marked
``inactive``. Nobody accountable holds such a key, so it is flagged whatever its age or use.
"""

from __future__ import annotations

from collections.abc import Iterator

from detectors._keys import PROJECT_EXTRA, ROTATION_EVIDENCE, rotation_evidence
from detectors.base import Detector, finding
from schemas.catalog import BY_KEY
from schemas.findings import DetectedFinding, Thresholds
from schemas.snapshot import PostureSnapshot

FINDING_TYPE = BY_KEY["project_key_orphaned"]


def rule(snapshot: PostureSnapshot, thresholds: Thresholds) -> Iterator[DetectedFinding]:
    """A project API key (any project, archived ones included; user- or service-account-owned)
    whose `owner_project_access` is `inactive`: its owner no longer has access to the project
    while the key is still listed. Keys without the field (older API versions) are not
    flagged."""
    for key in snapshot.project_keys or ():
        if (key.owner_project_access or "").lower() == "inactive":
            evidence = rotation_evidence(snapshot.now, key, thresholds.key_rotation_days)
            evidence.pop("threshold_days", None)
            yield finding(FINDING_TYPE, key.id, key.name, evidence)


DETECTOR = Detector(
    finding_type=FINDING_TYPE,
    needs=("project_keys",),
    rule=rule,
    evidence_fields=(
        *(f for f in ROTATION_EVIDENCE if f != "threshold_days"),
        *PROJECT_EXTRA,
    ),
)
