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


def defer_after_three_pages(world: Any, slug: str, api: str, path: str) -> None:
    """The 4th request of the listing answers a 429 asking for more than the client may
    wait (120 s): the call defers (``RateLimitedError``)."""
    from simulator.faults import Fault

    fault = Fault(
        kind="rate_limit_storm", api=api, path_contains=path, after=3, count=1, retry_after=120
    )
    world.faults.add(slug, fault)


def test_interrupted_listing_resumes_where_it_stopped(
    world: Any, server: Any, redis_client: redis.Redis
) -> None:
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
    defer_after_three_pages(world, slug, "admin", "/users")
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


def _matcher(text: str) -> dict[str, Any] | None:
    """A stand-in for the tenant's DLP profiles: messages of an odd length match."""
    if len(text) % 2:
        return {"profiles": ["odd"], "entries": [{"entry_id": "odd", "excerpt": "***"}]}
    return None


def test_an_interrupted_conversation_listing_resumes_from_its_digests(
    world: Any, server: Any, redis_client: redis.Redis
) -> None:
    """The conversation fetch pages through the shared checkpointed loop: a retry replays the
    saved pages (kept as file refs and masked verdicts, never message text) and asks only
    for the rest; its parts equal those of a listing that was never interrupted."""
    from pipeline.fetchers import FetchContext, PartRun, fetch_conversations

    slug = "tenant-02"
    tenant = world.tenant(slug)
    with world.lock:
        tenant.edges.conversation_page = 4  # the server's page size: several pages
    budget = RedisRateBudget(
        redis_client,
        scale_limits(DEFAULT_LIMITS, 1.0 / TIME_SCALE),
        key_prefix=f"casb:test:resume:{secrets.token_hex(4)}:",
    )
    group = "compliance_list:conversations"  # the client's budget group

    def fetch(scan_id: int, *, defer: bool) -> PartRun:
        """One run of the fetch task: a new context and clients, only Redis carries over."""
        ctx = FetchContext(
            access=access_for(world, server, slug),
            budget=budget,
            checkpoints=RedisListingCheckpoints(
                redis_client, part_key(scan_id, "listing:"), ttl_seconds=600
            ),
            message_matcher=_matcher,
            defer_rate_limited=defer,
        )
        out = PartRun(defer_rate_limited=defer)
        fetch_conversations(ctx, out)
        return out

    def requests() -> int:
        return int(
            world.stats(slug)["groups"].get("compliance:list:conversations", {}).get("requests", 0)
        )

    try:
        # Uninterrupted, for reference: how many pages the listing takes, and its parts.
        world.reset_stats()
        reference_scan = 900_000 + secrets.randbelow(99_999)
        whole = fetch(reference_scan, defer=True)
        pages = requests()
        assert pages >= 5, "the test needs a listing of several pages"
        reference = {
            name: whole.results[name].items for name in ("conversation_files", "message_matches")
        }
        assert reference["message_matches"], "some messages should match"

        # Page 4 answers a 429 asking for more than the client may wait: the task defers.
        scan_id = 900_000 + secrets.randbelow(99_999)
        world.reset_stats()
        defer_after_three_pages(world, slug, "compliance", "/conversations")
        with pytest.raises(RateLimitedError):
            fetch(scan_id, defer=True)
        assert requests() == 4

        # The retry, once the cool-down the 429 set is over, asks only for the pages after
        # the three saved ones and yields the same parts.
        assert redis_client.delete(budget.keys(slug, group)[2]) == 1
        world.reset_stats()
        resumed = fetch(scan_id, defer=True)
        assert requests() == pages - 3
        for name, items in reference.items():
            assert resumed.results[name].items == items
        [notes] = resumed.results["conversation_listing"].items or []
        assert notes["pages_resumed"] == 3 and notes["pages"] == pages - 3
        assert notes["conversations"] == len(tenant.conversations)

        # The checkpoint holds digests: no message text is stored in Redis.
        texts = [m.text for c in tenant.conversations for m in c.messages if m.text.strip()]
        stored = b"".join(
            b"".join(redis_client.lrange(key, 0, -1))
            for key in redis_client.scan_iter(match=part_key(scan_id, "listing:*:pages"))
        )
        assert stored and not [t for t in texts if t.encode() in stored]
        for done in (reference_scan, scan_id):
            RedisSnapshotStore(redis_client, 600).drop(done)
    finally:
        with world.lock:
            tenant.edges.conversation_page = None
