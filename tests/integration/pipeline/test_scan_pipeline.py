"""The whole pipeline through a real worker, Redis, PostgreSQL and the simulator over HTTP."""

from __future__ import annotations

import time
from typing import Any

from sqlmodel import col, func, select

from schemas.tables import Finding, FindingStatus, ScanRun, ScanStatus, Tenant, TenantHealth
from simulator.faults import Fault
from simulator.ground_truth import (
    GPT_CUSTOM_ACTIONS,
    HIGH_PRIVILEGE_INVITE,
    STALE_PENDING_INVITE,
)
from store.db import session_scope
from store.findings import open_keys
from tests.integration.pipeline.conftest import register, wait_for_run


def _latest_run_id(tenant_id: int) -> int:
    with session_scope() as session:
        run_id = session.exec(
            select(func.max(ScanRun.id)).where(ScanRun.tenant_id == tenant_id)
        ).one()
    return int(run_id or 0)


def scan(app: Any, tenant_id: int, trigger: str = "api") -> int:
    """Send casb.scan_tenant exactly as any Celery producer would; return the new run's id."""
    before = _latest_run_id(tenant_id)
    app.send_task("casb.scan_tenant", args=[tenant_id], kwargs={"trigger": trigger}, queue="scans")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        latest = _latest_run_id(tenant_id)
        if latest > before:
            return latest
        time.sleep(0.05)
    raise AssertionError(f"no scan run appeared for tenant {tenant_id}")


def findings(tenant_id: int) -> dict[tuple[str, str], Finding]:
    with session_scope() as session:
        rows = session.exec(select(Finding).where(Finding.tenant_id == tenant_id)).all()
    return {(r.finding_type_id, r.resource_id): r for r in rows}


def test_open_findings_equal_ground_truth(db: str, sim: Any, worker: Any) -> None:
    ids = register(sim)
    runs = {slug: scan(worker.app, tid) for slug, tid in ids.items()}
    for slug, scan_id in runs.items():
        run = wait_for_run(scan_id)
        assert run.status == ScanStatus.SUCCEEDED.value, (slug, run.errors)
        assert run.trigger == "api"
        assert run.counts["resources"]["users"] > 0
        with session_scope() as session:
            stored = open_keys(session, ids[slug])
            tenant = session.get(Tenant, ids[slug])
        expected = sim.world.ground_truth(slug, dlp_profiles=[])
        assert expected, "the simulator plants findings in every tenant"
        assert stored == expected, (slug, stored ^ expected)
        assert tenant is not None and tenant.health == TenantHealth.HEALTHY.value
        assert tenant.last_scan_at is not None


def test_rescan_resolves_fixed_and_reopens_returning(db: str, sim: Any, worker: Any) -> None:
    slug = "tenant-01"
    tid = register(sim, [slug])[slug]
    wait_for_run(scan(worker.app, tid))
    manifest = sim.world.manifest(slug, dlp_profiles=[])
    gpt = next(f.resource_id for f in manifest if f.finding_type_id == GPT_CUSTOM_ACTIONS)
    invite = next(
        f.resource_id
        for f in manifest
        if f.finding_type_id == HIGH_PRIVILEGE_INVITE
        and (STALE_PENDING_INVITE, f.resource_id)
        not in sim.world.ground_truth(slug, dlp_profiles=[])
    )
    first = findings(tid)
    tenant = sim.world.tenant(slug)
    tenant.remove_gpt_tool(gpt, "custom_action")
    tenant.delete_invite(invite)

    run2 = wait_for_run(scan(worker.app, tid))
    assert run2.status == ScanStatus.SUCCEEDED.value
    second = findings(tid)
    with session_scope() as session:
        assert open_keys(session, tid) == sim.world.ground_truth(slug, dlp_profiles=[])
    for key in ((GPT_CUSTOM_ACTIONS, gpt), (HIGH_PRIVILEGE_INVITE, invite)):
        assert second[key].status == FindingStatus.RESOLVED.value
        assert second[key].resolved_at is not None
    assert len(second) == len(first)  # nothing duplicated, resolved rows kept as history

    tenant.add_gpt_tool(gpt, "custom_action")
    run3 = wait_for_run(scan(worker.app, tid))
    assert run3.status == ScanStatus.SUCCEEDED.value
    third = findings(tid)
    back = third[(GPT_CUSTOM_ACTIONS, gpt)]
    assert back.status == FindingStatus.OPEN.value
    assert back.resolved_at is None
    assert back.reopened_count == 1
    assert back.first_seen == first[(GPT_CUSTOM_ACTIONS, gpt)].first_seen
    previous = second[(GPT_CUSTOM_ACTIONS, gpt)].last_seen
    assert back.last_seen is not None and previous is not None and back.last_seen > previous
    assert third[(HIGH_PRIVILEGE_INVITE, invite)].status == FindingStatus.RESOLVED.value


