"""World records -> the raw JSON objects of the Admin and Compliance APIs (docs/openai-api.md).

Pure. Admin API timestamps are integer seconds (float under the `admin_timestamps` drift);
Compliance API timestamps are floats. Shape drift (recipients, latest_config, invite timestamp
name, unknown fields) follows each tenant's Drift.
"""

from __future__ import annotations

from typing import Any

from simulator.model import (
    AdminKey,
    AdminUser,
    AuditEvent,
    Config,
    Conversation,
    Gpt,
    Invite,
    Message,
    Project,
    ProjectKey,
    ProjectMember,
    ServiceAccount,
    SimFile,
    WorkspaceUser,
    normalise_tool_type,
)
from simulator.state import Tenant

UNKNOWN_FIELDS: dict[str, Any] = {
    "x_sim_future_field": {"nested": True, "values": [1, 2]},
    "x_sim_flag": "beta",
}


def admin_ts(tenant: Tenant, ts: float | None) -> int | float | None:
    if ts is None:
        return None
    if tenant.drift.admin_timestamps == "float":
        millis = round(ts, 3)
        # A whole number would read as an integer to a lax client, hiding the drift.
        return millis if millis % 1 else millis + 0.001
    return int(ts)


def c_ts(ts: float | None) -> float | None:
    return None if ts is None else round(ts, 6)


def _extra(tenant: Tenant, obj: dict[str, Any]) -> dict[str, Any]:
    if tenant.drift.extra_fields:
        obj.update(UNKNOWN_FIELDS)
    return obj


# --------------------------------------------------------------------------- Admin API


def user(tenant: Tenant, u: AdminUser) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "object": "organization.user",
        "id": u.id,
        "name": u.name,
        "email": u.email,
        "role": u.role,
        "added_at": admin_ts(tenant, u.added_at),
    }
    if u.extras:
        obj.update(
            {
                "is_default": False,
                "created": admin_ts(tenant, u.added_at),
                "user": {
                    "object": "user",
                    "id": u.id,
                    "email": u.email,
                    "name": u.name,
                    "picture": None,
                    "enabled": True,
                    "banned": False,
                    "banned_at": None,
                },
                "is_service_account": (
                    None if tenant.drift.service_account_flag == "null" else False
                ),
                "is_scale_tier_authorized_purchaser": None,
                "is_scim_managed": False,
                "api_key_last_used_at": admin_ts(tenant, u.api_key_last_used_at),
                "technical_level": None,
                "developer_persona": None,
            }
        )
    return _extra(tenant, obj)


def invite(tenant: Tenant, inv: Invite) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "object": "organization.invite",
        "id": inv.id,
        "email": inv.email,
        "role": inv.role,
        "status": inv.status,
    }
    if tenant.drift.invite_timestamp in ("both", "created_at"):
        obj["created_at"] = admin_ts(tenant, inv.created_at)
    if tenant.drift.invite_timestamp in ("both", "invited_at"):
        obj["invited_at"] = admin_ts(tenant, inv.created_at)
    obj["expires_at"] = admin_ts(tenant, inv.expires_at)
    obj["accepted_at"] = admin_ts(tenant, inv.accepted_at)
    obj["projects"] = [{"id": pid, "role": role} for pid, role in inv.projects]
    return _extra(tenant, obj)


def admin_key(tenant: Tenant, k: AdminKey) -> dict[str, Any]:
    o = k.owner
    owner = {
        "type": o.type,
        "object": "organization.user" if o.type == "user" else "organization.service_account",
        "id": o.id,
        "name": o.name,
        "created_at": admin_ts(tenant, o.created_at),
        "role": o.role,
    }
    return _extra(
        tenant,
        {
            "object": "organization.admin_api_key",
            "id": k.id,
            "name": k.name,
            "redacted_value": k.redacted_value,
            "created_at": admin_ts(tenant, k.created_at),
            "expires_at": admin_ts(tenant, k.expires_at),
            "last_used_at": admin_ts(tenant, k.last_used_at),
            "owner": owner,
        },
    )


def project(tenant: Tenant, p: Project) -> dict[str, Any]:
    return _extra(
        tenant,
        {
            "id": p.id,
            "object": "organization.project",
            "name": p.name,
            "created_at": admin_ts(tenant, p.created_at),
            "archived_at": admin_ts(tenant, p.archived_at),
            "status": "archived" if p.archived_at is not None else "active",
            "external_key_id": None,
            "residency": "GLOBAL",
        },
    )


