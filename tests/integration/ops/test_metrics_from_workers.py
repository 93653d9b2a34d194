"""The worker-side counters, end to end: a real worker scans a tenant of the simulator, and
every HTTP request the simulator served for it is in Redis for the exporter, by tenant, once
the scan is over (without waiting for the worker's next API call)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from core import metrics
from simulator.faults import Fault
from tests.integration.pipeline.conftest import (  # noqa: F401  (fixtures used by name)
    celery_app_configured,
    register,
    wait_for_run,
    worker,
)
from tests.integration.pipeline.test_scan_pipeline import scan

SLUG = "tenant-01"


@pytest.fixture
def sim() -> Iterator[Any]:
    from simulator.server import start_in_thread
    from simulator.world import World
    from tests.storage import storage_allowed

    running = start_in_thread(World.generate(tenants=1, seed=43, size="tiny"))
    with storage_allowed(running):
        yield running
    running.stop()


def _counted(client: redis.Redis, tenant: str) -> dict[str, int]:
    """API calls in Redis for one tenant, by status class."""
    raw: dict[bytes, bytes] = client.hgetall(metrics.API_CALLS_KEY)  # type: ignore[assignment]
    out: dict[str, int] = {}
    for field, value in raw.items():
        name, _group, status = field.decode().split(metrics.FIELD_SEP)
        if name == tenant:
            out[status] = out.get(status, 0) + int(value)
    return out


def test_a_scans_api_calls_reach_redis_when_its_tasks_end(
    db: str,
    redis_url: str,
    sim: Any,
    worker: Any,  # noqa: F811  (the pipeline package's embedded worker fixture)
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Only the end-of-task flush may write: the once-a-second flush on the next call is off.
    monkeypatch.setattr(metrics, "FLUSH_INTERVAL_SECONDS", 3600.0)
    metrics.reset_recorder()
    client = redis.Redis.from_url(redis_url)
    client.delete(metrics.API_CALLS_KEY)
    # Two 429s (with Retry-After) on the users listing: retried, and counted as 429.
    sim.world.faults.add(
        SLUG,
        Fault("rate_limit_storm", api="admin", path_contains="/organization/users", count=2,
              retry_after=0.1),
    )  # fmt: skip
    tid = register(sim, [SLUG])[SLUG]

    run = wait_for_run(scan(worker.app, tid))
    assert run.status == "succeeded", run.errors
    served = int(sim.world.stats(SLUG)["requests"])
    assert served > 10

    # The last task's flush may land a moment after the run is marked finished.
    deadline = time.monotonic() + 10
    while sum(_counted(client, SLUG).values()) < served and time.monotonic() < deadline:
        time.sleep(0.1)
    counted = _counted(client, SLUG)
    assert sum(counted.values()) == served, (counted, served)
    assert counted.get("429") == 2, counted
    assert metrics._recorder.drain()[0] == {}, "nothing left behind in the worker process"
