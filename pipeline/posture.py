"""The scan pipeline as plain functions: the Celery tasks and ``--inline`` both call these.

Stages: ``start_scan`` (claim or create the run, plan its fetches) -> ``run_fetch`` per
resource (decrypt keys here only, page through the API within the tenant's shared budget,
store the snapshot part, record a summary) -> ``run_detect`` (pure detectors + finding
lifecycle) -> ``run_finish`` (status, counts, typed errors, tenant health). Every stage is
idempotent: running it twice leaves the same rows.

Nothing here returns, logs or stores a credential: keys exist only as ``SecretStr`` inside
``run_fetch``'s connector call, and error summaries come from the connectors' scrubbed,
typed errors.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from connectors.errors import ConnectorError, RateLimitedError
from core.errors import UserError
from core.time import as_utc
from detectors.registry import BY_TYPE_ID, run_posture
from pipeline.common import apply_suppressions, error_summary, load_scan, tenant_access
from pipeline.fetchers import FETCHES, FetchContext, plan_fetches
from pipeline.runtime import get_runtime
from schemas.catalog import FetchResource, types_for_sources
from schemas.snapshot import PostureSnapshot
from schemas.tables import ScanRun, ScanStatus, ScanTrigger, Tenant, utcnow
from store.db import session_scope
from store.findings import apply_scan_findings
from store.scans import (
    claim_queued,
    finish_run,
    request_scan,
    scan_outcome,
    set_plan,
)
from store.tenants import effective_thresholds, find_tenant

log = logging.getLogger("casb.pipeline")

POSTURE_PARTS = ("users", "logins", "invites", "admin_keys", "project_keys", "gpts")

# --------------------------------------------------------------------------- start


def start_scan(
    tenant_ref: int | str, trigger: ScanTrigger, scan_id: int | None = None
) -> dict[str, Any]:
    """Claim the run the dispatcher/CLI queued (``scan_id``) or create one; plan its fetches.

    Returns ``{"status": "started", "scan_id", "tenant", "fetches"}`` when the caller must
    launch the fetches; otherwise ``coalesced`` (another run is active: the request was
    counted on it), ``already_running`` (a redelivered request), ``skipped`` or
    ``unknown_tenant``.
    """
    with session_scope() as session:
        tenant = find_tenant(session, tenant_ref)
        if tenant is None or tenant.id is None:
            log.warning("scan requested for unknown tenant %r", str(tenant_ref)[:80])
            return {"status": "unknown_tenant", "tenant": str(tenant_ref)[:80]}
        if scan_id is not None:
            run = claim_queued(session, scan_id)
            if run is None:
                existing = session.get(ScanRun, scan_id)
                state = existing.status if existing is not None else "missing"
                status = "already_running" if state == ScanStatus.RUNNING.value else "skipped"
                return {"status": status, "scan_id": scan_id, "tenant": tenant.slug, "run": state}
        else:
            request = request_scan(session, tenant, trigger, status=ScanStatus.RUNNING.value)
            if request.coalesced:
                log.info(
                    "tenant %s already has active scan %s: coalesced", tenant.slug, request.scan_id
                )
                return {"status": "coalesced", "scan_id": request.scan_id, "tenant": tenant.slug}
            scan_id = request.scan_id
        fetches = plan_for(tenant)
        set_plan(session, scan_id, fetches)
        return {"status": "started", "scan_id": scan_id, "tenant": tenant.slug, "fetches": fetches}


def plan_for(tenant: Tenant) -> list[str]:
    return plan_fetches(
        has_workspace=bool(tenant.workspace_id), dlp_enabled=bool(tenant.dlp_profiles)
    )


# --------------------------------------------------------------------------- fetch


def record_failure(scan_id: int, resource: str, exc: BaseException) -> dict[str, Any]:
    """Record a failed fetch (typed error) and return its summary."""
    summary = {
        "resource": resource,
        "count": 0,
        "key": None,
        "keys": {},
        "ok": False,
        "error": error_summary(exc),
    }
    get_runtime().snapshots.record(scan_id, resource, summary)
    return summary


def run_fetch(scan_id: int, resource: str, *, defer_rate_limited: bool = False) -> dict[str, Any]:
    """Fetch one resource of the scan's tenant into the snapshot store.

    Returns ``{resource, count, key, keys, ok, error}``. A ``ConnectorError`` becomes
    ``ok=False`` with the typed error (so the chord body always runs), except a
    ``RateLimitedError`` when ``defer_rate_limited``: the task then retries later.
    """
    spec = FETCHES[resource]
    _, tenant = load_scan(scan_id)
    store = get_runtime().snapshots
    started = time.monotonic()
    try:
        ctx = FetchContext(
            access=tenant_access(tenant),
            budget=get_runtime().budget,
            conversation_watermark=_watermark(tenant) if resource == "files" else 0.0,
            observer=get_runtime().observer,
        )
        parts = spec.run(ctx)
    except RateLimitedError:
        if defer_rate_limited:
            raise
        return record_failure(scan_id, resource, _exhausted(tenant))
    except (ConnectorError, UserError) as exc:
        summary = record_failure(scan_id, resource, exc)
        log.warning(
            "fetch %s failed for tenant %s (scan %s): %s",
            resource,
            tenant.slug,
            scan_id,
            summary["error"].get("kind"),
        )
        return summary
    keys = {part: store.put(scan_id, part, items) for part, items in parts.items()}
    summary = {
        "resource": resource,
        "count": len(parts[spec.primary]),
        "key": keys[spec.primary],
        "keys": keys,
        "counts": {part: len(items) for part, items in parts.items()},
        "ok": True,
        "error": None,
        "seconds": round(time.monotonic() - started, 3),
    }
    store.record(scan_id, resource, summary)
    log.info(
        "fetched %s for tenant %s (scan %s): %d", resource, tenant.slug, scan_id, summary["count"]
    )
    return summary


def _watermark(tenant: Tenant) -> float:
    """The conversation watermark valid for the tenant's current DLP profiles (store.dlp)."""
    from store.dlp import listing_watermark, tenant_profile_version

    with session_scope() as session:
        return listing_watermark(session, tenant, tenant_profile_version(session, tenant))


