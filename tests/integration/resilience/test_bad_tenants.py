"""One fleet run, many broken tenants: each fails alone, with a typed error or a skip reason.

Ten tenants are scanned together by one worker process. Eight of them suffer one fault each
(malformed pages, truncated JSON, a page of 10,000 items, unknown fields, a key revoked in
the middle of the scan, a repeated cursor, a vanished workspace, a wrong-shaped body), and
tenant-01 holds a 500 MB file and a zip bomb for DLP. Every broken tenant gets a typed
error on the resource that broke (and the matching health), never an invented finding; the
tenants whose faults are survivable, and the clean ones, get exactly their ground truth.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import select

from schemas.tables import DlpFileCache, ScanStatus, Tenant
from simulator.app import ADMIN_PREFIX
from simulator.faults import Fault
from simulator.files import PLANTABLE_PROFILES
from simulator.ground_truth import INACTIVE_USER
from simulator.world import World
from store.db import session_scope
from tests.integration.resilience.conftest import (
    WorkerProcess,
    assert_exact_findings,
    open_findings,
    producer,
    register_tenants,
    request_scan,
    wait_finished,
    worker_env,
)

LARGE_FILE = 500 * 1024 * 1024
ORG = ADMIN_PREFIX + "/organization"

# slug -> (fault, the fetch it breaks, the typed error kind, the tenant health)
BROKEN: dict[str, tuple[Fault, str, str, str]] = {
    "tenant-02": (
        Fault("malformed_json", api="compliance", path_contains="/gpts"),
        "gpts",
        "malformed_response",
        "api_error",
    ),
    "tenant-03": (
        Fault("truncated_json", api="admin", path_contains=ORG + "/invites"),
        "invites",
        "malformed_response",
        "api_error",
    ),
    "tenant-04": (
        Fault("revoked_key", api="admin", after=3),
        "",  # whichever admin fetches came after the revocation
        "credential_error",
        "credential_error",
    ),
    "tenant-05": (
        Fault("repeated_cursor", api="admin", path_contains=ORG + "/admin_api_keys"),
        "admin_keys",
        "malformed_response",
        "api_error",
    ),
    "tenant-06": (
        Fault("workspace_gone", api="compliance"),
        "gpts",
        "not_found",
        "not_found",
    ),
    "tenant-07": (
        Fault("wrong_shape", api="admin", path_contains=ORG + "/projects"),
        "project_keys",
        "malformed_response",
        "api_error",
    ),
}
# A page of 10,000 login events (copies of the first one, standing in for the real
# audit log): the scan takes it in its stride; only the login signal changed.
HUGE_PAGE = "tenant-08"
# Fields the scanner has never heard of, on every object of every response.
UNKNOWN_FIELDS = "tenant-09"
SURVIVABLE: dict[str, Fault] = {
    HUGE_PAGE: Fault("huge_page", api="admin", path_contains=ORG + "/audit_logs"),
    UNKNOWN_FIELDS: Fault("unknown_fields", api="any"),
}
CLEAN = ("tenant-10",)

pytestmark = pytest.mark.slow


def _health(tenant_id: int) -> str:
    with session_scope() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        return tenant.health


def test_each_broken_tenant_fails_alone_and_the_fleet_is_unaffected(
    db: str,
    redis_url: str,
    secret_key: str,
    start_sim: Callable[[Any], Any],
    spawn_worker: Callable[..., WorkerProcess],
) -> None:
    world = World.generate(
        tenants=10, seed=26, size="tiny", time_scale=60.0, fault_files=True,
        large_file_bytes=LARGE_FILE,
    )  # fmt: skip
    sim = start_sim(world)
    profiles = list(PLANTABLE_PROFILES)
    # DLP for tenant-01 (the 500 MB file and the zip bomb) and for the clean control.
    ids = register_tenants(sim, ["tenant-01", *CLEAN], dlp_profiles=profiles)
    ids |= register_tenants(sim, [*BROKEN, *SURVIVABLE])
    for slug, (fault, *_rest) in BROKEN.items():
        world.faults.add(slug, fault)
    for slug, fault in SURVIVABLE.items():
        world.faults.add(slug, fault)

    spawn_worker(worker_env(db, redis_url, secret_key), pool="threads", concurrency=8)
    app = producer(redis_url)
    runs = {slug: request_scan(app, tid) for slug, tid in ids.items()}
    done = {slug: wait_finished(scan_id, 120) for slug, scan_id in runs.items()}

    # tenant-01: the 500 MB file and the zip bomb are skipped with their reasons; the scan
    # succeeds and its findings (posture and DLP) are exactly the ground truth.
    first = done["tenant-01"]
    assert first.status == ScanStatus.SUCCEEDED.value, first.errors
    skips = first.parts["dlp"]["skip_reasons"]
    assert skips.get("too_large") == 1 and skips.get("zip_bomb") == 1, skips
    assert_exact_findings(
        ids["tenant-01"], world.ground_truth("tenant-01", dlp_profiles=profiles), "tenant-01"
    )
    # The 500 MB file was refused on its declared size (the cap is 100 MB): it was never
    # read through, so it has no content hash; the zip bomb was read (small) and refused
    # by the extractor.
    with session_scope() as session:
        cache = {
            row.file_id: row
            for row in session.exec(
                select(DlpFileCache).where(DlpFileCache.tenant_id == ids["tenant-01"])
            ).all()
        }
    files = world.tenant("tenant-01").files
    large = next(f.id for f in files.values() if f.variant == "large")
    bomb = next(f.id for f in files.values() if f.variant == "zipbomb")
    assert cache[large].outcome == "skipped" and cache[large].result["reason"] == "too_large"
    assert cache[large].content_sha256 is None
    assert cache[bomb].outcome == "skipped" and cache[bomb].result["reason"] == "zip_bomb"

    for slug, (_, resource, kind, health) in BROKEN.items():
        run = done[slug]
        assert run.status in (ScanStatus.PARTIAL.value, ScanStatus.FAILED.value), (slug, run)
        matching = [e for e in run.errors if e.get("kind") == kind]
        assert matching, (slug, run.errors)
        if resource:
            assert any(e["resource"] == resource for e in matching), (slug, run.errors)
        assert _health(ids[slug]) == health, slug
        # A broken tenant never gets an invented finding from garbage.
        truth = world.ground_truth(slug, dlp_profiles=[])
        assert open_findings(ids[slug]) <= truth, slug
        assert world.stats(slug)["counters"].get(f"fault:{BROKEN[slug][0].kind}"), slug

    for slug, fault in SURVIVABLE.items():
        run = done[slug]
        assert run.status == ScanStatus.SUCCEEDED.value, (slug, run.errors)
        assert world.stats(slug)["counters"].get(f"fault:{fault.kind}"), slug
        assert _health(ids[slug]) == "healthy"
    assert_exact_findings(
        ids[UNKNOWN_FIELDS], world.ground_truth(UNKNOWN_FIELDS, dlp_profiles=[]), UNKNOWN_FIELDS
    )
    # The huge page replaced the audit log with one user's logins: every other finding is
    # exact, and users can only look *more* inactive (a lost login never hides one).
    truth = world.ground_truth(HUGE_PAGE, dlp_profiles=[])
    got = open_findings(ids[HUGE_PAGE])
    assert {k for k in got if k[0] != INACTIVE_USER} == {k for k in truth if k[0] != INACTIVE_USER}
    assert {k for k in truth if k[0] == INACTIVE_USER} <= got

    for slug in CLEAN:
        run = done[slug]
        assert run.status == ScanStatus.SUCCEEDED.value, (slug, run.errors)
        assert_exact_findings(ids[slug], world.ground_truth(slug, dlp_profiles=profiles), slug)
        assert _health(ids[slug]) == "healthy"
