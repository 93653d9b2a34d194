"""Both conversation sources through a real worker, Redis, PostgreSQL and the simulator.

A tenant whose ``/conversations`` is retired (410 or 404) is read through the Compliance Logs
Platform: it keeps its GPT-file and project-file findings, gets its conversation-file and
``chatgpt_message_dlp`` findings from the log files, and its inactive users see ChatGPT
sign-ins, all equal to the simulator's ground truth. A tenant whose ``/conversations`` still
works re-lists conversations and truncates nested messages: both are merged or counted, and
``casb health`` says so.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlmodel import select

from core.settings import get_settings
from schemas.tables import Finding, FindingStatus, ScanStatus, Tenant
from simulator import logs as simlogs
from simulator.files import PLANTABLE_PROFILES, PROFILE_CREDENTIALS, PROFILE_FINANCIAL
from simulator.ground_truth import (
    CHATGPT_MESSAGE_DLP,
    DLP_CONVERSATION_FILE,
    DLP_FINDING_TYPES,
    INACTIVE_USER,
)
from simulator.world import ComplianceEdges, World
from store.db import session_scope
from store.findings import open_keys
from store.tenants import TenantInput, update_tenant
from tests.cli import run_cli
from tests.integration.pipeline.conftest import register, wait_for_run
from tests.integration.pipeline.test_dlp_pipeline import assert_no_leak, dump_database, scan

RETIRED = "tenant-01"
LISTED = "tenant-02"
PROFILES = list(PLANTABLE_PROFILES)


@pytest.fixture(params=[(410, "workspaces", True), (404, "organizations", False)])
def world(request: Any) -> World:
    status, scope, concatenated = request.param
    return World.generate(
        tenants=2,
        seed=11,
        size="tiny",
        edges={
            RETIRED: ComplianceEdges(
                conversations="retired",
                retired_status=status,
                logs_scope=scope,
                concatenated_json=concatenated,
                message_dlp=True,
                chatgpt_logins=True,
            ),
            LISTED: ComplianceEdges(
                conversation_page=1, nested_messages=2, relist=True, message_dlp=True
            ),
        },
    )


def open_now(tenant_id: int) -> set[tuple[str, str]]:
    with session_scope() as session:
        return open_keys(session, tenant_id)


def resolved_findings(tenant_id: int) -> list[Finding]:
    with session_scope() as session:
        return list(
            session.exec(
                select(Finding).where(
                    Finding.tenant_id == tenant_id,
                    Finding.status == FindingStatus.RESOLVED.value,
                )
            ).all()
        )


def tenant_row(tenant_id: int) -> Tenant:
    with session_scope() as session:
        row = session.get(Tenant, tenant_id)
        assert row is not None
        return row


def message_values(world: World, slug: str) -> list[str]:
    """Every planted value of the tenant's message texts (must never be stored)."""
    out = []
    for conv in world.tenant(slug).conversations:
        for msg in conv.messages:
            if msg.profiles:
                out += [line.split(": ", 1)[1] for line in msg.text.splitlines() if ": " in line]
    assert out
    return out


