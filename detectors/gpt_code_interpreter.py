"""GPT with Code Interpreter enabled."""

from __future__ import annotations

from collections.abc import Iterator

from detectors._gpt import gpt_detector, gpt_findings
from schemas.catalog import BY_KEY
from schemas.findings import DetectedFinding, Thresholds
from schemas.snapshot import PostureSnapshot

FINDING_TYPE = BY_KEY["gpt_code_interpreter"]
TOOL_TYPE = "code_interpreter"


def rule(snapshot: PostureSnapshot, thresholds: Thresholds) -> Iterator[DetectedFinding]:
    """A GPT whose latest configuration has a tool of type `code_interpreter`
    (spellings `code-interpreter` and `python` count too)."""
    return gpt_findings(FINDING_TYPE, snapshot, lambda gpt: TOOL_TYPE in gpt.tool_types)


DETECTOR = gpt_detector(FINDING_TYPE, rule)
