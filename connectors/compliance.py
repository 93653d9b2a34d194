"""Client of the ChatGPT Enterprise Compliance API (``/compliance/workspaces/{id}/...``).

Listings are generators over parsed models. ``download_file`` streams file content for DLP:
the API answers 307 with a storage URL, which is fetched by a *separate* request that carries
no Authorization header and no cookies, so the storage host never sees the tenant's key.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Literal

import httpx

from connectors.access import ClientOptions, TenantAccess
from connectors.admin import M, parse_item
from connectors.checkpoints import ListingCheckpoints
from connectors.errors import (
    AuthenticationError,
    FileSkipped,
    MalformedResponseError,
    NotFoundError,
    UpstreamError,
)
from connectors.http import (
    CallObserver,
    QueryParams,
    Transport,
    backoff_delay,
    path_segment,
)
from connectors.ratelimit import COMPLIANCE_FILE, COMPLIANCE_LIST, RateBudget
from schemas.openai import ComplianceProject, Conversation, Gpt, WorkspaceUser

log = logging.getLogger(__name__)

FileKind = Literal["conversation", "gpt", "project"]
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_STORAGE_REDIRECTS = 3
_FILENAME_RE = re.compile(r"""filename\*?=(?:UTF-8'')?"?([^";]+)"?""", re.IGNORECASE)


@dataclass(frozen=True)
class DownloadResult:
    """What was written to ``dest``: byte count, SHA-256 hex, and the storage's metadata."""

    size: int
    sha256: str
    content_type: str | None
    filename: str | None = None


@dataclass
class ConversationListing:
    """What one conversation listing saw: counts for the scan's stats and tenant health."""

    pages: int = 0
    pages_shrunk: int = 0
    conversations: int = 0
    relisted: int = 0
    truncated_ids: set[str] = field(default_factory=set)

    def to_dict(self) -> dict[str, int]:
        return {
            "pages": self.pages,
            "pages_shrunk": self.pages_shrunk,
            "conversations": self.conversations,
            "relisted": self.relisted,
            "truncated_conversations": len(self.truncated_ids),
        }


def _page_data(body: dict[str, Any], route: str) -> list[dict[str, Any]]:
    """The ``data`` of a list page, checked like ``Transport.paginate`` checks it."""
    data = body.get("data")
    if not isinstance(data, list):
        raise MalformedResponseError(f"GET {route} page has no 'data' list", route=route)
    for item in data:
        if not isinstance(item, dict):
            raise MalformedResponseError(
                f"GET {route} page holds a {type(item).__name__}, expected objects", route=route
            )
    if not isinstance(body.get("has_more"), bool):
        raise MalformedResponseError(f"GET {route} page has no boolean 'has_more'", route=route)
    return data


