"""Tenant input and user-written names that try to hurt the operator's terminal or data.

Keys that are not printable ASCII, slugs with a trailing newline and plain-http API bases
are refused with exit 2 and nothing written (and a refused key is never echoed); GPT and
file names full of Rich markup and terminal escapes are printed as inert text.
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from tests.cli import run_cli
from tests.integration.ops.seed import add_finding, add_tenant

ADMIN_KEY = "sk-admin-" + "A1b2C3d4" * 6
SECRET_PART = "S3CR3Tpart"
BAD_KEY = f"sk-admin-{SECRET_PART}\u00e9xyz0123456789"


def _tenants(db_url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(db_url.replace("+psycopg", "")) as conn:
        return conn.execute("SELECT * FROM tenants ORDER BY id").fetchall()


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOD_KEY", ADMIN_KEY)
    monkeypatch.setenv("BAD_KEY", BAD_KEY)
    monkeypatch.setenv("CTRL_KEY", "sk-admin-abc\x1b[31mdef")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tenant", "add", "acme\n", "--admin-key-env", "GOOD_KEY"], "bad slug"),
        (["tenant", "add", "Acme", "--admin-key-env", "GOOD_KEY"], "bad slug"),
        (["tenant", "add", "a" * 64, "--admin-key-env", "GOOD_KEY"], "bad slug"),
        (["tenant", "add", "acme", "--admin-key-env", "BAD_KEY"], "not a key"),
        (["tenant", "add", "acme", "--admin-key-env", "CTRL_KEY"], "not a key"),
        (["tenant", "add", "acme", "--admin-key-env", "GOOD_KEY",
          "--admin-api-base", "http://api.openai.com/v1"], "plain http"),
        (["tenant", "add", "acme", "--admin-key-env", "GOOD_KEY",
          "--compliance-api-base", "http://10.0.0.8/v1"], "plain http"),
        (["tenant", "add", "acme", "--admin-key-env", "GOOD_KEY",
          "--admin-api-base", "http://2130706433:8080/v1"], "plain http"),
    ],
)  # fmt: skip
def test_hostile_tenant_input_is_exit_2_and_writes_nothing(
    db: str, keys: None, args: list[str], message: str
) -> None:
    before = _tenants(db)
    result = run_cli(*args)
    assert result.code == 2, result.output
    assert message in result.output
    assert SECRET_PART not in result.output
    assert "\x1b" not in result.output
    assert _tenants(db) == before


def test_a_loopback_http_base_is_accepted(db: str, keys: None) -> None:
    result = run_cli(
        "tenant", "add", "sim", "--admin-key-env", "GOOD_KEY",
        "--admin-api-base", "http://127.0.0.1:8099/openai/v1",
    )  # fmt: skip
    assert result.code == 0, result.output


def test_import_refuses_a_bad_key_or_base_without_echoing_and_writes_nothing(
    db: str, keys: None, tmp_path: Path
) -> None:
    before = _tenants(db)
    for item in (
        {"slug": "one", "admin_key_env": "GOOD_KEY", "admin_api_base": "http://evil.example/v1"},
        {"slug": "two", "admin_key_env": "BAD_KEY"},
        {"slug": "three\n", "admin_key_env": "GOOD_KEY"},
    ):
        path = tmp_path / "tenants.json"
        path.write_text(
            json.dumps({"tenants": [{"slug": "fine", "admin_key_env": "GOOD_KEY"}, item]})
        )
        result = run_cli("tenant", "import", str(path))
        assert result.code == 2, result.output
        assert SECRET_PART not in result.output
        assert _tenants(db) == before  # all or nothing: "fine" is not added either


HOSTILE_NAMES = [
    "[/bold]",
    "[bold red]ALL CLEAR[/] [link=https://evil.example]click[/link]",
    "\x1b]8;;https://evil.example\x1b\\support portal\x1b]8;;\x1b\\",
    "\x1b[2J\x1b[31mscreen wiped",
    "name\rOVERWRITTEN",
    "\u202eexe.txt",
]


def test_hostile_names_print_as_inert_text_in_every_findings_view(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workers.cli.common import console

    monkeypatch.setattr(console, "width", 400)  # one line per row: names are not folded
    acme = add_tenant(db, "acme")
    for index, name in enumerate(HOSTILE_NAMES):
        add_finding(db, acme, "gpt_custom_actions", f"g-{index}", resource_name=name)
    result = run_cli("findings", "--tenant", "acme")
    assert result.code == 0, result.output  # "[/bold]" used to crash the table
    out = result.stdout
    for bad in ("\x1b", "\r", "\u202e", "\x07"):
        assert bad not in out
    assert "[/bold]" in out  # shown literally, not interpreted
    assert "[link=https://evil.example]click[/link]" in out
    assert "support portal" in out and "screen wiped" in out


def test_hostile_names_in_suppression_rules_and_errors_are_inert(db: str) -> None:
    add_tenant(db, "acme")
    result = run_cli(
        "suppress", "add", "--tenant", "acme", "--resource", "g-*",
        "--reason", "[red]ok[/] \x1b[31mred\x1b]8;;https://e\x1b\\x",
    )  # fmt: skip
    assert result.code == 0, result.output
    listed = run_cli("suppress", "list")
    assert listed.code == 0, listed.output
    assert "\x1b" not in listed.stdout
    assert "[red]ok[/]" in listed.stdout
    failed = run_cli("tenant", "show", "[/bold]\x1b[31m")
    assert failed.code == 2
    assert "\x1b" not in failed.output
