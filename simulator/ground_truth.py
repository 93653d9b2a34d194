"""Ground truth: the exact findings a correct scanner reports for a simulated tenant.

Pure. Computed from the current world state (so mutations are reflected) with the rules in
docs/findings.md, independently of the product's detectors. Resource ids follow the
scanner's conventions: GPT id, admin/project key id, invite id, Admin API user id, file id.
The FindingTypeIDs of the 15 seed types are copied from Cloudflare's published catalogue;
extension types carry the ids the project minted for them (docs/findings.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from simulator.files import PLANTABLE_PROFILES, PROFILE_CREDENTIALS, matched_profiles
from simulator.model import DAY, Thresholds, normalise_tool_type
from simulator.state import Tenant, WorldState

GPT_CUSTOM_ACTIONS = "5a2995f5-0cc1-4af3-9045-cdf7e6601f7b"
GPT_CODE_INTERPRETER = "d368036a-be90-49f0-b7da-5092a3f8beb4"
GPT_WEB_BROWSING = "3af14358-5ff2-4502-921e-7ffd9a310093"
GPT_PUBLIC_STORE = "c69adfa6-2362-4939-86ec-49ff34093cfd"
GPT_PUBLIC_LINK = "de460c9f-55c0-4131-9cdf-e4c3b84f9549"
ADMIN_KEY_NOT_ROTATED = "b72e971d-f5b9-4cf3-96f4-ef82bdf38453"
PROJECT_KEY_NOT_ROTATED = "2c079fe8-6188-43e1-a2e5-d0e2dd8c7686"
ADMIN_KEY_UNUSED = "49c75a36-1e64-437b-98a1-e54ec35d0a64"
PROJECT_KEY_UNUSED = "c8fd231b-de51-43cc-8c3f-e1e57114c5f5"
HIGH_PRIVILEGE_INVITE = "776ceb93-fa9a-4ca0-83db-668a67c09936"
INACTIVE_USER = "20ab9ddb-fd48-46a8-9fdf-9bb9b9061f21"
STALE_PENDING_INVITE = "18fd5b21-8489-485e-9c93-0bd4a696e724"
DLP_CONVERSATION_FILE = "9aca654d-b331-4052-a5b4-2ceecced8676"
DLP_GPT_FILE = "520200f5-7dcc-42c9-bc3c-423019159d45"
DLP_PROJECT_FILE = "8e46ec69-e5c1-4f53-ab00-a92f2050ec33"
# Extensions beyond the seed catalogue (the scanner's own type ids): sensitive text in a
# conversation message, and a project key whose owner lost project access.
CHATGPT_MESSAGE_DLP = "61708e01-a35b-41b1-99ac-3dc53816a45f"
PROJECT_KEY_ORPHANED = "ecf9c5b4-2577-4742-9e73-29d5fff9b9bf"

FINDING_TYPE_NAMES: dict[str, str] = {
    GPT_CUSTOM_ACTIONS: "OpenAI: GPT with Custom Actions enabled",
    GPT_CODE_INTERPRETER: "OpenAI: GPT with Code Interpreter enabled",
    GPT_WEB_BROWSING: "OpenAI: GPT with web browsing enabled",
    GPT_PUBLIC_STORE: "OpenAI: GPT publicly accessible via GPT Store",
    GPT_PUBLIC_LINK: "OpenAI: GPT publicly accessible via public link",
    ADMIN_KEY_NOT_ROTATED: "OpenAI: Admin API key not rotated",
    PROJECT_KEY_NOT_ROTATED: "OpenAI: Project API key not rotated",
    ADMIN_KEY_UNUSED: "OpenAI: Unused admin API key",
    PROJECT_KEY_UNUSED: "OpenAI: Unused project API key",
    HIGH_PRIVILEGE_INVITE: "OpenAI: High-privilege invite",
    INACTIVE_USER: "OpenAI: Inactive user",
    STALE_PENDING_INVITE: "OpenAI: Stale pending invite",
    DLP_CONVERSATION_FILE: "OpenAI: File in ChatGPT Conversation with DLP Profile match",
    DLP_GPT_FILE: "OpenAI: File in ChatGPT GPT with DLP Profile match",
    DLP_PROJECT_FILE: "OpenAI: File in ChatGPT Project with DLP Profile match",
    CHATGPT_MESSAGE_DLP: "OpenAI: ChatGPT conversation message with DLP Profile match",
    PROJECT_KEY_ORPHANED: "OpenAI: Project API key whose owner lost project access",
}
ALL_FINDING_TYPES: tuple[str, ...] = tuple(FINDING_TYPE_NAMES)
SEED_FINDING_TYPES: tuple[str, ...] = ALL_FINDING_TYPES[:15]
# Beyond the seed: this project's own ids (docs/findings.md), planted only on request.
LEAKED_OWN_API_KEY = "42cdd0fc-9a27-4127-93d0-83c804c73424"
EXTENSION_FINDING_TYPE_NAMES: dict[str, str] = {
    LEAKED_OWN_API_KEY: "OpenAI API key of this organization exposed in ChatGPT content",
}
_ORDER: tuple[str, ...] = ALL_FINDING_TYPES + tuple(EXTENSION_FINDING_TYPE_NAMES)
#: The seed's three file DLP types.
DLP_FINDING_TYPES: tuple[str, ...] = (DLP_CONVERSATION_FILE, DLP_GPT_FILE, DLP_PROJECT_FILE)
MESSAGE_FINDING_TYPES: tuple[str, ...] = (CHATGPT_MESSAGE_DLP,)
POSTURE_FINDING_TYPES: tuple[str, ...] = tuple(
    t for t in ALL_FINDING_TYPES if t not in DLP_FINDING_TYPES + MESSAGE_FINDING_TYPES
)

_TOOL_FINDINGS = {
    "custom_action": GPT_CUSTOM_ACTIONS,
    "code_interpreter": GPT_CODE_INTERPRETER,
    "browser": GPT_WEB_BROWSING,
}
_FILE_FINDINGS = {
    "conversation": (DLP_CONVERSATION_FILE, "conversation_file"),
    "gpt": (DLP_GPT_FILE, "gpt_file"),
    "project": (DLP_PROJECT_FILE, "project_file"),
}


@dataclass(frozen=True)
class ExpectedFinding:
    """One finding a correct scanner must report."""

    finding_type_id: str
    resource_type: str
    resource_id: str
    resource_name: str
    detail: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def finding_type(self) -> str:
        return {**FINDING_TYPE_NAMES, **EXTENSION_FINDING_TYPE_NAMES}[self.finding_type_id]


def _older(ts: float, now: float, days: int) -> bool:
    return now - ts > days * DAY


def _invite_findings(tenant: Tenant, now: float, th: Thresholds) -> list[ExpectedFinding]:
    out = []
    for inv in tenant.invites:
        if inv.status != "pending":
            continue
        detail = {
            "email": inv.email,
            "role": inv.role,
            "projects": list(inv.projects),
            "label": inv.label,
        }
        if inv.role == "owner" or any(role == "owner" for _, role in inv.projects):
            out.append(ExpectedFinding(HIGH_PRIVILEGE_INVITE, "invite", inv.id, inv.email, detail))
        expired = inv.expires_at is not None and inv.expires_at < now
        if _older(inv.created_at, now, th.stale_invite_days) or expired:
            out.append(ExpectedFinding(STALE_PENDING_INVITE, "invite", inv.id, inv.email, detail))
    return out


def _key_findings(tenant: Tenant, now: float, th: Thresholds) -> list[ExpectedFinding]:
    out = []
    rows: list[tuple[str, str, str, str, float, float | None, str, str]] = [
        (
            ADMIN_KEY_NOT_ROTATED,
            ADMIN_KEY_UNUSED,
            "admin_api_key",
            k.id,
            k.created_at,
            k.last_used_at,
            k.name,
            k.label,
        )
        for k in tenant.admin_keys
    ]
    rows += [
        (
            PROJECT_KEY_NOT_ROTATED,
            PROJECT_KEY_UNUSED,
            "project_api_key",
            k.id,
            k.created_at,
            k.last_used_at,
            k.name,
            k.label,
        )
        for k in tenant.all_project_keys()
    ]
    for k in tenant.all_project_keys():
        # Extension: the key's owner lost access to its project, the key is still listed.
        if k.owner_project_access == "inactive":
            orphan = {"owner_id": k.owner_id, "project_id": k.project_id, "label": k.label}
            out.append(
                ExpectedFinding(PROJECT_KEY_ORPHANED, "project_api_key", k.id, k.name, orphan)
            )
    for rot_id, unused_id, rtype, kid, created, last_used, name, label in rows:
        detail = {"created_at": created, "last_used_at": last_used, "label": label}
        if _older(created, now, th.key_rotation_days):
            out.append(ExpectedFinding(rot_id, rtype, kid, name, detail))
        basis = created if last_used is None else last_used
        if _older(basis, now, th.unused_key_days):
            out.append(ExpectedFinding(unused_id, rtype, kid, name, detail))
    return out


def last_activity(tenant: Tenant) -> dict[str, tuple[float, str]]:
    """user id -> (newest activity timestamp, which signal) over the four documented signals."""
    best: dict[str, tuple[float, str]] = {}

    def offer(user_id: str, ts: float | None, source: str) -> None:
        if ts is not None and (user_id not in best or ts > best[user_id][0]):
            best[user_id] = (ts, source)

    for u in tenant.users:
        offer(u.id, u.added_at, "added_at")
        if u.extras:
            offer(u.id, u.api_key_last_used_at, "api_key_last_used_at")
    for ev in tenant.audit_logs:
        if ev.type == "login.succeeded":
            offer(ev.actor_user_id, ev.effective_at, "login.succeeded")
    for key in tenant.all_project_keys():
        if key.owner_type == "user":
            offer(key.owner_id, key.last_used_at, "project_key.last_used_at")
    # ChatGPT sign-ins (Logs Platform AUTH_LOG) of the workspace user with the same email.
    by_email = {u.email.lower(): u.id for u in tenant.users}
    for signin in tenant.signins:
        user_id = by_email.get(signin.email.lower())
        if user_id is not None and signin.status == "success":
            offer(user_id, signin.at, "chatgpt_login")
    return best


def _user_findings(tenant: Tenant, now: float, th: Thresholds) -> list[ExpectedFinding]:
    out = []
    activity = last_activity(tenant)
    for u in tenant.users:
        ts, source = activity[u.id]
        if _older(ts, now, th.inactive_user_days):
            out.append(
                ExpectedFinding(
                    INACTIVE_USER,
                    "user",
                    u.id,
                    u.email,
                    {"last_activity": ts, "signal": source, "label": u.label},
                )
            )
    return out


def _gpt_findings(tenant: Tenant) -> list[ExpectedFinding]:
    out = []
    for g in tenant.gpts:
        detail = {"visibility": g.visibility, "owner_email": g.owner_email, "label": g.label}
        latest = g.configs[0] if g.configs else None
        seen: set[str] = set()
        for tool in latest.tools if latest else []:
            fid = _TOOL_FINDINGS.get(normalise_tool_type(tool.type))
            if fid and fid not in seen:
                seen.add(fid)
                out.append(ExpectedFinding(fid, "gpt", g.id, g.name, detail))
        if g.visibility == "gpt-store":
            out.append(ExpectedFinding(GPT_PUBLIC_STORE, "gpt", g.id, g.name, detail))
        elif g.visibility == "anyone-with-link":
            out.append(ExpectedFinding(GPT_PUBLIC_LINK, "gpt", g.id, g.name, detail))
    return out


def visible_messages(tenant: Tenant) -> list[tuple[Any, Any]]:
    """(conversation, message) a scanner can read: every message through the Logs Platform;
    through ``/conversations`` only those before the nested ``messages.has_more``."""
    nested = tenant.edges.nested_messages
    listed = tenant.edges.conversations == "list"
    out = []
    for conv in tenant.conversations:
        msgs = conv.messages[:nested] if listed and nested is not None else conv.messages
        out += [(conv, m) for m in msgs]
    return out


def reachable_file_ids(tenant: Tenant) -> set[str]:
    """Files a scanner can discover: in a conversation message or a GPT/project latest config."""
    ids: set[str] = set()
    for _conv, msg in visible_messages(tenant):
        ids.update(msg.file_ids)
    for coll in (tenant.gpts, tenant.cprojects):
        for g in coll:
            if g.configs:
                ids.update(g.configs[0].file_ids)
    return ids


def _file_profiles(f: Any) -> frozenset[str]:
    """Profiles a file truly matches: its planted data, and a carried OpenAI key."""
    planted = matched_profiles(f.profiles) if f.variant == "planted" else frozenset()
    return planted | ({PROFILE_CREDENTIALS} if f.leaked_key_id else set())


def _dlp_findings(tenant: Tenant, profiles: set[str]) -> list[ExpectedFinding]:
    out = []
    reachable = reachable_file_ids(tenant)
    for f in tenant.files.values():
        if f.id not in reachable or f.expired:
            continue
        matched = sorted(_file_profiles(f) & profiles)
        if not matched:
            continue
        fid, rtype = _FILE_FINDINGS[f.location]
        out.append(
            ExpectedFinding(
                fid,
                rtype,
                f.id,
                f.name,
                {"profiles": matched, "parent_id": f.parent_id, "label": f.label},
            )
        )
    return out


def _leaked_key_findings(tenant: Tenant, profiles: set[str]) -> list[ExpectedFinding]:
    """A project key whose secret sits in a reachable file, while the key still exists.

    Found only when the Credentials profile is attached (it holds the OpenAI key entry).
    """
    if PROFILE_CREDENTIALS not in profiles:
        return []
    reachable = reachable_file_ids(tenant)
    out: dict[str, ExpectedFinding] = {}
    for f in tenant.files.values():
        if not f.leaked_key_id or f.id not in reachable or f.expired:
            continue
        key = tenant.find_project_key(f.leaked_key_id)
        if key is None:
            continue
        out[key.id] = ExpectedFinding(
            LEAKED_OWN_API_KEY, "project_api_key", key.id, key.name, {"file_id": f.id}
        )
    return list(out.values())


def _message_findings(tenant: Tenant, profiles: set[str]) -> list[ExpectedFinding]:
    out = []
    for conv, msg in visible_messages(tenant):
        matched = sorted(matched_profiles(msg.profiles) & profiles) if msg.profiles else []
        if matched:
            out.append(
                ExpectedFinding(
                    CHATGPT_MESSAGE_DLP,
                    "conversation_message",
                    msg.id,
                    f"message in conversation {conv.id}",
                    {"profiles": matched, "conversation_id": conv.id, "label": msg.label},
                )
            )
    return out


def expected_findings(
    world: WorldState,
    slug: str,
    now: float | None = None,
    thresholds: Thresholds | None = None,
    dlp_profiles: Iterable[str] | None = None,
) -> list[ExpectedFinding]:
    """Every finding for `slug` at `now` (default: the world's current clock).

    `thresholds` default to the tenant's; `dlp_profiles` default to the three plantable
    profiles (pass an empty iterable for "no DLP profiles attached": no DLP findings).
    "Personally Identifiable Information (PII)" may be listed too (see files.matched_profiles);
    any other profile name matches nothing.
    """
    with world.lock:
        tenant = world.tenant(slug)
        at = world.clock() if now is None else now
        th = thresholds or tenant.thresholds
        profiles = set(PLANTABLE_PROFILES if dlp_profiles is None else dlp_profiles)
        found = (
            _gpt_findings(tenant)
            + _key_findings(tenant, at, th)
            + _invite_findings(tenant, at, th)
            + _user_findings(tenant, at, th)
            + _dlp_findings(tenant, profiles)
            + _message_findings(tenant, profiles)
            + _leaked_key_findings(tenant, profiles)
        )
    return sorted(found, key=lambda f: (_ORDER.index(f.finding_type_id), f.resource_id))
