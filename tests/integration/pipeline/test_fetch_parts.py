"""Fetch parts that fail alone, through a real worker, Redis, PostgreSQL and the simulator.

Each test switches one documented API edge on for one simulated tenant and checks that
only the part it touches is lost: audit logging off costs the login signal (users and every
other finding stay), a `/gpts` that refuses `limit` is listed without it (and the tenant
remembers), a failing service-account listing leaves project keys and their findings.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis
from sqlmodel import select

from schemas.tables import Finding, ScanStatus, TenantHealth
from simulator.faults import Fault
from simulator.ground_truth import (
    GPT_CODE_INTERPRETER,
    GPT_CUSTOM_ACTIONS,
    GPT_PUBLIC_LINK,
    GPT_PUBLIC_STORE,
    GPT_WEB_BROWSING,
    INACTIVE_USER,
    PROJECT_KEY_NOT_ROTATED,
    PROJECT_KEY_ORPHANED,
    PROJECT_KEY_UNUSED,
)
from store.db import session_scope
from store.findings import open_keys
from tests.cli import run_cli
from tests.integration.pipeline.conftest import register, wait_for_run
from tests.integration.pipeline.test_scan_pipeline import scan

GPT_TYPES = {
    GPT_CUSTOM_ACTIONS,
    GPT_CODE_INTERPRETER,
    GPT_WEB_BROWSING,
    GPT_PUBLIC_STORE,
    GPT_PUBLIC_LINK,
}


def stored(tenant_id: int) -> set[tuple[str, str]]:
    with session_scope() as session:
        return open_keys(session, tenant_id)


def health_row(slug: str) -> dict[str, Any]:
    result = run_cli("health", "--json")
    assert result.code == 0, result.output
    return next(r for r in json.loads(result.stdout) if r["tenant"] == slug)


def test_audit_logging_off_keeps_users_and_every_non_login_finding(
    db: str, sim: Any, worker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    slug = "tenant-01"
    sim.world.faults.add(slug, Fault(kind="audit_logging_off", api="admin"))
    tid = register(sim, [slug])[slug]
    run = wait_for_run(scan(worker.app, tid))

    # Audit logging off is the tenant's configuration, not a failure of the scan.
    assert run.status == ScanStatus.SUCCEEDED.value, run.errors
    assert run.errors == []
    users = run.parts["fetch"]["users"]
    assert users["parts"]["users"] == "ok" and users["counts"]["users"] > 0
    assert users["parts"]["logins"] == {
        "state": "unavailable",
        "kind": "unavailable",
        "status": 400,
    }

    truth = sim.world.ground_truth(slug, dlp_profiles=[])
    got = stored(tid)
    # Every finding that does not hinge on logins equals the ground truth...
    assert {k for k in got if k[0] != INACTIVE_USER} == {k for k in truth if k[0] != INACTIVE_USER}
    # ...and inactive-user detection still ran, on the signals it had: every truly
    # inactive user is flagged (users active only through logins now look inactive too).
    truly_inactive = {k for k in truth if k[0] == INACTIVE_USER}
    flagged = {k for k in got if k[0] == INACTIVE_USER}
    assert truly_inactive and truly_inactive <= flagged
    with session_scope() as session:
        rows = session.exec(
            select(Finding).where(
                Finding.tenant_id == tid, Finding.finding_type_id == INACTIVE_USER
            )
        ).all()
    for row in rows:
        assert row.evidence["audit_logins_available"] is False
        assert row.evidence["signals_available"] == [
            "api_key_last_used_at",
            "project_key_last_used_at",
            "chatgpt_login",
            "added_at",
        ]
        assert row.evidence["signals"]["audit_login"] is None

    row = health_row(slug)
    assert row["health"] == TenantHealth.HEALTHY.value
    assert row["parts"]["logins"]["state"] == "unavailable"
    assert row["parts"]["logins"]["status"] == 400
    from workers.cli.common import console

    monkeypatch.setattr(console, "width", 300)  # one line per tenant
    line = next(ln for ln in run_cli("health").stdout.splitlines() if slug in ln)
    assert "parts not fetched: logins unavailable (HTTP 400)" in line


def test_gpts_refusing_limit_still_yield_every_gpt_finding(
    db: str, sim: Any, worker: Any, redis_url: str
) -> None:
    slug = "tenant-02"
    sim.world.faults.add(
        slug, Fault(kind="limit_rejected", api="compliance", path_contains="/gpts")
    )
    tid = register(sim, [slug])[slug]
    client = redis.Redis.from_url(redis_url)
    client.delete(f"casb:limitless:{slug}")
    try:
        run = wait_for_run(scan(worker.app, tid))
        assert run.status == ScanStatus.SUCCEEDED.value, run.errors
        truth = sim.world.ground_truth(slug, dlp_profiles=[])
        gpt_truth = {k for k in truth if k[0] in GPT_TYPES}
        assert gpt_truth
        assert {k for k in stored(tid) if k[0] in GPT_TYPES} == gpt_truth
        assert stored(tid) == truth
        # The tenant remembers: the route is listed without `limit` from now on.
        remembered = {m.decode() for m in client.smembers(f"casb:limitless:{slug}")}
        assert remembered == {"/compliance/workspaces/{workspace_id}/gpts"}
        assert client.ttl(f"casb:limitless:{slug}") > 0

        again = wait_for_run(scan(worker.app, tid))
        assert again.status == ScanStatus.SUCCEEDED.value, again.errors
        assert stored(tid) == sim.world.ground_truth(slug, dlp_profiles=[])
    finally:
        client.delete(f"casb:limitless:{slug}")
        client.close()


def test_orphaned_project_keys_equal_ground_truth(db: str, sim: Any, worker: Any) -> None:
    for slug in ("tenant-01", "tenant-03"):  # tenant-03 also sends is_service_account: null
        tid = register(sim, [slug])[slug]
        run = wait_for_run(scan(worker.app, tid))
        assert run.status == ScanStatus.SUCCEEDED.value, run.errors
        truth = {k for k in sim.world.ground_truth(slug) if k[0] == PROJECT_KEY_ORPHANED}
        tenant = sim.world.tenant(slug)
        assert (PROJECT_KEY_ORPHANED, tenant.id_of("project-key-inactive-owner-old")) in truth
        assert (PROJECT_KEY_ORPHANED, tenant.id_of("project-key-rot-old")) not in truth
        assert {k for k in stored(tid) if k[0] == PROJECT_KEY_ORPHANED} == truth
        assert run.parts["fetch"]["project_keys"]["counts"]["service_accounts"] >= 1
        assert run.parts["fetch"]["project_keys"]["counts"]["project_members"] >= 1


def test_a_failing_part_costs_only_itself(db: str, sim: Any, worker: Any) -> None:
    slug = "tenant-01"
    tid = register(sim, [slug])[slug]
    first = wait_for_run(scan(worker.app, tid))
    assert first.status == ScanStatus.SUCCEEDED.value
    before = stored(tid)
    sim.world.faults.add(
        slug,
        Fault(kind="server_error", api="admin", path_contains="/service_accounts", status=500),
    )
    # A key fixed meanwhile: its rotation finding must still resolve, since the project
    # keys part succeeds even though its sibling part failed.
    tenant = sim.world.tenant(slug)
    fixed = tenant.id_of("project-key-rot-old")
    tenant.rotate_project_key(fixed)
    run = wait_for_run(scan(worker.app, tid))

    assert run.status == ScanStatus.PARTIAL.value
    fetch = run.parts["fetch"]["project_keys"]
    assert fetch["parts"]["project_keys"] == "ok"
    assert fetch["parts"]["project_members"] == "ok"
    assert fetch["parts"]["service_accounts"]["state"] == "failed"
    [error] = [e for e in run.errors if e["resource"] == "project_keys"]
    assert error["parts"] == ["service_accounts"] and error["status"] == 500
    after = stored(tid)
    assert (PROJECT_KEY_NOT_ROTATED, fixed) in before and (
        PROJECT_KEY_NOT_ROTATED,
        fixed,
    ) not in after
    assert after == sim.world.ground_truth(slug, dlp_profiles=[])
    assert {k for k in after if k[0] in (PROJECT_KEY_UNUSED, PROJECT_KEY_ORPHANED)}
    row = health_row(slug)
    assert row["parts"]["service_accounts"]["state"] == "failed"
    assert row["parts"]["service_accounts"]["status"] == 500


def test_project_and_gpt_files_never_depend_on_conversations(
    db: str, sim: Any, worker: Any
) -> None:
    from simulator.files import PLANTABLE_PROFILES
    from simulator.ground_truth import DLP_CONVERSATION_FILE, DLP_GPT_FILE, DLP_PROJECT_FILE

    slug = "tenant-01"
    sim.world.faults.add(
        slug,
        Fault(kind="server_error", api="compliance", path_contains="/conversations", status=500),
    )
    tid = register(sim, [slug], dlp_profiles=list(PLANTABLE_PROFILES))[slug]
    run = wait_for_run(scan(worker.app, tid), timeout=120)

    assert run.status == ScanStatus.PARTIAL.value
    files = run.parts["fetch"]["files"]
    assert files["parts"]["project_files"] == "ok"
    conversations = run.parts["fetch"]["conversations"]
    assert conversations["parts"]["conversation_files"]["state"] == "failed"
    assert conversations["parts"]["conversations_api"]["state"] == "failed"
    truth = sim.world.ground_truth(slug, dlp_profiles=list(PLANTABLE_PROFILES))
    file_truth = {k for k in truth if k[0] in (DLP_GPT_FILE, DLP_PROJECT_FILE)}
    assert {t for t, _ in file_truth} == {DLP_GPT_FILE, DLP_PROJECT_FILE}
    got = stored(tid)
    assert {k for k in got if k[0] in (DLP_GPT_FILE, DLP_PROJECT_FILE)} == file_truth
    assert not {k for k in got if k[0] == DLP_CONVERSATION_FILE}
    # The posture side is whole.
    assert {k for k in got if k[0] not in (DLP_GPT_FILE, DLP_PROJECT_FILE)} == {
        k for k in sim.world.ground_truth(slug, dlp_profiles=[])
    }


def test_admin_key_owner_email_is_resolved_from_the_users_listing(
    db: str, sim: Any, worker: Any
) -> None:
    from simulator.ground_truth import ADMIN_KEY_NOT_ROTATED

    slug = "tenant-01"
    tenant = sim.world.tenant(slug)
    tid = register(sim, [slug])[slug]
    run = wait_for_run(scan(worker.app, tid))
    assert run.status == ScanStatus.SUCCEEDED.value, run.errors
    key = tenant.admin_keys.get(tenant.id_of("admin-key-rot-old"))
    owner = tenant.users.get(key.owner.id)
    with session_scope() as session:
        row = session.exec(
            select(Finding).where(
                Finding.tenant_id == tid,
                Finding.finding_type_id == ADMIN_KEY_NOT_ROTATED,
                Finding.resource_id == key.id,
            )
        ).one()
    # The API's owner object has no email; the scanner joined it from the users part.
    assert row.evidence["owner"]["email"] == owner.email
    assert row.evidence["owner"]["id"] == owner.id
