"""The simulator's HTTP surface: one Starlette app serving both OpenAI APIs and the blob host.

URL layout (one port):
  /openai/v1/organization/...                              Admin API   (base .../openai/v1)
  /chatgpt/v1/compliance/workspaces/{workspace_id}/...     Compliance  (base .../chatgpt/v1)
  /_blob/{token}                                           storage host for file downloads (no auth)
  /_sim/...                                                control: stats, faults, tenants,
                                                           ground truth, time scale
Anything else (e.g. admin paths on the chatgpt base) is a 404 with an OpenAI error body.
Every API request counts in its tenant's ``http_version:<version>`` counter, every file blob
download in ``blob_http_version:<version>`` (``2`` when a client negotiated HTTP/2 with
``simulator.server.start_tls_in_thread``).

Auth decisions (documented choices where the published API says nothing):
  no/unknown key -> 401 invalid_api_key; a known key on the wrong API (compliance or project key
  on Admin routes, admin or project key on Compliance routes) -> 403 insufficient_permissions;
  unknown workspace -> 404 workspace_not_found; a compliance key of another workspace -> 403.
"""

from __future__ import annotations

import asyncio
import json
import math
import uuid
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from simulator import logs as simlogs
from simulator import render
from simulator.faults import Fault
from simulator.files import CONTENT_TYPES, large_text_stream
from simulator.model import Collection, ComplianceEdges, Gpt
from simulator.state import Tenant
from simulator.world import World

_BAD_GATEWAY_HTML = (
    "<html><head><title>502 Bad Gateway</title></head><body>upstream error</body></html>"
)
ADMIN_PREFIX = "/openai/v1"
COMPLIANCE_PREFIX = "/chatgpt/v1"
WS = COMPLIANCE_PREFIX + "/compliance/workspaces/{workspace_id}"
ORG = COMPLIANCE_PREFIX + "/compliance/organizations/{org_id}"

