"""What each fetch task reads from the APIs and how it lands in the snapshot.

Plain functions (no Celery): given connector clients, a fetch fills the snapshot *parts* it
owns (users, logins, project keys, service accounts, ...). Every part succeeds or fails on
its own: a failed listing is recorded against its part and never discards a sibling part's
data, so e.g. audit logging being off costs the login signal and nothing else. Objects are
stored as their JSON dumps so ``detect`` rebuilds the exact models. File listings (for DLP)
carry ids, names, owners and parents only, never a download URL.
Conversation message text is matched while in memory and never stored: the conversation
part carries masked DLP evidence only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.access import ClientOptions, TenantAccess
from connectors.admin import AdminClient
from connectors.checkpoints import ListingCheckpoints
from connectors.compliance import ComplianceClient, ConversationListing
from connectors.errors import (
    ConnectorError,
    FileSkipped,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    UpstreamError,
)
from connectors.http import CallObserver
from connectors.logs import UNDECODABLE, LogPage, LogsClient, Scope, read_record
from connectors.ratelimit import RateBudget
from core.errors import UserError
from core.time import unix_iso_z
from detectors.dlp.messages import MessageMatch, message_resource_id
from pipeline.common import error_summary
from schemas.openai import ChatGptLogin, Conversation
from schemas.stages import (
    FAILED,
    FETCH_RESOURCES,
    OK,
    UNAVAILABLE,
    ErrorSummary,
    FetchSummary,
)

Items = list[dict[str, Any]]
Parts = dict[str, Items]


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
    checkpoints: ListingCheckpoints | None = None
    """Where listings save their pages, so a retried fetch resumes (None: not saved)."""
    logs_watermark: str | None = None
    """``after`` for the Logs Platform's CONVERSATION_MESSAGE files (None: from the start)."""
    message_matcher: Callable[[str], Mapping[str, Any] | None] | None = None
    """Message text -> masked match evidence or None (the tenant's DLP profiles)."""
    open_message_ids: frozenset[str] = frozenset()
    """Message findings open before this scan: a clean re-read of one of them resolves it."""
    logins_since: float = 0.0
    """Oldest ChatGPT sign-in worth reading (Unix seconds; 0: every AUTH_LOG file kept)."""
    login_since: float | None = None
    """Oldest audit-log login worth reading (None: unbounded)."""
    limitless_routes: frozenset[str] = frozenset()
    on_limit_rejected: Callable[[str], None] | None = None
    defer_rate_limited: bool = False

    def options(self) -> ClientOptions:
        return ClientOptions(
            limitless_routes=self.limitless_routes, on_limit_rejected=self.on_limit_rejected
        )

    def admin(self) -> AdminClient:
        return AdminClient(
            self.access,
            self.budget,
            observer=self.observer,
            options=self.options(),
            checkpoints=self.checkpoints,
        )

    def compliance(self) -> ComplianceClient:
        return ComplianceClient(
            self.access,
            self.budget,
            observer=self.observer,
            options=self.options(),
            checkpoints=self.checkpoints,
        )


@dataclass
class PartResult:
    state: str
    items: Items | None = None
    error: ErrorSummary | None = None


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
            error: ErrorSummary = {
                "kind": "unavailable",
                "message": exc.reason,
                "status": exc.status,
            }
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
    return {"gpts": gpts, "gpt_files": _attached_files("gpt", gpts)}


def _attached_files(kind: str, parents: list[Any]) -> list[dict[str, Any]]:
    """The files in the current config of each GPT or ChatGPT project, for DLP."""
    return [
        _file(
            kind,
            f.id,
            f.name,
            f.created_at,
            parent_id=p.id,
            owner_id=p.owner_id,
            parent_name=p.name,
            owner_email=p.owner_email,
            visibility=p.visibility,
        )
        for p in parents
        if p.config is not None
        for f in p.config.files
    ]


def fetch_files(ctx: FetchContext, out: PartRun) -> None:
    """ChatGPT project files (for DLP) and the projects themselves (sharing and files, for the
    change history): one listing, never dependent on the conversation source."""
    client = ctx.compliance()
    out.run_many(("project_files", "projects"), lambda: _project_parts(client))


