"""RedisRateBudget against the real Redis: the window guarantee across threads and processes,
the same decisions as LocalRateBudget, adaptation kept per tenant and group, TTLs on every key.

No assertion here is about elapsed time: the guarantee is checked on the grant timestamps the
budget returns (Redis server time).
"""

from __future__ import annotations

import multiprocessing
import secrets
import threading

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.errors import RateLimitedError
from connectors.ratelimit import BudgetPolicy, LocalRateBudget, RedisRateBudget


@pytest.fixture
def prefix() -> str:
    return f"casb:test:rl:{secrets.token_hex(4)}:"


def windows_hold(grants: list[float], limit: int, period: float) -> bool:
    """No window of ``period`` seconds holds more than ``limit`` grants (µs resolution)."""
    ordered = sorted(grants)
    return all(
        later - earlier >= period - 1e-6
        for earlier, later in zip(ordered, ordered[limit:], strict=False)
    )


def _hammer_server(url: str, tasks: multiprocessing.Queue, out: multiprocessing.Queue) -> None:
    """One worker process: for each task, ``threads`` threads take ``per_thread`` grants
    each from a budget of its own (as a fleet worker does); the grant times go back."""
    client = redis.Redis.from_url(url)
    while True:
        task = tasks.get()
        if task is None:
            return
        prefix, limit, period, share, threads, per_thread = task
        budget = RedisRateBudget(
            client,
            {"g": (limit, period)},
            policy=BudgetPolicy(burst_share=share),
            key_prefix=prefix,
        )
        grants: list[float] = []
        lock = threading.Lock()

        def take(
            budget: RedisRateBudget = budget,
            grants: list[float] = grants,
            lock: threading.Lock = lock,
            per_thread: int = per_thread,
        ) -> None:
            for _ in range(per_thread):
                granted = budget.acquire("acme", "g", max_wait=60)
                with lock:
                    grants.append(granted)

        workers = [threading.Thread(target=take) for _ in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        out.put(grants)


PROCESSES, THREADS = 3, 4


@pytest.fixture(scope="module")
def fleet(redis_url: str):
    """Three worker processes (spawned once for the module) sharing the Redis."""
    ctx = multiprocessing.get_context("spawn")
    tasks: multiprocessing.Queue = ctx.Queue()
    out: multiprocessing.Queue = ctx.Queue()
    procs = [
        ctx.Process(target=_hammer_server, args=(redis_url, tasks, out), daemon=True)
        for _ in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    yield tasks, out
    for _ in procs:
        tasks.put(None)
    for p in procs:
        p.join(30)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    limit=st.integers(min_value=3, max_value=30),
    period=st.sampled_from([1.0, 1.5]),
    share=st.sampled_from([0.0, 1 / 6, 0.5, 1.0]),
)
def test_no_window_holds_more_than_the_limit_across_processes_and_threads(
    fleet: tuple[multiprocessing.Queue, multiprocessing.Queue],
    limit: int,
    period: float,
    share: float,
) -> None:
    tasks, out = fleet
    prefix = f"casb:test:rlp:{secrets.token_hex(4)}:"
    per_thread = max(1, (2 * limit) // (PROCESSES * THREADS) + 1)  # about two windows' worth
    for _ in range(PROCESSES):
        tasks.put((prefix, limit, period, share, THREADS, per_thread))
    grants = [g for _ in range(PROCESSES) for g in out.get(timeout=120)]
    assert len(grants) == PROCESSES * THREADS * per_thread
    assert windows_hold(grants, limit, period)


def test_burst_then_pacing_and_tenant_isolation(redis_client: redis.Redis, prefix: str) -> None:
    budget = RedisRateBudget(redis_client, {"g": (60, 60.0)}, key_prefix=prefix)  # burst 10
    decisions = [budget.try_acquire("a", "g") for _ in range(11)]
    assert [granted for granted, _ in decisions] == [True] * 10 + [False]
    assert 0.9 <= decisions[-1][1] <= 1.001  # the next grant in one interval (1 s)
    assert budget.try_acquire("b", "g")[0]  # another tenant has its own budget
    assert budget.try_acquire("a", "h")[0]  # another group too (admin default limits)


def test_the_same_decisions_as_the_local_budget(redis_client: redis.Redis, prefix: str) -> None:
    """Both budgets refuse and grant the same requests (waits from their own clocks)."""
    limits = {"g": (12, 60.0)}
    remote = RedisRateBudget(redis_client, limits, key_prefix=prefix)
    local = LocalRateBudget(limits)
    script = ["take"] * 14 + ["penalize", "take", "learn:30", "take", "take", "take"]
    seen: list[tuple[str, bool, bool]] = []
    for step in script:
        if step == "penalize":
            remote.penalize("t", "g")
            local.penalize("t", "g")
        elif step.startswith("learn:"):
            remote.learn("t", "g", int(step[6:]))
            local.learn("t", "g", int(step[6:]))
        else:
            seen.append((step, remote.try_acquire("t", "g")[0], local.try_acquire("t", "g")[0]))
        assert remote.effective_limit("t", "g") == local.effective_limit("t", "g")
    assert all(r == loc for _, r, loc in seen)
    assert [r for _, r, _ in seen][:3] == [True, True, False]  # burst 2 of 12, then paced


def test_adaptation_is_shared_and_kept_per_tenant_and_group(
    redis_client: redis.Redis, prefix: str
) -> None:
    one = RedisRateBudget(redis_client, {"g": (40, 60.0)}, key_prefix=prefix)
    other = RedisRateBudget(
        redis.Redis(connection_pool=redis_client.connection_pool),
        {"g": (40, 60.0)},
        key_prefix=prefix,
    )
    one.penalize("acme", "g")
    one.penalize("acme", "g")  # same period: no second decrease
    assert other.effective_limit("acme", "g") == 20
    assert other.effective_limit("globex", "g") == 40
    assert other.effective_limit("acme", "h") == 300
    one.learn("acme", "h", 90)
    assert other.effective_limit("acme", "h") == 90
    learned_key = one.keys("acme", "h")[3]
    assert redis_client.pttl(learned_key) > 6 * 86400 * 1000  # kept for days, not a window


def test_window_rest(redis_client: redis.Redis, prefix: str) -> None:
    budget = RedisRateBudget(
        redis_client,
        {"g": (10, 30.0)},
        policy=BudgetPolicy(window_margin=0.1),
        key_prefix=prefix,
    )
    assert budget.window_rest("acme", "g") == pytest.approx(33.0)
    budget.acquire("acme", "g")
    assert 32.0 <= budget.window_rest("acme", "g") <= 33.0


def test_cool_down_is_seen_by_every_worker(redis_client: redis.Redis, prefix: str) -> None:
    one = RedisRateBudget(redis_client, {"g": (1000, 60.0)}, key_prefix=prefix)
    other = RedisRateBudget(
        redis.Redis(connection_pool=redis_client.connection_pool),
        {"g": (1000, 60.0)},
        key_prefix=prefix,
    )
    one.cool_down("acme", "g", 30.0)
    one.cool_down("acme", "g", 2.0)  # never shortens
    granted, wait = other.try_acquire("acme", "g")
    assert not granted and 29.0 <= wait <= 30.0
    with pytest.raises(RateLimitedError) as info:
        other.acquire("acme", "g", max_wait=1.0)
    assert info.value.retry_after is not None and info.value.retry_after > 1.0
    assert other.try_acquire("globex", "g")[0]


def test_cool_down_then_acquire_blocks_until_it_ends(redis_client: redis.Redis, prefix: str):
    slept: list[float] = []
    budget = RedisRateBudget(
        redis_client, {"g": (1000, 60.0)}, key_prefix=prefix, sleep=slept.append
    )
    budget.cool_down("acme", "g", 0.2)
    # the injected sleep does not really wait, so the loop asks Redis again until the
    # cool-down key expires on the server
    budget.acquire("acme", "g", max_wait=10)
    assert slept and 0.0 < slept[0] <= 0.2


def test_keys_expire_and_use_the_prefix(redis_client: redis.Redis, prefix: str) -> None:
    budget = RedisRateBudget(redis_client, {"g": (50, 60.0)}, key_prefix=prefix)
    budget.try_acquire("acme", "g")
    budget.cool_down("acme", "g", 5)
    keys = sorted(k.decode() for k in redis_client.scan_iter(f"{prefix}*"))
    base = f"{prefix}{{acme}}:g"
    assert keys == [base, f"{base}:cool", f"{base}:pace"]
    for key in keys:
        assert 0 < redis_client.pttl(key) <= 61_000 + 1000
