"""`casb scan`, `casb rescan`, `casb scans`, `casb health`: run scans and see their state.

``scan`` creates the run in PostgreSQL first (coalescing onto an active run, and saying so)
and then sends ``casb.scan_tenant`` with that run's id, so ``--wait`` can follow it;
``--inline`` runs the same pipeline functions in this process with in-memory snapshots and
a local rate budget (no broker, no worker). ``rescan`` is the bare queue contract
(docs/operations.md): ``send_task('casb.scan_tenant', args=[tenant_id])`` on queue ``scans``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import typer
from rich.live import Live
from rich.markup import escape
from rich.text import Text

from core.errors import UserError
from core.time import as_utc, iso_z
from schemas.tables import ScanRun, ScanStatus, ScanTrigger
from workers.cli.common import (
    EXIT_GATE,
    SafeTable,
    clean_text,
    console,
    db_session,
    fail,
    print_json,
)
from workers.cli.remedies import error_remedy, remedy_command, remedy_text

_STATUS_STYLE = {
    "succeeded": "green",
    "partial": "yellow",
    "failed": "red",
    "running": "cyan",
    "queued": "cyan",
    "healthy": "green",
    "unknown": "dim",
}


def _style(value: str | None) -> Text:
    value = value or "-"
    return Text(clean_text(value), style=_STATUS_STYLE.get(value, "red"))


def _ago(value: datetime | None) -> str:
    if value is None:
        return "never"
    seconds = int((datetime.now(UTC) - (as_utc(value) or value)).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{max(seconds, 0)}s ago"


def _resolve(refs: list[str], all_: bool) -> list[tuple[int, str]]:
    from store.tenants import get_tenant, list_tenants

    if not refs and not all_:
        fail("name at least one TENANT or use --all (see `casb tenant list`)")
    with db_session() as session:
        tenants = list_tenants(session) if all_ else [get_tenant(session, r) for r in refs]
        if all_:
            tenants = [t for t in tenants if t.enabled]
        if not tenants:
            fail("no enabled tenants: register one with `casb tenant add`")
        return [(t.id, t.slug) for t in tenants if t.id is not None]


# --------------------------------------------------------------------------- scan


@dataclass
class _Tracked:
    slug: str
    scan_id: int
    note: str = ""
    result: dict[str, Any] = field(default_factory=dict)


def scan(
    tenants: list[str] = typer.Argument(None, help="Tenant slugs or ids.", show_default=False),
    all_: bool = typer.Option(False, "--all", help="Scan every enabled tenant."),
    wait: bool = typer.Option(False, "--wait", help="Show live progress until the scans end."),
    inline: bool = typer.Option(
        False, "--inline", help="Run in this process (no broker or worker needed)."
    ),
    fail_on_error: bool = typer.Option(
        False,
        "--fail-on-error",
        help="With --wait or --inline: exit 1 when a scan did not succeed (for scripts and CI).",
    ),
) -> None:
    """Scan tenants now: queue the scans for the workers, or run them in-process (--inline)."""
    if fail_on_error and not (wait or inline):
        raise UserError("--fail-on-error needs --wait or --inline (it judges finished scans)")
    targets = _resolve(tenants or [], all_)
    unsuccessful = 0
    if inline:
        unsuccessful = _scan_inline(targets)
    else:
        tracked = _enqueue(targets)
        if wait:
            _follow(tracked)
            unsuccessful = _summary([t.scan_id for t in tracked])
        else:
            console.print("follow with [bold]casb scans[/] or re-run with --wait")
    if fail_on_error and unsuccessful:
        raise typer.Exit(EXIT_GATE)


def _scan_inline(targets: list[tuple[int, str]]) -> int:
    """Run the scans in-process; how many did not succeed."""
    from pipeline.inline import run_inline
    from pipeline.runtime import use_embedded

    # The database's revision was checked when the targets were resolved (db_session).
    use_embedded(True)
    scan_ids: list[int] = []
    for tenant_id, slug in targets:
        with console.status(f"scanning [bold]{slug}[/] in-process…"):
            result = run_inline(tenant_id, ScanTrigger.MANUAL)
        if result.get("status") == "coalesced":
            console.print(
                f"{slug}: scan {result['scan_id']} is already active (request coalesced onto it)"
            )
            continue
        console.print(
            Text.assemble(f"{slug}: scan {result.get('scan_id')} ", _style(result.get("status")))
        )
        if result.get("scan_id"):
            scan_ids.append(int(result["scan_id"]))
    return _summary(scan_ids) if scan_ids else 0


def _enqueue(targets: list[tuple[int, str]]) -> list[_Tracked]:
    from store.scans import request_scan
    from store.tenants import get_tenant
    from workers.celery_app import app
    from workers.celeryconfig import SCAN_TENANT, SCANS

    tracked: list[_Tracked] = []
    for tenant_id, slug in targets:
        with db_session() as session:
            request = request_scan(session, get_tenant(session, tenant_id), ScanTrigger.MANUAL)
        if request.coalesced:
            console.print(
                f"{slug}: scan {request.scan_id} is already {request.status}: "
                "request coalesced onto it"
            )
            tracked.append(_Tracked(slug, request.scan_id, "coalesced"))
            continue
        try:
            app.send_task(
                SCAN_TENANT,
                args=[tenant_id],
                kwargs={"trigger": ScanTrigger.MANUAL.value, "scan_id": request.scan_id},
                queue=SCANS,
                retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
            )
        except Exception as exc:
            _forget(request.scan_id)
            fail(
                f"cannot reach the broker ({type(exc).__name__}): start Redis and check "
                "CASB_BROKER_URL, or run in-process with `casb scan --inline`"
            )
        console.print(f"{slug}: scan {request.scan_id} queued")
        tracked.append(_Tracked(slug, request.scan_id))
    return tracked


def _forget(scan_id: int) -> None:
    from store.scans import forget_queued

    with db_session() as session:
        forget_queued(session, scan_id)


def _progress(run: ScanRun, done_parts: int) -> str:
    expected = len(run.parts.get("expected") or [])
    if run.status == ScanStatus.QUEUED.value:
        return "waiting for a worker"
    if run.status == ScanStatus.RUNNING.value:
        dlp = run.parts.get("dlp")
        if isinstance(dlp, dict) and "files" in dlp:  # planned: the longest stage, say so
            return f"DLP: {dlp['files']} files in {dlp.get('batches', '?')} batches"
        if "detect" in run.parts:
            return "detected posture; DLP/finishing"
        return f"fetching {done_parts}/{expected or '?'}"
    return "done"


#: Longest pause between two looks at the runs (progress); a run's end wakes the loop at once.
FOLLOW_REFRESH_SECONDS = 0.5


def _follow(tracked: list[_Tracked], timeout: float = 3600) -> None:
    from core.settings import get_settings
    from pipeline.snapshots import RedisSnapshotStore, finished_channel

    # The fleet's Redis directly (not the workers' runtime: no rate budgets or HTTP clients
    # to import just to read progress).
    settings = get_settings()
    client = _redis_or_none(settings)
    store = RedisSnapshotStore(client, settings.snapshot_ttl_seconds) if client else None
    deadline = time.monotonic() + timeout
    # Subscribed before the first look at the runs: a scan that ends after it is announced
    # here, one that ended before it is seen as finished in PostgreSQL.
    wake = _Wake(client, [finished_channel(t.scan_id) for t in tracked])

    def render() -> tuple[SafeTable, bool]:
        table = SafeTable(title="scans in progress")
        for column in ("tenant", "scan", "status", "progress"):
            table.add_column(column)
        finished = True
        with db_session() as session:
            for item in tracked:
                run = session.get(ScanRun, item.scan_id)
                if run is None:
                    table.add_row(item.slug, str(item.scan_id), "gone", "")
                    continue
                active = run.status in ScanStatus.active()
                finished = finished and not active
                try:
                    done = len(store.summaries(item.scan_id)) if active and store else 0
                except Exception:
                    done = 0
                table.add_row(
                    item.slug, str(item.scan_id), _style(run.status), _progress(run, done)
                )
        return table, finished

    try:
        table, finished = render()
        with Live(table, console=console, refresh_per_second=4, transient=False) as live:
            while not finished and time.monotonic() < deadline:
                wake.wait(FOLLOW_REFRESH_SECONDS)
                table, finished = render()
                live.update(table)
    finally:
        wake.close()
    if not finished:
        fail("gave up waiting: the scans are still running (see `casb scans`)")


def _redis_or_none(settings: Any) -> Any:
    try:
        return settings.redis()
    except Exception:  # progress and the wake-up are extras: PostgreSQL has the runs
        return None


class _Wake:
    """Waits for a scan-finished announcement (Redis pub/sub), or sleeps when there is none."""

    def __init__(self, client: Any, channels: list[str]) -> None:
        # Held: a Redis client that is garbage-collected closes its pool, and with it the
        # subscription's connection.
        self.client = client
        self.pubsub: Any = None
        if client is None:
            return
        try:
            self.pubsub = client.pubsub(ignore_subscribe_messages=True)
            self.pubsub.subscribe(*channels)
        except Exception:  # polling alone still follows the scans
            self.close()

    def wait(self, seconds: float) -> None:
        if self.pubsub is None:
            time.sleep(seconds)
            return
        started = time.monotonic()
        try:
            self.pubsub.get_message(timeout=seconds)
        except Exception:
            self.close()
            time.sleep(max(0.0, seconds - (time.monotonic() - started)))

    def close(self) -> None:
        pubsub, self.pubsub = self.pubsub, None
        if pubsub is not None:
            try:
                pubsub.close()
            except Exception:
                return


def _errors_cell(errors: list[dict[str, Any]]) -> str:
    """The typed errors of a run in a few words: ``credential_error (users, invites +3)``.

    One kind per line: a revoked key fails every fetch the same way, and listing each
    resource in a narrow terminal folded the table into an unreadable column.
    """
    by_kind: dict[str, list[str]] = {}
    for error in errors:
        by_kind.setdefault(str(error.get("kind") or "error"), []).append(
            str(error.get("resource") or "scan")
        )
    lines = []
    for kind, resources in by_kind.items():
        shown = ", ".join(resources[:2]) + (f" +{len(resources) - 2}" if len(resources) > 2 else "")
        lines.append(f"{kind} ({shown})")
    return "\n".join(lines) or "-"


def _summary(scan_ids: list[int]) -> int:
    """The result table, then for every scan that did not succeed why and what to do.

    Returns how many scans did not succeed."""
    from store.findings import open_counts_by_severity
    from store.scans import runs_with_tenants, worst_error

    table = SafeTable(title="scan results")
    table.add_column("tenant", no_wrap=True)
    table.add_column("scan")
    table.add_column("status", no_wrap=True)
    table.add_column("seconds")
    table.add_column("open c/h/m/l", no_wrap=True)
    table.add_column("errors", overflow="fold")
    problems: list[str] = []
    with db_session() as session:
        for run, tenant in runs_with_tenants(session, scan_ids):
            scan_id = run.id
            slug = tenant.slug if tenant else str(run.tenant_id)
            counts = open_counts_by_severity(session, run.tenant_id)
            table.add_row(
                slug,
                str(scan_id),
                _style(run.status),
                str(run.counts.get("seconds", "-")),
                "/".join(str(counts[s]) for s in ("critical", "high", "medium", "low")),
                _errors_cell(run.errors),
            )
            if run.status != ScanStatus.SUCCEEDED.value:
                detail = tenant.health_detail if tenant and tenant.health_detail else None
                fix = _fix(worst_error(run.errors), slug)
                problems.append(
                    f"{slug}: scan {scan_id} {run.status}"
                    + (f": {detail}" if detail else ": see `casb scans --json` for its errors")
                    + (f"; {fix}" if fix else "")
                )
    console.print(table)
    for line in problems:
        console.print(line, style="red", highlight=False, markup=False, soft_wrap=True)
    console.print(
        "see findings with [bold]casb findings[/]; tenant state with [bold]casb health[/]"
    )
    return len(problems)


# --------------------------------------------------------------------------- rescan


def rescan(tenant: str = typer.Argument(..., help="Tenant slug or id.")) -> None:
    """Put a rescan request on the `scans` queue (the same task beat and Flower send)."""
    from store.tenants import get_tenant
    from workers.celery_app import app
    from workers.celeryconfig import SCAN_TENANT, SCANS

    with db_session() as session:
        row = get_tenant(session, tenant)
        tenant_id, slug = row.id, row.slug
    try:
        result = app.send_task(
            SCAN_TENANT,
            args=[tenant_id],
            kwargs={"trigger": ScanTrigger.MANUAL.value},
            queue=SCANS,
            retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
        )
    except Exception as exc:
        fail(
            f"cannot reach the broker ({type(exc).__name__}): start Redis and check "
            "CASB_BROKER_URL, or scan in-process with `casb scan --inline`"
        )
    console.print(
        f"rescan of [bold]{slug}[/] queued (task {result.id}); an active scan coalesces it. "
        "Follow with `casb scans`."
    )


# --------------------------------------------------------------------------- scans / health


def scans(
    tenant: str = typer.Option(None, "--tenant", help="Only this tenant."),
    limit: int = typer.Option(20, "--limit", min=1, max=1000, help="How many runs."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Recent scan runs: trigger, status, counts, typed errors, timings."""
    from store.scans import recent_runs
    from store.tenants import get_tenant, tenant_slugs

    with db_session() as session:
        tenant_id = get_tenant(session, tenant).id if tenant else None
        runs = recent_runs(session, tenant_id=tenant_id, limit=limit)
        slugs: dict[int | None, str] = dict(tenant_slugs(session).items())
    if as_json:
        print_json([_run_json(r, slugs) for r in runs])
        return
    table = SafeTable(title=f"{len(runs)} recent scans")
    for column in ("scan", "tenant", "trigger", "status", "requested", "seconds", "findings"):
        table.add_column(column)
    table.add_column("errors", overflow="fold")
    for run in runs:
        table.add_row(
            str(run.id),
            slugs.get(run.tenant_id, str(run.tenant_id)),
            run.trigger + (f" (+{run.coalesced_requests})" if run.coalesced_requests else ""),
            _style(run.status),
            _ago(run.requested_at),
            str(run.counts.get("seconds", "-")),
            str(run.counts.get("findings", "-")),
            _errors_cell(run.errors),
        )
    console.print(table)


