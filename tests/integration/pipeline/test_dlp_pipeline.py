"""DLP through the real pipeline: a Celery worker, Redis, PostgreSQL, the simulator over HTTP.

The simulator plants sensitive values in conversation, GPT and project files (plus near
misses, an expired file, a corrupt one, a zip bomb and an over-cap file); a scan of a tenant
with DLP profiles attached must report exactly its DLP ground truth, cache what it learned,
and never store or log a matched value.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import func, select

from core.settings import get_settings
from schemas.tables import DlpFileCache, Finding, FindingStatus, ScanRun, ScanStatus, Tenant
from simulator.faults import Fault
from simulator.files import PLANTABLE_PROFILES, PROFILE_CREDENTIALS
from simulator.ground_truth import DLP_FINDING_TYPES
from store.db import get_engine, session_scope
from store.findings import open_keys
from store.tenants import TenantInput, update_tenant
from tests.integration.pipeline.conftest import register, wait_for_run

SLUG = "tenant-01"
CAP = 1024 * 1024


@pytest.fixture
def world() -> Any:
    from simulator.world import World

    # fault_files: a zip-bomb .docx and an over-cap .txt in tenant-01's first conversation.
    return World.generate(
        tenants=1,
        seed=11,
        size="tiny",
        fault_files=True,
        large_file_bytes=2 * CAP,
        zip_bomb_bytes=64 * CAP,
    )


@pytest.fixture
def small_cap(settings_env: Callable[..., None]) -> None:
    """Files over 1 MiB are 'too large' (the simulator's large file is 2 MiB)."""
    settings_env(CASB_MAX_FILE_BYTES=str(CAP))


def scan(app: Any, tenant_id: int) -> int:
    """Send casb.scan_tenant as any producer would; the new run's id."""

    def latest() -> int:
        with session_scope() as session:
            value = session.exec(
                select(func.max(ScanRun.id)).where(ScanRun.tenant_id == tenant_id)
            ).one()
        return int(value or 0)

    before = latest()
    app.send_task("casb.scan_tenant", args=[tenant_id], kwargs={"trigger": "api"}, queue="scans")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if (now := latest()) > before:
            return now
        time.sleep(0.05)
    raise AssertionError(f"no scan run appeared for tenant {tenant_id}")


def dlp_truth(world: Any, profiles: Any = PLANTABLE_PROFILES) -> set[tuple[str, str]]:
    return {k for k in world.ground_truth(SLUG, dlp_profiles=profiles) if k[0] in DLP_FINDING_TYPES}


def open_dlp(tenant_id: int) -> set[tuple[str, str]]:
    with session_scope() as session:
        return {k for k in open_keys(session, tenant_id) if k[0] in DLP_FINDING_TYPES}


def blob_downloads(world: Any) -> int:
    return int(world.stats(SLUG).get("counters", {}).get("blob_downloads", 0))


def run_row(scan_id: int) -> ScanRun:
    with session_scope() as session:
        row = session.get(ScanRun, scan_id)
        assert row is not None
        return row


def watermark(tenant_id: int) -> float:
    with session_scope() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        return tenant.conversation_watermark


def planted_fragments(world: Any) -> list[str]:
    """Every planted value, in forms a leak could take (digits only, a token's middle)."""
    out: list[str] = []
    tenant = world.tenant(SLUG)
    for file_id, f in tenant.files.items():
        if f.variant != "planted":
            continue
        for entry in world.planted_entries(SLUG, file_id):
            value = entry.value
            out.append(value)
            digits = re.sub(r"\D", "", value)
            if len(digits) >= 9 and len(digits) > len(value) - 4:
                out.append(digits)
            body = value.split("\n", 1)[-1] if value.startswith("-----") else value
            if len(body) >= 24:
                out.append(body[6:18])
    assert out, "the simulator plants values"
    return out


def dump_database() -> str:
    """Every row of every table as JSON text."""
    engine = get_engine(get_settings().database_url)
    parts: list[str] = []
    with engine.connect() as conn:
        tables = conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ).scalars()
        for table in list(tables):
            rows = conn.execute(text(f'SELECT row_to_json(t)::text FROM "{table}" t')).scalars()
            parts.extend(rows)
    return "\n".join(parts)


