"""A file that kills its worker every time: skipped after N deliveries, its batch completes.

A real Celery prefork worker scans a tenant with DLP (one batch holds every file). Each
time the pool child starts the chosen file (the delivery ledger in Redis names the file
in flight and the child's pid), the test SIGKILLs that child, as the kernel's OOM killer
would. The batch is redelivered (acks_late + reject_on_worker_lost); after
``CASB_MAX_DELIVERIES - 1`` deaths on the same file, the next delivery skips it as
``worker_lost`` and every other file of the batch gets its verdict: the findings are the
ground truth minus that one file's.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Callable
from typing import Any

import pytest
import redis
from sqlmodel import select

from detectors.dlp.decisions import KIND_BY_TYPE_ID
from schemas.tables import DlpFileCache, ScanStatus, Tenant
from simulator.faults import Fault
from simulator.files import PLANTABLE_PROFILES
from simulator.world import World
from store.db import session_scope
from tests.integration.resilience.conftest import (
    WorkerProcess,
    assert_exact_findings,
    producer,
    register_tenants,
    request_scan,
    wait_finished,
    worker_env,
)

SLUG = "tenant-01"
PROFILES = list(PLANTABLE_PROFILES)
MAX_DELIVERIES = 3

pytestmark = pytest.mark.slow


class Assassin:
    """Watches the delivery ledger; SIGKILLs the pool child that starts ``item``."""

    def __init__(self, redis_url: str, item: str, worker: WorkerProcess) -> None:
        self.client = redis.Redis.from_url(redis_url)
        self.item = item
        self.worker = worker
        self.killed: list[int] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            for key in self.client.scan_iter("casb:deliveries:*dlp_batch*"):
                raw = self.client.hget(key, "inflight")
                if not raw:
                    continue
                inflight = json.loads(raw)
                pid = int(inflight["pid"])
                if inflight["item"] == self.item and pid not in self.killed:
                    assert pid in self.worker.children(), "the file runs in a pool child"
                    os.kill(pid, signal.SIGKILL)
                    self.killed.append(pid)
            self.stop.wait(0.02)

    def __enter__(self) -> Assassin:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)
        self.client.close()


def test_a_worker_killing_file_is_skipped_and_its_batch_mates_get_verdicts(
    db: str,
    redis_url: str,
    secret_key: str,
    start_sim: Callable[[Any], Any],
    spawn_worker: Callable[..., WorkerProcess],
) -> None:
    world = World.generate(tenants=1, seed=31, size="tiny")
    sim = start_sim(world)
    tid = register_tenants(sim, [SLUG], dlp_profiles=PROFILES)[SLUG]
    truth = world.ground_truth(SLUG, dlp_profiles=PROFILES)
    dlp_truth = sorted(k for k in truth if k[0] in KIND_BY_TYPE_ID)
    assert len(dlp_truth) >= 2, "the seed plants several DLP findings"
    poison = dlp_truth[0]
    item = f"{KIND_BY_TYPE_ID[poison[0]]}:{poison[1]}"

    # The poison file's download is held for a moment each time, so the file is certainly in
    # flight while the assassin looks (a small file is otherwise done between two polls).
    world.faults.add(
        SLUG, Fault("slow", api="files", path_contains=poison[1], delay=2, count=MAX_DELIVERIES)
    )
    env = worker_env(
        db, redis_url, secret_key, dlp_batch_size="1000", max_deliveries=str(MAX_DELIVERIES)
    )
    worker = spawn_worker(env, pool="prefork", concurrency=2)
    app = producer(redis_url)

    with Assassin(redis_url, item, worker) as assassin:
        scan_id = request_scan(app, tid)
        run = wait_finished(scan_id, 180)

    # Killed on every delivery that started it; never started on the last one.
    assert len(assassin.killed) == MAX_DELIVERIES - 1
    log = worker.log()
    for pid in assassin.killed:
        assert f"pid:{pid} exited with 'signal 9 (SIGKILL)'" in log
    assert worker.alive()

    assert run.status == ScanStatus.SUCCEEDED.value, run.errors
    dlp = run.parts["dlp"]
    assert dlp["skip_reasons"].get("worker_lost") == 1, dlp
    assert dlp["batches"] == 3  # one per listing fetch (projects, GPTs, conversations)
    # Every batch-mate got its verdict: the findings are the truth without the poison file.
    assert_exact_findings(tid, truth - {poison}, SLUG)
    with session_scope() as session:
        rows = {r.file_id: r for r in session.exec(select(DlpFileCache)).all()}
    assert rows[poison[1]].outcome == "skipped"
    assert rows[poison[1]].result["reason"] == "worker_lost"
    for _type_id, file_id in dlp_truth[1:]:
        assert rows[file_id].outcome == "matched", file_id
    # `casb health` says so.
    with session_scope() as session:
        tenant = session.get(Tenant, tid)
        assert tenant is not None
        assert tenant.health == "healthy"
        assert "DLP skipped: worker_lost 1" in (tenant.health_detail or "")
