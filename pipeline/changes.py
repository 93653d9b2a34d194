"""The change-history step of a scan: fingerprint each successfully fetched part, diff it.

Runs in ``run_finish``'s transaction, before the snapshot is dropped. A part that failed in
this scan is skipped (its stored fingerprint stays, so the next successful fetch
is compared with the last successful one): a failed fetch never reads as "everything removed".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlmodel import Session

from detectors.changes import WATCHED, WatchedPart
from schemas.stages import FetchSummary
from schemas.tables import ChangeRecord
from store.changes import record_parts


def record_changes(
    session: Session,
    *,
    tenant_id: int,
    scan_id: int,
    summaries: Mapping[str, FetchSummary],
    load: Callable[[str], list[dict[str, Any]] | None],
    now: datetime,
) -> list[ChangeRecord]:
    watched_parts: dict[str, tuple[WatchedPart, list[dict[str, Any]]]] = {}
    for summary in summaries.values():
        # ``keys`` names only the parts stored successfully: a failed part is never compared.
        for part, key in (summary.get("keys") or {}).items():
            watched = WATCHED.get(part)
            if watched is None or part in watched_parts:
                continue
            items = load(key)
            if items is None:  # the snapshot part expired: nothing to compare with certainty
                continue
            watched_parts[part] = (watched, items)
    return record_parts(
        session,
        tenant_id=tenant_id,
        scan_id=scan_id,
        parts=list(watched_parts.values()),
        now=now,
    )
