"""Shared pieces of the `casb` CLI: consoles, exit codes, database preconditions."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

from rich.console import Console
from sqlmodel import Session

from core.errors import UserError

EXIT_OK = 0
EXIT_GATE = 1
EXIT_USAGE = 2

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise SystemExit(code)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


@contextmanager
def db_session() -> Iterator[Session]:
    """A committed-on-success session on a migrated database (else one clear error)."""
    from store.db import ensure_migrated, session_scope

    ensure_migrated()
    with session_scope() as session:
        yield session


__all__ = ["EXIT_GATE", "EXIT_OK", "EXIT_USAGE", "UserError", "console", "db_session", "fail"]
