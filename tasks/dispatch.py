"""``casb.dispatch_due_scans()`` (beat, every minute): start every due tenant's scan.

Due tenants are claimed and their runs created in one transaction
(``pipeline.schedule.claim_due_scans``); ``casb.scan_tenant`` messages are sent only after
it commits. Early ack: a lost tick is simply redone by the next one.
"""

from __future__ import annotations

from typing import Any

from pipeline.schedule import claim_due_scans
from schemas.tables import ScanTrigger
from workers.celery_app import app
from workers.celeryconfig import DISPATCH_DUE_SCANS, SCAN_TENANT, SCANS


def dispatch_due(limit: int | None = None) -> dict[str, Any]:
    """Claim due tenants, create their runs, then enqueue them."""
    plan = claim_due_scans(limit)
    for tenant_id, scan_id in plan.to_send:
        app.send_task(
            SCAN_TENANT,
            args=[tenant_id],
            kwargs={"trigger": ScanTrigger.SCHEDULE.value, "scan_id": scan_id},
            queue=SCANS,
        )
    return {"dispatched": [s for _, s in plan.to_send], "coalesced": plan.coalesced}


@app.task(name=DISPATCH_DUE_SCANS, acks_late=False, reject_on_worker_lost=False)
def dispatch_due_scans(**_: Any) -> dict[str, Any]:
    return dispatch_due()
