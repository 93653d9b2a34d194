"""Fault injection, switchable per tenant at runtime.

Python API (World.faults) and HTTP (POST /_sim/tenants/{slug}/faults).

A Fault matches requests of one tenant by API surface (`api`) and optional path substring; it
lets `after` matching requests through, then fires on the next `count` ones (None = until
cleared), for at most `seconds` from its first firing when set. Kinds:

  rate_limit_storm  429 + Retry-After (`retry_after` seconds), OpenAI error body
  rate_limit_no_headers  429 with an error body and no header at all (no Retry-After, no
                    x-ratelimit-*), as the Compliance API documents its 429s
  server_error      `status` (default 503) with an error body
  slow              sleeps `delay` seconds (less if released in process), then answers normally
  trickle           storage-host (`api="blob"`) bodies are sent 16 bytes at a time, `delay`
                    seconds apart (headers at once: only a download deadline stops it)
  truncated_json    200 with the JSON body cut in half
  malformed_json    200, content-type JSON, body is an HTML error page
  wrong_shape       200 JSON of the wrong shape (`data` is an object; objects become arrays)
  repeated_cursor   list routes ignore `after`: first page again, has_more true, same last_id
  huge_page         list routes return `items` (default 10,000) objects in one page
  unknown_fields    adds unknown fields to the envelope and every object
  revoked_key       the tenant's key for `api` answers 401 invalid_api_key
  workspace_gone    Compliance routes answer 404 (workspace not found)
  limit_rejected    list routes answer `status` (422 unless 400 is given) when the request
                    carries `limit`: Admin routes with an OpenAI error naming `param: limit`,
                    Compliance routes with a validation `detail[].loc` ending in `limit`
  audit_logging_off `GET /organization/audit_logs` answers 400: audit logging was never
                    switched on for the organization
  redirect_elsewhere file routes answer 307 to `location` (a compromised API pointing a
                    download at an internal address)
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

FAULT_KINDS: tuple[str, ...] = (
    "rate_limit_storm",
    "rate_limit_no_headers",
    "server_error",
    "slow",
    "trickle",
    "truncated_json",
    "malformed_json",
    "wrong_shape",
    "repeated_cursor",
    "huge_page",
    "unknown_fields",
    "revoked_key",
    "workspace_gone",
    "limit_rejected",
    "audit_logging_off",
    "redirect_elsewhere",
)
FAULT_APIS: tuple[str, ...] = ("any", "admin", "compliance", "files", "blob")


@dataclass
class Fault:
    kind: str
    api: str = (
        "any"  # "admin" | "compliance" (list/get routes) | "files" (307 routes) | "blob" | "any"
    )
    count: int | None = None
    after: int = 0
    path_contains: str | None = None
    status: int = 503
    delay: float = 1.0
    retry_after: float = 1.0
    items: int = 10_000
    seconds: float | None = None
    location: str | None = None
    seen: int = field(default=0)
    fired: int = field(default=0)
    first_fired_at: float | None = field(default=None)

    def __post_init__(self) -> None:
        self._released = False  # not a field: a cue, not part of the fault's description
        if self.kind not in FAULT_KINDS:
            raise ValueError(
                f"unknown fault kind {self.kind!r}; choose one of {', '.join(FAULT_KINDS)}"
            )
        if self.api not in FAULT_APIS:
            raise ValueError(
                f"unknown fault api {self.api!r}; choose one of {', '.join(FAULT_APIS)}"
            )
        # Faults arrive as JSON over HTTP: a wrong type must be refused here (400), not
        # crash every later request of the tenant (500).
        for name in ("after", "status", "items", "count"):
            value = getattr(self, name)
            if name == "count" and value is None:
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"fault {name!r} must be a whole number >= 0, got {value!r}")
        for name in ("delay", "retry_after", "seconds"):
            value = getattr(self, name)
            if name == "seconds" and value is None:
                continue
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ValueError(f"fault {name!r} must be a number of seconds >= 0, got {value!r}")
        if self.path_contains is not None and not isinstance(self.path_contains, str):
            raise ValueError("fault 'path_contains' must be a string")
        if self.location is not None and not isinstance(self.location, str):
            raise ValueError("fault 'location' must be a string")
        if self.kind == "redirect_elsewhere" and not self.location:
            raise ValueError("a redirect_elsewhere fault needs a 'location'")
        if not 100 <= self.status <= 599:
            raise ValueError(f"fault 'status' must be an HTTP status, got {self.status}")

    @property
    def released(self) -> bool:
        """A ``slow`` fault's delay ends early once released (an in-process test's cue)."""
        return self._released

    def release(self) -> None:
        self._released = True

    async def hold(self) -> None:
        """Wait out a ``slow`` fault's delay, or less if it is released meanwhile."""
        end = time.monotonic() + self.delay
        while not self.released and (left := end - time.monotonic()) > 0:
            await asyncio.sleep(min(left, 0.05))

    def applies_to(self, api: str, path: str) -> bool:
        if self.kind == "audit_logging_off" and not path.endswith("/organization/audit_logs"):
            return False
        if self.api != "any" and self.api != api:
            return False
        if self.api == "any" and api == "blob":
            return False  # the storage host is only faulted when asked for explicitly
        return self.path_contains is None or self.path_contains in path

    def exhausted(self, now: float | None = None) -> bool:
        if self.count is not None and self.fired >= self.count:
            return True
        if self.seconds is None or self.first_fired_at is None:
            return False
        current = time.monotonic() if now is None else now
        return current - self.first_fired_at >= self.seconds

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fault:
        allowed = {
            "kind",
            "api",
            "count",
            "after",
            "path_contains",
            "status",
            "delay",
            "retry_after",
            "items",
            "seconds",
            "location",
        }
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        return cls(**data)


class FaultBook:
    """Active faults per tenant slug."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: dict[str, list[Fault]] = {}

    def add(self, slug: str, fault: Fault) -> Fault:
        with self._lock:
            self._faults.setdefault(slug, []).append(fault)
        return fault

    def clear(self, slug: str | None = None) -> None:
        with self._lock:
            if slug is None:
                self._faults.clear()
            else:
                self._faults.pop(slug, None)

    def active(self, slug: str) -> list[Fault]:
        with self._lock:
            return list(self._faults.get(slug, []))

    def fire(self, slug: str, api: str, path: str) -> list[Fault]:
        """The faults that fire for this request (each consumes one of its `count`)."""
        out: list[Fault] = []
        now = time.monotonic()
        with self._lock:
            for f in self._faults.get(slug, []):
                if f.exhausted(now) or not f.applies_to(api, path):
                    continue
                f.seen += 1
                if f.seen <= f.after:
                    continue
                f.fired += 1
                if f.first_fired_at is None:
                    f.first_fired_at = now
                out.append(f)
        return out
