"""GPT with Custom Actions enabled: a GPT that can send conversation content to an outside API."""

from __future__ import annotations

from collections.abc import Iterator

from detectors._gpt import gpt_detector, gpt_evidence
from detectors.base import compact, finding
from schemas.catalog import BY_KEY
from schemas.findings import DetectedFinding, Thresholds
from schemas.snapshot import PostureSnapshot

FINDING_TYPE = BY_KEY["gpt_custom_actions"]


def rule(snapshot: PostureSnapshot, thresholds: Thresholds) -> Iterator[DetectedFinding]:
    """A GPT whose latest configuration has at least one tool of type `custom_action`
    (spellings `custom-action`, `action`, `actions` count too). Evidence lists each
    action's domain, auth type and privacy-policy URL."""
    for gpt in snapshot.gpts or ():
        if gpt.config is None:
            continue
        actions = [t for t in gpt.config.tools if t.type == "custom_action"]
        if not actions:
            continue
        evidence = gpt_evidence(gpt)
        evidence["action_domains"] = sorted({a.action_domain for a in actions if a.action_domain})
        evidence["actions"] = [
            compact(
                {
                    "domain": a.action_domain,
                    "auth_type": a.auth_type,
                    "privacy_policy_url": a.action_privacy_policy_url,
                }
            )
            for a in actions
        ]
        yield finding(FINDING_TYPE, gpt.id, gpt.name, evidence)


DETECTOR = gpt_detector(FINDING_TYPE, rule, ("action_domains", "actions"))
