"""The one secret scrubber and the log context every layer may use.

``redact`` scrubs OpenAI keys (``sk-…``), bearer tokens and ``Authorization`` header values
from any text. The log context (tenant, scan id, task name and id) lives in contextvars: set it
with ``log_context(...)``; the log handlers in ``workers.logging`` copy it onto every record.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

REDACTED = "[REDACTED]"

# OpenAI keys: sk-, sk-proj-, sk-admin-, sk-svcacct-, sk-None-, ..., and their redacted forms
# (``sk-abc...def`` identifies a key; nobody reading a log or an error needs it).
_OPENAI_KEY = re.compile(
    r"\bsk-[A-Za-z0-9_\-]*(?:\.\.\.|…|\*+)[A-Za-z0-9_\-]*|\bsk-[A-Za-z0-9_\-]{8,}"
)
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9\-._~+/]+=*")
# "Authorization: Basic abc", "'authorization': 'Bearer x'", "Authorization=..." up to a
# quote, comma, semicolon, brace or end of line.
_AUTH_HEADER = re.compile(
    r"""(?i)(["']?(?:proxy-)?authorization["']?\s*[:=]\s*["']?)[^"',;}\r\n]+"""
)
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (_AUTH_HEADER, r"\1" + REDACTED),
    (_BEARER, r"\1 " + REDACTED),
    (_OPENAI_KEY, REDACTED),
)


def redact(text: str) -> str:
    """Scrub OpenAI keys, bearer tokens and Authorization header values from text."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, int | float | bool) or value is None:
        return value
    return redact(repr(value)) if not isinstance(value, BaseException) else redact(str(value))


_tenant: ContextVar[str | None] = ContextVar("casb_log_tenant", default=None)
_scan_id: ContextVar[int | str | None] = ContextVar("casb_log_scan_id", default=None)
_task_name: ContextVar[str | None] = ContextVar("casb_log_task_name", default=None)
_task_id: ContextVar[str | None] = ContextVar("casb_log_task_id", default=None)
CONTEXT_VARS: dict[str, ContextVar[Any]] = {
    "tenant": _tenant,
    "scan_id": _scan_id,
    "task": _task_name,
    "task_id": _task_id,
}


@contextmanager
def log_context(**values: Any) -> Iterator[None]:
    """Attach ``tenant``, ``scan_id``, ``task`` or ``task_id`` to every record inside."""
    unknown = set(values) - set(CONTEXT_VARS)
    if unknown:
        raise TypeError(f"unknown log context field(s): {sorted(unknown)}")
    tokens = [(CONTEXT_VARS[k], CONTEXT_VARS[k].set(v)) for k, v in values.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def bind_log_tenant(tenant: str) -> None:
    """Name the tenant on every record for the rest of the current task.

    Stage tasks only carry a scan id; the pipeline learns the tenant when it loads the scan
    run and binds it here. The task's postrun hook restores the value it had before the task.
    Outside a task (``--inline`` runs the stage functions directly) nothing would restore it,
    so nothing is bound: use ``log_context`` there.
    """
    if _task_id.get() is not None:
        _tenant.set(tenant)


def current_context() -> dict[str, Any]:
    return {k: v.get() for k, v in CONTEXT_VARS.items() if v.get() is not None}
