"""The `casb` command line. Each sub-command group lives in its own module.

Start-up matters (a user waits for `casb scan --wait`; scripts call the CLI in loops), so
the console script imports only the module of the command it runs: ``casb scan ...``
loads the scan commands, not the simulator, the findings exports or the DLP profile
editor. ``casb --help``, an unknown command, and ``app`` used as a library (the tests)
register every module. ``COMMANDS`` names each module's top-level commands;
``tests/unit/ops/test_cli_startup.py`` checks it against what the modules register.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import Any

import typer

from core.errors import UserError
from workers.cli.common import EXIT_USAGE, err_console, styled

#: Top-level command (or command group) -> the module under ``workers.cli`` that registers it.
COMMANDS: dict[str, str] = {
    "keygen": "admin",
    "catalog": "admin",
    "db": "admin",
    "keys": "admin",
    "tenant": "tenants",
    "scan": "scans",
    "rescan": "scans",
    "scans": "scans",
    "health": "scans",
    "findings": "findings",
    "suppress": "findings",
    "dlp": "dlp",
    "demo": "demo",
    "simulator": "simulator",
    "report": "ops",
    "metrics": "ops",
    "alert": "alerts",
    "changes": "changes",
}
#: Registration order (the order `casb --help` lists them in).
MODULES = (
    "admin",
    "tenants",
    "scans",
    "findings",
    "dlp",
    "demo",
    "simulator",
    "ops",
    "alerts",
    "changes",
)


def build_app(modules: Sequence[str] = MODULES) -> typer.Typer:
    """A `casb` app with the commands of ``modules`` registered."""
    built = typer.Typer(
        name="casb",
        help="openai-casb: scan many OpenAI organizations and ChatGPT Enterprise workspaces.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    # A callback keeps the app a group even with one command registered (Typer would
    # otherwise run a lone command directly, and `casb demo` would read `demo` as an argument).
    built.callback()(_group)
    for name in modules:
        importlib.import_module(f"workers.cli.{name}").register(built)
    return built


def _group() -> None:
    """openai-casb: scan many OpenAI organizations and ChatGPT Enterprise workspaces."""


def modules_for(argv: Sequence[str]) -> tuple[str, ...]:
    """The modules a command line needs: its command's alone, else all of them."""
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    module = COMMANDS.get(command or "")
    return (module,) if module is not None else MODULES


_full_app: typer.Typer | None = None


def __getattr__(name: str) -> Any:
    """``workers.cli.app``: every command registered (built on first use)."""
    global _full_app
    if name != "app":
        raise AttributeError(name)
    if _full_app is None:
        _full_app = build_app()
    return _full_app


def main() -> None:
    argv = sys.argv[1:]
    try:
        build_app(modules_for(argv))(args=argv, prog_name="casb")
    except UserError as exc:
        err_console.print(styled("[bold red]error:[/] {}", exc), highlight=False, soft_wrap=True)
        sys.exit(EXIT_USAGE)
