"""A tenant's own project key in a GPT file: one critical finding on the key, resolved when
the key leaves the inventory. Real worker, Redis, PostgreSQL, simulator over HTTP."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text
from sqlmodel import select

from schemas.tables import Finding, FindingStatus, ScanStatus
from simulator.files import PROFILE_CREDENTIALS
from simulator.ground_truth import DLP_GPT_FILE, LEAKED_OWN_API_KEY
from store.db import get_engine, session_scope
from store.findings import open_keys
from tests.integration.pipeline.conftest import register, wait_for_run
from tests.integration.pipeline.test_scan_pipeline import scan

SLUG = "tenant-01"


def _rows(tenant_id: int) -> dict[tuple[str, str], Finding]:
    with session_scope() as session:
        rows = session.exec(select(Finding).where(Finding.tenant_id == tenant_id)).all()
    return {(r.finding_type_id, r.resource_id): r for r in rows}


def _database_text(db: str) -> str:
    """Every finding's evidence and every DLP cache result, as stored."""
    with get_engine(db).connect() as conn:
        parts = [str(r[0]) for r in conn.execute(text("SELECT evidence FROM findings"))]
        parts += [str(r[0]) for r in conn.execute(text("SELECT result FROM dlp_file_cache"))]
        parts += [str(r[0]) for r in conn.execute(text("SELECT body FROM alert_deliveries"))]
    return "\n".join(parts)


def test_own_key_in_a_gpt_file_is_one_critical_finding_until_the_key_is_revoked(
    db: str, sim: Any, worker: Any
) -> None:
    profiles = [PROFILE_CREDENTIALS]
    tid = register(sim, [SLUG], dlp_profiles=profiles)[SLUG]
    tenant = sim.world.tenant(SLUG)
    [key_id] = list(tenant.project_keys.values())  # the key whose secret the simulator holds
    secret = tenant.key_secret(key_id)
    gpt = next(g for g in tenant.gpts if g.configs)
    file_id = tenant.leak_key_in_file("gpt", gpt.id, key_id)

    first = wait_for_run(scan(worker.app, tid))
    assert first.status == ScanStatus.SUCCEEDED.value, first.errors
    with session_scope() as session:
        assert open_keys(session, tid) == sim.world.ground_truth(SLUG, dlp_profiles=profiles)
    rows = _rows(tid)
    leaked = [r for r in rows.values() if r.finding_type_id == LEAKED_OWN_API_KEY]
    assert [(r.resource_type, r.resource_id, r.severity) for r in leaked] == [
        ("project_api_key", key_id, "critical")
    ]
    evidence = leaked[0].evidence
    [seen] = evidence["seen_in"]
    assert (seen["file_id"], seen["location"], seen["parent_id"]) == (file_id, "gpt", gpt.id)
    assert seen["owner_id"] == gpt.owner_id
    assert seen["dlp_finding_type_id"] == DLP_GPT_FILE
    assert evidence["chars_agreed"]["suffix"] == 4 and evidence["chars_agreed"]["total"] >= 12
    assert evidence["masked_value"].startswith("sk-proj-") and "…" in evidence["masked_value"]
    assert evidence["project_id"] and "used_after_content_appeared" in evidence
    # The DLP finding on the file stays a DLP finding and points at the key's finding.
    dlp = rows[(DLP_GPT_FILE, file_id)]
    assert dlp.status == FindingStatus.OPEN.value
    assert dlp.evidence["leaked_own_keys"] == [
        {
            "finding_type_key": "leaked_own_api_key",
            "resource_type": "project_api_key",
            "resource_id": key_id,
        }
    ]
    assert secret not in _database_text(db)
    assert secret[8:-4] not in json.dumps(evidence)

    second = wait_for_run(scan(worker.app, tid))  # unchanged: still exactly one, still open
    assert second.status == ScanStatus.SUCCEEDED.value
    again = [r for r in _rows(tid).values() if r.finding_type_id == LEAKED_OWN_API_KEY]
    assert len(again) == 1 and again[0].status == FindingStatus.OPEN.value

    tenant.remove_file(file_id)  # the content goes: the key is still exposed, stays open
    third = wait_for_run(scan(worker.app, tid))
    assert third.status == ScanStatus.SUCCEEDED.value
    assert _rows(tid)[(LEAKED_OWN_API_KEY, key_id)].status == FindingStatus.OPEN.value

    tenant.delete_project_key(key_id)  # revoked: the finding resolves
    fourth = wait_for_run(scan(worker.app, tid))
    assert fourth.status == ScanStatus.SUCCEEDED.value
    final = _rows(tid)[(LEAKED_OWN_API_KEY, key_id)]
    assert final.status == FindingStatus.RESOLVED.value and final.resolved_at is not None
    with session_scope() as session:
        assert open_keys(session, tid) == sim.world.ground_truth(SLUG, dlp_profiles=profiles)
    assert secret not in _database_text(db)
