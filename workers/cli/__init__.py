"""The `casb` command line. Each sub-command group lives in its own module."""

from __future__ import annotations

import sys

import typer

from core.errors import UserError
from workers.cli.common import EXIT_USAGE, err_console, styled

app = typer.Typer(
    name="casb",
    help="openai-casb: scan many OpenAI organizations and ChatGPT Enterprise workspaces.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _register() -> None:
    from workers.cli import (
        admin,
        alerts,
        changes,
        demo,
        dlp,
        findings,
        ops,
        scans,
        simulator,
        tenants,
    )

    for module in (admin, tenants, scans, findings, dlp, demo, simulator, ops, alerts, changes):
        module.register(app)


_register()


def main() -> None:
    try:
        app()
    except UserError as exc:
        err_console.print(styled("[bold red]error:[/] {}", exc), highlight=False, soft_wrap=True)
        sys.exit(EXIT_USAGE)
