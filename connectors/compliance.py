"""Client of the ChatGPT Enterprise Compliance API (``/compliance/workspaces/{id}/...``).

Listings are generators over parsed models. ``download_file`` streams file content for DLP:
the API answers 307 with a storage URL, which is fetched by a *separate* request that carries
no Authorization header and no cookies, so the storage host never sees the tenant's key.
Every hop of that redirect passes the destination policy (``connectors.destinations``), and
the body is read under the size cap after bounded decompression (``connectors.bodies``).
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Literal

import httpcore
import httpx

from connectors.bodies import BodyTooLarge, UnsupportedEncoding, drain_and_close, iter_capped
from connectors.client import ApiClient, M, parse_item
from connectors.destinations import DestinationPolicy, DestinationRefused, guarded
from connectors.errors import (
    DownloadTooSlow,
    FileSkipped,
    NotFoundError,
    UpstreamError,
)
from connectors.http import (
    PageRules,
    PagingStats,
    QueryParams,
    backoff_delay,
    path_segment,
    send_streamed,
    storage_client,
)
from connectors.ratelimit import COMPLIANCE_FILE, COMPLIANCE_LIST
from core.settings import get_settings
from schemas.openai import ComplianceProject, Conversation, Gpt, WorkspaceUser
from schemas.stages import Remedy

log = logging.getLogger(__name__)

FileKind = Literal["conversation", "gpt", "project"]
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CONVERSATIONS_ROUTE = "/compliance/workspaces/{workspace_id}/conversations"
_FILENAME_RE = re.compile(r"""filename\*?=(?:UTF-8'')?"?([^";]+)"?""", re.IGNORECASE)


@dataclass(frozen=True)
class DownloadResult:
    """What was written to ``dest``: byte count, SHA-256 hex, and the storage's metadata."""

    size: int
    sha256: str
    content_type: str | None
    filename: str | None = None


@dataclass
class ConversationListing(PagingStats):
    """What one conversation listing saw: counts for the scan's stats and tenant health
    (pages read, resumed from the checkpoint and shrunk come from ``PagingStats``)."""

    conversations: int = 0
    relisted: int = 0
    truncated_ids: set[str] = field(default_factory=set)
    seen_ids: set[str] = field(default_factory=set, repr=False)

    def count(self, conversation_id: str, truncated: bool) -> None:
        """One appearance of a conversation (a repeat is ``relisted``)."""
        if conversation_id in self.seen_ids:
            self.relisted += 1
        else:
            self.seen_ids.add(conversation_id)
            self.conversations += 1
        if truncated:
            self.truncated_ids.add(conversation_id)

    def to_dict(self) -> dict[str, int]:
        return {
            "pages": self.pages,
            "pages_resumed": self.pages_resumed,
            "pages_shrunk": self.pages_shrunk,
            "conversations": self.conversations,
            "relisted": self.relisted,
            "truncated_conversations": len(self.truncated_ids),
        }


