"""``casb.scan_tenant(tenant_id, trigger="manual")`` (queue ``scans``): start one scan.

The public entry point (docs/operations.md, "Rescan"): beat's dispatcher, ``casb rescan``, Flower's
async-apply and any Celery producer send it with ``args=[tenant_id]`` (an id or a slug).
If the tenant already has an active run, the request is coalesced onto it and the result
says so; otherwise the run is created (or the dispatcher's queued run, ``scan_id=``, is
claimed) and the canvas is sent after the transaction commits.
"""

from __future__ import annotations

from typing import Any

from pipeline.posture import start_scan
from schemas.stages import StartResult
from schemas.tables import ScanTrigger
from tasks.canvas import build_scan_canvas
from workers.celery_app import app
from workers.celeryconfig import SCAN_TENANT


@app.task(name=SCAN_TENANT, acks_late=True)
def scan_tenant(
    tenant_id: int | str, trigger: str = "manual", scan_id: int | None = None, **_: Any
) -> StartResult:
    started = start_scan(
        tenant_id, ScanTrigger.parse(trigger), scan_id=int(scan_id) if scan_id else None
    )
    if started["status"] == "started":
        build_scan_canvas(app, started["scan_id"], started["fetches"]).apply_async()
    return started
