"""GPT publicly accessible to anyone holding its link."""

from __future__ import annotations

from collections.abc import Iterator

from detectors._gpt import gpt_detector, gpt_findings, visibility
from schemas.catalog import BY_KEY
from schemas.findings import DetectedFinding, Thresholds
from schemas.snapshot import PostureSnapshot

FINDING_TYPE = BY_KEY["gpt_public_link"]
VISIBILITY = "anyone-with-link"


def rule(snapshot: PostureSnapshot, thresholds: Thresholds) -> Iterator[DetectedFinding]:
    """A GPT whose `sharing.visibility` is `anyone-with-link`. The internal visibilities
    (`workspace`, `workspace-with-link`, `invite-only`) never count."""
    return gpt_findings(FINDING_TYPE, snapshot, lambda gpt: visibility(gpt) == VISIBILITY)


DETECTOR = gpt_detector(FINDING_TYPE, rule)
