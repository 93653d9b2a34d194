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
from collections.abc import Callable, Mapping
from typing import Any

from connectors.errors import ConnectorError, RateLimitedError
from core.errors import UserError
from core.time import as_utc
from detectors.registry import BY_TYPE_ID, run_posture
from pipeline.changes import record_changes
from pipeline.common import apply_suppressions, error_summary, load_scan, tenant_access
from pipeline.dlp import conversation_context
from pipeline.fetchers import (
    FAILED,
    FETCHES,
    OK,
    FetchContext,
    FetchSpec,
    PartResult,
    PartRun,
    ok_part_key,
    ok_parts,
    plan_fetches,
)
from pipeline.leaks import resolve_revoked
from pipeline.notify import plan_alerts
from pipeline.runtime import get_runtime
from pipeline.snapshots import SnapshotStore
from schemas.catalog import FetchResource, types_for_sources
from schemas.snapshot import PostureSnapshot
from schemas.stages import (
    DetectResult,
    ErrorSummary,
    FetchSummary,
    FinishResult,
    PartSummary,
    StartResult,
)
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

POSTURE_PARTS = (
    "users",
    "logins",
    "invites",
    "admin_keys",
    "project_keys",
    "service_accounts",
    "project_members",
    "gpts",
    "workspace_users",
    "chatgpt_logins",
)

# --------------------------------------------------------------------------- start


def start_scan(
    tenant_ref: int | str, trigger: ScanTrigger, scan_id: int | None = None
) -> StartResult:
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


#: Extra days of audit log read beyond the inactivity threshold: the detector compares with
#: the scan's start, a little before the fetch runs, so the window must cover the boundary.
LOGIN_WINDOW_MARGIN_DAYS = 2


def record_failure(scan_id: int, resource: str, exc: BaseException) -> FetchSummary:
    """Record a fetch that failed as a whole (typed error on every part) and return it."""
    error = error_summary(exc)
    spec = FETCHES.get(resource)
    summary: FetchSummary = {
        "resource": resource,
        "count": 0,
        "key": None,
        "keys": {},
        "ok": False,
        "error": error,
        "parts": {
            part: {"state": FAILED, "count": 0, "error": error}
            for part in (spec.parts if spec else ())
        },
    }
    get_runtime().snapshots.record(scan_id, resource, summary)
    return summary


def run_fetch(
    scan_id: int,
    resource: str,
    *,
    defer_rate_limited: bool = False,
    scan: tuple[ScanRun, Tenant] | None = None,
) -> FetchSummary:
    """Fetch one resource's parts for the scan's tenant into the snapshot store.

    Returns ``{resource, count, key, keys, counts, parts, ok, error, seconds}``: ``parts``
    maps each part to ``{state, count, error}`` (``ok``, ``unavailable`` or ``failed``);
    ``keys``/``counts`` hold the stored parts only. ``ok`` is False when a part failed
    (an unavailable part is not a failure) and ``error`` is then the first failure. A
    ``RateLimitedError`` is re-raised when ``defer_rate_limited`` (the task retries later).
    ``scan``: the run and tenant when the caller loaded them (``load_scan``) already.
    """
    spec = FETCHES[resource]
    _, tenant = scan if scan is not None else load_scan(scan_id)
    runtime = get_runtime()
    store = runtime.snapshots
    started = time.monotonic()
    out = PartRun(defer_rate_limited=defer_rate_limited)
    try:
        access = tenant_access(tenant)
        limits = runtime.limits
        ctx = FetchContext(
            access=access,
            budget=runtime.budget,
            observer=runtime.observer,
            checkpoints=runtime.listing_checkpoints(scan_id),
            login_since=_login_since(tenant) if "logins" in spec.parts else None,
            limitless_routes=limits.routes(access.tenant_key),
            on_limit_rejected=lambda route: limits.remember(access.tenant_key, route),
            defer_rate_limited=defer_rate_limited,
        )
        if resource == "conversations":
            ctx = conversation_context(tenant, ctx)
        elif resource == "chatgpt_logins":
            days = effective_thresholds(tenant).inactive_user_days + 1
            ctx.logins_since = time.time() - days * 86400.0
        spec.run(ctx, out)
    except RateLimitedError:
        if defer_rate_limited:
            raise
        return record_failure(scan_id, resource, _exhausted(tenant))
    except (ConnectorError, UserError) as exc:
        # Before any part ran (no key configured, keys that do not decrypt).
        summary = record_failure(scan_id, resource, exc)
        log.warning(
            "fetch %s failed for tenant %s (scan %s): %s",
            resource,
            tenant.slug,
            scan_id,
            (summary["error"] or {}).get("kind"),
        )
        return summary
    summary = _summary(scan_id, spec, out, store)
    summary["seconds"] = round(time.monotonic() - started, 3)
    store.record(scan_id, resource, summary)
    for part, info in summary.get("parts", {}).items():
        if info["state"] != OK:
            log.warning(
                "fetch %s: part %s %s for tenant %s (scan %s): %s",
                resource,
                part,
                info["state"],
                tenant.slug,
                scan_id,
                (info["error"] or {}).get("kind"),
            )
    log.info(
        "fetched %s for tenant %s (scan %s): %d", resource, tenant.slug, scan_id, summary["count"]
    )
    return summary


