"""Suppressions applied by real scans: rules and ignores hold across later scans, expiry lets go.

Unit-level behaviour of ``store.suppressions`` is in ``test_suppressions.py``; this file runs
the real pipeline (``casb scan --inline`` against the simulator over HTTP, posture and DLP)
to prove that the pipeline really calls the hook: a rule added before the first scan ignores
the findings that scan creates, a one-off ignore survives a rescan, and once an ignore
expires the next scan opens the finding again with none of the ignore's fields left on it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import select

from schemas.catalog import BY_ID, BY_KEY
from schemas.tables import Finding, Suppression
from simulator.files import PLANTABLE_PROFILES
from store.db import session_scope
from tests.cli import run_cli
from tests.integration.pipeline.conftest import register

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
def inline_runtime() -> Iterator[None]:
    from pipeline.runtime import use_embedded

    yield
    use_embedded(False)


def _scan() -> None:
    result = run_cli("scan", "--inline", SLUG)
    assert result.code == 0, result.output
    assert "succeeded" in result.stdout, result.stdout


def _findings(tenant_id: int) -> dict[tuple[str, str], Finding]:
    with session_scope() as session:
        rows = session.exec(select(Finding).where(Finding.tenant_id == tenant_id)).all()
        for row in rows:
            session.expunge(row)
    return {(r.finding_type_id, r.resource_id): r for r in rows}


def _key(key: tuple[str, str]) -> str:
    return BY_ID[key[0]].key


def test_rules_and_ignores_hold_across_scans_and_expire(
    db: str, redis_url: str, sim: Any, inline_runtime: None
) -> None:
    tid = register(sim, [SLUG], dlp_profiles=PROFILES)[SLUG]
    truth = sim.world.ground_truth(SLUG, dlp_profiles=PROFILES)
    actions = sorted(k for k in truth if _key(k) == "gpt_custom_actions")
    dlp = sorted(k for k in truth if _key(k) == "dlp_conversation_file")
    assert len(actions) >= 2 and dlp, "the seed plants both kinds"

    # Rules before any finding exists: a posture rule (tenant, type, exact resource) with an
    # expiry, and a DLP rule by type only, without one.
    held = actions[0]
    posture_rule = run_cli(
        "suppress", "add", "--tenant", SLUG, "--type", "gpt_custom_actions",
        "--resource", held[1], "--reason", "vendor GPT, approved", "--until", "30d",
    )  # fmt: skip
    assert posture_rule.code == 0, posture_rule.output
    dlp_rule = run_cli(
        "suppress", "add", "--tenant", SLUG, "--type", "dlp_conversation_file",
        "--resource", "*", "--reason", "legal hold export",
    )  # fmt: skip
    assert dlp_rule.code == 0, dlp_rule.output
    with session_scope() as session:
        rules = {r.reason: r.id for r in session.exec(select(Suppression)).all()}

    _scan()
    first = _findings(tid)
    assert set(first) == truth, set(first) ^ truth  # nothing lost, nothing invented
    assert first[held].status == "ignored"
    assert first[held].ignored_reason == "vendor GPT, approved"
    assert first[held].suppression_id == rules["vendor GPT, approved"]
    assert first[held].ignored_until is not None
    for key in dlp:
        assert first[key].status == "ignored", key
        assert first[key].suppression_id == rules["legal hold export"]
        assert first[key].ignored_until is None
    suppressed = {held, *dlp}
    assert all(first[k].status == "open" for k in truth - suppressed)

    # A one-off ignore by id, then a rescan: every ignore holds, the scan still saw them.
    other = actions[1]
    ignored = run_cli(
        "findings", "ignore", str(first[other].id), "--reason", "accepted risk", "--until", "7d"
    )
    assert ignored.code == 0, ignored.output
    _scan()
    second = _findings(tid)
    for key in (*suppressed, other):
        assert second[key].status == "ignored", key
        before, after = first[key].last_seen, second[key].last_seen
        assert before is not None and after is not None and after > before, key
    assert second[other].ignored_reason == "accepted risk"
    assert second[other].suppression_id is None
    # Ignored findings are listed with their reason and left out of the gate's count.
    listed = run_cli("findings", "--tenant", SLUG, "--status", "ignored", "--format", "json")
    assert {(r["finding_type_id"], r["resource_id"]) for r in json.loads(listed.stdout)} == {
        *suppressed,
        other,
    }

    # Time passes: the posture rule and the one-off ignore expire. The next scan still sees
    # those findings, so they are open again, carrying nothing of the ignore.
    past = datetime.now(UTC) - timedelta(minutes=1)
    with session_scope() as session:
        session.execute(
            update(Suppression)
            .where(Suppression.id == rules["vendor GPT, approved"])  # type: ignore[arg-type]
            .values(until=past)
        )
        for key in (held, other):
            session.execute(
                update(Finding)
                .where(Finding.id == second[key].id)  # type: ignore[arg-type]
                .values(ignored_until=past)
            )
    _scan()
    third = _findings(tid)
    for key in (held, other):
        row = third[key]
        assert row.status == "open", key
        assert (row.ignored_reason, row.ignored_until, row.suppression_id) == (None, None, None)
    for key in dlp:  # the rule without expiry still holds
        assert third[key].status == "ignored", key
        assert third[key].suppression_id == rules["legal hold export"]
    assert BY_KEY["gpt_custom_actions"].finding_type_id == held[0]