def _project_parts(client: ComplianceClient) -> dict[str, list[Any]]:
    projects = list(client.projects())
    return {"project_files": _attached_files("project", projects), "projects": projects}


#: One line for tenant health when ``/conversations`` is retired.
RETIRED_FIX = "this workspace's conversations come from the Compliance Logs Platform"
CONVERSATION_EVENT = "CONVERSATION_MESSAGE"
LOGIN_EVENT = "AUTH_LOG"
_FAILED_OUTCOMES = frozenset({"failure", "failed", "denied", "error", "blocked", "rejected"})


@dataclass
class _ConversationScan:
    """What the conversation source yields: file refs, message verdicts, counters."""

    ctx: FetchContext
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    matches: list[MessageMatch] = field(default_factory=list)
    clean: set[str] = field(default_factory=set)
    messages: int = 0
    seen_messages: set[str] = field(default_factory=set)
    newest: float | None = None

    def file(self, item: dict[str, Any]) -> None:
        self.files.setdefault(item["file_id"], item)

    def message(self, resource_id: str, text: str, **where: Any) -> None:
        """Match one message's text now (it is never stored) and keep the verdict only.
        ``where``: the ``MessageMatch`` fields that place it (``conversation_id``,
        ``user_id``, ``user_email``, ``source``, ``log_id``)."""
        if resource_id in self.seen_messages:
            return
        verdict = self._judge(resource_id, text, where)
        if verdict is not None:
            self._record(resource_id, verdict)

    def _judge(
        self, resource_id: str, text: str, where: Mapping[str, Any]
    ) -> MessageMatch | bool | None:
        """The verdict on one message's text: its match, True when it read clean, False when
        clean and of no consequence, None when there was nothing to match."""
        matcher = self.ctx.message_matcher
        if matcher is None or not text.strip():
            return None
        evidence = matcher(text)
        if evidence is None:
            return resource_id in self.ctx.open_message_ids
        return MessageMatch(resource_id=resource_id, match=evidence, **{"log_id": None, **where})

    def _record(self, resource_id: str, verdict: MessageMatch | bool) -> None:
        self.seen_messages.add(resource_id)
        self.messages += 1
        if isinstance(verdict, MessageMatch):
            self.matches.append(verdict)
        elif verdict:
            self.clean.add(resource_id)

    def digest(self, c: Conversation) -> dict[str, Any]:
        """What one listed conversation contributes, in the form its listing checkpoints:
        file refs and message verdicts (masked evidence), never the message text. Messages
        already judged in this fetch are not matched again."""
        files = []
        for f in c.files:
            owner = f.user_id or c.user_id
            files.append(
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
        verdicts: list[list[Any]] = []
        where = {
            "conversation_id": c.id,
            "user_id": c.user_id,
            "user_email": c.user_email,
            "source": "conversations",
        }
        for index, m in enumerate(c.messages):
            resource_id = m.id or f"{c.id}#{index}"
            if resource_id in self.seen_messages:
                continue
            verdict = self._judge(resource_id, m.text, where)
            if verdict is not None:
                kept = verdict.to_dict() if isinstance(verdict, MessageMatch) else verdict
                verdicts.append([resource_id, kept])
        updated = c.last_active_at if c.last_active_at is not None else c.created_at
        return {"updated": updated, "files": files, "messages": verdicts}

    def merge(self, digest: Mapping[str, Any]) -> None:
        """Add one conversation's digest (live or replayed from the listing's checkpoint)."""
        updated = digest.get("updated")
        if isinstance(updated, int | float):
            self.newest = updated if self.newest is None else max(self.newest, updated)
        for item in digest.get("files") or ():
            self.file(item)
        for resource_id, kept in digest.get("messages") or ():
            if resource_id not in self.seen_messages:
                verdict = MessageMatch.from_dict(kept) if isinstance(kept, dict) else bool(kept)
                self._record(resource_id, verdict)

    def parts(self, listing: dict[str, Any]) -> Parts:
        summary: dict[str, Any] = {
            **listing,
            "messages": self.messages,
            "messages_matched": len(self.matches),
            "conversation_files": len(self.files),
        }
        return {
            "conversation_files": list(self.files.values()),
            "message_matches": [m.to_dict() for m in self.matches],
            "message_clean": [{"resource_id": r} for r in sorted(self.clean)],
            "conversation_listing": [summary],
        }


CONVERSATION_PARTS = (
    "conversation_files",
    "message_matches",
    "message_clean",
    "conversation_listing",
    "conversations_api",
)


def fetch_conversations(ctx: FetchContext, out: PartRun) -> None:
    """The conversation source, parts of its own: they fail alone, never costing another
    fetch's parts. ``conversations_api`` records the ``/conversations`` route itself: ok, or
    unavailable when the API retired it for the workspace (the Logs Platform is read then).

    A retired route whose Logs Platform answers 404 too leaves the conversation parts
    ``unavailable`` (the tenant offers no conversation source: nothing is added or resolved
    from them, the scan is not failed for it), while ``conversation_listing`` still says
    which sources were tried and why neither answered (scan notes, ``casb health``).
    """
    produced = out.run_many(CONVERSATION_PARTS[:-1], lambda: _conversation_source(ctx))
    if produced is None:
        # Not read at all: the route shares the source's state and error.
        out.results["conversations_api"] = out.results[CONVERSATION_PARTS[0]]
        return
    listing = (produced["conversation_listing"] or [{}])[0]
    retired = listing.get("retired") or []
    if retired:
        out.results["conversations_api"] = PartResult(
            UNAVAILABLE,
            error={
                "kind": "unavailable",
                "message": f"/conversations retired: {retired[0].get('fix')}",
                "status": retired[0].get("status"),
            },
        )
    else:
        out.results["conversations_api"] = PartResult(OK, items=[])
    missing = listing.get("unavailable")
    if missing:
        error: ErrorSummary = {
            "kind": "unavailable",
            "message": str(missing.get("message")),
            "status": missing.get("status"),
            "hint": str(missing.get("hint")),
        }
        for name in CONVERSATION_PARTS[:3]:
            out.results[name] = PartResult(UNAVAILABLE, error=error)


def _conversation_source(ctx: FetchContext) -> Parts:
    """The conversation source: ``/conversations`` where it answers, else the Logs Platform.

    ``/conversations`` answering 404 or 410 means the API retired it for this workspace:
    the source is recorded as retired (with the one-line fix for tenant health) and the
    CONVERSATION_MESSAGE files of the Logs Platform are read instead. Either way the part
    holds conversation file refs (for the DLP batches), message-text DLP verdicts (masked
    evidence only) and ``conversation_listing``, the counters for the scan's stats and the
    watermark the DLP stage advances.
    """
    client = ctx.compliance()
    scan = _ConversationScan(ctx)
    stats = ConversationListing()
    try:
        for digest in client.conversation_digests(
            scan.digest, since_timestamp=ctx.conversation_watermark, stats=stats
        ):
            scan.merge(digest)
    except (NotFoundError, UpstreamError) as exc:
        if exc.status not in (404, 410) or not (exc.route or "").endswith("/conversations"):
            raise
        return _conversations_from_logs(ctx, exc.status)
    listing: dict[str, Any] = {
        "source": "conversations",
        "since": ctx.conversation_watermark,
        "newest_update": scan.newest,
        "retired": [],
        **stats.to_dict(),
    }
    return scan.parts(listing)


def _logs_client(
    ctx: FetchContext, event_type: str, after: str | None
) -> tuple[LogsClient, LogPage]:
    """The Logs Platform under the workspace scope, else the organization scope (404), with
    the first page of the listing (the probe is that page: no request is wasted)."""
    compliance = ctx.compliance()
    scopes: list[Scope] = ["workspaces"]
    if ctx.access.org_id:
        scopes.append("organizations")
    last: NotFoundError | None = None
    for scope in scopes:
        logs = LogsClient(compliance, scope)
        try:
            return logs, logs.page(event_type, after)
        except NotFoundError as exc:
            last = exc
    assert last is not None
    raise last


def _conversations_from_logs(ctx: FetchContext, retired_status: int | None) -> Parts:
    retired = [{"source": "conversations", "status": retired_status, "fix": RETIRED_FIX}]
    try:
        logs, first = _logs_client(ctx, CONVERSATION_EVENT, ctx.logs_watermark)
    except NotFoundError as exc:
        # The retired source has no replacement for this tenant: its conversation parts are
        # unavailable (not failed), and the notes say which sources answered what.
        scopes = "workspace and organization scopes" if ctx.access.org_id else "workspace scope"
        return _ConversationScan(ctx).parts(
            {
                "source": None,
                "retired": retired,
                "unavailable": {
                    "source": "logs",
                    "status": exc.status or 404,
                    "message": f"/conversations is retired (HTTP {retired_status}) and the "
                    f"Compliance Logs Platform answered 404 under the {scopes}",
                    "hint": "this workspace's conversations come from the Compliance Logs "
                    "Platform: check the tenant's workspace and org ids and that the "
                    "compliance key can read its logs",
                },
            }
        )
    scan = _ConversationScan(ctx)
    events: set[str] = set()
    unreadable: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    duplicates = unowned = 0
    log_files = 0
    last_end = ctx.logs_watermark
    for log, page_end in logs.files(CONVERSATION_EVENT, ctx.logs_watermark, first):
        log_files += 1
        try:
            for index, document in enumerate(logs.documents(log)):
                if document is UNDECODABLE:
                    unreadable["not_json"] += 1
                    continue
                record = read_record(document, CONVERSATION_EVENT)
                if record is None:
                    unreadable["not_an_object"] += 1
                    continue
                key = record.event_id or f"{log.id}#{index}"
                if key in events:
                    duplicates += 1
                    continue
                events.add(key)
                if not record.understood_as_message:
                    unreadable["no_text_or_files"] += 1
                    continue
                if record.files and not record.user_id:
                    # A conversation file is downloaded through its owner's route: without a
                    # user id it cannot be fetched (counted, not guessed).
                    unowned += len(record.files)
                for mention in record.files if record.user_id else ():
                    scan.file(
                        _file(
                            "conversation",
                            mention.id,
                            mention.name,
                            None,
                            parent_id=record.conversation_id,
                            owner_id=record.user_id,
                            owner_email=record.user_email,
                        )
                    )
                scan.message(
                    message_resource_id(record.message_id, log.id, index),
                    record.text,
                    conversation_id=record.conversation_id,
                    user_id=record.user_id,
                    user_email=record.user_email,
                    source="logs",
                    log_id=log.id,
                )
        except FileSkipped as exc:
            skipped[exc.reason] += 1
        last_end = page_end or log.end_time or last_end
    listing = {
        "source": "logs",
        "scope": logs.scope,
        "since": 0.0,
        "newest_update": None,
        "retired": retired,
        "logs_after": ctx.logs_watermark,
        "logs_last_end_time": last_end,
        "log_files": log_files,
        "log_files_skipped": dict(skipped),
        "duplicate_records": duplicates,
        "file_refs_without_user": unowned,
        "unreadable_records": sum(unreadable.values()),
        "unreadable_reasons": dict(unreadable),
    }
    return scan.parts(listing)


LOGIN_PARTS = ("chatgpt_logins", "chatgpt_login_stats")


def fetch_chatgpt_logins(ctx: FetchContext, out: PartRun) -> None:
    """ChatGPT sign-ins (``chatgpt_logins``) and their counters (``chatgpt_login_stats``).

    A Logs Platform that cannot be read leaves ``chatgpt_logins`` unavailable (one signal
    fewer for the inactive-user rule) while the stats still say why.
    """
    produced = out.prerequisite(LOGIN_PARTS, lambda: _chatgpt_logins(ctx))
    if produced is None:
        return
    stats = produced["chatgpt_login_stats"]
    out.results["chatgpt_login_stats"] = PartResult(OK, items=stats)
    if stats[0].get("available"):
        out.results["chatgpt_logins"] = PartResult(OK, items=produced["chatgpt_logins"])
    else:
        out.results["chatgpt_logins"] = PartResult(
            UNAVAILABLE,
            error={
                "kind": "unavailable",
                "message": stats[0].get("hint") or "the Compliance Logs Platform is unavailable",
                "status": stats[0].get("status"),
            },
        )


def _chatgpt_logins(ctx: FetchContext) -> Parts:
    """Newest ChatGPT sign-in per workspace user, from the Logs Platform's AUTH_LOG files.

    Read from ``logins_since`` each scan (the signal is recomputed, not accumulated). A
    Logs Platform that answers 404 under both scopes, or 403, gives no signal (``available``
    false, with the reason), like audit logging switched off: the inactive-user rule uses its
    other signals.
    """
    after = unix_iso_z(ctx.logins_since, timespec="auto") if ctx.logins_since > 0 else None
    try:
        logs, first = _logs_client(ctx, LOGIN_EVENT, after)
    except (NotFoundError, PermissionDeniedError) as exc:
        # An optional signal: no Logs Platform (or no access to it) is one signal fewer.
        unavailable = {"available": False, "status": exc.status, "hint": exc.hint}
        return {"chatgpt_logins": [], "chatgpt_login_stats": [unavailable]}
    latest: dict[tuple[str | None, str | None], float] = {}
    unreadable: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    records = failed = log_files = 0
    for log, _end in logs.files(LOGIN_EVENT, after, first):
        log_files += 1
        try:
            for document in logs.documents(log):
                record = None if document is UNDECODABLE else read_record(document, LOGIN_EVENT)
                if record is None:
                    unreadable["not_json" if document is UNDECODABLE else "not_an_object"] += 1
                    continue
                if not record.understood_as_login:
                    unreadable["no_user_or_time"] += 1
                    continue
                records += 1
                if _failed_login(document):
                    failed += 1
                    continue
                key = (record.user_email, record.user_id)
                assert record.timestamp is not None
                if record.timestamp > latest.get(key, float("-inf")):
                    latest[key] = record.timestamp
        except FileSkipped as exc:
            skipped[exc.reason] += 1
    logins = [
        ChatGptLogin(email=email, user_id=user_id, last_login_at=ts).model_dump(mode="json")
        for (email, user_id), ts in sorted(latest.items(), key=lambda kv: str(kv[0]))
    ]
    stats = {
        "available": True,
        "scope": logs.scope,
        "after": after,
        "log_files": log_files,
        "log_files_skipped": dict(skipped),
        "records": records,
        "failed_logins": failed,
        "unreadable_records": sum(unreadable.values()),
        "unreadable_reasons": dict(unreadable),
    }
    return {"chatgpt_logins": logins, "chatgpt_login_stats": [stats]}


def _failed_login(document: Any) -> bool:
    """An AUTH_LOG record that says the sign-in failed (``status``/``outcome``/``result``)."""
    if not isinstance(document, dict):
        return False
    for key in ("status", "outcome", "result"):
        value = document.get(key)
        if isinstance(value, str) and value.strip().lower() in _FAILED_OUTCOMES:
            return True
        if isinstance(value, dict):
            nested = value.get("status") or value.get("result")
            if isinstance(nested, str) and nested.strip().lower() in _FAILED_OUTCOMES:
                return True
    return False


def _file(
    kind: str,
    file_id: str,
    name: str | None,
    created_at: float | None,
    *,
    parent_id: str | None,
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
    notes: str | None = None
    """A one-item part whose item is copied into the fetch summary (scan stats, health)."""


_SPECS: dict[str, FetchSpec] = {
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
            ("project_files", "projects"),
            "project_files",
            fetch_files,
            needs_workspace=True,
            dlp_only=True,
        ),
        FetchSpec(
            "conversations",
            CONVERSATION_PARTS,
            "conversation_files",
            fetch_conversations,
            needs_workspace=True,
            dlp_only=True,
            notes="conversation_listing",
        ),
        FetchSpec(
            "chatgpt_logins",
            LOGIN_PARTS,
            "chatgpt_logins",
            fetch_chatgpt_logins,
            needs_workspace=True,
            notes="chatgpt_login_stats",
        ),
    )
}
if set(_SPECS) != set(FETCH_RESOURCES):
    raise RuntimeError("every fetch resource of schemas.stages needs exactly one FetchSpec")
#: The fetch of every resource in ``schemas.stages.FETCH_RESOURCES``, in plan order.
FETCHES: dict[str, FetchSpec] = {resource: _SPECS[resource] for resource in FETCH_RESOURCES}


def ok_part_key(summaries: Mapping[str, FetchSummary], part: str) -> str | None:
    """The snapshot key of ``part`` if some fetch stored it successfully, else None."""
    for summary in summaries.values():
        key = (summary.get("keys") or {}).get(part)
        if key:
            return str(key)
    return None


def ok_parts(summaries: Mapping[str, FetchSummary]) -> set[str]:
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
