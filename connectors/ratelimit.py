"""Per-tenant, per-route-group rate budgets shared by every worker.

Celery's ``rate_limit`` is per worker and per task type, so it cannot keep a fleet of
fetchers within one tenant's API limits. Every connector call draws from a budget keyed by
(tenant, route group) instead:

* ``RedisRateBudget``: one Lua script per decision, so the check and the update are atomic
  across every thread, process and host that shares the Redis. Time comes from Redis
  ``TIME``, so worker clock skew does not matter.
* ``LocalRateBudget``: the same rules in process memory, for the embedded demo and
  ``--inline``.

A grant needs two things (both checked in the same atomic step):

1. **Sliding window, exact.** The grants of the last ``period`` seconds (plus a small
   ``window_margin``, 1% by default, for network jitter) are kept (a sorted set in Redis);
   a grant is given only if that window then holds at most ``limit`` grants. So *every*
   window of ``period`` seconds stays within the limit, not just aligned minutes.
2. **Bursts up to a share of the limit.** A GCRA pacer with emission interval
   ``period / limit`` and a burst of ``max(1, limit * burst_share)`` (default a sixth):
   a small tenant's few dozen requests go out at once, a big tenant's steady stream is
   paced at exactly the limit instead of arriving as one block per window.

The limit adapts per (tenant, group), and what was learned is kept in Redis:

* ``learn(limit=...)``: the server's ``x-ratelimit-limit-requests`` replaces the configured
  request count (the configured period stays);
* ``penalize()``: a 429 halves the effective limit (multiplicative decrease, at most once
  per period), which then recovers by ``recovery_share`` of the ceiling per period;
* ``cool_down(seconds)``: no grant for anyone of that tenant and group until it expires
  (a 429's Retry-After), so one worker's 429 slows the whole fleet;
* ``window_rest()``: how long until the oldest grant of the current window leaves it, the
  wait after a 429 that names no retry time.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from connectors.errors import RateLimitedError
from core.settings import Settings, parse_rate_limit

# Route groups. Compliance limits are documented per key (lists per endpoint: a group may be
# ``compliance_list:<endpoint>``); Admin limits are not documented, so they are configurable
# with conservative defaults.
COMPLIANCE_LIST = "compliance_list"
COMPLIANCE_FILE = "compliance_file"
ADMIN = "admin"
AUDIT = "audit"

DEFAULT_LIMITS: dict[str, tuple[int, float]] = {
    COMPLIANCE_LIST: (50, 60.0),
    COMPLIANCE_FILE: (100, 60.0),
    ADMIN: (300, 60.0),
    AUDIT: (60, 60.0),
}

parse_limit = parse_rate_limit


def scale_limits(
    limits: Mapping[str, tuple[int, float]], time_scale: float
) -> dict[str, tuple[int, float]]:
    """Shrink every period by ``time_scale`` (a simulator running 60x faster: 1/60)."""
    return {group: (n, period * time_scale) for group, (n, period) in limits.items()}


@dataclass(frozen=True)
class BudgetPolicy:
    """How a budget spends and adapts a limit (the same for every tenant and group).

    ``burst_share``: the share of the limit that may go out at once (0 = one at a time).
    ``headroom``: the share of the limit actually used (1.0 = all of it).
    ``decrease_factor``: a 429 multiplies the effective limit by this (once per period).
    ``recovery_share``: the effective limit grows back by this share of the ceiling per
    period without a 429.
    ``window_margin``: the sliding window is this share longer than the period, so
    network jitter between a grant and the request reaching the server cannot put one
    more request into the server's window.
    ``learned_ttl``: seconds a learned limit is kept after its tenant's last request.
    ``reserve``: requests the Redis budget grants a process in one round trip while the
    window is at most half full (1 = one at a time); the process spends them within
    ``reserve_hold`` of the period, and each counts in the window as if sent at the end
    of that time (see ``RedisRateBudget``).
    """

    burst_share: float = 1 / 6
    headroom: float = 1.0
    decrease_factor: float = 0.5
    recovery_share: float = 0.1
    window_margin: float = 0.01
    learned_ttl: float = 7 * 86400.0
    reserve: int = 4
    reserve_hold: float = 0.25

    def __post_init__(self) -> None:
        if not 0 <= self.burst_share <= 1:
            raise ValueError("burst_share must be in [0, 1]")
        if not 0 < self.headroom <= 1:
            raise ValueError("headroom must be in (0, 1]")
        if not 0 < self.decrease_factor < 1:
            raise ValueError("decrease_factor must be in (0, 1)")
        if not 0 < self.recovery_share <= 1:
            raise ValueError("recovery_share must be in (0, 1]")
        if not 0 <= self.window_margin <= 1:
            raise ValueError("window_margin must be in [0, 1]")
        if self.learned_ttl <= 0:
            raise ValueError("learned_ttl must be positive")
        if self.reserve < 1:
            raise ValueError("reserve must be at least 1")
        if not 0 <= self.reserve_hold <= 1:
            raise ValueError("reserve_hold must be in [0, 1]")


def policy_from_settings(settings: Settings) -> BudgetPolicy:
    return BudgetPolicy(
        burst_share=settings.rate_burst_share,
        headroom=settings.rate_headroom,
        decrease_factor=settings.rate_decrease_factor,
        recovery_share=settings.rate_recovery_share,
        window_margin=settings.rate_window_margin,
    )


@runtime_checkable
class RateBudget(Protocol):
    """What the API session needs from a rate budget."""

    def acquire(self, tenant_key: str, group: str, cost: int = 1, max_wait: float = 30.0) -> float:
        """Block until ``cost`` requests may be made and return the grant time (budget
        clock, seconds); RateLimitedError when that needs more than ``max_wait``."""
        ...

    def cool_down(self, tenant_key: str, group: str, seconds: float) -> None:
        """Grant nothing for this tenant and group for ``seconds`` (after a 429)."""
        ...

    def penalize(self, tenant_key: str, group: str) -> None:
        """A 429 was answered: shrink the effective limit (at most once per period)."""
        ...

    def learn(self, tenant_key: str, group: str, limit: int) -> None:
        """The server stated its limit (``x-ratelimit-limit-requests``): use it."""
        ...

    def window_rest(self, tenant_key: str, group: str) -> float:
        """Seconds until the oldest grant of the current window leaves it (a full period
        when the window is empty)."""
        ...


def burst_for(limit: int, share: float) -> int:
    return max(1, math.floor(limit * share + 1e-9))


def recovered_limit(
    ceiling: int, reduced: int | None, reduced_at: float, now: float, period: float, share: float
) -> int:
    """The effective limit: the ceiling, or a reduced limit growing back per whole period."""
    if reduced is None or reduced >= ceiling:
        return ceiling
    step = max(1, math.ceil(ceiling * share))
    periods = max(0, math.floor((now - reduced_at) / period))
    return min(ceiling, reduced + periods * step)


class _Budget:
    """Limits, policy and the blocking loop shared by both budgets."""

    def __init__(
        self,
        limits: Mapping[str, tuple[int, float]] | None,
        *,
        policy: BudgetPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = dict(DEFAULT_LIMITS if limits is None else limits)
        self.policy = policy or BudgetPolicy()
        self._sleep = sleep
        self._monotonic = monotonic

    def limit_for(self, group: str) -> tuple[int, float]:
        """(requests, period) configured for ``group``.

        A group may name one endpoint of a family, ``compliance_list:gpts``: it gets its own
        window with the family's limit, since the Compliance API limits each list endpoint
        separately (50/min per endpoint per key). Unknown groups get the Admin limit.
        """
        family = group.split(":", 1)[0]
        return (
            self.limits.get(group)
            or self.limits.get(family)
            or self.limits.get(ADMIN)
            or DEFAULT_LIMITS[ADMIN]
        )

    def ceiling(self, configured: int, learned: int | None) -> int:
        base = learned if learned else configured
        return max(1, math.floor(base * self.policy.headroom + 1e-9))

    def try_acquire(self, tenant_key: str, group: str, cost: int = 1) -> tuple[bool, float]:
        """``(True, grant_time)`` when granted, else ``(False, wait_seconds)``."""
        raise NotImplementedError

    def _attempt(self, tenant_key: str, group: str, cost: int) -> tuple[bool, float]:
        """One try of ``acquire`` (a budget may grant more than asked here and keep it)."""
        return self.try_acquire(tenant_key, group, cost)

    def acquire(self, tenant_key: str, group: str, cost: int = 1, max_wait: float = 30.0) -> float:
        deadline = self._monotonic() + max_wait
        while True:
            granted, value = self._attempt(tenant_key, group, cost)
            if granted:
                return value
            remaining = deadline - self._monotonic()
            if value > remaining:
                raise RateLimitedError(
                    f"rate budget for route group {group!r} needs a {value:.1f}s wait, "
                    f"more than the {max_wait:.1f}s this call may block",
                    retry_after=value,
                    hint=f"tenant {tenant_key!r} is at its {group} budget: retry the scan "
                    f"part in {math.ceil(value)}s (raise CASB_RATE_LIMIT_"
                    f"{group.split(':', 1)[0].upper()} only if OpenAI granted a higher limit)",
                )
            self._sleep(value)


@dataclass
class _Reserved:
    """Grants this process took ahead in one round trip and has not spent yet."""

    pid: int
    left: int
    granted_at: float  # the budget clock at the grant
    started: float  # monotonic, before the grant was asked for
    until: float  # monotonic: spent before this or never


@dataclass
class _LocalState:
    grants: deque[float]
    tat: float = 0.0
    cool_until: float = 0.0
    learned: int | None = None
    reduced: int | None = None
    reduced_at: float = 0.0


class LocalRateBudget(_Budget):
    """The same rules in process memory, guarded by a lock (demo, ``--inline``, tests)."""

    def __init__(
        self,
        limits: Mapping[str, tuple[int, float]] | None = None,
        *,
        policy: BudgetPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(limits, policy=policy, sleep=sleep, monotonic=monotonic)
        self._lock = threading.Lock()
        self._state: dict[tuple[str, str], _LocalState] = {}

    def _get(self, tenant_key: str, group: str) -> _LocalState:
        key = (tenant_key, group)
        state = self._state.get(key)
        if state is None:
            state = self._state[key] = _LocalState(grants=deque())
        return state

    def _effective(self, state: _LocalState, group: str, now: float) -> tuple[int, float]:
        configured, period = self.limit_for(group)
        ceiling = self.ceiling(configured, state.learned)
        limit = recovered_limit(
            ceiling, state.reduced, state.reduced_at, now, period, self.policy.recovery_share
        )
        if limit >= ceiling:
            state.reduced = None
        return limit, period

    def try_acquire(self, tenant_key: str, group: str, cost: int = 1) -> tuple[bool, float]:
        with self._lock:
            now = self._monotonic()
            state = self._get(tenant_key, group)
            limit, period = self._effective(state, group, now)
            grants = state.grants
            window = period * (1 + self.policy.window_margin)
            while grants and grants[0] <= now - window:
                grants.popleft()
            wait = max(0.0, state.cool_until - now)
            need = len(grants) + cost - limit
            if need > len(grants):  # more than the whole limit at once: never grantable
                wait = max(wait, window)
            elif need > 0:
                wait = max(wait, grants[need - 1] + window - now)
            interval = period / limit
            new_tat = max(state.tat, now) + interval * cost
            wait = max(wait, new_tat - interval * burst_for(limit, self.policy.burst_share) - now)
            if wait > 1e-9:  # tolerate float rounding at the exact grant time
                return False, wait
            state.tat = new_tat
            grants.extend([now] * cost)
            return True, now

    def cool_down(self, tenant_key: str, group: str, seconds: float) -> None:
        if seconds <= 0:
            return
        with self._lock:
            state = self._get(tenant_key, group)
            state.cool_until = max(state.cool_until, self._monotonic() + seconds)

    def penalize(self, tenant_key: str, group: str) -> None:
        with self._lock:
            now = self._monotonic()
            state = self._get(tenant_key, group)
            limit, period = self._effective(state, group, now)
            if state.reduced is not None and now - state.reduced_at < period:
                return  # one decrease per period: a storm is one signal, not fifty
            state.reduced = max(1, math.floor(limit * self.policy.decrease_factor))
            state.reduced_at = now

    def learn(self, tenant_key: str, group: str, limit: int) -> None:
        if limit <= 0:
            return
        with self._lock:
            self._get(tenant_key, group).learned = limit

    def window_rest(self, tenant_key: str, group: str) -> float:
        with self._lock:
            now = self._monotonic()
            _, period = self.limit_for(group)
            window = period * (1 + self.policy.window_margin)
            grants = self._get(tenant_key, group).grants
            while grants and grants[0] <= now - window:
                grants.popleft()
            return grants[0] + window - now if grants else window

    def effective_limit(self, tenant_key: str, group: str) -> int:
        """The limit a grant is checked against now (for tests and ``casb`` diagnostics)."""
        with self._lock:
            state = self._get(tenant_key, group)
            return self._effective(state, group, self._monotonic())[0]


# Every script reads the clock with TIME (microseconds) and works in microseconds.
# Keys (one tenant's, all in one Redis Cluster slot through the {tenant} hash tag):
#   KEYS[1] grants   sorted set: member "<time>:<seq>", score = grant time
#   KEYS[2] pace     hash: tat (GCRA theoretical arrival time), seq
#   KEYS[3] cool     string with a TTL: present while the group cools down
#   KEYS[4] learn    hash: learned (server limit), reduced, reduced_at
_PRELUDE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local configured = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local headroom = tonumber(ARGV[3])
local share = tonumber(ARGV[4])
local window = period * (1 + tonumber(ARGV[5]))
local learned = tonumber(redis.call('HGET', KEYS[4], 'learned') or '0')
local base = configured
if learned > 0 then base = learned end
local ceiling = math.max(1, math.floor(base * headroom + 1e-9))
local limit = ceiling
local reduced = tonumber(redis.call('HGET', KEYS[4], 'reduced') or '0')
local reduced_at = tonumber(redis.call('HGET', KEYS[4], 'reduced_at') or '0')
if reduced > 0 and reduced < ceiling then
  local step = math.max(1, math.ceil(ceiling * share))
  local periods = math.max(0, math.floor((now - reduced_at) / period))
  limit = math.min(ceiling, reduced + periods * step)
end
if limit >= ceiling and reduced > 0 then
  redis.call('HDEL', KEYS[4], 'reduced', 'reduced_at')
  reduced = 0
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now - window))
"""

