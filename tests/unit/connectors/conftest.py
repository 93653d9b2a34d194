"""Helpers for connector unit tests: an in-memory HTTP handler and a recording budget.

These tests exercise the pure paging/retry/parsing logic through ``httpx.MockTransport``
(no server); the same behaviour is tested over real HTTP against the simulator in
tests/integration/connectors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import pytest
from pydantic import SecretStr

from connectors.access import ClientOptions, TenantAccess

ADMIN_KEY = "sk-admin-SECRETadminKEY0123456789abcdef"
COMPLIANCE_KEY = "sk-proj-SECRETcomplianceKEY0123456789"
WORKSPACE = "0b5c9c1e-7f3a-4a55-9d1e-3f5b2a7c9e11"

Handler = Callable[[httpx.Request], httpx.Response]


@dataclass
class RecordingBudget:
    """A RateBudget that grants at once and records what it was asked (never sleeps)."""

    acquired: list[tuple[str, str]] = field(default_factory=list)
    cooled: list[tuple[str, str, float]] = field(default_factory=list)
    penalized: list[tuple[str, str]] = field(default_factory=list)
    learned: list[tuple[str, str, int]] = field(default_factory=list)
    rest: float = 0.75  # what window_rest answers

    def acquire(self, tenant_key: str, group: str, cost: int = 1, max_wait: float = 30.0) -> float:
        self.acquired.append((tenant_key, group))
        return 0.0

    def cool_down(self, tenant_key: str, group: str, seconds: float) -> None:
        self.cooled.append((tenant_key, group, seconds))

    def penalize(self, tenant_key: str, group: str) -> None:
        self.penalized.append((tenant_key, group))

    def learn(self, tenant_key: str, group: str, limit: int) -> None:
        self.learned.append((tenant_key, group, limit))

    def window_rest(self, tenant_key: str, group: str) -> float:
        return self.rest


@dataclass
class FakeApi:
    """Routes requests to per-path handlers and keeps every request it saw."""

    routes: dict[str, Handler] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path.removeprefix("/v1")
        handler = self.routes.get(path)
        if handler is None:
            return httpx.Response(404, json={"error": {"message": "no route", "type": "x"}})
        return handler(request)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self), follow_redirects=False)

    def paths(self) -> list[str]:
        return [r.url.path.removeprefix("/v1") for r in self.requests]


def page(items: list[dict], *, has_more: bool, last_id: str | bool | None = True) -> dict:
    """A list envelope; ``last_id=True`` fills it from the last item."""
    body: dict = {"object": "list", "data": items, "has_more": has_more}
    if last_id is True:
        body["last_id"] = items[-1]["id"] if items else None
    elif last_id is not False:
        body["last_id"] = last_id
    return body


def paged(pages: list[dict]) -> Handler:
    """Serve ``pages`` in order, keyed by the ``after`` cursor the client sends."""
    by_cursor: dict[str | None, dict] = {}
    previous: str | None = None
    for body in pages:
        by_cursor[previous] = body
        previous = body.get("last_id") or (body["data"][-1]["id"] if body["data"] else None)

    def handler(request: httpx.Request) -> httpx.Response:
        after = request.url.params.get("after")
        body = by_cursor.get(after)
        if body is None:
            return httpx.Response(400, json={"error": {"message": f"bad after {after}"}})
        return httpx.Response(200, json=body)

    return handler


@pytest.fixture
def access() -> TenantAccess:
    return TenantAccess(
        tenant_key="acme",
        org_id="org-acme",
        workspace_id=WORKSPACE,
        admin_api_base="https://admin.test/v1",
        admin_key=SecretStr(ADMIN_KEY),
        compliance_api_base="https://compliance.test/v1",
        compliance_key=SecretStr(COMPLIANCE_KEY),
    )


@pytest.fixture
def options() -> ClientOptions:
    # The fake API and storage hosts are allowed by name: nothing is ever resolved.
    return ClientOptions(
        max_attempts=4,
        backoff_base=0.01,
        backoff_max=0.05,
        storage_allowed_hosts=("compliance.test", "blob.test"),
    )


@pytest.fixture
def budget() -> RecordingBudget:
    return RecordingBudget()


@pytest.fixture
def sleeps() -> list[float]:
    return []
