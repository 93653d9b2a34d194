"""workers.logging: JSON lines with context, and secrets scrubbed from every part of a record."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from core.logs import REDACTED, bind_log_tenant, log_context, redact
from workers.logging import (
    _on_postrun,
    _on_prerun,
    configure_logging,
    task_context,
)

KEYS = [
    "sk-proj-" + "Ab3dEf6hIj9kLmNoPqRsTuVwXyZ012345",
    "sk-admin-" + "Q1w2E3r4T5y6U7i8O9p0" * 2,
    "sk-svcacct-" + "zz99YY88xx77WW66vv55",
    "sk-" + "abcdefghijklmnopqrstuvwxyz012345",
]


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    buf = io.StringIO()
    handler = configure_logging("json", "DEBUG", stream=buf)
    yield buf
    logging.getLogger().removeHandler(handler)


def _lines(buf: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buf.getvalue().splitlines()]


@pytest.mark.parametrize("key", KEYS)
def test_redact_openai_keys(key: str) -> None:
    out = redact(f"calling with {key} now")
    assert key not in out and key[-8:] not in out and REDACTED in out


@pytest.mark.parametrize(
    "text",
    [
        "Authorization: Bearer abc.def-ghi_jkl",
        "headers={'Authorization': 'Basic dXNlcjpwYXNz', 'Accept': 'x'}",
        '{"authorization": "Bearer eyJhbGciOi.J9.xyz"}',
        "proxy-authorization=Basic Zm9vOmJhcg==",
        "token was bearer eyJhbGciOiJIUzI1NiJ9.payload.sig",
    ],
)
def test_redact_auth_headers_and_bearer_tokens(text: str) -> None:
    out = redact(text)
    for secret in ("abc.def-ghi_jkl", "dXNlcjpwYXNz", "eyJhbGciOi", "Zm9vOmJhcg", "payload.sig"):
        assert secret not in out
    assert REDACTED in out


def test_redaction_leaves_ordinary_text_alone() -> None:
    text = "scan 12 of tenant acme: 3 findings (task-key sk-short) user@example.com"
    assert redact(text) == text


def test_json_line_has_fields_and_no_secret_in_message_args_or_traceback(
    stream: io.StringIO,
) -> None:
    log = logging.getLogger("casb.test")
    key = KEYS[0]
    with log_context(tenant="acme", scan_id=42):
        log.info("using key %s for %s", key, "acme", extra={"route": "/v1/users"})
        try:
            raise RuntimeError(f"upstream rejected Authorization: Bearer {key}")
        except RuntimeError:
            log.exception("call failed with %r", {"Authorization": f"Bearer {key}"})
    log.warning("outside")
    text = stream.getvalue()
    assert key not in text and key[8:20] not in text
    first, second, third = _lines(stream)
    assert first["level"] == "info" and first["logger"] == "casb.test"
    assert first["tenant"] == "acme" and first["scan_id"] == 42
    assert first["message"] == f"using key {REDACTED} for acme"
    assert first["route"] == "/v1/users"
    assert first["timestamp"].endswith("Z")
    assert "RuntimeError" in second["exception"] and REDACTED in second["exception"]
    assert "tenant" not in third and "scan_id" not in third


def test_console_format_redacts_too() -> None:
    buf = io.StringIO()
    handler = configure_logging("console", "INFO", stream=buf)
    try:
        with log_context(tenant="beta"):
            logging.getLogger("casb.x").info("key=%s", KEYS[1])
    finally:
        logging.getLogger().removeHandler(handler)
    out = buf.getvalue()
    assert KEYS[1] not in out and "tenant=beta" in out and REDACTED in out


def test_configure_twice_does_not_duplicate(stream: io.StringIO) -> None:
    handler = configure_logging("json", "INFO", stream=stream)
    try:
        logging.getLogger("casb.y").info("once")
        assert len(_lines(stream)) == 1
    finally:
        logging.getLogger().removeHandler(handler)


def test_task_signals_put_task_and_ids_on_records(stream: io.StringIO) -> None:
    def run(tenant_id: int, trigger: str = "schedule") -> None: ...

    task = SimpleNamespace(name="casb.scan_tenant", run=run)
    assert task_context(task, (7,), {"trigger": "manual"}) == {"tenant": 7}
    assert task_context(SimpleNamespace(name="x", run=None), (), {"scan_id": 9}) == {"scan_id": 9}
    _on_prerun(task_id="abc-1", task=task, args=(7,), kwargs={})
    logging.getLogger("casb.task").info("working")
    _on_postrun(task_id="abc-1")
    logging.getLogger("casb.task").info("after")
    inside, after = _lines(stream)
    assert (
        inside["task"] == "casb.scan_tenant"
        and inside["task_id"] == "abc-1"
        and inside["tenant"] == 7
    )
    assert "task" not in after and "tenant" not in after


def test_a_stage_task_names_its_tenant_once_the_pipeline_binds_it(stream: io.StringIO) -> None:
    def run(scan_id: int) -> None: ...

    task = SimpleNamespace(name="casb.fetch_users", run=run)
    _on_prerun(task_id="stage-1", task=task, args=(41,), kwargs={})
    bind_log_tenant("acme")
    logging.getLogger("casb.task").info("fetching")
    _on_postrun(task_id="stage-1")
    # The next task on the same thread starts clean: no tenant carried over.
    _on_prerun(task_id="stage-2", task=task, args=(42,), kwargs={})
    logging.getLogger("casb.task").info("next")
    _on_postrun(task_id="stage-2")
    bind_log_tenant("outside-any-task")  # no task to restore it: not bound
    logging.getLogger("casb.task").info("after")
    first, second, third = _lines(stream)
    assert first["tenant"] == "acme" and first["scan_id"] == 41
    assert second["scan_id"] == 42 and "tenant" not in second
    assert "tenant" not in third


def test_worker_loglevel_is_honoured_unless_casb_log_level_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from core.settings import reset_settings_cache
    from workers.logging import _HANDLER_MARK, _on_setup_logging

    root = logging.getLogger()
    before = root.level
    try:
        monkeypatch.delenv("CASB_LOG_LEVEL", raising=False)
        reset_settings_cache()
        _on_setup_logging(loglevel=logging.WARNING)
        assert root.level == logging.WARNING  # `celery worker --loglevel WARNING`
        monkeypatch.setenv("CASB_LOG_LEVEL", "DEBUG")
        reset_settings_cache()
        _on_setup_logging(loglevel=logging.WARNING)
        assert root.level == logging.DEBUG  # an explicit CASB_LOG_LEVEL wins
    finally:
        for handler in list(root.handlers):
            if getattr(handler, _HANDLER_MARK, False):
                root.removeHandler(handler)
        root.setLevel(before)
        reset_settings_cache()
