"""Shared pieces of the `casb` CLI: consoles, exit codes, database preconditions."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Any, NoReturn

from rich.console import Console, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from core.errors import UserError

if TYPE_CHECKING:
    from sqlmodel import Session

EXIT_OK = 0
EXIT_GATE = 1
EXIT_USAGE = 2

console = Console()
err_console = Console(stderr=True)


# C0 and C1 controls (escape sequences, OSC-8 links, carriage returns, bells) and the
# bidirectional overrides that make a terminal show text in another order than it is.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def clean_text(value: object) -> str:
    """``value`` as one printable line: every control character becomes a space."""
    return _UNPRINTABLE.sub(" ", "" if value is None else str(value))


def plain(value: object) -> Text:
    """A Rich ``Text`` of ``clean_text(value)``: printed as is, never read as markup."""
    return Text(clean_text(value))


def styled(markup: str, *values: object) -> Text:
    """Markup written by the CLI with user-controlled ``values`` spliced in as plain text:
    ``styled("added [bold]{}[/]", name)`` (each value cleaned, then escaped for Rich)."""
    return Text.from_markup(markup.format(*(escape(clean_text(v)) for v in values)))


def escape_text(value: object) -> str:
    """A user-controlled string for Rich markup: control characters stripped, markup escaped."""
    return escape(clean_text(value))


class SafeTable(Table):
    """A ``rich.table.Table`` whose string cells are plain text (no markup, no control
    characters): names written by tenants' users cannot style, link or break the output.
    Cells the CLI styles itself are passed as ``Text`` (``styled``)."""

    def add_row(self, *renderables: RenderableType | None, **kwargs: Any) -> None:
        cells = [plain(c) if isinstance(c, str) else c for c in renderables]
        super().add_row(*cells, **kwargs)


class TableFormat(StrEnum):
    """``--format`` of the listing commands: a table for people, JSON for scripts."""

    table = "table"
    json = "json"


def print_rows(
    rows: Sequence[Mapping[str, Any]],
    *,
    as_json: bool,
    title: str,
    columns: Sequence[str],
    cells: Callable[[Mapping[str, Any]], Sequence[RenderableType]],
    empty: str | None = None,
    fold: bool = True,
) -> None:
    """A listing's one output: the rows as JSON, or as a table of ``cells(row)`` under
    ``columns`` (``empty`` printed instead when there are no rows and it is given)."""
    if as_json:
        print_json(rows)
        return
    if not rows and empty is not None:
        console.print(empty)
        return
    table = SafeTable(title=title)
    for column in columns:
        table.add_column(column, overflow="fold" if fold else "ellipsis")
    for row in rows:
        table.add_row(*cells(row))
    console.print(table)


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    err_console.print(styled("[bold red]error:[/] {}", message), highlight=False, soft_wrap=True)
    raise SystemExit(code)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


_migrated: set[str] = set()


@contextmanager
def db_session() -> Iterator[Session]:
    """A committed-on-success session on a migrated database (else one clear error).

    The migration check runs once per database URL and process: `casb scan --wait` opens a
    session on every refresh, and a database does not fall behind while one command runs."""
    from core.settings import get_settings
    from store.db import ensure_migrated, session_scope

    url = get_settings().database_url
    if url not in _migrated:
        ensure_migrated()
        _migrated.add(url)
    with session_scope() as session:
        yield session


__all__ = [
    "EXIT_GATE",
    "EXIT_OK",
    "EXIT_USAGE",
    "SafeTable",
    "UserError",
    "clean_text",
    "console",
    "db_session",
    "fail",
    "plain",
    "styled",
]
