"""Flower's task views show readable task names and ids, never a credential.

A real worker subprocess scans a simulated tenant while Flower (with our flowerconfig)
watches the events. The test then reads what an operator sees, Flower's JSON API, the task
table's data and each task's detail page, and looks for the tenant's keys in all of it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from schemas.tables import ScanStatus
from simulator.world import World
from tests.integration.resilience.conftest import (
    REPO,
    WorkerProcess,
    free_port,
    producer,
    register_tenants,
    request_scan,
    wait_finished,
    wait_until,
    worker_env,
)

AUTH = ("ops", "flower-secrets-test")
PIPELINE_TASKS = {"casb.scan_tenant", "casb.fetch_users", "casb.detect_posture", "casb.finish_scan"}

pytestmark = pytest.mark.slow


@pytest.fixture
def flower(redis_url: str, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASB_")}
    env.update(FLOWER_BASIC_AUTH=f"{AUTH[0]}:{AUTH[1]}", CASB_BROKER_URL=redis_url)
    log_path = tmp_path / "flower.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "workers", "flower",
             "--conf=flowerconfig.py", f"--port={port}", "--address=127.0.0.1"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError("flower exited:\n" + log_path.read_text()[-3000:])
        try:
            return httpx.get(f"{base}/healthcheck", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(up, 90, "flower to answer")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_flower_task_views_show_names_and_ids_but_no_keys(
    db: str,
    redis_url: str,
    secret_key: str,
    flower: str,
    start_sim: Callable[[Any], Any],
    spawn_worker: Callable[..., WorkerProcess],
) -> None:
    world = World.generate(tenants=1, seed=31, size="tiny")
    sim = start_sim(world)
    tenant_id = register_tenants(sim)["tenant-01"]
    creds = world.tenant("tenant-01").credentials()
    secrets = [creds["admin_key"], creds["compliance_key"], secret_key]

    env = worker_env(db, redis_url, secret_key)
    started = spawn_worker(
        env, pool="threads", concurrency=4, name=f"flower-secrets-{time.time_ns()}@%h"
    )

    control = producer(redis_url).control
    wait_until(lambda: control.ping(timeout=1.0), 60, "the worker to answer a ping")
    # Flower switches task events on by broadcast; send one now so the scan's tasks all show.
    control.enable_events()

    scan_id = request_scan(producer(redis_url), tenant_id)
    assert wait_finished(scan_id).status == ScanStatus.SUCCEEDED.value

    def pipeline_tasks_listed() -> dict[str, Any] | None:
        tasks = httpx.get(f"{flower}/api/tasks", auth=AUTH, timeout=10).json()
        names = {t.get("name") for t in tasks.values()}
        return tasks if names >= PIPELINE_TASKS else None

    tasks = wait_until(pipeline_tasks_listed, 60, "flower to list the pipeline tasks")
    pages = [httpx.get(f"{flower}/api/tasks", auth=AUTH, timeout=10).text]
    pages.append(
        httpx.get(
            f"{flower}/tasks/datatable",
            params={"draw": 1, "start": 0, "length": 500, "search[value]": ""},
            auth=AUTH,
            timeout=10,
        ).text
    )
    for task_id in tasks:
        page = httpx.get(f"{flower}/task/{task_id}", auth=AUTH, timeout=10)
        assert page.status_code == 200 and task_id in page.text
        pages.append(page.text)

    seen = "\n".join(pages)
    for secret in secrets:
        assert secret not in seen
        assert secret[-12:] not in seen
    # The operator still sees which tenant and which scan each task works on.
    by_name = {t["name"]: t for t in tasks.values()}
    assert str(tenant_id) in by_name["casb.scan_tenant"]["args"]
    assert str(scan_id) in by_name["casb.fetch_users"]["args"]
    assert started.alive()