def test_retired_conversations_come_from_the_logs_platform(
    db: str, sim: Any, worker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = sim.world
    tenant = world.tenant(RETIRED)
    tid = register(sim, [RETIRED], dlp_profiles=PROFILES)[RETIRED]
    run = wait_for_run(scan(worker.app, tid), timeout=180)
    assert run.status == ScanStatus.SUCCEEDED.value, run.errors

    expected = world.ground_truth(RETIRED)
    kinds = {t for t, _ in expected}
    assert set(DLP_FINDING_TYPES) <= kinds and CHATGPT_MESSAGE_DLP in kinds
    # GPT and project files survive the retired route; conversation files and message text
    # come from the log files; inactive users count ChatGPT sign-ins.
    assert open_now(tid) == expected
    assert (INACTIVE_USER, tenant.id_of("user-added-old")) not in expected
    assert (INACTIVE_USER, tenant.id_of("user-apikey-old")) in expected

    notes = run.parts["fetch"]["conversations"]["notes"]
    assert notes["source"] == "logs"
    # The retired route is an unavailable part (not an error); the source's parts are ok.
    states = run.parts["fetch"]["conversations"]["parts"]
    assert states["conversations_api"] == {
        "state": "unavailable",
        "kind": "unavailable",
        "status": tenant.edges.retired_status,
    }
    assert states["conversation_files"] == states["message_matches"] == "ok"
    assert notes["scope"] == world.tenant(RETIRED).edges.logs_scope
    assert notes["retired"][0]["status"] == tenant.edges.retired_status
    assert "Compliance Logs Platform" in notes["retired"][0]["fix"]
    assert notes["unreadable_records"] == simlogs.unreadable_records(tenant) == 2
    assert notes["duplicate_records"] > 0  # at-least-once delivery, deduplicated
    assert notes["messages_matched"] == len({r for t, r in expected if t == CHATGPT_MESSAGE_DLP})
    log_files = [log for log in tenant.log_files if log.event_type == "CONVERSATION_MESSAGE"]
    assert notes["log_files"] == len(log_files)
    assert tenant_row(tid).logs_watermark == simlogs.iso(log_files[-1].end_time)
    assert world.stats(RETIRED)["counters"].get("log_downloads", 0) >= len(log_files)

    with session_scope() as session:
        rows = session.exec(
            select(Finding).where(
                Finding.tenant_id == tid, Finding.finding_type_id == CHATGPT_MESSAGE_DLP
            )
        ).all()
    manifest = {f.resource_id: f for f in world.manifest(RETIRED)}
    for row in rows:
        assert row.resource_type == "conversation_message" and row.severity == "high"
        assert (
            row.evidence["conversation_id"] == manifest[row.resource_id].detail["conversation_id"]
        )
        assert sorted(row.evidence["profiles"]) == manifest[row.resource_id].detail["profiles"]
        assert row.evidence["user_id"] and row.evidence["source"] == "logs"
        assert all(e["excerpts"] for e in row.evidence["entries"])
    assert_no_leak(dump_database(), message_values(world, RETIRED), "the database")

    health = json.loads(run_cli("health", "--json").stdout)
    mine = next(h for h in health if h["tenant"] == RETIRED)
    sources = mine["conversation_sources"]
    assert sources["source"] == "logs" and sources["retired"][0]["source"] == "conversations"
    assert sources["unreadable_log_records"] == 2
    from workers.cli.common import console

    monkeypatch.setattr(console, "width", 400)  # one line per tenant: the cell is readable
    table = run_cli("health")
    assert table.code == 0
    line = next(x for x in table.stdout.splitlines() if RETIRED in x)
    assert "conversations retired (HTTP" in line and "2 unreadable log record(s)" in line

    # A new message arrives in a new log file: the next scan reads only that file, finds the
    # new message, and keeps the earlier message findings open (not seen again != gone).
    new_id = tenant.add_message(profiles=[PROFILE_CREDENTIALS])
    before = open_now(tid)
    second = wait_for_run(scan(worker.app, tid), timeout=180)
    assert second.status == ScanStatus.SUCCEEDED.value, second.errors
    notes = second.parts["fetch"]["conversations"]["notes"]
    assert notes["logs_after"] == simlogs.iso(log_files[-1].end_time)
    assert notes["log_files"] == 1 and notes["unreadable_records"] == 0
    assert open_now(tid) == world.ground_truth(RETIRED) == before | {(CHATGPT_MESSAGE_DLP, new_id)}

    # New profiles: every kept log file is read again; the messages that no longer match are
    # read again clean and resolve (the only way a message finding resolves).
    with session_scope() as session:
        update_tenant(
            session,
            TenantInput(slug=RETIRED, dlp_profiles=[PROFILE_FINANCIAL]),
            get_settings().fernet(),
        )
    third = wait_for_run(scan(worker.app, tid), timeout=180)
    assert third.status == ScanStatus.SUCCEEDED.value, third.errors
    assert third.parts["fetch"]["conversations"]["notes"]["logs_after"] is None
    assert open_now(tid) == world.ground_truth(RETIRED, dlp_profiles=[PROFILE_FINANCIAL])
    with session_scope() as session:
        gone = session.exec(
            select(Finding).where(Finding.tenant_id == tid, Finding.resource_id == new_id)
        ).one()
    assert gone.status == FindingStatus.RESOLVED.value


def test_listed_conversations_relisted_and_truncated(db: str, sim: Any, worker: Any) -> None:
    world = sim.world
    tenant = world.tenant(LISTED)
    tid = register(sim, [LISTED], dlp_profiles=PROFILES)[LISTED]
    run = wait_for_run(scan(worker.app, tid), timeout=180)
    assert run.status == ScanStatus.SUCCEEDED.value, run.errors

    expected = world.ground_truth(LISTED)
    assert open_now(tid) == expected
    # Files and sensitive text behind the nested has_more are out of reach (and not claimed).
    hidden = {
        f
        for c in tenant.conversations
        for m in c.messages[2:]
        for f in m.file_ids
        if tenant.files[f].variant == "planted"
    }
    assert hidden and not hidden & {r for _, r in expected}
    assert (CHATGPT_MESSAGE_DLP, tenant.id_of("message-credentials")) in expected
    assert (CHATGPT_MESSAGE_DLP, tenant.id_of("message-financial")) not in expected

    notes = run.parts["fetch"]["conversations"]["notes"]
    assert run.counts["notes"]["conversations"] == notes  # the run's stats (casb scans --json)
    assert notes["source"] == "conversations" and notes["retired"] == []
    truncated = sum(1 for c in tenant.conversations if len(c.messages) > 2)
    assert notes["truncated_conversations"] == truncated > 0
    assert notes["relisted"] >= len(tenant.conversations) - 1 > 0
    assert notes["conversations"] == len(tenant.conversations)

    health = json.loads(run_cli("health", "--json").stdout)
    sources = next(h for h in health if h["tenant"] == LISTED)["conversation_sources"]
    assert sources["truncated_conversations"] == truncated
    assert sources["retired"] == []

    # The workspace then retires /conversations: the next scan switches to the Logs Platform
    # and now reaches the messages that were behind has_more; no finding is lost.
    with world.lock:
        tenant.edges.conversations = "retired"
    second = wait_for_run(scan(worker.app, tid), timeout=180)
    assert second.status == ScanStatus.SUCCEEDED.value, second.errors
    assert second.parts["fetch"]["conversations"]["notes"]["source"] == "logs"
    now_open = open_now(tid)
    assert now_open == world.ground_truth(LISTED)
    assert (
        expected <= now_open
        and (CHATGPT_MESSAGE_DLP, tenant.id_of("message-financial")) in now_open
    )
    assert resolved_findings(tid) == []


def test_no_logs_platform_leaves_the_conversation_parts_unavailable(
    db: str, sim: Any, worker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A retired ``/conversations`` whose Logs Platform answers 404 too: the conversation
    parts are unavailable (the scan succeeds, health names both sources and why), and the
    conversation findings of an earlier scan stay open: absence of a part that was not
    fetched resolves nothing."""
    world = sim.world
    tenant = world.tenant(LISTED)
    tid = register(sim, [LISTED], dlp_profiles=PROFILES)[LISTED]
    first = wait_for_run(scan(worker.app, tid), timeout=180)
    assert first.status == ScanStatus.SUCCEEDED.value, first.errors
    before = open_now(tid)
    assert before == world.ground_truth(LISTED)
    conversation_kinds = {t for t, _ in before} & {CHATGPT_MESSAGE_DLP, DLP_CONVERSATION_FILE}
    assert conversation_kinds == {CHATGPT_MESSAGE_DLP, DLP_CONVERSATION_FILE}

    with world.lock:
        tenant.edges.conversations = "retired"
        tenant.edges.logs_scope = "organizations"
    with session_scope() as session:  # no org id: the organization scope cannot be tried
        update_tenant(session, TenantInput(slug=LISTED, org_id=""), get_settings().fernet())
    run = wait_for_run(scan(worker.app, tid), timeout=180)
    assert run.status == ScanStatus.SUCCEEDED.value, run.errors
    assert not [e for e in run.errors if e.get("resource") == "conversations"]
    fetch = run.parts["fetch"]["conversations"]
    for part in ("conversation_files", "message_matches", "message_clean", "conversations_api"):
        assert fetch["parts"][part]["state"] == "unavailable", part
    assert fetch["parts"]["conversation_files"]["status"] == 404
    notes = fetch["notes"]
    assert notes["source"] is None and notes["retired"][0]["status"] == 410
    assert notes["unavailable"]["source"] == "logs" and notes["unavailable"]["status"] == 404
    assert "Logs Platform answered 404" in notes["unavailable"]["message"]
    assert run.parts["fetch"]["files"]["ok"] and run.parts["fetch"]["gpts"]["ok"]

    # Nothing was resolved: the earlier conversation findings are still open, and every
    # finding that does not come from conversations is still found.
    assert open_now(tid) == before
    assert resolved_findings(tid) == []

    row = tenant_row(tid)
    assert row.health == "healthy"
    health = json.loads(run_cli("health", "--json").stdout)
    entry = next(h for h in health if h["tenant"] == LISTED)
    sources = entry["conversation_sources"]
    assert sources["source"] is None and sources["retired"][0]["source"] == "conversations"
    assert sources["unavailable"]["source"] == "logs"
    assert "Compliance Logs Platform" in sources["unavailable"]["hint"]
    assert entry["parts"]["conversation_files"]["state"] == "unavailable"
    from workers.cli.common import console

    monkeypatch.setattr(console, "width", 400)
    line = next(x for x in run_cli("health").stdout.splitlines() if LISTED in x)
    assert "conversations retired (HTTP 410)" in line and "logs unavailable too (HTTP 404)" in line
