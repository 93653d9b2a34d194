"""``casb.dispatch_due_scans()`` (beat, every minute): start every due tenant's scan.

Due tenants are claimed with ``FOR UPDATE SKIP LOCKED``; each gets a queued scan run (or
its request is coalesced onto the active run) and its ``next_scan_at`` advances, all in
one transaction; ``casb.scan_tenant`` messages are sent only after it commits. Early ack:
a lost tick is simply redone by the next one.
"""

from __future__ import annotations

from typing import Any

from schemas.tables import utcnow
from store.db import session_scope
from store.scans import advance_schedule, claim_due_tenants, request_scan
from workers.celery_app import app
from workers.celeryconfig import DISPATCH_DUE_SCANS, SCAN_TENANT, SCANS
from workers.settings import get_settings


def dispatch_due(limit: int | None = None) -> dict[str, Any]:
    """Claim due tenants, create their runs, then enqueue them (plain function)."""
    batch = limit or get_settings().dispatch_batch_size
    now = utcnow()
    to_send: list[tuple[int, int]] = []
    coalesced: list[int] = []
    with session_scope() as session:
        for tenant in claim_due_tenants(session, now, batch):
            assert tenant.id is not None
            request = request_scan(session, tenant, "schedule")
            advance_schedule(tenant, now)
            session.add(tenant)
            if request.coalesced:
                coalesced.append(tenant.id)
            else:
                to_send.append((tenant.id, request.scan_id))
    for tenant_id, scan_id in to_send:
        app.send_task(
            SCAN_TENANT,
            args=[tenant_id],
            kwargs={"trigger": "schedule", "scan_id": scan_id},
            queue=SCANS,
        )
    return {"dispatched": [s for _, s in to_send], "coalesced": coalesced}


@app.task(name=DISPATCH_DUE_SCANS, acks_late=False, reject_on_worker_lost=False)
def dispatch_due_scans(**_: Any) -> dict[str, Any]:
    return dispatch_due()
