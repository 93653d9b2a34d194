"""All posture detectors, and the one function the detect task calls.

`run_posture` is the contract with the finding lifecycle: a finding type lands in
``evaluated`` only when every snapshot part it needs was fetched, so the lifecycle may
resolve that type's open findings that were not seen again. A type in ``skipped`` must
leave its findings untouched (a failed fetch proves nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from detectors import (
    admin_key_not_rotated,
    admin_key_unused,
    gpt_code_interpreter,
    gpt_custom_actions,
    gpt_public_link,
    gpt_public_store,
    gpt_web_browsing,
    high_privilege_invite,
    inactive_user,
    project_key_not_rotated,
    project_key_orphaned,
    project_key_unused,
    stale_pending_invite,
)
from detectors.base import Detector
from schemas.findings import DetectedFinding, Thresholds
from schemas.snapshot import PostureSnapshot

#: The posture detectors, in catalog order (the 12 seed types, then the extensions).
POSTURE_DETECTORS: tuple[Detector, ...] = (
    gpt_custom_actions.DETECTOR,
    gpt_code_interpreter.DETECTOR,
    gpt_web_browsing.DETECTOR,
    gpt_public_store.DETECTOR,
    gpt_public_link.DETECTOR,
    admin_key_not_rotated.DETECTOR,
    project_key_not_rotated.DETECTOR,
    admin_key_unused.DETECTOR,
    project_key_unused.DETECTOR,
    high_privilege_invite.DETECTOR,
    inactive_user.DETECTOR,
    stale_pending_invite.DETECTOR,
    project_key_orphaned.DETECTOR,
)

BY_TYPE_ID: dict[str, Detector] = {d.finding_type_id: d for d in POSTURE_DETECTORS}


@dataclass(slots=True)
class PostureResult:
    """Findings of one posture pass, and which finding types it could judge.

    ``evaluated`` holds finding_type_ids whose detector ran on complete inputs;
    ``skipped`` maps every other posture finding_type_id to a short reason (never data).
    """

    findings: list[DetectedFinding] = field(default_factory=list)
    evaluated: set[str] = field(default_factory=set)
    skipped: dict[str, str] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Findings per finding type key (e.g. ``{"inactive_user": 3}``), for scan summaries."""
        out: dict[str, int] = {}
        for item in self.findings:
            out[item.finding_type.key] = out.get(item.finding_type.key, 0) + 1
        return out

    def summary(self) -> dict[str, object]:
        """A JSON-safe digest for task results and scan-run records: counts, no evidence."""
        return {
            "findings": len(self.findings),
            "counts": dict(sorted(self.counts().items())),
            "evaluated": sorted(self.evaluated),
            "skipped": dict(sorted(self.skipped.items())),
        }


def run_posture(
    snapshot: PostureSnapshot,
    thresholds: Thresholds,
    detectors: Sequence[Detector] = POSTURE_DETECTORS,
) -> PostureResult:
    """Run every detector whose needed snapshot parts are present.

    Findings are unique per (finding_type_id, resource_id): a resource listed twice (a
    page boundary moving during a fetch) yields one finding, the first one seen. A detector
    that raises is reported in ``skipped`` with the exception's type only (its message
    could quote tenant data), so one faulty rule cannot sink the other eleven nor get its
    findings resolved.
    """
    result = PostureResult()
    seen: set[tuple[str, str]] = set()
    for detector in detectors:
        missing = detector.missing(snapshot)
        if missing:
            result.skipped[detector.finding_type_id] = f"fetch failed: {', '.join(missing)}"
            continue
        try:
            found = list(detector.detect(snapshot, thresholds))
        except Exception as exc:
            result.skipped[detector.finding_type_id] = f"detector error: {type(exc).__name__}"
            continue
        result.evaluated.add(detector.finding_type_id)
        for item in found:
            if item.key not in seen:
                seen.add(item.key)
                result.findings.append(item)
    return result
