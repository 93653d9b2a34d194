"""Builders of API-shaped objects for detector tests.

Each builder writes the raw JSON the OpenAI APIs return (ages given in days before NOW)
and parses it through the real drift-tolerant models, so tests exercise the same parsing
the scanner does.
"""

from __future__ import annotations

from typing import Any

from schemas.findings import Thresholds
from schemas.openai import AdminApiKey, AdminUser, AuditLogin, Gpt, Invite, ProjectApiKey
from schemas.snapshot import PostureSnapshot

NOW = 1_790_000_000  # 2026-09-21T...Z, a fixed scan time: detectors never read the clock
DAY = 86_400
DEFAULTS = Thresholds()


def ago(days: float | None) -> int | None:
    """A Unix timestamp ``days`` days before NOW (None stays None)."""
    return None if days is None else int(NOW - days * DAY)


def admin_key(
    key_id: str = "key_admin1",
    *,
    created_days: float | None = 10,
    last_used_days: float | None = 1,
    **extra: Any,
) -> AdminApiKey:
    raw: dict[str, Any] = {
        "object": "organization.admin_api_key",
        "id": key_id,
        "name": f"name of {key_id}",
        "redacted_value": "sk-admin...x1z",
        "created_at": ago(created_days),
        "last_used_at": ago(last_used_days),
        "owner": {
            "type": "user",
            "object": "organization.user",
            "id": "user-owner1",
            "name": "Olga Owner",
            "created_at": ago(400),
            "role": "owner",
        },
    }
    raw.update(extra)
    return AdminApiKey.model_validate(raw)


def project_key(
    key_id: str = "key_proj1",
    *,
    created_days: float | None = 10,
    last_used_days: float | None = 1,
    owner_user: str | None = "user-dev1",
    project_id: str = "proj_a",
    **extra: Any,
) -> ProjectApiKey:
    owner: dict[str, Any]
    if owner_user is not None:
        owner = {
            "type": "user",
            "user": {
                "id": owner_user,
                "email": f"{owner_user}@example.com",
                "name": "Dev One",
                "created_at": ago(300),
                "role": "member",
            },
        }
    else:
        owner = {
            "type": "service_account",
            "service_account": {
                "id": "svc_acct_ci",
                "name": "ci-bot",
                "created_at": ago(300),
                "role": "member",
            },
        }
    raw: dict[str, Any] = {
        "object": "organization.project.api_key",
        "id": key_id,
        "name": f"name of {key_id}",
        "redacted_value": "sk-proj-abc...def",
        "created_at": ago(created_days),
        "last_used_at": ago(last_used_days),
        "owner_project_access": "active",
        "owner": owner,
        "project_id": project_id,
        "project_name": f"Project {project_id}",
    }
    raw.update(extra)
    return ProjectApiKey.model_validate(raw)


def invite(
    invite_id: str = "invite-1",
    *,
    role: str = "reader",
    status: str = "pending",
    sent_days: float | None = 1,
    expires_in_days: float | None = 30,
    projects: list[dict[str, Any]] | None = None,
    legacy_invited_at: bool = False,
) -> Invite:
    sent = ago(sent_days)
    raw: dict[str, Any] = {
        "object": "organization.invite",
        "id": invite_id,
        "email": f"{invite_id}@example.com",
        "role": role,
        "status": status,
        "expires_at": None if expires_in_days is None else int(NOW + expires_in_days * DAY),
        "accepted_at": None,
        "projects": projects or [],
    }
    raw["invited_at" if legacy_invited_at else "created_at"] = sent
    return Invite.model_validate(raw)


def user(
    user_id: str = "user-1",
    *,
    added_days: float | None = 400,
    api_key_last_used_days: float | None = None,
    is_service_account: bool = False,
    role: str = "reader",
) -> AdminUser:
    raw: dict[str, Any] = {
        "object": "organization.user",
        "id": user_id,
        "name": f"Name {user_id}",
        "email": f"{user_id}@example.com",
        "role": role,
        "added_at": ago(added_days),
        "is_service_account": is_service_account,
    }
    if api_key_last_used_days is not None:
        raw["api_key_last_used_at"] = ago(api_key_last_used_days)
    return AdminUser.model_validate(raw)


def login(user_id: str, days: float) -> AuditLogin:
    return AuditLogin(user_id=user_id, effective_at=float(NOW - days * DAY))


def tool(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "created_at": float(ago(50) or 0), **extra}


def gpt(
    gpt_id: str = "g-abc",
    *,
    tools: list[dict[str, Any]] | None = None,
    visibility: str = "workspace",
    bare_config_array: bool = False,
    recipients_list_object: bool = False,
    name: str = "Sales helper",
) -> Gpt:
    config = {
        "object": "compliance.workspace.gpt.configuration",
        "id": "gzm_cnf_1",
        "name": name,
        "description": "helps sales",
        "instructions": "be helpful",
        "tools": {"object": "list", "data": tools or [], "has_more": False},
        "files": {"object": "list", "data": [], "has_more": False},
    }
    recipients: Any = [{"id": "user-r1", "email": "r1@example.com"}]
    if recipients_list_object:
        recipients = {"object": "list", "data": recipients, "last_id": "user-r1", "has_more": False}
    raw = {
        "object": "compliance.workspace.gpt",
        "id": gpt_id,
        "created_at": float(ago(100) or 0),
        "owner_id": "user-gptowner",
        "owner_email": "gptowner@example.com",
        "builder_name": "Gina",
        "sharing": {
            "object": "compliance.workspace.gpt.sharing",
            "visibility": visibility,
            "recipients": recipients,
        },
        "latest_config": (
            [config]
            if bare_config_array
            else {"object": "list", "data": [config], "last_id": "gzm_cnf_1", "has_more": False}
        ),
    }
    return Gpt.model_validate(raw)


def snapshot(**parts: Any) -> PostureSnapshot:
    return PostureSnapshot(now=NOW, **parts)
