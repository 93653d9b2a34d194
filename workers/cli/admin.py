"""`casb keygen`, `casb keys rotate`, `casb catalog`, `casb db upgrade|current|prune`."""

from __future__ import annotations

import typer
from cryptography.fernet import Fernet

from core.errors import UserError
from schemas.catalog import CATALOG
from workers.cli.common import SafeTable, TableFormat, console, print_json

db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
keys_app = typer.Typer(
    help="The key that encrypts stored secrets (CASB_SECRET_KEY).", no_args_is_help=True
)


def keygen() -> None:
    """Print a new Fernet key for CASB_SECRET_KEY (it encrypts tenant credentials at rest)."""
    typer.echo(Fernet.generate_key().decode())


def catalog(
    fmt: TableFormat = typer.Option(TableFormat.table, "--format", "-f", help="Output format."),
) -> None:
    """List the finding types the scanner knows, with ids, severities and remediation."""
    if fmt is TableFormat.json:
        print_json([ft.as_dict() for ft in CATALOG])
        return
    extensions = sum(ft.extension for ft in CATALOG)
    table = SafeTable(
        title=f"{len(CATALOG)} finding types, {extensions} extension", show_lines=False
    )
    columns = (
        "FindingTypeID",
        "Title",
        "Category",
        "Severity",
        "Resource",
        "ChatGPT Ent.",
        "Extension",
    )
    for column in columns:
        table.add_column(column, overflow="fold")
    for ft in CATALOG:
        table.add_row(
            ft.finding_type_id,
            ft.title,
            ft.category.value,
            ft.severity.value,
            ft.resource_type.value,
            "yes" if ft.requires_chatgpt_enterprise else "no",
            "yes" if ft.extension else "no",
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


@db_app.command("prune")
def db_prune(
    older_than: str | None = typer.Option(
        None,
        "--older-than",
        help="One age for every kind (e.g. 180d); default: each kind's CASB_RETENTION_*_DAYS.",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count what would be deleted."),
) -> None:
    """Delete resolved findings, old scan runs and DLP cache rows past their retention.

    Open and ignored findings, active runs and each tenant's latest run are never deleted.
    """
    from core.durations import parse_duration
    from core.settings import get_settings
    from store.db import ensure_reachable, session_scope
    from store.retention import prune

    settings = get_settings()
    ages = settings.retention()
    if older_than is not None:
        age = parse_duration(older_than, option="--older-than")
        ages = dict.fromkeys(ages, age)
    ensure_reachable()
    counts = prune(session_scope, ages, dry_run=dry_run, batch_size=settings.prune_batch_size)
    table = SafeTable(title="would delete" if dry_run else "deleted")
    for column in ("kind", "older than", "rows"):
        table.add_column(column)
    for count in counts:
        table.add_row(count.kind, count.cutoff.strftime("%Y-%m-%d %H:%M UTC"), str(count.rows))
    console.print(table)


@keys_app.command("rotate")
def keys_rotate(
    dry_run: bool = typer.Option(False, "--dry-run", help="Count what would be rewritten."),
    batch_size: int = typer.Option(100, "--batch-size", min=1, help="Rows per transaction."),
) -> None:
    """Re-encrypt every stored secret under CASB_SECRET_KEY.

    Give the old key as CASB_SECRET_KEY_PREVIOUS (to this command and every worker) first.
    Idempotent and resumable: secrets already under the new key are left alone.
    """
    from core.settings import get_settings
    from store.db import ensure_reachable, session_scope
    from store.keyrotation import rotate_secrets

    settings = get_settings()
    cipher, primary = settings.fernet(), settings.primary_fernet()
    ensure_reachable()
    report = rotate_secrets(session_scope, cipher, primary, batch_size=batch_size, dry_run=dry_run)
    verb = "would re-encrypt" if dry_run else "re-encrypted"
    console.print(
        f"{verb} {report.rotated} secret(s); {report.current} already under CASB_SECRET_KEY",
        highlight=False,
    )
    if report.unreadable:
        shown = ", ".join(report.unreadable[:10])
        raise UserError(
            f"{report.remaining} secret(s) decrypt under none of the keys given ({shown}): "
            "add the key they were written with to CASB_SECRET_KEY_PREVIOUS and run again"
        )
    if not dry_run and settings.secret_key_previous is not None:
        console.print("nothing is left under an old key: CASB_SECRET_KEY_PREVIOUS can be removed")


def register(app: typer.Typer) -> None:
    app.command("keygen")(keygen)
    app.command("catalog")(catalog)
    app.add_typer(db_app, name="db")
    app.add_typer(keys_app, name="keys")
