"""A whole scan against a compromised API: every GPT-file download redirects to the trap.

The simulator (its storage allowed by exact host:port) answers the GPT file routes with a
307 to a second loopback port; the scan completes, those files are skipped as
``redirect_refused`` (counted in the DLP stage and named in the tenant's health), the
other files get their verdicts, and the trap never sees a connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import select

from detectors.dlp.decisions import KIND_BY_TYPE_ID
from schemas.tables import Finding, ScanRun, Tenant
from simulator.faults import Fault
from simulator.files import PLANTABLE_PROFILES
from store.db import session_scope
from tests.integration.hostile.servers import Trap

SLUG = "tenant-01"
PROFILES = list(PLANTABLE_PROFILES)


@pytest.fixture
def sim() -> Iterator[Any]:
    from simulator.server import start_in_thread
    from simulator.world import World
    from tests.storage import storage_allowed

    running = start_in_thread(World.generate(tenants=1, seed=41, size="tiny"))
    with storage_allowed(running):
        yield running
    running.stop()


@pytest.fixture
def embedded() -> Iterator[None]:
    from pipeline.runtime import use_embedded

    use_embedded(True)
    yield
    use_embedded(False)


@pytest.mark.parametrize("form", ["https://localhost:{port}/meta", "http://127.0.0.1:{port}/"])
def test_redirected_gpt_files_are_refused_and_the_scan_completes(
    db: str, sim: Any, embedded: None, form: str
) -> None:
    from pipeline.inline import run_inline
    from workers.cli.demo import register_simulated_tenants

    trap = Trap()
    try:
        tid = register_simulated_tenants(sim, [SLUG], dlp_profiles=PROFILES)[SLUG]
        world = sim.world
        gpt_files = [f for f in world.tenant(SLUG).files.values() if f.location == "gpt"]
        assert gpt_files, "the seed has GPT knowledge files"
        world.faults.add(
            SLUG,
            Fault(
                "redirect_elsewhere",
                api="files",
                path_contains="/gpt_files/",
                location=form.format(port=trap.port),
            ),
        )
        result = run_inline(SLUG)
    finally:
        trap.close()
    assert trap.connections == []

    with session_scope() as session:
        run = session.get(ScanRun, int(result["scan_id"]))
        tenant = session.get(Tenant, tid)
        assert run is not None and tenant is not None
        dlp = run.parts["dlp"]
        detail = tenant.health_detail or ""
    assert run.status == "succeeded", run.errors
    refused = dlp["skip_reasons"].get("redirect_refused", 0)
    assert 1 <= refused <= len(gpt_files)
    assert f"redirect_refused {refused}" in detail

    # Files that are not GPT files still have their verdicts: their findings are there.
    truth = world.ground_truth(SLUG, dlp_profiles=PROFILES)
    with session_scope() as session:
        found = {
            (f.finding_type_id, f.resource_id)
            for f in session.exec(select(Finding).where(Finding.tenant_id == tid))
        }
    others = {k for k in truth if KIND_BY_TYPE_ID.get(k[0]) in ("conversation", "project")}
    gpt = {k for k in truth if KIND_BY_TYPE_ID.get(k[0]) == "gpt"}
    assert gpt and others, "the seed plants DLP findings in GPT files and in others"
    assert others <= found
    assert not (gpt & found), "a refused download produced no verdict"
