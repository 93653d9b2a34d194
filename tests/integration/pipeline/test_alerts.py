"""Alerts end to end: a real worker (notify queue included), Redis, PostgreSQL, the simulator
over HTTP and a webhook receiver on loopback that fails its first attempt."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import select

from core.settings import get_settings
from pipeline.notify import retry_due
from schemas.tables import AlertDelivery, AlertDestination, ChangeRecord, ScanStatus
from simulator.ground_truth import GPT_PUBLIC_STORE
from store.alerts import DestinationInput, add_destination
from store.db import session_scope
from tests.integration.pipeline.conftest import register, wait_for_run
from tests.integration.pipeline.test_scan_pipeline import findings, scan
from tests.integration.pipeline.webhook_receiver import Receiver, webhook_receiver

SECRET = "whsec-test-3f9a1c"


@pytest.fixture
def fast_retries(settings_env: Callable[..., None]) -> None:
    """A failed attempt is due again at once, so the test drives the retry sweep itself."""
    settings_env(CASB_ALERT_RETRY_BASE_SECONDS="0")


def _wait_for(predicate: Any, what: str, timeout: float = 60.0) -> None:
    """Poll until predicate() is true (a bounded wait, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _deliveries() -> list[AlertDelivery]:
    with session_scope() as session:
        return list(session.exec(select(AlertDelivery).order_by(AlertDelivery.id)))  # type: ignore[arg-type]


def _add(name: str, receiver: Receiver, fmt: str = "json", **extra: Any) -> None:
    import os

    os.environ["CASB_TEST_ALERT_SECRET"] = SECRET
    try:
        with session_scope() as session:
            add_destination(
                session,
                DestinationInput(
                    name=name,
                    url=receiver.url,
                    fmt=fmt,
                    secret_env="CASB_TEST_ALERT_SECRET",
                    **extra,
                ),
                get_settings().fernet(),
            )
    finally:
        os.environ.pop("CASB_TEST_ALERT_SECRET", None)


def test_new_high_finding_is_delivered_once_signed_after_a_failed_attempt(
    db: str, sim: Any, worker: Any, fast_retries: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="casb")
    slug = "tenant-01"
    tid = register(sim, [slug])[slug]
    tenant = sim.world.tenant(slug)
    gpt = next(g for g in tenant.gpts if g.visibility == "invite-only")

    with webhook_receiver(script=[500]) as receiver:
        first = wait_for_run(scan(worker.app, tid))
        assert first.status == ScanStatus.SUCCEEDED.value
        # Added after the first scan: what was already open is never announced.
        _add("secops", receiver, min_severity="high")

        tenant.set_gpt_visibility(gpt.id, "gpt-store")
        second = wait_for_run(scan(worker.app, tid))
        assert second.status == ScanStatus.SUCCEEDED.value
        opened_row = findings(tid)[(GPT_PUBLIC_STORE, gpt.id)]
        _wait_for(lambda: len(receiver.snapshot()) >= 1, "the first (failing) attempt")
        [pending] = _deliveries()
        assert pending.status == "pending" and pending.attempts == 1
        assert pending.last_status_code == 500

        worker.app.send_task("casb.retry_alerts", queue="notify")
        _wait_for(lambda: len(receiver.snapshot()) >= 2, "the retried attempt")
        _wait_for(lambda: _deliveries()[0].status == "delivered", "the delivery to be recorded")

        third = wait_for_run(scan(worker.app, tid))  # nothing changed: nothing to announce
        assert third.status == ScanStatus.SUCCEEDED.value
        # Deliveries are planned in the transaction that finishes the run: none for this scan,
        # and the one delivery is done, so nothing is due and no further POST can come.
        assert [(d.scan_id, d.status) for d in _deliveries()] == [(second.id, "delivered")]
        assert retry_due() == []
        requests = receiver.snapshot()

    assert [r.answered for r in requests] == [500, 200]
    failed, delivered = requests
    assert failed.body == delivered.body
    assert failed.headers["x-casb-delivery"] == delivered.headers["x-casb-delivery"]
    assert delivered.headers["content-type"] == "application/json"
    expected_sig = hmac.new(SECRET.encode(), delivered.body, hashlib.sha256).hexdigest()
    assert delivered.headers["x-casb-signature"] == f"sha256={expected_sig}"

    payload = json.loads(delivered.body)
    assert payload["event"] == "findings.opened"
    assert payload["tenant"] == slug
    assert payload["scan_id"] == second.id
    [announced] = payload["findings"]
    assert (announced["finding_type_id"], announced["resource_id"]) == (GPT_PUBLIC_STORE, gpt.id)
    assert announced["severity"] == "high"
    # Exactly the object `casb findings --format json` prints for that finding.
    from exports.findings import finding_to_dict

    assert announced == json.loads(json.dumps(finding_to_dict(opened_row, slug), default=str))

    rows = _deliveries()
    assert len(rows) == 1 and rows[0].status == "delivered" and rows[0].attempts == 2
    notify_logs = [r.getMessage() for r in caplog.records if r.name == "casb.notify"]
    assert len(notify_logs) == 2 and all(rows[0].delivery_id in m for m in notify_logs)
    assert SECRET not in caplog.text and "/hook" not in caplog.text  # neither secret nor URL
    with session_scope() as session:
        changes = list(session.exec(select(ChangeRecord)))
    assert [(c.scan_id, c.resource_type, c.resource_id, c.field) for c in changes] == [
        (second.id, "gpt", gpt.id, "sharing.visibility")
    ]
    assert (changes[0].before, changes[0].after) == ("invite-only", "gpt-store")
    assert SECRET not in rows[0].body
    with session_scope() as session:
        dest = session.exec(select(AlertDestination)).one()
    assert dest.secret_enc and SECRET not in dest.secret_enc


def test_client_error_is_final_and_shown_in_health(db: str, sim: Any, worker: Any) -> None:
    slug = "tenant-02"
    tid = register(sim, [slug])[slug]
    with webhook_receiver(script=[404]) as receiver:
        _add("broken", receiver)
        run = wait_for_run(scan(worker.app, tid))
        assert run.status == ScanStatus.SUCCEEDED.value
        _wait_for(lambda: _deliveries() and _deliveries()[0].status == "failed", "a failed row")
        assert retry_due() == []  # 4xx: final, nothing left for the retry sweep
        assert [r.answered for r in receiver.snapshot()] == [404]

    from tests.cli import run_cli

    result = run_cli("health", "--json")
    assert result.code == 0, result.output
    [health] = [h for h in json.loads(result.stdout) if h["tenant"] == slug]
    assert health["failed_alerts"] == 1
    listed = run_cli("alert", "list", "--format", "json")
    assert listed.code == 0, listed.output
    [dest] = json.loads(listed.stdout)
    assert dest["deliveries"]["failed"] == 1
    assert dest["url"] == receiver.url.rsplit("/", 1)[0] + "/…"


def test_change_records_are_alerted_and_a_failed_fetch_is_not_compared(
    db: str, sim: Any, worker: Any
) -> None:
    from simulator.faults import Fault

    slug = "tenant-03"
    tid = register(sim, [slug])[slug]
    tenant = sim.world.tenant(slug)
    invite = next(iter(tenant.invites))
    with webhook_receiver() as receiver:
        wait_for_run(scan(worker.app, tid))  # the baseline
        _add("changes", receiver, events=["changes"])

        tenant.delete_invite(invite.id)
        sim.world.faults.add(
            slug, Fault(kind="server_error", api="admin", path_contains="/invites", status=503)
        )
        try:
            failed = wait_for_run(scan(worker.app, tid))
        finally:
            sim.world.faults.clear(slug)
        assert failed.status == ScanStatus.PARTIAL.value
        with session_scope() as session:
            assert list(session.exec(select(ChangeRecord))) == []  # not "everything removed"

        ok = wait_for_run(scan(worker.app, tid))
        assert ok.status == ScanStatus.SUCCEEDED.value
        _wait_for(lambda: len(receiver.snapshot()) >= 1, "the changes delivery")
        [request] = receiver.snapshot()

    payload = json.loads(request.body)
    assert payload["event"] == "changes" and payload["scan_id"] == ok.id
    [change] = payload["changes"]
    assert (change["resource_type"], change["resource_id"]) == ("invite", invite.id)
    assert change["field"] == "removed" and change["after"] is None

    from tests.cli import run_cli

    listed = run_cli("changes", "--tenant", slug, "--since", "7d", "--format", "json")
    assert listed.code == 0, listed.output
    assert [(c["resource_id"], c["field"]) for c in json.loads(listed.stdout)] == [
        (invite.id, "removed")
    ]
    by_resource = run_cli("changes", "--resource", "no-such-id", "--format", "json")
    assert json.loads(by_resource.stdout) == []
    table = run_cli("changes", "--tenant", slug)
    assert table.code == 0 and "removed" in table.stdout and "invite" in table.stdout

    from workers.metrics import Sources, gather, render

    families = {f.name: f for f in render(gather(Sources(database_url=db)))}
    samples = {tuple(sorted(s.labels.items())): s.value for s in families["casb_changes"].samples}
    assert samples[(("field", "removed"), ("resource_type", "invite"))] == 1
    deliveries = {s.labels["status"]: s.value for s in families["casb_alert_deliveries"].samples}
    assert deliveries == {"delivered": 1}

    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp, "report.html")
        report = run_cli("report", "--tenant", slug, "--output", str(page))
        assert report.code == 0, report.output
        html = page.read_text()
    section = html.split('id="changes"', 1)[1].split('id="open-findings"', 1)[0]
    assert section.count('class="change"') == 1 and invite.id in section


