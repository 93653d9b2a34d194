"""The DLP stage functions executed directly (the layer the tasks wrap), and ``--inline``.

Real PostgreSQL, Redis (snapshot store) and the simulator over HTTP; no worker: each stage
is called as the Celery task would call it, so a redelivered batch can be replayed exactly.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import col, select

from core.settings import reset_settings_cache
from detectors.dlp.decisions import FINDING_TYPES
from pipeline.dlp import finalize_dlp, plan_dlp, run_dlp_batch
from pipeline.inline import run_inline
from pipeline.posture import run_detect, run_fetch, run_finish, start_scan
from schemas.tables import Finding, ScanStatus
from simulator.ground_truth import DLP_FINDING_TYPES
from store.db import session_scope
from store.findings import open_keys
from tests.cli import run_cli
from tests.integration.pipeline.conftest import aws_profile_scan, register

SLUG = "tenant-01"
PROFILE = "Acme AWS keys"


@pytest.fixture
def world() -> Any:
    from simulator.world import World

    return World.generate(tenants=1, seed=23, size="tiny")


def aws_truth(world: Any) -> set[tuple[str, str]]:
    """Files a custom 'AKIA + 16' profile must flag: planted AWS key ids, downloadable."""
    from simulator.ground_truth import reachable_file_ids

    tenant = world.tenant(SLUG)
    reachable = reachable_file_ids(tenant)
    out = set()
    for file_id, f in tenant.files.items():
        if f.expired or file_id not in reachable:
            continue
        if any(e.entry == "AWS Access Key ID" for e in world.planted_entries(SLUG, file_id)):
            out.add((FINDING_TYPES[f.location].finding_type_id, file_id))
    assert out, "the simulator plants AWS key ids"
    return out


def blobs(world: Any) -> int:
    return int(world.stats(SLUG).get("counters", {}).get("blob_downloads", 0))


def open_dlp(tenant_id: int) -> set[tuple[str, str]]:
    with session_scope() as session:
        return {k for k in open_keys(session, tenant_id) if k[0] in DLP_FINDING_TYPES}


@pytest.fixture
def batch_of_four(settings_env: Callable[..., None]) -> None:
    settings_env(CASB_DLP_BATCH_SIZE="4")


def test_custom_profile_stages_and_redelivered_batch(
    db: str, sim: Any, celery_app_configured: Any, batch_of_four: None
) -> None:
    added = run_cli("dlp", "profile", "add", PROFILE, "--regex", "AWS key id=AKIA[0-9A-Z]{16}")
    assert added.code == 0, added.output
    tid = register(sim, [SLUG], dlp_profiles=[PROFILE])[SLUG]

    started = start_scan(tid, "manual")
    assert started["status"] == "started" and "files" in started["fetches"]
    scan_id = int(started["scan_id"])
    for resource in started["fetches"]:
        assert run_fetch(scan_id, resource)["ok"], resource
    run_detect(scan_id)
    planned = plan_dlp(scan_id)
    assert planned["status"] == "planned"
    keys = planned["batches"]
    # Small batches, cut per listing fetch: at most one part-filled batch per fetch.
    assert -(-planned["files"] // 4) <= len(keys) <= planned["files"] // 4 + 3
    assert len(keys) > 1
    for key in keys:
        assert run_dlp_batch(scan_id, key)["ok"]
    downloaded = blobs(sim.world)
    assert downloaded > 0

    # A redelivered batch (worker lost after its commit): no download, no duplicate.
    assert run_dlp_batch(scan_id, keys[0])["ok"]
    assert blobs(sim.world) == downloaded
    done = finalize_dlp(scan_id)
    assert done["ok"]
    assert run_finish(scan_id)["status"] == ScanStatus.SUCCEEDED.value

    expected = aws_truth(sim.world)
    assert open_dlp(tid) == expected
    with session_scope() as session:
        rows = session.exec(select(Finding).where(Finding.tenant_id == tid)).all()
    dlp_rows = [r for r in rows if r.finding_type_id in DLP_FINDING_TYPES]
    assert len(dlp_rows) == len(expected)  # one row per file, whatever ran twice
    for row in dlp_rows:
        assert row.evidence["profiles"] == [PROFILE]
        (entry,) = row.evidence["entries"]
        assert entry["entry_id"] == "custom_aws_key_id" and entry["count"] >= 1
        assert entry["excerpts"]
        planted = [e.value for e in sim.world.planted_entries(SLUG, row.resource_id)]
        assert planted and not any(v in json.dumps(row.evidence) for v in planted)

    # The same tenant scanned in-process (`casb scan --inline`) reuses the cache.
    inline = run_inline(tid)
    assert inline["status"] == ScanStatus.SUCCEEDED.value
    assert blobs(sim.world) == downloaded
    assert open_dlp(tid) == expected


def test_changed_listing_over_unchanged_bytes_is_downloaded_but_not_matched_again(
    db: str, sim: Any, celery_app_configured: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache's second key: same content sha256 and profile set -> the verdict is reused."""
    from sqlalchemy import update

    from schemas.tables import DlpFileCache

    tid = register(sim, [SLUG], dlp_profiles=["Credentials and Secrets"])[SLUG]
    assert run_inline(tid)["status"] == ScanStatus.SUCCEEDED.value
    first = open_dlp(tid)
    assert first, "the simulator plants credentials"
    # Pretend every listing changed (a rename, a new created_at): the fingerprints no longer
    # match, so each file with a verdict is downloaded again...
    with session_scope() as session:
        result: Any = session.execute(
            update(DlpFileCache)
            .where(col(DlpFileCache.outcome).in_(["matched", "clean"]))
            .values(listing_fingerprint="l1-stale")
        )
        verdicts = int(result.rowcount)
    assert verdicts > 0
    downloaded = blobs(sim.world)

    # ... but its bytes are unchanged, so nothing is extracted or matched again.
    def no_extraction(*_: Any, **__: Any) -> Any:
        raise AssertionError("an unchanged file was extracted and matched again")

    monkeypatch.setattr("pipeline.dlp.scan_document", no_extraction)
    second = run_inline(tid)
    assert second["status"] == ScanStatus.SUCCEEDED.value
    with session_scope() as session:
        from schemas.tables import ScanRun

        run = session.get(ScanRun, second["scan_id"])
        assert run is not None
        counts = run.parts["dlp"]["counts"]
        rows = session.exec(select(DlpFileCache)).all()
    # Every verdict of this scan came from the cache after a download, none from matching
    # (a conversation not updated since the watermark is not even listed again).
    assert counts["reused"] == counts.get("matched", 0) + counts.get("clean", 0) > 0
    assert blobs(sim.world) == downloaded + counts["reused"]
    refreshed = [r for r in rows if r.listing_fingerprint != "l1-stale"]
    assert len(refreshed) >= counts["reused"]  # the new fingerprints are remembered
    assert open_dlp(tid) == first


