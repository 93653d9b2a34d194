"""Persisting findings: idempotent upserts and the lifecycle plan, in one transaction.

Findings are keyed by (tenant_id, finding_type_id, resource_id). The stored rows of the
judged types are locked (``FOR UPDATE``) while the pure plan (detectors/lifecycle.py) is
decided and applied, and new rows go in with ``INSERT ... ON CONFLICT``, so a redelivered
or duplicated detect task never creates a second row nor a second reopen.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from core.errors import UserError
from core.time import as_utc
from detectors.lifecycle import Action, Plan, Stored, plan_lifecycle
from schemas.catalog import BY_ID, Severity, lookup
from schemas.findings import DetectedFinding
from schemas.tables import Finding, FindingStatus, Tenant
from store.suppressions import release_expired
from store.tenants import effective_severity, tenants_by_slug


@cache
def _upsert_stmt(dialect: str) -> Any:
    """The findings upsert of ``dialect``: a Core insert of many rows on the table itself,
    without the ORM's bulk-insert bookkeeping, built once (its ``excluded`` columns and
    conflict clause were rebuilt for every batch of findings)."""
    table = Finding.__table__  # type: ignore[attr-defined]
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        stmt: Any = postgresql.insert(table)
    else:
        from sqlalchemy.dialects import sqlite

        stmt = sqlite.insert(table)
    return stmt.on_conflict_do_update(
        index_elements=["tenant_id", "finding_type_id", "resource_id"],
        set_={
            "last_seen": stmt.excluded.last_seen,
            "severity": stmt.excluded.severity,
            "evidence": stmt.excluded.evidence,
            "resource_name": stmt.excluded.resource_name,
            "last_scan_id": stmt.excluded.last_scan_id,
        },
    )


def apply_scan_findings(
    session: Session,
    *,
    tenant_id: int,
    scan_id: int,
    detected: Sequence[DetectedFinding],
    judged_types: Iterable[str],
    resolvable: set[str],
    now: datetime,
) -> Plan:
    """Upsert what the scan saw and resolve what it could prove gone.

    ``judged_types``: finding types whose stored rows this scan may touch (the posture
    types, or the DLP types). ``resolvable``: the subset that may be resolved.
    """
    types = set(judged_types) | {d.finding_type_id for d in detected}
    query = (
        select(Finding)
        .where(Finding.tenant_id == tenant_id, Finding.finding_type_id.in_(sorted(types)))  # type: ignore[attr-defined]
        .with_for_update()
    )
    if not resolvable:
        # Nothing to resolve: only the detected rows matter (a DLP batch's few files, not
        # every stored finding of their types).
        query = query.where(col(Finding.resource_id).in_(sorted({d.resource_id for d in detected})))
    rows = session.exec(query).all()
    by_key = {(r.finding_type_id, r.resource_id): r for r in rows}
    stored = [
        Stored(r.finding_type_id, r.resource_id, r.status, as_utc(r.ignored_until), r.last_scan_id)
        for r in rows
    ]
    plan = plan_lifecycle(stored, detected, resolvable, scan_id=scan_id, now=now)
    # Read in this transaction, so the overrides in force now apply, and rewritten on every
    # row the scan sees: an override changed since the last scan reaches open findings too.
    tenant = session.get(Tenant, tenant_id)

    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for key, (action, item) in plan.seen.items():
        common = {
            "resource_name": _clip(item.resource_name, 500),
            "severity": effective_severity(tenant, item.finding_type).value,
            "resource_type": item.effective_resource_type.value,
            "evidence": item.evidence,
            "last_seen": now,
            "last_scan_id": scan_id,
        }
        if action is Action.INSERT:
            inserts.append(
                {
                    "tenant_id": tenant_id,
                    "finding_type_id": item.finding_type_id,
                    "resource_id": item.resource_id,
                    "status": FindingStatus.OPEN.value,
                    "first_seen": now,
                    "reopened_count": 0,
                    "opened_scan_id": scan_id,
                    **common,
                }
            )
            continue
        row = by_key[key]
        values: dict[str, Any] = {"id": row.id, **common}
        if action is Action.REOPEN:
            values |= {
                "status": FindingStatus.OPEN.value,
                "resolved_at": None,
                "reopened_count": row.reopened_count + 1,
                "opened_scan_id": scan_id,
            }
        elif action is Action.KEEP_OPEN and row.status != FindingStatus.OPEN.value:
            values |= {
                "status": FindingStatus.OPEN.value,
                "ignored_reason": None,
                "ignored_until": None,
                "suppression_id": None,
            }
        updates.append(values)
    for key, action in plan.resolve.items():
        row = by_key[key]
        values = {
            "id": row.id,
            "status": FindingStatus.RESOLVED.value,
            "resolved_at": now,
            "last_scan_id": scan_id,
        }
        if action is Action.UNIGNORE_RESOLVE:
            values |= {"ignored_reason": None, "ignored_until": None, "suppression_id": None}
        updates.append(values)

    if inserts:
        session.execute(_upsert_stmt(session.get_bind().dialect.name), inserts)
    # Rows differ in which columns they set; group by column set for executemany.
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for values in updates:
        groups.setdefault(tuple(sorted(values)), []).append(values)
    for batch in groups.values():
        session.execute(update(Finding), batch)
    session.flush()
    return plan


def _clip(value: str | None, size: int) -> str | None:
    return None if value is None else value[:size]


def zero_counts() -> dict[str, int]:
    """Every severity, highest first, at zero."""
    return {s.value: 0 for s in sorted(Severity, key=lambda s: -s.rank)}


def open_counts_by_severity(session: Session, tenant_id: int) -> dict[str, int]:
    rows = session.exec(
        select(Finding.severity, func.count())
        .where(Finding.tenant_id == tenant_id, Finding.status == FindingStatus.OPEN.value)
        .group_by(Finding.severity)
    ).all()
    counts = zero_counts()
    for severity, count in rows:
        counts[severity] = int(count)
    return counts


def open_counts_by_tenant(session: Session) -> dict[int, dict[str, int]]:
    """Open findings by severity for every tenant, in one query (``casb health``)."""
    rows = session.exec(
        select(Finding.tenant_id, Finding.severity, func.count())
        .where(Finding.status == FindingStatus.OPEN.value)
        .group_by(col(Finding.tenant_id), col(Finding.severity))
    ).all()
    counts: dict[int, dict[str, int]] = {}
    for tenant_id, severity, count in rows:
        counts.setdefault(tenant_id, zero_counts())[severity] = int(count)
    return counts


def open_counts_by_type(session: Session, tenant_id: int) -> dict[str, int]:
    """Open findings per finding type key (e.g. ``{"inactive_user": 3}``)."""
    rows = session.exec(
        select(Finding.finding_type_id, func.count())
        .where(Finding.tenant_id == tenant_id, Finding.status == FindingStatus.OPEN.value)
        .group_by(Finding.finding_type_id)
    ).all()
    out: dict[str, int] = {}
    for type_id, count in rows:
        ft = BY_ID.get(type_id)
        out[ft.key if ft else type_id] = int(count)
    return dict(sorted(out.items()))


def open_keys(session: Session, tenant_id: int) -> set[tuple[str, str]]:
    """{(finding_type_id, resource_id)} of the tenant's open findings (tests, reports)."""
    rows = session.exec(
        select(Finding.finding_type_id, Finding.resource_id).where(
            Finding.tenant_id == tenant_id, Finding.status == FindingStatus.OPEN.value
        )
    ).all()
    return {(t, r) for t, r in rows}


