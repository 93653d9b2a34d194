"""Shared pieces of the five GPT detectors: one evidence shape, one visibility reading.

The Compliance API lists every live workspace GPT whatever its sharing; the tool list is
the one of ``latest_config.data[0]`` (already normalised by `schemas.openai.Gpt`).
"""

from __future__ import annotations

from typing import Any

from schemas.openai import Gpt

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
