"""RedisRateBudget against the real Redis: the window guarantee across threads and processes,
the same decisions as LocalRateBudget, adaptation kept per tenant and group, TTLs on every key.

No assertion here is about elapsed time: the guarantee is checked on the grant timestamps the
budget returns (Redis server time).
"""

from __future__ import annotations

import multiprocessing
import os
import random
import secrets
import threading
import time
from collections.abc import Callable

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
        prefix, limit, period, share, threads, per_thread, reserve, pause = task
        budget = RedisRateBudget(
            client,
            {"g": (limit, period)},
            policy=BudgetPolicy(burst_share=share, reserve=reserve),
            key_prefix=prefix,
        )
        grants: list[float] = []
        lock = threading.Lock()
        rng = random.Random(prefix)
        ahead = [0]  # grants Redis gave beyond the one asked for (taken ahead)
        grant = budget._grant

        def counting(
            *args: object,
            grant: Callable[..., tuple[bool, float, int]] = grant,
            ahead: list[int] = ahead,
        ) -> tuple[bool, float, int]:
            granted, value, count = grant(*args)
            ahead[0] += max(0, count - 1)
            return granted, value, count

        budget._grant = counting  # type: ignore[method-assign]

        def take(
            budget: RedisRateBudget = budget,
            grants: list[float] = grants,
            lock: threading.Lock = lock,
            per_thread: int = per_thread,
            pause: float = pause,
            rng: random.Random = rng,
        ) -> None:
            for _ in range(per_thread):
                granted = budget.acquire("acme", "g", max_wait=60)
                with lock:
                    grants.append(granted)
                    wait = rng.uniform(0, pause)
                if wait:
                    time.sleep(wait)  # a slow request: grants taken ahead may expire unspent

        workers = [threading.Thread(target=take) for _ in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        out.put((grants, ahead[0]))


PROCESSES, THREADS = 3, 4


#: Each example drives the module's worker processes for about two windows of real time.
FLEET_PROPERTY = settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


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


@FLEET_PROPERTY
@given(
    limit=st.integers(min_value=3, max_value=30),
    period=st.sampled_from([0.5, 1.0]),
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
        tasks.put((prefix, limit, period, share, THREADS, per_thread, 1, 0.0))
    grants = [g for _ in range(PROCESSES) for g in out.get(timeout=120)[0]]
    assert len(grants) == PROCESSES * THREADS * per_thread
    assert windows_hold(grants, limit, period)


@FLEET_PROPERTY
@given(
    limit=st.integers(min_value=8, max_value=40),
    period=st.sampled_from([0.5, 1.0]),
    share=st.sampled_from([0.5, 1.0]),
    reserve=st.integers(min_value=2, max_value=8),
    pause=st.sampled_from([0.0, 0.1, 0.5]),
)
def test_grants_taken_ahead_keep_every_window_within_the_limit(
    fleet: tuple[multiprocessing.Queue, multiprocessing.Queue],
    limit: int,
    period: float,
    share: float,
    reserve: int,
    pause: float,
) -> None:
    """Processes taking up to ``reserve`` grants per round trip, spending them as their
    threads go (some slowly enough that grants ahead expire unspent): the times each
    grant was spent still keep every window of ``period`` within ``limit``."""
    tasks, out = fleet
    prefix = f"casb:test:rlr:{secrets.token_hex(4)}:"
    per_thread = max(2, (2 * limit) // (PROCESSES * THREADS) + 1)
    for _ in range(PROCESSES):
        tasks.put((prefix, limit, period, share, THREADS, per_thread, reserve, pause * period))
    results = [out.get(timeout=120) for _ in range(PROCESSES)]
    grants = [g for spent, _ in results for g in spent]
    assert len(grants) == PROCESSES * THREADS * per_thread
    assert windows_hold(grants, limit, period)
    # the first round trip meets an empty window and a burst of at least 4: it takes some
    assert sum(ahead for _, ahead in results) > 0


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


# ---------------------------------------------------------------- grants taken ahead


def _members(client: redis.Redis, budget: RedisRateBudget) -> list[tuple[bytes, float]]:
    return client.zrange(budget.keys("acme", "g")[0], 0, -1, withscores=True)


def test_grants_taken_ahead_are_spent_without_a_round_trip(
    redis_client: redis.Redis, prefix: str
) -> None:
    budget = RedisRateBudget(
        redis_client,
        {"g": (60, 60.0)},  # burst 10, half the window 30
        policy=BudgetPolicy(reserve=4, reserve_hold=0.25),
        key_prefix=prefix,
    )
    first = budget.acquire("acme", "g")
    members = _members(redis_client, budget)
    assert len(members) == 4 and budget.round_trips == 1
    # recorded at the end of the hold (15 s of the 60 s period): never before they are spent
    assert all(score / 1e6 == pytest.approx(first + 15.0, abs=0.01) for _, score in members)
    spent = [budget.acquire("acme", "g") for _ in range(3)]
    assert budget.round_trips == 1 and len(_members(redis_client, budget)) == 4
    assert all(first <= t < first + 15.0 for t in spent) and spent == sorted(spent)
    budget.acquire("acme", "g")
    assert budget.round_trips == 2 and len(_members(redis_client, budget)) == 8


def test_grants_taken_ahead_expire_unspent_after_the_hold(
    redis_client: redis.Redis, prefix: str
) -> None:
    clock = [1000.0]
    budget = RedisRateBudget(
        redis_client,
        {"g": (60, 60.0)},
        policy=BudgetPolicy(reserve=4, reserve_hold=0.25),
        key_prefix=prefix,
        monotonic=lambda: clock[0],
    )
    budget.acquire("acme", "g")
    clock[0] += 15.0  # the hold is over: the three left are never spent
    budget.acquire("acme", "g")
    assert budget.round_trips == 2 and len(_members(redis_client, budget)) == 8


def test_a_forked_child_does_not_spend_its_parents_grants(
    redis_client: redis.Redis, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    budget = RedisRateBudget(
        redis_client, {"g": (60, 60.0)}, policy=BudgetPolicy(reserve=4), key_prefix=prefix
    )
    budget.acquire("acme", "g")
    parent = os.getpid()
    monkeypatch.setattr("connectors.ratelimit.os.getpid", lambda: parent + 1)
    budget.acquire("acme", "g")
    assert budget.round_trips == 2


def test_a_cool_down_drops_the_grants_taken_ahead(redis_client: redis.Redis, prefix: str) -> None:
    budget = RedisRateBudget(
        redis_client, {"g": (60, 60.0)}, policy=BudgetPolicy(reserve=4), key_prefix=prefix
    )
    budget.acquire("acme", "g")
    budget.cool_down("acme", "g", 30.0)
    with pytest.raises(RateLimitedError):
        budget.acquire("acme", "g", max_wait=0.5)


def test_no_grant_is_taken_ahead_once_the_window_is_half_full(
    redis_client: redis.Redis, prefix: str
) -> None:
    budget = RedisRateBudget(
        redis_client,
        {"g": (10, 60.0)},
        policy=BudgetPolicy(burst_share=1.0, reserve=4),
        key_prefix=prefix,
    )
    sizes = []
    for _ in range(8):
        budget.acquire("acme", "g")
        sizes.append(len(_members(redis_client, budget)))
    # 4 at once (spent over four calls), then one per call: the window is half full at 5
    assert sizes == [4, 4, 4, 4, 5, 6, 7, 8]
    assert budget.round_trips == 5
