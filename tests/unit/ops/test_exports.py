"""Exports: the exact public Finding JSON field set, CSV header and cells, OCSF required attributes."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

import pytest

from exports.findings import (
    EXPORT_FIELDS,
    FINDING_FIELDS,
    finding_to_dict,
    to_csv,
    to_json,
    to_ocsf,
)
from schemas.catalog import BY_KEY
from tests.unit.ops.factories import T0, finding

DESIGN_FIELDS = {
    "tenant", "finding_type_id", "finding_type", "category", "severity", "resource_type",
    "resource_id", "resource_name", "status", "first_seen", "last_seen", "resolved_at",
    "evidence",
}  # fmt: skip


def test_finding_dict_has_the_design_fields_and_values() -> None:
    row = finding_to_dict(finding(), "acme")
    assert set(FINDING_FIELDS) == DESIGN_FIELDS
    assert set(row) == set(EXPORT_FIELDS)
    assert set(row) >= DESIGN_FIELDS
    ft = BY_KEY["gpt_custom_actions"]
    assert row["tenant"] == "acme"
    assert row["finding_type_id"] == "5a2995f5-0cc1-4af3-9045-cdf7e6601f7b"
    assert row["finding_type"] == ft.title == "OpenAI: GPT with Custom Actions enabled"
    assert row["category"] == "Model and tool governance"
    assert row["severity"] == "high"
    assert row["resource_type"] == "gpt"
    assert row["first_seen"] == "2026-11-26T12:00:00Z"
    assert row["last_seen"] == "2026-11-27T12:00:00Z"
    assert row["resolved_at"] is None
    assert row["evidence"] == {"tools": ["action"], "domain": "api.example.com"}
    assert row["id"] == 1 and row["reopened_count"] == 0 and row["ignored_reason"] is None


def test_severity_is_lower_case_and_naive_times_are_utc() -> None:
    f = finding(severity="HIGH", first_seen=T0.replace(tzinfo=None))
    row = finding_to_dict(f, "acme")
    assert row["severity"] == "high"
    assert row["first_seen"] == "2026-11-26T12:00:00Z"


def test_json_is_an_array_of_the_same_objects() -> None:
    rows = [finding_to_dict(finding(id=i, resource_id=f"g-{i}"), "acme") for i in range(3)]
    parsed = json.loads(to_json(rows))
    assert parsed == rows


def test_csv_header_equals_json_fields_and_evidence_is_compact_json() -> None:
    rows = [
        finding_to_dict(finding(), "acme"),
        finding_to_dict(
            finding(
                "stale_pending_invite", id=2, resource_id="invite-1", resource_name="=HYPERLINK(1)"
            ),
            "beta",
        ),
    ]
    text = to_csv(rows)
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    assert tuple(header) == EXPORT_FIELDS
    body = list(reader)
    assert len(body) == 2
    first = dict(zip(header, body[0], strict=True))
    assert json.loads(first["evidence"]) == rows[0]["evidence"]
    assert " " not in first["evidence"]
    assert first["resolved_at"] == ""
    second = dict(zip(header, body[1], strict=True))
    assert second["resource_name"] == "'=HYPERLINK(1)"  # never a live spreadsheet formula
    assert second["severity"] == "low" and second["tenant"] == "beta"


@pytest.mark.parametrize(
    ("name", "cell"),
    [
        ("=HYPERLINK(1)", "'=HYPERLINK(1)"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(1+1)", "'@SUM(1+1)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("\t42", "'\t42"),
        ("-3", "-3"),
        ("+1.5e3", "+1.5e3"),
        ("Sales GPT", "Sales GPT"),
    ],
)
def test_csv_cells_that_a_spreadsheet_would_run_are_quoted(name: str, cell: str) -> None:
    row = finding_to_dict(finding("stale_pending_invite", resource_name=name), "acme")
    reader = csv.DictReader(io.StringIO(to_csv([row])))
    assert next(reader)["resource_name"] == cell


# --------------------------------------------------------------------------- OCSF

REQUIRED_BASE = (
    "activity_id",
    "category_uid",
    "class_uid",
    "metadata",
    "severity_id",
    "time",
    "type_uid",
)
SEVERITY_IDS = {0, 1, 2, 3, 4, 5, 6, 99}
STATUS_IDS = {0, 1, 2, 3, 4, 5, 99}


def validate_detection_finding(event: dict[str, Any]) -> list[str]:
    """The required attributes and enum rules of OCSF 1.3 Detection Finding (2004)."""
    problems = [f"missing {name}" for name in (*REQUIRED_BASE, "finding_info") if name not in event]
    if problems:
        return problems
    if event["class_uid"] != 2004:
        problems.append("class_uid")
    if event["category_uid"] != 2:
        problems.append("category_uid")
    if event["activity_id"] not in (0, 1, 2, 3, 99):
        problems.append("activity_id")
    if event["type_uid"] != event["class_uid"] * 100 + event["activity_id"]:
        problems.append("type_uid")
    if event["severity_id"] not in SEVERITY_IDS:
        problems.append("severity_id")
    if "status_id" in event and event["status_id"] not in STATUS_IDS:
        problems.append("status_id")
    if not isinstance(event["time"], int) or event["time"] < 10**12:
        problems.append("time must be epoch milliseconds")
    meta = event["metadata"]
    if not meta.get("version") or not meta.get("product", {}).get("vendor_name"):
        problems.append("metadata.version/product.vendor_name")
    info = event["finding_info"]
    for name in ("uid", "title"):
        if not info.get(name):
            problems.append(f"finding_info.{name}")
    for name in ("first_seen_time", "last_seen_time"):
        if name in info and not isinstance(info[name], int):
            problems.append(f"finding_info.{name}")
    for res in event.get("resources", []):
        if not res.get("uid") or not res.get("type"):
            problems.append("resources[].uid/type")
    if "unmapped" in event and not isinstance(event["unmapped"], dict):
        problems.append("unmapped")
    return problems


@pytest.mark.parametrize(
    ("status", "extra", "activity", "status_id"),
    [
        ("open", {"last_seen": T0}, 1, 1),
        ("open", {}, 2, 1),
        ("ignored", {"ignored_reason": "accepted risk"}, 2, 3),
        ("resolved", {"resolved_at": T0 + timedelta(days=2)}, 3, 4),
    ],
)
def test_ocsf_detection_finding(
    status: str, extra: dict[str, Any], activity: int, status_id: int
) -> None:
    row = finding_to_dict(finding(status=status, **extra), "acme")
    [event] = to_ocsf([row])
    assert validate_detection_finding(event) == []
    assert event["activity_id"] == activity
    assert event["type_uid"] == 200400 + activity
    assert event["status_id"] == status_id
    assert event["severity_id"] == 4 and event["severity"] == "High"
    assert event["metadata"]["product"]["name"] == "openai-casb"
    info = event["finding_info"]
    assert info["title"] == "OpenAI: GPT with Custom Actions enabled"
    assert info["first_seen_time"] == int(T0.timestamp() * 1000)
    assert "Model and tool governance" in info["types"]
    assert event["resources"] == [{"uid": "g-abc", "type": "gpt", "name": "Sales helper"}]
    assert event["unmapped"]["evidence"] == row["evidence"]
    assert event["remediation"]["desc"] == BY_KEY["gpt_custom_actions"].remediation
    if status == "resolved":
        assert event["time"] == int((T0 + timedelta(days=2)).timestamp() * 1000)
    json.dumps(event)  # serialisable as is


def test_ocsf_severity_mapping_covers_the_catalog() -> None:
    seen = {}
    for i, key in enumerate(BY_KEY):
        [event] = to_ocsf([finding_to_dict(finding(key, id=i), "acme")])
        assert validate_detection_finding(event) == []
        seen[event["severity"].lower()] = event["severity_id"]
    assert seen == {"critical": 5, "high": 4, "medium": 3, "low": 2}


def test_validator_rejects_a_broken_event() -> None:
    [event] = to_ocsf([finding_to_dict(finding(), "acme")])
    broken = dict(event, type_uid=1, finding_info={"uid": "x"})
    del broken["time"]
    assert "missing time" in validate_detection_finding(broken)
    broken["time"] = 5
    assert set(validate_detection_finding(broken)) >= {
        "type_uid",
        "finding_info.title",
        "time must be epoch milliseconds",
    }
