"""Per-tenant severity overrides through real inline scans (`casb scan --inline`).

Real PostgreSQL and the simulator over HTTP: the override decides the stored severity of
posture and DLP findings, `casb findings --fail-on` gates on it, and changing it reaches
open findings at the next scan.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import select

from schemas.catalog import BY_ID, BY_KEY
from schemas.tables import Finding, FindingStatus
from simulator.ground_truth import STALE_PENDING_INVITE
from store.db import session_scope
from tests.cli import run_cli
from tests.integration.pipeline.conftest import register

SLUG = "tenant-01"
PROFILE = "Credentials and Secrets"


@pytest.fixture
def inline_runtime() -> Iterator[None]:
    from pipeline.runtime import use_embedded

    yield
    use_embedded(False)


def _scan() -> None:
    result = run_cli("scan", "--inline", SLUG)
    assert result.code == 0, result.output
    assert "succeeded" in result.stdout, result.stdout


def _open_severities(tenant_id: int) -> dict[str, set[str]]:
    """{finding_type_id: {severities of its open findings}}."""
    out: dict[str, set[str]] = {}
    with session_scope() as session:
        rows = session.exec(
            select(Finding.finding_type_id, Finding.severity).where(
                Finding.tenant_id == tenant_id, Finding.status == FindingStatus.OPEN.value
            )
        ).all()
    for type_id, severity in rows:
        out.setdefault(type_id, set()).add(severity)
    return out


def _gate(level: str) -> int:
    return run_cli("findings", "--tenant", SLUG, "--fail-on", level).code


def test_overrides_set_stored_severity_gate_and_follow_changes(
    db: str, sim: Any, inline_runtime: None
) -> None:
    truth = sim.world.ground_truth(SLUG, dlp_profiles=[PROFILE])
    dlp_types = sorted({t for t, _ in truth if BY_ID[t].key.startswith("dlp_")})
    assert STALE_PENDING_INVITE in {t for t, _ in truth} and dlp_types
    dlp_type = BY_ID[dlp_types[0]]
    assert dlp_type.severity.value == "high"

    # Without overrides the catalog decides: nothing is critical, the gate passes.
    tid = register(sim, [SLUG], dlp_profiles=[PROFILE])[SLUG]
    _scan()
    before = _open_severities(tid)
    assert before[STALE_PENDING_INVITE] == {"low"}
    assert before[dlp_type.finding_type_id] == {"high"}
    assert _gate("critical") == 0

    # Override by key (posture) and by FindingTypeID (DLP); the next scan applies both.
    update = run_cli(
        "tenant", "update", SLUG,
        "--severity", "stale_pending_invite=critical",
        "--severity", f"{dlp_type.finding_type_id}=low",
    )  # fmt: skip
    assert update.code == 0, update.output
    _scan()
    after = _open_severities(tid)
    assert after[STALE_PENDING_INVITE] == {"critical"}
    assert after[dlp_type.finding_type_id] == {"low"}
    untouched = BY_KEY["gpt_custom_actions"].finding_type_id
    assert after[untouched] == {"high"}
    assert _gate("critical") == 1

    # Cleared: the catalog's severities come back on the open findings at the next scan.
    assert run_cli("tenant", "update", SLUG, "--clear-severity-overrides").code == 0
    _scan()
    cleared = _open_severities(tid)
    assert cleared[STALE_PENDING_INVITE] == {"low"}
    assert cleared[dlp_type.finding_type_id] == {"high"}
    assert _gate("critical") == 0
