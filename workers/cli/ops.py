"""`casb report` (self-contained HTML) and `casb metrics serve` (Prometheus exporter)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from core.errors import UserError
from exports.report import MAX_CHANGES_PER_TENANT, render_html
from store.changes import query_changes
from store.findings import findings_of_tenants
from store.scans import runs_of_tenants
from store.suppressions import release_expired
from store.tenants import tenants_by_slug
from workers.cli.common import console, db_session, err_console


class ReportFormat(StrEnum):
    html = "html"


def report(
    fmt: ReportFormat = typer.Option(ReportFormat.html, "--format", "-f", help="Report format."),
    tenant: list[str] = typer.Option(
        None, "--tenant", "-t", help="Tenant slug (repeatable; default: the whole fleet)."
    ),
    output: Path = typer.Option(..., "--output", "-o", help="File to write the page to."),
    max_rows: int = typer.Option(
        2000, "--max-rows", min=1, help="Cap on rows in the open-findings table."
    ),
) -> None:
    """Write one self-contained HTML page: severity, categories, tenant health, trends."""
    with db_session() as session:
        tenants = tenants_by_slug(session, tenant or [])
        ids = [t.id for t in tenants if t.id is not None]
        release_expired(session, ids)
        findings = findings_of_tenants(session, ids)
        runs = runs_of_tenants(session, ids)
        changes = [
            change
            for tenant_id in ids
            for change in query_changes(
                session, tenant_ids=[tenant_id], limit=MAX_CHANGES_PER_TENANT
            )
        ]
        page = render_html(tenants, findings, runs, changes=changes, max_rows=max_rows)
    try:
        output.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot write {output}: {exc.strerror or exc}") from None
    opened = sum(1 for f in findings if f.status == "open")
    console.print(
        f"wrote {output} ({len(tenants)} tenant(s), {opened} open finding(s), {fmt.value})",
        highlight=False,
    )


metrics_app = typer.Typer(help="Prometheus metrics of the fleet.", no_args_is_help=True)


@metrics_app.command("serve")
def metrics_serve(
    port: int = typer.Option(None, "--port", "-p", help="Port (default CASB_METRICS_PORT, 9808)."),
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address to bind (0.0.0.0 in a container)."
    ),
    tenant_label_limit: int = typer.Option(
        100, "--tenant-label-limit", min=0, help="Tenants with their own label; the rest: _other."
    ),
) -> None:
    """Serve /metrics: scans, durations, findings, API calls/429s, DLP MB/s, queue depth."""
    from core.settings import get_settings
    from workers.logging import configure_from_settings
    from workers.metrics import make_exporter

    configure_from_settings()
    chosen = port or get_settings().metrics_port
    try:
        server = make_exporter(host, chosen, tenant_label_limit=tenant_label_limit)
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{chosen}: {exc.strerror or exc}") from None
    err_console.print(f"serving metrics on http://{host}:{chosen}/metrics (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def register(app: typer.Typer) -> None:
    app.command("report")(report)
    app.add_typer(metrics_app, name="metrics")