# ARGV: configured, period_us, headroom, recovery_share, window_margin, burst_share, cost,
#       learned_ttl_ms, extra, hold_us
# Returns {1, grant_time_us, granted} or {0, wait_us}. Up to ``extra`` more grants than
# ``cost`` are given while the window stays at most half full and the pacer allows them;
# when any are, every grant of this call is recorded at ``now + hold`` (the latest time the
# caller may spend them), so the window counts each at or after its real request.
_ACQUIRE_LUA = (
    _PRELUDE
    + """
local burst_share = tonumber(ARGV[6])
local cost = tonumber(ARGV[7])
local wait = 0
local cool = redis.call('PTTL', KEYS[3])
if cool > 0 then wait = cool * 1000 end
local count = redis.call('ZCARD', KEYS[1])
local need = count + cost - limit
if need > 0 then
  if need <= count then
    local oldest = redis.call('ZRANGE', KEYS[1], need - 1, need - 1, 'WITHSCORES')
    wait = math.max(wait, tonumber(oldest[2]) + window - now)
  else
    wait = math.max(wait, window)
  end
end
local interval = period / limit
local tat = tonumber(redis.call('HGET', KEYS[2], 'tat') or '0')
if tat < now then tat = now end
local new_tat = tat + interval * cost
local burst = math.max(1, math.floor(limit * burst_share + 1e-9))
wait = math.max(wait, new_tat - interval * burst - now)
if wait > 0 then
  return {0, math.ceil(wait)}
end
local extra = math.min(
  tonumber(ARGV[9] or '0'),
  math.floor(limit / 2) - count - cost,
  math.floor((now + interval * burst - new_tat) / interval + 1e-9))
local hold = 0
if extra > 0 then
  hold = tonumber(ARGV[10] or '0')
  new_tat = new_tat + interval * extra
else
  extra = 0
end
local granted = cost + extra
local seq = redis.call('HINCRBY', KEYS[2], 'seq', granted)
local stamp = string.format('%.0f', now + hold)
for i = 1, granted do
  redis.call('ZADD', KEYS[1], stamp, stamp .. ':' .. string.format('%d', seq - i))
end
redis.call('HSET', KEYS[2], 'tat', string.format('%.0f', new_tat))
local keep = string.format('%d', math.ceil(math.max(new_tat - now, window + hold) / 1000) + 1000)
redis.call('PEXPIRE', KEYS[1], keep)
redis.call('PEXPIRE', KEYS[2], keep)
if redis.call('EXISTS', KEYS[4]) == 1 then
  redis.call('PEXPIRE', KEYS[4], ARGV[8])
end
return {1, now, granted}
"""
)