def _run_json(run: ScanRun, slugs: dict[int | None, str]) -> dict[str, Any]:
    return {
        "scan_id": run.id,
        "tenant": slugs.get(run.tenant_id),
        "trigger": run.trigger,
        "status": run.status,
        "coalesced_requests": run.coalesced_requests,
        "requested_at": iso_z(run.requested_at),
        "started_at": iso_z(run.started_at),
        "finished_at": iso_z(run.finished_at),
        "counts": run.counts,
        "errors": [_error_json(e, slugs.get(run.tenant_id)) for e in run.errors],
    }


def _error_json(error: dict[str, Any], slug: str | None) -> dict[str, Any]:
    """A stored error with the command its remedy stands for (``command``, or None)."""
    command = remedy_command(error.get("remedy"), error.get("api"), slug) if slug else None
    return {**error, "command": command}


def _fix(error: Mapping[str, Any] | None, slug: str) -> str | None:
    """What to run for ``error``'s remedy, or None (no error, no remedy, no command)."""
    return (remedy_text(error.get("remedy"), error.get("api"), slug) if error else "") or None


def health(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Per tenant: integration health, why, last scan, open findings by severity, the
    conversation sources (retired ones with their fix, truncated conversations, unreadable
    Logs Platform records), and the files the last scan's DLP stage skipped, by reason
    (``ocr_unavailable``: images needed Tesseract; ``truncated``: read only in part)."""
    from store.alerts import failed_by_tenant
    from store.findings import open_counts_by_tenant, zero_counts
    from store.scans import (
        dlp_skip_summary,
        dlp_skips,
        health_error,
        last_finished_runs,
        latest_source_health,
        part_problems,
        source_summary,
    )
    from store.tenants import list_tenants

    rows: list[dict[str, Any]] = []
    with db_session() as session:
        open_counts = open_counts_by_tenant(session)
        failed_alerts = failed_by_tenant(session)
        source_notes = latest_source_health(session)
        last_runs = last_finished_runs(session)
        for tenant in list_tenants(session):
            assert tenant.id is not None
            sources = source_notes.get(tenant.id)
            last_run = last_runs.get(tenant.id)
            problems = part_problems(last_run)
            skipped = dlp_skips(last_run.parts if last_run is not None else None)
            error = health_error(tenant, last_run)
            rows.append(
                {
                    "tenant": tenant.slug,
                    "enabled": tenant.enabled,
                    "health": tenant.health,
                    "detail": tenant.health_detail,
                    **error_remedy(error, tenant.slug),
                    "health_changed_at": iso_z(tenant.health_changed_at),
                    "last_scan_at": iso_z(tenant.last_scan_at),
                    "next_scan_at": iso_z(tenant.next_scan_at),
                    "open_findings": open_counts.get(tenant.id) or zero_counts(),
                    "failed_alerts": failed_alerts.get(tenant.id, 0),
                    "conversation_sources": sources,
                    "parts": problems,
                    "dlp_skipped": skipped,
                    "_last": tenant.last_scan_at,
                    "_fix": _fix(error, tenant.slug),
                    "_sources": source_summary(sources),
                }
            )
    if as_json:
        print_json([{k: v for k, v in r.items() if not k.startswith("_")} for r in rows])
        return
    if not rows:
        console.print("no tenants yet: register one with `casb tenant add`")
        return
    table = SafeTable(title="tenant health")
    for column in ("tenant", "health", "last scan", "critical", "high", "medium", "low"):
        table.add_column(column)
    table.add_column("detail", overflow="fold")
    for r in rows:
        counts = r["open_findings"]
        table.add_row(
            r["tenant"] + ("" if r["enabled"] else " (disabled)"),
            _style(r["health"]),
            _ago(r["_last"]),
            *(str(counts[s]) for s in ("critical", "high", "medium", "low")),
            _detail_cell(
                "; ".join(
                    x
                    for x in (
                        r["detail"],
                        r["_sources"],
                        dlp_skip_summary(r["dlp_skipped"]),
                        f"{r['failed_alerts']} alert delivery(ies) failed: see `casb alert list`"
                        if r["failed_alerts"]
                        else None,
                    )
                    if x
                ),
                r["parts"],
            ),
        )
    console.print(table)
    # Under the table, unfolded, so each command can be copied whole.
    for r in rows:
        if r["_fix"]:
            line = f"{r['tenant']}: {r['_fix']}"
            console.print(line, style="red", highlight=False, markup=False, soft_wrap=True)


def _detail_cell(detail: str | None, problems: dict[str, dict[str, Any]]) -> str:
    """The health detail, then the parts of the last scan that were not fetched:
    ``parts not fetched: logins unavailable (HTTP 400); gpts failed (api_error)``."""
    cells = []
    for part, info in problems.items():
        why = f"HTTP {info['status']}" if info.get("status") else info.get("kind") or "?"
        cells.append(f"{part} {info.get('state')} ({why})")
    lines = [escape(detail)] if detail else []
    if cells:
        lines.append(escape("parts not fetched: " + "; ".join(cells)))
    return "\n".join(lines) or "-"


def register(app: typer.Typer) -> None:
    app.command("scan")(scan)
    app.command("rescan")(rescan)
    app.command("scans")(scans)
    app.command("health")(health)