def _summary(scan_id: int, spec: FetchSpec, out: PartRun, store: SnapshotStore) -> FetchSummary:
    keys: dict[str, str] = {}
    counts: dict[str, int] = {}
    parts: dict[str, PartSummary] = {}
    for part in spec.parts:
        result = out.results.get(part)
        if result is None:  # a fetcher that forgot a part is a bug: never silent success
            result = PartResult(FAILED, error={"kind": "task_error", "message": "not produced"})
        if result.state == OK and result.items is not None:
            keys[part] = store.put(scan_id, part, result.items)
            counts[part] = len(result.items)
        parts[part] = {
            "state": result.state,
            "count": counts.get(part, 0),
            "error": result.error,
        }
    failures = [p["error"] for p in parts.values() if p["state"] == FAILED]
    summary: FetchSummary = {
        "resource": spec.resource,
        "count": counts.get(spec.primary, 0),
        "key": keys.get(spec.primary),
        "keys": keys,
        "counts": counts,
        "parts": parts,
        "ok": not failures,
        "error": failures[0] if failures else None,
    }
    notes = out.results.get(spec.notes) if spec.notes else None
    if notes is not None and notes.state == OK and notes.items:
        summary["notes"] = notes.items[0]
    return summary


def _login_since(tenant: Tenant) -> float:
    """Oldest audit-log login worth reading: now - inactive threshold - a margin."""
    days = effective_thresholds(tenant).inactive_user_days + LOGIN_WINDOW_MARGIN_DAYS
    return time.time() - days * 86_400


def _exhausted(tenant: Tenant) -> RateLimitedError:
    return RateLimitedError(
        "the tenant's rate budget stayed exhausted through every retry",
        hint=f"tenant {tenant.slug} is at its API budget: the next scan retries",
    )


# --------------------------------------------------------------------------- detect


def succeeded_sources(summaries: Mapping[str, FetchSummary]) -> set[FetchResource]:
    """The catalog's fetch resources whose part was stored successfully in the scan."""
    known = {r.value for r in FetchResource}
    return {FetchResource(part) for part in ok_parts(summaries) if part in known}


def build_snapshot(
    summaries: Mapping[str, FetchSummary],
    load: Callable[[str], list[dict[str, Any]] | None],
    now: float,
) -> PostureSnapshot:
    """Rebuild the posture snapshot; a part that failed (or expired) stays None.

    Parts are independent: a failed part never hides a sibling that succeeded. Admin-key
    owners get their email from the users part when it is there (the API's owner object
    carries none).
    """
    data: dict[str, Any] = {}
    for part in POSTURE_PARTS:
        key = ok_part_key(summaries, part)
        if key is not None:
            data[part] = load(key)
    if data.get("admin_keys") and data.get("users"):
        data["admin_keys"] = with_owner_emails(data["admin_keys"], data["users"])
    return PostureSnapshot(now=now, **{k: v for k, v in data.items() if v is not None})


