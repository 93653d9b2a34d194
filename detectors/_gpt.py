"""Shared pieces of the five GPT detectors: one evidence shape, one visibility reading, one
loop over the snapshot's GPTs and one detector shape.

The Compliance API lists every live workspace GPT whatever its sharing; the tool list is
the one of ``latest_config.data[0]`` (already normalised by `schemas.openai.Gpt`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from detectors.base import Detector, Rule, finding
from schemas.catalog import FindingType
from schemas.findings import DetectedFinding
from schemas.openai import Gpt
from schemas.snapshot import PostureSnapshot

#: Evidence keys every GPT finding carries (custom actions add ``actions``).
GPT_EVIDENCE: tuple[str, ...] = (
    "gpt_name",
    "owner_email",
    "owner_id",
    "builder_name",
    "visibility",
    "tool_types",
)


def visibility(gpt: Gpt) -> str | None:
    """Sharing visibility, lower-cased with ``_`` read as ``-`` (``gpt_store`` = ``gpt-store``)."""
    raw = gpt.visibility
    return raw.strip().lower().replace("_", "-") if raw else None


def gpt_evidence(gpt: Gpt) -> dict[str, Any]:
    """What an operator needs to find the GPT and judge it; never instructions or files."""
    return {
        "gpt_name": gpt.name,
        "owner_email": gpt.owner_email,
        "owner_id": gpt.owner_id,
        "builder_name": gpt.builder_name,
        "visibility": visibility(gpt),
        "tool_types": sorted(gpt.tool_types),
    }


def gpt_findings(
    finding_type: FindingType, snapshot: PostureSnapshot, matches: Callable[[Gpt], bool]
) -> Iterator[DetectedFinding]:
    """A finding with the common GPT evidence for every GPT ``matches`` accepts."""
    for gpt in snapshot.gpts or ():
        if matches(gpt):
            yield finding(finding_type, gpt.id, gpt.name, gpt_evidence(gpt))


def gpt_detector(finding_type: FindingType, rule: Rule, extra: tuple[str, ...] = ()) -> Detector:
    """A GPT detector: it needs the ``gpts`` part; its evidence is the common one plus ``extra``."""
    return Detector(
        finding_type=finding_type,
        needs=("gpts",),
        rule=rule,
        evidence_fields=(*GPT_EVIDENCE, *extra),
    )
