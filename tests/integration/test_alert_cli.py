"""`casb alert add|list|test|remove` against the real PostgreSQL and a loopback receiver."""

from __future__ import annotations

import json

from sqlmodel import select

from schemas.tables import AlertDestination
from store.db import session_scope
from tests.cli import run_cli
from tests.integration.pipeline.webhook_receiver import webhook_receiver


def test_add_list_test_remove(db: str) -> None:
    with webhook_receiver() as receiver:
        added = run_cli(
            "alert",
            "add",
            "secops",
            "--url",
            receiver.url,
            "--format",
            "slack",
            "--min-severity",
            "high",
            "--type",
            "gpt_public_store",
            "--secret-env",
            "HOOK_SECRET",
            env={"HOOK_SECRET": "s3cret-value"},
        )
        assert added.code == 0, added.output
        assert "warning" not in added.output  # loopback http is fine
        assert "s3cret-value" not in added.output

        tested = run_cli("alert", "test", "secops")
        assert tested.code == 0, tested.output
        [request] = receiver.snapshot()
        message = json.loads(request.body)
        assert "blocks" in message and message["text"]
        assert request.headers["x-casb-signature"].startswith("sha256=")

    listed = run_cli("alert", "list", "--format", "json")
    [row] = json.loads(listed.stdout)
    assert row["name"] == "secops" and row["format"] == "slack" and row["signed"] is True
    assert row["types"] == ["gpt_public_store"] and row["min_severity"] == "high"
    assert row["deliveries"] == {"pending": 0, "delivered": 0, "failed": 0}  # a test is not one
    with session_scope() as session:
        stored = session.exec(select(AlertDestination)).one()
    assert stored.secret_enc and "s3cret-value" not in stored.secret_enc

    removed = run_cli("alert", "remove", "secops")
    assert removed.code == 0
    assert json.loads(run_cli("alert", "list", "--format", "json").stdout) == []


def test_bad_input_is_refused_and_writes_nothing(db: str) -> None:
    for args, message in (
        (["--url", "ftp://127.0.0.1/x"], "http or https"),
        (["--url", "http://127.0.0.1:1/x", "--type", "no_such_type"], "unknown finding type"),
        (["--url", "http://127.0.0.1:1/x", "--tenant", "ghost"], "unknown tenant"),
        (["--url", "http://127.0.0.1:1/x", "--min-severity", "urgent"], "--min-severity"),
        (["--url", "http://127.0.0.1:1/x", "--secret-env", "UNSET_VAR_X"], "not set"),
    ):
        result = run_cli("alert", "add", "bad", *args)
        assert result.code == 2, (args, result.output)
        assert message in result.output, (args, result.output)
    assert json.loads(run_cli("alert", "list", "--format", "json").stdout) == []


def test_plain_http_off_loopback_is_accepted_with_a_warning(db: str) -> None:
    # Only stored, never contacted: the address is an unroutable documentation example.
    result = run_cli("alert", "add", "remote", "--url", "http://hooks.example.invalid/abc")
    assert result.code == 0, result.output
    assert "warning" in result.stderr and "not https" in result.stderr
    assert "/abc" not in result.stdout  # the path (a Slack URL's secret) is not echoed


def test_keys_rotate_covers_the_alert_secret(db: str) -> None:
    from cryptography.fernet import Fernet, MultiFernet

    from core.settings import get_settings
    from store.alerts import destination_secret
    from store.crypto import is_current
    from store.keyrotation import rotate_secrets

    added = run_cli(
        "alert", "add", "signed", "--url", "http://127.0.0.1:9/x", "--secret-env", "HOOK",
        env={"HOOK": "rotate-me-secret"},
    )  # fmt: skip
    assert added.code == 0, added.output
    old = get_settings().primary_fernet()
    primary = Fernet(Fernet.generate_key())
    report = rotate_secrets(session_scope, MultiFernet([primary, old]), primary)
    assert report.rotated >= 1 and report.remaining == 0
    with session_scope() as session:
        row = session.exec(select(AlertDestination)).one()
        assert row.secret_enc and is_current(primary, row.secret_enc)
        secret = destination_secret(row, MultiFernet([primary]))
    assert secret is not None and secret.get_secret_value() == "rotate-me-secret"
