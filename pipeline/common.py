"""What every stage of a scan shares: loading its run, the tenant's access, typed errors."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from connectors.access import TenantAccess
from connectors.errors import ConnectorError
from core.errors import UserError
from core.logs import bind_log_tenant
from core.settings import get_settings
from detectors.dlp.extract import ExtractLimits
from pipeline.deliveries import WorkerLost
from schemas.stages import ErrorSummary
from schemas.tables import ScanRun, ScanStatus, Tenant
from store import suppressions
from store.db import session_scope
from store.scans import heartbeat, run_status, run_with_tenant
from store.tenants import decrypt_keys

log = logging.getLogger("casb.pipeline")


_kept_alive = threading.local()  # .scan_id: kept alive here; .loaded: (id, run, tenant)


def scan_is_active(scan_id: int) -> bool:
    """The run exists and is queued or running (a stage arriving later has nothing to do).

    A running run's heartbeat is refreshed by the same statement that finds it running, so
    a stage started under ``keep_alive`` needs no heartbeat of its own when it loads the run.
    The running run and its tenant are read in the same transaction and kept for this
    thread's next ``load_scan`` of the scan under ``keep_alive`` (the stage about to run),
    which then needs no session of its own.
    """
    _kept_alive.loaded = None
    with session_scope() as session:
        if heartbeat(session, scan_id):
            run, tenant = run_with_tenant(session, scan_id)
            _kept_alive.loaded = (scan_id, run, tenant) if run is not None else None
            return True
        status = run_status(session, scan_id)
        return status is not None and status in ScanStatus.active()


@contextmanager
def keep_alive(scan_id: int, every: float) -> Iterator[None]:
    """Refresh the run's heartbeat every ``every`` seconds while the block runs.

    One UPDATE per interval from a daemon thread, whatever the stage is doing (paging, waiting
    out a rate limit, matching a large file): the reaper then fails a run only when no task of
    it is alive any more, within minutes of a worker's death. ``load_scan`` in the block
    leaves the heartbeat to it.
    """
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(every):
            try:
                with session_scope() as session:
                    heartbeat(session, scan_id)
            except Exception as exc:  # a missed heartbeat must not fail the stage
                log.warning("heartbeat of scan %s failed (%s)", scan_id, type(exc).__name__)

    thread = threading.Thread(target=beat, name=f"casb-heartbeat-{scan_id}", daemon=True)
    thread.start()
    outer = getattr(_kept_alive, "scan_id", None)
    _kept_alive.scan_id = scan_id
    try:
        yield
    finally:
        _kept_alive.scan_id = outer
        _kept_alive.loaded = None  # what the stage did not load is read afresh next time
        stop.set()


def load_scan(scan_id: int) -> tuple[ScanRun, Tenant]:
    """The run and its tenant; refreshes the run's heartbeat (unless ``keep_alive`` keeps it
    in this thread) and names the tenant in logs."""
    kept = getattr(_kept_alive, "scan_id", None) == scan_id
    loaded = getattr(_kept_alive, "loaded", None)
    if kept and loaded is not None and loaded[0] == scan_id:
        # Read with the heartbeat that started this stage (``scan_is_active``): used once.
        _kept_alive.loaded = None
        return _checked(scan_id, loaded[1], loaded[2])
    with session_scope() as session:
        run, tenant = _checked(scan_id, *run_with_tenant(session, scan_id))
        if not kept:
            heartbeat(session, scan_id)
        return run, tenant


def _checked(scan_id: int, run: ScanRun | None, tenant: Tenant | None) -> tuple[ScanRun, Tenant]:
    """The run and its tenant, both there (else ``LookupError``), the tenant named in logs."""
    if run is None:
        raise LookupError(f"scan run {scan_id} does not exist")
    if tenant is None:
        raise LookupError(f"tenant of scan run {scan_id} no longer exists")
    bind_log_tenant(tenant.slug)
    return run, tenant


def tenant_access(tenant: Tenant) -> TenantAccess:
    """The decrypted keys and endpoints of a tenant, for one connector call."""
    keys = decrypt_keys(tenant, get_settings().fernet())
    return TenantAccess(
        tenant_key=tenant.slug,
        org_id=tenant.org_id,
        workspace_id=tenant.workspace_id,
        admin_api_base=tenant.admin_api_base,
        admin_key=keys.admin_key,
        compliance_api_base=tenant.compliance_api_base,
        compliance_key=keys.compliance_key,
    )


def error_summary(exc: BaseException) -> ErrorSummary:
    """A typed, scrubbed error for task results, scan runs and tenant health."""
    if isinstance(exc, ConnectorError):
        data = exc.to_dict()
        data.pop("retry_after", None)
        return data
    if isinstance(exc, WorkerLost):
        return {
            "kind": WorkerLost.kind,
            "error": type(exc).__name__,
            "message": str(exc),
            "hint": "a worker process died on this part each time it ran (memory or time "
            "limit): it was given up; see the worker log",
        }
    if isinstance(exc, UserError):  # e.g. CASB_SECRET_KEY cannot decrypt the tenant's keys
        return {"kind": "configuration_error", "error": type(exc).__name__, "message": str(exc)}
    return {
        "kind": "task_error",
        "error": type(exc).__name__,
        "message": "internal error in the scan pipeline: see the worker log",
    }


def apply_suppressions(session: Any, tenant_id: int) -> None:
    """Suppression rules and one-off ignores, applied after every scan's upserts."""
    suppressions.apply(session, tenant_id)


def extract_limits(**caps: Any) -> ExtractLimits:
    """The extractors' limits (``caps`` over the defaults) with this process's reader
    settings (``CASB_PDF_ENGINE``, ``CASB_PDF_FAST``, ``CASB_OOXML_SCANNER``,
    ``CASB_ZIP_INFLATE``): extraction itself never reads the environment."""
    settings = get_settings()
    return ExtractLimits(
        pdf_engine=settings.pdf_engine,
        pdf_fast=settings.pdf_fast,
        ooxml_scanner=settings.ooxml_scanner,
        zip_inflate=settings.zip_inflate,
        **caps,
    )