# ARGV: configured, period_us, headroom, recovery_share, window_margin, decrease_factor,
#       learned_ttl_ms
_PENALIZE_LUA = (
    _PRELUDE
    + """
if reduced > 0 and now - reduced_at < period then
  return limit
end
local next_limit = math.max(1, math.floor(limit * tonumber(ARGV[6])))
redis.call('HSET', KEYS[4], 'reduced', string.format('%d', next_limit),
  'reduced_at', string.format('%.0f', now))
redis.call('PEXPIRE', KEYS[4], ARGV[7])
return next_limit
"""
)

# ARGV: configured, period_us, headroom, recovery_share, window_margin.
# Returns {limit, rest_us}.
_INSPECT_LUA = (
    _PRELUDE
    + """
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local rest = window
if oldest[2] then rest = tonumber(oldest[2]) + window - now end
return {limit, math.ceil(rest)}
"""
)

# KEYS[1]: learn hash; ARGV[1]: server limit; ARGV[2]: ttl (ms).
_LEARN_LUA = """
redis.call('HSET', KEYS[1], 'learned', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""

# KEYS[1]: cool-down marker; ARGV[1]: duration (ms). Never shortens a longer cool-down.
_COOL_DOWN_LUA = """
local ms = tonumber(ARGV[1])
if redis.call('PTTL', KEYS[1]) < ms then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 1
"""


class RedisRateBudget(_Budget):
    """The budget in Redis, atomic across every worker that shares the Redis database.

    Keys are ``{prefix}{<tenant>}:{group}`` (the grants) plus ``:pace``, ``:cool`` and
    ``:learn``; the braces put a tenant's keys in one Redis Cluster slot. All expire on
    their own: the grants and the pacer a period after the last grant, a learned limit
    ``learned_ttl`` after the tenant's last request.

    Grants ahead (``policy.reserve``): while a tenant's window is at most half full, one
    ``acquire`` takes up to ``reserve`` grants in its round trip and this process spends
    the rest on its next ``acquire`` calls of that tenant and group. They are recorded in
    the window at the grant time plus ``reserve_hold`` of the period, and a grant not spent
    within that hold (measured from before the round trip) is dropped, so each counts in
    the window no earlier than its request is sent and the limit holds over every window,
    across processes. A dropped grant only occupies the window, as if sent; ``cool_down``
    and ``penalize`` drop this process's grants ahead (another process may still spend
    the few it holds).
    """

    def __init__(
        self,
        redis: Any,
        limits: Mapping[str, tuple[int, float]] | None = None,
        *,
        policy: BudgetPolicy | None = None,
        key_prefix: str = "casb:rl:",
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(limits, policy=policy, sleep=sleep, monotonic=monotonic)
        self.redis = redis
        self.key_prefix = key_prefix
        self._acquire = redis.register_script(_ACQUIRE_LUA)
        self._penalize = redis.register_script(_PENALIZE_LUA)
        self._inspect = redis.register_script(_INSPECT_LUA)
        self._learn = redis.register_script(_LEARN_LUA)
        self._cool = redis.register_script(_COOL_DOWN_LUA)
        self._reserve_lock = threading.Lock()
        self._reserved: dict[tuple[str, str], _Reserved] = {}
        self.round_trips = 0  # grant decisions asked of Redis by this instance (diagnostics)

    def keys(self, tenant_key: str, group: str) -> list[str]:
        base = f"{self.key_prefix}{{{tenant_key}}}:{group}"
        return [base, base + ":pace", base + ":cool", base + ":learn"]

    def _common_args(self, group: str) -> list[Any]:
        configured, period = self.limit_for(group)
        return [
            configured,
            f"{period * 1e6:.0f}",
            repr(self.policy.headroom),
            repr(self.policy.recovery_share),
            repr(self.policy.window_margin),
        ]

    @property
    def _learned_ttl_ms(self) -> int:
        return max(1, math.ceil(self.policy.learned_ttl * 1000))

    def try_acquire(self, tenant_key: str, group: str, cost: int = 1) -> tuple[bool, float]:
        granted, value, _ = self._grant(tenant_key, group, cost, 0, 0.0)
        return granted, value

    def _grant(
        self, tenant_key: str, group: str, cost: int, extra: int, hold: float
    ) -> tuple[bool, float, int]:
        """One decision: (granted, grant time or wait, how many were granted)."""
        self.round_trips += 1
        reply = self._acquire(
            keys=self.keys(tenant_key, group),
            args=[
                *self._common_args(group),
                repr(self.policy.burst_share),
                cost,
                self._learned_ttl_ms,
                extra,
                f"{hold * 1e6:.0f}",
            ],
        )
        granted = bool(int(reply[0]))
        return granted, int(reply[1]) / 1e6, int(reply[2]) if granted else 0

    def _attempt(self, tenant_key: str, group: str, cost: int) -> tuple[bool, float]:
        """A grant taken ahead earlier, else one round trip that may take some ahead."""
        extra = self.policy.reserve - 1 if cost == 1 else 0
        if extra <= 0:
            return self.try_acquire(tenant_key, group, cost)
        spent = self._spend_reserved(tenant_key, group)
        if spent is not None:
            return True, spent
        hold = self.limit_for(group)[1] * self.policy.reserve_hold
        started = self._monotonic()
        granted, value, count = self._grant(tenant_key, group, cost, extra, hold)
        if granted and count > cost:
            with self._reserve_lock:
                self._reserved[(tenant_key, group)] = _Reserved(
                    os.getpid(), count - cost, value, started, started + hold
                )
        return granted, value

    def _spend_reserved(self, tenant_key: str, group: str) -> float | None:
        """The budget-clock time of a grant taken ahead and spent now, else None."""
        key = (tenant_key, group)
        with self._reserve_lock:
            reserved = self._reserved.get(key)
            if reserved is None:
                return None
            now = self._monotonic()
            # A forked child inherits its parent's grants ahead: only the taker spends them.
            if reserved.pid != os.getpid() or now >= reserved.until:
                del self._reserved[key]
                return None
            reserved.left -= 1
            if reserved.left <= 0:
                del self._reserved[key]
            return reserved.granted_at + (now - reserved.started)

    def _drop_reserved(self, tenant_key: str, group: str) -> None:
        with self._reserve_lock:
            self._reserved.pop((tenant_key, group), None)

    def cool_down(self, tenant_key: str, group: str, seconds: float) -> None:
        self._drop_reserved(tenant_key, group)
        if seconds <= 0:
            return
        cool_key = self.keys(tenant_key, group)[2]
        self._cool(keys=[cool_key], args=[max(1, math.ceil(seconds * 1000))])

    def penalize(self, tenant_key: str, group: str) -> None:
        self._drop_reserved(tenant_key, group)
        self._penalize(
            keys=self.keys(tenant_key, group),
            args=[
                *self._common_args(group),
                repr(self.policy.decrease_factor),
                self._learned_ttl_ms,
            ],
        )

    def learn(self, tenant_key: str, group: str, limit: int) -> None:
        if limit <= 0:
            return
        self._learn(keys=[self.keys(tenant_key, group)[3]], args=[limit, self._learned_ttl_ms])

    def _inspect_now(self, tenant_key: str, group: str) -> tuple[int, float]:
        limit, rest = self._inspect(
            keys=self.keys(tenant_key, group), args=self._common_args(group)
        )
        return int(limit), int(rest) / 1e6

    def window_rest(self, tenant_key: str, group: str) -> float:
        return self._inspect_now(tenant_key, group)[1]

    def effective_limit(self, tenant_key: str, group: str) -> int:
        """The limit a grant is checked against now (for tests and diagnostics)."""
        return self._inspect_now(tenant_key, group)[0]
