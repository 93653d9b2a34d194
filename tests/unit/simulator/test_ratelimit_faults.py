"""Token buckets, violation accounting and fault matching, with an injected clock."""

from __future__ import annotations

import time

import pytest

from simulator.faults import Fault, FaultBook
from simulator.ratelimit import RateLimitConfig, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_budget_then_429_with_retry_after_then_refill() -> None:
    clock = Clock()
    rl = RateLimiter(RateLimitConfig(compliance_list_per_min=50), time_scale=60.0, clock=clock)
    assert rl.window_s == 1.0
    decisions = [rl.check("t1", "compliance", "compliance:list:gpts") for _ in range(50)]
    assert all(d.allowed for d in decisions)
    assert decisions[-1].remaining == 0
    denied = rl.check("t1", "compliance", "compliance:list:gpts")
    assert not denied.allowed
    assert denied.retry_after_s == pytest.approx(1 / 50)
    clock.t += 0.1  # 5 tokens back at 50 per second
    assert sum(rl.check("t1", "compliance", "compliance:list:gpts").allowed for _ in range(6)) == 5
    stats = rl.snapshot()["tenants"]["t1"]
    group = stats["groups"]["compliance:list:gpts"]
    assert (group["requests"], group["violations"], group["limit"]) == (57, 2, 50)
    assert stats["violations"] == 2
    assert group["max_in_window"] == 57


def test_groups_keys_and_tenants_have_separate_budgets() -> None:
    rl = RateLimiter(
        RateLimitConfig(compliance_list_per_min=2, compliance_files_per_min=3, admin_per_min=1),
        clock=Clock(),
    )
    assert [rl.check("a", "compliance", "compliance:list:gpts").allowed for _ in range(3)] == [
        True,
        True,
        False,
    ]
    assert rl.check("a", "compliance", "compliance:list:users").allowed
    assert rl.check("b", "compliance", "compliance:list:gpts").allowed
    assert [rl.check("a", "compliance", "compliance:files").allowed for _ in range(4)] == [
        True
    ] * 3 + [False]
    assert [rl.check("a", "admin", "admin:users").allowed for _ in range(2)] == [True, False]
    assert rl.config.limit_for("compliance:get:gpt") == 100


def test_sliding_window_peak_and_reset() -> None:
    clock = Clock()
    rl = RateLimiter(RateLimitConfig(admin_per_min=100), clock=clock)
    for _ in range(10):
        rl.check("a", "admin", "admin:users")
        clock.t += 10  # 6 per 60 s window
    assert rl.snapshot()["tenants"]["a"]["groups"]["admin:users"]["max_in_window"] == 6
    rl.count("a", "blob_auth_rejected")
    assert rl.snapshot()["tenants"]["a"]["counters"] == {"blob_auth_rejected": 1}
    rl.reset_stats()
    assert rl.snapshot()["tenants"] == {}


def test_disabled_limits_still_count() -> None:
    rl = RateLimiter(RateLimitConfig(admin_per_min=1, enabled=False), clock=Clock())
    assert all(rl.check("a", "admin", "admin:users").allowed for _ in range(5))
    assert rl.snapshot()["tenants"]["a"]["requests"] == 5


def test_time_scale_must_be_positive() -> None:
    with pytest.raises(ValueError):
        RateLimiter(RateLimitConfig(), time_scale=0)
    limiter = RateLimiter(RateLimitConfig(), time_scale=2.0)
    with pytest.raises(ValueError):
        limiter.set_time_scale(0)
    assert limiter.time_scale == 2.0 and limiter.window_s == 30.0


def test_fault_after_and_count() -> None:
    book = FaultBook()
    book.add("t1", Fault("server_error", api="admin", after=2, count=3))
    fired = [bool(book.fire("t1", "admin", "/openai/v1/organization/users")) for _ in range(7)]
    assert fired == [False, False, True, True, True, False, False]
    assert book.fire("t2", "admin", "/x") == []


def test_fault_lasting_seconds_from_its_first_firing(monkeypatch: pytest.MonkeyPatch) -> None:
    import simulator.faults as faults

    now = [500.0]
    monkeypatch.setattr(faults.time, "monotonic", lambda: now[0])
    book = FaultBook()
    storm = book.add("t1", Fault("rate_limit_no_headers", api="compliance", seconds=10))
    now[0] = 900.0  # the clock starts at the first firing, not when the fault was added
    assert book.fire("t1", "compliance", "/w/gpts") == [storm]
    now[0] = 909.9
    assert book.fire("t1", "compliance", "/w/gpts") == [storm]
    now[0] = 910.0
    assert book.fire("t1", "compliance", "/w/gpts") == []
    assert storm.fired == 2 and storm.exhausted(now[0])
    with pytest.raises(ValueError, match="fault 'seconds'"):
        Fault.from_dict({"kind": "rate_limit_no_headers", "seconds": -1})


def test_fault_scope_by_api_and_path() -> None:
    book = FaultBook()
    book.add("t1", Fault("slow", api="compliance", path_contains="/gpts"))
    book.add("t1", Fault("unknown_fields"))
    assert [f.kind for f in book.fire("t1", "compliance", "/w/gpts")] == ["slow", "unknown_fields"]
    assert [f.kind for f in book.fire("t1", "compliance", "/w/users")] == ["unknown_fields"]
    assert book.fire("t1", "blob", "/_blob/x") == []  # "any" never hits the storage host
    book.clear("t1")
    assert book.active("t1") == []


def test_fault_validation() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault("meteor")
    with pytest.raises(ValueError, match="unknown fault api"):
        Fault("slow", api="ftp")
    with pytest.raises(ValueError, match="unknown fault fields"):
        Fault.from_dict({"kind": "slow", "seen": 3})
    f = Fault.from_dict({"kind": "huge_page", "items": 5})
    assert f.to_dict()["items"] == 5
    for bad in (
        {"delay": "slowly"},
        {"delay": -1},
        {"count": "2"},
        {"count": True},
        {"after": 1.5},
        {"status": 42},
        {"retry_after": None},
        {"path_contains": 7},
    ):
        with pytest.raises(ValueError, match="fault '"):
            Fault.from_dict({"kind": "slow", **bad})
    assert Fault.from_dict({"kind": "slow", "delay": 0.5, "count": None}).delay == 0.5


def test_a_released_slow_fault_ends_its_delay_early() -> None:
    import asyncio
    import threading

    fault = Fault("slow", delay=30.0)
    threading.Timer(0.1, fault.release).start()
    started = time.monotonic()
    asyncio.run(fault.hold())
    assert fault.released and time.monotonic() - started < 29.0
    assert "released" not in fault.to_dict()  # a cue, not part of the fault's description


def test_an_unreleased_slow_fault_waits_its_whole_delay() -> None:
    import asyncio

    fault = Fault("slow", delay=0.2)
    started = time.monotonic()
    asyncio.run(fault.hold())
    assert time.monotonic() - started >= 0.2
