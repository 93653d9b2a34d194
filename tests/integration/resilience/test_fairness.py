"""Fairness: one huge tenant does not hold up a small tenant's scan; per-tenant limits hold.

The huge tenant is the simulator's ``huge`` size (50,000 users, 2,000 invites, 1,000
projects, 5,000 GPTs, 20,021 files), with DLP on, so its scan plans ~800 DLP batches. The
fleet is shaped as deployed: one process for scans/fetch/detect (threads) and one prefork
process for DLP. While the huge tenant's DLP stage is running, a small tenant asks for a
scan. Asserted on order and counters (performance numbers are in bench/fleet_bench.py):

* the small scan finishes, exactly, while the huge scan is still running, and the huge
  tenant completed only a few batches between the small scan's DLP plan and its end (the
  small batches waited behind a handful of huge ones, not behind the whole backlog);
* the huge scan never has more than its lanes' worth of DLP tasks queued or running;
* no tenant ever has two active scans: a second request for the huge tenant coalesces.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis
from sqlmodel import col, select

from schemas.tables import ScanRun, ScanStatus
from simulator.files import PLANTABLE_PROFILES
from simulator.world import World
from store.db import session_scope
from tests.integration.resilience.conftest import (
    WorkerProcess,
    assert_exact_findings,
    get_run,
    producer,
    register_tenants,
    request_scan,
    runs_of,
    wait_until,
    worker_env,
)

LANES = 4  # CASB_DLP_MAX_IN_FLIGHT_PER_TENANT for the worker
DLP_CONCURRENCY = 2

pytestmark = pytest.mark.slow


def _dlp_messages(client: redis.Redis, scan_id: int) -> int:
    """casb.dlp_scan messages of one scan queued on ``dlp`` or delivered and not yet acked."""
    queued: list[Any] = list(client.lrange("dlp", 0, -1))
    messages = [json.loads(item) for item in queued]
    messages += [json.loads(v)[0] for v in client.hgetall("unacked").values()]
    count = 0
    for message in messages:
        headers = message.get("headers") or {}
        if headers.get("task") != "casb.dlp_scan":
            continue
        # argsrepr is "(7, 'casb:scan:7:dlp_batch_files_3')", or a list when a chain sent it
        match = re.match(r"[\[(](\d+),", str(headers.get("argsrepr", "")))
        if match and int(match.group(1)) == scan_id:
            count += 1
    return count


def _keys(client: redis.Redis, scan_id: int, part: str) -> int:
    return sum(1 for _ in client.scan_iter(f"casb:scan:{scan_id}:{part}*", count=1000))


def _active_runs_per_tenant() -> dict[int, int]:
    with session_scope() as session:
        runs = session.exec(
            select(ScanRun).where(col(ScanRun.status).in_(ScanStatus.active()))
        ).all()
    out: dict[int, int] = {}
    for run in runs:
        out[run.tenant_id] = out.get(run.tenant_id, 0) + 1
    return out


@dataclass
class Sample:
    at: float
    huge_in_flight: int
    huge_done: int
    small_planned: bool
    small_status: str
    huge_status: str
    active: dict[int, int] = field(default_factory=dict)


def test_huge_tenant_does_not_delay_a_small_tenant(
    db: str,
    redis_url: str,
    secret_key: str,
    start_sim: Callable[[Any], Any],
    spawn_worker: Callable[..., WorkerProcess],
) -> None:
    profiles = list(PLANTABLE_PROFILES)
    big_world = World.generate(tenants=1, seed=31, size="huge", time_scale=60.0)
    small_world = World.generate(tenants=1, seed=32, size="tiny", time_scale=60.0)
    big_sim, small_sim = start_sim(big_world), start_sim(small_world)
    huge = register_tenants(big_sim, rename=lambda _: "huge", dlp_profiles=profiles)["tenant-01"]
    small = register_tenants(small_sim, rename=lambda _: "small", dlp_profiles=profiles)[
        "tenant-01"
    ]
    env = worker_env(
        db, redis_url, secret_key, dlp_max_in_flight_per_tenant=str(LANES), dlp_batch_size="25"
    )
    spawn_worker(env, pool="threads", concurrency=8, queues=("scans", "fetch", "detect"))
    spawn_worker(env, pool="prefork", concurrency=DLP_CONCURRENCY, queues=("dlp",))
    app = producer(redis_url)
    client = redis.Redis.from_url(redis_url)

    t0 = time.monotonic()
    huge_scan = request_scan(app, huge)
    # Wait for the huge tenant's DLP stage to be under way with all of its files planned
    # (each of its three listing fetches plans its own files as it ends).
    wait_until(
        lambda: (
            _keys(client, huge_scan, "dlp_plan_") >= 3
            and _keys(client, huge_scan, "dlp_result_") >= 1
        ),
        240,
        "huge DLP to start",
    )
    total_batches = _keys(client, huge_scan, "dlp_batch_")
    print(f"huge DLP started after {time.monotonic() - t0:.1f}s, {total_batches} batches")
    assert total_batches > 20 * LANES

    # A second request for the huge tenant coalesces onto its active run.
    app.send_task("casb.scan_tenant", args=[huge], kwargs={"trigger": "api"}, queue="scans")
    small_scan = request_scan(app, small)

    samples: list[Sample] = []
    while True:
        small_status = get_run(small_scan).status
        samples.append(
            Sample(
                at=time.monotonic() - t0,
                huge_in_flight=_dlp_messages(client, huge_scan),
                huge_done=_keys(client, huge_scan, "dlp_result_"),
                small_planned=_keys(client, small_scan, "dlp_batch_") > 0,
                small_status=small_status,
                huge_status=get_run(huge_scan).status,
                active=_active_runs_per_tenant(),
            )
        )
        if small_status not in ScanStatus.active():
            break
        assert samples[-1].at < 300, "the small scan did not finish"
        time.sleep(0.1)

    small_run = get_run(small_scan)
    assert small_run.status == ScanStatus.SUCCEEDED.value, small_run.errors
    assert_exact_findings(small, small_world.ground_truth("tenant-01", dlp_profiles=profiles), "s")
    # Ordering: the small scan finished while the huge one was still running...
    assert samples[-1].huge_status == ScanStatus.RUNNING.value
    # ...and, from the moment its DLP batches were queued to its end, the huge tenant
    # completed only a handful of batches (a bound set by the lanes, not by its backlog).
    planned_at = next(s for s in samples if s.small_planned)
    during = samples[-1].huge_done - planned_at.huge_done
    remaining = total_batches - planned_at.huge_done
    print(
        f"small scan: {small_run.counts.get('seconds')}s; huge batches done while the small "
        f"DLP waited: {during} of {remaining} remaining; max huge in flight: "
        f"{max(s.huge_in_flight for s in samples)}"
    )
    assert during <= 2 * LANES, (during, remaining)
    assert remaining > 50 * LANES
    # Per-tenant limits: at most LANES huge DLP tasks queued or running (a lane's next
    # batch is queued just before the previous one is acked, hence the factor 2), never
    # two active scans of one tenant, and the extra request was coalesced.
    assert max(s.huge_in_flight for s in samples) <= 2 * LANES
    assert all(n <= 1 for s in samples for n in s.active.values())
    assert [r.id for r in runs_of(huge)] == [huge_scan]
    assert get_run(huge_scan).coalesced_requests == 1
