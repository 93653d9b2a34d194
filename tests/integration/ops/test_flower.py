"""Flower with our flowerconfig: basic auth enforced, and the documented rescan call
(`POST /api/task/async-apply/casb.scan_tenant`) puts an ids-only task on the scans queue."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

ROOT = Path(__file__).resolve().parents[3]
AUTH = ("ops", "flower-test-password")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def flower(redis_url: str, tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    env = dict(os.environ, FLOWER_BASIC_AUTH=f"{AUTH[0]}:{AUTH[1]}", CASB_BROKER_URL=redis_url)
    log = (tmp_path / "flower.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "workers", "flower", "--conf=flowerconfig.py",
         f"--port={port}", "--address=127.0.0.1"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/healthcheck", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    "flower did not start:\n" + (tmp_path / "flower.log").read_text()[-3000:]
                )
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_rescan_through_flower_api(flower: str, redis_client: redis.Redis) -> None:
    assert httpx.get(f"{flower}/", timeout=10).status_code == 401
    denied = httpx.post(
        f"{flower}/api/task/async-apply/casb.scan_tenant", json={"args": [12]}, timeout=10
    )
    assert denied.status_code == 401
    response = httpx.post(
        f"{flower}/api/task/async-apply/casb.scan_tenant",
        auth=AUTH,
        json={"args": [12], "kwargs": {"trigger": "api"}, "queue": "scans"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    task_id = response.json()["task-id"]
    assert redis_client.llen("scans") == 1
    message = json.loads(redis_client.lpop("scans"))  # type: ignore[arg-type]
    assert message["headers"]["task"] == "casb.scan_tenant"
    assert message["headers"]["id"] == task_id
    args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
    assert args == [12] and kwargs == {"trigger": "api"}


@pytest.mark.parametrize(
    ("basic_auth", "expected"),
    [
        (None, "FLOWER_BASIC_AUTH is not set"),
        ("admin:change-me-flower", "example password"),
        ("admin", "user:password"),
    ],
)
def test_flower_refuses_to_start_without_real_basic_auth(
    redis_url: str, basic_auth: str | None, expected: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "FLOWER_BASIC_AUTH"}
    env["CASB_BROKER_URL"] = redis_url
    if basic_auth is not None:
        env["FLOWER_BASIC_AUTH"] = basic_auth
    proc = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "workers", "flower", "--conf=flowerconfig.py",
         f"--port={_free_port()}", "--address=127.0.0.1"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "refusing to start" in proc.stderr and expected in proc.stderr
    if basic_auth and ":" in basic_auth:
        assert basic_auth.split(":", 1)[1] not in proc.stdout + proc.stderr
