"""Per-tenant, per-route-group rate budgets shared by every worker.

Celery's ``rate_limit`` is per worker and per task type, so it cannot keep a fleet of
fetchers within one tenant's API limits. Every connector call draws from a budget keyed by
(tenant, route group) instead:

* ``RedisRateBudget``: GCRA (generic cell rate algorithm) in one Lua script, so the check
  and the update are atomic across every thread, process and host that shares the Redis.
  Time comes from Redis ``TIME``, so worker clock skew does not matter.
* ``LocalRateBudget``: the same algorithm in-process, for the embedded demo and ``--inline``.

Both enforce the limit as an even spacing of ``period / requests`` between grants (burst 1
by default), which keeps *any* window of ``period`` seconds within ``requests`` calls, not
just aligned minutes; a token bucket with a full-size bucket could double the limit across
a window boundary. ``headroom`` (default 0.9) keeps a margin for network jitter between the
grant and the request reaching the server.

A 429 calls ``cool_down``: no grant is given to anyone for that tenant and group until it
expires, so one worker's 429 slows the whole fleet, not just one task.
"""

from __future__ import annotations

import math
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from connectors.errors import RateLimitedError

# Route groups. Compliance limits are documented per key; Admin limits
# are not documented, so they are configurable with conservative defaults.
COMPLIANCE_LIST = "compliance_list"
COMPLIANCE_OBJECT = "compliance_object"
COMPLIANCE_FILE = "compliance_file"
ADMIN = "admin"
AUDIT = "audit"

DEFAULT_LIMITS: dict[str, tuple[int, float]] = {
    COMPLIANCE_LIST: (50, 60.0),
    COMPLIANCE_OBJECT: (100, 60.0),
    COMPLIANCE_FILE: (100, 60.0),
    ADMIN: (300, 60.0),
    AUDIT: (60, 60.0),
}

_ENV_PREFIX = "CASB_RATE_LIMIT_"
_LIMIT_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*$")


def parse_limit(text: str) -> tuple[int, float]:
    """Parse ``"50/60"`` (requests per seconds) into ``(50, 60.0)``."""
    match = _LIMIT_RE.match(text)
    if not match:
        raise ValueError(f"rate limit must look like REQUESTS/SECONDS, got {text!r}")
    requests, period = int(match.group(1)), float(match.group(2))
    if requests <= 0 or period <= 0:
        raise ValueError(f"rate limit must be positive, got {text!r}")
    return requests, period


def limits_from_env(
    environ: Mapping[str, str] | None = None,
    base: Mapping[str, tuple[int, float]] | None = None,
) -> dict[str, tuple[int, float]]:
    """Defaults overridden by ``CASB_RATE_LIMIT_<GROUP>=REQUESTS/SECONDS`` variables."""
    env = os.environ if environ is None else environ
    limits = dict(DEFAULT_LIMITS if base is None else base)
    for name, value in env.items():
        if name.startswith(_ENV_PREFIX) and value.strip():
            group = name[len(_ENV_PREFIX) :].lower()
            limits[group] = parse_limit(value)
    return limits


def scale_limits(
    limits: Mapping[str, tuple[int, float]], time_scale: float
) -> dict[str, tuple[int, float]]:
    """Shrink every period by ``time_scale`` (a simulator running 60x faster: 1/60)."""
    return {group: (n, period * time_scale) for group, (n, period) in limits.items()}


@runtime_checkable
class RateBudget(Protocol):
    """What the transport needs from a rate budget."""

    def acquire(self, tenant_key: str, group: str, cost: int = 1, max_wait: float = 30.0) -> None:
        """Block until ``cost`` requests may be made; RateLimitedError past ``max_wait``."""
        ...

    def cool_down(self, tenant_key: str, group: str, seconds: float) -> None:
        """Grant nothing for this tenant and group for ``seconds`` (after a 429)."""
        ...


