"""GPT publicly accessible via the GPT Store."""

from __future__ import annotations

from collections.abc import Iterator

from detectors._gpt import GPT_EVIDENCE, gpt_evidence, visibility
from detectors.base import Detector, finding
from schemas.catalog import BY_KEY
from schemas.findings import DetectedFinding, Thresholds
from schemas.snapshot import PostureSnapshot

FINDING_TYPE = BY_KEY["gpt_public_store"]
VISIBILITY = "gpt-store"


def rule(snapshot: PostureSnapshot, thresholds: Thresholds) -> Iterator[DetectedFinding]:
    """A GPT whose `sharing.visibility` is `gpt-store`. The internal visibilities
    (`workspace`, `workspace-with-link`, `invite-only`) never count."""
    for gpt in snapshot.gpts or ():
        if visibility(gpt) == VISIBILITY:
            yield finding(FINDING_TYPE, gpt.id, gpt.name, gpt_evidence(gpt))


DETECTOR = Detector(
    finding_type=FINDING_TYPE,
    needs=("gpts",),
    rule=rule,
    evidence_fields=GPT_EVIDENCE,
)