def _exhausted(tenant: Tenant) -> RateLimitedError:
    return RateLimitedError(
        "the tenant's rate budget stayed exhausted through every retry",
        hint=f"tenant {tenant.slug} is at its API budget: the next scan retries",
    )


# --------------------------------------------------------------------------- detect


def succeeded_sources(summaries: dict[str, dict[str, Any]]) -> set[FetchResource]:
    out: set[FetchResource] = set()
    for name, summary in summaries.items():
        spec = FETCHES.get(name)
        if spec is not None and summary.get("ok"):
            out.update(spec.covers)
    return out


def build_snapshot(
    summaries: dict[str, dict[str, Any]],
    load: Callable[[str], list[dict[str, Any]] | None],
    now: float,
) -> PostureSnapshot:
    """Rebuild the posture snapshot; a part whose fetch failed (or expired) stays None."""
    data: dict[str, Any] = {}
    for summary in summaries.values():
        if not summary.get("ok"):
            continue
        for part, key in (summary.get("keys") or {}).items():
            if part in POSTURE_PARTS:
                data[part] = load(key)
    if data.get("users") is None:
        data.pop("logins", None)
    return PostureSnapshot(now=now, **{k: v for k, v in data.items() if v is not None})


def run_detect(scan_id: int) -> dict[str, Any]:
    """Run the posture detectors on the scan's snapshot and apply the finding lifecycle."""
    run, tenant = load_scan(scan_id)
    if run.status != ScanStatus.RUNNING.value:
        return {"scan_id": scan_id, "status": "skipped", "run": run.status}
    store = get_runtime().snapshots
    summaries = store.summaries(scan_id)
    started_at = as_utc(run.started_at) or utcnow()
    snapshot = build_snapshot(summaries, store.get, started_at.timestamp())
    result = run_posture(snapshot, effective_thresholds(tenant))
    ok_sources = succeeded_sources(summaries)
    resolvable = result.evaluated & {ft.finding_type_id for ft in types_for_sources(ok_sources)}
    with session_scope() as session:
        assert tenant.id is not None
        plan = apply_scan_findings(
            session,
            tenant_id=tenant.id,
            scan_id=scan_id,
            detected=result.findings,
            judged_types=BY_TYPE_ID.keys(),
            resolvable=resolvable,
            now=utcnow(),
        )
        apply_suppressions(session, tenant.id)
        fresh = session.get(ScanRun, scan_id)
        if fresh is not None:
            fresh.parts = {
                **fresh.parts,
                "detect": {
                    "findings": len(result.findings),
                    "by_type": result.counts(),
                    "evaluated": len(result.evaluated),
                    "resolvable": len(resolvable),
                    "skipped": result.skipped,
                    "lifecycle": plan.summary(),
                },
            }
            fresh.heartbeat_at = utcnow()
            session.add(fresh)
    log.info(
        "detected %d posture findings for tenant %s (scan %s): %s",
        len(result.findings),
        tenant.slug,
        scan_id,
        plan.summary(),
    )
    return {"scan_id": scan_id, "findings": len(result.findings), "lifecycle": plan.summary()}


# --------------------------------------------------------------------------- finish


def run_finish(scan_id: int, *, failed: bool = False) -> dict[str, Any]:
    """Close the run: status, per-resource counts, typed errors, timings, tenant health."""
    store = get_runtime().snapshots
    summaries = store.summaries(scan_id)
    with session_scope() as session:
        run = session.get(ScanRun, scan_id)
        if run is None:
            return {"scan_id": scan_id, "status": "missing"}
        if run.status not in ScanStatus.active():
            return {"scan_id": scan_id, "status": run.status, "already_finished": True}
        expected = list(run.parts.get("expected") or summaries.keys())
        detect = run.parts.get("detect")
        pipeline_failed = failed or detect is None
        status = scan_outcome(expected, summaries, pipeline_failed=pipeline_failed)
        errors = [
            {"resource": name, **(summaries[name].get("error") or {})}
            for name in expected
            if name in summaries and not summaries[name].get("ok")
        ]
        missing = [name for name in expected if name not in summaries]
        if pipeline_failed and (missing or not errors):
            errors.append(
                {
                    "resource": "pipeline",
                    "kind": "task_error",
                    "message": "a pipeline task failed before the scan completed"
                    + (f" (no result from: {', '.join(missing)})" if missing else ""),
                    "hint": "see the worker log for the failed task; the next scan retries",
                }
            )
        started = as_utc(run.started_at)
        seconds = round((utcnow() - started).total_seconds(), 3) if started else None
        counts = {
            "resources": {n: summaries[n].get("count", 0) for n in expected if n in summaries},
            "findings": (detect or {}).get("findings"),
            "by_type": (detect or {}).get("by_type", {}),
            "lifecycle": (detect or {}).get("lifecycle", {}),
            "seconds": seconds,
        }
        parts = {
            **run.parts,
            "fetch": {
                n: {k: s.get(k) for k in ("ok", "count", "counts", "seconds")}
                for n, s in summaries.items()
            },
        }
        finish_run(session, run, status=status, counts=counts, errors=errors, parts=parts)
        tenant_id = run.tenant_id
    store.drop(scan_id)
    log.info("scan %s (tenant id %s) finished: %s", scan_id, tenant_id, status)
    return {"scan_id": scan_id, "status": status, "errors": len(errors)}
