"""Client of the OpenAI Platform Admin API (``/organization/...``), read-only.

Every method is a generator over parsed models (schemas/openai.py), so a fetch task can
stream a huge organization into its snapshot without holding it all. Each call goes through
``connectors.http.ApiSession`` (shared rate budget, retries, typed errors).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from connectors.client import ApiClient, M, parse_item
from connectors.errors import (
    AuthenticationError,
    ConnectorError,
    MalformedResponseError,
    RateLimitedError,
    UpstreamError,
)
from connectors.http import QueryParams, path_segment
from connectors.ratelimit import ADMIN, AUDIT
from schemas.openai import (
    AdminApiKey,
    AdminUser,
    AuditLogin,
    Invite,
    Project,
    ProjectApiKey,
    ProjectMember,
    ProjectServiceAccount,
)


@dataclass(frozen=True)
class LoginSignal:
    """Latest ``login.succeeded`` per user from the audit log, or why there is none.

    ``available=False`` means the tenant gives no audit signal (audit logging off, key
    without access to it): the inactive-user detector then runs on its other signals.
    ``status`` is the HTTP status that said so.
    """

    available: bool
    logins: dict[str, float] = field(default_factory=dict, repr=False)
    """user id -> newest ``effective_at`` (Unix seconds)."""
    reason: str | None = None
    events: int = 0
    status: int | None = None

    @property
    def entries(self) -> list[AuditLogin]:
        return [AuditLogin(user_id=u, effective_at=t) for u, t in sorted(self.logins.items())]


class AdminClient(ApiClient):
    """Read-only client of one tenant's organization through its Admin API key."""

    api = "admin"
    key_label = "Admin API"

    key_field = "admin_key"
    base_field = "admin_api_base"

    def _list(
        self,
        model: type[M],
        path: str,
        route: str,
        params: QueryParams | None = None,
        *,
        group: str = ADMIN,
        limit_name: str = "admin",
    ) -> Iterator[M]:
        for item in self.session.paginate(
            path,
            route=route,
            group=group,
            limit=self.options.page_limit(limit_name),
            params=params,
        ):
            yield parse_item(model, item, route)

    def users(self) -> Iterator[AdminUser]:
        """``GET /organization/users``: every member of the organization."""
        yield from self._list(AdminUser, "/organization/users", "/organization/users")

    def invites(self) -> Iterator[Invite]:
        """``GET /organization/invites``: pending, accepted and expired invites."""
        yield from self._list(Invite, "/organization/invites", "/organization/invites")

    def admin_api_keys(self) -> Iterator[AdminApiKey]:
        """``GET /organization/admin_api_keys`` in creation order (its pages end at data[-1])."""
        yield from self._list(
            AdminApiKey,
            "/organization/admin_api_keys",
            "/organization/admin_api_keys",
            [("order", "asc")],
        )

    def projects(self, include_archived: bool = True) -> Iterator[Project]:
        """``GET /organization/projects``; archived ones included by default (their keys count)."""
        params = [("include_archived", "true" if include_archived else "false")]
        yield from self._list(Project, "/organization/projects", "/organization/projects", params)

    def project_api_keys(self, project: Project | str) -> Iterator[ProjectApiKey]:
        """``GET /organization/projects/{id}/api_keys?owner_project_access=any``.

        ``any`` is required: without it the API may hide enabled keys of owners who left
        the project. Each key is stamped with its project's id, name and archived flag.
        """
        if isinstance(project, str):
            project_id, name, archived = project, None, False
        else:
            project_id, name = project.id, project.name
            archived = project.status == "archived" or project.archived_at is not None
        route = "/organization/projects/{project_id}/api_keys"
        path = f"/organization/projects/{path_segment(project_id)}/api_keys"
        for key in self._list(ProjectApiKey, path, route, [("owner_project_access", "any")]):
            yield key.model_copy(
                update={
                    "project_id": project_id,
                    "project_name": name,
                    "project_archived": archived,
                }
            )

    def all_project_api_keys(self) -> Iterator[ProjectApiKey]:
        """Keys of every project, archived ones included.

        Projects are listed first (a short list) so a long key listing does not hold a
        projects cursor open across many minutes.
        """
        projects = list(self.projects(include_archived=True))
        for project in projects:
            yield from self.project_api_keys(project)

    def service_accounts(self, project_id: str) -> Iterator[ProjectServiceAccount]:
        """``GET /organization/projects/{id}/service_accounts``, stamped with the project id.

        The API answers 400 for an archived project; that yields nothing rather than
        failing the part (the archived project's keys still come from ``project_api_keys``).
        """
        yield from self._of_live_project(ProjectServiceAccount, project_id, "service_accounts")

    def project_members(self, project_id: str) -> Iterator[ProjectMember]:
        """``GET /organization/projects/{id}/users``, stamped with the project id.

        A 400 (the project is archived) yields nothing, as for service accounts.
        """
        yield from self._of_live_project(ProjectMember, project_id, "users")

    def _of_live_project(self, model: type[M], project_id: str, name: str) -> Iterator[M]:
        """``GET /organization/projects/{id}/<name>``, each item stamped with the project id;
        the 400 of an archived project yields nothing (a 400 about ``limit`` still raises)."""
        route = f"/organization/projects/{{project_id}}/{name}"
        path = f"/organization/projects/{path_segment(project_id)}/{name}"
        try:
            for item in self._list(model, path, route):
                yield item.model_copy(update={"project_id": project_id})
        except UpstreamError as exc:
            if exc.status != 400 or exc.param == "limit":
                raise

    def latest_logins(self, since: float | None = None) -> LoginSignal:
        """Newest ``login.succeeded`` per user from ``GET /organization/audit_logs``.

        ``since`` bounds the listing (``effective_at[gte]``): a login older than the
        inactivity window cannot make anyone active, so there is no need to page through it.
        Any 4xx that is not about the key itself (400 when audit logging is off, 403, 404,
        422, ...) degrades to ``LoginSignal(available=False, reason=..., status=...)``; a 401
        still raises, since the same key serves every other admin route, and so do
        transient failures (408/409/429/5xx after their retries).
        """
        params: list[tuple[str, str | int | float]] = [("event_types[]", "login.succeeded")]
        if since is not None:
            params.append(("effective_at[gte]", int(since)))
        route = "/organization/audit_logs"
        latest: dict[str, float] = {}
        events = 0
        try:
            for item in self.session.paginate(
                route,
                route=route,
                group=AUDIT,
                limit=self.options.page_limit("audit_logs"),
                params=params,
            ):
                events += 1
                if item.get("type") not in (None, "login.succeeded"):
                    continue
                user_id = _login_user_id(item)
                effective_at = item.get("effective_at")
                if user_id is None or not isinstance(effective_at, int | float):
                    continue
                if effective_at > latest.get(user_id, float("-inf")):
                    latest[user_id] = float(effective_at)
        except ConnectorError as exc:
            if not _logins_unavailable(exc):
                raise
            return LoginSignal(
                available=False, reason=f"{exc.kind}: {exc.message}", status=exc.status
            )
        return LoginSignal(available=True, logins=latest, events=events)


def _logins_unavailable(exc: ConnectorError) -> bool:
    """A 4xx on the audit log that says "not for this tenant", not "this key is bad"."""
    if isinstance(exc, AuthenticationError | RateLimitedError | MalformedResponseError):
        return False
    return exc.status is not None and 400 <= exc.status < 500 and exc.status not in (408, 409)


def _login_user_id(item: dict[str, Any]) -> str | None:
    """``actor.session.user.id`` of an audit-log entry (API-key actors are not logins)."""
    actor = item.get("actor")
    if not isinstance(actor, dict):
        return None
    session = actor.get("session")
    if not isinstance(session, dict):
        return None
    user = session.get("user")
    if not isinstance(user, dict):
        return None
    user_id = user.get("id")
    return user_id if isinstance(user_id, str) and user_id else None