def with_owner_emails(
    admin_keys: list[dict[str, Any]], users: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Admin keys whose user owner has no email get the email of that user id."""
    emails = {u.get("id"): u.get("email") for u in users if u.get("email")}
    out = []
    for key in admin_keys:
        owner = key.get("owner")
        if isinstance(owner, dict) and not owner.get("email") and owner.get("id") in emails:
            key = {**key, "owner": {**owner, "email": emails[owner["id"]]}}
        out.append(key)
    return out


def run_detect(scan_id: int) -> DetectResult:
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
        # A leaked key's finding resolves when the key leaves the inventory (revoked or
        # rotated), never because the content it was seen in is gone.
        leaks_resolved = resolve_revoked(session, tenant.id, scan_id, utcnow())
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
                    "leaked_keys_resolved": leaks_resolved,
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


def fetch_errors(summary: FetchSummary) -> list[ErrorSummary]:
    """The typed errors of one fetch: one per distinct failure, naming the parts it cost.

    Unavailable parts are not errors (the tenant does not offer them); they show in
    ``part_states`` and ``casb health``.
    """
    resource = summary.get("resource")
    parts = summary.get("parts") or {}
    grouped: list[tuple[ErrorSummary, list[str]]] = []
    for part, info in parts.items():
        if info.get("state") != FAILED:
            continue
        error: ErrorSummary = info.get("error") or {}
        for known, names in grouped:
            if known == error:
                names.append(part)
                break
        else:
            grouped.append((error, [part]))
    if not grouped and not summary.get("ok"):
        return [{"resource": resource, **(summary.get("error") or {})}]
    return [{"resource": resource, "parts": names, **error} for error, names in grouped]


def part_states(summary: FetchSummary) -> dict[str, Any]:
    """``{part: state}`` plus, for parts not ok, ``{part: {state, kind, status}}``."""
    out: dict[str, Any] = {}
    for part, info in (summary.get("parts") or {}).items():
        state = info.get("state")
        if state == OK:
            out[part] = OK
        else:
            error = info.get("error") or {}
            out[part] = {"state": state, "kind": error.get("kind"), "status": error.get("status")}
    return out


def run_finish(scan_id: int, *, failed: bool = False) -> FinishResult:
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
        errors: list[ErrorSummary] = [
            error
            for name in expected
            if name in summaries
            for error in fetch_errors(summaries[name])
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
            # Source notes (conversation source used, retired routes, truncated or re-listed
            # conversations, unreadable log records): the scan's stats, `casb scans --json`.
            "notes": {n: s["notes"] for n, s in summaries.items() if s.get("notes")},
        }
        parts = {
            **run.parts,
            "fetch": {
                n: {
                    **{k: s.get(k) for k in ("ok", "count", "counts", "seconds", "notes")},
                    "parts": part_states(s),
                }
                for n, s in summaries.items()
            },
        }
        changes = record_changes(
            session,
            tenant_id=run.tenant_id,
            scan_id=scan_id,
            summaries=summaries,
            load=store.get,
            now=utcnow(),
        )
        counts["changes"] = len(changes)
        finish_run(session, run, status=status, counts=counts, errors=errors, parts=parts)
        tenant_id = run.tenant_id
        # Planned in the run's closing transaction: a redelivered finish finds the run
        # finished and plans nothing twice; the rows outlive a lost delivery task.
        alerts = plan_alerts(session, tenant_id, scan_id)
    store.drop(scan_id)
    get_runtime().announce_finished(scan_id, status)
    log.info("scan %s (tenant id %s) finished: %s", scan_id, tenant_id, status)
    return {"scan_id": scan_id, "status": status, "errors": len(errors), "alerts": alerts}
