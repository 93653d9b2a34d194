"""``casb db prune`` and the daily beat task: what ages out goes, what is live stays."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from schemas.tables import DlpFileCache, Finding, ScanRun, utcnow
from store.db import get_engine
from tests.cli import run_cli
from tests.integration.ops.seed import add_finding, add_scan, add_tenant
from workers import celeryconfig


def _ids(db: str, model: type) -> set[int]:
    with Session(get_engine(db)) as s:
        return {row.id for row in s.exec(select(model)).all()}


def _cache_row(db: str, tenant_id: int, file_id: str, age_days: int) -> int:
    with Session(get_engine(db)) as s:
        row = DlpFileCache(
            tenant_id=tenant_id, file_id=file_id, profile_version="v1", outcome="clean",
            scanned_at=utcnow() - timedelta(days=age_days),
        )  # fmt: skip
        s.add(row)
        s.commit()
        assert row.id is not None
        return row.id


def test_prune_deletes_what_aged_out_and_keeps_what_is_live(db: str) -> None:
    now = utcnow()
    old, recent = now - timedelta(days=800), now - timedelta(days=10)
    acme, beta = add_tenant(db, "acme"), add_tenant(db, "beta")
    open_old = add_finding(db, acme, "gpt_public_link", "g-open", first_seen=old, last_seen=old)
    ignored_old = add_finding(
        db, acme, "gpt_public_store", "g-ign", status="ignored", first_seen=old, last_seen=old
    )
    resolved_old = add_finding(
        db, acme, "gpt_web_browsing", "g-old", status="resolved", resolved_at=old,
        first_seen=old, last_seen=old,
    )  # fmt: skip
    resolved_recent = add_finding(
        db, acme, "gpt_code_interpreter", "g-new", status="resolved", resolved_at=recent
    )
    runs_old = [add_scan(db, acme, old + timedelta(days=d)) for d in range(3)]
    latest_of_beta = add_scan(db, beta, old)  # old, but beta's only run: health reads it
    active_old = add_scan(db, beta, old + timedelta(days=1), status="queued")
    run_recent = add_scan(db, acme, recent)
    cache_old, cache_new = _cache_row(db, acme, "file-a", 400), _cache_row(db, acme, "file-b", 5)

    dry = run_cli("db", "prune", "--dry-run")
    assert dry.code == 0, dry.output
    assert _ids(db, Finding) == {open_old, ignored_old, resolved_old, resolved_recent}
    lines = {line.split("│")[1].strip(): line for line in dry.stdout.splitlines() if "│" in line}
    assert lines["resolved_findings"].rstrip(" │").endswith("1")
    assert lines["scan_runs"].rstrip(" │").endswith("3")
    assert lines["dlp_cache"].rstrip(" │").endswith("1")

    done = run_cli("db", "prune")
    assert done.code == 0, done.output
    assert _ids(db, Finding) == {open_old, ignored_old, resolved_recent}
    assert _ids(db, ScanRun) == {latest_of_beta, active_old, run_recent}
    assert set(runs_old).isdisjoint(_ids(db, ScanRun))
    assert _ids(db, DlpFileCache) == {cache_new}
    assert cache_old not in _ids(db, DlpFileCache)

    again = run_cli("db", "prune", "--older-than", "7d")
    assert again.code == 0
    assert _ids(db, Finding) == {open_old, ignored_old}, "open and ignored are never pruned"
    assert _ids(db, ScanRun) == {latest_of_beta, active_old, run_recent}


def test_prune_refuses_a_bad_age_and_runs_daily_from_beat(db: str) -> None:
    bad = run_cli("db", "prune", "--older-than", "forever")
    assert bad.code == 2 and "30s, 15m, 12h, 7d or 2w" in bad.output
    entry = celeryconfig.beat_schedule["prune-retention"]
    assert entry["task"] == "casb.prune_retention" and entry["schedule"] == 24 * 3600