def test_failed_fetch_resolves_nothing_of_its_types(db: str, sim: Any, worker: Any) -> None:
    slug = "tenant-02"
    tid = register(sim, [slug])[slug]
    wait_for_run(scan(worker.app, tid))
    tenant = sim.world.tenant(slug)
    invite_findings = {
        k
        for k in sim.world.ground_truth(slug, dlp_profiles=[])
        if k[0] in (HIGH_PRIVILEGE_INVITE, STALE_PENDING_INVITE)
    }
    assert invite_findings
    for invite_id in {rid for _, rid in invite_findings}:
        tenant.delete_invite(invite_id)
    sim.world.faults.add(
        slug, Fault(kind="server_error", api="admin", path_contains="/invites", status=403)
    )
    try:
        run = wait_for_run(scan(worker.app, tid))
    finally:
        sim.world.faults.clear(slug)
    assert run.status == ScanStatus.PARTIAL.value
    assert [e["resource"] for e in run.errors] == ["invites"]
    assert run.errors[0]["kind"] == "permission_error"
    rows = findings(tid)
    for key in invite_findings:
        assert rows[key].status == FindingStatus.OPEN.value  # not resolved: the fetch failed
    with session_scope() as session:
        health = session.get(Tenant, tid)
    assert health is not None and health.health == TenantHealth.PERMISSION_ERROR.value
    assert "invites" in (health.health_detail or "")

    run = wait_for_run(scan(worker.app, tid))  # the fetch works again: now they resolve
    assert run.status == ScanStatus.SUCCEEDED.value
    rows = findings(tid)
    for key in invite_findings:
        assert rows[key].status == FindingStatus.RESOLVED.value
    with session_scope() as session:
        healed = session.get(Tenant, tid)
    assert healed is not None and healed.health == TenantHealth.HEALTHY.value


def test_bad_tenant_fails_alone_with_typed_health(db: str, sim: Any, worker: Any) -> None:
    ids = register(sim)
    sim.world.faults.add("tenant-02", Fault(kind="revoked_key", api="any"))
    sim.world.faults.add("tenant-03", Fault(kind="workspace_gone", api="compliance"))
    try:
        runs = {slug: scan(worker.app, tid) for slug, tid in ids.items()}
        done = {slug: wait_for_run(run_id) for slug, run_id in runs.items()}
    finally:
        sim.world.faults.clear()
    assert done["tenant-01"].status == ScanStatus.SUCCEEDED.value
    assert done["tenant-02"].status == ScanStatus.FAILED.value
    assert {e["kind"] for e in done["tenant-02"].errors} == {"credential_error"}
    assert done["tenant-03"].status == ScanStatus.PARTIAL.value
    assert {e["resource"]: e["kind"] for e in done["tenant-03"].errors} == {"gpts": "not_found"}
    with session_scope() as session:
        health = {slug: session.get(Tenant, tid) for slug, tid in ids.items()}
        assert open_keys(session, ids["tenant-01"]) == sim.world.ground_truth(
            "tenant-01", dlp_profiles=[]
        )
        assert open_keys(session, ids["tenant-02"]) == set()
    assert health["tenant-01"].health == TenantHealth.HEALTHY.value  # type: ignore[union-attr]
    h2 = health["tenant-02"]
    assert h2 is not None and h2.health == TenantHealth.CREDENTIAL_ERROR.value
    assert h2.health_changed_at is not None and "key was revoked" in (h2.health_detail or "")
    assert "casb " not in (h2.health_detail or "")  # the stored detail names no command
    assert {e["remedy"] for e in done["tenant-02"].errors} == {"set_key"}
    assert "admin" in {e["api"] for e in done["tenant-02"].errors}
    h3 = health["tenant-03"]
    assert h3 is not None and h3.health == TenantHealth.NOT_FOUND.value


