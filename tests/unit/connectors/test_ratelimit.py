"""LocalRateBudget semantics with a fake clock: sliding window, bursts, adaptation; settings."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.errors import RateLimitedError
from connectors.ratelimit import (
    DEFAULT_LIMITS,
    BudgetPolicy,
    LocalRateBudget,
    RateBudget,
    burst_for,
    parse_limit,
    policy_from_settings,
    recovered_limit,
    scale_limits,
)
from core.settings import Settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def budget(clock: Clock, limits=None, **policy) -> LocalRateBudget:
    policy.setdefault("window_margin", 0.0)  # exact numbers below; the margin has its test
    return LocalRateBudget(
        limits or {"g": (12, 1.0)},
        policy=BudgetPolicy(**policy),
        sleep=clock.sleep,
        monotonic=clock.monotonic,
    )


def test_a_burst_of_a_sixth_goes_out_at_once_then_grants_are_paced() -> None:
    clock = Clock()
    b = budget(clock, {"g": (60, 6.0)})  # burst 10, interval 0.1 s
    grants = [b.acquire("t", "g") for _ in range(14)]
    assert grants[:10] == [1000.0] * 10
    gaps = [round(b2 - b1, 9) for b1, b2 in itertools.pairwise(grants[9:])]
    assert gaps == [0.1] * 4


def test_burst_share_zero_is_one_request_at_a_time() -> None:
    clock = Clock()
    b = budget(clock, {"g": (10, 1.0)}, burst_share=0)
    grants = [b.acquire("t", "g") for _ in range(5)]
    assert [round(b2 - b1, 9) for b1, b2 in itertools.pairwise(grants)] == [0.1] * 4


def test_a_small_tenants_few_dozen_requests_go_out_at_once() -> None:
    clock = Clock()
    b = budget(clock, {"g": (300, 60.0)})  # the Admin default: burst 50
    for _ in range(40):
        b.acquire("t", "g")
    assert clock.slept == []


def test_full_burst_share_allows_the_whole_limit_then_waits_for_the_window() -> None:
    clock = Clock()
    b = budget(clock, {"g": (5, 1.0)}, burst_share=1.0)
    assert [b.acquire("t", "g") for _ in range(5)] == [1000.0] * 5
    granted, wait = b.try_acquire("t", "g")
    assert not granted and wait == pytest.approx(1.0)
    clock.now += 0.4
    granted, wait = b.try_acquire("t", "g")
    assert not granted and wait == pytest.approx(0.6)


def windows_hold(grants: list[float], limit: int, period: float) -> bool:
    ordered = sorted(grants)
    return all(
        later - earlier >= period - 1e-9
        for earlier, later in zip(ordered, ordered[limit:], strict=False)
    )


@settings(max_examples=60, deadline=None)
@given(
    limit=st.integers(min_value=1, max_value=40),
    share=st.sampled_from([0.0, 1 / 6, 0.5, 1.0]),
    gaps=st.lists(st.floats(min_value=0, max_value=0.6), min_size=1, max_size=120),
)
def test_no_window_ever_holds_more_than_the_limit(
    limit: int, share: float, gaps: list[float]
) -> None:
    clock = Clock()
    b = budget(clock, {"g": (limit, 1.0)}, burst_share=share)
    grants = []
    for gap in gaps:
        clock.now += gap  # idle gaps must not allow a later burst above the limit
        grants.append(b.acquire("t", "g", max_wait=5))
    assert windows_hold(grants, limit, 1.0)


def test_the_window_margin_lengthens_every_window() -> None:
    clock = Clock()
    b = budget(clock, {"g": (4, 10.0)}, burst_share=1.0, window_margin=0.02)
    grants = [b.acquire("t", "g", max_wait=60) for _ in range(5)]
    assert grants[:4] == [1000.0] * 4 and grants[4] == pytest.approx(1010.2)
    assert b.window_rest("t", "g") == pytest.approx(10.2)


@settings(max_examples=30, deadline=None)
@given(
    limit=st.integers(min_value=1, max_value=40),
    gaps=st.lists(st.floats(min_value=0, max_value=0.6), min_size=1, max_size=80),
)
def test_the_default_policy_holds_every_window(limit: int, gaps: list[float]) -> None:
    clock = Clock()
    b = LocalRateBudget({"g": (limit, 1.0)}, sleep=clock.sleep, monotonic=clock.monotonic)
    grants = []
    for gap in gaps:
        clock.now += gap
        grants.append(b.acquire("t", "g", max_wait=5))
    assert windows_hold(grants, limit, 1.0)


def test_headroom_uses_a_share_of_the_limit() -> None:
    clock = Clock()
    b = budget(clock, {"g": (10, 1.0)}, headroom=0.5)
    assert b.effective_limit("t", "g") == 5


def test_tenants_and_groups_are_independent() -> None:
    clock = Clock()
    b = budget(clock, {"g": (1, 10.0), "h": (1, 10.0)})
    b.acquire("a", "g")
    b.acquire("b", "g")
    b.acquire("a", "h")
    assert clock.slept == []
    assert b.try_acquire("a", "g") == (False, pytest.approx(10.0))


def test_endpoints_of_a_family_share_its_limit_but_not_its_window() -> None:
    clock = Clock()
    b = budget(clock, {"list": (1, 10.0), "admin": (100, 1.0)})
    b.acquire("a", "list:users")
    b.acquire("a", "list:gpts")  # another endpoint: its own window, no wait
    assert clock.slept == []
    assert b.try_acquire("a", "list:users") == (False, pytest.approx(10.0))
    assert b.limit_for("list:projects") == (1, 10.0)
    assert b.limit_for("unknown") == (100, 1.0)  # unknown groups fall back to admin


def test_cool_down_blocks_everyone_and_never_shortens() -> None:
    clock = Clock()
    b = budget(clock)
    b.cool_down("t", "g", 5.0)
    b.cool_down("t", "g", 1.0)  # shorter: ignored
    assert b.try_acquire("t", "g") == (False, pytest.approx(5.0))
    b.acquire("t", "g", max_wait=10)
    assert clock.now == pytest.approx(1005.0)
    assert b.try_acquire("other", "g") == (True, clock.now)


def test_wait_beyond_max_wait_raises_rate_limited() -> None:
    clock = Clock()
    b = budget(clock, {"compliance_list": (50, 60.0)})
    b.cool_down("t", "compliance_list:gpts", 40.0)
    with pytest.raises(RateLimitedError) as info:
        b.acquire("t", "compliance_list:gpts", max_wait=30)
    assert info.value.retry_after == pytest.approx(40.0)
    assert info.value.kind == "rate_limited"
    assert "CASB_RATE_LIMIT_COMPLIANCE_LIST" in info.value.hint
    assert clock.slept == []


def test_a_429_halves_the_limit_once_per_period_then_it_recovers_slowly() -> None:
    clock = Clock()
    b = budget(clock, {"g": (40, 10.0)})
    b.penalize("t", "g")
    assert b.effective_limit("t", "g") == 20
    b.penalize("t", "g")  # the same storm, same period: no second decrease
    assert b.effective_limit("t", "g") == 20
    clock.now += 10.0
    assert b.effective_limit("t", "g") == 24  # +10% of the ceiling per period
    b.penalize("t", "g")
    assert b.effective_limit("t", "g") == 12
    clock.now += 10.0 * 7
    assert b.effective_limit("t", "g") == 40  # capped at the ceiling, back to normal
    assert b.effective_limit("other", "g") == 40  # per tenant


def test_the_reduced_limit_holds_every_window() -> None:
    clock = Clock()
    b = budget(clock, {"g": (10, 1.0)}, burst_share=1.0)
    b.penalize("t", "g")
    grants = [b.acquire("t", "g", max_wait=5) for _ in range(6)]
    # five in the first window; the sixth waits for the window (the limit then recovers)
    assert grants[:5] == [1000.0] * 5 and grants[5] == pytest.approx(1001.0)


def test_a_learned_limit_replaces_the_configured_one_per_tenant_and_group() -> None:
    clock = Clock()
    b = budget(clock, {"g": (50, 1.0)})
    b.learn("t", "g", 20)
    assert b.effective_limit("t", "g") == 20
    assert b.effective_limit("t", "h") == 300  # other groups keep theirs (admin default)
    assert b.effective_limit("u", "g") == 50
    b.learn("t", "g", 80)  # the server may also grant more than configured
    assert b.effective_limit("t", "g") == 80
    b.learn("t", "g", 0)  # nonsense is ignored
    assert b.effective_limit("t", "g") == 80


def test_window_rest_is_the_time_until_the_oldest_grant_leaves() -> None:
    clock = Clock()
    b = budget(clock, {"g": (10, 2.0)})
    assert b.window_rest("t", "g") == 2.0  # empty window: a whole period
    b.acquire("t", "g")
    clock.now += 0.5
    b.acquire("t", "g")
    assert b.window_rest("t", "g") == pytest.approx(1.5)
    clock.now += 1.6
    assert b.window_rest("t", "g") == pytest.approx(0.4)


def test_helpers() -> None:
    assert burst_for(50, 1 / 6) == 8
    assert burst_for(100, 1 / 6) == 16
    assert burst_for(3, 1 / 6) == 1
    assert burst_for(12, 0) == 1
    assert recovered_limit(40, None, 0, 100, 10, 0.1) == 40
    assert recovered_limit(40, 10, 0, 25, 10, 0.1) == 18


def test_is_a_rate_budget() -> None:
    assert isinstance(LocalRateBudget(), RateBudget)


def test_policy_is_validated() -> None:
    for bad in (
        {"burst_share": -0.1},
        {"headroom": 0},
        {"decrease_factor": 1},
        {"recovery_share": 0},
        {"window_margin": -0.1},
    ):
        with pytest.raises(ValueError):
            BudgetPolicy(**bad)


def test_parse_and_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for group in DEFAULT_LIMITS:  # other tests' fleets set their own budgets
        monkeypatch.delenv(f"CASB_RATE_LIMIT_{group.upper()}", raising=False)
    assert parse_limit("50/60") == (50, 60.0)
    assert parse_limit(" 5 / 0.5 ") == (5, 0.5)
    for bad in ("50", "0/60", "50/0", "x/y", "-1/60"):
        with pytest.raises(ValueError):
            parse_limit(bad)
    assert Settings().rate_limits() == DEFAULT_LIMITS
    custom = Settings(
        rate_limit_compliance_list="40/60",
        rate_limit_admin="1000/60",
        rate_burst_share=0,
        rate_headroom=0.9,
        rate_window_margin=0.05,
    )
    assert custom.rate_limits()["compliance_list"] == (40, 60.0)
    assert custom.rate_limits()["admin"] == (1000, 60.0)
    assert custom.rate_limits()["compliance_file"] == DEFAULT_LIMITS["compliance_file"]
    policy = policy_from_settings(custom)
    assert (policy.burst_share, policy.headroom, policy.window_margin) == (0, 0.9, 0.05)
    assert scale_limits({"g": (50, 60.0)}, 0.01) == {"g": (50, 0.6)}


def test_settings_refuse_a_malformed_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.settings import ConfigurationError, get_settings, reset_settings_cache

    monkeypatch.setenv("CASB_RATE_LIMIT_COMPLIANCE_FILE", "fast")
    reset_settings_cache()
    try:
        with pytest.raises(ConfigurationError) as info:
            get_settings()
        assert "CASB_RATE_LIMIT_COMPLIANCE_FILE" in str(info.value)
        assert "fast" not in str(info.value)
    finally:
        monkeypatch.delenv("CASB_RATE_LIMIT_COMPLIANCE_FILE")
        reset_settings_cache()
