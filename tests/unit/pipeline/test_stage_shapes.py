"""The stage results are the TypedDicts of schemas/stages.py, and stay plain JSON."""

from __future__ import annotations

import json
from typing import get_type_hints

import pytest

from connectors.errors import AuthenticationError
from pipeline.dlp import BatchResult
from pipeline.fetchers import FETCHES, PartResult, PartRun
from pipeline.posture import _summary, fetch_errors
from pipeline.snapshots import MemorySnapshotStore
from schemas.catalog import FindingType
from schemas.stages import FAILED, OK, DlpBatchOutcome, ErrorSummary, FetchSummary, PartSummary


def _keys(shape: type) -> set[str]:
    return set(get_type_hints(shape))


def test_fetch_summary_has_exactly_the_declared_keys_and_survives_json() -> None:
    spec = FETCHES["users"]
    out = PartRun()
    out.results["users"] = PartResult(OK, items=[{"id": "user-1"}])
    error: ErrorSummary = {"kind": "permission_error", "message": "no", "status": 403}
    out.results["logins"] = PartResult(FAILED, error=error)
    store = MemorySnapshotStore()
    summary = _summary(7, spec, out, store)
    assert set(summary) <= _keys(FetchSummary)
    assert {"resource", "count", "key", "keys", "ok", "error"} <= set(summary)
    for part in summary.get("parts", {}).values():
        assert set(part) == _keys(PartSummary)
    store.record(7, "users", summary)
    again = store.summaries(7)["users"]
    assert again == json.loads(json.dumps(summary))
    assert again["keys"] == {"users": "casb:scan:7:users"}
    assert not again["ok"] and again["error"] == error
    assert fetch_errors(again) == [{"resource": "users", "parts": ["logins"], **error}]


def test_connector_error_summary_keys_are_declared() -> None:
    data = AuthenticationError("bad key", status=401, route="/v1/x").to_dict()
    assert set(data) <= _keys(ErrorSummary)
    assert json.loads(json.dumps(data)) == data


def test_batch_outcome_has_exactly_the_declared_keys() -> None:
    result = BatchResult(version="v1")
    result.outcomes["project:f1"] = "clean"
    result.counts["files"] += 1
    outcome = result.to_dict()
    assert set(outcome) == _keys(DlpBatchOutcome)
    assert json.loads(json.dumps(outcome)) == outcome


def test_finding_type_rows_take_keywords_only() -> None:
    with pytest.raises(TypeError):
        FindingType("id", "key")  # type: ignore[misc]
