"""Flower configuration: ``celery -A workers flower --conf=flowerconfig.py``.

Tasks of this fleet carry ids only (tenant_id, scan_id, batch numbers), never keys or file
content; ``format_task`` enforces that in what Flower shows, as defence in depth: from a
task's args and kwargs it keeps integers and id-like strings and drops everything else,
and it scrubs secrets from results and exception text. (Flower's JSON ``/api/tasks``
listing does not call ``format_task``; the ids-only task signatures are what keep it clean.)

Credentials are not written here: set ``FLOWER_BASIC_AUTH=user:password`` in the env file
(Flower reads ``FLOWER_*`` variables) or pass ``--basic-auth``. Flower's UI and HTTP API can
send any task and shut workers down, so when Flower loads this file it refuses to start
without basic auth, with a malformed ``user:password``, or with the placeholder password of
``.env.example``. Keep ``/metrics`` and ``/healthcheck`` (always unauthenticated) on the
internal network.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Sequence
from typing import Any

# tornado options read from this file (names must match Flower's options)
port = 5555
address = "0.0.0.0"  # noqa: S104  (inside the container; publish the port deliberately)
max_tasks = 10000
purge_offline_workers = 600
persistent = False
natural_time = False

_ID_STRING = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,79}$")
_ID_KEYS = re.compile(r"^(id|[a-z_]*_ids?|trigger|attempt|batch|part|resource)$")
_SECRETISH = re.compile(r"(?i)^(sk-|bearer|basic)")
DROPPED = "…"
MAX_RESULT_CHARS = 300
PLACEHOLDER_MARK = "change-me"  # every secret in .env.example says so


def basic_auth_problem(credentials: Sequence[str] | str | None) -> str | None:
    """Why these ``user:password`` entries must not guard Flower, or None when they may.

    ``credentials`` is Flower's ``basic_auth`` option (a list) or the raw comma-separated
    ``FLOWER_BASIC_AUTH`` value. The message names users, never a password.
    """
    if isinstance(credentials, str):
        credentials = credentials.split(",")
    entries = [entry.strip() for entry in credentials or () if entry and entry.strip()]
    if not entries:
        return (
            "FLOWER_BASIC_AUTH is not set; Flower's UI and API can send any task and shut "
            "workers down, so set FLOWER_BASIC_AUTH=user:password in the env file"
        )
    for entry in entries:
        user, colon, password = entry.partition(":")
        if not colon or not user.strip() or not password:
            return "FLOWER_BASIC_AUTH must be user:password (comma-separate several)"
        if PLACEHOLDER_MARK in password.lower():
            return (
                f"FLOWER_BASIC_AUTH for user {user.strip()!r} still has the example password "
                "from .env.example: choose a real one"
            )
    return None


def _refuse_to_start_without_basic_auth() -> None:
    from tornado.options import options as flower_options

    # Flower has applied FLOWER_* variables and the command line before reading this file.
    problem = basic_auth_problem(getattr(flower_options, "basic_auth", None))
    if problem:
        sys.stderr.write(f"flower: refusing to start: {problem}\n")
        raise SystemExit(2)


# Flower executes this file in a bare namespace (no ``__name__``); tests import it as a module.
if "__name__" not in globals():
    _refuse_to_start_without_basic_auth()


def _keep(value: Any) -> bool:
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, int):
        return True
    if isinstance(value, str):
        return bool(_ID_STRING.match(value)) and not _SECRETISH.match(value)
    if isinstance(value, list | tuple):
        return len(value) <= 50 and all(_keep(v) for v in value)
    return False


def safe_args(args: Any) -> str:
    """Positional args as shown by Flower: ids kept, anything else replaced by ``…``."""
    parsed = _parse(args)
    if not isinstance(parsed, list | tuple):
        return "(…)" if parsed not in (None, "", ()) else "()"
    shown = [repr(v) if _keep(v) else DROPPED for v in parsed]
    return "(" + ", ".join(shown) + ("," if len(shown) == 1 else "") + ")"


def safe_kwargs(kwargs: Any) -> str:
    """Keyword args: id-like keys with id-like values kept, other values replaced by ``…``."""
    parsed = _parse(kwargs)
    if not isinstance(parsed, dict):
        return "{…}" if parsed not in (None, "", {}) else "{}"
    shown = [
        f"{k!r}: {v!r}" if isinstance(k, str) and _ID_KEYS.match(k) and _keep(v) else f"{k!r}: …"
        for k, v in parsed.items()
    ]
    return "{" + ", ".join(shown) + "}"


def _parse(value: Any) -> Any:
    """Celery events carry args/kwargs as their repr strings; parse them without eval."""
    if not isinstance(value, str):
        return value
    if not value.strip():
        return None
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return "<unparsable>"


def _scrub(text: Any) -> Any:
    if text is None:
        return None
    from core.logs import redact

    return redact(str(text))[:MAX_RESULT_CHARS]


def format_task(task: Any) -> Any:
    """Called by Flower on a copy of each task before display."""
    task.args = safe_args(getattr(task, "args", None))
    task.kwargs = safe_kwargs(getattr(task, "kwargs", None))
    for name in ("result", "exception", "traceback"):
        if getattr(task, name, None) is not None:
            setattr(task, name, _scrub(getattr(task, name)))
    return task
