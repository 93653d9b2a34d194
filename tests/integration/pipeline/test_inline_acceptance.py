"""Issue-4 acceptance points proven in-process (``casb scan --inline`` semantics).

Real PostgreSQL and the simulator over HTTP; the pipeline's stage functions run in this
process with in-memory snapshots (no worker needed, so these stay fast): ignored findings
through real rescans, per-tenant thresholds, the CLI's coalescing and failure reporting.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from schemas.tables import Finding, FindingStatus, ScanRun, ScanStatus, utcnow
from simulator.faults import Fault
from simulator.ground_truth import ADMIN_KEY_UNUSED, GPT_CUSTOM_ACTIONS, STALE_PENDING_INVITE
from simulator.world import Thresholds
from store.db import session_scope
from store.findings import open_keys
from store.suppressions import ignore_finding
from tests.cli import run_cli
from tests.integration.pipeline.conftest import register

CUSTOM = Thresholds(
    key_rotation_days=30, unused_key_days=45, inactive_user_days=20, stale_invite_days=7
)


@pytest.fixture
def world() -> Any:
    from simulator.world import World

    # tenant-02 plants its fixtures on both sides of non-default thresholds.
    return World.generate(tenants=2, seed=5, size="tiny", thresholds={"tenant-02": CUSTOM})


@pytest.fixture
def embedded() -> Iterator[None]:
    from pipeline.runtime import use_embedded

    use_embedded(True)
    yield
    use_embedded(False)


def _scan(tenant_id: int) -> ScanRun:
    from pipeline.inline import run_inline

    result = run_inline(tenant_id, "manual")
    with session_scope() as session:
        run = session.get(ScanRun, int(result["scan_id"]))
        assert run is not None
        return run


def _row(tenant_id: int, type_id: str, resource_id: str) -> Finding:
    with session_scope() as session:
        row = session.exec(
            select(Finding).where(
                Finding.tenant_id == tenant_id,
                Finding.finding_type_id == type_id,
                Finding.resource_id == resource_id,
            )
        ).one()
        session.expunge(row)
        return row


def test_ignored_findings_stay_ignored_through_rescans(db: str, sim: Any, embedded: None) -> None:
    slug = "tenant-01"
    tid = register(sim, [slug])[slug]
    assert _scan(tid).status == ScanStatus.SUCCEEDED.value
    truth = sim.world.ground_truth(slug, dlp_profiles=[])
    gpt = next(r for t, r in sorted(truth) if t == GPT_CUSTOM_ACTIONS)
    invite = next(r for t, r in sorted(truth) if t == STALE_PENDING_INVITE)
    key = next(r for t, r in sorted(truth) if t == ADMIN_KEY_UNUSED)
    with session_scope() as session:
        for type_id, rid, until in (
            (GPT_CUSTOM_ACTIONS, gpt, None),  # ignored forever
            (STALE_PENDING_INVITE, invite, utcnow() + timedelta(days=30)),
            (ADMIN_KEY_UNUSED, key, utcnow() + timedelta(days=30)),
        ):
            row = _row(tid, type_id, rid)
            assert row.id is not None
            ignore_finding(session, row.id, "accepted risk", until)
    # The third ignore has run out by the next scan (set in the past directly: the CLI
    # refuses a past expiry).
    with session_scope() as session:
        session.execute(
            update(Finding)
            .where(col(Finding.tenant_id) == tid, col(Finding.resource_id) == key)
            .values(ignored_until=utcnow() - timedelta(minutes=1))
        )
    before = _row(tid, GPT_CUSTOM_ACTIONS, gpt)

    # Still present: the active ignores hold, the expired one is open again.
    assert _scan(tid).status == ScanStatus.SUCCEEDED.value
    seen = _row(tid, GPT_CUSTOM_ACTIONS, gpt)
    assert (seen.status, seen.ignored_reason) == (FindingStatus.IGNORED.value, "accepted risk")
    assert seen.last_seen is not None and before.last_seen is not None
    assert seen.last_seen > before.last_seen  # still tracked while ignored
    assert _row(tid, STALE_PENDING_INVITE, invite).status == FindingStatus.IGNORED.value
    lapsed = _row(tid, ADMIN_KEY_UNUSED, key)
    assert lapsed.status == FindingStatus.OPEN.value and lapsed.ignored_until is None

    # Gone from the tenant: an ignored finding is not resolved behind the operator's back.
    tenant = sim.world.tenant(slug)
    tenant.remove_gpt_tool(gpt, "custom_action")
    tenant.delete_invite(invite)
    assert _scan(tid).status == ScanStatus.SUCCEEDED.value
    for type_id, rid in ((GPT_CUSTOM_ACTIONS, gpt), (STALE_PENDING_INVITE, invite)):
        row = _row(tid, type_id, rid)
        assert row.status == FindingStatus.IGNORED.value and row.resolved_at is None
    with session_scope() as session:
        assert open_keys(session, tid) == sim.world.ground_truth(slug, dlp_profiles=[])


def test_per_tenant_thresholds_decide_the_findings(db: str, sim: Any, embedded: None) -> None:
    custom = {
        "key_rotation_days": CUSTOM.key_rotation_days,
        "unused_key_days": CUSTOM.unused_key_days,
        "inactive_user_days": CUSTOM.inactive_user_days,
        "stale_invite_days": CUSTOM.stale_invite_days,
    }
    ids = register(sim, ["tenant-02"], thresholds=custom)
    ids |= register(sim, ["tenant-01"])
    for slug, tid in ids.items():
        assert _scan(tid).status == ScanStatus.SUCCEEDED.value
        with session_scope() as session:
            stored = open_keys(session, tid)
        assert stored == sim.world.ground_truth(slug, dlp_profiles=[]), slug
    # The custom thresholds changed the answer (the defaults would report something else).
    with session_scope() as session:
        stored = open_keys(session, ids["tenant-02"])
    assert stored != sim.world.ground_truth("tenant-02", thresholds=Thresholds(), dlp_profiles=[])


def test_cli_says_a_request_was_coalesced_onto_the_active_scan(
    db: str, sim: Any, embedded: None
) -> None:
    from pipeline.posture import start_scan

    tid = register(sim, ["tenant-01"])["tenant-01"]
    active = start_scan(tid, "manual")  # a scan in progress (its fetches never run here)
    assert active["status"] == "started"
    scan_id = active["scan_id"]

    queued = run_cli("scan", "tenant-01")  # coalesced before anything is sent to a broker
    assert queued.code == 0, queued.output
    assert f"scan {scan_id} is already running" in queued.stdout
    assert "coalesced" in queued.stdout
    inline = run_cli("scan", "--inline", "tenant-01")
    assert inline.code == 0, inline.output
    assert f"scan {scan_id} is already active" in inline.stdout and "coalesced" in inline.stdout

    with session_scope() as session:
        runs = session.exec(select(ScanRun).where(ScanRun.tenant_id == tid)).all()
    assert [(r.id, r.status, r.coalesced_requests) for r in runs] == [
        (scan_id, ScanStatus.RUNNING.value, 2)
    ]
    listed = run_cli("scans", "--json")
    assert [r["coalesced_requests"] for r in json.loads(listed.stdout)] == [2]


def test_a_failed_scan_is_reported_with_its_error_and_what_to_do(
    db: str, sim: Any, embedded: None
) -> None:
    # With DLP profiles: a DLP stage with no listing to look at must not turn an all-failed
    # scan into a "partial" one.
    ids = register(sim, ["tenant-01"])
    ids |= register(sim, ["tenant-02"], dlp_profiles=["Credentials and Secrets"])
    sim.world.faults.add("tenant-02", Fault(kind="revoked_key", api="any"))
    try:
        result = run_cli("scan", "--inline", "tenant-01", "tenant-02")
    finally:
        sim.world.faults.clear()
    assert result.code == 0, result.output
    lines = result.stdout.splitlines()
    assert any("tenant-01: scan" in line and "succeeded" in line for line in lines)
    assert any("tenant-02: scan" in line and "failed" in line for line in lines)
    # Under the table, each scan that did not succeed: its typed error and what to do.
    (why,) = [line for line in lines if line.startswith("tenant-02: scan 2 failed:")]
    assert "users: credential_error (HTTP 401)" in why
    assert "run `casb tenant update tenant-02 --admin-key-env VAR`" in why

    # For scripts: --fail-on-error turns an unsuccessful scan into exit 1; success stays 0.
    sim.world.faults.add("tenant-02", Fault(kind="revoked_key", api="any"))
    try:
        gated = run_cli("scan", "--inline", "--fail-on-error", "tenant-01", "tenant-02")
    finally:
        sim.world.faults.clear()
    assert gated.code == 1, gated.output
    assert run_cli("scan", "--inline", "--fail-on-error", "tenant-01").code == 0
    assert run_cli("scan", "--fail-on-error", "tenant-01").code == 2  # needs --wait/--inline

    health = run_cli("health", "--json")
    rows = {r["tenant"]: r for r in json.loads(health.stdout)}
    assert rows["tenant-01"]["health"] == "healthy"
    assert rows["tenant-02"]["health"] == "credential_error"
    assert "key was revoked" in rows["tenant-02"]["detail"]
    assert rows["tenant-02"]["remedy"] == "set_key"
    assert rows["tenant-02"]["command"] == "casb tenant update tenant-02 --admin-key-env VAR"
    assert (rows["tenant-01"]["remedy"], rows["tenant-01"]["command"]) == (None, None)
    # The table folds its detail column; the command is printed whole under it.
    table = run_cli("health").stdout.splitlines()
    assert "tenant-02: run `casb tenant update tenant-02 --admin-key-env VAR`" in table
    assert not any(line.startswith("tenant-01:") for line in table)
    scans = {r["tenant"]: r for r in json.loads(run_cli("scans", "--json").stdout)}
    assert {e["command"] for e in scans["tenant-02"]["errors"]} == {
        "casb tenant update tenant-02 --admin-key-env VAR",
        "casb tenant update tenant-02 --compliance-key-env VAR",
    }  # each error names the key of its API
    shown = json.loads(run_cli("tenant", "show", "tenant-02", "--format", "json").stdout)
    assert (shown["remedy"], shown["command"]) == (
        "set_key",
        "casb tenant update tenant-02 --admin-key-env VAR",
    )
    with session_scope() as session:
        assert open_keys(session, ids["tenant-02"]) == set()
