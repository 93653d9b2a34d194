"""Client of the ChatGPT Compliance Logs Platform, and a tolerant reader of its records.

Routes (relative to the Compliance API base, scope ``workspaces/{workspace_id}`` or
``organizations/{org_id}``):

* ``GET /compliance/{scope}/logs?event_type=T&after=<ISO-8601>&limit=<=100`` lists log files,
  ``{"data": [{"id", "event_type", "end_time", "file_sha256"?...}], "has_more",
  "last_end_time"}``; the next page is asked for with ``after = last_end_time``.
* ``GET /compliance/{scope}/logs/{log_id}`` answers 307 to the JSONL file on a storage host,
  which is fetched by ``ComplianceClient.follow_download``: without the bearer token, every
  hop under the destination policy and the body under the same caps as every file the
  scanner downloads.

A body holds JSON documents separated by whitespace, usually one per line but sometimes
several on one line: ``iter_documents`` decodes them as a stream with ``raw_decode``. The
record shapes are not published, so ``read_record`` reads them tolerantly (ids from the
obvious keys wherever they sit, text from every other string, file references from lists)
and says when a record gave nothing usable.
"""

from __future__ import annotations

import codecs
import json
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO, Literal

from connectors.compliance import _REDIRECTS, ComplianceClient, DownloadResult
from connectors.errors import FileSkipped, MalformedResponseError, NotFoundError
from connectors.http import page_items, path_segment
from connectors.ratelimit import COMPLIANCE_FILE, COMPLIANCE_LIST
from schemas.stages import Remedy

Scope = Literal["workspaces", "organizations"]
LOG_PAGE_LIMIT = 100
_SPOOL_IN_MEMORY = 4 * 1024 * 1024
_MAX_DOCUMENT_CHARS = 8 * 1024 * 1024


@dataclass(frozen=True)
class LogFile:
    """One listed log file (metadata only)."""

    id: str
    event_type: str | None
    end_time: str | None
    file_sha256: str | None = None
    file_size: int | None = None


@dataclass
class LogPage:
    files: list[LogFile]
    has_more: bool
    last_end_time: str | None


class LogsClient:
    """The Logs Platform of one tenant, through its Compliance client (key, budget, rules)."""

    def __init__(self, compliance: ComplianceClient, scope: Scope = "workspaces") -> None:
        self.compliance = compliance
        self.scope: Scope = scope
        access = compliance.access
        scope_id = access.workspace_id if scope == "workspaces" else access.org_id
        if not scope_id:
            what = "workspace" if scope == "workspaces" else "organization"
            raise NotFoundError(
                f"no {what} id is configured for this tenant",
                hint=f"set the tenant's {what} id",
                remedy=Remedy.SET_WORKSPACE_ID if scope == "workspaces" else Remedy.SET_ORG_ID,
                api="logs",
            )
        self.prefix = f"/compliance/{scope}/{path_segment(scope_id)}"
        self.route = (
            f"/compliance/{scope}/{{{'workspace_id' if scope == 'workspaces' else 'org_id'}}}/logs"
        )

    def __repr__(self) -> str:
        return f"LogsClient(tenant={self.compliance.access.tenant_key!r}, scope={self.scope!r})"

    def page(self, event_type: str, after: str | None) -> LogPage:
        """One page of the listing (``after`` exclusive on ``end_time``)."""
        params: list[tuple[str, str | int | float]] = [
            ("event_type", event_type),
            ("limit", LOG_PAGE_LIMIT),
        ]
        if after:
            params.append(("after", after))
        body = self.compliance.session.get_json(
            f"{self.prefix}/logs", route=self.route, group=f"{COMPLIANCE_LIST}:logs", params=params
        )
        if not isinstance(body, dict):
            raise MalformedResponseError(
                f"GET {self.route} returned {type(body).__name__}, expected a list object",
                route=self.route,
            )
        files: list[LogFile] = []
        for item in page_items(body, self.route):
            log_id = item.get("id")
            if not isinstance(log_id, str) or not log_id:
                raise MalformedResponseError(
                    f"GET {self.route} lists a log file without an id", route=self.route
                )
            size = item.get("file_size")
            files.append(
                LogFile(
                    id=log_id,
                    event_type=_opt_str(item.get("event_type")),
                    end_time=_opt_str(item.get("end_time")),
                    file_sha256=_opt_str(item.get("file_sha256")),
                    file_size=size if isinstance(size, int) else None,
                )
            )
        last = _opt_str(body.get("last_end_time")) or (files[-1].end_time if files else None)
        return LogPage(files, bool(body["has_more"]), last)

    def files(
        self, event_type: str, after: str | None, first: LogPage | None = None
    ) -> Iterator[tuple[LogFile, str | None]]:
        """Every log file after ``after``, each with the ``last_end_time`` of its page.

        The page's ``last_end_time`` becomes the watermark once every file of the page (and
        of the pages before) was processed; a server that hands back the same
        ``last_end_time`` with ``has_more`` would loop, and raises instead. ``first`` is the
        first page when the caller already has it (the scope probe).
        """
        cursor = after
        for _ in range(self.compliance.options.max_pages):
            page = first if first is not None else self.page(event_type, cursor)
            first = None
            for index, log in enumerate(page.files):
                last_of_page = index == len(page.files) - 1
                yield log, page.last_end_time if last_of_page else None
            if not page.has_more:
                return
            if not page.last_end_time or page.last_end_time == cursor:
                raise MalformedResponseError(
                    f"GET {self.route} says has_more but its last_end_time does not advance",
                    route=self.route,
                )
            cursor = page.last_end_time
        raise MalformedResponseError(
            f"GET {self.route} still has_more after {self.compliance.options.max_pages} pages",
            route=self.route,
        )

    def download(self, log: LogFile, dest: BinaryIO) -> DownloadResult:
        """Stream one log file into ``dest``: the 307 is followed without the bearer token.

        ``FileSkipped`` for a file gone (404/410), over ``max_log_file_bytes``, or a redirect
        the destination policy refuses (``redirect_refused``).
        """
        client = self.compliance
        options = client.options
        route = f"{self.route}/{{log_id}}"
        deadline = time.monotonic() + options.download_timeout
        response = client.session.send(
            "GET",
            f"{self.prefix}/logs/{path_segment(log.id)}",
            route=route,
            group=f"{COMPLIANCE_FILE}:logs",  # its own window, at the file routes' limit
            expect=lambda r: (
                r.status_code in _REDIRECTS or r.status_code in (404, 410) or r.is_success
            ),
            stream=True,
        )
        return client.follow_download(
            response, dest, log.id, options.max_log_file_bytes, deadline, route=route
        )

    def documents(self, log: LogFile) -> Iterator[Any]:
        """Download one file (verifying ``file_sha256`` when listed) and yield its documents.

        A document that does not decode is yielded as ``UNDECODABLE``. A checksum that does
        not match is downloaded once more, then raises ``FileSkipped("checksum_mismatch")``.
        """
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY) as spool:
            for attempt in (1, 2):
                spool.seek(0)
                spool.truncate()
                result = self.download(log, spool)  # type: ignore[arg-type]
                if not log.file_sha256 or result.sha256 == log.file_sha256.strip().lower():
                    break
                if attempt == 2:
                    raise FileSkipped("checksum_mismatch", log.id, size=result.size)
            spool.seek(0)
            yield from iter_documents(spool, self.compliance.options.chunk_size)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- decoding