# Compliance list endpoints: (default limit, max limit).
# Maxima beyond the documented ones are our choice.
COMPLIANCE_LIMITS: dict[str, tuple[int, int]] = {
    "users": (200, 200),
    "conversations": (500, 500),
    "gpts": (20, 100),
    "gpt_configs": (20, 100),
    "gpt_shared_users": (100, 100),
    "projects": (20, 100),
    "project_configs": (20, 100),
    "project_shared_users": (100, 100),
    "memories": (200, 200),
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        type_: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = (
            status,
            message,
            type_,
            param,
            code,
        )
        self.headers = headers or {}


def error_response(
    status: int,
    message: str,
    type_: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return Response(
        json.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


def protocol_counter(request: Request, prefix: str = "") -> str:
    """The per-tenant counter of the HTTP version a request came over (``http_version:2``,
    ``http_version:1.1``; ``blob_http_version:...`` for downloads): how a test sees which
    protocol a client negotiated."""
    return f"{prefix}http_version:{request.scope.get('http_version', '?')}"


def _json(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(obj, separators=(",", ":")),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def _duration(seconds: float) -> str:
    if seconds < 1:
        return f"{max(1, int(seconds * 1000))}ms"
    m, s = divmod(seconds, 60)
    return f"{int(m)}m{s:.0f}s" if m else f"{s:.1f}s"


@dataclass
class Ctx:
    """What a route handler needs: the request, the tenant, and the fault flags for this request."""

    request: Request
    tenant: Tenant
    api: str
    ignore_after: bool = False
    force_has_more: bool = False
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def q(self) -> Any:
        return self.request.query_params

    def p(self, name: str) -> str:
        return str(self.request.path_params[name])

    def multi(self, name: str) -> list[str]:
        """Array params: accepts both `x=a&x=b` and `x[]=a&x[]=b`."""
        return [*self.q.getlist(name), *self.q.getlist(name + "[]")]

    def after(self) -> str | None:
        return None if self.ignore_after else (self.q.get("after") or None)

    def blob_base(self) -> str:
        return str(self.request.base_url).rstrip("/") + "/_blob"

    def bool_param(self, name: str, default: bool = False) -> bool:
        raw = self.q.get(name)
        if raw is None:
            return default
        if raw.lower() in ("true", "1"):
            return True
        if raw.lower() in ("false", "0"):
            return False
        raise ApiError(400, f"Invalid value for '{name}': expected a boolean.", param=name)


Handler = Callable[[Ctx], Any]


# --------------------------------------------------------------------------- paging


def _int_param(ctx: Ctx, name: str, default: int, lo: int, hi: int | None, clamp: bool) -> int:
    raw = ctx.q.get(name)
    if raw is None:
        return default
    try:
        val = int(raw)
    except ValueError:
        raise ApiError(400, f"Invalid '{name}': expected an integer.", param=name) from None
    if val < lo or (hi is not None and val > hi and not clamp):
        raise ApiError(400, f"Invalid '{name}': must be between {lo} and {hi}.", param=name)
    return min(val, hi) if hi is not None else val


def _collect(
    ordered: list[Any], start: int, limit: int, pred: Callable[[Any], bool] | None
) -> tuple[list[Any], bool]:
    out: list[Any] = []
    i = start
    n = len(ordered)
    while i < n and len(out) < limit:
        if pred is None or pred(ordered[i]):
            out.append(ordered[i])
        i += 1
    more = False
    while i < n:
        if pred is None or pred(ordered[i]):
            more = True
            break
        i += 1
    return out, more


def _start(ctx: Ctx, coll: Collection[Any]) -> int:
    after = ctx.after()
    if after is not None and not coll.known_cursor(after):
        raise ApiError(
            400, f"Invalid 'after': no object with id '{after}' in this list.", param="after"
        )
    return coll.start_after(after)


def admin_list(
    ctx: Ctx,
    coll: Collection[Any],
    render_fn: Callable[[Any], dict[str, Any]],
    pred: Callable[[Any], bool] | None = None,
    reverse: bool = False,
) -> dict[str, Any]:
    limit = _int_param(ctx, "limit", 20, 1, 100, clamp=False)
    start = _start(ctx, coll)
    ordered = coll.ordered()
    if reverse:
        after = ctx.after()
        start = 0 if after is None else len(ordered) - start + (1 if after in coll else 0)
        ordered = ordered[::-1]
    items, more = _collect(ordered, start, limit, pred)
    data = [render_fn(x) for x in items]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": more or ctx.force_has_more,
    }


def _variable_size(ctx: Ctx, limit: int) -> int:
    """Compliance pages may hold fewer items than `limit` even when more remain."""
    if limit < 4:
        return limit
    h = zlib.crc32(f"{ctx.tenant.slug}:{ctx.request.url.path}:{ctx.q.get('after')}".encode())
    if h % 3:
        return limit
    return max(1, limit - 1 - h % max(1, limit // 4))


def compliance_page(
    ctx: Ctx,
    ordered: list[Any],
    start: int,
    endpoint: str,
    render_fn: Callable[[Any], dict[str, Any]],
    pred: Callable[[Any], bool] | None = None,
    id_of: Callable[[dict[str, Any]], str] = lambda d: d["id"],
    cap: int | None = None,
) -> dict[str, Any]:
    default, hi = COMPLIANCE_LIMITS[endpoint]
    limit = _variable_size(ctx, _int_param(ctx, "limit", default, 1, hi, clamp=True))
    if cap is not None:
        limit = max(1, min(limit, cap))
    items, more = _collect(ordered, start, limit, pred)
    data = [render_fn(x) for x in items]
    return {
        "object": "list",
        "data": data,
        "last_id": id_of(data[-1]) if data else None,
        "has_more": more or ctx.force_has_more,
    }


# --------------------------------------------------------------------------- Admin handlers


def _admin_user_list(ctx: Ctx) -> dict[str, Any]:
    t = ctx.tenant
    emails = set(ctx.multi("emails"))
    pred = (lambda u: u.email in emails) if emails else None
    return admin_list(ctx, t.users, lambda u: render.user(t, u), pred)


def _not_found(what: str, ident: str) -> ApiError:
    return ApiError(404, f"No such {what}: '{ident}'.", code=None)


def _invite_list(ctx: Ctx) -> dict[str, Any]:
    return admin_list(ctx, ctx.tenant.invites, lambda i: render.invite(ctx.tenant, i))


def _admin_key_list(ctx: Ctx) -> dict[str, Any]:
    order = ctx.q.get("order", "asc")
    if order not in ("asc", "desc"):
        raise ApiError(400, "Invalid 'order': expected 'asc' or 'desc'.", param="order")
    return admin_list(
        ctx,
        ctx.tenant.admin_keys,
        lambda k: render.admin_key(ctx.tenant, k),
        reverse=order == "desc",
    )


def _project_list(ctx: Ctx) -> dict[str, Any]:
    include = ctx.bool_param("include_archived")
    pred = None if include else (lambda p: p.archived_at is None)
    return admin_list(ctx, ctx.tenant.projects, lambda p: render.project(ctx.tenant, p), pred)


def _project(ctx: Ctx) -> Any:
    p = ctx.tenant.projects.get(ctx.p("project_id"))
    if p is None:
        raise _not_found("project", ctx.p("project_id"))
    return p


def _project_get(ctx: Ctx) -> dict[str, Any]:
    return render.project(ctx.tenant, _project(ctx))


def _project_key_list(ctx: Ctx) -> dict[str, Any]:
    p = _project(ctx)
    access = ctx.q.get("owner_project_access")
    if access not in (None, "active", "inactive", "any"):
        raise ApiError(
            400,
            "Invalid 'owner_project_access': expected active, inactive or any.",
            param="owner_project_access",
        )
    want = access or "active"  # omitted: membership-based visibility hides inactive-owner keys
    pred = None if want == "any" else (lambda k: k.owner_project_access == want)
    return admin_list(
        ctx,
        ctx.tenant.project_key_collection(p.id),
        lambda k: render.project_key(ctx.tenant, k),
        pred,
    )


def _reject_archived(p: Any, what: str) -> None:
    if p.archived_at is not None:
        raise ApiError(
            400, f"Project '{p.id}' is archived: its {what} cannot be listed.", param="project_id"
        )


def _project_children(
    what: str, rows: Callable[[Tenant, str], Collection[Any]], show: Callable[[Tenant, Any], Any]
) -> Handler:
    """The list of one kind of a project's children (refused for an archived project)."""

    def handler(ctx: Ctx) -> dict[str, Any]:
        p = _project(ctx)
        _reject_archived(p, what)
        return admin_list(ctx, rows(ctx.tenant, p.id), lambda x: show(ctx.tenant, x))

    return handler


def _get_one(
    what: str,
    param: str,
    rows: Callable[[Ctx], Collection[Any]],
    show: Callable[[Tenant, Any], Any],
) -> Handler:
    """The object named by path parameter ``param`` among ``rows(ctx)``, else a 404."""

    def handler(ctx: Ctx) -> dict[str, Any]:
        item = rows(ctx).get(ctx.p(param))
        if item is None:
            raise _not_found(what, ctx.p(param))
        return show(ctx.tenant, item)

    return handler


_service_account_list = _project_children(
    "service accounts", lambda t, project: t.service_accounts[project], render.service_account
)
_project_user_list = _project_children(
    "users", lambda t, project: t.project_members[project], render.project_user
)
_admin_user_get = _get_one("user", "user_id", lambda ctx: ctx.tenant.users, render.user)
_invite_get = _get_one("invite", "invite_id", lambda ctx: ctx.tenant.invites, render.invite)
_admin_key_get = _get_one(
    "admin API key", "key_id", lambda ctx: ctx.tenant.admin_keys, render.admin_key
)
_project_key_get = _get_one(
    "project API key",
    "key_id",
    lambda ctx: ctx.tenant.project_key_collection(_project(ctx).id),
    render.project_key,
)
_service_account_get = _get_one(
    "service account",
    "sa_id",
    lambda ctx: ctx.tenant.service_accounts[_project(ctx).id],
    render.service_account,
)
_project_user_get = _get_one(
    "project user",
    "user_id",
    lambda ctx: ctx.tenant.project_members[_project(ctx).id],
    render.project_user,
)


def _audit_log_list(ctx: Ctx) -> dict[str, Any]:
    t = ctx.tenant
    types = set(ctx.multi("event_types"))
    actors = set(ctx.multi("actor_ids"))
    emails = set(ctx.multi("actor_emails"))
    projects = set(ctx.multi("project_ids"))
    bounds: list[tuple[str, float]] = []
    for op in ("gt", "gte", "lt", "lte"):
        raw = ctx.q.get(f"effective_at[{op}]")
        if raw is not None:
            try:
                bounds.append((op, float(raw)))
            except ValueError:
                raise ApiError(
                    400, f"Invalid 'effective_at[{op}]'.", param=f"effective_at[{op}]"
                ) from None
    before = ctx.q.get("before")
    before_key: tuple[Any, ...] | None = None
    if before is not None:
        ev = t.audit_logs.get(before)
        if ev is None:
            raise ApiError(400, f"Invalid 'before': no object with id '{before}'.", param="before")
        before_key = (ev.effective_at, ev.id)

    def pred(ev: Any) -> bool:
        if types and ev.type not in types:
            return False
        if actors and ev.actor_user_id not in actors:
            return False
        if emails and ev.actor_email not in emails:
            return False
        if projects and ev.project_id not in projects:
            return False
        if before_key is not None and (ev.effective_at, ev.id) >= before_key:
            return False
        for op, val in bounds:
            ts = int(ev.effective_at)
            if (
                (op == "gt" and not ts > val)
                or (op == "gte" and not ts >= val)
                or (op == "lt" and not ts < val)
                or (op == "lte" and not ts <= val)
            ):
                return False
        return True

    return admin_list(ctx, t.audit_logs, lambda e: render.audit_log(t, e), pred)


# --------------------------------------------------------------------------- Compliance handlers


def _file_format(ctx: Ctx) -> str:
    ff = ctx.q.get("file_format", "url")
    if ff not in ("url", "id"):
        raise ApiError(400, "Invalid 'file_format': expected 'url' or 'id'.", param="file_format")
    return ff


def _ws_user_list(ctx: Ctx) -> dict[str, Any]:
    t = ctx.tenant
    return compliance_page(
        ctx,
        t.workspace_users.ordered(),
        _start(ctx, t.workspace_users),
        "users",
        lambda u: render.workspace_user(t, u),
    )


def _conversation_list(ctx: Ctx) -> dict[str, Any]:
    t = ctx.tenant
    if t.edges.conversations == "retired":
        raise ApiError(
            t.edges.retired_status,
            "The conversations export has been retired: read CONVERSATION_MESSAGE files "
            "from the Compliance Logs Platform (/compliance/workspaces/{id}/logs).",
            code="endpoint_retired",
        )
    ff = _file_format(ctx)
    after = ctx.after()
    since_raw = ctx.q.get("since_timestamp")
    if after is None and since_raw is None and not ctx.ignore_after:
        raise ApiError(
            400,
            "Missing 'since_timestamp' (use 0 for a full export) or 'after'.",
            param="since_timestamp",
        )
    users = set(ctx.multi("users"))
    if len(users) >= 100:
        raise ApiError(400, "Too many 'users': at most 99 per request.", param="users")
    since: float | None = None
    if after is None and since_raw is not None:
        try:
            since = float(since_raw)
        except ValueError:
            raise ApiError(
                400,
                "Invalid 'since_timestamp': expected a Unix timestamp.",
                param="since_timestamp",
            ) from None
    start = _start(ctx, t.conversations)

    def pred(c: Any) -> bool:
        if users and c.user_id not in users:
            return False
        return since is None or c.last_update >= since

    page = compliance_page(
        ctx,
        t.conversations.ordered(),
        start,
        "conversations",
        lambda c: render.conversation(t, c, ff, ctx.blob_base()),
        pred,
        cap=t.edges.conversation_page,
    )
    if t.edges.relist:
        _relist(ctx, page)
    return page


def _relist(ctx: Ctx, page: dict[str, Any]) -> None:
    """The page's last conversation is updated right after it was served (once per
    listing): it moves to the end of the order and is listed again, while the cursor
    just handed out keeps its place."""
    t = ctx.tenant
    if ctx.after() is None:
        t.relist_bumped.clear()
    ids = [item["id"] for item in page["data"]]
    t.conversations.served(ids)
    if not page["has_more"] or not ids or ids[-1] in t.relist_bumped:
        return
    conv = t.conversations.get(ids[-1])
    if conv is None:
        return
    t.relist_bumped.add(conv.id)
    conv.last_update = max(conv.last_update, t.world.clock())
    t.conversations.touched(conv.id)


def _gpt_coll(ctx: Ctx, kind: str) -> Collection[Gpt]:
    return ctx.tenant.gpts if kind == "gpt" else ctx.tenant.cprojects


def _gpt_list(kind: str) -> Handler:
    def handler(ctx: Ctx) -> dict[str, Any]:
        ff = _file_format(ctx)
        coll = _gpt_coll(ctx, kind)
        return compliance_page(
            ctx,
            coll.ordered(),
            _start(ctx, coll),
            kind + "s",
            lambda g: render.gpt(ctx.tenant, g, ff, ctx.blob_base()),
        )

    return handler


def _gpt_obj(ctx: Ctx, kind: str) -> Gpt:
    ident = ctx.p("gpt_id")
    g = _gpt_coll(ctx, kind).get(ident)
    if g is None:
        raise _not_found("GPT" if kind == "gpt" else "project", ident)
    return g


def _gpt_get(kind: str) -> Handler:
    def handler(ctx: Ctx) -> dict[str, Any]:
        return render.gpt(ctx.tenant, _gpt_obj(ctx, kind), _file_format(ctx), ctx.blob_base())

    return handler


def _gpt_configs(kind: str) -> Handler:
    def handler(ctx: Ctx) -> dict[str, Any]:
        g = _gpt_obj(ctx, kind)
        ff = _file_format(ctx)
        after = ctx.after()
        ids = [c.id for c in g.configs]
        if after is not None and after not in ids:
            raise ApiError(400, f"Invalid 'after': no configuration '{after}'.", param="after")
        start = 0 if after is None else ids.index(after) + 1
        return compliance_page(
            ctx,
            g.configs,
            start,
            kind + "_configs",
            lambda c: render.config(ctx.tenant, g, c, ff, ctx.blob_base()),
        )

    return handler


def _gpt_shared_users(kind: str) -> Handler:
    def handler(ctx: Ctx) -> dict[str, Any]:
        g = _gpt_obj(ctx, kind)
        recips = sorted(g.recipients)
        after = ctx.after()
        ids = [r[0] for r in recips]
        start = 0 if after is None else (ids.index(after) + 1 if after in ids else len(ids))
        return compliance_page(
            ctx,
            recips,
            start,
            kind + "_shared_users",
            lambda r: render.shared_user(ctx.tenant, kind, r[0], r[1]),
        )

    return handler


def _memory_list(ctx: Ctx) -> dict[str, Any]:
    t = ctx.tenant
    since_raw = ctx.q.get("since_timestamp")
    since = float(since_raw) if since_raw else None

    def pred(u: Any) -> bool:
        return render.has_memory(u) and (since is None or u.created_at + 3600 >= since)

    return compliance_page(
        ctx,
        t.workspace_users.ordered(),
        _start(ctx, t.workspace_users),
        "memories",
        lambda u: render.memory(t, u),
        pred,
    )


def _user_memories(ctx: Ctx) -> dict[str, Any]:
    u = ctx.tenant.workspace_users.get(ctx.p("user_id"))
    if u is None:
        raise _not_found("user", ctx.p("user_id"))
    data = [render.memory(ctx.tenant, u)] if render.has_memory(u) else []
    return {
        "object": "list",
        "data": data,
        "last_id": data[-1]["id"] if data else None,
        "has_more": False,
    }


def _logs_scope_ok(ctx: Ctx, scope: str) -> None:
    allowed = ctx.tenant.edges.logs_scope
    if allowed not in ("both", scope):
        raise ApiError(
            404,
            f"Unknown request URL: the Logs Platform of this tenant is under /{allowed}/.",
            code="unknown_url",
        )


def _log_list(scope: str) -> Handler:
    def handler(ctx: Ctx) -> dict[str, Any]:
        _logs_scope_ok(ctx, scope)
        event_type = ctx.q.get("event_type")
        if event_type not in simlogs.EVENT_TYPES:
            raise ApiError(
                400,
                "Invalid 'event_type': expected one of " + ", ".join(simlogs.EVENT_TYPES) + ".",
                param="event_type",
            )
        raw_limit = ctx.q.get("limit")
        limit = 100
        if raw_limit is not None:
            try:
                limit = int(raw_limit)
            except ValueError:
                raise ApiError(
                    422, "Invalid 'limit': expected an integer.", param="limit"
                ) from None
            if not 1 <= limit <= 100:
                raise ApiError(422, "'limit' must be between 1 and 100.", param="limit")
        after: float | None = None
        raw_after = ctx.q.get("after")
        if raw_after:
            try:
                after = simlogs.parse_after(raw_after)
            except ValueError:
                raise ApiError(
                    400,
                    "Invalid 'after': expected an ISO-8601 date-time with a time zone.",
                    param="after",
                ) from None
        matching = sorted(
            (
                log
                for log in ctx.tenant.log_files
                if log.event_type == event_type
                and (after is None or simlogs.parse_after(simlogs.iso(log.end_time)) > after)
            ),
            key=lambda log: (log.end_time, log.id),
        )
        page = matching[:limit]
        data = [simlogs.listing_item(ctx.tenant, log) for log in page]
        return {
            "object": "list",
            "data": data,
            "has_more": len(matching) > len(page),
            "last_end_time": data[-1]["end_time"] if data else raw_after,
        }

    return handler


def _log_redirect(scope: str) -> Handler:
    def handler(ctx: Ctx) -> Response:
        _logs_scope_ok(ctx, scope)
        log_id = ctx.p("log_id")
        if not any(log.id == log_id for log in ctx.tenant.log_files):
            raise ApiError(404, f"Log file '{log_id}' not found.", code="log_not_found")
        token = ctx.tenant.world.log_token(ctx.tenant.slug, log_id)
        return Response(status_code=307, headers={"Location": f"{ctx.blob_base()}/logs/{token}"})

    return handler


def _file_redirect(location: str) -> Handler:
    def handler(ctx: Ctx) -> Response:
        fid = ctx.p("file_id")
        f = ctx.tenant.files.get(fid)
        if (
            f is None
            or f.location != location
            or (location == "conversation" and f.owner_user_id != ctx.p("user_id"))
        ):
            raise ApiError(404, f"File '{fid}' not found.", code="file_not_found")
        if f.expired:
            raise ApiError(
                410, f"File '{fid}' has expired and is no longer available.", code="file_expired"
            )
        token = ctx.tenant.world.blob_token(ctx.tenant.slug, fid)
        return Response(status_code=307, headers={"Location": f"{ctx.blob_base()}/{token}"})

    return handler


def _edge_response(f: Fault, api: str, list_route: bool, request: Request) -> Response | None:
    """Documented API edges switched on per tenant (see simulator.faults), or None."""
    if f.kind == "audit_logging_off":
        return error_response(
            400,
            "Audit logging is not enabled for this organization. An owner can turn it on in "
            "the organization's data controls settings.",
            code="audit_logging_disabled",
        )
    if f.kind == "limit_rejected" and list_route and "limit" in request.query_params:
        status = f.status if f.status in (400, 422) else 422
        if api == "admin":
            return error_response(
                status, "Invalid 'limit': this list does not take a page size.", param="limit"
            )
        detail = [
            {
                "loc": ["query", "limit"],
                "msg": "Extra inputs are not permitted",
                "type": "extra_forbidden",
            }
        ]
        return _json({"detail": detail}, status)
    return None


async def _trickled(data: bytes, every: float) -> AsyncIterator[bytes]:
    """A body sent 16 bytes at a time, ``every`` seconds apart (the ``trickle`` fault)."""
    for start in range(0, len(data), 16):
        yield data[start : start + 16]
        await asyncio.sleep(every)


def _fault_response(
    fired: Iterable[Fault], api: str, list_route: bool, request: Request
) -> Response | None:
    """The response a fired fault puts in place of the handler's (storms, server errors,
    redirects, then documented API edges), or None."""
    for f in fired:
        if f.kind == "rate_limit_storm":
            return error_response(
                429,
                "Rate limit reached for requests. Please try again later.",
                type_="requests",
                code="rate_limit_exceeded",
                headers={
                    "retry-after": str(max(1, math.ceil(f.retry_after))),
                    "retry-after-ms": str(int(f.retry_after * 1000)),
                },
            )
        if f.kind == "rate_limit_no_headers":
            return error_response(
                429,
                "Too many requests for this endpoint. Please slow down.",
                type_="requests",
                code="rate_limit_exceeded",
            )
        if f.kind == "server_error":
            return error_response(
                f.status,
                "The server had an error while processing your request. Sorry about that!",
                type_="server_error",
                code=None,
            )
        if f.kind == "redirect_elsewhere" and api == "files" and f.location:
            return Response(status_code=307, headers={"Location": f.location})
    for f in fired:
        edge = _edge_response(f, api, list_route, request)
        if edge is not None:
            return edge
    return None


# --------------------------------------------------------------------------- the app


class SimulatorApp:
    """Builds the Starlette app over a World; keeps no state of its own."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.app = Starlette(
            routes=self._routes(), exception_handlers={404: self._on_404, 405: self._on_405}
        )

    # ---------------------------------------------------------------- plumbing

    async def _on_404(self, request: Request, exc: Exception) -> Response:
        return error_response(
            404,
            f"Unknown request URL: GET {request.url.path}. Please check the URL.",
            code="unknown_url",
        )

    async def _on_405(self, request: Request, exc: Exception) -> Response:
        return error_response(405, f"Method {request.method} not allowed on {request.url.path}.")

    def _route(
        self, path: str, api: str, group: str, handler: Handler, list_route: bool = False
    ) -> Route:
        async def endpoint(request: Request) -> Response:
            return await self._serve(request, api, group, handler, list_route)

        return Route(path, endpoint, methods=["GET"])

    def _authenticate(self, request: Request) -> tuple[Tenant, str] | Response:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer ") or not header[7:].strip():
            return error_response(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                code="missing_api_key",
            )
        hit = self.world.lookup_key(header[7:].strip())
        if hit is None:
            return error_response(
                401,
                "Incorrect API key provided. You can find your API key in your "
                "organization settings.",
                code="invalid_api_key",
            )
        return hit

    async def _serve(
        self, request: Request, api: str, group: str, handler: Handler, list_route: bool
    ) -> Response:
        """One API request: auth, faults, rate limit, then the handler under the world lock."""
        world = self.world
        auth = self._authenticate(request)
        if isinstance(auth, Response):
            return auth
        tenant, kind = auth
        world.limiter.count(tenant.slug, protocol_counter(request))
        fired = world.faults.fire(tenant.slug, api, request.url.path)
        kinds = {f.kind for f in fired}
        for f in fired:
            world.limiter.count(tenant.slug, f"fault:{f.kind}")
        denied = self._authorize(request, api, tenant, kind, kinds)
        if denied is not None:
            return denied
        rl_headers, limited = self._rate_limit(tenant, kind, group)
        if limited is not None:
            return limited
        for f in fired:
            if f.kind == "slow":
                await f.hold()
        faulted = _fault_response(fired, api, list_route, request)
        if faulted is not None:
            return faulted
        ctx = Ctx(request, tenant, api)
        if list_route and "repeated_cursor" in kinds:
            ctx.ignore_after, ctx.force_has_more = True, True
        headers = {
            **rl_headers,
            "x-request-id": "req_" + uuid.uuid4().hex,
            "openai-processing-ms": "3",
            "openai-version": "2020-10-01",
        }
        if api == "admin":
            headers["openai-organization"] = tenant.org_id
        try:
            with world.lock:
                result = handler(ctx)
        except ApiError as e:
            return error_response(
                e.status, e.message, e.type, e.param, e.code, {**headers, **e.headers}
            )
        if isinstance(result, Response):
            return result
        return self._finish(result, fired, list_route, headers)

    def _authorize(
        self, request: Request, api: str, tenant: Tenant, kind: str, kinds: set[str]
    ) -> Response | None:
        """The error for a revoked key, a key of the wrong kind or another workspace."""
        if "revoked_key" in kinds:
            return error_response(
                401, "Incorrect API key provided: the key has been revoked.", code="invalid_api_key"
            )
        if api == "admin":
            if kind != "admin":
                return error_response(
                    403,
                    "You have insufficient permissions for this operation: the Admin API "
                    "requires an admin key (sk-admin-...).",
                    code="insufficient_permissions",
                )
            return None
        if kind != "compliance":
            return error_response(
                403,
                "This key does not have the Compliance API 'read' scope. Ask OpenAI "
                "support to grant compliance scopes to a dedicated key.",
                code="insufficient_permissions",
            )
        if "org_id" in request.path_params:
            ws = request.path_params["org_id"]
            target = self.world.tenant_by_org(ws)
        else:
            ws = request.path_params.get("workspace_id", "")
            target = self.world.tenant_by_workspace(ws)
        if target is None or "workspace_gone" in kinds:
            return error_response(404, f"Workspace '{ws}' not found.", code="workspace_not_found")
        if target is not tenant:
            return error_response(
                403,
                f"This key has no access to workspace '{ws}'.",
                code="workspace_access_denied",
            )
        return None

    def _rate_limit(
        self, tenant: Tenant, kind: str, group: str
    ) -> tuple[dict[str, str], Response | None]:
        """The ``x-ratelimit-*`` headers, and the 429 when the bucket is empty."""
        limiter = self.world.limiter
        decision = limiter.check(tenant.slug, kind, group)
        rl_headers = {
            "x-ratelimit-limit-requests": str(decision.limit),
            "x-ratelimit-remaining-requests": str(decision.remaining),
            "x-ratelimit-reset-requests": _duration(decision.reset_s),
        }
        if decision.allowed:
            return rl_headers, None
        wait = decision.retry_after_s
        headers = {
            **rl_headers,
            "retry-after": str(max(1, math.ceil(wait))),
            "retry-after-ms": str(max(1, math.ceil(wait * 1000))),
        }
        return rl_headers, error_response(
            429,
            f"Rate limit reached for {group} on this key: limit {decision.limit} "
            f"requests per {limiter.window_s:g}s. Please try again in {wait:.3f}s.",
            type_="requests",
            code="rate_limit_exceeded",
            headers=headers,
        )

    def _finish(
        self, body: Any, fired: Iterable[Fault], list_route: bool, headers: dict[str, str]
    ) -> Response:
        for f in fired:
            if f.kind == "huge_page" and list_route and body.get("data"):
                first = body["data"][0]
                body["data"] = [
                    {**first, "id": f"{first['id']}-dup{n:05d}"} for n in range(f.items)
                ]
                body["has_more"] = False
                body["last_id"] = body["data"][-1]["id"]
                if "first_id" in body:
                    body["first_id"] = body["data"][0]["id"]
            elif f.kind == "unknown_fields":
                body.update(render.UNKNOWN_FIELDS)
                for item in body.get("data", []) if isinstance(body.get("data"), list) else []:
                    item.update(render.UNKNOWN_FIELDS)
            elif f.kind == "wrong_shape":
                body = (
                    {"object": "list", "data": {"unexpected": "object"}, "has_more": "no"}
                    if list_route
                    else [body]
                )
        text = json.dumps(body, separators=(",", ":"))
        for f in fired:
            if f.kind == "truncated_json":
                text = text[: max(1, len(text) // 2)]
            elif f.kind == "malformed_json":
                text = _BAD_GATEWAY_HTML
        return Response(text, status_code=200, media_type="application/json", headers=headers)

    # ---------------------------------------------------------------- blob host

    async def _blob(self, request: Request) -> Response:
        token = request.path_params["token"]
        hit = self.world.resolve_blob(token)
        if "authorization" in request.headers:
            if hit is not None:
                self.world.limiter.count(hit[0].slug, "blob_auth_rejected")
            return Response(
                "<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed; "
                "an Authorization header is not accepted on signed URLs.</Message></Error>",
                status_code=400,
                media_type="application/xml",
            )
        if hit is None:
            return Response(
                "<Error><Code>NoSuchKey</Code></Error>",
                status_code=404,
                media_type="application/xml",
            )
        tenant, f = hit
        self.world.limiter.count(tenant.slug, "blob_downloads")
        self.world.limiter.count(tenant.slug, protocol_counter(request, "blob_"))
        fired = self.world.faults.fire(tenant.slug, "blob", request.url.path)
        trickle: float | None = None
        for fault in fired:
            self.world.limiter.count(tenant.slug, f"fault:{fault.kind}")
            if fault.kind == "slow":
                await fault.hold()
            elif fault.kind == "trickle":
                trickle = fault.delay
            elif fault.kind == "server_error":
                return Response(
                    "<Error><Code>InternalError</Code></Error>",
                    status_code=fault.status,
                    media_type="application/xml",
                )
        if f.expired:
            return Response(
                "<Error><Code>Gone</Code></Error>", status_code=410, media_type="application/xml"
            )
        headers = {"Content-Disposition": f'attachment; filename="{f.name}"'}
        ctype = CONTENT_TYPES.get(f.fmt, "application/octet-stream")
        if f.variant == "large":
            headers["Content-Length"] = str(f.size_hint)
            return StreamingResponse(
                large_text_stream(f.size_hint), media_type=ctype, headers=headers
            )
        data = await asyncio.to_thread(self.world.file_bytes, tenant, f)
        if trickle is not None:
            headers["Content-Length"] = str(len(data))
            return StreamingResponse(_trickled(data, trickle), media_type=ctype, headers=headers)
        return Response(data, media_type=ctype, headers=headers)

    async def _log_blob(self, request: Request) -> Response:
        """A Logs Platform file on the storage host (no auth, like file blobs)."""
        if "authorization" in request.headers:
            return Response(
                "<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed; "
                "an Authorization header is not accepted on signed URLs.</Message></Error>",
                status_code=400,
                media_type="application/xml",
            )
        with self.world.lock:
            hit = self.world.resolve_log_blob(request.path_params["token"])
            if hit is None:
                return Response(
                    "<Error><Code>NoSuchKey</Code></Error>",
                    status_code=404,
                    media_type="application/xml",
                )
            tenant, log = hit
            data = simlogs.body(tenant, log)
        self.world.limiter.count(tenant.slug, "log_downloads")
        return Response(data, media_type="application/jsonl")

    # ---------------------------------------------------------------- control plane

    async def _edges(self, request: Request) -> Response:
        """GET or POST (JSON fields of ``ComplianceEdges``) a tenant's 2026 API switches."""
        slug = request.path_params["slug"]
        if slug not in self.world.tenants:
            return error_response(404, f"Unknown tenant '{slug}'.")
        tenant = self.world.tenant(slug)
        if request.method == "POST":
            try:
                payload = await request.json()
                if not isinstance(payload, dict):
                    raise ValueError("expected an object")
                known = set(ComplianceEdges.__dataclass_fields__)
                unknown = sorted(set(payload) - known)
                if unknown:
                    raise ValueError(f"unknown fields {', '.join(unknown)}")
            except ValueError as e:
                return error_response(400, f"Invalid edges: {e}")
            with self.world.lock:
                for name, value in payload.items():
                    setattr(tenant.edges, name, value)
        return _json({"tenant": slug, "edges": asdict(tenant.edges)})

    async def _stats(self, request: Request) -> Response:
        return _json(self.world.stats())

    async def _stats_reset(self, request: Request) -> Response:
        self.world.reset_stats()
        return _json({"ok": True})

    async def _tenants(self, request: Request) -> Response:
        return _json(
            {
                "tenants": [
                    {
                        "slug": t.slug,
                        "name": t.name,
                        "org_id": t.org_id,
                        "workspace_id": t.workspace_id,
                    }
                    for t in self.world.tenants.values()
                ]
            }
        )

    async def _faults(self, request: Request) -> Response:
        slug = request.path_params["slug"]
        if slug not in self.world.tenants:
            return error_response(404, f"Unknown tenant '{slug}'.")
        if request.method == "POST":
            try:
                payload = await request.json()
                items = payload if isinstance(payload, list) else [payload]
                faults = [Fault.from_dict(item) for item in items]
            except (ValueError, TypeError) as e:
                return error_response(400, f"Invalid fault: {e}")
            for fault in faults:
                self.world.faults.add(slug, fault)
        elif request.method == "DELETE":
            self.world.faults.clear(slug)
        return _json(
            {"tenant": slug, "faults": [f.to_dict() for f in self.world.faults.active(slug)]}
        )

    async def _ground_truth(self, request: Request) -> Response:
        """The manifest of one tenant: every finding a correct scanner reports at ``now``.

        Query: ``now`` (Unix seconds; default the simulator's clock) and ``dlp_profiles``
        (repeatable; absent = the plantable profiles, present but empty = none attached).
        So a scanner run against ``casb simulator serve`` can be checked from outside.
        """
        slug = request.path_params["slug"]
        if slug not in self.world.tenants:
            return error_response(404, f"Unknown tenant '{slug}'.")
        now: float | None = None
        raw_now = request.query_params.get("now")
        if raw_now is not None:
            try:
                now = float(raw_now)
            except ValueError:
                now = math.nan
            if not math.isfinite(now):
                return error_response(400, "Invalid 'now': expected Unix seconds.", param="now")
        profiles: list[str] | None = None
        if "dlp_profiles" in request.query_params:
            profiles = [p for p in request.query_params.getlist("dlp_profiles") if p]
        at = self.world.clock() if now is None else now
        manifest = self.world.manifest(slug, now=at, dlp_profiles=profiles)
        findings = []
        for f in manifest:
            row: dict[str, Any] = {
                "finding_type_id": f.finding_type_id,
                "finding_type": f.finding_type,
                "resource_type": f.resource_type,
                "resource_id": f.resource_id,
                "resource_name": f.resource_name,
            }
            if "profiles" in f.detail:
                row["profiles"] = list(f.detail["profiles"])
            findings.append(row)
        return _json({"tenant": slug, "now": at, "findings": findings})

    async def _time_scale(self, request: Request) -> Response:
        # A bad value must be a 400, never a 500 or a limiter left with a zero window.
        try:
            payload = await request.json()
            value = payload.get("time_scale") if isinstance(payload, dict) else None
            scale = math.nan
            if isinstance(value, int | float) and not isinstance(value, bool):
                scale = float(value)
        except ValueError:
            scale = math.nan
        if not (math.isfinite(scale) and scale > 0):
            return error_response(
                400, 'Invalid time_scale: send {"time_scale": <positive number>}.'
            )
        self.world.set_time_scale(scale)
        return _json({"time_scale": self.world.limiter.time_scale})

    # ---------------------------------------------------------------- routes

    def _routes(self) -> list[Route]:
        """Every route, in matching order: Admin, Compliance, Logs Platform, then the host's."""
        return [
            *self._admin_routes(),
            *self._compliance_routes(),
            *self._logs_routes(),
            *self._host_routes(),
        ]

    def _admin_routes(self) -> list[Route]:
        """The Admin API (``/openai/v1/organization/...``): lists and gets."""
        a, r = ADMIN_PREFIX + "/organization", self._route
        p = a + "/projects/{project_id}"
        return [
            r(a + "/users", "admin", "admin:users", _admin_user_list, True),
            r(a + "/users/{user_id}", "admin", "admin:users.get", _admin_user_get),
            r(a + "/invites", "admin", "admin:invites", _invite_list, True),
            r(a + "/invites/{invite_id}", "admin", "admin:invites.get", _invite_get),
            r(a + "/admin_api_keys", "admin", "admin:admin_api_keys", _admin_key_list, True),
            r(a + "/admin_api_keys/{key_id}", "admin", "admin:admin_api_keys.get", _admin_key_get),
            r(a + "/projects", "admin", "admin:projects", _project_list, True),
            r(p, "admin", "admin:projects.get", _project_get),
            r(p + "/api_keys", "admin", "admin:project_api_keys", _project_key_list, True),
            r(p + "/api_keys/{key_id}", "admin", "admin:project_api_keys.get", _project_key_get),
            r(
                p + "/service_accounts",
                "admin",
                "admin:project_service_accounts",
                _service_account_list,
                True,
            ),
            r(
                p + "/service_accounts/{sa_id}",
                "admin",
                "admin:project_service_accounts.get",
                _service_account_get,
            ),
            r(p + "/users", "admin", "admin:project_users", _project_user_list, True),
            r(p + "/users/{user_id}", "admin", "admin:project_users.get", _project_user_get),
            r(a + "/audit_logs", "admin", "admin:audit_logs", _audit_log_list, True),
        ]

    def _compliance_routes(self) -> list[Route]:
        """The Compliance API of a workspace: users, conversations, GPTs and projects (with
        configs and shared users), memories, and the three file routes (307 to the blob host)."""
        r, c, lst, get = self._route, "compliance", "compliance:list:", "compliance:get:"
        routes = [
            r(WS + "/users", c, lst + "users", _ws_user_list, True),
            r(WS + "/conversations", c, lst + "conversations", _conversation_list, True),
        ]
        for kind, plural in (("gpt", "gpts"), ("project", "projects")):
            base = f"{WS}/{plural}"
            routes += [
                r(base, c, lst + plural, _gpt_list(kind), True),
                r(base + "/{gpt_id}", c, get + kind, _gpt_get(kind)),
                r(base + "/{gpt_id}/configs", c, f"{lst}{kind}_configs", _gpt_configs(kind), True),
                r(
                    base + "/{gpt_id}/shared_users",
                    c,
                    f"{lst}{kind}_shared_users",
                    _gpt_shared_users(kind),
                    True,
                ),
            ]
        files = "compliance:files"
        return [
            *routes,
            r(WS + "/memories", c, lst + "memories", _memory_list, True),
            r(WS + "/users/{user_id}/memories", c, get + "user_memories", _user_memories),
            r(
                WS + "/users/{user_id}/files/{file_id}",
                "files",
                files,
                _file_redirect("conversation"),
            ),
            r(WS + "/gpt_files/{file_id}", "files", files, _file_redirect("gpt")),
            r(WS + "/project_files/{file_id}", "files", files, _file_redirect("project")),
        ]

    def _logs_routes(self) -> list[Route]:
        """The Compliance Logs Platform, in both scopes (workspace and organization)."""
        r, c = self._route, "compliance"
        routes = []
        for base, scope in ((WS, "workspaces"), (ORG, "organizations")):
            routes += [
                r(base + "/logs", c, "compliance:list:logs", _log_list(scope), True),
                r(base + "/logs/{log_id}", c, "compliance:get:logs", _log_redirect(scope)),
            ]
        return routes

    def _host_routes(self) -> list[Route]:
        """The storage host (no auth) and the control plane under ``/_sim``."""
        return [
            Route("/_blob/logs/{token}", self._log_blob, methods=["GET"]),
            Route("/_blob/{token}", self._blob, methods=["GET"]),
            Route("/_sim/stats", self._stats, methods=["GET"]),
            Route("/_sim/stats/reset", self._stats_reset, methods=["POST"]),
            Route("/_sim/tenants", self._tenants, methods=["GET"]),
            Route("/_sim/tenants/{slug}/faults", self._faults, methods=["GET", "POST", "DELETE"]),
            Route("/_sim/tenants/{slug}/ground_truth", self._ground_truth, methods=["GET"]),
            Route("/_sim/tenants/{slug}/edges", self._edges, methods=["GET", "POST"]),
            Route("/_sim/time_scale", self._time_scale, methods=["POST"]),
        ]


def create_app(world: World) -> Starlette:
    """The ASGI app serving `world` (run it with uvicorn, or use simulator.server)."""
    return SimulatorApp(world).app


AsyncEndpoint = Callable[[Request], Awaitable[Response]]
