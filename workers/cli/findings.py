"""`casb findings`, `casb findings ignore|unignore`, `casb suppress add|list|remove`.

Reads the findings tables directly (the pipeline writes them). Output formats are the
exports' (the public Finding JSON, docs/operations.md "Export"); ``--fail-on`` is the
findings gate: exit 1 when open findings at or above the given severity exist, so CI jobs
and cron scripts can act on it.
"""

from __future__ import annotations

import getpass
import sys
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Literal

import typer
from rich.console import Console

from core.durations import FORMS, is_duration, parse_duration
from core.errors import UserError
from core.time import iso_z
from exports.findings import to_csv, to_dicts, to_json, to_ocsf
from schemas.catalog import BY_ID, Severity
from schemas.tables import Suppression
from store import suppressions as sup
from store.findings import query_findings, severity_rank
from store.tenants import tenant_slugs
from workers.cli.common import (
    EXIT_GATE,
    SafeTable,
    TableFormat,
    console,
    db_session,
    err_console,
    print_rows,
)


class FindingsFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    ocsf = "ocsf"


class StatusFilter(StrEnum):
    open = "open"
    resolved = "resolved"
    ignored = "ignored"
    all = "all"


def parse_when(text: str, *, direction: Literal["past", "future"], option: str) -> datetime:
    """``2026-11-01``, ``2026-11-01T12:00:00Z``, or relative ``30d``/``12h``/``2w``.

    A relative value (``core.durations``' grammar) counts back from now for ``--since`` and
    forward for ``--until``. Dates without a zone are UTC. The error names the option and
    the accepted forms.
    """
    now = datetime.now(UTC)
    if is_duration(text):
        delta = parse_duration(text, option=option)
        return now - delta if direction == "past" else now + delta
    value = (text or "").strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UserError(
            f"bad date for {option}: {text!r}; use YYYY-MM-DD, an ISO-8601 time "
            f"(2026-11-01T12:00:00Z) or {FORMS}"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _render_table(rows: list[dict], out: Console) -> None:
    table = SafeTable(title=f"{len(rows)} finding(s)", show_lines=False)
    for column in ("ID", "Tenant", "Severity", "Finding", "Resource", "Status", "Last seen"):
        table.add_column(column, overflow="fold")
    for r in rows:
        resource = r["resource_name"] or r["resource_id"]
        status = r["status"] + (f" ({r['ignored_reason']})" if r["ignored_reason"] else "")
        table.add_row(
            str(r["id"]),
            r["tenant"],
            r["severity"],
            r["finding_type"],
            f"{resource} [{r['resource_type']}]",
            status,
            r["last_seen"] or "",
            end_section=False,
        )
    out.print(table)


_TENANT = typer.Option(None, "--tenant", "-t", help="Tenant slug (repeatable; default: all).")
_SEVERITY = typer.Option(None, "--severity", "-s", help="Only this severity (repeatable).")
_TYPE = typer.Option(None, "--type", help="FindingTypeID or catalog key (repeatable).")

findings_app = typer.Typer(
    help="List and export findings; ignore or unignore one finding.",
    invoke_without_command=True,
    no_args_is_help=False,
)


@findings_app.callback()
def findings(
    ctx: typer.Context,
    tenant: list[str] = _TENANT,
    severity: list[Severity] = _SEVERITY,
    status: StatusFilter = typer.Option(StatusFilter.open, "--status", help="Status filter."),
    finding_type: list[str] = _TYPE,
    since: str = typer.Option(
        None, "--since", help="Only findings first seen at/after DATE (or 7d, 24h ago)."
    ),
    fmt: FindingsFormat = typer.Option(FindingsFormat.table, "--format", "-f"),
    output: Path = typer.Option(None, "--output", "-o", help="Write to FILE, not stdout."),
    fail_on: Severity = typer.Option(
        None,
        "--fail-on",
        help="Findings gate: exit 1 if open findings at or above this severity exist.",
    ),
) -> None:
    """List findings (default: open ones of every tenant) as a table, JSON, CSV or OCSF."""
    if ctx.invoked_subcommand is not None:
        return
    since_at = parse_when(since, direction="past", option="--since") if since else None
    severities = [str(s.value) for s in severity or []]
    with db_session() as session:
        rows, slugs = query_findings(
            session,
            tenants=tenant or [],
            severities=severities,
            status=status.value,
            types=finding_type or [],
            since=since_at,
        )
        dicts = to_dicts(rows, slugs)
        gate_hits = 0
        if fail_on is not None:
            gate_rows, _ = query_findings(
                session,
                tenants=tenant or [],
                status="open",
                types=finding_type or [],
                since=since_at,
            )
            threshold = fail_on.rank
            gate_hits = sum(1 for f in gate_rows if severity_rank(f.severity) >= threshold)

    if fmt is FindingsFormat.table:
        if output:
            with output.open("w", encoding="utf-8") as fh:
                _render_table(dicts, Console(file=fh, width=200, no_color=True))
        else:
            _render_table(dicts, console)
    else:
        text = {
            FindingsFormat.json: lambda: to_json(dicts),
            FindingsFormat.csv: lambda: to_csv(dicts),
            FindingsFormat.ocsf: lambda: to_json(to_ocsf(dicts)),
        }[fmt]()
        if output:
            output.write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
    if output:
        err_console.print(f"wrote {len(dicts)} finding(s) to {output}", highlight=False)
    if gate_hits:
        err_console.print(
            f"[bold red]findings gate failed:[/] {gate_hits} open finding(s) at or above "
            f"{fail_on.value}",
            highlight=False,
        )
        raise typer.Exit(EXIT_GATE)


@findings_app.command("ignore")
def ignore(
    finding_id: int = typer.Argument(..., help="Finding id (the ID column, or `id` in JSON)."),
    reason: str = typer.Option(..., "--reason", help="Why this is accepted (kept on the finding)."),
    until: str = typer.Option(None, "--until", help="Expiry: DATE or a duration like 30d."),
) -> None:
    """Ignore one finding, with a reason and an optional expiry; later scans keep it ignored."""
    until_at = parse_when(until, direction="future", option="--until") if until else None
    with db_session() as session:
        finding = sup.ignore_finding(session, finding_id, reason, until_at)
        expiry = iso_z(finding.ignored_until) or "no expiry"
    console.print(f"finding {finding_id} ignored ({expiry})", highlight=False)


@findings_app.command("unignore")
def unignore(finding_id: int = typer.Argument(..., help="Finding id.")) -> None:
    """Stop ignoring one finding: open again if the latest scan saw it, else resolved."""
    with db_session() as session:
        finding = sup.unignore_finding(session, finding_id)
        status = finding.status
    console.print(f"finding {finding_id} is {status}", highlight=False)


suppress_app = typer.Typer(
    help="Suppression rules by tenant, finding type and resource glob.", no_args_is_help=True
)


def _rule_dict(rule: Suppression, slugs: dict[int, str]) -> dict[str, object]:
    ft = BY_ID.get(rule.finding_type_id or "")
    return {
        "id": rule.id,
        "tenant": slugs.get(rule.tenant_id) if rule.tenant_id is not None else None,
        "finding_type_id": rule.finding_type_id,
        "finding_type": ft.title if ft else None,
        "resource_pattern": rule.resource_pattern,
        "name_pattern": rule.name_pattern,
        "reason": rule.reason,
        "until": iso_z(rule.until),
        "created_by": rule.created_by,
        "created_at": iso_z(rule.created_at),
    }


@suppress_app.command("add")
def suppress_add(
    tenant: str = typer.Option(None, "--tenant", "-t", help="Tenant slug (default: every tenant)."),
    finding_type: str = typer.Option(
        None, "--type", help="FindingTypeID or catalog key (default: every type)."
    ),
    resource: str = typer.Option(
        "*", "--resource", help="Glob on the resource id (case-sensitive), e.g. 'g-research-*'."
    ),
    name: str = typer.Option(
        None,
        "--name",
        help="Glob on the resource name (case-insensitive), e.g. '*@corp.com'; names are "
        "chosen by the tenant's users, so only an explicit --name matches them.",
    ),
    reason: str = typer.Option(..., "--reason", help="Why these findings are accepted."),
    until: str = typer.Option(None, "--until", help="Expiry: DATE or a duration like 90d."),
    created_by: str = typer.Option(None, "--created-by", help="Who asked (default: $USER)."),
) -> None:
    """Add a rule and apply it at once to existing open findings (and to every later scan)."""
    until_at = parse_when(until, direction="future", option="--until") if until else None
    who = created_by or _whoami()
    with db_session() as session:
        rule = sup.add_rule(
            session, tenant, finding_type, resource, reason, until_at, who, name_pattern=name
        )
        if rule.tenant_id is not None:
            changed = sup.apply(session, rule.tenant_id)
        else:
            changed = sup.apply_all(session)
        rule_id = rule.id
    console.print(
        f"suppression rule {rule_id} added; {changed} finding(s) ignored now", highlight=False
    )


@suppress_app.command("list")
def suppress_list(
    tenant: str = typer.Option(None, "--tenant", "-t", help="Rules that apply to this tenant."),
    include_expired: bool = typer.Option(False, "--all", help="Include expired rules."),
    fmt: TableFormat = typer.Option(TableFormat.table, "--format", "-f"),
) -> None:
    """List suppression rules (active ones unless --all)."""
    with db_session() as session:
        rules = sup.list_rules(session, tenant, include_expired=include_expired)
        slugs = tenant_slugs(session)
        rows = [_rule_dict(r, slugs) for r in rules]
    print_rows(
        rows,
        as_json=fmt is TableFormat.json,
        title=f"{len(rows)} suppression rule(s)",
        columns=("ID", "Tenant", "Finding type", "Resource", "Name", "Reason", "Until", "By"),
        cells=lambda r: (
            str(r["id"]),
            str(r["tenant"] or "*"),
            str(r["finding_type"] or "*"),
            str(r["resource_pattern"]),
            str(r["name_pattern"] or "-"),
            str(r["reason"]),
            str(r["until"] or "never"),
            str(r["created_by"] or ""),
        ),
    )


@suppress_app.command("remove")
def suppress_remove(
    rule_id: int = typer.Argument(..., help="Rule id (see `suppress list`)."),
) -> None:
    """Remove a rule; findings it ignored are released (open if still seen, else resolved)."""
    with db_session() as session:
        released = sup.remove_rule(session, rule_id)
    console.print(
        f"suppression rule {rule_id} removed; {released} finding(s) released", highlight=False
    )


def _whoami() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def register(app: typer.Typer) -> None:
    app.add_typer(findings_app, name="findings")
    app.add_typer(suppress_app, name="suppress")
