"""OCR through the fleet's DLP stage: a tenant whose profiles opt in to OCR gets a finding
for a screenshot of an OpenAI key (evidence says it came from OCR); without Tesseract the
same file is skipped as ``ocr_unavailable`` and counted, never clean.

Real PostgreSQL, Redis and the simulator over HTTP; the simulator serves the screenshot in
place of one of its clean files (content sniffing, not the name, makes it an image).
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Any

import pytest
from sqlmodel import select

from pipeline.inline import run_inline
from schemas.tables import Finding, ScanRun
from simulator.ground_truth import DLP_FINDING_TYPES, reachable_file_ids
from store.db import session_scope
from tests.cli import run_cli
from tests.integration.pipeline.conftest import register
from tests.unit.dlp import images

SLUG = "tenant-01"
OCR_PROFILE = "Screenshots"
OPENAI_KEY = (
    "sk-proj-q7XvR2mTz9LpW4kNc8HyB3sJd6FgQ1aE5uVx0oYiKtZrT3BlbkFJa9Wm2Qx7Lp4Rz8Nc3Vb6Hy1Kd5Gf0Ts"
)


@pytest.fixture
def world() -> Any:
    from simulator.world import World

    return World.generate(tenants=1, seed=23, size="tiny")


@pytest.fixture
def screenshot_file(world: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """Serve a PNG screenshot of a key as the content of one clean, reachable file."""
    from simulator.world import World

    tenant = world.tenant(SLUG)
    reachable = reachable_file_ids(tenant)
    target = next(
        f
        for fid, f in sorted(tenant.files.items())
        if fid in reachable and f.variant == "clean" and not f.expired
    )
    shot = images.screenshot(
        ["$ export OPENAI_API_KEY=" + OPENAI_KEY, "$ python app.py"],
        font_name="DejaVuSans",
        size=16,
    )
    png = images.encode(shot)
    real = World.file_bytes

    def file_bytes(self: Any, t: Any, f: Any) -> bytes:
        return png if f.id == target.id else real(self, t, f)

    monkeypatch.setattr(World, "file_bytes", file_bytes)
    return str(target.id)


def _dlp_rows(tenant_id: int) -> dict[str, Finding]:
    with session_scope() as session:
        rows = session.exec(select(Finding).where(Finding.tenant_id == tenant_id)).all()
    return {r.resource_id: r for r in rows if r.finding_type_id in DLP_FINDING_TYPES}


def _dlp_summary(scan_id: int) -> dict[str, Any]:
    with session_scope() as session:
        run = session.get(ScanRun, scan_id)
        assert run is not None
        return dict(run.parts["dlp"])


def test_screenshot_found_by_ocr_in_a_fleet_scan(
    db: str, sim: Any, celery_app_configured: Any, screenshot_file: str
) -> None:
    if shutil.which("tesseract") is None:
        message = "tesseract is not installed: run scripts/ensure-tesseract.sh"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    added = run_cli("dlp", "profile", "add", OCR_PROFILE, "--keyword", "internal only", "--ocr")
    assert added.code == 0, added.output
    tid = register(sim, [SLUG], dlp_profiles=["Credentials and Secrets", OCR_PROFILE])[SLUG]

    done = run_inline(tid)
    rows = _dlp_rows(tid)
    assert screenshot_file in rows, done
    evidence = rows[screenshot_file].evidence
    entry = next(e for e in evidence["entries"] if e["entry_id"] == "openai_api_key")
    assert entry["ocr_count"] >= 1
    assert evidence["ocr"]["images_read"] == 1 and evidence["ocr"]["unavailable"] is False
    assert OPENAI_KEY not in str(evidence)


def test_without_tesseract_the_screenshot_is_skipped_and_counted(
    db: str,
    sim: Any,
    celery_app_configured: Any,
    screenshot_file: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pytesseract

    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/bin/tesseract")
    added = run_cli("dlp", "profile", "add", OCR_PROFILE, "--keyword", "internal only", "--ocr")
    assert added.code == 0, added.output
    tid = register(sim, [SLUG], dlp_profiles=["Credentials and Secrets", OCR_PROFILE])[SLUG]

    done = run_inline(tid)
    assert screenshot_file not in _dlp_rows(tid)
    summary = _dlp_summary(int(done["scan_id"]))
    assert summary["skip_reasons"].get("ocr_unavailable") == 1, summary
    # and shown to the operator, per tenant, in `casb health`
    assert _health_skips()["ocr_unavailable"] == 1
    from workers.cli.common import console

    monkeypatch.setattr(console, "width", 400)  # one line per tenant: the cell is readable
    table = run_cli("health")
    line = next(x for x in table.stdout.splitlines() if SLUG in x)
    assert table.code == 0 and "DLP files skipped: " in line, table.stdout
    assert "ocr_unavailable 1" in line.split("DLP files skipped: ")[1]

    # the same tenant without an OCR profile: images are not this scan's business
    run_cli("tenant", "update", SLUG, "--clear-dlp-profiles")
    run_cli("tenant", "update", SLUG, "--dlp-profile", "Credentials and Secrets")
    again = run_inline(tid)
    assert "ocr_unavailable" not in _dlp_summary(int(again["scan_id"]))["skip_reasons"]
    assert "ocr_unavailable" not in _health_skips()
    assert "ocr_unavailable" not in run_cli("health").stdout


def _health_skips() -> dict[str, int]:
    health = run_cli("health", "--json")
    assert health.code == 0, health.output
    row = next(r for r in json.loads(health.stdout) if r["tenant"] == SLUG)
    return dict(row["dlp_skipped"])
