"""Scheduling jobs: start due scans, recover the ones whose worker died, prune old rows.

Both return what must be queued; the Celery tasks in ``tasks/`` send it after the database
transaction committed, so a message never names a run that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.settings import get_settings
from schemas.tables import ScanStatus, ScanTrigger, utcnow
from store.db import session_scope
from store.retention import PruneCount, prune
from store.scans import (
    advance_schedule,
    claim_due_tenants,
    consecutive_stale_failures,
    finish_run,
    request_scan,
    stale_runs,
)

# After this many stale runs in a row a tenant is no longer re-queued at once (a scan that
# kills its worker every time would loop); its regular schedule still tries again.
MAX_STALE_REQUEUES = 3


@dataclass
class DuePlan:
    """Runs created for due tenants: ``(tenant_id, scan_id)`` to send, coalesced tenant ids."""

    to_send: list[tuple[int, int]] = field(default_factory=list)
    coalesced: list[int] = field(default_factory=list)


@dataclass
class ReapResult:
    """Stale runs failed: ``(tenant_id, scan_id)``, and tenants held back from a re-queue."""

    reaped: list[tuple[int, int]] = field(default_factory=list)
    held: list[int] = field(default_factory=list)

    def tenants_to_requeue(self) -> list[int]:
        return list(dict.fromkeys(t for t, _ in self.reaped if t not in self.held))


def claim_due_scans(limit: int | None = None) -> DuePlan:
    """Claim due tenants (``FOR UPDATE SKIP LOCKED``), create or coalesce their runs."""
    batch = limit or get_settings().dispatch_batch_size
    now = utcnow()
    plan = DuePlan()
    with session_scope() as session:
        for tenant in claim_due_tenants(session, now, batch):
            assert tenant.id is not None
            request = request_scan(session, tenant, ScanTrigger.SCHEDULE)
            advance_schedule(tenant, now)
            session.add(tenant)
            if request.coalesced:
                plan.coalesced.append(tenant.id)
            else:
                plan.to_send.append((tenant.id, request.scan_id))
    return plan


def reap_stale_runs(stale_after_seconds: int | None = None) -> ReapResult:
    """Fail every active run without a heartbeat for ``stale_after_seconds`` (typed ``stale``)."""
    after = stale_after_seconds or get_settings().scan_stale_after_seconds
    result = ReapResult()
    with session_scope() as session:
        for run in stale_runs(session, utcnow(), after):
            assert run.id is not None
            looping = consecutive_stale_failures(session, run.tenant_id) + 1 >= MAX_STALE_REQUEUES
            hint = (
                f"{MAX_STALE_REQUEUES} scans in a row were lost: not re-queued; the next "
                "scheduled scan retries (check worker logs for OOM kills or crashes)"
                if looping
                else "a new scan was queued; check that fetch/detect workers run"
            )
            finish_run(
                session,
                run,
                status=ScanStatus.FAILED.value,
                counts=run.counts,
                errors=[
                    *run.errors,
                    {
                        "resource": "pipeline",
                        "kind": "stale",
                        "message": f"no progress for more than {after}s (worker lost?)",
                        "hint": hint,
                    },
                ],
                parts=run.parts,
            )
            result.reaped.append((run.tenant_id, run.id))
            if looping:
                result.held.append(run.tenant_id)
    return result


def prune_expired(*, dry_run: bool = False) -> list[PruneCount]:
    """Delete rows past their kind's retention (``CASB_RETENTION_*_DAYS``), in batches."""
    settings = get_settings()
    return prune(
        session_scope, settings.retention(), dry_run=dry_run, batch_size=settings.prune_batch_size
    )
