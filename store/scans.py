"""Scan runs as a state machine in PostgreSQL, the dispatcher's claim, and tenant health.

A partial unique index allows one active (queued or running) run per tenant, so two
dispatchers, a restarted beat, a CLI request and a Flower request can never start the same
tenant twice: the loser *coalesces* onto the active run (``coalesced_requests + 1``) and
says so. Pure helpers (``scan_outcome``, ``health_of``) decide status and health from the
fetch summaries; the rest reads and writes rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from schemas.tables import ScanRun, ScanStatus, ScanTrigger, Tenant, TenantHealth, utcnow

# --------------------------------------------------------------------------- pure decisions

# Which error kind explains a tenant's state best when several fetches failed.
_HEALTH_PRIORITY: tuple[str, ...] = (
    TenantHealth.CREDENTIAL_ERROR.value,
    TenantHealth.PERMISSION_ERROR.value,
    TenantHealth.NOT_FOUND.value,
    TenantHealth.API_ERROR.value,
)


def health_kind(error_kind: str | None) -> str:
    """Map a connector error kind onto a tenant health value."""
    if error_kind in _HEALTH_PRIORITY:
        return str(error_kind)
    return TenantHealth.API_ERROR.value  # rate_limited, malformed_response, task errors


def scan_outcome(
    expected: Sequence[str],
    summaries: Mapping[str, Mapping[str, Any]],
    *,
    pipeline_failed: bool = False,
) -> str:
    """succeeded: every planned fetch ok; partial: some; failed: none, or the pipeline broke."""
    if pipeline_failed:
        return ScanStatus.FAILED.value
    oks = [bool(summaries.get(name, {}).get("ok")) for name in expected]
    if oks and all(oks):
        return ScanStatus.SUCCEEDED.value
    if any(oks):
        return ScanStatus.PARTIAL.value
    return ScanStatus.FAILED.value


#: DLP skip reasons an operator should hear about: a tenant's API redirected a download
#: somewhere the policy refuses, or a file killed the worker scanning it.
ATTENTION_SKIPS = ("redirect_refused", "worker_lost")


def dlp_attention(parts: Mapping[str, Any]) -> str | None:
    """``DLP skipped: redirect_refused 2, worker_lost 1`` from a run's DLP part, or None."""
    dlp = parts.get("dlp")
    reasons = dlp.get("skip_reasons") if isinstance(dlp, Mapping) else None
    if not isinstance(reasons, Mapping):
        return None
    seen = [f"{r} {int(reasons[r])}" for r in ATTENTION_SKIPS if reasons.get(r)]
    return f"DLP skipped: {', '.join(seen)}" if seen else None


def dlp_skips(parts: Mapping[str, Any] | None) -> dict[str, int]:
    """Files a run's DLP stage skipped, by reason (``ocr_unavailable``, ``truncated``,
    ``corrupt``, ``encrypted``, ...), sorted by reason; {} when none or no DLP stage ran."""
    dlp = (parts or {}).get("dlp")
    reasons = dlp.get("skip_reasons") if isinstance(dlp, Mapping) else None
    if not isinstance(reasons, Mapping):
        return {}
    out: dict[str, int] = {}
    for reason, count in sorted(reasons.items()):
        try:
            n = int(count)
        except (TypeError, ValueError):
            continue
        if n > 0:
            out[str(reason)] = n
    return out


def dlp_skip_summary(skips: Mapping[str, int]) -> str:
    """``DLP files skipped: ocr_unavailable 2, truncated 1`` for the health table, leaving
    out the reasons the tenant's detail already names (:data:`ATTENTION_SKIPS`); "" if none."""
    seen = [f"{r} {n}" for r, n in skips.items() if r not in ATTENTION_SKIPS]
    return f"DLP files skipped: {', '.join(seen)}" if seen else ""