def test_an_ignored_dlp_finding_stays_ignored_when_its_file_goes(
    db: str, sim: Any, celery_app_configured: Any
) -> None:
    from store.suppressions import ignore_finding

    tid = register(sim, [SLUG], dlp_profiles=["Credentials and Secrets", "Financial Information"])[
        SLUG
    ]
    assert run_inline(tid)["status"] == ScanStatus.SUCCEEDED.value
    tenant = sim.world.tenant(SLUG)
    # GPT and project listings are complete: a file no longer listed is proven gone.
    gone = sorted(
        (t, r)
        for t, r in open_dlp(tid)
        if t != FINDING_TYPES["conversation"].finding_type_id and r in tenant.files
    )
    assert len(gone) >= 2, gone
    kept, other = gone[0][1], gone[1][1]
    with session_scope() as session:
        row = session.exec(
            select(Finding).where(Finding.tenant_id == tid, Finding.resource_id == kept)
        ).one()
        assert row.id is not None
        ignore_finding(session, row.id, "known test fixture")
    tenant.remove_file(kept)
    tenant.remove_file(other)

    assert run_inline(tid)["status"] == ScanStatus.SUCCEEDED.value
    with session_scope() as session:
        rows = {
            r.resource_id: r
            for r in session.exec(
                select(Finding).where(col(Finding.resource_id).in_([kept, other]))
            ).all()
        }
    assert (rows[kept].status, rows[kept].resolved_at) == ("ignored", None)
    assert rows[kept].ignored_reason == "known test fixture"
    assert rows[other].status == "resolved" and rows[other].resolved_at is not None


