"""Alert payloads: the JSON envelope, the Slack incoming-webhook message, the signature.

Pure formatting (no database, no network). Findings arrive as the public Finding JSON
objects (``exports.findings.to_dicts``) and are sent exactly so; change records as
``change_to_dict`` objects. docs/operations.md ("Alert destinations") describes the wire
format receivers rely on.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from typing import Any

FINDINGS_EVENT = "findings.opened"
CHANGES_EVENT = "changes"

# Slack Block Kit limits the message renderer stays within (docs/operations.md lists them).
SLACK_MAX_BLOCKS = 50
SLACK_HEADER_MAX = 150
SLACK_SECTION_TEXT_MAX = 3000
SLACK_FIELDS_MAX = 10
SLACK_FIELD_TEXT_MAX = 2000
# Room for the header, the summary and the "n more" line.
SLACK_ITEM_BLOCKS = SLACK_MAX_BLOCKS - 3


def envelope(
    event: str, tenant: str, scan_id: int, items: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """``{"event", "tenant", "scan_id", "findings" | "changes"}``."""
    key = "findings" if event == FINDINGS_EVENT else "changes"
    return {"event": event, "tenant": tenant, "scan_id": scan_id, key: list(items)}


def json_body(payload: Mapping[str, Any]) -> str:
    """The exact bytes (as text) that are posted and signed."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str)


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of the raw body>`` (the ``X-Casb-Signature`` header)."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _clip(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def _plain(text: str) -> str:
    """Slack mrkdwn is inert here: escape its control characters, so no link can form."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _field(label: str, value: Any) -> dict[str, str]:
    shown = "-" if value in (None, "") else _plain(str(value))
    return {"type": "mrkdwn", "text": _clip(f"*{label}*\n{shown}", SLACK_FIELD_TEXT_MAX)}


def slack_message(payload: Mapping[str, Any]) -> dict[str, Any]:
    """An incoming-webhook message: ``text`` (the notification fallback) plus ``blocks``.

    One section per finding (severity, tenant, title, resource) or change record; no links
    (URLs in evidence or names are escaped text, and ``unfurl_links`` is off).
    """
    tenant = str(payload.get("tenant", ""))
    scan_id = payload.get("scan_id")
    if payload.get("event") == FINDINGS_EVENT:
        items = list(payload.get("findings") or [])
        summary = f"{len(items)} new finding(s) in tenant {tenant} (scan {scan_id})"
        sections = [
            [
                _field("Severity", str(f.get("severity", "")).upper()),
                _field("Tenant", f.get("tenant", tenant)),
                _field("Finding", f.get("finding_type")),
                _field(
                    "Resource",
                    f"{f.get('resource_type')} {f.get('resource_id')}"
                    + (f" ({f['resource_name']})" if f.get("resource_name") else ""),
                ),
            ]
            for f in items
        ]
    else:
        items = list(payload.get("changes") or [])
        summary = f"{len(items)} change(s) in tenant {tenant} (scan {scan_id})"
        sections = [
            [
                _field("Tenant", tenant),
                _field("Resource", f"{c.get('resource_type')} {c.get('resource_id')}"),
                _field("Field", c.get("field")),
                _field(
                    "Change",
                    f"{json.dumps(c.get('before'), default=str)} → "
                    f"{json.dumps(c.get('after'), default=str)}",
                ),
            ]
            for c in items
        ]
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": _clip(f"openai-casb: {summary}", SLACK_HEADER_MAX),
            },
        }
    ]
    for fields in sections[:SLACK_ITEM_BLOCKS]:
        blocks.append({"type": "section", "fields": fields[:SLACK_FIELDS_MAX]})
    if len(sections) > SLACK_ITEM_BLOCKS:
        rest = len(sections) - SLACK_ITEM_BLOCKS
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"… and {rest} more (see `casb findings`)"},
            }
        )
    return {
        "text": _clip(_plain(f"openai-casb: {summary}"), SLACK_SECTION_TEXT_MAX),
        "blocks": blocks,
        "unfurl_links": False,
        "unfurl_media": False,
    }


def render_body(fmt: str, payload: Mapping[str, Any]) -> str:
    """The body a destination of format ``fmt`` (``json`` or ``slack``) receives."""
    if fmt == "slack":
        return json_body(slack_message(payload))
    return json_body(payload)
