"""A file whose storage host trickles its body: tried again on later scans, then skipped.

Each scan's download of the file runs into the download deadline (`CASB_DOWNLOAD_TIMEOUT_SECONDS`):
the first attempts are errors (the scan is partial, the file is tried again next scan), the
`CASB_MAX_DELIVERIES`-th in a row ends as `skipped: too_slow`, cached like a verdict, so later
scans do not download it again. It is never clean: the finding it had stays open throughout.

Real PostgreSQL and the simulator over HTTP with its `trickle` fault on the storage host (16
bytes every half second), scans run in process (`casb scan --inline`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import select

from pipeline.inline import run_inline
from schemas.tables import DlpFileCache, Finding, FindingStatus, ScanRun, ScanStatus
from simulator.faults import Fault
from simulator.files import PLANTABLE_PROFILES, PROFILE_CREDENTIALS
from simulator.ground_truth import DLP_GPT_FILE
from store.db import session_scope
from tests.cli import run_cli
from tests.integration.pipeline.conftest import register

SLUG = "tenant-01"


@pytest.fixture
def world() -> Any:
    from simulator.world import World

    return World.generate(tenants=1, seed=23, size="tiny")


@pytest.fixture
def short_downloads(settings_env: Callable[..., None]) -> None:
    settings_env(CASB_DOWNLOAD_TIMEOUT_SECONDS="1.5", CASB_MAX_DELIVERIES="3")


def _run(scan_id: int) -> ScanRun:
    with session_scope() as session:
        run = session.get(ScanRun, scan_id)
        assert run is not None
        return run


def _cache(tenant_id: int, file_id: str) -> DlpFileCache:
    with session_scope() as session:
        return session.exec(
            select(DlpFileCache).where(
                DlpFileCache.tenant_id == tenant_id, DlpFileCache.file_id == file_id
            )
        ).one()


def _finding(tenant_id: int, file_id: str) -> Finding:
    with session_scope() as session:
        return session.exec(
            select(Finding).where(Finding.tenant_id == tenant_id, Finding.resource_id == file_id)
        ).one()


def test_a_trickled_download_is_retried_a_few_scans_then_skipped_never_clean(
    db: str,
    sim: Any,
    celery_app_configured: Any,
    short_downloads: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = sim.world
    tid = register(sim, [SLUG], dlp_profiles=[PROFILE_CREDENTIALS])[SLUG]
    first = run_inline(tid)
    truth = world.ground_truth(SLUG, dlp_profiles=[PROFILE_CREDENTIALS])
    file_id = sorted(r for t, r in truth if t == DLP_GPT_FILE)[0]
    assert _finding(tid, file_id).status == FindingStatus.OPEN.value, first

    # The profiles change (every file is downloaded again) while the file's storage trickles.
    world.faults.add(
        SLUG,
        Fault(kind="trickle", api="blob", path_contains=world.blob_token(SLUG, file_id), delay=0.5),
    )
    updated = run_cli("tenant", "update", SLUG, *_profiles(PLANTABLE_PROFILES))
    assert updated.code == 0, updated.output

    def fired() -> int:
        return sum(f.fired for f in world.faults.active(SLUG))

    for attempt in (1, 2):
        done = run_inline(tid)
        run = _run(int(done["scan_id"]))
        # An error, tried again next scan: the scan is partial and says which file.
        assert run.status == ScanStatus.PARTIAL.value
        [error] = [e for e in run.errors if e.get("resource") == "dlp"]
        assert error["kind"] == "too_slow", error
        row = _cache(tid, file_id)
        assert (row.outcome, row.result["attempts"], row.result["given_up"]) == (
            "skipped",
            attempt,
            False,
        )
        assert fired() == attempt
        assert _finding(tid, file_id).status == FindingStatus.OPEN.value

    # The third slow attempt in a row: skipped as too_slow, cached, never clean.
    done = run_inline(tid)
    run = _run(int(done["scan_id"]))
    assert run.status == ScanStatus.SUCCEEDED.value, run.errors
    assert run.parts["dlp"]["skip_reasons"].get("too_slow") == 1
    row = _cache(tid, file_id)
    assert row.outcome == "skipped" and row.result["reason"] == "too_slow"
    assert row.result["given_up"] is True and row.result["attempts"] == 3
    assert fired() == 3
    assert _finding(tid, file_id).status == FindingStatus.OPEN.value

    # Not retried for ever: the next scan uses the cached skip and downloads nothing of it.
    again = run_inline(tid)
    run = _run(int(again["scan_id"]))
    assert run.status == ScanStatus.SUCCEEDED.value, run.errors
    assert run.parts["dlp"]["skip_reasons"].get("too_slow") == 1
    assert fired() == 3
    assert _finding(tid, file_id).status == FindingStatus.OPEN.value

    health = json.loads(run_cli("health", "--json").stdout)
    assert next(h for h in health if h["tenant"] == SLUG)["dlp_skipped"]["too_slow"] == 1
    from workers.cli.common import console

    monkeypatch.setattr(console, "width", 400)
    line = next(x for x in run_cli("health").stdout.splitlines() if SLUG in x)
    assert "too_slow 1" in line


def _profiles(names: Any) -> list[str]:
    out: list[str] = []
    for name in names:
        out += ["--dlp-profile", name]
    return out