def test_files_planned_before_a_later_listing_fails_are_scanned_and_kept(
    db: str, sim: Any, celery_app_configured: Any
) -> None:
    """Each listing fetch plans its own files the moment it ends (what its task does, so
    the lanes start before the other listings are done): batches planned and scanned before
    the conversation listing fails lose nothing, and the failed listing neither resolves
    its kind's findings nor moves the watermark."""
    from pipeline.dlp import plan_dlp_fetch
    from simulator.faults import Fault

    profiles = ["Credentials and Secrets"]
    tid = register(sim, [SLUG], dlp_profiles=profiles)[SLUG]
    truth = {
        k for k in sim.world.ground_truth(SLUG, dlp_profiles=profiles) if k[0] in DLP_FINDING_TYPES
    }
    listed_first = {FINDING_TYPES[kind].finding_type_id for kind in ("project", "gpt")}
    assert {k for k in truth if k[0] in listed_first}, "the simulator plants credentials"
    started = start_scan(tid, "manual")
    scan_id = int(started["scan_id"])

    # The project and GPT listings end first: their files are planned and scanned at once,
    # while the conversation listing has not even started.
    planned: dict[str, list[str]] = {}
    files = 0
    for resource in ("files", "gpts"):
        assert run_fetch(scan_id, resource)["ok"], resource
        plan = plan_dlp_fetch(scan_id, resource)
        assert plan["status"] == "planned" and plan["batches"], plan
        planned[resource] = plan["batches"]
        files += plan.get("files", 0)
        for key in plan["batches"]:
            assert run_dlp_batch(scan_id, key)["ok"]
    downloaded = blobs(sim.world)
    assert downloaded > 0

    # Then the conversation listing fails (503 on every try): nothing of it is planned.
    sim.world.faults.add(
        SLUG, Fault("server_error", api="compliance", path_contains="/conversations")
    )
    assert not run_fetch(scan_id, "conversations")["ok"]
    late = plan_dlp_fetch(scan_id, "conversations")
    assert late["status"] == "planned" and late["batches"] == []
    sim.world.faults.clear(SLUG)
    for resource in started["fetches"]:
        if resource not in ("files", "gpts", "conversations"):
            run_fetch(scan_id, resource)
    run_detect(scan_id)
    # A redelivered listing fetch gets the same plan back: no batch twice, none dropped.
    for resource, keys in planned.items():
        assert plan_dlp_fetch(scan_id, resource)["batches"] == keys

    done = finalize_dlp(scan_id)
    assert done["ok"], done  # every planned batch reported
    assert done["counts"]["files"] == files > 0  # every planned file has its verdict
    assert blobs(sim.world) == downloaded  # finalize downloads nothing
    assert run_finish(scan_id)["status"] == ScanStatus.PARTIAL.value
    assert open_dlp(tid) == {k for k in truth if k[0] in listed_first}
    with session_scope() as session:
        from schemas.tables import ScanRun, Tenant

        run = session.get(ScanRun, scan_id)
        tenant = session.get(Tenant, tid)
        assert run is not None and tenant is not None
        assert run.parts["dlp"]["batches"] == sum(len(k) for k in planned.values())
        assert run.parts["dlp"]["batches_missing"] == 0
        assert run.parts["dlp"]["watermark_confirmed"] is False
        assert tenant.conversation_watermark == 0.0

    # The next scan lists the conversations again and finds the rest.
    assert run_inline(tid)["status"] == ScanStatus.SUCCEEDED.value
    assert open_dlp(tid) == truth


def test_a_listing_fetch_plans_with_the_run_and_tenant_it_loaded(
    db: str, sim: Any, celery_app_configured: Any
) -> None:
    """The fetch task hands its loaded run and tenant to the plan (no second load). The run
    as loaded may be out of date: a scan that finished while its fetch listed is not planned
    and its parts are left as they were; a running one is planned as without them."""
    from pipeline.common import load_scan
    from pipeline.dlp import plan_dlp_fetch
    from schemas.tables import ScanRun

    tid = register(sim, [SLUG], dlp_profiles=["Credentials and Secrets"])[SLUG]
    scan_id = int(start_scan(tid, "manual")["scan_id"])
    loaded = load_scan(scan_id)
    assert run_fetch(scan_id, "files", scan=loaded)["ok"]
    with session_scope() as session:
        run = session.get(ScanRun, scan_id)
        assert run is not None
        run.status = ScanStatus.FAILED.value  # e.g. failed by the reaper meanwhile
        session.add(run)

    late = plan_dlp_fetch(scan_id, "files", loaded)
    assert late == {"scan_id": scan_id, "status": "skipped", "run": ScanStatus.FAILED.value}
    with session_scope() as session:
        run = session.get(ScanRun, scan_id)
        assert run is not None and "dlp" not in run.parts
        assert "dlp" not in (run.parts.get("expected") or [])
        run.status = ScanStatus.RUNNING.value
        session.add(run)

    planned = plan_dlp_fetch(scan_id, "files", loaded)
    assert planned["status"] == "planned" and planned["batches"], planned
    with session_scope() as session:
        run = session.get(ScanRun, scan_id)
        assert run is not None and "dlp" in run.parts["expected"]
        assert run.parts["dlp"]["files"] == planned["files"] > 0
    assert plan_dlp_fetch(scan_id, "files") == planned  # the stored plan, loaded or not
    run_finish(scan_id)  # its snapshot parts and plans go (the next test's scan has its id)