def test_coalesces_a_request_while_a_scan_is_active(db: str, sim: Any, worker: Any) -> None:
    from pipeline.posture import start_scan

    tid = register(sim, ["tenant-01"])["tenant-01"]
    first = start_scan(tid, "manual")
    assert first["status"] == "started"
    second = worker.app.send_task("casb.scan_tenant", args=["tenant-01"], queue="scans")
    assert second.id
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with session_scope() as session:
            run = session.get(ScanRun, first["scan_id"])
            assert run is not None
            if run.coalesced_requests == 1:
                break
        time.sleep(0.05)
    with session_scope() as session:
        runs = session.exec(select(ScanRun).where(ScanRun.tenant_id == tid)).all()
        assert len(runs) == 1 and runs[0].coalesced_requests == 1
        assert runs[0].status == ScanStatus.RUNNING.value


def test_duplicated_tasks_duplicate_nothing(db: str, sim: Any, worker: Any) -> None:
    """Every stage delivered twice (as a redelivery would): same rows, one reopen."""
    from pipeline.posture import start_scan

    slug = "tenant-01"
    tid = register(sim, [slug])[slug]
    app = worker.app
    tenant = sim.world.tenant(slug)
    gpt = next(
        f.resource_id
        for f in sim.world.manifest(slug, dlp_profiles=[])
        if f.finding_type_id == GPT_CUSTOM_ACTIONS
    )

    def doubled_scan() -> ScanRun:
        started = start_scan(tid, "manual")
        scan_id = started["scan_id"]
        names = [f"casb.fetch_{name}" for name in started["fetches"]]
        results = [app.send_task(n, args=[scan_id], queue="fetch") for n in names * 2]
        for result in results:
            assert result.get(timeout=60)["ok"] is True
        for _ in range(2):
            app.send_task("casb.detect_posture", args=[scan_id], queue="detect")
        _wait_detected(scan_id)
        time.sleep(0.5)  # let the duplicate detect land too (it is idempotent either way)
        app.send_task("casb.finish_scan", args=[scan_id], queue="scans")
        app.send_task("casb.finish_scan", args=[scan_id], queue="scans")
        return wait_for_run(scan_id)

    assert doubled_scan().status == ScanStatus.SUCCEEDED.value
    expected = sim.world.ground_truth(slug, dlp_profiles=[])
    rows = findings(tid)
    assert set(rows) == expected and len(rows) == len(expected)
    tenant.remove_gpt_tool(gpt, "custom_action")
    doubled_scan()
    tenant.add_gpt_tool(gpt, "custom_action")
    doubled_scan()
    rows = findings(tid)
    assert rows[(GPT_CUSTOM_ACTIONS, gpt)].reopened_count == 1
    assert rows[(GPT_CUSTOM_ACTIONS, gpt)].status == FindingStatus.OPEN.value
    with session_scope() as session:
        count = session.exec(select(func.count()).where(col(Finding.tenant_id) == tid)).one()
    assert count == len(rows)


def _wait_detected(scan_id: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with session_scope() as session:
            run = session.get(ScanRun, scan_id)
            if run is not None and "detect" in run.parts:
                return
        time.sleep(0.05)
    raise AssertionError("detect did not run")