def worst_error(errors: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The error the tenant's health is about: the most actionable kind, first come first."""
    if not errors:
        return None
    return min(errors, key=lambda e: _HEALTH_PRIORITY.index(health_kind(e.get("kind"))))


def health_of(errors: Sequence[Mapping[str, Any]]) -> tuple[str, str | None]:
    """(health, one-line detail) from a scan's typed errors; healthy when there are none.

    The detail keeps the error's operator-neutral ``hint``; the command that fixes it is
    added where the detail is shown (the CLI), from the worst error's ``remedy`` and ``api``.
    """
    worst = worst_error(errors)
    if worst is None:
        return TenantHealth.HEALTHY.value, None
    health = health_kind(worst.get("kind"))
    where = worst.get("resource") or "scan"
    if worst.get("parts") and list(worst["parts"]) != [where]:
        where += f" ({', '.join(str(p) for p in worst['parts'])})"
    status = f" (HTTP {worst['status']})" if worst.get("status") else ""
    hint = worst.get("hint")
    detail = f"{where}: {worst.get('kind')}{status}: {worst.get('message', '')}"
    if hint:
        detail += f" -- {hint}"
    more = len(errors) - 1
    if more:
        detail += f" (+{more} more error{'s' if more > 1 else ''})"
    return health, detail[:1000]


def source_health(parts: Mapping[str, Any]) -> dict[str, Any] | None:
    """What a finished run's fetch notes say about the tenant's conversation sources.

    ``source`` (``conversations`` or ``logs``; None when neither answered), ``retired``
    sources with their one-line fix, ``unavailable`` (the source that did not answer
    either, with its status and why: the conversation parts were not fetched),
    ``truncated_conversations`` (nested ``messages.has_more``), ``relisted``
    conversations, and the Logs Platform records that could not be read (conversation
    messages and ChatGPT sign-ins). None when the run fetched neither part.
    """
    fetch = parts.get("fetch") or {}
    conv = ((fetch.get("conversations") or {}).get("notes")) or {}
    logins = ((fetch.get("chatgpt_logins") or {}).get("notes")) or {}
    if not conv and not logins:
        return None
    out: dict[str, Any] = {
        "source": conv.get("source"),
        "retired": [
            {"source": r.get("source"), "status": r.get("status"), "fix": r.get("fix")}
            for r in conv.get("retired") or []
        ],
        "unavailable": _unavailable_source(conv.get("unavailable")),
        "truncated_conversations": int(conv.get("truncated_conversations") or 0),
        "relisted_conversations": int(conv.get("relisted") or 0),
        "unreadable_log_records": int(conv.get("unreadable_records") or 0)
        + int(logins.get("unreadable_records") or 0),
        "log_files_skipped": sum((conv.get("log_files_skipped") or {}).values())
        + sum((logins.get("log_files_skipped") or {}).values()),
        "logs_platform": logins.get("available") if logins else None,
    }
    return out


def _unavailable_source(raw: Any) -> dict[str, Any] | None:
    if not isinstance(raw, Mapping):
        return None
    return {
        "source": raw.get("source"),
        "status": raw.get("status"),
        "message": raw.get("message"),
        "hint": raw.get("hint"),
    }


def latest_source_health(session: Session) -> dict[int, dict[str, Any]]:
    """``source_health`` of every tenant's latest finished run, in one query."""
    latest = (
        select(func.max(ScanRun.id))
        .where(col(ScanRun.status).notin_(ScanStatus.active()))
        .group_by(col(ScanRun.tenant_id))
    )
    rows = session.exec(
        select(ScanRun.tenant_id, ScanRun.parts).where(col(ScanRun.id).in_(latest))
    ).all()
    out: dict[int, dict[str, Any]] = {}
    for tenant_id, parts in rows:
        health = source_health(parts or {})
        if health is not None:
            out[tenant_id] = health
    return out


def source_summary(health: Mapping[str, Any] | None) -> str:
    """One line for the health table when a conversation source needs a word: what was
    retired (and the fix), what was truncated or unreadable; "" when all is ordinary."""
    if not health:
        return ""
    bits: list[str] = []
    for retired in health.get("retired") or []:
        bits.append(f"{retired['source']} retired (HTTP {retired['status']}): {retired['fix']}")
    missing = health.get("unavailable")
    if missing:
        bits.append(
            f"{missing['source']} unavailable too (HTTP {missing['status']}): no conversation "
            f"or message DLP -- {missing['hint']}"
        )
    if health.get("truncated_conversations"):
        bits.append(f"{health['truncated_conversations']} truncated conversation(s)")
    if health.get("unreadable_log_records"):
        bits.append(f"{health['unreadable_log_records']} unreadable log record(s)")
    if health.get("log_files_skipped"):
        bits.append(f"{health['log_files_skipped']} log file(s) skipped")
    if not bits:
        return ""
    source = health.get("source") or ("no source" if missing else "?")
    return f"conversations from {source}: " + "; ".join(bits)


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class ScanRequest:
    """The answer to "scan this tenant": the run it joined, and whether it was new."""

    scan_id: int
    tenant_id: int
    coalesced: bool
    status: str


def request_scan(
    session: Session, tenant: Tenant, trigger: ScanTrigger, *, status: str = ScanStatus.QUEUED.value
) -> ScanRequest:
    """Create a run for ``tenant``, or coalesce onto its active run (one per tenant).

    Runs inside a savepoint so a lost race on the partial unique index leaves the outer
    transaction usable.
    """
    assert tenant.id is not None
    now = utcnow()
    run = ScanRun(
        tenant_id=tenant.id,
        trigger=trigger,
        status=status,
        requested_at=now,
        started_at=now if status == ScanStatus.RUNNING.value else None,
        heartbeat_at=now,
        parts={},
        counts={},
        errors=[],
    )
    try:
        with session.begin_nested():
            session.add(run)
            session.flush()
    except IntegrityError:
        session.expunge(run) if run in session else None
        active = active_run(session, tenant.id)
        if active is None:  # the active run finished between the insert and this read
            return request_scan(session, tenant, trigger, status=status)
        session.execute(
            update(ScanRun)
            .where(col(ScanRun.id) == active.id)
            .values(coalesced_requests=ScanRun.coalesced_requests + 1)
        )
        return ScanRequest(active.id or 0, tenant.id, True, active.status)
    return ScanRequest(run.id or 0, tenant.id, False, run.status)


def active_run(session: Session, tenant_id: int) -> ScanRun | None:
    return session.exec(
        select(ScanRun).where(
            ScanRun.tenant_id == tenant_id, col(ScanRun.status).in_(ScanStatus.active())
        )
    ).first()


def claim_queued(session: Session, scan_id: int) -> ScanRun | None:
    """Move a queued run to running (once: a redelivered scan_tenant gets None)."""
    now = utcnow()
    result = session.execute(
        update(ScanRun)
        .where(col(ScanRun.id) == scan_id, col(ScanRun.status) == ScanStatus.QUEUED.value)
        .values(
            status=ScanStatus.RUNNING.value,
            started_at=now,
            heartbeat_at=now,
            attempt=ScanRun.attempt + 1,
        )
    )
    if getattr(result, "rowcount", 0) != 1:
        return None
    run = session.get(ScanRun, scan_id)
    if run is not None:
        session.refresh(run)
    return run


def set_plan(session: Session, scan_id: int, expected: Sequence[str]) -> None:
    run = session.get(ScanRun, scan_id)
    if run is not None:
        run.parts = {**run.parts, "expected": list(expected)}
        session.add(run)


def run_status(session: Session, scan_id: int) -> str | None:
    """The run's status column alone (None: no such run)."""
    return session.exec(select(ScanRun.status).where(col(ScanRun.id) == scan_id)).first()


def run_parts(session: Session, scan_id: int) -> dict[str, Any] | None:
    """The run's parts column alone (None: no such run)."""
    parts = session.exec(select(ScanRun.parts).where(col(ScanRun.id) == scan_id)).first()
    return None if parts is None else dict(parts)


# Every stage task runs these two statements: built once, run with the scan id bound.
_RUN_WITH_TENANT = (
    select(ScanRun, Tenant)
    .outerjoin(Tenant, col(Tenant.id) == col(ScanRun.tenant_id))
    .where(col(ScanRun.id) == bindparam("scan_id"))
)
_SCAN_RUNS: Table = ScanRun.__table__  # type: ignore[attr-defined]  # (set by SQLModel)
_HEARTBEAT = (
    update(_SCAN_RUNS)
    .where(
        _SCAN_RUNS.c.id == bindparam("scan_id"),
        _SCAN_RUNS.c.status == ScanStatus.RUNNING.value,
    )
    .values(heartbeat_at=bindparam("now"))
)


def run_with_tenant(session: Session, scan_id: int) -> tuple[ScanRun | None, Tenant | None]:
    """The run and its tenant in one query: (None, None) without the run, (run, None)
    when its tenant no longer exists."""
    row = session.exec(_RUN_WITH_TENANT, params={"scan_id": scan_id}).first()
    return (None, None) if row is None else (row[0], row[1])


def heartbeat(session: Session, scan_id: int) -> bool:
    """Refresh a running run's heartbeat; True when the run is running (one UPDATE).

    A Core statement on the session's connection: the ORM's bulk-update path (and its
    synchronisation of loaded objects) would cost more than the UPDATE itself, and no caller
    reads ``heartbeat_at`` back from a run it loaded in the same session."""
    result = session.connection().execute(_HEARTBEAT, {"scan_id": scan_id, "now": utcnow()})
    return bool(result.rowcount)


# --------------------------------------------------------------------------- dispatcher


def claim_due_tenants(session: Session, now: datetime, limit: int) -> list[Tenant]:
    """Lock up to ``limit`` enabled tenants whose next scan is due.

    ``FOR UPDATE SKIP LOCKED``: a concurrent dispatcher skips rows this one holds, and once
    this transaction commits their ``next_scan_at`` is in the future, so each due tenant is
    claimed exactly once. (SQLite, embedded demo only, ignores the lock clause.)
    """
    stmt = (
        select(Tenant)
        .where(
            col(Tenant.enabled).is_(True),
            or_(col(Tenant.next_scan_at).is_(None), col(Tenant.next_scan_at) <= now),
        )
        .order_by(col(Tenant.next_scan_at).asc().nulls_first(), col(Tenant.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.exec(stmt).all())


def advance_schedule(tenant: Tenant, now: datetime) -> None:
    tenant.next_scan_at = now + timedelta(seconds=max(300, tenant.schedule_seconds))


# --------------------------------------------------------------------------- finishing


def finish_run(
    session: Session,
    run: ScanRun,
    *,
    status: str,
    counts: dict[str, Any],
    errors: Sequence[Mapping[str, Any]],
    parts: dict[str, Any],
) -> None:
    """Close the run and update the tenant's health and last scan time."""
    now = utcnow()
    run.status = status
    run.finished_at = now
    run.heartbeat_at = now
    run.counts = counts
    run.errors = [dict(error) for error in errors]
    run.parts = parts
    session.add(run)
    tenant = session.get(Tenant, run.tenant_id)
    if tenant is None:
        return
    health, detail = health_of(errors)
    if status == ScanStatus.FAILED.value and not errors:
        health, detail = TenantHealth.API_ERROR.value, "the scan pipeline failed: see worker logs"
    attention = dlp_attention(parts)
    if attention:
        detail = f"{detail}; {attention}" if detail else attention
    if tenant.health != health or tenant.health_detail != detail:
        if tenant.health != health:
            tenant.health_changed_at = now
        tenant.health = health
        tenant.health_detail = detail
    tenant.last_scan_at = now
    session.add(tenant)


def stale_runs(session: Session, now: datetime, stale_after_seconds: int) -> list[ScanRun]:
    """Active runs with no heartbeat for ``stale_after_seconds`` (their worker died)."""
    cutoff = now - timedelta(seconds=stale_after_seconds)
    return list(
        session.exec(
            select(ScanRun)
            .where(
                col(ScanRun.status).in_(ScanStatus.active()),
                or_(
                    col(ScanRun.heartbeat_at) < cutoff,
                    (col(ScanRun.heartbeat_at).is_(None)) & (col(ScanRun.requested_at) < cutoff),
                ),
            )
            .with_for_update(skip_locked=True)
        ).all()
    )


def consecutive_stale_failures(session: Session, tenant_id: int, *, window: int = 10) -> int:
    """How many of the tenant's latest finished runs in a row the reaper failed as ``stale``.

    The reaper uses it to stop re-queuing a tenant whose scans keep killing their worker
    (an OOM on one huge file, say): a redelivery loop would starve the rest of the fleet.
    """
    runs = session.exec(
        select(ScanRun)
        .where(ScanRun.tenant_id == tenant_id, col(ScanRun.status).notin_(ScanStatus.active()))
        .order_by(col(ScanRun.id).desc())
        .limit(window)
    ).all()
    count = 0
    for run in runs:
        if not any(err.get("kind") == "stale" for err in run.errors or []):
            break
        count += 1
    return count


def recent_runs(
    session: Session, *, tenant_id: int | None = None, limit: int = 20
) -> list[ScanRun]:
    stmt = select(ScanRun).order_by(col(ScanRun.id).desc()).limit(limit)
    if tenant_id is not None:
        stmt = stmt.where(ScanRun.tenant_id == tenant_id)
    return list(session.exec(stmt).all())


def runs_with_tenants(
    session: Session, scan_ids: Sequence[int]
) -> list[tuple[ScanRun, Tenant | None]]:
    """The runs that still exist among ``scan_ids``, in that order, each with its tenant."""
    out: list[tuple[ScanRun, Tenant | None]] = []
    for scan_id in scan_ids:
        run = session.get(ScanRun, scan_id)
        if run is not None:
            out.append((run, session.get(Tenant, run.tenant_id)))
    return out


def runs_of_tenants(session: Session, tenant_ids: Sequence[int]) -> list[ScanRun]:
    """Every scan run of the given tenants."""
    return list(session.exec(select(ScanRun).where(col(ScanRun.tenant_id).in_(tenant_ids))))


def forget_queued(session: Session, scan_id: int) -> None:
    """Delete a run still queued (its request never reached the broker); else nothing."""
    run = session.get(ScanRun, scan_id)
    if run is not None and run.status == ScanStatus.QUEUED.value:
        session.delete(run)


def last_finished_runs(session: Session) -> dict[int, ScanRun]:
    """Every tenant's newest run that is no longer queued or running, in one query."""
    latest = (
        select(ScanRun.tenant_id, func.max(ScanRun.id).label("run_id"))
        .where(col(ScanRun.status).not_in(ScanStatus.active()))
        .group_by(col(ScanRun.tenant_id))
        .subquery()
    )
    rows = session.exec(select(ScanRun).join(latest, col(ScanRun.id) == latest.c.run_id)).all()
    return {row.tenant_id: row for row in rows}


def last_finished_run(session: Session, tenant_id: int) -> ScanRun | None:
    """The tenant's newest run that is no longer queued or running."""
    return session.exec(
        select(ScanRun)
        .where(ScanRun.tenant_id == tenant_id, col(ScanRun.status).not_in(ScanStatus.active()))
        .order_by(col(ScanRun.id).desc())
        .limit(1)
    ).first()


def health_error(tenant: Tenant, run: ScanRun | None) -> Mapping[str, Any] | None:
    """The stored error the tenant's health detail was made from, or None.

    The detail is written by the tenant's last finished run (``run``); the error is taken
    from it only when its errors still give the detail the tenant holds.
    """
    if run is None or not tenant.health_detail:
        return None
    detail = health_of(run.errors)[1]
    if detail is None or not tenant.health_detail.startswith(detail):
        return None
    return worst_error(run.errors)


def part_problems(run: ScanRun | None) -> dict[str, dict[str, Any]]:
    """Parts of a finished run that did not succeed: ``{part: {resource, state, kind, status}}``.

    ``state`` is ``failed`` (a typed error: the types needing the part were neither added
    nor resolved) or ``unavailable`` (the tenant does not offer it, e.g. audit logging off).
    """
    out: dict[str, dict[str, Any]] = {}
    if run is None:
        return out
    for resource, fetch in sorted((run.parts.get("fetch") or {}).items()):
        for part, info in sorted(((fetch or {}).get("parts") or {}).items()):
            if isinstance(info, dict):
                out[part] = {"resource": resource, **info}
    return out
