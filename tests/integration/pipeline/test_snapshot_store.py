"""Fetch results through the real Redis snapshot store: scan-scoped keys with a TTL, and a
task result that is a small summary (resource, count, key, ok or typed error), never data."""

from __future__ import annotations

import json
from typing import Any

import redis

from pipeline.snapshots import KEY_PREFIX, parts_key
from simulator.faults import Fault
from tests.integration.pipeline.conftest import register


def test_fetch_writes_scan_scoped_parts_with_a_ttl_and_returns_a_summary(
    db: str, sim: Any, celery_app_configured: Any, redis_url: str
) -> None:
    from core.settings import get_settings
    from pipeline.posture import run_fetch, start_scan
    from pipeline.runtime import get_runtime

    tid = register(sim, ["tenant-01"])["tenant-01"]
    scan_id = int(start_scan(tid, "manual")["scan_id"])
    client = redis.Redis.from_url(redis_url)
    ttl = get_settings().snapshot_ttl_seconds

    summary = run_fetch(scan_id, "users")
    assert summary["ok"] is True and summary["error"] is None
    assert summary["resource"] == "users" and summary["count"] > 0
    assert summary["key"] == f"{KEY_PREFIX}{scan_id}:users"
    assert set(summary["keys"]) == {"users", "logins"}
    emails = [u.email for u in sim.world.tenant("tenant-01").users.ordered()]
    encoded = json.dumps(summary)
    assert len(encoded) < 1000 and not any(e in encoded for e in emails)  # no payload
    for key in summary["keys"].values():
        assert key.startswith(f"{KEY_PREFIX}{scan_id}:")
        assert 0 < client.ttl(key) <= ttl
    stored = get_runtime().snapshots.get(summary["key"])
    assert stored is not None and len(stored) == summary["count"]
    assert {u["email"] for u in stored} == set(emails)
    assert 0 < client.ttl(parts_key(scan_id)) <= ttl
    assert get_runtime().snapshots.summaries(scan_id)["users"]["count"] == summary["count"]

    # A typed failure is a result, not an exception, and stores no part.
    sim.world.faults.add("tenant-01", Fault(kind="server_error", api="admin", status=403))
    try:
        failed = run_fetch(scan_id, "invites")
    finally:
        sim.world.faults.clear()
    assert failed["ok"] is False and failed["key"] is None and failed["count"] == 0
    assert failed["error"]["kind"] == "permission_error"
    assert not client.exists(f"{KEY_PREFIX}{scan_id}:invites")

    get_runtime().snapshots.drop(scan_id)  # what finish_scan does
    assert list(client.scan_iter(match=f"{KEY_PREFIX}{scan_id}:*")) == []
    client.close()


def test_finishing_a_scan_announces_it_to_followers(
    db: str, sim: Any, celery_app_configured: Any, redis_url: str
) -> None:
    """`casb scan --wait` wakes on this publish instead of waiting for its next refresh."""
    import time

    from pipeline.posture import run_detect, run_fetch, run_finish, start_scan
    from pipeline.snapshots import finished_channel
    from workers.cli.scans import _Wake

    tid = register(sim, ["tenant-01"])["tenant-01"]
    started = start_scan(tid, "manual")
    scan_id = int(started["scan_id"])
    for resource in started["fetches"]:
        run_fetch(scan_id, resource)
    run_detect(scan_id)
    wake = _Wake(redis.Redis.from_url(redis_url), [finished_channel(scan_id)])
    try:
        outcome = run_finish(scan_id)["status"]
        deadline = time.monotonic() + 30
        message = None
        while message is None and time.monotonic() < deadline:
            # None for the subscription's own confirmation (ignored), then the announcement
            message = wake.pubsub.get_message(timeout=1.0)
        assert message is not None
        assert message["channel"].decode() == finished_channel(scan_id)
        assert message["data"].decode() == outcome
    finally:
        wake.close()


def test_the_dlp_work_queue_in_redis_keeps_the_lane_contract(redis_url: str) -> None:
    """The Lua version of the scan's DLP queue (what the fleet runs) against the same
    contract as the in-memory one, in the scan's namespace with a TTL."""
    from pipeline.dlp_lanes import RedisDlpLanes
    from tests.unit.pipeline.test_dlp_lanes import check_lanes_contract

    client = redis.Redis.from_url(redis_url)
    check_lanes_contract(RedisDlpLanes(client, 600))
    keys = sorted(k.decode() for k in client.scan_iter(f"{KEY_PREFIX}7:dlp_*"))
    assert keys == [f"{KEY_PREFIX}7:dlp_lanes"]  # the drained queue is no key in Redis
    assert 0 < client.ttl(f"{KEY_PREFIX}7:dlp_lanes") <= 600
    client.close()


def test_dropping_a_scan_deletes_its_keys_only_among_many_others(redis_url: str) -> None:
    """``drop`` finds every key of the scan wherever SCAN meets it in a keyspace of many
    thousands (task results, other scans), and deletes nothing else."""
    from connectors.checkpoints import RedisListingCheckpoints
    from pipeline.snapshots import DROP_SCAN_COUNT, RedisSnapshotStore

    client = redis.Redis.from_url(redis_url)
    store = RedisSnapshotStore(client, ttl_seconds=600)
    mine, theirs = 900_000_007, 900_000_077  # ids no other test of the run uses
    others = 2 * DROP_SCAN_COUNT + 123
    pipe = client.pipeline(transaction=False)
    for n in range(others):
        pipe.set(f"celery-task-meta-drop-test-{n}", "x", ex=600)
    pipe.execute()
    for scan_id in (mine, theirs):
        store.put(scan_id, "users", [{"id": f"user-{scan_id}"}])
        store.record(scan_id, "users", {"resource": "users", "count": 1, "ok": True})
        RedisListingCheckpoints(client, f"{KEY_PREFIX}{scan_id}:listing:", 600).save_page(
            "abc", 0, [{"id": "x"}], None, done=True
        )
    assert len(list(client.scan_iter(match=f"{KEY_PREFIX}{mine}:*"))) == 4

    store.drop(mine)

    assert list(client.scan_iter(match=f"{KEY_PREFIX}{mine}:*")) == []
    assert len(list(client.scan_iter(match=f"{KEY_PREFIX}{theirs}:*"))) == 4
    assert store.get(f"{KEY_PREFIX}{theirs}:users") == [{"id": f"user-{theirs}"}]
    # every other key is still there (counted by name: keys of earlier tests in this leased
    # database may expire meanwhile, so the database's size is no measure)
    kept = sum(1 for _ in client.scan_iter(match="celery-task-meta-drop-test-*", count=5000))
    assert kept == others
    client.delete(*(f"celery-task-meta-drop-test-{n}" for n in range(others)))
    client.close()