def test_inline_scan_delivers_in_process(db: str, sim: Any, redis_url: str) -> None:
    """`casb scan --inline`: the first attempt is made by the scanning process itself."""
    from pipeline.runtime import use_embedded
    from tests.cli import run_cli

    slug = "tenant-01"
    register(sim, [slug])
    try:
        with webhook_receiver() as receiver:
            _add("inline", receiver, fmt="slack", min_severity="high")
            result = run_cli("scan", "--inline", slug)
            assert result.code == 0, result.output
            requests = receiver.snapshot()
    finally:
        use_embedded(False)
    [request] = requests  # everything of a first scan is new: one message
    message = json.loads(request.body)
    expected_high = {
        (f.finding_type_id, f.resource_id)
        for f in sim.world.manifest(slug, dlp_profiles=[])
        if f.finding_type_id in _high_ids()
    }
    fields = [b["fields"] for b in message["blocks"] if b["type"] == "section" and "fields" in b]
    assert len(fields) == len(expected_high) > 0
    assert all(f[0]["text"].endswith("HIGH") for f in fields)
    [row] = _deliveries()
    assert row.status == "delivered" and row.attempts == 1


def _high_ids() -> set[str]:
    from schemas.catalog import CATALOG

    return {ft.finding_type_id for ft in CATALOG if ft.severity.value in ("high", "critical")}
