"""`casb changes`: what changed in the tenants, when, seen by which scan (newest first)."""

from __future__ import annotations

import json
from typing import Any

import typer

from store.alerts import change_to_dict
from store.tenants import tenants_by_slug
from workers.cli.common import TableFormat, db_session, print_rows
from workers.cli.findings import parse_when


def _short(value: Any, size: int = 60) -> str:
    text = "-" if value is None else json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= size else text[: size - 1] + "…"


def changes(
    tenant: list[str] = typer.Option(None, "--tenant", "-t", help="Tenant slug (repeatable)."),
    since: str = typer.Option(None, "--since", help="Only changes since (7d, 12h, 2026-11-01)."),
    resource: str = typer.Option(None, "--resource", help="Only changes of this resource id."),
    fmt: TableFormat = typer.Option(TableFormat.table, "--format", "-f", help="Output."),
    limit: int = typer.Option(1000, "--limit", min=1, help="At most this many records."),
) -> None:
    """Change history: resource_type, resource_id, field, before, after, scan_id, seen_at."""
    from store.changes import query_changes

    start = parse_when(since, direction="past", option="--since") if since else None
    with db_session() as session:
        slugs = {t.id: t.slug for t in tenants_by_slug(session, tenant or []) if t.id is not None}
        rows = [
            change_to_dict(r, slugs.get(r.tenant_id, str(r.tenant_id)))
            for r in query_changes(
                session,
                tenant_ids=list(slugs),
                since=start,
                resource_id=resource,
                limit=limit,
            )
        ]
    print_rows(
        rows,
        as_json=fmt is TableFormat.json,
        title="changes (newest first)",
        columns=("seen at", "tenant", "resource", "field", "before", "after", "scan"),
        cells=lambda r: (
            r["seen_at"] or "-",
            r["tenant"],
            f"{r['resource_type']} {r['resource_id']}{_named(r['resource_name'])}",
            r["field"],
            _short(r["before"]),
            _short(r["after"]),
            str(r["scan_id"]),
        ),
        empty="no changes recorded (a part is compared from its second scan on)",
    )


def _named(name: str | None) -> str:
    return f" ({name})" if name else ""


def register(app: typer.Typer) -> None:
    app.command("changes")(changes)
