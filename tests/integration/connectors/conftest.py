"""The real simulator over HTTP for connector integration tests.

One simulator per test module (a small seeded world, several tenants covering every drift
variant), served by ``simulator.server.start_in_thread`` on a free loopback port.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from connectors.access import ClientOptions, TenantAccess
from connectors.ratelimit import DEFAULT_LIMITS, LocalRateBudget, scale_limits

# The simulator's rate-limit window is 60 s / TIME_SCALE; the client's budgets are scaled
# the same way so a fleet runs through many windows in a few seconds.
TIME_SCALE = 600.0


@pytest.fixture(scope="module")
def world() -> Any:
    from simulator.world import World

    return World.generate(tenants=4, seed=11, size="small", time_scale=TIME_SCALE)


@pytest.fixture(scope="module")
def server(world: Any) -> Iterator[Any]:
    from simulator.server import start_in_thread
    from tests.storage import storage_allowed

    handle = start_in_thread(world, port=0)
    with storage_allowed(handle):
        yield handle
    handle.stop()


@pytest.fixture(autouse=True)
def _clean_faults(world: Any) -> Iterator[None]:
    world.faults.clear()
    yield
    world.faults.clear()


def access_for(world: Any, server: Any, slug: str) -> TenantAccess:
    creds = world.tenant(slug).credentials()
    return TenantAccess(
        tenant_key=slug,
        org_id=creds["org_id"],
        workspace_id=creds["workspace_id"],
        admin_api_base=server.admin_base,
        admin_key=SecretStr(creds["admin_key"]),
        compliance_api_base=server.compliance_base,
        compliance_key=SecretStr(creds["compliance_key"]),
    )


def scaled_budget() -> LocalRateBudget:
    return LocalRateBudget(scale_limits(DEFAULT_LIMITS, 1.0 / TIME_SCALE))


def fast_options(**overrides: Any) -> ClientOptions:
    base: dict[str, Any] = {
        "backoff_base": 0.01,
        "backoff_max": 0.05,
        "read_timeout": 10.0,
        "retry_after_cap": 5.0,
        "budget_max_wait": 10.0,
    }
    base.update(overrides)
    return ClientOptions(**base)
