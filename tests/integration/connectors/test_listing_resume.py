"""A listing interrupted mid-way resumes from its Redis checkpoint: requests counted on the
simulator over HTTP, checkpoints in the real Redis under the scan's snapshot namespace."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
import redis

from connectors.admin import AdminClient
from connectors.checkpoints import RedisListingCheckpoints
from connectors.errors import RateLimitedError
from connectors.ratelimit import DEFAULT_LIMITS, RedisRateBudget, scale_limits
from pipeline.snapshots import RedisSnapshotStore, part_key
from tests.integration.connectors.conftest import TIME_SCALE, access_for, fast_options

PAGE = 5  # users per page: the small tenant's 40 users take 8 pages


def test_interrupted_listing_resumes_where_it_stopped(
    world: Any, server: Any, redis_client: redis.Redis
) -> None:
    from simulator.faults import Fault

    slug = "tenant-01"
    total = len(world.tenant(slug).users)
    pages = -(-total // PAGE)
    assert pages >= 4, "the test needs a listing of several pages"
    scan_id = 900_000 + secrets.randbelow(99_999)
    budget = RedisRateBudget(
        redis_client,
        scale_limits(DEFAULT_LIMITS, 1.0 / TIME_SCALE),
        key_prefix=f"casb:test:resume:{secrets.token_hex(4)}:",
    )

    def client() -> AdminClient:
        """A new client each time, as a retried task builds it: only Redis carries over."""
        return AdminClient(
            access_for(world, server, slug),
            budget,
            options=fast_options(page_limits={"admin": PAGE}, retry_after_cap=5),
            checkpoints=RedisListingCheckpoints(
                redis_client, part_key(scan_id, "listing:"), ttl_seconds=600
            ),
        )

    # Page 4 answers a 429 asking for more than the client may wait: the call defers.
    world.reset_stats()
    world.faults.add(
        slug,
        Fault(
            kind="rate_limit_storm",
            api="admin",
            path_contains="/users",
            after=3,
            count=1,
            retry_after=120,
        ),
    )
    seen: list[str] = []
    with pytest.raises(RateLimitedError):
        for user in client().users():
            seen.append(user.id)
    assert len(seen) == 3 * PAGE
    assert world.stats(slug)["groups"]["admin:users"]["requests"] == 4

    # The task is retried once the fleet-wide cool-down the 429 set has passed (here: the
    # test ends it instead of waiting); the retry replays the three saved pages and asks
    # only for the rest.
    assert redis_client.delete(budget.keys(slug, "admin")[2]) == 1
    world.reset_stats()
    resumed = [user.id for user in client().users()]
    assert world.stats(slug)["groups"]["admin:users"]["requests"] == pages - 3
    assert resumed[: 3 * PAGE] == seen and len(resumed) == total == len(set(resumed))

    # Done: a third run sends nothing at all; the checkpoint lives in the scan's namespace,
    # expires with it, and goes when the scan's parts are dropped.
    world.reset_stats()
    assert [user.id for user in client().users()] == resumed
    assert world.stats(slug)["requests"] == 0
    keys = list(redis_client.scan_iter(match=part_key(scan_id, "listing:*")))
    assert len(keys) == 2 and all(0 < redis_client.ttl(k) <= 600 for k in keys)
    RedisSnapshotStore(redis_client, 600).drop(scan_id)
    assert not list(redis_client.scan_iter(match=part_key(scan_id, "*")))