class _Undecodable:
    """A marker for a span of a log body that is not a JSON document."""

    def __repr__(self) -> str:
        return "UNDECODABLE"


UNDECODABLE: Any = _Undecodable()


def iter_documents(
    stream: BinaryIO, chunk_size: int = 64 * 1024, max_chars: int = _MAX_DOCUMENT_CHARS
) -> Iterator[Any]:
    """Every JSON document in a UTF-8 byte stream, whatever whitespace separates them.

    Reads ``chunk_size`` bytes at a time: memory holds one document plus one chunk. A span
    that does not decode yields ``UNDECODABLE`` once and reading resumes after the next
    newline (the usual record separator). A document longer than ``max_chars`` is treated
    the same way.
    """
    decoder = json.JSONDecoder()
    text = codecs.getincrementaldecoder("utf-8")(errors="replace")
    buf = ""
    pos = 0  # where the next document starts in ``buf``
    eof = False
    skipping = False
    whitespace = " \t\r\n"

    def more() -> bool:
        nonlocal buf, pos, eof
        if eof:
            return False
        chunk = stream.read(chunk_size)
        buf = buf[pos:]
        pos = 0
        if not chunk:
            eof = True
            buf += text.decode(b"", final=True)
            return False
        buf += text.decode(chunk)
        return True

    while True:
        if skipping:
            newline = buf.find("\n", pos)
            if newline < 0:
                pos = len(buf)
                if not more() and pos >= len(buf):
                    return
                continue
            pos = newline + 1
            skipping = False
        while pos < len(buf) and buf[pos] in whitespace:
            pos += 1
        if pos >= len(buf):
            if not more() and pos >= len(buf):
                return
            continue
        try:
            document, end = decoder.raw_decode(buf, pos)
        except json.JSONDecodeError as exc:
            # Incomplete (the error is in the last, unfinished line) -> read on; otherwise
            # the span is broken: report it and resynchronise on the next line.
            incomplete = exc.pos >= buf.rfind("\n") and not eof
            if incomplete and len(buf) - pos <= max_chars:
                more()
                continue
            yield UNDECODABLE
            skipping = True
            # An over-long document: drop what was buffered of it; a broken one: resume
            # scanning for a newline from the start of its line.
            pos = len(buf) if incomplete else max(pos, buf.rfind("\n", pos, exc.pos) + 1)
            continue
        except RecursionError:  # nested deeper than the json module recurses: a broken span
            yield UNDECODABLE
            skipping = True
            continue
        bare = not isinstance(document, dict | list)
        if end == len(buf) and not eof and bare and more():
            # A bare number or literal at the end of the buffer may continue in the next chunk.
            continue
        yield document
        pos = end


# --------------------------------------------------------------------------- records

