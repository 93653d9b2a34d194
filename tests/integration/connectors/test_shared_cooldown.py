"""A 429 seen by one worker slows the whole tenant down: the others stop calling too.

Two clients (two "workers") share one RedisRateBudget; the first meets a 429 storm and gives
up, the second then refuses to send anything while the server's Retry-After runs.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest
import redis

from connectors.admin import AdminClient
from connectors.errors import RateLimitedError
from connectors.ratelimit import DEFAULT_LIMITS, RedisRateBudget, scale_limits
from tests.integration.connectors.conftest import TIME_SCALE, access_for, fast_options


def test_429_on_one_worker_cools_down_every_worker(
    world: Any, server: Any, redis_client: redis.Redis
) -> None:
    from simulator.faults import Fault

    prefix = f"casb:test:cool:{secrets.token_hex(4)}:"
    limits = scale_limits(DEFAULT_LIMITS, 1.0 / TIME_SCALE)

    def worker() -> AdminClient:
        budget = RedisRateBudget(
            redis.Redis(connection_pool=redis_client.connection_pool), limits, key_prefix=prefix
        )
        return AdminClient(
            access_for(world, server, "tenant-02"),
            budget,
            options=fast_options(
                max_attempts=1, budget_max_wait=0.5, retry_after_cap=30, rate_limit_patience=5
            ),
        )

    first, second = worker(), worker()
    world.faults.add("tenant-02", Fault(kind="rate_limit_storm", api="admin", retry_after=20))
    world.reset_stats()
    with pytest.raises(RateLimitedError):
        list(first.users())
    sent = world.stats("tenant-02")["requests"]
    assert sent == 1

    # The other worker is held back by the shared cool-down without touching the API.
    with pytest.raises(RateLimitedError) as info:
        list(second.invites())
    assert info.value.retry_after is not None and info.value.retry_after > 10
    assert world.stats("tenant-02")["requests"] == sent
    assert "tenant-02" in info.value.hint
    # Another tenant is not affected.
    world.faults.clear("tenant-02")
    other = AdminClient(
        access_for(world, server, "tenant-03"),
        RedisRateBudget(redis_client, limits, key_prefix=prefix),
        options=fast_options(),
    )
    assert len(list(other.invites())) == len(world.tenant("tenant-03").invites)