def project_key(tenant: Tenant, k: ProjectKey) -> dict[str, Any]:
    owner: dict[str, Any] = {"type": k.owner_type}
    if k.owner_type == "user":
        u = tenant.users.get(k.owner_id)
        member = tenant.project_members.get(k.project_id)
        m = member.get(k.owner_id) if member is not None else None
        owner["user"] = {
            "object": "organization.project.user",
            "id": k.owner_id,
            "email": u.email if u else None,
            "name": u.name if u else None,
            "role": m.role if m else "member",
            "created_at": admin_ts(tenant, u.added_at if u else k.created_at),
            "added_at": admin_ts(tenant, m.added_at if m else (u.added_at if u else k.created_at)),
        }
    else:
        sas = tenant.service_accounts.get(k.project_id)
        sa = sas.get(k.owner_id) if sas is not None else None
        owner["service_account"] = {
            "object": "organization.project.service_account",
            "id": k.owner_id,
            "name": sa.name if sa else "service account",
            "role": sa.role if sa else "member",
            "created_at": admin_ts(tenant, sa.created_at if sa else k.created_at),
        }
    return _extra(
        tenant,
        {
            "object": "organization.project.api_key",
            "id": k.id,
            "name": k.name,
            "redacted_value": k.redacted_value,
            "created_at": admin_ts(tenant, k.created_at),
            "last_used_at": admin_ts(tenant, k.last_used_at),
            "owner_project_access": k.owner_project_access,
            "owner": owner,
        },
    )


def service_account(tenant: Tenant, s: ServiceAccount) -> dict[str, Any]:
    return _extra(
        tenant,
        {
            "object": "organization.project.service_account",
            "id": s.id,
            "name": s.name,
            "role": s.role,
            "created_at": admin_ts(tenant, s.created_at),
        },
    )


def project_user(tenant: Tenant, m: ProjectMember) -> dict[str, Any]:
    u = tenant.users.get(m.user_id)
    return _extra(
        tenant,
        {
            "object": "organization.project.user",
            "id": m.user_id,
            "name": u.name if u else None,
            "email": u.email if u else None,
            "role": m.role,
            "added_at": admin_ts(tenant, m.added_at),
        },
    )


def audit_log(tenant: Tenant, ev: AuditEvent) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": ev.id,
        "type": ev.type,
        "effective_at": admin_ts(tenant, ev.effective_at),
    }
    if ev.project_id:
        p = tenant.projects.get(ev.project_id)
        obj["project"] = {"id": ev.project_id, "name": p.name if p else None}
    obj["actor"] = {
        "type": "session",
        "session": {
            "user": {"id": ev.actor_user_id, "email": ev.actor_email},
            "ip_address": ev.ip_address,
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        },
    }
    if ev.type == "login.failed":
        obj[ev.type] = {
            "error_code": "invalid_credentials",
            "error_message": "Wrong email or password.",
        }
    elif ev.type == "api_key.created":
        obj[ev.type] = {"id": "key_" + ev.id[-12:], "data": {"scopes": ["api.model.read"]}}
    else:
        obj[ev.type] = {"id": ev.actor_user_id}
    return _extra(tenant, obj)


# --------------------------------------------------------------------------- Compliance API


def workspace_user(tenant: Tenant, u: WorkspaceUser) -> dict[str, Any]:
    return _extra(
        tenant,
        {
            "object": "compliance.workspace.user",
            "id": u.id,
            "email": u.email,
            "name": u.name,
            "created_at": c_ts(u.created_at),
            "role": u.role,
            "status": u.status,
        },
    )


def _list(data: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "object": "list",
        "data": data,
        "last_id": data[-1]["id"] if data and "id" in data[-1] else None,
        "has_more": False,
    }


def config_file(
    tenant: Tenant, kind: str, f: SimFile, file_format: str, blob_url: str | None
) -> dict[str, Any]:
    if file_format == "id":
        return {"object": f"compliance.workspace.{kind}.file_info", "id": f.id, "name": f.name}
    return {
        "object": f"compliance.workspace.{kind}.file",
        "id": f.id,
        "name": f.name,
        "created_at": None if f.expired else c_ts(f.created_at),
        "download_url": None if f.expired else blob_url,
    }


