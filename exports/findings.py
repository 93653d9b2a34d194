"""Finding exports: the public Finding JSON (docs/operations.md, "Export"), CSV, OCSF.

Pure formatting: rows in, dicts/strings out, no database or network. Titles, categories
and remediation come from ``schemas.catalog`` (never restated here). Evidence is already
masked by the detectors; exports copy it as is and add nothing secret.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from core.time import as_utc, iso_z
from schemas.catalog import BY_ID, FindingType
from schemas.tables import Finding

PRODUCT_NAME = "openai-casb"
VENDOR_NAME = "openai-casb project"
OCSF_VERSION = "1.3.0"

# The public Finding JSON object, in its order; then the extras every export adds.
FINDING_FIELDS: tuple[str, ...] = (
    "tenant",
    "finding_type_id",
    "finding_type",
    "category",
    "severity",
    "resource_type",
    "resource_id",
    "resource_name",
    "status",
    "first_seen",
    "last_seen",
    "resolved_at",
    "evidence",
)
EXTRA_FIELDS: tuple[str, ...] = (
    "id",
    "finding_type_key",
    "reopened_count",
    "ignored_reason",
    "ignored_until",
    "suppression_id",
)
EXPORT_FIELDS: tuple[str, ...] = FINDING_FIELDS + EXTRA_FIELDS


def epoch_ms(value: datetime | None) -> int | None:
    aware = as_utc(value)
    return None if aware is None else int(aware.timestamp() * 1000)


def finding_type_of(finding: Finding) -> FindingType | None:
    """The catalog entry of a finding (None for an id the catalog no longer knows)."""
    return BY_ID.get(finding.finding_type_id)


def finding_to_dict(finding: Finding, tenant_slug: str) -> dict[str, Any]:
    """One finding as the public Finding JSON, plus ``EXTRA_FIELDS``.

    The severity is the row's (a detector may raise it above the catalog default),
    lower-cased; title and category come from the catalog.
    """
    ft = finding_type_of(finding)
    return {
        "tenant": tenant_slug,
        "finding_type_id": finding.finding_type_id,
        "finding_type": ft.title if ft else finding.finding_type_id,
        "category": ft.category.value if ft else None,
        "severity": (finding.severity or (ft.severity.value if ft else "")).lower(),
        "resource_type": finding.resource_type,
        "resource_id": finding.resource_id,
        "resource_name": finding.resource_name,
        "status": finding.status,
        "first_seen": iso_z(finding.first_seen),
        "last_seen": iso_z(finding.last_seen),
        "resolved_at": iso_z(finding.resolved_at),
        "evidence": dict(finding.evidence or {}),
        "id": finding.id,
        "finding_type_key": ft.key if ft else None,
        "reopened_count": finding.reopened_count,
        "ignored_reason": finding.ignored_reason,
        "ignored_until": iso_z(finding.ignored_until),
        "suppression_id": finding.suppression_id,
    }


def to_dicts(findings: Iterable[Finding], slugs: Mapping[int, str]) -> list[dict[str, Any]]:
    """Many findings; ``slugs`` maps tenant id to slug."""
    return [finding_to_dict(f, slugs.get(f.tenant_id, str(f.tenant_id))) for f in findings]


def to_json(rows: Sequence[Mapping[str, Any]], *, indent: int | None = 2) -> str:
    """A JSON array of finding dicts (``casb findings --format json``)."""
    return json.dumps(list(rows), indent=indent, ensure_ascii=False, default=str) + "\n"


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    text = str(value)
    # Spreadsheet formula injection: a cell starting with =, +, -, @, TAB or CR is data, not a
    # formula (spreadsheets skip a leading TAB/CR and read what follows). Plain numbers
    # such as -3 stay numbers.
    first = text[:1]
    if first in _ALWAYS_QUOTED or (first in _FORMULA_STARTS and not _looks_numeric(text)):
        return "'" + text
    return text


_FORMULA_STARTS = frozenset("=+-@")
_ALWAYS_QUOTED = frozenset("\t\r")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def _looks_numeric(text: str) -> bool:
    return _NUMBER.fullmatch(text) is not None


def to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """CSV with the JSON export's fields, evidence as compact JSON, a header row first.

    Rows end in CRLF (RFC 4180), which also makes the writer quote any cell holding a CR
    or LF: a name with a bare CR cannot start a new row in a reader.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_FIELDS)
    for row in rows:
        writer.writerow([_csv_cell(row.get(name)) for name in EXPORT_FIELDS])
    return out.getvalue()


