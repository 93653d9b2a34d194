"""Hostile files through the real DLP stages (PostgreSQL, Redis, the simulator over HTTP):
a file cut short by an extraction cap keeps its match and says why it was truncated.

Every downloadable file of the tenant is replaced (in the running simulator) by a .docx
whose key sits before 5,000 levels of nesting: past the extractor's depth cap."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
from sqlmodel import select

from pipeline.dlp import finalize_dlp, plan_dlp, run_dlp_batch
from pipeline.posture import run_detect, run_finish
from schemas.tables import DlpFileCache
from store.db import session_scope
from tests.integration.pipeline.conftest import aws_profile_scan

SLUG = "tenant-01"
PROFILE = "Acme AWS keys"
KEY = "AKIAQWERTYUIOPASDFGH"


@pytest.fixture
def world() -> Any:
    from simulator.world import World

    return World.generate(tenants=1, seed=29, size="tiny")


def _nested_docx() -> bytes:
    depth = 5_000
    xml = (
        '<w:document xmlns:w="urn:w"><w:body><w:p><w:r><w:t>'
        f"aws key {KEY}</w:t></w:r></w:p>" + "<w:x>" * depth + "</w:x>" * depth
    ) + "</w:body></w:document>"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("word/document.xml", xml)
    return buf.getvalue()


def test_a_truncated_file_keeps_its_match_and_the_reason(
    db: str, sim: Any, celery_app_configured: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    hostile = _nested_docx()
    monkeypatch.setattr(sim.world, "file_bytes", lambda tenant, f: hostile)
    tid, scan_id = aws_profile_scan(sim, SLUG, PROFILE)
    run_detect(scan_id)
    for key in plan_dlp(scan_id)["batches"]:
        assert run_dlp_batch(scan_id, key)["ok"]

    with session_scope() as session:
        rows = session.exec(select(DlpFileCache).where(DlpFileCache.tenant_id == tid)).all()
    matched = [r for r in rows if r.outcome == "matched"]
    assert matched, [(r.outcome, r.result.get("reason")) for r in rows]
    for row in matched:
        assert row.result["truncated"] == "XML nested deeper than 1000 elements"
        assert row.result["match"]["entries"][0]["entry_id"] == "custom_aws_key_id"
    # nothing that was downloaded came back clean: the hostile file is never "clean"
    assert not [r for r in rows if r.outcome == "clean"]
    # The scan finishes, so its snapshot parts leave the session's Redis database with it.
    assert finalize_dlp(scan_id)["ok"]
    run_finish(scan_id)
