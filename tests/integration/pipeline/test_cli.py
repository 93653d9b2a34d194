"""`casb scan/rescan/scans/health` against the real services, and `casb demo` end to end."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from schemas.tables import ScanStatus
from store.db import session_scope
from store.findings import open_keys
from tests.cli import run_cli
from tests.integration.pipeline.conftest import register, wait_for_run
from tests.integration.pipeline.test_scan_pipeline import _latest_run_id


@pytest.fixture
def restore_runtime() -> Iterator[None]:
    from pipeline.runtime import use_embedded

    yield
    use_embedded(False)


def test_scan_inline_then_scans_and_health(
    db: str, sim: Any, redis_url: str, restore_runtime: None
) -> None:
    ids = register(sim, ["tenant-01", "tenant-02"])
    result = run_cli("scan", "--inline", "tenant-01", "tenant-02")
    assert result.code == 0, result.output
    assert "succeeded" in result.stdout and "scan results" in result.stdout
    with session_scope() as session:
        for slug, tid in ids.items():
            assert open_keys(session, tid) == sim.world.ground_truth(slug, dlp_profiles=[])

    listed = run_cli("scans", "--json")
    assert listed.code == 0, listed.output
    runs = json.loads(listed.stdout)
    assert {r["tenant"] for r in runs} == {"tenant-01", "tenant-02"}
    assert all(r["status"] == "succeeded" and r["trigger"] == "manual" for r in runs)

    health = run_cli("health", "--json")
    rows = {r["tenant"]: r for r in json.loads(health.stdout)}
    assert rows["tenant-01"]["health"] == "healthy"
    expected_high = sum(
        1 for f in sim.world.manifest("tenant-01", dlp_profiles=[]) if _severity(f) == "high"
    )
    assert rows["tenant-01"]["open_findings"]["high"] == expected_high
    table = run_cli("health")
    assert "tenant-01" in table.stdout and "healthy" in table.stdout


def _severity(expected: Any) -> str:
    from schemas.catalog import BY_ID

    return BY_ID[expected.finding_type_id].severity.value


def test_scan_usage_errors(db: str) -> None:
    assert run_cli("scan").code == 2
    unknown = run_cli("scan", "nope", "--inline")
    assert unknown.code == 2 and "unknown tenant" in unknown.output


def test_scan_wait_and_rescan_through_the_worker(db: str, sim: Any, worker: Any) -> None:
    tid = register(sim, ["tenant-03"])["tenant-03"]
    result = run_cli("scan", "tenant-03", "--wait")
    assert result.code == 0, result.output
    assert "queued" in result.stdout and "scan results" in result.stdout
    run = wait_for_run(_latest_run_id(tid))
    assert run.status == ScanStatus.SUCCEEDED.value

    before = _latest_run_id(tid)
    rescan = run_cli("rescan", "tenant-03")
    assert rescan.code == 0, rescan.output
    import time

    deadline = time.monotonic() + 30
    while _latest_run_id(tid) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    second = wait_for_run(_latest_run_id(tid))
    assert second.id != run.id and second.status == ScanStatus.SUCCEEDED.value


def test_demo_runs_embedded_with_nothing_configured(tmp_path: Path) -> None:
    """A clean environment pointing nowhere: SQLite + in-process, findings = ground truth."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "workers.cli", "demo", "--size", "tiny", "--seed", "3"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "embedded mode" in out
    for slug in ("tenant-01", "tenant-02", "tenant-03"):
        assert slug in out
    assert "open findings" in out and "casb findings" in out
    db_file = tmp_path / ".casb" / "demo.db"
    assert db_file.exists()
    # The next-step commands print whole (copyable), however long the database path is.
    (command,) = [line for line in out.splitlines() if "casb findings --severity" in line]
    assert command.strip() == f"CASB_DATABASE_URL=sqlite:///{db_file} casb findings --severity high"

    from simulator.world import World

    world = World.generate(tenants=3, seed=3, size="tiny")
    engine = create_engine(f"sqlite:///{db_file}")
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT t.slug, f.finding_type_id, f.resource_id FROM findings f "
                "JOIN tenants t ON t.id = f.tenant_id WHERE f.status = 'open'"
            )
        ).all()
        profiles: dict[str, str] = {
            slug: raw for slug, raw in conn.execute(text("SELECT slug, dlp_profiles FROM tenants"))
        }
    engine.dispose()
    # DLP findings are expected only once the DLP stage is part of the pipeline.
    dlp_wired = importlib.util.find_spec("tasks.dlp") is not None
    for slug in world.tenants:
        stored = {(t, r) for s, t, r in rows if s == slug}
        names = json.loads(profiles[slug]) if dlp_wired else []
        assert stored == world.ground_truth(slug, dlp_profiles=names), slug
    secrets = [v for t in world.tenants.values() for v in (t.admin_key, t.compliance_key)]
    for secret in secrets:
        assert secret not in out and secret not in proc.stderr