class _Killed(BaseException):
    """Stands for the worker process dying in the middle of a batch."""


def _cache_rows(tenant_id: int) -> int:
    from schemas.tables import DlpFileCache

    with session_scope() as session:
        rows = session.exec(select(DlpFileCache).where(DlpFileCache.tenant_id == tenant_id))
        return len(rows.all())


@pytest.fixture
def batch_per_listing(settings_env: Callable[..., None]) -> None:
    settings_env(CASB_DLP_BATCH_SIZE="1000", CASB_DLP_COMMIT_EVERY="2")


def test_batch_writes_its_verdicts_every_few_files(
    db: str,
    sim: Any,
    celery_app_configured: Any,
    monkeypatch: pytest.MonkeyPatch,
    batch_per_listing: None,
) -> None:
    """One batch per listing, verdicts written every 2 files: a batch whose worker dies
    after 5 downloads leaves 4 verdicts written; its redelivery downloads only the others,
    and the scan's findings are the ground truth."""
    import pipeline.dlp as dlp

    tid, scan_id = aws_profile_scan(sim, SLUG, PROFILE)
    planned = plan_dlp(scan_id)
    sizes = {key: len(dlp.get_runtime().snapshots.get(key) or []) for key in planned["batches"]}
    biggest = max(sizes, key=lambda k: sizes[k])
    assert sizes[biggest] >= 6, sizes

    real = dlp._scan_one
    calls: list[str] = []

    def dies_after_five(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[3].file_id)
        if len(calls) > 5:
            raise _Killed()
        return real(*args, **kwargs)

    monkeypatch.setattr(dlp, "_scan_one", dies_after_five)
    with pytest.raises(_Killed):
        run_dlp_batch(scan_id, biggest)
    assert _cache_rows(tid) == 4  # two writes of two; the fifth file's verdict was pending

    calls.clear()
    monkeypatch.setattr(
        dlp, "_scan_one", lambda *a, **k: calls.append(a[3].file_id) or real(*a, **k)
    )
    for key in planned["batches"]:
        assert run_dlp_batch(scan_id, key)["ok"]
    assert len(calls) == sum(sizes.values()) - 4
    assert _cache_rows(tid) == sum(sizes.values())
    assert finalize_dlp(scan_id)["ok"]
    run_detect(scan_id)
    run_finish(scan_id)
    assert open_dlp(tid) == aws_truth(sim.world)


def test_preload_compiles_the_profile_sets_tenants_use(
    db: str, sim: Any, celery_app_configured: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a prefork worker's main process runs before forking: every enabled tenant's
    profile set ends up in the process's policy cache, under the configured engine (the
    key a DLP batch looks up)."""
    from detectors.dlp import matcher
    from pipeline.dlp import preload_policies
    from schemas.tables import Tenant
    from store.dlp import tenant_profile_version

    added = run_cli("dlp", "profile", "add", PROFILE, "--regex", "AWS key id=AKIA[0-9A-Z]{16}")
    assert added.code == 0, added.output
    tid = register(sim, [SLUG], dlp_profiles=[PROFILE])[SLUG]
    with session_scope() as session:
        tenant = session.get(Tenant, tid)
        assert tenant is not None
        version = tenant_profile_version(session, tenant)
    assert version is not None
    matcher._CACHE.clear()
    monkeypatch.setenv("CASB_DLP_ENGINE", "re2")
    reset_settings_cache()
    try:
        assert preload_policies() == 1
        assert list(matcher._CACHE) == [(version, "re2")]
    finally:
        monkeypatch.delenv("CASB_DLP_ENGINE")
        reset_settings_cache()