def assert_no_leak(haystack: str, fragments: list[str], where: str) -> None:
    for fragment in fragments:
        assert fragment not in haystack, f"a planted value leaked into {where}"
        assert json.dumps(fragment)[1:-1] not in haystack, f"a planted value leaked into {where}"


def test_dlp_ground_truth_found_exactly_and_nothing_leaks(
    db: str,
    sim: Any,
    worker: Any,
    small_cap: None,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    tid = register(sim, [SLUG], dlp_profiles=list(PLANTABLE_PROFILES))[SLUG]
    scan_id = scan(worker.app, tid)
    run = wait_for_run(scan_id, timeout=120)
    assert run.status == ScanStatus.SUCCEEDED.value, run.errors

    expected = dlp_truth(sim.world)
    assert {t for t, _ in expected} == set(DLP_FINDING_TYPES), "all three DLP types planted"
    assert open_dlp(tid) == expected
    # The posture findings are unaffected: the whole open set is the whole ground truth.
    with session_scope() as session:
        assert open_keys(session, tid) == sim.world.ground_truth(SLUG)

    # Skipped files are recorded with their reasons; the scan still succeeded.
    dlp = run.parts["dlp"]
    assert dlp["skip_reasons"] == {"expired": 1, "corrupt": 1, "zip_bomb": 1, "too_large": 1}
    assert dlp["counts"]["files"] == dlp["files"] == len(sim.world.tenant(SLUG).files)
    assert dlp["counts"]["matched"] == len(expected)
    assert run.counts["resources"]["dlp"] == dlp["files"]
    with session_scope() as session:
        skipped = session.exec(select(DlpFileCache).where(DlpFileCache.outcome == "skipped")).all()
    assert sorted(r.result["reason"] for r in skipped) == sorted(dlp["skip_reasons"])

    # Evidence names where the file lives and what matched, masked.
    manifest = {
        f.resource_id: f for f in sim.world.manifest(SLUG) if f.finding_type_id in DLP_FINDING_TYPES
    }
    with session_scope() as session:
        rows = session.exec(select(Finding).where(Finding.tenant_id == tid)).all()
    dlp_rows = [r for r in rows if r.finding_type_id in DLP_FINDING_TYPES]
    conv = sim.world.tenant(SLUG).conversations
    for row in dlp_rows:
        truth = manifest[row.resource_id]
        ev = row.evidence
        assert row.resource_type == truth.resource_type
        assert row.resource_name == truth.resource_name == ev["file_name"]
        assert sorted(ev["profiles"]) == truth.detail["profiles"]
        assert ev["entries"] and all(e["count"] >= 1 and e["excerpts"] for e in ev["entries"])
        assert ev["owner_id"]
        if row.resource_type == "conversation_file":
            assert ev["conversation_id"] == truth.detail["parent_id"]
            assert ev["conversation_title"] == conv.get(ev["conversation_id"]).title
        elif row.resource_type == "gpt_file":
            assert ev["gpt_id"] == truth.detail["parent_id"] and ev["gpt_name"]
        else:
            assert ev["project_id"] == truth.detail["parent_id"] and ev["project_name"]

    # The watermark advanced (the stage succeeded).
    assert watermark(tid) > 0

    fragments = planted_fragments(sim.world)
    assert_no_leak(dump_database(), fragments, "the database")
    # The worker runs in this process: its DLP log lines are captured, and hold no value.
    assert any(r.name == "casb.dlp" for r in caplog.records)
    logged = "\n".join(r.getMessage() + str(r.exc_info or "") for r in caplog.records)
    assert_no_leak(logged, fragments, "the logs")
    from tests.cli import run_cli

    for fmt in ("json", "csv", "ocsf"):
        out = run_cli("findings", "--tenant", SLUG, "--format", fmt, "--status", "all")
        assert out.code == 0, out.output
        assert "dlp" in out.stdout.lower() or "DLP" in out.stdout
        assert_no_leak(out.stdout, fragments, f"the {fmt} export")
    page = tmp_path / "report.html"
    out = run_cli("report", "--output", str(page))
    assert out.code == 0, out.output
    html = page.read_text()
    assert "DLP" in html or "dlp" in html
    assert_no_leak(html, fragments, "the HTML report")


def test_second_scan_downloads_and_rematches_nothing(db: str, sim: Any, worker: Any) -> None:
    tid = register(sim, [SLUG], dlp_profiles=list(PLANTABLE_PROFILES))[SLUG]
    first = wait_for_run(scan(worker.app, tid), timeout=120)
    assert first.status == ScanStatus.SUCCEEDED.value, first.errors
    assert blob_downloads(sim.world) > 0
    with session_scope() as session:
        before = {r.file_id: r.scanned_at for r in session.exec(select(DlpFileCache)).all()}
    sim.world.reset_stats()

    second = wait_for_run(scan(worker.app, tid), timeout=120)
    assert second.status == ScanStatus.SUCCEEDED.value, second.errors
    # The second listing started at the watermark the first scan earned.
    assert first.parts["dlp"]["listing_since"] == 0
    assert second.parts["dlp"]["listing_since"] == watermark(tid) > 0
    assert blob_downloads(sim.world) == 0
    with session_scope() as session:
        after = {r.file_id: r.scanned_at for r in session.exec(select(DlpFileCache)).all()}
    assert after == before  # no cache row rewritten: nothing re-matched
    counts = second.parts["dlp"]["counts"]
    assert counts.get("cached", 0) == counts.get("files", 0)
    assert open_dlp(tid) == dlp_truth(sim.world)


def test_new_removed_and_reprofiled_files(db: str, sim: Any, worker: Any) -> None:
    world = sim.world
    tid = register(sim, [SLUG], dlp_profiles=list(PLANTABLE_PROFILES))[SLUG]
    wait_for_run(scan(worker.app, tid), timeout=120)
    first = open_dlp(tid)
    assert first == dlp_truth(world)

    # A new planted file in a conversation (listed again: its conversation was updated)
    # and a planted GPT knowledge file removed from the GPT's latest config.
    tenant = world.tenant(SLUG)
    new_id = tenant.add_file("conversation", fmt="txt", profiles=[PROFILE_CREDENTIALS])
    gone = next(
        f.id for f in tenant.files.values() if f.location == "gpt" and f.variant == "planted"
    )
    tenant.remove_file(gone)
    run = wait_for_run(scan(worker.app, tid), timeout=120)
    assert run.status == ScanStatus.SUCCEEDED.value, run.errors
    now_open = open_dlp(tid)
    assert now_open == dlp_truth(world)
    assert any(r == new_id for _, r in now_open)
    with session_scope() as session:
        removed = session.exec(select(Finding).where(Finding.resource_id == gone)).one()
    assert removed.status == FindingStatus.RESOLVED.value

    # Changing the tenant's profiles changes the version: every file is looked at again.
    with session_scope() as session:
        update_tenant(
            session,
            TenantInput(slug=SLUG, dlp_profiles=[PROFILE_CREDENTIALS]),
            get_settings().fernet(),
        )
    world.reset_stats()
    run = wait_for_run(scan(worker.app, tid), timeout=120)
    assert run.status == ScanStatus.SUCCEEDED.value, run.errors
    assert run.parts["dlp"]["listing_since"] == 0  # new profiles: every conversation again
    assert blob_downloads(world) > 0
    assert open_dlp(tid) == dlp_truth(world, [PROFILE_CREDENTIALS])
    assert open_dlp(tid) < first | {(t, new_id) for t, _ in first}


def test_failed_download_keeps_watermark_and_scan_is_partial(
    db: str, sim: Any, worker: Any
) -> None:
    world = sim.world
    tid = register(sim, [SLUG], dlp_profiles=list(PLANTABLE_PROFILES))[SLUG]
    # The storage host refuses one planted conversation file (a non-retryable 400).
    victim = next(
        f
        for f in world.tenant(SLUG).files.values()
        if f.location == "conversation" and f.variant == "planted" and not f.expired
    )
    token = world.blob_token(SLUG, victim.id)
    world.faults.add(SLUG, Fault("server_error", api="blob", status=400, path_contains=token))
    run = wait_for_run(scan(worker.app, tid), timeout=120)
    assert run.status == ScanStatus.PARTIAL.value
    assert any(e.get("resource") == "dlp" for e in run.errors)
    assert run.parts["dlp"]["watermark_confirmed"] is False
    assert watermark(tid) == 0.0
    missed = {(t, r) for t, r in dlp_truth(world) if r == victim.id}
    assert missed, "the refused file is a planted one"
    assert open_dlp(tid) == dlp_truth(world) - missed

    # Once the storage host recovers, the next scan lists the conversations again and
    # completes: the missed file is found, the watermark advances.
    world.faults.clear(SLUG)
    run = wait_for_run(scan(worker.app, tid), timeout=120)
    assert run.status == ScanStatus.SUCCEEDED.value, run.errors
    assert open_dlp(tid) == dlp_truth(world)
    assert watermark(tid) > 0


def test_dlp_starts_while_a_listing_is_running_and_keeps_it_when_it_fails(
    db: str, sim: Any, worker: Any, redis_url: str
) -> None:
    """Each listing fetch starts the DLP lanes on its files as it ends: the project and GPT
    files are scanned while the conversation listing is still running (not after every
    fetch and detection). When that listing then fails, what was planned is kept: every
    batch reports, the project and GPT findings are there, the conversation kind resolves
    nothing and the watermark stays."""
    import redis

    from detectors.dlp.decisions import FINDING_TYPES
    from pipeline.snapshots import parts_key

    world = sim.world
    tid = register(sim, [SLUG], dlp_profiles=list(PLANTABLE_PROFILES))[SLUG]
    # The conversation listing hangs on its first page (until released below, at most 60 s),
    # then answers 503 on every try.
    listing = "/conversations"
    hang = world.faults.add(
        SLUG, Fault("slow", api="compliance", path_contains=listing, delay=60.0, count=1)
    )
    world.faults.add(SLUG, Fault("server_error", api="compliance", path_contains=listing))
    client = redis.Redis.from_url(redis_url)
    scan_id = scan(worker.app, tid)
    scanned_while_listing = False
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not scanned_while_listing:
        # A batch outcome first, then the listing's summary: both only ever appear, so a
        # result seen before a missing summary was stored while the listing was running.
        result = next(client.scan_iter(f"casb:scan:{scan_id}:dlp_result_*", count=1000), None)
        if client.hexists(parts_key(scan_id), "conversations"):
            break
        scanned_while_listing = result is not None
        time.sleep(0.05)
    assert scanned_while_listing, "no DLP batch finished before the conversation listing"
    hang.release()

    run = wait_for_run(scan_id, timeout=180)
    assert run.status == ScanStatus.PARTIAL.value
    assert any(e.get("resource") == "conversations" for e in run.errors)
    listed = {FINDING_TYPES[kind].finding_type_id for kind in ("project", "gpt")}
    expected = {k for k in dlp_truth(world) if k[0] in listed}
    assert expected, "the simulator plants project and GPT files"
    assert open_dlp(tid) == expected
    dlp = run.parts["dlp"]
    assert dlp["batches_missing"] == 0 and dlp["counts"]["files"] == dlp["files"] > 0
    assert dlp["watermark_confirmed"] is False and watermark(tid) == 0.0
    client.close()
