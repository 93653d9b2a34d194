"""Shared pieces of the four API-key detectors: evidence shapes, the rotation and unused-key
rules over a list of keys, and the detector shape.

Evidence identifies a key the way the OpenAI dashboard shows it (name, redacted value,
owner, project) so an operator can find it; the secret itself is never in a snapshot,
and `mask_redacted` guards against a response that would put it in ``redacted_value``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Literal

from detectors.base import (
    Detector,
    Rule,
    age_days,
    compact,
    finding,
    iso,
    mask_redacted,
    older_than,
)
from schemas.catalog import FindingType
from schemas.findings import DetectedFinding
from schemas.openai import AdminApiKey, ProjectApiKey

Key = AdminApiKey | ProjectApiKey

#: What every key finding says of the key (the two rules add their own fields).
KEY_EVIDENCE: tuple[str, ...] = (
    "key_name",
    "redacted_value",
    "owner",
    "created_at",
    "age_days",
    "last_used_at",
)
ROTATION_EVIDENCE: tuple[str, ...] = (*KEY_EVIDENCE, "threshold_days")
UNUSED_EVIDENCE: tuple[str, ...] = (
    *KEY_EVIDENCE,
    "days_since_last_use",
    "never_used",
    "threshold_days",
)
#: Admin keys may carry an expiry (newer API versions); project keys add where they live.
ADMIN_EXTRA: tuple[str, ...] = ("expires_at",)
PROJECT_EXTRA: tuple[str, ...] = ("project", "owner_project_access")


def is_unused(now: float, created_at: float | None, last_used_at: float | None, days: int) -> bool:
    """Last use strictly more than ``days`` ago, or never used and created more than that ago."""
    if last_used_at is not None:
        return older_than(now, last_used_at, days)
    return older_than(now, created_at, days)


def admin_owner(key: AdminApiKey) -> dict[str, Any]:
    owner = key.owner
    if owner is None:
        return {}
    return compact(
        {
            "type": owner.type,
            "id": owner.id,
            "name": owner.name,
            "email": owner.email,
            "role": owner.role,
        }
    )


def project_owner(key: ProjectApiKey) -> dict[str, Any]:
    owner = key.owner
    if owner is None:
        return {}
    principal = owner.principal
    fields: dict[str, Any] = {"type": owner.type}
    if principal is not None:
        fields |= {
            "id": principal.id,
            "name": principal.name,
            "email": principal.email,
            "role": principal.role,
        }
    return compact(fields)


def _common(
    now: float, key: AdminApiKey | ProjectApiKey, owner: dict[str, Any], threshold: int
) -> dict[str, Any]:
    return {
        "key_name": key.name,
        "redacted_value": mask_redacted(key.redacted_value),
        "owner": owner,
        "created_at": iso(key.created_at),
        "age_days": age_days(now, key.created_at),
        "last_used_at": iso(key.last_used_at),
        "threshold_days": threshold,
    }


def _extra(key: AdminApiKey | ProjectApiKey) -> dict[str, Any]:
    if isinstance(key, ProjectApiKey):
        return {
            "project": compact(
                {"id": key.project_id, "name": key.project_name, "archived": key.project_archived}
            ),
            "owner_project_access": key.owner_project_access,
        }
    return {"expires_at": iso(key.expires_at)}


def _owner(key: AdminApiKey | ProjectApiKey) -> dict[str, Any]:
    return project_owner(key) if isinstance(key, ProjectApiKey) else admin_owner(key)


def rotation_evidence(
    now: float, key: AdminApiKey | ProjectApiKey, threshold: int
) -> dict[str, Any]:
    """Evidence of a key older than the rotation threshold."""
    return _common(now, key, _owner(key), threshold) | _extra(key)


def unused_evidence(now: float, key: AdminApiKey | ProjectApiKey, threshold: int) -> dict[str, Any]:
    """Evidence of a key not used within the unused-key threshold."""
    return (
        _common(now, key, _owner(key), threshold)
        | _extra(key)
        | {
            "days_since_last_use": age_days(now, key.last_used_at),
            "never_used": key.last_used_at is None,
        }
    )


def rotation_findings(
    finding_type: FindingType, keys: Iterable[Key] | None, now: float, days: int
) -> Iterator[DetectedFinding]:
    """Keys created strictly more than ``days`` days before ``now`` (no ``created_at``: never)."""
    for key in keys or ():
        if older_than(now, key.created_at, days):
            yield finding(finding_type, key.id, key.name, rotation_evidence(now, key, days))


def unused_findings(
    finding_type: FindingType, keys: Iterable[Key] | None, now: float, days: int
) -> Iterator[DetectedFinding]:
    """Keys `is_unused` holds for."""
    for key in keys or ():
        if is_unused(now, key.created_at, key.last_used_at, days):
            yield finding(finding_type, key.id, key.name, unused_evidence(now, key, days))


def key_detector(
    finding_type: FindingType,
    rule: Rule,
    *,
    part: Literal["admin_keys", "project_keys"],
    threshold: Literal["key_rotation_days", "unused_key_days"],
) -> Detector:
    """A key detector over one snapshot part, its evidence fields following from the two."""
    common = ROTATION_EVIDENCE if threshold == "key_rotation_days" else UNUSED_EVIDENCE
    extra = ADMIN_EXTRA if part == "admin_keys" else PROJECT_EXTRA
    return Detector(
        finding_type=finding_type,
        needs=(part,),
        rule=rule,
        evidence_fields=(*common, *extra),
        thresholds=(threshold,),
    )