# --------------------------------------------------------------------------- OCSF

OCSF_CLASS_UID = 2004  # Detection Finding
OCSF_CATEGORY_UID = 2  # Findings
OCSF_SEVERITY: dict[str, tuple[int, str]] = {
    "low": (2, "Low"),
    "medium": (3, "Medium"),
    "high": (4, "High"),
    "critical": (5, "Critical"),
}
OCSF_STATUS: dict[str, tuple[int, str]] = {
    "open": (1, "New"),
    "ignored": (3, "Suppressed"),
    "resolved": (4, "Resolved"),
}
OCSF_ACTIVITY: dict[int, str] = {1: "Create", 2: "Update", 3: "Close"}


def _ocsf_activity(row: Mapping[str, Any]) -> int:
    """Close for resolved findings; Create for a finding seen once; Update otherwise."""
    if row["status"] == "resolved":
        return 3
    if row["first_seen"] == row["last_seen"] and not row.get("reopened_count"):
        return 1
    return 2


def finding_to_ocsf(row: Mapping[str, Any]) -> dict[str, Any]:
    """One finding dict (``finding_to_dict``) as an OCSF Detection Finding event."""
    activity_id = _ocsf_activity(row)
    severity_id, severity = OCSF_SEVERITY.get(row["severity"], (99, "Other"))
    status_id, status = OCSF_STATUS.get(row["status"], (99, "Other"))
    first = _parse_iso(row["first_seen"])
    last = _parse_iso(row["last_seen"])
    resolved = _parse_iso(row["resolved_at"])
    event_time = resolved if activity_id == 3 and resolved else last or first
    ft = BY_ID.get(row["finding_type_id"])
    uid = f"{row['tenant']}:{row['finding_type_id']}:{row['resource_id']}"
    finding_info: dict[str, Any] = {
        "uid": uid,
        "title": row["finding_type"],
        "types": [t for t in (row["category"], row.get("finding_type_key")) if t],
        "first_seen_time": epoch_ms(first),
        "last_seen_time": epoch_ms(last),
        "created_time": epoch_ms(first),
        "modified_time": epoch_ms(last),
        "product_uid": row["finding_type_id"],
    }
    if ft is not None:
        finding_info["desc"] = ft.description
    resource = {"uid": row["resource_id"], "type": row["resource_type"]}
    if row.get("resource_name"):
        resource["name"] = row["resource_name"]
    event: dict[str, Any] = {
        "class_uid": OCSF_CLASS_UID,
        "class_name": "Detection Finding",
        "category_uid": OCSF_CATEGORY_UID,
        "category_name": "Findings",
        "activity_id": activity_id,
        "activity_name": OCSF_ACTIVITY[activity_id],
        "type_uid": OCSF_CLASS_UID * 100 + activity_id,
        "type_name": f"Detection Finding: {OCSF_ACTIVITY[activity_id]}",
        "time": epoch_ms(event_time),
        "severity_id": severity_id,
        "severity": severity,
        "status_id": status_id,
        "status": status,
        "message": f"{row['finding_type']}: {row.get('resource_name') or row['resource_id']}",
        "metadata": {
            "version": OCSF_VERSION,
            "product": {"name": PRODUCT_NAME, "vendor_name": VENDOR_NAME},
            "tenant_uid": row["tenant"],
            "uid": uid,
        },
        "finding_info": finding_info,
        "resources": [resource],
        "unmapped": {
            "tenant": row["tenant"],
            "category": row["category"],
            "finding_id": row.get("id"),
            "reopened_count": row.get("reopened_count"),
            "ignored_reason": row.get("ignored_reason"),
            "ignored_until": row.get("ignored_until"),
            "evidence": row.get("evidence") or {},
        },
    }
    if ft is not None:
        event["remediation"] = {"desc": ft.remediation}
    if resolved is not None:
        event["end_time"] = epoch_ms(resolved)
    return event


def to_ocsf(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Finding dicts as OCSF Detection Finding events (class_uid 2004)."""
    return [finding_to_ocsf(row) for row in rows]


def _parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
