"""`casb tenant add|list|show|update|remove|import`: the tenant registry."""

from __future__ import annotations

import typer

from core.settings import get_settings
from store import tenants as registry
from store.tenants import KeySource, TenantInput, TenantInputError
from workers.cli.common import SafeTable, TableFormat, console, db_session, print_json, print_rows
from workers.cli.remedies import error_remedy

tenant_app = typer.Typer(
    help="Register and manage tenants (one OpenAI org each).", no_args_is_help=True
)


def _key_source(env: str | None, file: str | None, label: str) -> KeySource | None:
    if env and file:
        raise TenantInputError(f"give --{label}-env or --{label}-file, not both")
    if env or file:
        return KeySource(env=env, file=file)
    return None


_ADMIN_ENV = typer.Option(
    None, "--admin-key-env", metavar="VAR", help="Env var holding the admin key."
)
_ADMIN_FILE = typer.Option(
    None, "--admin-key-file", metavar="PATH", help="File holding the admin key."
)
_COMP_ENV = typer.Option(
    None, "--compliance-key-env", metavar="VAR", help="Env var holding the compliance key."
)
_COMP_FILE = typer.Option(
    None, "--compliance-key-file", metavar="PATH", help="File holding the compliance key."
)
_PROFILE = typer.Option(None, "--dlp-profile", help="DLP profile to apply (repeatable).")
_THRESHOLD = typer.Option(
    None,
    "--threshold",
    metavar="NAME=DAYS",
    help="key_rotation_days, unused_key_days, inactive_user_days, stale_invite_days (repeatable).",
)
_SEVERITY = typer.Option(
    None,
    "--severity",
    metavar="TYPE=SEVERITY",
    help="Override a finding type's severity for this tenant: TYPE is a FindingTypeID or "
    "key (see `casb catalog`), SEVERITY critical|high|medium|low (repeatable).",
)


@tenant_app.command("add")
def add(
    slug: str = typer.Argument(..., help="Short unique id: lower-case letters, digits, dashes."),
    name: str = typer.Option(None, "--name", help="Display name (defaults to the slug)."),
    org_id: str = typer.Option(None, "--org-id", help="OpenAI organization id (org-...)."),
    workspace_id: str = typer.Option(
        None, "--workspace-id", help="ChatGPT Enterprise workspace id."
    ),
    admin_key_env: str = _ADMIN_ENV,
    admin_key_file: str = _ADMIN_FILE,
    compliance_key_env: str = _COMP_ENV,
    compliance_key_file: str = _COMP_FILE,
    admin_api_base: str = typer.Option(registry.DEFAULT_ADMIN_API_BASE, "--admin-api-base"),
    compliance_api_base: str = typer.Option(
        registry.DEFAULT_COMPLIANCE_API_BASE, "--compliance-api-base"
    ),
    dlp_profile: list[str] = _PROFILE,
    threshold: list[str] = _THRESHOLD,
    severity: list[str] = _SEVERITY,
    schedule: str = typer.Option(
        "24h", "--schedule", help="Scan interval: 30m, 6h, 24h, 2d, 1w (or plain seconds)."
    ),
) -> None:
    """Register a tenant. Keys come from an env var or a file, never from the command line."""
    data = TenantInput(
        slug=slug,
        name=name,
        org_id=org_id,
        workspace_id=workspace_id,
        admin_key=_key_source(admin_key_env, admin_key_file, "admin-key"),
        compliance_key=_key_source(compliance_key_env, compliance_key_file, "compliance-key"),
        admin_api_base=admin_api_base,
        compliance_api_base=compliance_api_base,
        dlp_profiles=dlp_profile or [],
        thresholds=registry.parse_threshold_pairs(threshold or []),
        schedule=schedule,
        severity_overrides=registry.parse_severity_pairs(severity or []),
    )
    fernet = get_settings().fernet()
    with db_session() as session:
        tenant = registry.add_tenant(session, data, fernet)
        console.print(
            f"added tenant [bold]{tenant.slug}[/] (id {tenant.id}); first scan is due now"
        )


