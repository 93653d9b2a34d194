"""The simulator over real loopback HTTP for its own tests.

One server per module over a small seeded world with four tenants (every drift variant) and
a fast rate-limit window, plus an httpx helper that honours 429 Retry-After like a client would.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from simulator.server import RunningSimulator, start_in_thread
from simulator.world import World

TIME_SCALE = 600.0  # 0.1 s windows: documented limits per 100 ms


@pytest.fixture(scope="module")
def world() -> World:
    return World.generate(
        tenants=4,
        seed=7,
        size="small",
        time_scale=TIME_SCALE,
        fault_files=True,
        large_file_bytes=3 * 1024 * 1024,
        zip_bomb_bytes=4 * 1024 * 1024,
    )


@pytest.fixture(scope="module")
def sim(world: World) -> Iterator[RunningSimulator]:
    handle = start_in_thread(world, port=0)
    yield handle
    handle.stop()


@pytest.fixture(autouse=True)
def _clean_faults(world: World) -> Iterator[None]:
    world.faults.clear()
    yield
    world.faults.clear()


class Api:
    """GETs with a bearer key against one base URL, waiting out 429s (max 20 attempts)."""

    def __init__(self, base: str, key: str | None) -> None:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.client = httpx.Client(
            base_url=base, headers=headers, timeout=30.0, follow_redirects=False
        )

    def get(self, path: str, params: Any = None, retry_429: bool = True) -> httpx.Response:
        for _ in range(20):
            r = self.client.get(path, params=params)
            if r.status_code != 429 or not retry_429:
                return r
            time.sleep(int(r.headers.get("retry-after-ms", "100")) / 1000)
        return r

    def json(self, path: str, params: Any = None) -> Any:
        r = self.get(path, params)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
        return r.json()

    def walk(self, path: str, params: Any = None) -> list[dict[str, Any]]:
        """All items across pages, following has_more/last_id (bounded)."""
        base = list(params.items()) if isinstance(params, dict) else list(params or [])
        after: list[tuple[str, Any]] = []
        items: list[dict[str, Any]] = []
        for _ in range(10_000):
            body = self.json(path, base + after)
            items += body["data"]
            if not body["has_more"]:
                return items
            after = [("after", body["last_id"])]
        raise AssertionError("paging did not end")

    def close(self) -> None:
        self.client.close()


def admin_api(sim: RunningSimulator, world: World, slug: str) -> Api:
    return Api(sim.admin_base, world.tenant(slug).admin_key)


def compliance_api(sim: RunningSimulator, world: World, slug: str) -> Api:
    t = world.tenant(slug)
    return Api(f"{sim.compliance_base}/compliance/workspaces/{t.workspace_id}", t.compliance_key)
