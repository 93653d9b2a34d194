"""GPT with Code Interpreter enabled."""

from __future__ import annotations

from collections.abc import Iterator

from detectors._gpt import GPT_EVIDENCE, gpt_evidence
from detectors.base import Detector, finding
from schemas.catalog import BY_KEY
from schemas.findings import DetectedFinding, Thresholds
from schemas.snapshot import PostureSnapshot

FINDING_TYPE = BY_KEY["gpt_code_interpreter"]
TOOL_TYPE = "code_interpreter"


def rule(snapshot: PostureSnapshot, thresholds: Thresholds) -> Iterator[DetectedFinding]:
    """A GPT whose latest configuration has a tool of type `code_interpreter`
    (spellings `code-interpreter` and `python` count too)."""
    for gpt in snapshot.gpts or ():
        if TOOL_TYPE in gpt.tool_types:
            yield finding(FINDING_TYPE, gpt.id, gpt.name, gpt_evidence(gpt))


DETECTOR = Detector(
    finding_type=FINDING_TYPE,
    needs=("gpts",),
    rule=rule,
    evidence_fields=GPT_EVIDENCE,
)