def tool(kind: str, t: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {"type": t.type, "created_at": c_ts(t.created_at)}
    if normalise_tool_type(t.type) == "custom_action":
        obj["action_domain"] = t.action_domain
        obj["action_openapi_raw"] = (
            '{"openapi":"3.1.0","info":{"title":"Action","version":"1.0"},'
            f'"servers":[{{"url":"https://{t.action_domain}"}}],"paths":{{}}}}'
        )
        obj["action_privacy_policy_url"] = t.privacy_policy_url
        if kind == "gpt":
            obj["auth_type"] = t.auth_type
    return obj


def config(tenant: Tenant, g: Gpt, c: Config, file_format: str, blob_base: str) -> dict[str, Any]:
    kind = g.kind
    files = []
    for fid in c.file_ids:
        f = tenant.files.get(fid)
        if f is not None:
            files.append(
                config_file(
                    tenant,
                    kind,
                    f,
                    file_format,
                    f"{blob_base}/{tenant.world.blob_token(tenant.slug, fid)}",
                )
            )
    return _extra(
        tenant,
        {
            "object": f"compliance.workspace.{kind}.configuration",
            "id": c.id,
            "name": c.name,
            "description": c.description,
            "categories": [],
            "conversation_starters": ["What changed this week?"],
            "created_at": c_ts(c.created_at),
            "instructions": c.instructions,
            "version_author": {
                "object": f"compliance.workspace.{kind}.version_author",
                "id": c.author_id,
                "email": c.author_email,
            },
            "files": _list(files),
            "tools": {
                "object": "list",
                "data": [tool(kind, t) for t in c.tools],
                "last_id": None,
                "has_more": False,
            },
        },
    )


def shared_user(tenant: Tenant, kind: str, user_id: str, email: str) -> dict[str, Any]:
    return {
        "object": f"compliance.workspace.{kind}.shared_user",
        "id": user_id,
        "email": email,
        "permissions": {
            "object": f"compliance.workspace.{kind}.permissions",
            "can_read": True,
            "can_view_config": False,
            "can_write": False,
        },
    }


def gpt(tenant: Tenant, g: Gpt, file_format: str, blob_base: str) -> dict[str, Any]:
    kind = g.kind
    recipients = [shared_user(tenant, kind, uid, email) for uid, email in g.recipients]
    rec: Any = recipients if tenant.drift.recipients == "array" else _list(recipients)
    latest = [config(tenant, g, g.configs[0], file_format, blob_base)] if g.configs else []
    lc: Any = _list(latest) if tenant.drift.latest_config == "list" else latest
    return _extra(
        tenant,
        {
            "object": f"compliance.workspace.{kind}",
            "id": g.id,
            "created_at": c_ts(g.created_at),
            "owner_id": g.owner_id,
            "owner_email": g.owner_email,
            "builder_name": g.builder_name,
            "sharing": {
                "object": f"compliance.workspace.{kind}.sharing",
                "visibility": g.visibility,
                "permissions": {
                    "object": f"compliance.workspace.{kind}.permissions",
                    "can_read": True,
                    "can_view_config": g.visibility in ("invite-only", "workspace"),
                    "can_write": False,
                },
                "recipients": rec,
            },
            "latest_config": lc,
        },
    )


def message(
    tenant: Tenant, m: Message, user_id: str, file_format: str, blob_base: str
) -> dict[str, Any]:
    files: list[dict[str, Any]] = []
    for fid in m.file_ids:
        f = tenant.files.get(fid)
        if f is None:
            continue
        if file_format == "id":
            files.append(
                {
                    "object": "compliance.workspace.conversation.message.file_info",
                    "id": f.id,
                    "name": f.name,
                    "user_id": user_id,
                }
            )
        else:
            files.append(
                {
                    "object": "compliance.workspace.conversation.message.file",
                    "id": f.id,
                    "name": f.name,
                    "created_at": c_ts(f.created_at),
                    "download_url": None
                    if f.expired
                    else f"{blob_base}/{tenant.world.blob_token(tenant.slug, f.id)}",
                }
            )
    return {
        "object": "compliance.workspace.conversation.message",
        "id": m.id,
        "parent_id": m.parent_id,
        "created_at": c_ts(m.created_at),
        "gpt_id": m.gpt_id,
        "project_id": m.project_id,
        "author": {
            "object": "compliance.workspace.conversation.message.author",
            "role": m.role,
            "tool_name": m.tool_name,
        },
        "content": {
            "object": "compliance.workspace.conversation.message.content",
            "type": "text",
            "value": m.text,
            "annotations": [],
        },
        "files": _list(files),
    }


def conversation(
    tenant: Tenant, c: Conversation, file_format: str, blob_base: str
) -> dict[str, Any]:
    """With ``edges.nested_messages`` only the first messages are rendered and the nested
    list says ``has_more``."""
    shown = c.messages
    nested = tenant.edges.nested_messages
    if nested is not None and len(shown) > nested:
        shown = shown[:nested]
    msgs = [message(tenant, m, c.user_id, file_format, blob_base) for m in shown]
    messages = _list(msgs)
    if len(shown) < len(c.messages):
        messages["has_more"] = True
    return _extra(
        tenant,
        {
            "object": "compliance.workspace.conversation",
            "id": c.id,
            "workspace_id": tenant.workspace_id,
            "user_id": c.user_id,
            "user_email": c.user_email,
            "created_at": c_ts(c.created_at),
            "last_active_at": c_ts(c.last_update),
            "title": c.title,
            "messages": messages,
        },
    )


def memory(tenant: Tenant, u: WorkspaceUser) -> dict[str, Any]:
    return _extra(
        tenant,
        {
            "object": "compliance.workspace.user.memory",
            "id": u.id,
            "memory_contexts": [
                {
                    "object": "compliance.workspace.user.memory.context",
                    "id": f"ctx-{u.id[5:17]}",
                    "memory_entries": [
                        {
                            "object": "compliance.workspace.user.memory.context.entry",
                            "id": f"mem-{u.id[5:17]}",
                            "content": "Prefers concise answers.",
                            "updated_at": c_ts(u.created_at + 3600),
                        }
                    ],
                }
            ],
        },
    )


def has_memory(u: WorkspaceUser) -> bool:
    return u.id[-1] in "aeiouAEIOU0123"