def severity_rank(severity: str | None) -> int:
    """The catalog rank of a severity (critical highest); 0 for an unknown one."""
    try:
        return Severity((severity or "").lower()).rank
    except ValueError:
        return 0


def _type_ids(types: Sequence[str]) -> list[str]:
    ids = []
    for value in types:
        try:
            ids.append(lookup(value).finding_type_id)
        except KeyError:
            raise UserError(f"unknown finding type {value!r}: see `casb catalog`") from None
    return ids


def query_findings(
    session: Session,
    *,
    tenants: Sequence[str] = (),
    severities: Sequence[str] = (),
    status: str = "open",
    types: Sequence[str] = (),
    since: datetime | None = None,
) -> tuple[list[Finding], dict[int, str]]:
    """Findings by the CLI's filters, worst first; and the tenant slugs they refer to."""
    slugs = {t.id: t.slug for t in tenants_by_slug(session, tenants) if t.id is not None}
    release_expired(session, list(slugs))
    query = select(Finding).where(col(Finding.tenant_id).in_(list(slugs)))
    if severities:
        query = query.where(col(Finding.severity).in_([s.lower() for s in severities]))
    if status != "all":
        query = query.where(Finding.status == status)
    if types:
        query = query.where(col(Finding.finding_type_id).in_(_type_ids(types)))
    if since is not None:
        query = query.where(col(Finding.first_seen) >= since)
    rows = list(session.exec(query))
    rows.sort(
        key=lambda f: (
            -severity_rank(f.severity),
            slugs[f.tenant_id],
            f.finding_type_id,
            f.resource_id,
        )
    )
    return rows, slugs


def findings_of_tenants(session: Session, tenant_ids: Sequence[int]) -> list[Finding]:
    """Every finding (any status) of the given tenants."""
    return list(session.exec(select(Finding).where(col(Finding.tenant_id).in_(tenant_ids))))


def open_findings(session: Session, tenant_id: int) -> list[Finding]:
    """The tenant's open findings."""
    return list(
        session.exec(
            select(Finding).where(
                Finding.tenant_id == tenant_id, Finding.status == FindingStatus.OPEN.value
            )
        )
    )
