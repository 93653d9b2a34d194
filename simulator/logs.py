"""The simulated Compliance Logs Platform: records, log files and their JSONL bodies.

Pure (no I/O). The record shapes of the real platform are not public, so the simulator
renders two plausible shapes (nested ``actor``/``conversation``/``message`` objects, and a
flat one with ``*_id`` keys) and alternates them, plus records a tolerant reader cannot use:
an opaque record with no text and no file, and a line that is not JSON at all. Delivery is
at least once: the last record of each file is delivered again at the start of the next.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from simulator.model import (
    Collection,
    ComplianceEdges,
    Conversation,
    LogFile,
    Message,
    SignIn,
    SimFile,
)


class LogTenant(Protocol):
    """What the Logs Platform reads of a tenant (``simulator.state.Tenant`` has it all)."""

    @property
    def slug(self) -> str: ...
    @property
    def index(self) -> int: ...
    @property
    def workspace_id(self) -> str: ...
    @property
    def files(self) -> Mapping[str, SimFile]: ...
    @property
    def conversations(self) -> Collection[Conversation]: ...
    @property
    def signins(self) -> list[SignIn]: ...
    @property
    def log_files(self) -> list[LogFile]: ...
    @property
    def edges(self) -> ComplianceEdges: ...


CONVERSATION_MESSAGE = "CONVERSATION_MESSAGE"
AUTH_LOG = "AUTH_LOG"
EVENT_TYPES = (CONVERSATION_MESSAGE, AUTH_LOG, "AUDIT_LOG", "APP_LOG", "APP_AUTH_LOG", "CODEX_LOG")
RECORDS_PER_FILE = 6
#: A line that is not JSON (a record cut off mid-string).
BROKEN_LINE = (
    '{"event_id": "evt_broken_0001", "event_type": "CONVERSATION_MESSAGE", "message": {"text": "cut'
)


def iso(ts: float) -> str:
    """Unix seconds -> ISO-8601 with microseconds and ``Z``."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_after(text: str) -> float:
    """``after`` as the API takes it: ISO-8601 *with* a zone; ValueError otherwise."""
    when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if when.tzinfo is None:
        raise ValueError("no time zone")
    return when.timestamp()


def message_record(tenant: LogTenant, conv: Conversation, msg: Message, n: int) -> dict[str, Any]:
    """One CONVERSATION_MESSAGE record, in one of two shapes (chosen by the message id)."""
    files = [
        {"id": fid, "name": tenant.files[fid].name} for fid in msg.file_ids if fid in tenant.files
    ]
    event_id = "evt_" + hashlib.sha256(f"{tenant.slug}:{msg.id}".encode()).hexdigest()[:24]
    if zlib.crc32(msg.id.encode()) % 2 == 0:
        return {
            "event_id": event_id,
            "event_type": CONVERSATION_MESSAGE,
            "timestamp": iso(msg.created_at),
            "workspace_id": tenant.workspace_id,
            "actor": {"user_id": conv.user_id, "email": conv.user_email},
            "conversation": {"id": conv.id, "title": conv.title},
            "message": {
                "id": msg.id,
                "author": {"role": msg.role, "tool_name": msg.tool_name},
                "content": {"content_type": "text", "parts": [msg.text]},
                "attachments": [{**f, "mime_type": "application/octet-stream"} for f in files],
            },
        }
    return {
        "id": event_id,
        "type": CONVERSATION_MESSAGE,
        "created_at": round(msg.created_at, 6),
        "conversation_id": conv.id,
        "message_id": msg.id,
        "user_id": conv.user_id,
        "user_email": conv.user_email,
        "role": msg.role,
        "text": msg.text,
        "files": files,
    }


def opaque_record(tenant: LogTenant, n: int) -> dict[str, Any]:
    """A record with neither text nor a file reference: unreadable for a scanner."""
    return {
        "event_id": f"evt_opaque_{tenant.index:02d}_{n:04d}",
        "event_type": CONVERSATION_MESSAGE,
        "payload": {"encrypted": True, "bytes": 2048 + n},
    }


def signin_record(tenant: LogTenant, s: SignIn) -> dict[str, Any]:
    return {
        "event_id": s.id,
        "event_type": AUTH_LOG,
        "timestamp": iso(s.at),
        "actor": {"user_id": s.user_id, "email": s.email},
        "method": "sso",
        "status": s.status,
    }


def build_log_files(tenant: LogTenant) -> list[LogFile]:
    """The log files of a freshly generated tenant (messages, then sign-ins)."""
    items = sorted(
        ((c, m) for c in tenant.conversations for m in c.messages),
        key=lambda cm: (cm[1].created_at, cm[1].id),
    )
    files: list[LogFile] = []
    previous: dict[str, Any] | None = None
    for start in range(0, len(items), RECORDS_PER_FILE):
        chunk = items[start : start + RECORDS_PER_FILE]
        records: list[dict[str, Any] | str] = []
        if previous is not None:
            records.append(previous)  # at-least-once: delivered again
        records += [message_record(tenant, c, m, n) for n, (c, m) in enumerate(chunk)]
        last = records[-1]
        assert isinstance(last, dict)
        previous = last
        files.append(
            LogFile(
                f"log_{tenant.index:02d}_{len(files):05d}",
                CONVERSATION_MESSAGE,
                round(chunk[-1][1].created_at, 6),
                records,
            )
        )
    if files:
        files[0].records.append(opaque_record(tenant, 0))
        files[min(1, len(files) - 1)].records.insert(1, BROKEN_LINE)
    signins = sorted(tenant.signins, key=lambda s: (s.at, s.id))
    for start in range(0, len(signins), RECORDS_PER_FILE):
        chunk_s = signins[start : start + RECORDS_PER_FILE]
        files.append(
            LogFile(
                f"log_{tenant.index:02d}_{len(files):05d}",
                AUTH_LOG,
                round(chunk_s[-1].at, 6),
                [signin_record(tenant, s) for s in chunk_s],
            )
        )
    return files


def unreadable_records(tenant: LogTenant, event_type: str = CONVERSATION_MESSAGE) -> int:
    """Records of this type a tolerant reader cannot use (opaque objects, broken lines)."""
    count = 0
    for log in tenant.log_files:
        if log.event_type != event_type:
            continue
        for record in log.records:
            if isinstance(record, str) or str(record.get("event_id", "")).startswith("evt_opaque_"):
                count += 1
    return count


def body(tenant: LogTenant, log: LogFile) -> bytes:
    """The JSONL body of a log file; with ``concatenated_json`` several documents share a
    line (never the broken line, which stays alone on its own line)."""
    docs = [r if isinstance(r, str) else json.dumps(r, separators=(",", ":")) for r in log.records]
    if not tenant.edges.concatenated_json:
        return ("\n".join(docs) + "\n").encode()
    lines: list[str] = []
    group: list[str] = []
    for doc, record in zip(docs, log.records, strict=True):
        if isinstance(record, str):
            if group:
                lines.append("".join(group))
                group = []
            lines.append(doc)
            continue
        group.append(doc)
        if len(group) == 3:
            lines.append(" ".join(group[:2]) + group[2])
            group = []
    if group:
        lines.append("".join(group))
    return ("\n".join(lines) + "\n").encode()


def listing_item(tenant: LogTenant, log: LogFile) -> dict[str, Any]:
    data = body(tenant, log)
    return {
        "id": log.id,
        "event_type": log.event_type,
        "end_time": iso(log.end_time),
        "file_name": f"{log.event_type.lower()}_{log.id}.jsonl",
        "file_size": len(data),
        "file_sha256": hashlib.sha256(data).hexdigest(),
    }
