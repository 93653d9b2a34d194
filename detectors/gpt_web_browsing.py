"""GPT with web browsing enabled."""

from __future__ import annotations

from collections.abc import Iterator

from detectors._gpt import gpt_detector, gpt_findings
from schemas.catalog import BY_KEY
from schemas.findings import DetectedFinding, Thresholds
from schemas.snapshot import PostureSnapshot

FINDING_TYPE = BY_KEY["gpt_web_browsing"]
TOOL_TYPE = "browser"


def rule(snapshot: PostureSnapshot, thresholds: Thresholds) -> Iterator[DetectedFinding]:
    """A GPT whose latest configuration has a tool of type `browser` (spellings
    `web_browsing`, `web-browsing` and `web_search` count too)."""
    return gpt_findings(FINDING_TYPE, snapshot, lambda gpt: TOOL_TYPE in gpt.tool_types)


DETECTOR = gpt_detector(FINDING_TYPE, rule)
