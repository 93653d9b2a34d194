"""Fleet behaviour: secrets stay out of Redis/logs/DB, dispatcher claims, reaper, errback."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis
from celery.signals import before_task_publish
from sqlmodel import select

from schemas.tables import Finding, ScanRun, ScanStatus, Tenant, utcnow
from simulator.faults import Fault
from store.db import session_scope
from tests.integration.pipeline.conftest import all_secrets, register, wait_for_run
from tests.integration.pipeline.test_scan_pipeline import scan


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append(text)


@pytest.fixture
def captured_logs() -> Iterator[_Capture]:
    handler = _Capture()
    root = logging.getLogger()
    names = ("casb", "celery", "connectors", "tasks", "httpx")
    old = {n: logging.getLogger(n).level for n in names}
    root.addHandler(handler)
    for name in names:
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    for name, level in old.items():
        logging.getLogger(name).setLevel(level)


@pytest.fixture
def published() -> Iterator[list[tuple[Any, Any]]]:
    """Every task message published in this process: (headers, body) as sent."""
    messages: list[tuple[Any, Any]] = []

    def hook(body: Any = None, headers: Any = None, **_: Any) -> None:
        messages.append((headers, json.loads(json.dumps(body, default=str))))

    before_task_publish.connect(hook, weak=False)
    yield messages
    before_task_publish.disconnect(hook)


def _redis_dump(url: str) -> list[str]:
    client = redis.Redis.from_url(url)
    out: list[str] = []
    for key in client.scan_iter(count=500):
        raw_kind: Any = client.type(key)
        kind = raw_kind.decode() if isinstance(raw_kind, bytes) else str(raw_kind)
        out.append(key.decode(errors="replace"))
        if kind == "string":
            out.append(str(client.get(key)))
        elif kind == "hash":
            out.append(str(client.hgetall(key)))
        elif kind == "list":
            out.append(str(client.lrange(key, 0, -1)))
        elif kind == "set":
            out.append(str(client.smembers(key)))
        elif kind == "zset":
            out.append(str(client.zrange(key, 0, -1)))
    return out


def _scalar(value: Any) -> bool:
    """An id, a snapshot key, a trigger or a flag: never a list of objects or a document."""
    if isinstance(value, str):
        return len(value) <= 120
    return value is None or isinstance(value, int | float | bool)


def test_no_credential_in_messages_results_redis_logs_or_rows(
    db: str,
    sim: Any,
    worker: Any,
    redis_url: str,
    captured_logs: _Capture,
    published: list[tuple[Any, Any]],
) -> None:
    ids = register(sim, dlp_profiles=["Credentials and Secrets"])  # DLP tasks too
    sim.world.faults.add("tenant-03", Fault(kind="revoked_key", api="any"))
    try:
        runs = [wait_for_run(scan(worker.app, tid)) for tid in ids.values()]
    finally:
        sim.world.faults.clear()
    assert {r.status for r in runs} == {ScanStatus.SUCCEEDED.value, ScanStatus.FAILED.value}
    redis_text = _redis_dump(redis_url)
    assert any("celery-task-meta-" in line for line in redis_text), "fetch results are stored"
    assert len(published) >= 3 * 8  # scan_tenant + fetches + detect + finish per tenant
    # Task arguments carry ids and keys only: every top-level arg and kwarg is a scalar.
    for headers, (args, kwargs, _embed) in published:
        assert str(headers["task"]).startswith("casb."), headers["task"]
        assert all(_scalar(a) for a in args), (headers["task"], args)
        assert all(_scalar(v) for v in kwargs.values()), (headers["task"], kwargs)
    with session_scope() as session:
        rows = (
            [
                json.dumps([r.counts, r.errors, r.parts], default=str)
                for r in session.exec(select(ScanRun)).all()
            ]
            + [
                json.dumps([f.evidence, f.resource_name], default=str)
                for f in session.exec(select(Finding)).all()
            ]
            + [
                json.dumps([t.health_detail, t.admin_key_hint], default=str)
                for t in session.exec(select(Tenant)).all()
            ]
        )
    haystacks = {
        "redis": "\n".join(redis_text),
        "messages": "\n".join(json.dumps(m, default=str) for m in published),
        "logs": "\n".join(captured_logs.lines),
        "database": "\n".join(rows),
    }
    assert captured_logs.lines, "the pipeline logged something"
    secrets = all_secrets(sim.world)
    assert len(secrets) >= 6
    for where, text in haystacks.items():
        for secret in secrets:
            assert secret not in text, f"a credential leaked into {where}"
            assert secret[-12:] not in text, f"a credential tail leaked into {where}"


def test_dispatcher_claims_each_due_tenant_once(db: str, sim: Any, worker: Any) -> None:
    from store.scans import advance_schedule, claim_due_tenants, request_scan
    from tasks.dispatch import dispatch_due

    ids = register(sim)
    now = utcnow()
    # Two transactions claiming at once: SKIP LOCKED hands each tenant to one of them.
    with session_scope() as first:
        claimed_a = claim_due_tenants(first, now, 2)
        with session_scope() as second:
            claimed_b = claim_due_tenants(second, now, 10)
        assert len(claimed_a) == 2 and len(claimed_b) == 1
        assert {t.id for t in claimed_a}.isdisjoint({t.id for t in claimed_b})
        for tenant in claimed_a:
            advance_schedule(tenant, now)
            first.add(tenant)
    # Two dispatchers racing for the remaining due tenant (and nothing else is due).
    barrier = threading.Barrier(2)
    results: list[dict[str, Any]] = []

    def dispatch_once() -> None:
        barrier.wait()
        results.append(dispatch_due())

    threads = [threading.Thread(target=dispatch_once) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    dispatched = [s for r in results for s in r["dispatched"]]
    assert len(dispatched) == 1
    assert dispatch_due() == {"dispatched": [], "coalesced": []}  # nothing due any more
    run = wait_for_run(dispatched[0])
    assert run.trigger == "schedule" and run.status == ScanStatus.SUCCEEDED.value
    with session_scope() as session:
        runs = session.exec(select(ScanRun)).all()
        assert len(runs) == 1
        tenants = session.exec(select(Tenant)).all()
        assert all(t.next_scan_at is not None and t.next_scan_at > now for t in tenants)
        # A request for a tenant with an active run coalesces instead of starting a second one.
        first_tenant = session.get(Tenant, ids["tenant-01"])
        assert first_tenant is not None
        req1 = request_scan(session, first_tenant, "manual")
        req2 = request_scan(session, first_tenant, "manual")
        assert not req1.coalesced and req2.coalesced and req2.scan_id == req1.scan_id


def test_reaper_fails_stale_runs_and_requeues(db: str, sim: Any, worker: Any) -> None:
    from tasks.maintenance import reap_stale

    tid = register(sim, ["tenant-01"])["tenant-01"]
    with session_scope() as session:
        stuck = ScanRun(
            tenant_id=tid,
            trigger="schedule",
            status=ScanStatus.RUNNING.value,
            requested_at=utcnow() - timedelta(hours=5),
            started_at=utcnow() - timedelta(hours=5),
            heartbeat_at=utcnow() - timedelta(hours=4),
            parts={},
            counts={},
            errors=[],
        )
        session.add(stuck)
        session.flush()
        stuck_id = stuck.id
    assert stuck_id is not None
    assert reap_stale(3600)["reaped"] == [stuck_id]
    with session_scope() as session:
        run = session.get(ScanRun, stuck_id)
        assert run is not None and run.status == ScanStatus.FAILED.value
        assert run.errors[-1]["kind"] == "stale"
    deadline = time.monotonic() + 30
    new_id = None
    while time.monotonic() < deadline and new_id is None:
        with session_scope() as session:
            new = session.exec(select(ScanRun).where(ScanRun.id != stuck_id)).first()
            new_id = new.id if new else None
        time.sleep(0.05)
    assert new_id is not None, "the reaper queued a fresh scan"
    assert wait_for_run(new_id).status == ScanStatus.SUCCEEDED.value
    assert reap_stale(3600)["reaped"] == []


def test_crashing_stage_fails_the_scan_through_the_errback(
    db: str, sim: Any, worker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A non-connector exception in a chord header task: the errback finishes the run."""
    from pipeline.runtime import get_runtime

    tid = register(sim, ["tenant-01"])["tenant-01"]
    store = get_runtime().snapshots
    real_put = store.put

    def broken_put(scan_id: int, part: str, items: list[dict[str, Any]]) -> str:
        if part == "invites":
            raise RuntimeError("snapshot store unavailable (injected)")
        return real_put(scan_id, part, items)

    monkeypatch.setattr(store, "put", broken_put)
    run = wait_for_run(scan(worker.app, tid))
    assert run.status == ScanStatus.FAILED.value
    assert any(e["resource"] == "pipeline" for e in run.errors)
    with session_scope() as session:
        assert session.exec(select(Finding)).first() is None  # detect never ran
        tenant = session.get(Tenant, tid)
        assert tenant is not None and tenant.health == "api_error"
