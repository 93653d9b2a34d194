"""`casb alert add|list|remove|test`: where opened findings and change records are pushed."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import typer
from rich.text import Text

from core.settings import get_settings
from schemas.tables import AlertDestination
from workers.cli.common import (
    EXIT_USAGE,
    TableFormat,
    console,
    db_session,
    err_console,
    escape_text,
    print_rows,
    styled,
)

alert_app = typer.Typer(
    help="Alert destinations: webhooks (JSON or Slack) that receive new findings.",
    no_args_is_help=True,
)


class AlertFormat(StrEnum):
    json = "json"
    slack = "slack"


class AlertEvent(StrEnum):
    findings = "findings"
    changes = "changes"


def shown_url(url: str) -> str:
    """scheme://host[:port]/… : the path and query (a Slack webhook's secret) stay hidden."""
    parts = urlsplit(url)
    tail = "/…" if (parts.path not in ("", "/") or parts.query) else ""
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{tail}"


@alert_app.command("add")
def add(
    name: str = typer.Argument(..., help="Name of the destination (e.g. secops-slack)."),
    url: str = typer.Option(..., "--url", help="Webhook URL the alerts are POSTed to."),
    fmt: AlertFormat = typer.Option(AlertFormat.json, "--format", "-f", help="Body format."),
    min_severity: str = typer.Option(
        None, "--min-severity", help="Only findings of this severity or higher (e.g. high)."
    ),
    tenant: list[str] = typer.Option(
        None, "--tenant", "-t", help="Only these tenants (repeatable; default: every tenant)."
    ),
    finding_type: list[str] = typer.Option(
        None, "--type", help="Only these finding type keys (repeatable; see `casb catalog`)."
    ),
    events: list[AlertEvent] = typer.Option(
        None, "--events", help="What to send: findings (default) and/or changes (repeatable)."
    ),
    secret_env: str = typer.Option(
        None, "--secret-env", metavar="VAR", help="Env var holding the signing secret."
    ),
    secret_file: str = typer.Option(
        None, "--secret-file", metavar="PATH", help="File holding the signing secret."
    ),
) -> None:
    """Add a destination; with a secret, JSON deliveries carry X-Casb-Signature."""
    from store.alerts import DestinationInput, add_destination, url_warning

    data = DestinationInput(
        name=name,
        url=url,
        fmt=fmt.value,
        min_severity=min_severity,
        tenants=tenant or [],
        types=finding_type or [],
        events=[e.value for e in events] if events else ["findings"],
        secret_env=secret_env,
        secret_file=secret_file,
    )
    with db_session() as session:
        row = add_destination(session, data, get_settings().fernet())
        signed = row.secret_enc is not None
    warning = url_warning(url)
    if warning:
        err_console.print(f"[yellow]warning:[/] {escape_text(warning)}", highlight=False)
    console.print(
        f"added alert destination {escape_text(name)} ({fmt.value}"
        + (", signed" if signed else "")
        + f") -> {escape_text(shown_url(url))}",
        highlight=False,
    )


def _row(dest: AlertDestination, counts: dict[str, int]) -> dict[str, Any]:
    return {
        "name": dest.name,
        "url": shown_url(dest.url),
        "format": dest.format,
        "min_severity": dest.min_severity,
        "tenants": dest.tenants,
        "types": dest.types,
        "events": dest.events,
        "signed": dest.secret_enc is not None,
        "deliveries": {s: counts.get(s, 0) for s in ("pending", "delivered", "failed")},
    }


@alert_app.command("list")
def list_(
    fmt: TableFormat = typer.Option(TableFormat.table, "--format", "-f", help="Output format."),
) -> None:
    """Destinations with their filters and delivery counts (failed ones stand out)."""
    from store.alerts import delivery_counts, list_destinations

    with db_session() as session:
        counts = delivery_counts(session)
        rows = [_row(d, counts.get(d.id or 0, {})) for d in list_destinations(session)]
    print_rows(
        rows,
        as_json=fmt is TableFormat.json,
        title="alert destinations",
        columns=("name", "url", "format", "filters", "signed", "delivered", "pending", "failed"),
        cells=_cells,
        empty="no alert destinations: add one with `casb alert add NAME --url URL`",
        fold=False,
    )


def _cells(r: Mapping[str, Any]) -> tuple[str | Text, ...]:
    filters = [
        f"severity>={r['min_severity']}" if r["min_severity"] else "",
        f"tenants={','.join(r['tenants'])}" if r["tenants"] else "",
        f"types={','.join(r['types'])}" if r["types"] else "",
        f"events={','.join(r['events'])}",
    ]
    failed = r["deliveries"]["failed"]
    return (
        r["name"],
        r["url"],
        r["format"],
        " ".join(f for f in filters if f),
        "yes" if r["signed"] else "no",
        str(r["deliveries"]["delivered"]),
        str(r["deliveries"]["pending"]),
        styled("[red]{}[/]", failed) if failed else "0",
    )


@alert_app.command("remove")
def remove(name: str = typer.Argument(..., help="Name of the destination.")) -> None:
    """Remove a destination and its delivery history."""
    from store.alerts import remove_destination

    with db_session() as session:
        remove_destination(session, name)
    console.print(f"removed alert destination {escape_text(name)}", highlight=False)


@alert_app.command("test")
def test(name: str = typer.Argument(..., help="Name of the destination.")) -> None:
    """POST a sample alert now (in this process) and print the receiver's answer."""
    from pipeline.notify import deliver
    from store.alerts import get_destination, plan_test_delivery, take_test_result

    with db_session() as session:
        delivery = plan_test_delivery(session, get_destination(session, name))
    result = deliver(delivery)
    with db_session() as session:
        code, error = take_test_result(session, delivery)
    if code is not None and 200 <= code < 300:
        console.print(f"test alert delivered to {escape_text(name)}: HTTP {code}", highlight=False)
        return
    err_console.print(
        f"[bold red]error:[/] test alert to {escape_text(name)} failed: "
        f"{escape_text(error or str(code))} ({result.get('status')})",
        highlight=False,
    )
    raise typer.Exit(EXIT_USAGE)


def register(app: typer.Typer) -> None:
    app.add_typer(alert_app, name="alert")