class _GcraBudget:
    """The blocking loop shared by both budgets; subclasses implement ``try_acquire``."""

    def __init__(
        self,
        limits: Mapping[str, tuple[int, float]],
        *,
        burst: int = 1,
        headroom: float = 0.9,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if burst < 1:
            raise ValueError("burst must be >= 1")
        if not 0 < headroom <= 1:
            raise ValueError("headroom must be in (0, 1]")
        self.limits = dict(limits)
        self.burst = burst
        self.headroom = headroom
        self._sleep = sleep
        self._monotonic = monotonic

    def interval(self, group: str) -> float:
        """Seconds between grants for ``group`` (emission interval).

        A group may name one endpoint of a family, ``compliance_list:gpts``: it gets its own
        bucket with the family's limit, since the Compliance API limits each list endpoint
        separately (50/min per endpoint per key).
        """
        family = group.split(":", 1)[0]
        requests, period = (
            self.limits.get(group)
            or self.limits.get(family)
            or self.limits.get(ADMIN)
            or DEFAULT_LIMITS[ADMIN]
        )
        return period / (requests * self.headroom)

    def try_acquire(self, tenant_key: str, group: str, cost: int = 1) -> float:
        """Take ``cost`` grants now and return 0.0, or take nothing and return the wait (s)."""
        raise NotImplementedError

    def acquire(self, tenant_key: str, group: str, cost: int = 1, max_wait: float = 30.0) -> None:
        deadline = self._monotonic() + max_wait
        while True:
            wait = self.try_acquire(tenant_key, group, cost)
            if wait <= 0:
                return
            remaining = deadline - self._monotonic()
            if wait > remaining:
                raise RateLimitedError(
                    f"rate budget for route group {group!r} needs a {wait:.1f}s wait, "
                    f"more than the {max_wait:.1f}s this call may block",
                    retry_after=wait,
                    hint=f"tenant {tenant_key!r} is at its {group} budget: retry the scan "
                    f"part in {math.ceil(wait)}s (raise CASB_RATE_LIMIT_{group.upper()} only if "
                    "OpenAI granted a higher limit)",
                )
            self._sleep(wait)


class LocalRateBudget(_GcraBudget):
    """GCRA in process memory, guarded by a lock: one process (demo, ``--inline``, tests)."""

    def __init__(
        self,
        limits: Mapping[str, tuple[int, float]] | None = None,
        *,
        burst: int = 1,
        headroom: float = 0.9,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            DEFAULT_LIMITS if limits is None else limits,
            burst=burst,
            headroom=headroom,
            sleep=sleep,
            monotonic=monotonic,
        )
        self._lock = threading.Lock()
        self._tat: dict[tuple[str, str], float] = {}
        self._cool_until: dict[tuple[str, str], float] = {}

    def try_acquire(self, tenant_key: str, group: str, cost: int = 1) -> float:
        interval = self.interval(group)
        key = (tenant_key, group)
        with self._lock:
            now = self._monotonic()
            cool = self._cool_until.get(key, 0.0)
            if cool > now:
                return cool - now
            tat = max(self._tat.get(key, now), now)
            new_tat = tat + interval * cost
            allow_at = new_tat - interval * self.burst
            if allow_at - now > 1e-9:  # tolerate float rounding at the exact grant time
                return allow_at - now
            self._tat[key] = new_tat
            return 0.0

    def cool_down(self, tenant_key: str, group: str, seconds: float) -> None:
        if seconds <= 0:
            return
        key = (tenant_key, group)
        with self._lock:
            until = self._monotonic() + seconds
            if until > self._cool_until.get(key, 0.0):
                self._cool_until[key] = until


# KEYS[1]: theoretical arrival time (ms, float as string); KEYS[2]: cool-down marker.
# ARGV[1]: emission interval (ms); ARGV[2]: burst; ARGV[3]: cost.
# Returns 0 when granted, else the wait in ms (integer, >= 1).
_ACQUIRE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local cool = redis.call('PTTL', KEYS[2])
if cool > 0 then
  return cool
end
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then
  tat = now
end
local new_tat = tat + interval * cost
local allow_at = new_tat - interval * burst
if allow_at > now then
  return math.max(1, math.ceil(allow_at - now))
end
redis.call('SET', KEYS[1], string.format('%.3f', new_tat), 'PX', math.ceil(new_tat - now) + 1000)
return 0
"""

# KEYS[1]: cool-down marker; ARGV[1]: duration (ms). Never shortens a longer cool-down.
_COOL_DOWN_LUA = """
local ms = tonumber(ARGV[1])
if redis.call('PTTL', KEYS[1]) < ms then
  redis.call('SET', KEYS[1], '1', 'PX', ms)
end
return 1
"""


class RedisRateBudget(_GcraBudget):
    """GCRA in Redis, atomic across every worker that shares the Redis database.

    Keys are ``{prefix}{<tenant>}:{group}`` (the braces make both of a tenant's keys hash
    to one Redis Cluster slot) and ``...:cool``; both expire on their own, so an idle tenant
    leaves nothing behind.
    """

    def __init__(
        self,
        redis: Any,
        limits: Mapping[str, tuple[int, float]] | None = None,
        *,
        burst: int = 1,
        headroom: float = 0.9,
        key_prefix: str = "casb:rl:",
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            DEFAULT_LIMITS if limits is None else limits,
            burst=burst,
            headroom=headroom,
            sleep=sleep,
            monotonic=monotonic,
        )
        self.redis = redis
        self.key_prefix = key_prefix
        self._acquire = redis.register_script(_ACQUIRE_LUA)
        self._cool = redis.register_script(_COOL_DOWN_LUA)

    def keys(self, tenant_key: str, group: str) -> tuple[str, str]:
        base = f"{self.key_prefix}{{{tenant_key}}}:{group}"
        return base, base + ":cool"

    def try_acquire(self, tenant_key: str, group: str, cost: int = 1) -> float:
        interval_ms = self.interval(group) * 1000.0
        result = self._acquire(
            keys=list(self.keys(tenant_key, group)),
            args=[f"{interval_ms:.3f}", self.burst, cost],
        )
        return int(result) / 1000.0

    def cool_down(self, tenant_key: str, group: str, seconds: float) -> None:
        if seconds <= 0:
            return
        _, cool_key = self.keys(tenant_key, group)
        self._cool(keys=[cool_key], args=[max(1, math.ceil(seconds * 1000))])
