"""The console script loads only the module of the command it runs; the map stays true."""

from __future__ import annotations

import subprocess
import sys

import workers.cli as cli


def _names(app) -> set[str]:  # type: ignore[no-untyped-def]
    return {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}


def test_every_module_registers_exactly_the_commands_mapped_to_it() -> None:
    for module in cli.MODULES:
        mapped = {name for name, owner in cli.COMMANDS.items() if owner == module}
        assert _names(cli.build_app([module])) == mapped, module
    assert _names(cli.app) == set(cli.COMMANDS)


def test_a_known_command_needs_its_module_only() -> None:
    assert cli.modules_for(["scan", "tenant-01", "--wait"]) == ("scans",)
    assert cli.modules_for(["simulator", "run"]) == ("simulator",)
    assert cli.modules_for(["--help"]) == cli.MODULES
    assert cli.modules_for([]) == cli.MODULES
    assert cli.modules_for(["no-such-command"]) == cli.MODULES


def test_the_console_script_imports_what_its_command_needs() -> None:
    probe = (
        "import sys\n"
        "sys.argv = ['casb', 'scan', '--help']\n"
        "import workers.cli\n"
        "try:\n"
        "    workers.cli.main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in ('simulator.app', 'exports.findings', 'workers.cli.dlp',"
        " 'workers.cli.findings') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert "--wait" in done.stdout  # the scan command's help was printed
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_the_head_revision_read_from_the_files_is_alembics() -> None:
    from store.db import alembic_head_revision, head_revision

    assert head_revision() == alembic_head_revision() is not None


def test_a_module_with_one_command_still_takes_the_command_name() -> None:
    from typer.testing import CliRunner

    for command in ("changes", "demo", "alert"):
        app = cli.build_app(cli.modules_for([command]))
        result = CliRunner().invoke(app, [command, "--help"])
        assert result.exit_code == 0, result.output
        assert "Usage: casb " + command in " ".join(result.output.split())
