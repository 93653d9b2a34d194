"""Change history storage: the newest fingerprint per tenant and part, and change records.

``record_parts`` is called with the successfully fetched parts of a scan: it compares each part's
fingerprint with the stored one (the previous successful fetch), writes the differences as
change records and keeps the new fingerprint. The first fetch of a part only sets the
baseline. The stored row is locked while this happens, and a fingerprint from an older scan
never replaces a newer one, so a redelivered finish records nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from detectors.changes import WatchedPart, diff
from schemas.tables import ChangeRecord, PartFingerprint


def record_parts(
    session: Session,
    *,
    tenant_id: int,
    scan_id: int,
    parts: Sequence[tuple[WatchedPart, Iterable[Mapping[str, Any]]]],
    now: datetime,
) -> list[ChangeRecord]:
    """Compare each watched part of a scan with its stored fingerprint, record the changes.

    The tenant's stored fingerprints of these parts are read and locked in one statement
    and every row is written in one flush, so a scan's change history costs two round trips
    however many parts it watches.
    """
    if not parts:
        return []
    names = sorted({watched.part for watched, _ in parts})
    stored_rows = session.exec(
        select(PartFingerprint)
        .where(PartFingerprint.tenant_id == tenant_id, col(PartFingerprint.part).in_(names))
        .order_by(col(PartFingerprint.part))
        .with_for_update()
    ).all()
    stored_by_part = {row.part: row for row in stored_rows}
    records: list[ChangeRecord] = []
    for watched, items in parts:
        records += _record_part(
            session,
            stored_by_part.get(watched.part),
            tenant_id=tenant_id,
            scan_id=scan_id,
            watched=watched,
            items=items,
            now=now,
        )
    session.flush()
    return records


def _record_part(
    session: Session,
    stored: PartFingerprint | None,
    *,
    tenant_id: int,
    scan_id: int,
    watched: WatchedPart,
    items: Iterable[Mapping[str, Any]],
    now: datetime,
) -> list[ChangeRecord]:
    if stored is not None and stored.scan_id >= scan_id:
        return []  # this scan (or a newer one) was already compared
    fingerprint = watched.fingerprint(items)
    records: list[ChangeRecord] = []
    if stored is not None:
        for change in diff(watched.resource_type, stored.fingerprint, fingerprint):
            record = ChangeRecord(
                tenant_id=tenant_id,
                scan_id=scan_id,
                resource_type=change.resource_type,
                resource_id=change.resource_id[:300],
                resource_name=(change.resource_name or None) and change.resource_name[:500],
                field=change.field,
                before=change.before,
                after=change.after,
                seen_at=now,
            )
            session.add(record)
            records.append(record)
        stored.fingerprint = fingerprint
        stored.scan_id = scan_id
        stored.seen_at = now
        session.add(stored)
    else:
        session.add(
            PartFingerprint(
                tenant_id=tenant_id,
                part=watched.part,
                scan_id=scan_id,
                fingerprint=fingerprint,
                seen_at=now,
            )
        )
    return records


def query_changes(
    session: Session,
    *,
    tenant_ids: Sequence[int] | None = None,
    since: datetime | None = None,
    resource_id: str | None = None,
    limit: int | None = None,
) -> list[ChangeRecord]:
    """Change records, newest first."""
    query = select(ChangeRecord)
    if tenant_ids is not None:
        query = query.where(col(ChangeRecord.tenant_id).in_(list(tenant_ids)))
    if since is not None:
        query = query.where(col(ChangeRecord.seen_at) >= since)
    if resource_id is not None:
        query = query.where(ChangeRecord.resource_id == resource_id)
    query = query.order_by(col(ChangeRecord.seen_at).desc(), col(ChangeRecord.id).desc())
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(query))


def change_counts_by_kind(session: Session) -> dict[tuple[str, str], int]:
    """{(resource_type, field): change records} over the whole history (metrics)."""
    rows = session.exec(
        select(ChangeRecord.resource_type, ChangeRecord.field, func.count()).group_by(
            col(ChangeRecord.resource_type), col(ChangeRecord.field)
        )
    )
    return {(t, f): int(n) for t, f, n in rows}
