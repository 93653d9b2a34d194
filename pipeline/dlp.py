"""The DLP stage of a scan as plain functions: the Celery tasks and ``--inline`` call these.

    plan_dlp(scan_id)            listings (snapshot store) -> small batches of file refs
    run_dlp_batch(scan_id, key)  per file: cache check -> download (spooled, capped) -> sha256
                                 -> cached verdict or extract + match -> cache row + finding
    finalize_dlp(scan_id)        resolve what this scan proved gone, advance the watermark,
                                 record the stage's counts on the scan run

Side effects: PostgreSQL (cache rows, findings, scan run, tenant watermark), the snapshot
store (Redis in the fleet), the Compliance API (downloads) and a temporary file per download.
Decisions come from ``detectors.dlp.decisions``. Nothing here logs, returns or stores file
content or a raw match: findings and cache rows carry ``FileMatch.to_evidence()`` (masked) only.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from sqlmodel import Session

from connectors.access import ClientOptions
from connectors.compliance import ComplianceClient
from connectors.errors import (
    AuthenticationError,
    ConnectorError,
    DownloadTooSlow,
    FileSkipped,
    NotFoundError,
    PermissionDeniedError,
)
from core.errors import UserError
from core.metrics import record_dlp_bytes
from core.settings import get_settings
from core.time import as_utc
from detectors.dlp.decisions import (
    CLEAN,
    FINDING_TYPES,
    LISTING_PARTS,
    MATCHED,
    SKIPPED,
    TOO_SLOW,
    CacheState,
    FileRef,
    ListingState,
    Step,
    before_download,
    detected_finding,
    make_batches,
    next_watermark,
    refs_from_listings,
    resolvable_keys,
    reusable_after_download,
    too_slow_result,
)
from detectors.dlp.document import ocr_engine_for, scan_document
from detectors.dlp.extract import ExtractLimits, OcrEngine
from detectors.dlp.matcher import Policy, compile_policy
from detectors.dlp.messages import FINDING_TYPE as MESSAGE_TYPE
from detectors.dlp.messages import (
    MessageMatch,
    merge_matches,
    message_finding,
    resolvable_messages,
)
from detectors.dlp.profiles import profile_set_version
from detectors.leaked_keys import InventoryKey, KeyProbe
from pipeline.common import (
    apply_suppressions,
    error_summary,
    extract_limits,
    load_scan,
    tenant_access,
)
from pipeline.deliveries import DeliveryLedger, WorkerLost
from pipeline.engine_store import install_engine_store
from pipeline.fetchers import ok_part_key
from pipeline.leaks import findings_for_file, leak_refs, merged, scan_inventory
from pipeline.runtime import get_runtime
from pipeline.snapshots import SnapshotStore, part_key
from schemas.findings import DetectedFinding
from schemas.stages import (
    FETCH_RESOURCES,
    DlpBatchOutcome,
    DlpPlanRecord,
    DlpPlanResult,
    DlpStageResult,
    ErrorSummary,
    FetchSummary,
)
from schemas.tables import ScanRun, ScanStatus, Tenant, utcnow
from store.db import session_scope
from store.dlp import (
    CacheWrite,
    listing_watermark,
    load_cache,
    logs_watermark,
    open_dlp_keys,
    open_message_ids,
    profile_sets_in_use,
    resolve_dlp_findings,
    resolve_profiles,
    save_cache,
)
from store.findings import apply_scan_findings
from store.scans import run_parts

if TYPE_CHECKING:
    from pipeline.fetchers import FetchContext

log = logging.getLogger("casb.dlp")

STAGE = "dlp"
PLAN_PART = "dlp_plan"
SPOOL_IN_MEMORY = 8 * 1024 * 1024
#: Which fetch lists which file kind (see pipeline.fetchers.FETCHES).
LISTED_BY = {"conversation": "conversations", "project": "files", "gpt": "gpts"}
#: The listing fetches, each with the file kinds it lists (planned as soon as it ends).
LISTING_FETCHES: dict[str, tuple[str, ...]] = {
    fetch: tuple(kind for kind, by in LISTED_BY.items() if by == fetch)
    for fetch in ("files", "gpts", "conversations")
}
#: A scan runs the DLP stage exactly when it runs one of these fetches (tasks/canvas.py).
DLP_FETCHES = frozenset({"files", "conversations"})
CONVERSATIONS = "conversations"
_FATAL = (AuthenticationError, PermissionDeniedError, NotFoundError)


# --------------------------------------------------------------------------- messages


def message_matcher(policy: Policy) -> Callable[[str], dict[str, Any] | None]:
    """Message text -> masked match evidence (``FileMatch.to_evidence()``) or None.

    Called by the conversation fetch while a message's text is in memory: the text itself is
    never stored, logged or passed on, only this evidence.
    """

    def match(text: str) -> dict[str, Any] | None:
        stream = policy.open_stream()
        try:
            stream.feed(text.encode("utf-8", errors="replace"))
        except BaseException:
            stream.abort()
            raise
        result = stream.close()
        return result.to_evidence() if result.matched else None

    return match


def conversation_context(tenant: Tenant, ctx: FetchContext) -> FetchContext:
    """What the conversation fetch needs beyond keys: both watermarks (valid for the
    tenant's current profile set), the message matcher and the open message findings."""
    assert tenant.id is not None
    with session_scope() as session:
        profiles = resolve_profiles(session, tenant.dlp_profiles)
        version = profile_set_version(profiles) if profiles else None
        ctx.conversation_watermark = listing_watermark(session, tenant, version)
        ctx.logs_watermark = logs_watermark(session, tenant, version)
        ctx.open_message_ids = open_message_ids(session, tenant.id)
    engine = get_settings().dlp_engine
    ctx.message_matcher = message_matcher(compile_policy(profiles, engine)) if profiles else None
    return ctx


def _message_parts(scan_id: int) -> tuple[list[MessageMatch], set[str]] | None:
    """The conversation fetch's message verdicts, or None when that fetch failed."""
    store = get_runtime().snapshots
    summary = store.summaries(scan_id).get(CONVERSATIONS)
    if not summary or not summary.get("ok"):
        return None
    keys = summary.get("keys") or {}
    matches = store.get(keys["message_matches"]) if keys.get("message_matches") else None
    clean = store.get(keys["message_clean"]) if keys.get("message_clean") else None
    if matches is None or clean is None:
        return None
    return (
        merge_matches(MessageMatch.from_dict(m) for m in matches),
        {str(c.get("resource_id")) for c in clean},
    )


def preload_policies(limit: int = 8) -> int:
    """Compile (or load from the engine store) the policies of the profile sets tenants
    use, at most ``limit``, into this process's policy cache. A prefork worker's parent
    calls it before forking: its children inherit the compiled policies instead of each
    building them again. Returns how many were loaded; best effort (0 on any failure)."""
    settings = get_settings()
    install_engine_store(settings)
    try:
        with session_scope() as session:
            sets = profile_sets_in_use(session, limit)
        for profiles in sets:
            compile_policy(profiles, settings.dlp_engine)  # the key a batch looks up
    except Exception as exc:  # the children compile on first use instead
        log.warning("DLP policies not preloaded (%s)", type(exc).__name__)
        return 0
    return len(sets)


# --------------------------------------------------------------------------- plan


def _listings(
    scan_id: int, listed: Mapping[str, bool]
) -> tuple[dict[str, list[dict[str, Any]] | None], dict[str, Any]]:
    """Listings by kind (None unless ``listed`` says the kind was planned from a stored
    listing, or when its part expired) and the conversation listing's metadata."""
    store = get_runtime().snapshots
    summaries = store.summaries(scan_id)
    out: dict[str, list[dict[str, Any]] | None] = {}
    for kind in LISTED_BY:
        out[kind] = _listing(store, summaries, kind) if listed.get(kind) else None
    meta: dict[str, Any] = {}
    if listed.get("conversation"):
        key = ok_part_key(summaries, "conversation_listing")
        items = store.get(key) if key else None
        if items:
            meta = dict(items[0])
    return out, meta


def _listing(
    store: SnapshotStore, summaries: Mapping[str, FetchSummary], kind: str
) -> list[dict[str, Any]] | None:
    # Per part: one source failing (conversations, say) never hides another's listing.
    key = ok_part_key(summaries, LISTING_PARTS[kind])
    return store.get(key) if key else None


def _plan_part(resource: str) -> str:
    return f"{PLAN_PART}_{resource}"


def _plan_record(scan_id: int, resource: str) -> DlpPlanRecord | None:
    items = get_runtime().snapshots.get(part_key(scan_id, _plan_part(resource)))
    return cast(DlpPlanRecord, items[0]) if items else None


def _plan_records(scan_id: int) -> dict[str, DlpPlanRecord]:
    records = {resource: _plan_record(scan_id, resource) for resource in LISTING_FETCHES}
    return {resource: record for resource, record in records.items() if record is not None}


def dlp_scan_fetches(scan_id: int) -> list[str] | None:
    """The scan's fetches when it runs the DLP stage (its canvas holds detection as a chord
    member started by the last fetch, tasks/canvas.py), else None."""
    with session_scope() as session:  # the parts alone: asked as every fetch ends
        parts = run_parts(session, scan_id)
    if parts is None:
        raise LookupError(f"scan run {scan_id} does not exist")
    fetches = [name for name in parts.get("expected") or () if name in FETCH_RESOURCES]
    return fetches if DLP_FETCHES & set(fetches) else None


def planned_summary(scan_id: int, resource: str) -> FetchSummary | None:
    """The recorded summary of a listing fetch whose files are already planned, or None.

    A fetch task redelivered after its files were planned returns this instead of listing
    again: the batches, the lanes working on them and ``finalize_dlp`` all rely on the
    listing as it was planned, so it must not be replaced by a newer one mid-scan.
    """
    if resource not in LISTING_FETCHES or _plan_record(scan_id, resource) is None:
        return None
    return get_runtime().snapshots.summaries(scan_id).get(resource)


def plan_dlp_fetch(
    scan_id: int, resource: str, scan: tuple[ScanRun, Tenant] | None = None
) -> DlpPlanResult:
    """Cut the file listings that fetch ``resource`` stored into batches, right after it.

    Called as each listing fetch ends (``gpts``, ``files``, ``conversations``), so the first
    downloads start while the other fetches are still listing. Idempotent: a second call
    returns the stored plan. Returns ``planned`` with the batch keys (none when the listing
    failed: its kind is recorded as not listed, so finalize neither resolves its findings
    nor moves the watermark), ``failed`` (profiles that do not resolve) or ``skipped``.
    ``scan``: the run and tenant the fetch loaded (else they are loaded here); the run must
    still be running when the stage is marked expected, under its row lock.
    """
    kinds = LISTING_FETCHES.get(resource)
    if kinds is None:
        return {"scan_id": scan_id, "status": "skipped", "reason": "lists no files"}
    known = _plan_record(scan_id, resource)
    if known is not None:
        return _plan_result(scan_id, known)
    run, tenant = scan if scan is not None else load_scan(scan_id)
    if run.status != ScanStatus.RUNNING.value:
        return {"scan_id": scan_id, "status": "skipped", "run": run.status}
    expected = set(run.parts.get("expected") or ())
    if not tenant.dlp_profiles or (expected and not expected & DLP_FETCHES):
        return {"scan_id": scan_id, "status": "skipped", "reason": "no DLP profiles"}
    store = get_runtime().snapshots
    try:
        with session_scope() as session:
            version = profile_set_version(resolve_profiles(session, tenant.dlp_profiles))
    except UserError as exc:
        _record(scan_id, ok=False, count=0, counts={}, error=error_summary(exc))
        _mark_expected(scan_id, None, files=0, batches=0)
        failed: DlpPlanRecord = {"version": "", "batches": [], "files": 0, "failed": True}
        store.put(scan_id, _plan_part(resource), [dict(failed)])
        return {"scan_id": scan_id, "status": "failed", "batches": []}
    summaries = store.summaries(scan_id)
    listings = {kind: _listing(store, summaries, kind) for kind in kinds}
    refs = refs_from_listings(listings)
    batches = make_batches(refs, get_settings().dlp_batch_size)
    keys = [
        store.put(scan_id, f"dlp_batch_{resource}_{i}", [r.to_dict() for r in batch])
        for i, batch in enumerate(batches)
    ]
    listed = {kind: items is not None for kind, items in listings.items()}
    if any(listed.values()):
        # Before the record: a redelivery after a crash in between marks it again (the
        # stage is never left out of the run's expected parts).
        status = _mark_expected(scan_id, version, files=len(refs), batches=len(keys))
        if status != ScanStatus.RUNNING.value:  # finished while this fetch listed
            return {"scan_id": scan_id, "status": "skipped", "run": status or "missing"}
    record: DlpPlanRecord = {
        "version": version,
        "batches": keys,
        "files": len(refs),
        "listed": listed,
    }
    store.put(scan_id, _plan_part(resource), [dict(record)])
    log.info("scan %s: %s: %d files in %d DLP batches", scan_id, resource, len(refs), len(keys))
    return _plan_result(scan_id, record)


def _plan_result(scan_id: int, record: DlpPlanRecord) -> DlpPlanResult:
    if record.get("failed"):
        return {"scan_id": scan_id, "status": "failed", "batches": []}
    return {
        "scan_id": scan_id,
        "status": "planned",
        "batches": list(record["batches"]),
        "files": record["files"],
    }


def plan_dlp(scan_id: int) -> DlpPlanResult:
    """Plan every listing fetch's files at once (``--inline``, and a scan whose canvas
    still plans after detection).

    Returns ``{"status": "planned", "batches": [key, ...], "files": n}``, ``failed``, or
    ``skipped`` (run no longer running, no DLP profiles, or every listing failed: their
    typed errors already tell the story, and a DLP stage that looked at nothing must not
    count as a success that turns an all-failed scan into a "partial" one).
    """
    run, tenant = load_scan(scan_id)
    if run.status != ScanStatus.RUNNING.value:
        return {"scan_id": scan_id, "status": "skipped", "run": run.status}
    if not tenant.dlp_profiles:
        return {"scan_id": scan_id, "status": "skipped", "reason": "no DLP profiles"}
    results = [plan_dlp_fetch(scan_id, resource) for resource in LISTING_FETCHES]
    if any(r["status"] == "failed" for r in results):
        return {"scan_id": scan_id, "status": "failed", "batches": []}
    records = _plan_records(scan_id).values()
    if not any(any((record.get("listed") or {}).values()) for record in records):
        return {"scan_id": scan_id, "status": "skipped", "reason": "no file listing"}
    keys = [key for r in results for key in r.get("batches", [])]
    files = sum(r.get("files", 0) for r in results)
    return {"scan_id": scan_id, "status": "planned", "batches": keys, "files": files}


def _mark_expected(scan_id: int, version: str | None, *, files: int, batches: int) -> str | None:
    """The stage is an expected part of the run; its file and batch counts add up over the
    listing fetches (under a row lock: the fetches plan concurrently). Only a running run
    is marked; returns the run's status (None: no such run)."""
    with session_scope() as session:
        run = session.get(ScanRun, scan_id, with_for_update=True)
        if run is None:
            return None
        if run.status != ScanStatus.RUNNING.value:
            return run.status
        expected = list(run.parts.get("expected") or [])
        if STAGE not in expected:
            expected.append(STAGE)
        before = run.parts.get(STAGE) or {}
        dlp = {
            "profile_version": version,
            "files": int(before.get("files") or 0) + files,
            "batches": int(before.get("batches") or 0) + batches,
        }
        run.parts = {**run.parts, "expected": expected, STAGE: dlp}
        session.add(run)
        return run.status


def _record(
    scan_id: int, *, ok: bool, count: int, counts: dict[str, Any], error: ErrorSummary | None
) -> None:
    """The stage's summary, beside the fetch summaries: ``finish_scan`` turns it into the
    run's status (a failed stage makes the scan partial), counts and typed errors."""
    get_runtime().snapshots.record(
        scan_id,
        STAGE,
        {
            "resource": STAGE,
            "count": count,
            "counts": counts,
            "ok": ok,
            "error": error,
            "key": None,
            "keys": {},
        },
    )


# --------------------------------------------------------------------------- batch


@dataclass
class BatchResult:
    """What one batch did: per-file outcomes (by ``kind:file_id``), counts, errors."""

    version: str = ""
    outcomes: dict[str, str] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    skip_reasons: Counter[str] = field(default_factory=Counter)
    errors: list[ErrorSummary] = field(default_factory=list)
    fatal: ErrorSummary | None = None

    @property
    def ok(self) -> bool:
        return self.fatal is None and not self.errors

    def to_dict(self) -> DlpBatchOutcome:
        return {
            "ok": self.ok,
            "version": self.version,
            "outcomes": self.outcomes,
            "counts": dict(self.counts),
            "skip_reasons": dict(self.skip_reasons),
            "errors": self.errors[:20],
            "fatal": self.fatal,
        }


def _result_part(batch_key: str) -> str:
    """``casb:scan:7:dlp_batch_3`` -> ``dlp_result_3`` (the batch's outcome part)."""
    part = batch_key.rsplit(":", 1)[-1]
    return "dlp_result_" + part.removeprefix("dlp_batch_")


def run_dlp_batch(scan_id: int, batch_key: str) -> DlpStageResult:
    """Scan one batch of files; never raises for a file's problem (see ``BatchResult``).

    The outcome is stored as part ``dlp_result_<n>`` for ``finalize_dlp``; cache rows and
    findings are written in one transaction per ``CASB_DLP_COMMIT_EVERY`` files and at the
    batch's end, so a redelivered batch finds the files written before its worker died
    cached and downloads them again only from the last write on.
    """
    run, tenant = load_scan(scan_id)
    if run.status != ScanStatus.RUNNING.value:
        return {"scan_id": scan_id, "status": "skipped", "run": run.status}
    runtime = get_runtime()
    store = runtime.snapshots
    ledger = runtime.deliveries
    result = BatchResult()
    delivery = ledger.begin(batch_key)
    max_deliveries = get_settings().max_deliveries
    poisoned = delivery.poisoned(max_deliveries)
    if delivery.deaths:
        log.warning(
            "DLP batch %s of scan %s: delivery %d after %d worker death(s); skipping %d file(s)",
            batch_key.rsplit(":", 1)[-1],
            scan_id,
            delivery.number,
            delivery.deaths,
            len(poisoned),
        )
    try:
        if delivery.exhausted(max_deliveries) and not poisoned:
            # The worker died outside any one file each time: nothing to split off.
            raise WorkerLost(f"the DLP batch killed its worker {delivery.deaths} times")
        items = store.get(batch_key)
        if items is None:
            raise LookupError("the DLP batch expired from the snapshot store")
        refs = [FileRef.from_dict(item) for item in items]
        _scan_refs(scan_id, tenant, refs, result, batch_key=batch_key, poisoned=poisoned)
    except Exception as exc:  # one batch's failure is the scan's partial result, not a crash
        if not isinstance(exc, ConnectorError | UserError | WorkerLost):
            log.exception("DLP batch %s of scan %s failed", batch_key.rsplit(":", 1)[-1], scan_id)
        result.fatal = error_summary(exc)
    finally:
        ledger.end(batch_key)
    # A one-item part: the snapshot store keeps JSON lists.
    store.put(scan_id, _result_part(batch_key), [dict(result.to_dict())])
    log.info(
        "DLP batch of scan %s: %s%s",
        scan_id,
        dict(result.counts),
        f" (failed: {result.fatal.get('kind')})" if result.fatal else "",
    )
    return {"scan_id": scan_id, "ok": result.ok, "counts": dict(result.counts)}


@dataclass
class _Verdicts:
    """A batch's cache rows and findings not yet written: written (one transaction) every
    ``every`` files and at the batch's end, so a worker killed mid-batch loses at most the
    files since the last write (its redelivery finds the others cached)."""

    tenant_id: int
    scan_id: int
    every: int
    writes: list[CacheWrite] = field(default_factory=list)
    detected: list[DetectedFinding] = field(default_factory=list)
    leaked: list[DetectedFinding] = field(default_factory=list)
    files: int = 0

    def count_file(self, ledger: DeliveryLedger, batch_key: str) -> None:
        """One more file scanned; every ``every`` files, the verdicts so far are written
        (the delivery ledger's in-flight mark cleared first: the write is no file's fault)."""
        self.files += 1
        if self.files >= self.every:
            ledger.working_on(batch_key, None)
            self.write()

    def write(self) -> None:
        self.files = 0
        if not (self.writes or self.detected or self.leaked):
            return
        with session_scope() as session:
            save_cache(session, self.tenant_id, self.writes)
            detected = self.detected + merged(session, self.tenant_id, self.leaked)
            if detected:
                apply_scan_findings(
                    session,
                    tenant_id=self.tenant_id,
                    scan_id=self.scan_id,
                    detected=detected,
                    judged_types=(),
                    resolvable=set(),
                    now=utcnow(),
                )
        self.writes, self.detected, self.leaked = [], [], []


def _scan_refs(
    scan_id: int,
    tenant: Tenant,
    refs: list[FileRef],
    result: BatchResult,
    *,
    batch_key: str,
    poisoned: AbstractSet[str] = frozenset(),
) -> None:
    """Scan each file of the batch. A file in ``poisoned`` (in flight each time a worker
    died on this batch) is skipped as ``worker_lost`` without being downloaded; the file
    being worked on is named in the delivery ledger, so a death is pinned on it."""
    assert tenant.id is not None
    ledger = get_runtime().deliveries
    settings = get_settings()
    with session_scope() as session:
        profiles = resolve_profiles(session, tenant.dlp_profiles)
        cache = load_cache(session, tenant.id, [r.file_id for r in refs])
    policy = compile_policy(profiles, settings.dlp_engine)
    ocr = ocr_engine_for(profiles)
    version = profile_set_version(profiles)
    result.version = version
    client: ComplianceClient | None = None
    limits = extract_limits(max_input_bytes=settings.max_file_bytes)
    pending = _Verdicts(tenant.id, scan_id, max(1, settings.dlp_commit_every))
    keys = scan_inventory(scan_id)

    def matched(ref: FileRef, result: Mapping[str, Any]) -> None:
        """The file's DLP finding and, for a key of the tenant's own, its leak finding."""
        agreements = list(result.get("leaked_keys") or [])
        has_match = result.get("match") is not None
        if has_match:
            finding = detected_finding(ref, result.get("match") or {})
            if agreements:
                evidence = {**finding.evidence, "leaked_own_keys": leak_refs(agreements)}
                finding = finding.model_copy(update={"evidence": evidence})
            pending.detected.append(finding)
        if agreements:
            type_id = FINDING_TYPES[ref.kind].finding_type_id if has_match else None
            pending.leaked.extend(findings_for_file(ref, agreements, keys, type_id))

    for ref in refs:
        key = f"{ref.kind}:{ref.file_id}"
        cached = cache.get(ref.file_id)
        fingerprint = ref.fingerprint
        if before_download(cached, fingerprint, version) is Step.USE_CACHE:
            assert cached is not None
            result.counts["cached"] += 1
            _count_outcome(result, key, cached.outcome, cached.result.get("reason"))
            if cached.outcome == MATCHED or cached.result.get("leaked_keys"):
                matched(ref, cached.result if cached.outcome == MATCHED else _no_match(cached))
            continue
        if key in poisoned:
            write = CacheWrite(
                ref.file_id,
                fingerprint,
                None,
                version,
                SKIPPED,
                {"reason": "worker_lost", "detail": "a worker died on it on every delivery"},
            )
            pending.writes.append(write)
            _count_outcome(result, key, SKIPPED, "worker_lost")
            log.warning("scan %s: file %s skipped: worker_lost", scan_id, ref.file_id)
            continue
        if client is None:
            runtime = get_runtime()
            client = ComplianceClient(
                tenant_access(tenant),
                runtime.budget,
                observer=runtime.observer,
                options=ClientOptions(download_timeout=settings.download_timeout_seconds),
            )
        ledger.working_on(batch_key, key)
        try:
            write = _scan_one(
                client,
                policy,
                version,
                ref,
                cached,
                limits,
                settings.max_file_bytes,
                ocr,
                keys,
            )
        except _FATAL:
            raise
        except ConnectorError as exc:  # transient: retried next scan (a slow one so often)
            pending.writes.extend(_download_failed(result, key, ref, cached, version, exc))
            continue
        pending.writes.append(write)
        _count_outcome(result, key, write.outcome, write.result.get("reason"))
        if write.outcome == MATCHED or write.result.get("leaked_keys"):
            matched(ref, write.result if write.outcome == MATCHED else _no_match_write(write))
        if write.result.get("reused"):
            result.counts["reused"] += 1
        pending.count_file(ledger, batch_key)
    if client is not None:
        # Each file's mark replaced the previous one (one Redis call per downloaded file);
        # the batch's own writes below are no file's fault.
        ledger.working_on(batch_key, None)
    pending.write()


def _download_failed(
    result: BatchResult,
    key: str,
    ref: FileRef,
    cached: CacheState | None,
    version: str,
    exc: ConnectorError,
) -> list[CacheWrite]:
    """A file whose download failed is an error, not cached: the next scan tries again.
    A download too slow ``max_deliveries`` times in a row ends as ``skipped: too_slow``
    (cached, never clean); until then its cache row only counts the attempts."""
    writes: list[CacheWrite] = []
    if isinstance(exc, DownloadTooSlow):
        slow = too_slow_result(cached, ref.fingerprint, get_settings().max_deliveries)
        writes.append(CacheWrite(ref.file_id, ref.fingerprint, None, version, SKIPPED, slow))
        if slow["given_up"]:
            _count_outcome(result, key, SKIPPED, TOO_SLOW)
            log.warning("file %s skipped: %s (%s)", ref.file_id, TOO_SLOW, slow["detail"])
            return writes
    result.counts["errors"] += 1
    result.outcomes[key] = "error"
    result.errors.append({"file_id": ref.file_id, **error_summary(exc)})
    return writes


def _no_match(cached: CacheState) -> dict[str, Any]:
    """A clean file's cached result that still holds key agreements (no DLP finding)."""
    return {"leaked_keys": cached.result.get("leaked_keys")}


def _no_match_write(write: CacheWrite) -> dict[str, Any]:
    return {"leaked_keys": write.result.get("leaked_keys")}


def _count_outcome(result: BatchResult, key: str, outcome: str, reason: Any) -> None:
    result.outcomes[key] = outcome
    result.counts["files"] += 1
    result.counts[outcome] += 1
    if outcome == SKIPPED:
        result.skip_reasons[str(reason or "unknown")] += 1


def _scan_one(
    client: ComplianceClient,
    policy: Policy,
    version: str,
    ref: FileRef,
    cached: CacheState | None,
    limits: ExtractLimits,
    max_bytes: int,
    ocr: OcrEngine | None = None,
    keys: list[InventoryKey] | None = None,
) -> CacheWrite:
    """Download (spooled to memory, then disk), then reuse or compute the verdict.

    ``keys``: the tenant's key inventory; an OpenAI key found in the file is compared with it
    inside the matcher (``KeyProbe``), and only the agreements are kept (``leaked_keys``).
    """
    fingerprint = ref.fingerprint

    def skipped(reason: str, sha: str | None = None, detail: str = "") -> CacheWrite:
        return CacheWrite(
            ref.file_id, fingerprint, sha, version, SKIPPED, {"reason": reason, "detail": detail}
        )

    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
        conversation = ref.kind == "conversation"
        try:
            download = client.download_file(
                ref.kind,  # type: ignore[arg-type]
                ref.file_id,
                spool,  # type: ignore[arg-type]
                user_id=ref.owner_id if conversation else None,
                conversation_id=ref.parent_id if conversation else None,
                max_bytes=max_bytes,
            )
        except FileSkipped as exc:
            return skipped(exc.reason)
        if reusable_after_download(cached, download.sha256, version):
            assert cached is not None
            return CacheWrite(
                ref.file_id,
                fingerprint,
                download.sha256,
                version,
                cached.outcome,
                {**cached.result, "reused": True},
            )
        spool.seek(0)
        started = time.monotonic()
        # one time budget for the file: extraction and matching both stop at it (truncated)
        deadline = started + limits.max_seconds
        probe = KeyProbe(keys or [])
        name = ref.name or download.filename or ref.file_id
        # a file read only in part that matched nothing is skipped (truncated /
        # ocr_unavailable), never clean; one time budget covers extraction and matching, and
        # the memory cap while matching skips the file as too_large: see detectors.dlp.document
        verdict = scan_document(name, spool, policy, limits, ocr, deadline, probe)  # type: ignore[arg-type]
        if verdict.outcome == SKIPPED:
            return skipped(verdict.reason or "corrupt", download.sha256, verdict.detail[:200])
        match = verdict.match
        assert match is not None
        _metrics(match.bytes_scanned, time.monotonic() - started)
    truncated = verdict.truncated
    extra: dict[str, Any] = {"truncated": truncated} if truncated else {}
    if probe.found:
        extra["leaked_keys"] = probe.results()
    if match.matched:
        return CacheWrite(
            ref.file_id,
            fingerprint,
            download.sha256,
            version,
            MATCHED,
            {"match": verdict.evidence(), "size": download.size, **extra},
        )
    return CacheWrite(
        ref.file_id,
        fingerprint,
        download.sha256,
        version,
        CLEAN,
        {"bytes_scanned": match.bytes_scanned, "size": download.size, **extra},
    )


def _metrics(n: int, seconds: float) -> None:
    record_dlp_bytes(n, seconds)


# --------------------------------------------------------------------------- finalize


def finalize_dlp(scan_id: int) -> DlpStageResult:
    """After every batch: resolve, advance the watermark, record the stage on the run.

    A batch that failed or never reported keeps the stage from succeeding: the scan is
    partial and the watermark stays, so its conversations are listed again next scan.
    Resolution is per file and only ever from evidence this scan gathered, so it is safe
    even then.
    """
    run, tenant = load_scan(scan_id)
    if run.status != ScanStatus.RUNNING.value:
        return {"scan_id": scan_id, "status": "skipped", "run": run.status}
    records = list(_plan_records(scan_id).values())
    if not records:
        return {"scan_id": scan_id, "status": "skipped", "reason": "no DLP plan"}
    if any(record.get("failed") for record in records):
        # Planning recorded the stage's failure already; nothing was scanned.
        return {"scan_id": scan_id, "status": "skipped", "reason": "DLP planning failed"}
    listed = {kind: ok for r in records for kind, ok in (r.get("listed") or {}).items()}
    if not any(listed.values()):
        # Every listing failed: as if the stage never ran (see ``plan_dlp``).
        return {"scan_id": scan_id, "status": "skipped", "reason": "no file listing"}
    plan = _combined_plan(records)
    totals = _gather_batches(scan_id, records)
    stage_ok = totals.ok
    listings, meta = _listings(scan_id, listed)
    states = _listing_states(listings, meta)
    messages = _message_parts(scan_id)
    started = as_utc(run.started_at) or utcnow()
    assert tenant.id is not None
    with session_scope() as session:
        message_keys, message_lifecycle = _apply_messages(session, tenant.id, scan_id, messages)
        stored = open_dlp_keys(session, tenant.id)
        keys = resolvable_keys(stored, states, totals.outcomes) | message_keys
        lifecycle = resolve_dlp_findings(
            session, tenant_id=tenant.id, scan_id=scan_id, keys=keys, now=utcnow()
        )
        apply_suppressions(session, tenant.id)
        confirmed = states["conversation"].ok and stage_ok
        watermark, logs_mark = _advance_watermarks(
            session,
            tenant,
            meta,
            listing_ok=states["conversation"].ok,
            stage_ok=stage_ok,
            started=started.timestamp(),
        )
        summary = {
            "profile_version": plan["version"],
            "files": plan.get("files", 0),
            "batches": len(plan["batches"]),
            "batches_missing": totals.missing,
            "counts": dict(totals.counts),
            "skip_reasons": dict(totals.skip_reasons),
            "lifecycle": lifecycle,
            "listing_since": meta.get("since"),
            "watermark": watermark,
            "watermark_confirmed": confirmed,
            "conversation_source": meta.get("source"),
            "logs_watermark": logs_mark,
            "messages": {
                "matched": len(messages[0]) if messages else 0,
                "resolved_clean": len(message_keys),
                "lifecycle": message_lifecycle,
            },
        }
        run_row = session.get(ScanRun, scan_id)
        if run_row is not None:
            run_row.parts = {**run_row.parts, STAGE: summary}
            session.add(run_row)
    counts = dict(totals.counts)
    _record(
        scan_id,
        ok=stage_ok,
        count=int(counts.get("files", 0)),
        counts={**counts, "skip_reasons": dict(totals.skip_reasons)},
        error=None if stage_ok else totals.error(),
    )
    log.info(
        "DLP stage of scan %s: %s, resolved %s, watermark %s",
        scan_id,
        counts,
        lifecycle.get("resolve", 0),
        "advanced" if confirmed else "kept",
    )
    return {"scan_id": scan_id, "ok": stage_ok, "counts": counts, "lifecycle": lifecycle}


@dataclass
class _BatchTotals:
    """Every batch outcome of the scan added up, for ``finalize_dlp``."""

    outcomes: dict[tuple[str, str], str] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    skip_reasons: Counter[str] = field(default_factory=Counter)
    errors: list[ErrorSummary] = field(default_factory=list)
    missing: int = 0

    @property
    def ok(self) -> bool:
        return self.missing == 0 and not self.errors

    def add(self, batch: DlpBatchOutcome, version: str) -> None:
        for ref_key, outcome in (batch.get("outcomes") or {}).items():
            kind, _, file_id = ref_key.partition(":")
            self.outcomes[(kind, file_id)] = outcome
        self.counts.update(batch.get("counts") or {})
        self.skip_reasons.update(batch.get("skip_reasons") or {})
        self.errors += batch.get("errors") or []
        fatal = batch.get("fatal")
        if fatal:
            self.errors.append(fatal)
        if batch.get("version") and batch["version"] != version:
            self.errors.append(
                {
                    "kind": "task_error",
                    "message": "the tenant's DLP profiles changed during the scan",
                    "hint": "the next scan uses the new profiles",
                }
            )

    def error(self) -> ErrorSummary:
        """The stage's one typed error: how many went wrong, and the first of them."""
        first: ErrorSummary = self.errors[0] if self.errors else {}
        summary: ErrorSummary = {
            "kind": first.get("kind") or "task_error",
            "message": (
                f"{len(self.errors)} DLP error(s), {self.missing} batch(es) without a result"
                + (f"; first: {first.get('message')}" if first.get("message") else "")
            )[:500],
            "hint": first.get("hint") or "the next scan retries these files",
        }
        if first.get("remedy"):
            summary["remedy"] = first.get("remedy")
            summary["api"] = first.get("api")
        return summary


def _combined_plan(records: list[DlpPlanRecord]) -> DlpPlanRecord:
    """The listing fetches' plans as one (their profile version is the scan's)."""
    versions = [r["version"] for r in records if r.get("version")]
    return {
        "version": versions[0] if versions else "",
        "batches": [key for r in records for key in r["batches"]],
        "files": sum(r.get("files", 0) for r in records),
    }


def _gather_batches(scan_id: int, records: list[DlpPlanRecord]) -> _BatchTotals:
    """Add up the stored outcome of every planned batch; a batch without one is missing."""
    store = get_runtime().snapshots
    totals = _BatchTotals()
    for plan in records:
        for key in plan["batches"]:
            got = store.get(part_key(scan_id, _result_part(key)))
            if not got:
                totals.missing += 1
                continue
            totals.add(cast(DlpBatchOutcome, got[0]), plan["version"])
    return totals


def _listing_states(
    listings: Mapping[str, list[dict[str, Any]] | None], meta: Mapping[str, Any]
) -> dict[str, ListingState]:
    """What each kind's listing proves: fetched or not, its files, whether it is complete."""
    from_logs = meta.get("source") == "logs"
    return {
        kind: ListingState(
            ok=items is not None,
            file_ids=frozenset(str(i.get("file_id")) for i in items or []),
            # The Logs Platform delivers each message once and keeps files ~30 days: its
            # listing never proves a conversation file gone.
            complete=kind != "conversation"
            or (not from_logs and float(meta.get("since") or 0) <= 0),
        )
        for kind, items in listings.items()
    }


def _apply_messages(
    session: Session,
    tenant_id: int,
    scan_id: int,
    messages: tuple[list[MessageMatch], set[str]] | None,
) -> tuple[set[tuple[str, str]], dict[str, int]]:
    """Upsert the message findings; the keys of open ones this scan read clean, and the
    lifecycle of the upsert. Nothing when the conversation fetch failed."""
    if messages is None:
        return set(), {}
    matched, clean = messages
    lifecycle: dict[str, int] = {}
    if matched:
        applied = apply_scan_findings(
            session,
            tenant_id=tenant_id,
            scan_id=scan_id,
            detected=[message_finding(m) for m in matched],
            judged_types=(),
            resolvable=set(),
            now=utcnow(),
        )
        lifecycle = applied.summary()
    gone = resolvable_messages(
        open_message_ids(session, tenant_id), clean, {m.resource_id for m in matched}
    )
    return {(MESSAGE_TYPE.finding_type_id, r) for r in gone}, lifecycle


def _advance_watermarks(
    session: Session,
    tenant: Tenant,
    meta: Mapping[str, Any],
    *,
    listing_ok: bool,
    stage_ok: bool,
    started: float,
) -> tuple[float, str | None]:
    """Move the conversation (and Logs Platform) watermarks as far as this scan proved;
    returns both as they now stand."""
    fresh = session.get(Tenant, tenant.id)
    if fresh is None:
        return tenant.conversation_watermark, tenant.logs_watermark
    newest = meta.get("newest_update")
    mark = next_watermark(
        fresh.conversation_watermark,
        listing_ok=listing_ok,
        stage_ok=stage_ok,
        newest_update=float(newest) if newest is not None else None,
        scan_started=started,
    )
    if mark != fresh.conversation_watermark:
        fresh.conversation_watermark = mark
        session.add(fresh)
    end = meta.get("logs_last_end_time")
    confirmed = listing_ok and stage_ok
    if meta.get("source") == "logs" and confirmed and end and end != fresh.logs_watermark:
        # Every listed log file's records were processed (message DLP in the fetch, their
        # file references in this stage's batches): the next scan starts after.
        fresh.logs_watermark = str(end)
        session.add(fresh)
    return mark, fresh.logs_watermark


# --------------------------------------------------------------------------- inline


def run_dlp_inline(scan_id: int) -> DlpStageResult | DlpPlanResult:
    """The whole DLP stage in this process (``casb scan --inline``, the embedded demo)."""
    planned = plan_dlp(scan_id)
    if planned["status"] not in ("planned", "failed"):
        return planned
    for key in planned.get("batches", []):
        run_dlp_batch(scan_id, key)
    return finalize_dlp(scan_id)
