"""What `casb scan --wait` shows while a scan runs, and its compact error cell (pure)."""

from __future__ import annotations

from schemas.tables import ScanRun
from workers.cli.scans import _errors_cell, _progress


def run(status: str, **parts: object) -> ScanRun:
    return ScanRun(tenant_id=1, trigger="manual", status=status, parts=parts)


def test_progress_follows_the_stages() -> None:
    fetches = ["users", "invites", "admin_keys", "project_keys", "gpts", "files"]
    assert _progress(run("queued"), 0) == "waiting for a worker"
    assert _progress(run("running", expected=fetches), 2) == "fetching 2/6"
    assert _progress(run("running"), 0) == "fetching 0/?"
    detected = run("running", expected=fetches, detect={"findings": 3})
    assert _progress(detected, 6) == "detected posture; DLP/finishing"
    planned = run("running", expected=[*fetches, "dlp"], detect={}, dlp={"files": 40, "batches": 5})
    assert _progress(planned, 6) == "DLP: 40 files in 5 batches"
    assert _progress(run("failed"), 0) == "done"


def test_errors_cell_groups_by_kind() -> None:
    revoked = [{"resource": r, "kind": "credential_error"} for r in ("users", "invites", "gpts")]
    assert _errors_cell(revoked) == "credential_error (users, invites +1)"
    mixed = [
        {"resource": "gpts", "kind": "not_found"},
        {"resource": "dlp", "kind": "api_error"},
        {"kind": "stale"},
    ]
    assert _errors_cell(mixed) == "not_found (gpts)\napi_error (dlp)\nstale (scan)"
    assert _errors_cell([]) == "-"
