"""What each fetch task reads from the APIs and how it lands in the snapshot.

Plain functions (no Celery): given connector clients, return the snapshot parts of one
fetch. Objects are stored as their JSON dumps so ``detect`` rebuilds the exact models.
File listings (for DLP) carry ids, names, owners and parents only, never a download URL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from connectors.access import TenantAccess
from connectors.admin import AdminClient
from connectors.compliance import ComplianceClient
from connectors.http import CallObserver
from connectors.ratelimit import RateBudget
from schemas.catalog import FetchResource

Parts = dict[str, list[dict[str, Any]]]


@dataclass
class FetchContext:
    """What a fetcher gets: the tenant's access (keys as SecretStr) and shared budget."""

    access: TenantAccess
    budget: RateBudget
    conversation_watermark: float = 0.0
    observer: CallObserver | None = None

    def admin(self) -> AdminClient:
        return AdminClient(self.access, self.budget, observer=self.observer)

    def compliance(self) -> ComplianceClient:
        return ComplianceClient(self.access, self.budget, observer=self.observer)


def _dump(items: Any) -> list[dict[str, Any]]:
    return [item.model_dump(mode="json") for item in items]


def fetch_users(ctx: FetchContext) -> Parts:
    """Members plus their newest audit-log login (an empty list when audit logs are off)."""
    client = ctx.admin()
    users = _dump(client.users())
    signal = client.latest_logins()
    logins = _dump(signal.entries) if signal.available else []
    return {"users": users, "logins": logins}


def fetch_invites(ctx: FetchContext) -> Parts:
    return {"invites": _dump(ctx.admin().invites())}


def fetch_admin_keys(ctx: FetchContext) -> Parts:
    return {"admin_keys": _dump(ctx.admin().admin_api_keys())}


def fetch_project_keys(ctx: FetchContext) -> Parts:
    """Keys of every project, archived ones included (stamped with their project)."""
    return {"project_keys": _dump(ctx.admin().all_project_api_keys())}


def fetch_gpts(ctx: FetchContext) -> Parts:
    """GPTs with their latest config, and the listing of their knowledge files (for DLP)."""
    gpts = list(ctx.compliance().gpts())
    files = [
        _file(
            "gpt",
            f.id,
            f.name,
            f.created_at,
            parent_id=g.id,
            owner_id=g.owner_id,
            parent_name=g.name,
            owner_email=g.owner_email,
            visibility=g.visibility,
        )
        for g in gpts
        if g.config is not None
        for f in g.config.files
    ]
    return {"gpts": _dump(gpts), "gpt_files": files}


def fetch_files(ctx: FetchContext) -> Parts:
    """Conversation files updated since the tenant's watermark, project files and projects.

    ``conversation_listing`` (one item) records the watermark used and the newest
    conversation update seen: the DLP stage advances the watermark from it.
    """
    client = ctx.compliance()
    conversation_files: list[dict[str, Any]] = []
    listed = 0
    newest: float | None = None
    for c in client.conversations(since_timestamp=ctx.conversation_watermark):
        listed += 1
        updated = c.last_active_at if c.last_active_at is not None else c.created_at
        if updated is not None:
            newest = updated if newest is None else max(newest, updated)
        for f in c.files:
            owner = f.user_id or c.user_id
            conversation_files.append(
                _file(
                    "conversation",
                    f.id,
                    f.name,
                    f.created_at,
                    parent_id=c.id,
                    owner_id=owner,
                    parent_name=c.title,
                    owner_email=c.user_email if owner == c.user_id else None,
                )
            )
    projects = list(client.projects())
    project_files = [
        _file(
            "project",
            f.id,
            f.name,
            f.created_at,
            parent_id=p.id,
            owner_id=p.owner_id,
            parent_name=p.name,
            owner_email=p.owner_email,
            visibility=p.visibility,
        )
        for p in projects
        if p.config is not None
        for f in p.config.files
    ]
    return {
        "conversation_files": conversation_files,
        "project_files": project_files,
        "projects": _dump(projects),  # sharing and files, for the change history
        "conversation_listing": [
            {
                "since": ctx.conversation_watermark,
                "conversations": listed,
                "newest_update": newest,
            }
        ],
    }


def _file(
    kind: str,
    file_id: str,
    name: str | None,
    created_at: float | None,
    *,
    parent_id: str,
    owner_id: str | None,
    parent_name: str | None = None,
    owner_email: str | None = None,
    visibility: str | None = None,
) -> dict[str, Any]:
    return {
        "kind": kind,
        "file_id": file_id,
        "name": name,
        "created_at": created_at,
        "parent_id": parent_id,
        "user_id": owner_id,
        "parent_name": parent_name,
        "owner_email": owner_email,
        "visibility": visibility,
    }


@dataclass(frozen=True)
class FetchSpec:
    """One fetch task: its resource name, the catalog resources it covers, its function.

    ``primary`` is the part whose length is the task's ``count``; ``needs_workspace`` marks
    Compliance API fetches, planned only for tenants with a ChatGPT workspace.
    """

    resource: str
    covers: tuple[FetchResource, ...]
    primary: str
    run: Callable[[FetchContext], Parts]
    needs_workspace: bool = False
    dlp_only: bool = False


FETCHES: dict[str, FetchSpec] = {
    spec.resource: spec
    for spec in (
        FetchSpec("users", (FetchResource.USERS,), "users", fetch_users),
        FetchSpec("invites", (FetchResource.INVITES,), "invites", fetch_invites),
        FetchSpec("admin_keys", (FetchResource.ADMIN_KEYS,), "admin_keys", fetch_admin_keys),
        FetchSpec(
            "project_keys", (FetchResource.PROJECT_KEYS,), "project_keys", fetch_project_keys
        ),
        FetchSpec(
            "gpts",
            (FetchResource.GPTS, FetchResource.GPT_FILES),
            "gpts",
            fetch_gpts,
            needs_workspace=True,
        ),
        FetchSpec(
            "files",
            (FetchResource.CONVERSATION_FILES, FetchResource.PROJECT_FILES),
            "conversation_files",
            fetch_files,
            needs_workspace=True,
            dlp_only=True,
        ),
    )
}


def plan_fetches(*, has_workspace: bool, dlp_enabled: bool) -> list[str]:
    """The fetches a tenant's scan runs, in a stable order.

    Compliance fetches need a workspace id; file listings are only worth their API budget
    when the tenant has DLP profiles.
    """
    return [
        name
        for name, spec in FETCHES.items()
        if (has_workspace or not spec.needs_workspace) and (dlp_enabled or not spec.dlp_only)
    ]
