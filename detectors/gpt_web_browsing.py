"""GPT with web browsing enabled."""

from __future__ import annotations

from collections.abc import Iterator

from detectors._gpt import GPT_EVIDENCE, gpt_evidence
from detectors.base import Detector, finding
from schemas.catalog import BY_KEY
from schemas.findings import DetectedFinding, Thresholds
from schemas.snapshot import PostureSnapshot

FINDING_TYPE = BY_KEY["gpt_web_browsing"]
TOOL_TYPE = "browser"


def rule(snapshot: PostureSnapshot, thresholds: Thresholds) -> Iterator[DetectedFinding]:
    """A GPT whose latest configuration has a tool of type `browser` (spellings
    `web_browsing`, `web-browsing` and `web_search` count too)."""
    for gpt in snapshot.gpts or ():
        if TOOL_TYPE in gpt.tool_types:
            yield finding(FINDING_TYPE, gpt.id, gpt.name, gpt_evidence(gpt))


DETECTOR = Detector(
    finding_type=FINDING_TYPE,
    needs=("gpts",),
    rule=rule,
    evidence_fields=GPT_EVIDENCE,
)
