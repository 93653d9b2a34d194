"""Shared pieces of the four API-key detectors: evidence shapes and the unused-key rule.

Evidence identifies a key the way the OpenAI dashboard shows it (name, redacted value,
owner, project) so an operator can find it; the secret itself is never in a snapshot,
and `mask_redacted` guards against a response that would put it in ``redacted_value``.
"""

from __future__ import annotations

from typing import Any

from detectors.base import age_days, compact, iso, mask_redacted, older_than
from schemas.openai import AdminApiKey, ProjectApiKey

ROTATION_EVIDENCE: tuple[str, ...] = (
    "key_name",
    "redacted_value",
    "owner",
    "created_at",
    "age_days",
    "last_used_at",
    "threshold_days",
)
UNUSED_EVIDENCE: tuple[str, ...] = (
    "key_name",
    "redacted_value",
    "owner",
    "created_at",
    "age_days",
    "last_used_at",
    "days_since_last_use",
    "never_used",
    "threshold_days",
)
#: Admin keys may carry an expiry (OAS26); project keys add where they live.
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