@tenant_app.command("update")
def update(
    slug: str = typer.Argument(...),
    name: str = typer.Option(None, "--name"),
    org_id: str = typer.Option(None, "--org-id"),
    workspace_id: str = typer.Option(None, "--workspace-id"),
    admin_key_env: str = _ADMIN_ENV,
    admin_key_file: str = _ADMIN_FILE,
    compliance_key_env: str = _COMP_ENV,
    compliance_key_file: str = _COMP_FILE,
    admin_api_base: str = typer.Option(None, "--admin-api-base"),
    compliance_api_base: str = typer.Option(None, "--compliance-api-base"),
    dlp_profile: list[str] = _PROFILE,
    clear_dlp_profiles: bool = typer.Option(False, "--clear-dlp-profiles"),
    threshold: list[str] = _THRESHOLD,
    severity: list[str] = _SEVERITY,
    clear_severity_overrides: bool = typer.Option(
        False, "--clear-severity-overrides", help="Drop all overrides (before any --severity)."
    ),
    schedule: str = typer.Option(
        None, "--schedule", help="Scan interval: 30m, 6h, 24h, 2d, 1w (or plain seconds)."
    ),
    enable: bool = typer.Option(
        None, "--enable/--disable", help="Pause or resume scheduled scans."
    ),
) -> None:
    """Change a tenant. Only the options given change; keys are re-read from their source."""
    profiles: list[str] | None = None
    if clear_dlp_profiles:
        profiles = []
    elif dlp_profile:
        profiles = dlp_profile
    data = TenantInput(
        slug=slug,
        name=name,
        org_id=org_id,
        workspace_id=workspace_id,
        admin_key=_key_source(admin_key_env, admin_key_file, "admin-key"),
        compliance_key=_key_source(compliance_key_env, compliance_key_file, "compliance-key"),
        admin_api_base=admin_api_base,
        compliance_api_base=compliance_api_base,
        dlp_profiles=profiles,
        thresholds=registry.parse_threshold_pairs(threshold) if threshold else None,
        schedule=schedule,
        enabled=enable,
        severity_overrides=registry.parse_severity_pairs(severity) if severity else None,
        clear_severity_overrides=clear_severity_overrides,
    )
    fernet = get_settings().fernet()
    with db_session() as session:
        registry.update_tenant(session, data, fernet)
        console.print(f"updated tenant [bold]{slug}[/]")


@tenant_app.command("list")
def list_(fmt: TableFormat = typer.Option(TableFormat.table, "--format", "-f")) -> None:
    """List tenants with their health and schedule."""
    with db_session() as session:
        rows = [registry.tenant_summary(t) for t in registry.list_tenants(session)]
    print_rows(
        rows,
        as_json=fmt is TableFormat.json,
        title=f"{len(rows)} tenant(s)",
        columns=("Slug", "Name", "Org", "Workspace", "Health", "Schedule", "Last scan", "DLP"),
        cells=lambda row: (
            row["slug"],
            row["name"],
            row["org_id"] or "-",
            row["workspace_id"] or "-",
            row["health"] + ("" if row["enabled"] else " (paused)"),
            row["schedule"],
            row["last_scan_at"] or "never",
            ", ".join(row["dlp_profiles"]) or "-",
        ),
    )


@tenant_app.command("show")
def show(
    slug: str = typer.Argument(...),
    fmt: TableFormat = typer.Option(TableFormat.table, "--format", "-f"),
) -> None:
    """Show one tenant (keys only as redacted hints)."""
    from store.scans import health_error, last_finished_run

    with db_session() as session:
        tenant = registry.get_tenant(session, slug)
        assert tenant.id is not None
        error = health_error(tenant, last_finished_run(session, tenant.id))
        row = registry.tenant_summary(tenant) | error_remedy(error, tenant.slug)
    if fmt is TableFormat.json:
        print_json(row)
        return
    table = SafeTable(show_header=False, title=f"tenant {row['slug']}")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in row.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
        elif isinstance(value, list):
            value = ", ".join(value) or "-"
        table.add_row(key, "-" if value is None else str(value))
    console.print(table)


@tenant_app.command("remove")
def remove(
    slug: str = typer.Argument(...),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete a tenant with its findings, scan history and stored keys."""
    with db_session() as session:
        registry.get_tenant(session, slug)
        if not yes and not typer.confirm(f"delete tenant {slug} and all its findings?"):
            # Declining is not a failure (exit 1 is reserved for the findings gate).
            console.print("nothing removed")
            raise typer.Exit(0)
        registry.remove_tenant(session, slug)
    console.print(f"removed tenant [bold]{slug}[/]")


@tenant_app.command("import")
def import_(
    path: str = typer.Argument(..., help="TOML (\\[\\[tenants]] tables) or JSON file of tenants."),
    update_existing: bool = typer.Option(
        False, "--update", help="Update tenants that already exist instead of failing."
    ),
) -> None:
    """Register many tenants at once; all or nothing. Keys by env var or file only."""
    items = registry.load_import_file(path)
    fernet = get_settings().fernet()
    with db_session() as session:
        created, updated = registry.import_tenants(session, items, fernet, update=update_existing)
    console.print(f"imported {len(created)} new tenant(s), updated {len(updated)}")


def register(app: typer.Typer) -> None:
    app.add_typer(tenant_app, name="tenant")
