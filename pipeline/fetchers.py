"""What each fetch task reads from the APIs and how it lands in the snapshot.

Plain functions (no Celery): given connector clients, a fetch fills the snapshot *parts* it
owns (users, logins, project keys, service accounts, ...). Every part succeeds or fails on
its own: a failed listing is recorded against its part and never discards a sibling part's
data, so e.g. audit logging being off costs the login signal and nothing else. Objects are
stored as their JSON dumps so ``detect`` rebuilds the exact models. File listings (for DLP)
carry ids, names, owners and parents only, never a download URL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.access import ClientOptions, TenantAccess
from connectors.admin import AdminClient
from connectors.compliance import ComplianceClient
from connectors.errors import ConnectorError, RateLimitedError
from connectors.http import CallObserver
from connectors.ratelimit import RateBudget
from core.errors import UserError
from pipeline.common import error_summary

Items = list[dict[str, Any]]
Parts = dict[str, Items]

#: Part states: ``ok`` (stored), ``unavailable`` (the API says the tenant does not offer it,
#: e.g. audit logging off: not an error of the scan) and ``failed`` (a typed error).
OK, UNAVAILABLE, FAILED = "ok", "unavailable", "failed"


class PartUnavailable(Exception):
    """Raised by a part's producer when the API says the data is not offered for the tenant."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass
class FetchContext:
    """What a fetcher gets: the tenant's access (keys as SecretStr) and shared budget.

    ``login_since`` bounds the audit-log login listing; ``limitless_routes`` and
    ``on_limit_rejected`` carry the tenant's memory of routes that refuse ``limit``.
    """

    access: TenantAccess
    budget: RateBudget
    conversation_watermark: float = 0.0
    observer: CallObserver | None = None
    login_since: float | None = None
    limitless_routes: frozenset[str] = frozenset()
    on_limit_rejected: Callable[[str], None] | None = None
    defer_rate_limited: bool = False

    def options(self) -> ClientOptions:
        return ClientOptions(
            limitless_routes=self.limitless_routes, on_limit_rejected=self.on_limit_rejected
        )

    def admin(self) -> AdminClient:
        return AdminClient(self.access, self.budget, observer=self.observer, options=self.options())

    def compliance(self) -> ComplianceClient:
        return ComplianceClient(
            self.access, self.budget, observer=self.observer, options=self.options()
        )


@dataclass
class PartResult:
    state: str
    items: Items | None = None
    error: dict[str, Any] | None = None


_FAILED = object()


@dataclass
class PartRun:
    """Collects one fetch's parts, each ``ok``, ``unavailable`` or ``failed`` on its own.

    A producer's typed error (``ConnectorError``, ``UserError``) fails its part(s) only.
    A ``RateLimitedError`` is re-raised when ``defer_rate_limited`` (the task retries
    later, redoing the fetch); anything else is a bug and propagates.
    """

    defer_rate_limited: bool = False
    results: dict[str, PartResult] = field(default_factory=dict)

    def run(self, name: str, produce: Callable[[], Iterable[Any]]) -> Items | None:
        """Produce one part; its items, or None when it did not succeed."""
        out = self.run_many((name,), lambda: {name: produce()})
        return out[name] if out is not None else None

    def run_many(
        self, names: tuple[str, ...], produce: Callable[[], Mapping[str, Iterable[Any]]]
    ) -> dict[str, Items] | None:
        """Produce parts that share one listing (they succeed or fail together)."""
        produced = self._attempt(
            names, lambda: {name: _dump(items) for name, items in produce().items()}
        )
        if produced is _FAILED:
            return None
        for name in names:
            self.results[name] = PartResult(OK, items=produced[name])
        return {name: produced[name] for name in names}

    def prerequisite(self, names: tuple[str, ...], produce: Callable[[], Any]) -> Any:
        """A listing several parts need (e.g. projects); on failure it fails all of them and
        returns None."""
        value = self._attempt(names, produce)
        return None if value is _FAILED else value

    def fail(self, names: tuple[str, ...], exc: BaseException) -> None:
        result = PartResult(FAILED, error=error_summary(exc))
        for name in names:
            self.results[name] = result

    def _attempt(self, names: tuple[str, ...], produce: Callable[[], Any]) -> Any:
        try:
            return produce()
        except PartUnavailable as exc:
            error = {"kind": "unavailable", "message": exc.reason, "status": exc.status}
            for name in names:
                self.results[name] = PartResult(UNAVAILABLE, error=error)
        except RateLimitedError as exc:
            if self.defer_rate_limited:
                raise
            self.fail(names, exc)
        except (ConnectorError, UserError) as exc:
            self.fail(names, exc)
        return _FAILED


def _dump(items: Iterable[Any]) -> Items:
    return [item if isinstance(item, dict) else item.model_dump(mode="json") for item in items]


def _archived(project: Any) -> bool:
    return bool(project.status == "archived" or project.archived_at is not None)


# --------------------------------------------------------------------------- fetchers


