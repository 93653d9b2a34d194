"""The memory cap of prefork pool children, on a real ``celery worker``: each child's
address-space limit (from /proc) is the configured one, the parent is left unlimited, and
``0`` turns the cap off."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.resilience.conftest import WorkerProcess, wait_until, worker_env

pytestmark = pytest.mark.slow


def _address_space_limit(pid: int) -> str:
    """The soft 'Max address space' of a process: bytes as text, or 'unlimited'."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max address space"):
            return re.split(r"\s{2,}", line.strip())[1]
    raise AssertionError("no address-space line in /proc/<pid>/limits")


@pytest.mark.parametrize(
    ("setting", "expected"), [("768", str(768 * 1024 * 1024)), ("0", "unlimited")]
)
def test_prefork_children_get_the_configured_cap(
    db: str,
    redis_url: str,
    secret_key: str,
    spawn_worker: Callable[..., WorkerProcess],
    setting: str,
    expected: str,
) -> None:
    env = worker_env(db, redis_url, secret_key, worker_memory_limit_mb=setting)
    worker = spawn_worker(env, pool="prefork", concurrency=2, queues=("dlp",))
    children = wait_until(
        lambda: worker.children() if len(worker.children()) == 2 else None, 30, "two pool children"
    )
    # the hook runs in each child as it starts; allow it a moment after the fork
    wait_until(
        lambda: all(_address_space_limit(c) == expected for c in children),
        15,
        f"the children's address-space limit to be {expected}",
    )
    assert _address_space_limit(worker.pid) == "unlimited"
