"""Rate limits through the real pipeline: a storm of bare 429s is ridden out, and a fetch
deferred mid-way resumes from its listing checkpoints (requests counted on the simulator)."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.errors import RateLimitedError
from schemas.tables import ScanStatus
from simulator.faults import Fault
from store.db import session_scope
from store.findings import open_keys
from tests.integration.pipeline.conftest import register, wait_for_run
from tests.integration.pipeline.test_scan_pipeline import scan


def test_a_ten_second_storm_of_bare_429s_on_gpts_is_ridden_out(
    db: str, sim: Any, worker: Any
) -> None:
    slug = "tenant-01"
    tid = register(sim, [slug])[slug]
    storm = sim.world.faults.add(
        slug,
        Fault(kind="rate_limit_no_headers", api="compliance", path_contains="/gpts", seconds=10),
    )
    sim.world.reset_stats()
    run = wait_for_run(scan(worker.app, tid), timeout=180)
    assert run.status == ScanStatus.SUCCEEDED.value, run.errors
    assert run.parts["fetch"]["gpts"]["ok"] is True and run.errors == []
    # The storm really happened (several bare 429s on /gpts) and was over before the GPT
    # listing got through: the fault stops firing only once its ten seconds have passed.
    assert storm.fired >= 2 and storm.exhausted()
    assert sim.world.stats(slug)["counters"]["fault:rate_limit_no_headers"] == storm.fired
    with session_scope() as session:
        stored = open_keys(session, tid)
    assert stored == sim.world.ground_truth(slug, dlp_profiles=[])


def _project_key_requests(sim: Any, slug: str) -> tuple[int, int]:
    groups = sim.world.stats(slug)["groups"]
    return (
        groups.get("admin:projects", {}).get("requests", 0),
        groups.get("admin:project_api_keys", {}).get("requests", 0),
    )


def test_a_deferred_fetch_resumes_from_its_checkpoints(db: str, sim: Any, worker: Any) -> None:
    """``run_fetch`` exactly as the fetch task calls it: deferred by a long 429, then retried."""
    from pipeline.posture import run_fetch, start_scan
    from pipeline.runtime import get_runtime

    slug = "tenant-02"
    tid = register(sim, [slug])[slug]
    projects = len(sim.world.tenant(slug).projects)
    assert projects >= 3, "the test needs several per-project key listings"
    keys = sum(len(c) for c in sim.world.tenant(slug).project_keys_by_project.values())

    started = start_scan(tid, "api")
    scan_id = int(started["scan_id"])
    # The third project's key listing meets a 429 asking for more than a call may wait.
    sim.world.faults.add(
        slug,
        Fault(
            kind="rate_limit_storm",
            api="admin",
            path_contains="/api_keys",
            after=2,
            count=1,
            retry_after=600,
        ),
    )
    sim.world.reset_stats()
    with pytest.raises(RateLimitedError):
        run_fetch(scan_id, "project_keys", defer_rate_limited=True)
    first_projects, first_keys = _project_key_requests(sim, slug)
    assert first_keys == 3 and first_projects >= 1

    # Celery retries the task after the fleet-wide cool-down (ended here, not waited for).
    budget = get_runtime().budget
    assert budget.redis.delete(budget.keys(slug, "admin")[2]) == 1  # type: ignore[attr-defined]
    sim.world.reset_stats()
    summary = run_fetch(scan_id, "project_keys", defer_rate_limited=True)
    assert summary["ok"] is True and summary["count"] == keys
    # Only what was missing: no projects page, only the key listings not saved yet.
    assert _project_key_requests(sim, slug) == (0, projects - 2)
    get_runtime().snapshots.drop(scan_id)  # what finish_scan does: checkpoints go too
    assert not list(budget.redis.scan_iter(match=f"casb:scan:{scan_id}:*"))  # type: ignore[attr-defined]