def fetch_users(ctx: FetchContext, out: PartRun) -> None:
    """Members (``users``) and their newest audit-log login (``logins``), apart.

    Logins are bounded by ``ctx.login_since``; a tenant without audit logs (any 4xx but a
    bad key) gets ``logins`` unavailable and keeps its users.
    """
    client = ctx.admin()
    out.run("users", client.users)
    out.run("logins", lambda: _logins(client, ctx.login_since))


def _logins(client: AdminClient, since: float | None) -> list[Any]:
    signal = client.latest_logins(since)
    if not signal.available:
        raise PartUnavailable(
            f"audit-log logins unavailable ({signal.reason or 'no reason given'})",
            signal.status,
        )
    return signal.entries


def fetch_invites(ctx: FetchContext, out: PartRun) -> None:
    client = ctx.admin()
    out.run("invites", client.invites)


def fetch_admin_keys(ctx: FetchContext, out: PartRun) -> None:
    client = ctx.admin()
    out.run("admin_keys", client.admin_api_keys)


PROJECT_PARTS = ("project_keys", "service_accounts", "project_members")


def fetch_project_keys(ctx: FetchContext, out: PartRun) -> None:
    """Projects once, then three parts apart: every project's keys (archived included,
    stamped with their project), service accounts and members of the live projects (the
    API answers 400 for an archived one: skipped, not an error)."""
    client = ctx.admin()
    projects = out.prerequisite(PROJECT_PARTS, lambda: list(client.projects()))
    if projects is None:
        return
    live = [p for p in projects if not _archived(p)]
    out.run("project_keys", lambda: [k for p in projects for k in client.project_api_keys(p)])
    out.run("service_accounts", lambda: [a for p in live for a in client.service_accounts(p.id)])
    out.run("project_members", lambda: [m for p in live for m in client.project_members(p.id)])


def fetch_gpts(ctx: FetchContext, out: PartRun) -> None:
    """GPTs with their latest config and their knowledge files (one listing, two parts),
    and the workspace's users (a part of its own)."""
    client = ctx.compliance()
    out.run_many(("gpts", "gpt_files"), lambda: _gpt_parts(client))
    out.run("workspace_users", client.users)


def _gpt_parts(client: ComplianceClient) -> dict[str, list[Any]]:
    gpts = list(client.gpts())
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
    return {"gpts": gpts, "gpt_files": files}


def fetch_files(ctx: FetchContext, out: PartRun) -> None:
    """File listings for DLP: conversation files since the watermark, and ChatGPT project
    files. The two sources are parts of their own: one failing (a retired conversations
    listing, say) never costs the other."""
    client = ctx.compliance()
    out.run_many(
        ("conversation_files", "conversation_listing"), lambda: _conversation_parts(ctx, client)
    )
    out.run("project_files", lambda: _project_files(client))


def _conversation_parts(ctx: FetchContext, client: ComplianceClient) -> dict[str, list[Any]]:
    """Conversation files updated since the tenant's watermark.

    ``conversation_listing`` (one item) records the watermark used and the newest
    conversation update seen: the DLP stage advances the watermark from it.
    """
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
    return {
        "conversation_files": conversation_files,
        "conversation_listing": [
            {
                "since": ctx.conversation_watermark,
                "conversations": listed,
                "newest_update": newest,
            }
        ],
    }


def _project_files(client: ComplianceClient) -> list[dict[str, Any]]:
    return [
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
        for p in client.projects()
        if p.config is not None
        for f in p.config.files
    ]


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
    """One fetch task: its resource name, the parts it fills, its function.

    ``primary`` is the part whose length is the task's ``count``; ``needs_workspace`` marks
    Compliance API fetches, planned only for tenants with a ChatGPT workspace.
    """

    resource: str
    parts: tuple[str, ...]
    primary: str
    run: Callable[[FetchContext, PartRun], None]
    needs_workspace: bool = False
    dlp_only: bool = False


FETCHES: dict[str, FetchSpec] = {
    spec.resource: spec
    for spec in (
        FetchSpec("users", ("users", "logins"), "users", fetch_users),
        FetchSpec("invites", ("invites",), "invites", fetch_invites),
        FetchSpec("admin_keys", ("admin_keys",), "admin_keys", fetch_admin_keys),
        FetchSpec("project_keys", PROJECT_PARTS, "project_keys", fetch_project_keys),
        FetchSpec(
            "gpts",
            ("gpts", "gpt_files", "workspace_users"),
            "gpts",
            fetch_gpts,
            needs_workspace=True,
        ),
        FetchSpec(
            "files",
            ("conversation_files", "conversation_listing", "project_files"),
            "conversation_files",
            fetch_files,
            needs_workspace=True,
            dlp_only=True,
        ),
    )
}


def ok_part_key(summaries: Mapping[str, Mapping[str, Any]], part: str) -> str | None:
    """The snapshot key of ``part`` if some fetch stored it successfully, else None."""
    for summary in summaries.values():
        key = (summary.get("keys") or {}).get(part)
        if key:
            return str(key)
    return None


def ok_parts(summaries: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """Names of every part that was fetched successfully in the scan."""
    return {part for summary in summaries.values() for part in (summary.get("keys") or {})}


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
