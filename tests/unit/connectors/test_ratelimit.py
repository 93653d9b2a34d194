"""LocalRateBudget (GCRA) semantics with a fake clock, and limit parsing."""

from __future__ import annotations

import itertools

import pytest

from connectors.errors import RateLimitedError
from connectors.ratelimit import (
    DEFAULT_LIMITS,
    LocalRateBudget,
    RateBudget,
    limits_from_env,
    parse_limit,
    scale_limits,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def budget(clock: Clock, limits=None, **kw) -> LocalRateBudget:
    return LocalRateBudget(
        limits or {"g": (10, 1.0)},
        sleep=clock.sleep,
        monotonic=clock.monotonic,
        headroom=kw.pop("headroom", 1.0),
        **kw,
    )


def test_grants_are_evenly_spaced() -> None:
    clock = Clock()
    b = budget(clock)
    grants = []
    for _ in range(25):
        b.acquire("t", "g", max_wait=5)
        grants.append(clock.now)
    gaps = [round(b2 - b1, 9) for b1, b2 in itertools.pairwise(grants)]
    assert gaps == [0.1] * 24


def test_any_window_holds_at_most_the_limit() -> None:
    clock = Clock()
    b = budget(clock, {"g": (10, 1.0)}, burst=1)
    grants = []
    for i in range(60):
        if i % 7 == 0:
            clock.now += 0.35  # idle gaps must not allow a later burst above the limit
        b.acquire("t", "g", max_wait=5)
        grants.append(clock.now)
    for start in grants:
        in_window = [g for g in grants if start <= g < start + 1.0]
        assert len(in_window) <= 10


def test_headroom_slows_grants() -> None:
    clock = Clock()
    b = budget(clock, {"g": (10, 1.0)}, headroom=0.5)
    assert b.interval("g") == pytest.approx(0.2)


def test_burst_allows_immediate_grants_then_spacing() -> None:
    clock = Clock()
    b = budget(clock, burst=3)
    for _ in range(3):
        b.acquire("t", "g")
    assert clock.slept == []
    b.acquire("t", "g")
    assert clock.slept == [pytest.approx(0.1)]


def test_tenants_and_groups_are_independent() -> None:
    clock = Clock()
    b = budget(clock, {"g": (1, 10.0), "h": (1, 10.0)})
    b.acquire("a", "g")
    b.acquire("b", "g")
    b.acquire("a", "h")
    assert clock.slept == []
    assert b.try_acquire("a", "g") == pytest.approx(10.0)


def test_endpoints_of_a_family_share_its_limit_but_not_its_bucket() -> None:
    clock = Clock()
    b = budget(clock, {"list": (1, 10.0), "admin": (100, 1.0)})
    b.acquire("a", "list:users")
    b.acquire("a", "list:gpts")  # another endpoint: its own bucket, no wait
    assert clock.slept == []
    assert b.try_acquire("a", "list:users") == pytest.approx(10.0)  # the family's limit
    assert b.interval("list:projects") == pytest.approx(10.0)
    assert b.interval("unknown") == pytest.approx(0.01)  # unknown groups fall back to admin


def test_cool_down_blocks_everyone_and_never_shortens() -> None:
    clock = Clock()
    b = budget(clock)
    b.cool_down("t", "g", 5.0)
    b.cool_down("t", "g", 1.0)  # shorter: ignored
    assert b.try_acquire("t", "g") == pytest.approx(5.0)
    b.acquire("t", "g", max_wait=10)
    assert clock.now == pytest.approx(1005.0)
    assert b.try_acquire("other", "g") == 0.0


def test_wait_beyond_max_wait_raises_rate_limited() -> None:
    clock = Clock()
    b = budget(clock)
    b.cool_down("t", "g", 40.0)
    with pytest.raises(RateLimitedError) as info:
        b.acquire("t", "g", max_wait=30)
    assert info.value.retry_after == pytest.approx(40.0)
    assert info.value.kind == "rate_limited"
    assert "CASB_RATE_LIMIT_G" in info.value.hint
    assert clock.slept == []


def test_is_a_rate_budget() -> None:
    assert isinstance(LocalRateBudget(), RateBudget)


def test_parse_and_env_overrides() -> None:
    assert parse_limit("50/60") == (50, 60.0)
    assert parse_limit(" 5 / 0.5 ") == (5, 0.5)
    for bad in ("50", "0/60", "50/0", "x/y", "-1/60"):
        with pytest.raises(ValueError):
            parse_limit(bad)
    limits = limits_from_env(
        {"CASB_RATE_LIMIT_COMPLIANCE_LIST": "40/60", "CASB_RATE_LIMIT_ADMIN": "1000/60", "X": "1"}
    )
    assert limits["compliance_list"] == (40, 60.0)
    assert limits["admin"] == (1000, 60.0)
    assert limits["compliance_file"] == DEFAULT_LIMITS["compliance_file"]
    assert scale_limits({"g": (50, 60.0)}, 0.01) == {"g": (50, 0.6)}
