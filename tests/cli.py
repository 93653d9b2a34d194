"""Run the `casb` CLI in-process, with the same exit-code mapping as the console script."""

from __future__ import annotations

from dataclasses import dataclass

from typer.testing import CliRunner

from core.errors import UserError
from workers.cli import app


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_cli(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> CliResult:
    runner = CliRunner()
    result = runner.invoke(app, list(args), env=env, input=input, catch_exceptions=True)
    stderr = result.stderr if result.stderr_bytes is not None else ""
    if isinstance(result.exception, UserError):
        return CliResult(2, result.stdout, stderr + f"error: {result.exception}\n")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return CliResult(result.exit_code, result.stdout, stderr)
