"""One whole scan in this process (``casb scan --inline``, the embedded demo, benches)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from pipeline.dlp import run_dlp_inline
from pipeline.notify import deliver
from pipeline.posture import record_failure, run_detect, run_fetch, run_finish, start_scan
from schemas.stages import FetchSummary, FinishResult, StartResult
from schemas.tables import ScanTrigger

log = logging.getLogger("casb.pipeline")


def run_inline(
    tenant_ref: int | str, trigger: ScanTrigger = ScanTrigger.MANUAL
) -> StartResult | FinishResult:
    """One whole scan in this process: the same stage functions, fetches in threads."""
    start = start_scan(tenant_ref, trigger)
    if start["status"] != "started":
        return start
    scan_id = start["scan_id"]
    fetches: Sequence[str] = start["fetches"]
    try:
        with ThreadPoolExecutor(
            max_workers=max(1, len(fetches)), thread_name_prefix="casb-fetch"
        ) as pool:
            list(pool.map(lambda name: _fetch_safely(scan_id, name), fetches))
        run_detect(scan_id)
        run_dlp_inline(scan_id)
    except Exception:
        log.exception("inline scan %s failed", scan_id)
        return _deliver_alerts({**run_finish(scan_id, failed=True), "tenant": start["tenant"]})
    return _deliver_alerts({**run_finish(scan_id), "tenant": start["tenant"]})


def _deliver_alerts(result: FinishResult) -> FinishResult:
    """First attempt of the scan's alerts in this process; retries are beat's (notify)."""
    for delivery in result.get("alerts", []):
        try:
            deliver(delivery)
        except Exception:
            log.exception("alert delivery %s of scan %s failed", delivery, result.get("scan_id"))
    return result


def _fetch_safely(scan_id: int, resource: str) -> FetchSummary:
    try:
        return run_fetch(scan_id, resource)
    except Exception as exc:
        log.exception("fetch %s of scan %s failed", resource, scan_id)
        return record_failure(scan_id, resource, exc)
