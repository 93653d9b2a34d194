"""Structured logs: JSON lines (or console text) with tenant/scan/task context, redacted.

``configure_logging("json", "INFO")`` installs one stderr handler on the root logger. Every
record passes a redaction filter that scrubs OpenAI keys (``sk-…``), bearer tokens and
``Authorization`` header values from the message *and* its arguments, and the formatters
redact their final output again (tracebacks and ``extra`` fields included), so a secret
that slips into an exception text still never reaches a log line.

Context (tenant, scan id, task name/id) comes from contextvars: ``log_context(...)`` in
code, and Celery's task signals when ``install_celery_hooks()`` has run in a worker.
"""

from __future__ import annotations

import inspect
import json
import logging
import sys
from contextlib import suppress
from contextvars import ContextVar
from typing import Any, Literal

from core.logs import (
    CONTEXT_VARS,
    current_context,
    redact,
)
from core.time import unix_iso_z


class RedactionFilter(logging.Filter):
    """Renders the message with its args, redacts it and drops the args (nothing raw left)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = f"{record.msg!r} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


# --------------------------------------------------------------------------- context


class ContextFilter(logging.Filter):
    """Copies the context onto the record (``record.tenant`` etc.) unless already set."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in current_context().items():
            if getattr(record, key, None) is None:
                setattr(record, key, value)
        return True


# --------------------------------------------------------------------------- formatters

_STANDARD = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: timestamp, level, logger, message, context, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": unix_iso_z(record.created, timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in CONTEXT_VARS:
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry and not key.startswith("_"):
                entry[key] = _jsonable(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return redact(json.dumps(entry, ensure_ascii=False, default=str))


def _jsonable(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, dict | list | tuple):
        try:
            json.dumps(value)
            return value
        except (TypeError, ValueError):
            return repr(value)
    return repr(value)


class ConsoleFormatter(logging.Formatter):
    """Readable one-liners for a terminal, context appended as key=value; redacted."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        context = " ".join(
            f"{k}={getattr(record, k)}"
            for k in CONTEXT_VARS
            if getattr(record, k, None) is not None
        )
        return redact(f"{text} [{context}]" if context else text)


_HANDLER_MARK = "_casb_handler"


def configure_logging(
    fmt: Literal["json", "console"] = "console",
    level: str | int = "INFO",
    *,
    stream: Any = None,
) -> logging.Handler:
    """Install the fleet's log handler on the root logger (replacing a previous one).

    Idempotent: calling it again (a worker child after fork, a test) swaps the handler
    instead of stacking duplicates. Returns the handler (tests read from its stream).
    """
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, _HANDLER_MARK, False):
            root.removeHandler(existing)
    handler = logging.StreamHandler(stream or sys.stderr)
    setattr(handler, _HANDLER_MARK, True)
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactionFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else ConsoleFormatter())
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())
    # httpx logs full request lines at INFO; keep them out unless debugging.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return handler


def configure_from_settings(level: str | int | None = None) -> logging.Handler:
    """``configure_logging`` with CASB_LOG_FORMAT and ``level`` (default CASB_LOG_LEVEL)."""
    from core.settings import get_settings

    settings = get_settings()
    return configure_logging(settings.log_format, settings.log_level if level is None else level)


# --------------------------------------------------------------------------- Celery

_CONTEXT_ARGS = ("tenant_id", "scan_id")


def task_context(task: Any, args: Any, kwargs: Any) -> dict[str, Any]:
    """tenant/scan ids from a task's arguments, by parameter name (positional or keyword)."""
    found: dict[str, Any] = {}
    bound: dict[str, Any] = dict(kwargs or {})
    run = getattr(task, "run", None)
    if run is not None and args:
        with suppress(TypeError, ValueError):
            bound = dict(inspect.signature(run).bind_partial(*args, **(kwargs or {})).arguments)
    if bound.get("tenant_id") is not None:
        found["tenant"] = bound["tenant_id"]
    if bound.get("scan_id") is not None:
        found["scan_id"] = bound["scan_id"]
    return found


_task_tokens: dict[str, list[tuple[ContextVar[Any], Any]]] = {}


def _on_prerun(
    task_id: str | None = None, task: Any = None, args: Any = None, kwargs: Any = None, **_: Any
) -> None:
    values: dict[str, Any] = dict.fromkeys(CONTEXT_VARS)
    values.update(task=getattr(task, "name", None), task_id=task_id)
    values.update(task_context(task, args, kwargs))
    # Every field is set (None included), so nothing a previous task bound leaks into this one.
    tokens = [(CONTEXT_VARS[k], CONTEXT_VARS[k].set(v)) for k, v in values.items()]
    if task_id:
        _task_tokens[task_id] = tokens


def _on_postrun(task_id: str | None = None, **_: Any) -> None:
    for var, token in reversed(_task_tokens.pop(task_id or "", [])):
        try:
            var.reset(token)
        except ValueError:  # set in another context (thread pool): clear instead
            var.set(None)


def _on_setup_logging(loglevel: str | int | None = None, **_: Any) -> None:
    """Celery's own logging setup is replaced by ours (no hijacked root, no duplicates).

    The worker's ``--loglevel`` is honoured unless CASB_LOG_LEVEL is set explicitly.
    """
    from core.settings import get_settings

    explicit = "log_level" in get_settings().model_fields_set
    configure_from_settings(None if explicit or not loglevel else loglevel)


def install_celery_hooks() -> None:
    """Connect Celery signals: our logging setup, and task context on every record.

    Called from the Celery app module; connecting twice is harmless (weak, deduplicated).
    """
    from celery import signals

    signals.setup_logging.connect(_on_setup_logging, weak=False, dispatch_uid="casb-logging")
    signals.task_prerun.connect(_on_prerun, weak=False, dispatch_uid="casb-log-prerun")
    signals.task_postrun.connect(_on_postrun, weak=False, dispatch_uid="casb-log-postrun")