class ComplianceClient:
    """Read-only client of one ChatGPT Enterprise workspace through its compliance key."""

    def __init__(
        self,
        access: TenantAccess,
        budget: RateBudget,
        *,
        http: httpx.Client | None = None,
        options: ClientOptions | None = None,
        observer: CallObserver | None = None,
        sleep: Callable[[float], None] = time.sleep,
        checkpoints: ListingCheckpoints | None = None,
    ) -> None:
        if access.compliance_key is None or not access.compliance_key.get_secret_value():
            raise AuthenticationError(
                "no Compliance API key is configured for this tenant",
                hint=f"`casb tenant update {access.tenant_key} --compliance-key-env VAR`",
            )
        if not access.workspace_id:
            raise NotFoundError(
                "no ChatGPT workspace id is configured for this tenant",
                hint=f"set the workspace id (chatgpt.com/admin/settings) of tenant "
                f"{access.tenant_key} with `casb tenant update`",
            )
        self.access = access
        self.options = options or ClientOptions()
        self._sleep = sleep
        self.transport = Transport(
            tenant_key=access.tenant_key,
            api="compliance",
            base_url=access.compliance_api_base,
            key=access.compliance_key,
            budget=budget,
            http=http,
            options=self.options,
            observer=observer,
            sleep=sleep,
            checkpoints=checkpoints,
        )
        self.prefix = f"/compliance/workspaces/{path_segment(access.workspace_id)}"

    def __repr__(self) -> str:
        return (
            f"ComplianceClient(tenant={self.access.tenant_key!r}, "
            f"workspace={self.access.workspace_id!r}, base={self.access.compliance_api_base!r})"
        )

    def _list(
        self, model: type[M], name: str, limit_name: str, params: QueryParams | None = None
    ) -> Iterator[M]:
        route = f"/compliance/workspaces/{{workspace_id}}/{name}"
        for item in self.transport.paginate(
            f"{self.prefix}/{name}",
            route=route,
            group=f"{COMPLIANCE_LIST}:{name}",  # limited per endpoint
            limit=self.options.page_limit(limit_name),
            params=params,
        ):
            yield parse_item(model, item, route)

    def users(self) -> Iterator[WorkspaceUser]:
        """``GET /users``: workspace members."""
        yield from self._list(WorkspaceUser, "users", "compliance_users")

    def gpts(self) -> Iterator[Gpt]:
        """``GET /gpts?file_format=id``: live GPTs with ``latest_config`` (tools, file ids)."""
        yield from self._list(Gpt, "gpts", "compliance_gpts", [("file_format", "id")])

    def projects(self) -> Iterator[ComplianceProject]:
        """``GET /projects?file_format=id``: ChatGPT projects with their latest config."""
        yield from self._list(
            ComplianceProject, "projects", "compliance_projects", [("file_format", "id")]
        )

    def conversations(
        self, since_timestamp: float = 0, stats: ConversationListing | None = None
    ) -> Iterator[Conversation]:
        """``GET /conversations?since_timestamp=...&file_format=id``, every appearance.

        ``since_timestamp`` is the tenant's watermark (0 for a full sync; the API filters on
        last update >= value, so it is floored, never rounded up). Pages ask for at most
        ``conversation_page_limit`` conversations and are read up to
        ``conversation_page_max_bytes``: a page over that cap is dropped unread and asked
        for again with half the limit. A conversation updated mid-sync is listed again
        (documented): every appearance is yielded, ``stats.relisted`` counts the repeats
        and the caller merges them. ``stats`` also counts conversations whose nested
        ``messages.has_more`` is true. A 404/410 here raises ``NotFoundError`` /
        ``UpstreamError`` (status 410): the caller decides the source is retired.
        """
        stats = stats if stats is not None else ConversationListing()
        route = "/compliance/workspaces/{workspace_id}/conversations"
        path = f"{self.prefix}/conversations"
        group = f"{COMPLIANCE_LIST}:conversations"
        options = self.options
        limit = max(
            1, min(options.conversation_page_limit, options.page_limit("compliance_conversations"))
        )
        base: list[tuple[str, str | int | float]] = [
            ("since_timestamp", max(0, int(since_timestamp))),
            ("file_format", "id"),
        ]
        after: str | None = None
        seen_ids: set[str] = set()
        seen_pages: set[tuple[str, tuple[tuple[Any, Any], ...]]] = set()
        for _page in range(options.max_pages):
            query = [*base, ("limit", limit)]
            if after is not None:
                query.append(("after", after))
            body = self._bounded_page(
                path, route, group, query, options.conversation_page_max_bytes
            )
            if body is None:
                if limit == 1:
                    raise MalformedResponseError(
                        f"GET {route} returned one conversation larger than "
                        f"{options.conversation_page_max_bytes} bytes",
                        route=route,
                        hint="raise ClientOptions.conversation_page_max_bytes for this tenant",
                    )
                limit = max(1, limit // 2)
                stats.pages_shrunk += 1
                continue
            stats.pages += 1
            data = _page_data(body, route)
            for item in data:
                conversation = parse_item(Conversation, item, route)
                if conversation.id in seen_ids:
                    stats.relisted += 1
                else:
                    seen_ids.add(conversation.id)
                    stats.conversations += 1
                if conversation.messages_truncated:
                    stats.truncated_ids.add(conversation.id)
                yield conversation
            if not body["has_more"]:
                return
            cursor = body.get("last_id") or (data[-1].get("id") if data else None)
            if not isinstance(cursor, str) or not cursor:
                raise MalformedResponseError(
                    f"GET {route} says has_more but gives no cursor (no last_id, no items)",
                    route=route,
                )
            # A cursor may come back when its conversation was updated and re-listed (it
            # then sits at a new place in the order); the same cursor over the same page
            # content is a server paging in a loop.
            signature = (cursor, tuple((d.get("id"), d.get("last_active_at")) for d in data))
            if signature in seen_pages:
                raise MalformedResponseError(
                    f"GET {route} returned the same page and cursor again: the server is "
                    "paging in a loop",
                    route=route,
                )
            seen_pages.add(signature)
            after = cursor
        raise MalformedResponseError(
            f"GET {route} still has_more after {options.max_pages} pages (max_pages guard)",
            route=route,
        )

    def _bounded_page(
        self,
        path: str,
        route: str,
        group: str,
        params: QueryParams,
        cap: int,
    ) -> dict[str, Any] | None:
        """One list page read as a stream up to ``cap`` bytes; None when it is larger.

        A body that is not JSON, or that breaks off mid-read, is asked for again (as
        ``Transport.get_json`` does), then fails as ``MalformedResponseError``.
        """
        options = self.options
        attempts = max(1, options.max_attempts) if options.retry_malformed_json else 1
        for attempt in range(1, attempts + 1):
            response = self.transport.send(
                "GET", path, route=route, group=group, params=params, stream=True
            )
            try:
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > cap:
                    return None
                body = bytearray()
                try:
                    for chunk in response.iter_bytes(options.chunk_size):
                        body += chunk
                        if len(body) > cap:
                            return None
                except httpx.RequestError:
                    body = bytearray(b"\x00")  # unreadable: retried below like bad JSON
            finally:
                response.close()
            try:
                parsed = json.loads(bytes(body))
            except (ValueError, UnicodeDecodeError):
                if attempt >= attempts:
                    raise MalformedResponseError(
                        f"GET {route} returned a body that is not valid JSON ({len(body)} bytes)",
                        status=response.status_code,
                        route=route,
                    ) from None
                self._sleep(backoff_delay(attempt, options, random.random))
                continue
            if not isinstance(parsed, dict):
                raise MalformedResponseError(
                    f"GET {route} returned {type(parsed).__name__}, expected a list object",
                    route=route,
                )
            return parsed
        raise AssertionError("unreachable")  # pragma: no cover

    # ------------------------------------------------------------------ files

    def file_path(
        self,
        kind: FileKind,
        file_id: str,
        user_id: str | None = None,
    ) -> tuple[str, str]:
        """(path, route template) of a file-content route."""
        if kind == "conversation":
            if not user_id:
                raise ValueError("a conversation file download needs the uploader's user_id")
            return (
                f"{self.prefix}/users/{path_segment(user_id)}/files/{path_segment(file_id)}",
                "/compliance/workspaces/{workspace_id}/users/{user_id}/files/{file_id}",
            )
        if kind == "gpt":
            return (
                f"{self.prefix}/gpt_files/{path_segment(file_id)}",
                "/compliance/workspaces/{workspace_id}/gpt_files/{file_id}",
            )
        if kind == "project":
            return (
                f"{self.prefix}/project_files/{path_segment(file_id)}",
                "/compliance/workspaces/{workspace_id}/project_files/{file_id}",
            )
        raise ValueError(f"unknown file kind {kind!r}")

    def download_file(
        self,
        kind: FileKind,
        file_id: str,
        dest: BinaryIO,
        *,
        user_id: str | None = None,
        conversation_id: str | None = None,
        max_bytes: int | None = None,
    ) -> DownloadResult:
        """Stream one file's content into ``dest``.

        Raises ``FileSkipped`` for 404 (``not_found``), 410 or an expired storage URL
        (``expired``), and content over ``max_bytes`` (``too_large``; ``dest`` is truncated
        back to where it started when seekable). Typed ``ConnectorError``s otherwise.
        """
        cap = self.options.max_file_bytes if max_bytes is None else max_bytes
        path, route = self.file_path(kind, file_id, user_id)
        params = [("conversation_id", conversation_id)] if conversation_id else None
        deadline = time.monotonic() + self.options.download_timeout

        response = self.transport.send(
            "GET",
            path,
            route=route,
            group=COMPLIANCE_FILE,
            params=params,
            expect=lambda r: (
                r.status_code in _REDIRECTS or r.status_code in (404, 410) or r.is_success
            ),
            stream=True,
        )
        try:
            status = response.status_code
            if status == 404:
                raise FileSkipped("not_found", file_id)
            if status == 410:
                raise FileSkipped("expired", file_id)
            if status in _REDIRECTS:
                location = response.headers.get("location")
                if not location:
                    raise UpstreamError(
                        f"GET {route} answered {status} without a Location header",
                        status=status,
                        route=route,
                    )
                storage_url = str(response.url.join(location))
            else:
                # Served inline by the API host itself: stream it (the key went to that host
                # already, nothing new leaks).
                try:
                    return self._stream_body(response, dest, file_id, cap, deadline)
                except httpx.RequestError as exc:
                    raise UpstreamError(
                        f"file download failed ({type(exc).__name__})",
                        route=route,
                        hint="the API host failed or was too slow: retry the DLP scan",
                    ) from None
        finally:
            response.close()
        return self._fetch_storage(storage_url, dest, file_id, cap, deadline)

    def _fetch_storage(
        self, url: str, dest: BinaryIO, file_id: str, cap: int, deadline: float
    ) -> DownloadResult:
        """GET the storage URL with no credentials, following a few redirects by hand."""
        options = self.options
        attempts = max(1, options.max_attempts)
        route = "<storage>"
        for attempt in range(1, attempts + 1):
            target = url
            try:
                for _hop in range(_MAX_STORAGE_REDIRECTS + 1):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise httpx.ReadTimeout("download deadline passed")
                    timeout = httpx.Timeout(
                        connect=min(options.connect_timeout, remaining),
                        read=min(options.read_timeout, remaining),
                        write=min(options.write_timeout, remaining),
                        pool=min(options.pool_timeout, remaining),
                    )
                    # Built by hand: no Authorization header, no client cookies or defaults.
                    request = httpx.Request(
                        "GET",
                        target,
                        headers={"User-Agent": options.user_agent, "Accept": "*/*"},
                        extensions={"timeout": timeout.as_dict()},
                    )
                    response = self.transport.http.send(
                        request, stream=True, follow_redirects=False
                    )
                    try:
                        status = response.status_code
                        if status in _REDIRECTS and response.headers.get("location"):
                            target = str(response.url.join(response.headers["location"]))
                            continue
                        if response.is_success:
                            return self._stream_body(response, dest, file_id, cap, deadline)
                        if status == 404:
                            raise FileSkipped("not_found", file_id)
                        if status in (403, 410):
                            # Signed storage URLs answer 403/410 once they expire.
                            raise FileSkipped("expired", file_id)
                        if status in (408, 429) or status >= 500:
                            raise _RetryableStorage(status)
                        raise UpstreamError(
                            f"storage host answered HTTP {status} for a file download",
                            status=status,
                            route=route,
                            hint="the file's download URL was refused: retry the DLP scan",
                        )
                    finally:
                        response.close()
                raise UpstreamError("too many redirects from the storage host", route=route)
            except (httpx.RequestError, _RetryableStorage) as exc:
                failed = exc.status if isinstance(exc, _RetryableStorage) else None
                # A partial body cannot be taken back from an unseekable ``dest``.
                can_retry = _tell(dest) is not None
                if not can_retry or attempt >= attempts or time.monotonic() >= deadline:
                    raise UpstreamError(
                        f"file download failed ({type(exc).__name__}"
                        f"{f' HTTP {failed}' if failed else ''}) after {attempt} attempt(s)",
                        status=failed,
                        route=route,
                        hint="the storage host failed or was too slow: retry the DLP scan",
                    ) from None
                self._sleep(backoff_delay(attempt, options, random.random))
        raise AssertionError("unreachable")  # pragma: no cover

    def _stream_body(
        self,
        response: httpx.Response,
        dest: BinaryIO,
        file_id: str,
        cap: int,
        deadline: float,
    ) -> DownloadResult:
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > cap:
            raise FileSkipped("too_large", file_id, size=int(declared))
        start = _tell(dest)
        digest = hashlib.sha256()
        size = 0
        try:
            for chunk in response.iter_bytes(self.options.chunk_size):
                size += len(chunk)
                if size > cap:
                    raise FileSkipped("too_large", file_id, size=size)
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("download deadline passed")
                digest.update(chunk)
                dest.write(chunk)
        except BaseException:
            _rewind(dest, start)
            raise
        content_type = response.headers.get("content-type")
        disposition = response.headers.get("content-disposition") or ""
        match = _FILENAME_RE.search(disposition)
        return DownloadResult(
            size=size,
            sha256=digest.hexdigest(),
            content_type=content_type.split(";")[0].strip() if content_type else None,
            filename=match.group(1).strip() if match else None,
        )


class _RetryableStorage(Exception):
    def __init__(self, status: int) -> None:
        self.status = status
        super().__init__(status)


def _tell(dest: BinaryIO) -> int | None:
    try:
        return dest.tell() if dest.seekable() else None
    except (OSError, ValueError):
        return None


def _rewind(dest: BinaryIO, start: int | None) -> None:
    """Drop a partial body so a retry or a skip leaves ``dest`` as it was."""
    if start is None:
        return
    try:
        dest.seek(start)
        dest.truncate()
    except (OSError, ValueError):
        log.debug("could not rewind the download destination")
