"""Bounded growth: delete what has aged out, a batch at a time, never what is still live.

Each kind has its own age (``CASB_RETENTION_*_DAYS``). What is kept whatever its age: open
and ignored findings (only resolved ones age out), active scan runs and each tenant's latest
finished run (``casb health`` reads it). Deletes go in batches of ``batch_size`` rows, each
batch its own short transaction that skips rows another transaction holds (``FOR UPDATE SKIP
LOCKED``), so a prune never blocks the scans writing the same tables for long.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, text
from sqlmodel import Session

from schemas.tables import utcnow


@dataclass(frozen=True)
class PruneKind:
    name: str
    table: str
    # SQL condition on the table's rows (alias ``t``), with ``:cutoff`` bound to a timestamp.
    aged_out: str


KINDS: tuple[PruneKind, ...] = (
    PruneKind(
        "resolved_findings",
        "findings",
        "t.status = 'resolved' AND t.resolved_at < :cutoff",
    ),
    PruneKind(
        "scan_runs",
        "scan_runs",
        "t.status NOT IN ('queued', 'running')"
        " AND coalesce(t.finished_at, t.requested_at) < :cutoff"
        " AND t.id <> (SELECT max(r.id) FROM scan_runs r"
        " WHERE r.tenant_id = t.tenant_id AND r.status NOT IN ('queued', 'running'))",
    ),
    PruneKind("dlp_cache", "dlp_file_cache", "t.scanned_at < :cutoff"),
)


@dataclass
class PruneCount:
    kind: str
    cutoff: datetime
    rows: int


def prune(
    session_factory: Callable[[], AbstractContextManager[Session]],
    ages: dict[str, timedelta],
    *,
    dry_run: bool = False,
    batch_size: int = 5000,
    now: datetime | None = None,
) -> list[PruneCount]:
    """Delete (or, ``dry_run``, count) what is older than its kind's age in ``ages``."""
    moment = now or utcnow()
    counts = []
    for kind in KINDS:
        if kind.name not in ages:
            continue
        cutoff = moment - ages[kind.name]
        if dry_run:
            with session_factory() as session:
                rows = session.execute(
                    text(f"SELECT count(*) FROM {kind.table} t WHERE {kind.aged_out}"),  # noqa: S608 (constants)
                    {"cutoff": cutoff},
                ).scalar_one()
            counts.append(PruneCount(kind.name, cutoff, int(rows)))
            continue
        counts.append(
            PruneCount(
                kind.name, cutoff, _delete_in_batches(session_factory, kind, cutoff, batch_size)
            )
        )
    return counts


def _delete_in_batches(
    session_factory: Callable[[], AbstractContextManager[Session]],
    kind: PruneKind,
    cutoff: datetime,
    batch_size: int,
) -> int:
    total = 0
    while True:
        with session_factory() as session:
            # SQLite (the embedded demo) has one writer and no row locks to skip.
            lock = "" if session.get_bind().dialect.name == "sqlite" else " FOR UPDATE SKIP LOCKED"
            statement = text(
                f"DELETE FROM {kind.table} WHERE id IN (SELECT t.id FROM {kind.table} t "  # noqa: S608 (constants)
                f"WHERE {kind.aged_out} ORDER BY t.id LIMIT :limit{lock})"
            )
            result = session.execute(statement, {"cutoff": cutoff, "limit": batch_size})
            deleted = cast(CursorResult[Any], result).rowcount
        total += int(deleted or 0)
        if not deleted or deleted < batch_size:
            return total
