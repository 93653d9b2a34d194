"""Rate limits of the simulated APIs, and the request accounting tests assert on.

A token bucket per (tenant, key kind, route group): capacity = the documented per-minute limit,
refilled continuously at limit per window. A request that finds the bucket empty is a
*violation*: it is answered 429 with Retry-After and counted, so a test can assert that a
client fleet stayed within budget (violations == 0).

`time_scale` shrinks the window (60.0 -> limits per second) so tests run fast.
Route groups (documented per endpoint per key for the Compliance API):
  compliance:list:<endpoint>  50/min   users, conversations, gpts, gpt_configs, gpt_shared_users,
                                       projects, project_configs, project_shared_users, memories
  compliance:get:<endpoint>   100/min  gpt, project, user_memories
  compliance:files            100/min  the three file-content routes together (per key)
  admin:<endpoint>            configurable (default 600/min) per Admin API endpoint
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RateLimitConfig:
    """Per-minute limits (before time scaling)."""

    compliance_list_per_min: int = 50
    compliance_object_per_min: int = 100
    compliance_files_per_min: int = 100
    admin_per_min: int = 600
    enabled: bool = True

    def limit_for(self, group: str) -> int:
        if group.startswith("compliance:list:"):
            return self.compliance_list_per_min
        if group.startswith("compliance:get:"):
            return self.compliance_object_per_min
        if group == "compliance:files":
            return self.compliance_files_per_min
        return self.admin_per_min


@dataclass
class Decision:
    allowed: bool
    limit: int
    remaining: int
    retry_after_s: float  # seconds until one token is available (0 when allowed)
    reset_s: float  # seconds until the bucket is full again


@dataclass
class _Bucket:
    tokens: float
    updated: float
    requests: int = 0
    violations: int = 0
    recent: deque[float] = field(default_factory=deque)
    max_in_window: int = 0


class RateLimiter:
    """Thread-safe token buckets and counters; `clock` is injectable for unit tests."""

    def __init__(
        self,
        config: RateLimitConfig,
        time_scale: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.config = config
        self.time_scale = time_scale
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str, str], _Bucket] = {}
        self._extra: dict[str, dict[str, int]] = {}

    @property
    def window_s(self) -> float:
        return 60.0 / self.time_scale

    def set_time_scale(self, time_scale: float) -> None:
        if not time_scale > 0:
            raise ValueError("time_scale must be positive")
        with self._lock:
            self.time_scale = time_scale
            self._buckets.clear()

    def check(self, tenant: str, key_kind: str, group: str) -> Decision:
        """Count one request and decide whether it is within budget."""
        limit = self.config.limit_for(group)
        rate = limit / self.window_s
        now = self._clock()
        with self._lock:
            b = self._buckets.get((tenant, key_kind, group))
            if b is None:
                b = self._buckets[(tenant, key_kind, group)] = _Bucket(
                    tokens=float(limit), updated=now
                )
            b.tokens = min(float(limit), b.tokens + (now - b.updated) * rate)
            b.updated = now
            b.requests += 1
            b.recent.append(now)
            while b.recent and b.recent[0] <= now - self.window_s:
                b.recent.popleft()
            b.max_in_window = max(b.max_in_window, len(b.recent))
            if not self.config.enabled or b.tokens >= 1.0:
                if self.config.enabled:
                    b.tokens -= 1.0
                return Decision(True, limit, int(b.tokens), 0.0, (limit - b.tokens) / rate)
            b.violations += 1
            return Decision(False, limit, 0, (1.0 - b.tokens) / rate, (limit - b.tokens) / rate)

    def count(self, tenant: str, counter: str, n: int = 1) -> None:
        """Bump a named per-tenant counter (faults injected, blob auth rejections, statuses)."""
        with self._lock:
            d = self._extra.setdefault(tenant, {})
            d[counter] = d.get(counter, 0) + n

    def reset_stats(self) -> None:
        with self._lock:
            self._buckets.clear()
            self._extra.clear()

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready stats; see module docstring and README for the format."""
        with self._lock:
            tenants: dict[str, Any] = {}
            for (slug, kind, group), b in sorted(self._buckets.items()):
                t = tenants.setdefault(
                    slug, {"requests": 0, "violations": 0, "groups": {}, "counters": {}}
                )
                t["requests"] += b.requests
                t["violations"] += b.violations
                t["groups"][group] = {
                    "key": kind,
                    "limit": self.config.limit_for(group),
                    "window_s": self.window_s,
                    "requests": b.requests,
                    "violations": b.violations,
                    "max_in_window": b.max_in_window,
                }
            for slug, counters in self._extra.items():
                t = tenants.setdefault(
                    slug, {"requests": 0, "violations": 0, "groups": {}, "counters": {}}
                )
                t["counters"] = dict(sorted(counters.items()))
            return {
                "time_scale": self.time_scale,
                "window_s": self.window_s,
                "enabled": self.config.enabled,
                "tenants": tenants,
            }
