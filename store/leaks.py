"""Storage side of ``leaked_own_api_key``: merge where a key was seen, resolve gone keys.

A leaked key's finding is keyed by the key id. It is written by the DLP stage (one batch
at a time, so ``seen_in`` is merged with what earlier batches and scans stored) and resolved
only by the key inventory: when a successful fetch of the key's kind no longer lists it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from detectors.leaked_keys import LEAKED_OWN_API_KEY, merge_seen_in
from detectors.lifecycle import Action, Stored, plan_lifecycle
from schemas.findings import DetectedFinding
from schemas.tables import Finding, FindingStatus


def with_stored_seen_in(
    session: Session, tenant_id: int, detected: Sequence[DetectedFinding]
) -> list[DetectedFinding]:
    """The findings with ``seen_in`` merged with the stored open finding's (same key)."""
    if not detected:
        return []
    rows = session.exec(
        select(Finding).where(
            Finding.tenant_id == tenant_id,
            Finding.finding_type_id == LEAKED_OWN_API_KEY.finding_type_id,
            col(Finding.resource_id).in_(sorted({d.resource_id for d in detected})),
        )
    ).all()
    stored = {r.resource_id: r for r in rows if r.status != FindingStatus.RESOLVED.value}
    merged: dict[str, DetectedFinding] = {}
    for item in detected:
        base = merged.get(item.resource_id)
        old = (base.evidence if base else None) or (
            stored[item.resource_id].evidence if item.resource_id in stored else {}
        )
        seen = merge_seen_in(old.get("seen_in") or [], item.evidence.get("seen_in") or [])
        merged[item.resource_id] = item.model_copy(
            update={"evidence": {**item.evidence, "seen_in": seen}}
        )
    return list(merged.values())


def resolve_gone_keys(
    session: Session,
    *,
    tenant_id: int,
    scan_id: int,
    listed: dict[str, set[str] | None],
    now: datetime,
) -> int:
    """Resolve leaked-key findings whose key a successful fetch no longer lists.

    ``listed`` maps resource type (``admin_api_key``/``project_api_key``) to the key ids the
    scan saw, or None when that fetch failed (nothing of that kind is resolved then).
    """
    rows = session.exec(
        select(Finding)
        .where(
            Finding.tenant_id == tenant_id,
            Finding.finding_type_id == LEAKED_OWN_API_KEY.finding_type_id,
            col(Finding.status) != FindingStatus.RESOLVED.value,
        )
        .with_for_update()
    ).all()
    gone = [
        r
        for r in rows
        if listed.get(r.resource_type) is not None
        and r.resource_id not in (listed.get(r.resource_type) or set())
    ]
    if not gone:
        return 0
    plan = plan_lifecycle(
        [
            Stored(r.finding_type_id, r.resource_id, r.status, r.ignored_until, r.last_scan_id)
            for r in gone
        ],
        [],
        {LEAKED_OWN_API_KEY.finding_type_id},
        scan_id=scan_id,
        now=now,
    )
    by_key = {(r.finding_type_id, r.resource_id): r for r in gone}
    updates = []
    for key, action in plan.resolve.items():
        values = {
            "id": by_key[key].id,
            "status": FindingStatus.RESOLVED.value,
            "resolved_at": now,
            "last_scan_id": scan_id,
            "ignored_reason": None
            if action is Action.UNIGNORE_RESOLVE
            else by_key[key].ignored_reason,
        }
        updates.append(values)
    if updates:
        session.execute(update(Finding), updates)
        session.flush()
    return len(updates)