class ComplianceClient(ApiClient):
    """Read-only client of one ChatGPT Enterprise workspace through its compliance key."""

    api = "compliance"
    key_label = "Compliance API"

    key_field = "compliance_key"
    base_field = "compliance_api_base"

    def setup(self, http: httpx.Client | None) -> None:
        access = self.access
        if not access.workspace_id:
            raise NotFoundError(
                "no ChatGPT workspace id is configured for this tenant",
                hint="set the tenant's ChatGPT workspace id (chatgpt.com/admin/settings)",
                remedy=Remedy.SET_WORKSPACE_ID,
                api=self.api,
            )
        self.prefix = f"/compliance/workspaces/{path_segment(access.workspace_id)}"
        # File storage: an injected client (tests) serves it too; otherwise the per-process
        # storage client, whose connections pass the destination policy.
        self.storage_http = http if http is not None else storage_client()
        hosts = self.options.storage_allowed_hosts
        self.destinations = DestinationPolicy.from_hosts(
            get_settings().storage_allowed_hosts if hosts is None else hosts
        )

    def __repr__(self) -> str:
        return (
            f"ComplianceClient(tenant={self.access.tenant_key!r}, "
            f"workspace={self.access.workspace_id!r}, base={self.access.compliance_api_base!r})"
        )

    def _list(
        self, model: type[M], name: str, limit_name: str, params: QueryParams | None = None
    ) -> Iterator[M]:
        route = f"/compliance/workspaces/{{workspace_id}}/{name}"
        for item in self.session.paginate(
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
        """``GET /conversations?since_timestamp=...&file_format=id``, every appearance whole.

        Never checkpointed (the pages hold message text, which is not stored anywhere):
        ``conversation_digests`` is the listing a retried task resumes.
        """
        stats = stats if stats is not None else ConversationListing()
        for item in self._conversation_pages(since_timestamp, stats, keep=None):
            conversation = parse_item(Conversation, item, _CONVERSATIONS_ROUTE)
            stats.count(conversation.id, conversation.messages_truncated)
            yield conversation

    def conversation_digests(
        self,
        digest: Callable[[Conversation], dict[str, Any]],
        since_timestamp: float = 0,
        stats: ConversationListing | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The conversation listing, each appearance as ``digest(conversation)``.

        Pages are checkpointed (when the client has checkpoints) in their digested form,
        so the caller decides what is kept (file refs and masked verdicts, never the text),
        and a retried listing replays them and asks only for the pages after them.
        """
        stats = stats if stats is not None else ConversationListing()

        def keep(item: dict[str, Any]) -> dict[str, Any]:
            conversation = parse_item(Conversation, item, _CONVERSATIONS_ROUTE)
            return {
                "id": conversation.id,
                "truncated": conversation.messages_truncated,
                "digest": digest(conversation),
            }

        for kept in self._conversation_pages(since_timestamp, stats, keep=keep):
            stats.count(str(kept["id"]), bool(kept["truncated"]))
            yield kept["digest"]

    def _conversation_pages(
        self,
        since_timestamp: float,
        stats: ConversationListing,
        keep: Callable[[dict[str, Any]], dict[str, Any]] | None,
    ) -> Iterator[dict[str, Any]]:
        """The conversation listing through the shared paging loop.

        ``since_timestamp`` is the tenant's watermark (0 for a full sync; the API filters on
        last update >= value, so it is floored, never rounded up). Pages ask for at most
        ``conversation_page_limit`` conversations and are read up to
        ``conversation_page_max_bytes``: a page over that cap is dropped unread and asked
        for again with half the limit. A conversation updated mid-sync is listed again
        (documented): every appearance is yielded and the caller merges them. A 404/410
        here raises ``NotFoundError`` / ``UpstreamError`` (status 410): the caller decides
        the source is retired. Only a listing with ``keep`` is checkpointed.
        """
        options = self.options
        limit = max(
            1, min(options.conversation_page_limit, options.page_limit("compliance_conversations"))
        )
        rules = PageRules(
            max_bytes=options.conversation_page_max_bytes,
            relisting=True,
            keep=keep,
            checkpoint=keep is not None,
            too_large_hint="raise ClientOptions.conversation_page_max_bytes for this tenant",
        )
        yield from self.session.paginate(
            f"{self.prefix}/conversations",
            route=_CONVERSATIONS_ROUTE,
            group=f"{COMPLIANCE_LIST}:conversations",
            limit=limit,
            params=[("since_timestamp", max(0, int(since_timestamp))), ("file_format", "id")],
            rules=rules,
            stats=stats,
        )

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
        (``expired``), content over ``max_bytes`` once decoded (``too_large``; ``dest`` is
        truncated back to where it started when seekable), a redirect the destination
        policy refuses or past ``max_redirects`` hops (``redirect_refused``: never
        fetched), and a body that cannot be decoded (``corrupt``). Typed
        ``ConnectorError``s otherwise.
        """
        cap = self.options.max_file_bytes if max_bytes is None else max_bytes
        path, route = self.file_path(kind, file_id, user_id)
        params = [("conversation_id", conversation_id)] if conversation_id else None
        deadline = time.monotonic() + self.options.download_timeout

        response = self.session.send(
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
        return self.follow_download(response, dest, file_id, cap, deadline, route=route)

    def follow_download(
        self,
        response: httpx.Response,
        dest: BinaryIO,
        file_id: str,
        cap: int,
        deadline: float,
        *,
        route: str,
    ) -> DownloadResult:
        """Finish a download whose API answer (streamed, still open) is ``response``: a
        404/410 is a skip, a body served inline is streamed under ``cap``, and a redirect is
        followed without the key, every hop under the destination policy (the API's own
        redirect counts as the first). Closes ``response``."""
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
                storage_url = self._join(response.url, location, file_id)
            else:
                # Served inline by the API host itself: stream it (the key went to that host
                # already, nothing new leaks).
                try:
                    return self._stream_body(response, dest, file_id, cap, deadline)
                except httpx.RequestError as exc:
                    error = DownloadTooSlow if _late(deadline) else UpstreamError
                    raise error(
                        f"file download failed ({type(exc).__name__})",
                        route=route,
                        hint="the API host failed or was too slow: retry the DLP scan",
                        api=self.api,
                    ) from None
        finally:
            # A redirect's (or a 404's) small body is read first, so its keep-alive
            # connection to the API host is reused by the next file.
            drain_and_close(response)
        return self._fetch_storage(storage_url, dest, file_id, cap, deadline, redirects=1)

    def download_url(
        self, url: str, dest: BinaryIO, *, label: str, max_bytes: int | None = None
    ) -> DownloadResult:
        """Stream a storage URL an API answer named (a log or export file) into ``dest``:
        no key sent, every hop under the destination policy, the body under the caps.

        ``label`` names the object in skips and logs (an id, never the URL). Raises
        ``FileSkipped`` (``redirect_refused``, ``too_large``, ``expired``, ...) like
        ``download_file``.
        """
        cap = self.options.max_file_bytes if max_bytes is None else max_bytes
        deadline = time.monotonic() + self.options.download_timeout
        try:
            target = httpx.URL(url)
        except (httpx.InvalidURL, ValueError, TypeError):
            raise self._refused(label, "unparsable_url", None) from None
        return self._fetch_storage(target, dest, label, cap, deadline, redirects=0)

    def _join(self, base: httpx.URL, location: str, file_id: str) -> httpx.URL:
        """The absolute URL a ``Location`` names; one that does not parse (``0177.0.0.1``,
        a bad port) is a refused redirect, never fetched."""
        try:
            return base.join(location)
        except (httpx.InvalidURL, ValueError, TypeError):
            raise self._refused(file_id, "unparsable_url", None) from None

    def _refused(self, file_id: str, reason: str, url: httpx.URL | None) -> FileSkipped:
        # The reason and host only: a signed storage URL is a credential of sorts.
        log.warning(
            "file %s: download redirect refused (%s%s)",
            file_id,
            reason,
            f", host {url.host[:80]!r}" if url is not None else "",
        )
        return FileSkipped("redirect_refused", file_id)

    def _fetch_storage(
        self,
        url: httpx.URL,
        dest: BinaryIO,
        file_id: str,
        cap: int,
        deadline: float,
        *,
        redirects: int,
    ) -> DownloadResult:
        """GET the storage URL with no credentials, following a few redirects by hand.

        Every hop passes the destination policy before anything is sent to it (and the
        connection is opened to the address the policy checked); at most ``max_redirects``
        redirects are followed in all, ``redirects`` of them already (the API's 307).
        """
        options = self.options
        attempts = max(1, options.max_attempts)
        route = "<storage>"
        policy = self.destinations
        for attempt in range(1, attempts + 1):
            target = url
            try:
                with guarded(policy, deadline):
                    # Redirects followed so far: the API's own 307 counts as the first.
                    for followed in range(redirects, options.max_redirects + 2):
                        if followed > options.max_redirects:
                            raise self._refused(file_id, "too_many_hops", target)
                        try:
                            policy.check(target)
                        except DestinationRefused as refused:
                            raise self._refused(file_id, refused.reason, target) from None
                        response = self._send_storage(target, deadline)
                        try:
                            status = response.status_code
                            location = response.headers.get("location")
                            if status in _REDIRECTS and location:
                                target = self._join(target, location, file_id)
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
                                api="storage",
                            )
                        finally:
                            response.close()
                raise AssertionError("unreachable")  # pragma: no cover
            except DestinationRefused as refused:
                # Refused at connect time: the name resolved elsewhere than when checked.
                raise self._refused(file_id, refused.reason, target) from None
            except (httpx.RequestError, httpcore.TimeoutException, _RetryableStorage) as exc:
                failed = exc.status if isinstance(exc, _RetryableStorage) else None
                # A partial body cannot be taken back from an unseekable ``dest``.
                can_retry = _tell(dest) is not None
                late = _late(deadline)
                if not can_retry or attempt >= attempts or late:
                    # Past the deadline: the host was too slow (a trickle or a stall).
                    raise (DownloadTooSlow if late else UpstreamError)(
                        f"file download failed ({type(exc).__name__}"
                        f"{f' HTTP {failed}' if failed else ''}) after {attempt} attempt(s)",
                        status=failed,
                        route=route,
                        hint="the storage host failed or was too slow: retry the DLP scan",
                        api="storage",
                    ) from None
                self._sleep(backoff_delay(attempt, options, random.random))
        raise AssertionError("unreachable")  # pragma: no cover

    def _send_storage(self, target: httpx.URL, deadline: float) -> httpx.Response:
        options = self.options
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise httpx.ReadTimeout("download deadline passed")
        timeout = httpx.Timeout(
            connect=min(options.connect_timeout, remaining),
            read=min(options.read_timeout, remaining),
            write=min(options.write_timeout, remaining),
            pool=min(options.pool_timeout, remaining),
        )
        # Built by hand: no Authorization header, no client cookies or defaults; identity
        # encoding asked for (a compressed body is still decoded under the cap).
        request = httpx.Request(
            "GET",
            target,
            headers={
                "User-Agent": options.user_agent,
                "Accept": "*/*",
                "Accept-Encoding": "identity",
            },
            extensions={"timeout": timeout.as_dict()},
        )
        return send_streamed(self.storage_http, request)

    def _stream_body(
        self,
        response: httpx.Response,
        dest: BinaryIO,
        file_id: str,
        cap: int,
        deadline: float,
    ) -> DownloadResult:
        """Write the decoded body to ``dest``: at most ``cap`` bytes, every network read
        checked against the deadline (reads themselves are bounded by it on the storage
        client, see ``connectors.destinations``)."""
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > cap:
            raise FileSkipped("too_large", file_id, size=int(declared))
        start = _tell(dest)
        digest = hashlib.sha256()
        size = 0
        try:
            for chunk in iter_capped(response, cap):
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("download deadline passed")
                size += len(chunk)
                digest.update(chunk)
                dest.write(chunk)
        except BodyTooLarge as exc:
            _rewind(dest, start)
            raise FileSkipped("too_large", file_id, size=exc.size) from None
        except (UnsupportedEncoding, zlib.error):
            _rewind(dest, start)
            raise FileSkipped("corrupt", file_id) from None
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


def _late(deadline: float) -> bool:
    """The download's deadline has passed (a socket read cut at it may wake a hair early)."""
    return time.monotonic() >= deadline - 0.05


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
