"""`casb keygen`, `casb catalog`, `casb db upgrade|current`."""

from __future__ import annotations

from enum import StrEnum

import typer
from cryptography.fernet import Fernet

from schemas.catalog import CATALOG
from workers.cli.common import SafeTable, console, print_json

db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)


class CatalogFormat(StrEnum):
    table = "table"
    json = "json"


def keygen() -> None:
    """Print a new Fernet key for CASB_SECRET_KEY (it encrypts tenant credentials at rest)."""
    typer.echo(Fernet.generate_key().decode())


def catalog(
    fmt: CatalogFormat = typer.Option(CatalogFormat.table, "--format", "-f", help="Output format."),
) -> None:
    """List the finding types the scanner knows, with ids, severities and remediation."""
    if fmt is CatalogFormat.json:
        print_json([ft.as_dict() for ft in CATALOG])
        return
    table = SafeTable(title=f"{len(CATALOG)} finding types", show_lines=False)
    for column in ("FindingTypeID", "Title", "Category", "Severity", "Resource", "ChatGPT Ent."):
        table.add_column(column, overflow="fold")
    for ft in CATALOG:
        table.add_row(
            ft.finding_type_id,
            ft.title,
            ft.category.value,
            ft.severity.value,
            ft.resource_type.value,
            "yes" if ft.requires_chatgpt_enterprise else "no",
        )
    console.print(table)


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Create or migrate the schema in CASB_DATABASE_URL."""
    from store.db import current_revision, upgrade

    upgrade(revision=revision)
    console.print(f"database at revision [bold]{current_revision()}[/]")


@db_app.command("current")
def db_current() -> None:
    """Show the schema revision of the database and the latest one."""
    from store.db import current_revision, ensure_reachable, head_revision

    ensure_reachable()
    console.print(f"current: {current_revision() or 'none'}  latest: {head_revision()}")


def register(app: typer.Typer) -> None:
    app.command("keygen")(keygen)
    app.command("catalog")(catalog)
    app.add_typer(db_app, name="db")
