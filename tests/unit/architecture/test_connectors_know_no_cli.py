"""The connectors do not know the CLI: no ``casb ...`` command and no CLI flag in their source.

Their errors carry a ``remedy`` code and an ``api``; ``workers/cli/remedies.py`` writes the
command. A connector that spelled a command would go stale the day a flag is renamed, and
would tell a user of the library about a CLI they may not run.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

#: ``casb tenant update``, ``casb rescan`` ...; and the flags that set a tenant's access.
CLI_SYNTAX = re.compile(
    r"\bcasb (?:tenant|scan|rescan|scans|health|alert|findings|dlp|demo)\b"
    r"|--(?:admin|compliance)-(?:key-env|key-file|api-base)\b"
    r"|--(?:workspace-id|org-id)\b"
)


def cli_syntax(root: Path, package: str = "connectors") -> list[str]:
    """``path:LINE: text`` for every line of ``package`` that spells CLI syntax."""
    found = []
    for path in sorted((root / package).rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if CLI_SYNTAX.search(line):
                found.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    return found


def test_connectors_spell_no_cli_command() -> None:
    assert (ROOT / "connectors" / "errors.py").is_file()
    assert cli_syntax(ROOT) == []


def test_the_scan_finds_a_command_in_a_throwaway_module(tmp_path: Path) -> None:
    package = tmp_path / "connectors"
    package.mkdir()
    (package / "ok.py").write_text('HINT = "the admin key was revoked or is wrong"\n')
    (package / "bad.py").write_text(
        'HINT = "run `casb tenant update acme --admin-key-env VAR`"\n'
        'BASE = "check --compliance-api-base"\n'
    )
    assert cli_syntax(tmp_path) == [
        'connectors/bad.py:1: HINT = "run `casb tenant update acme --admin-key-env VAR`"',
        'connectors/bad.py:2: BASE = "check --compliance-api-base"',
    ]