#: Keys whose string values are identifiers, timestamps or types, not content: they are left
#: out of a record's text so the author's own email or an id never reads as a DLP match.
_META_KEYS = frozenset(
    {
        "id",
        "object",
        "type",
        "event_type",
        "role",
        "email",
        "user_email",
        "timestamp",
        "time",
        "status",
        "ip",
        "ip_address",
        "user_agent",
        "name",
        "file_name",
        "filename",
        "mime_type",
        "content_type",
        "workspace_id",
        "org_id",
        "organization_id",
    }
)
_TIME_KEYS = ("timestamp", "event_time", "time", "created_at", "occurred_at", "end_time")
_USER_PARENTS = ("actor", "user", "author", "principal", "subject")


@dataclass(frozen=True)
class FileMention:
    id: str
    name: str | None = None


@dataclass(frozen=True)
class LogRecord:
    """What could be read out of one record; ``understood`` is False when nothing could."""

    event_id: str | None
    event_type: str | None
    conversation_id: str | None
    message_id: str | None
    user_id: str | None
    user_email: str | None
    timestamp: float | None
    text: str = field(repr=False)
    files: tuple[FileMention, ...] = ()

    @property
    def understood_as_message(self) -> bool:
        return bool(self.text.strip() or self.files)

    @property
    def understood_as_login(self) -> bool:
        return bool((self.user_email or self.user_id) and self.timestamp is not None)


def _walk(node: Any) -> Iterator[tuple[tuple[str, ...], Any]]:
    """(key path, value) of every value, breadth-first (shallow keys first)."""
    queue: deque[tuple[tuple[str, ...], Any]] = deque([((), node)])
    while queue:
        here, value = queue.popleft()
        yield here, value
        if isinstance(value, dict):
            queue.extend(((*here, str(k)), v) for k, v in value.items())
        elif isinstance(value, list):
            queue.extend(((*here, "[]"), v) for v in value)


class _Paths:
    """A record's values indexed by their last key, in breadth-first order."""

    def __init__(self, record: Any) -> None:
        self.pairs = list(_walk(record))
        self.by_key: dict[str, list[tuple[tuple[str, ...], Any]]] = {}
        for path, value in self.pairs:
            if path:
                self.by_key.setdefault(path[-1], []).append((path, value))

    def first(self, *wanted: tuple[str, ...]) -> str | None:
        """The first non-empty string (or integer) whose key path ends with one of ``wanted``."""
        for suffix in wanted:
            for path, value in self.by_key.get(suffix[-1], ()):
                if len(path) >= len(suffix) and path[-len(suffix) :] == suffix:
                    if isinstance(value, str) and value.strip():
                        return value.strip()
                    if isinstance(value, int) and not isinstance(value, bool):
                        return str(value)
        return None


def parse_time(value: Any) -> float | None:
    """Unix seconds from a number or an ISO-8601 string (``Z`` or an offset; naive = UTC)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            pass
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return when.timestamp()
    return None


def read_record(record: Any, default_event_type: str | None = None) -> LogRecord | None:
    """Read one record tolerantly; None when it is not a JSON object at all."""
    if not isinstance(record, dict):
        return None
    paths = _Paths(record)
    top = record
    event_id = None
    for key in ("event_id", "id", "log_id", "record_id"):
        if isinstance(top.get(key), str) and top[key].strip():
            event_id = top[key].strip()
            break
    event_type = _opt_str(top.get("event_type") or top.get("type")) or default_event_type
    user_id = paths.first(
        *((parent, "user_id") for parent in _USER_PARENTS), ("user_id",),
        *((parent, "id") for parent in _USER_PARENTS),
    )  # fmt: skip
    user_email = paths.first(
        *((parent, "email") for parent in _USER_PARENTS), ("user_email",), ("email",)
    )
    timestamp = None
    for key in _TIME_KEYS:
        for _path, value in paths.by_key.get(key, ()):
            timestamp = parse_time(value)
            if timestamp is not None:
                break
        if timestamp is not None:
            break
    files: dict[str, FileMention] = {}
    texts: list[str] = []
    for path, value in paths.pairs:
        if isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    file_id = item.get("id") or item.get("file_id")
                    if isinstance(file_id, str) and file_id.startswith("file-"):
                        name = item.get("name") or item.get("file_name") or item.get("filename")
                        files.setdefault(file_id, FileMention(file_id, _opt_str(name)))
        elif isinstance(value, str) and path and _is_content_key(path[-1]) and value.strip():
            texts.append(value)
    return LogRecord(
        event_id=event_id,
        event_type=event_type,
        conversation_id=paths.first(("conversation_id",), ("conversation", "id")),
        message_id=paths.first(("message_id",), ("message", "id")),
        user_id=user_id,
        user_email=user_email.lower() if user_email else None,
        timestamp=timestamp,
        text="\n".join(texts),
        files=tuple(files.values()),
    )


def _is_content_key(key: str) -> bool:
    if key == "[]":
        return True
    lowered = key.lower()
    if lowered in _META_KEYS:
        return False
    return not lowered.endswith(("_id", "_at", "_time", "_sha256", "_type", "_url"))


def _opt_str(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None
