"""`casb dlp profile ...` and `casb dlp scan-file` against the real PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import select

from detectors.dlp.profiles import PREDEFINED, profile_set_version
from schemas.tables import DlpProfileRow
from store.db import session_scope
from store.dlp import DlpProfileError, resolve_profiles
from tests.cli import run_cli

ADMIN_KEY = "sk-admin-" + "Q1w2E3r4" * 6
EMP = "Employee ID=\\bEMP-[0-9]{6}\\b"


def _rows() -> list[DlpProfileRow]:
    with session_scope() as session:
        return list(session.exec(select(DlpProfileRow)).all())


def _add_acme(*profiles: str) -> None:
    args = ["tenant", "add", "acme", "--admin-key-env", "ACME_DLP_ADMIN_KEY"]
    for p in profiles:
        args += ["--dlp-profile", p]
    result = run_cli(*args)
    assert result.code == 0, result.output


@pytest.fixture
def admin_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_DLP_ADMIN_KEY", ADMIN_KEY)


def test_add_list_show_remove_custom_profile(db: str, admin_env: None) -> None:
    added = run_cli(
        "dlp", "profile", "add", "Acme HR",
        "--regex", EMP, "--keyword", "Project Zorvex", "--keyword", "payroll",
        "--min-count", "2", "--description", "HR exports",
    )  # fmt: skip
    assert added.code == 0, added.output
    assert "Acme HR" in added.stdout

    listed = json.loads(run_cli("dlp", "profile", "list", "--format", "json").stdout)
    assert [r["name"] for r in listed] == [*PREDEFINED, "Acme HR"]
    custom = listed[-1]
    assert custom["type"] == "custom" and custom["entries"] == 2
    assert custom["description"] == "HR exports" and custom["used_by"] == []
    table = run_cli("dlp", "profile", "list")
    assert table.code == 0 and "Acme HR" in table.stdout and "predefined" in table.stdout

    shown = json.loads(run_cli("dlp", "profile", "show", "Acme HR", "--format", "json").stdout)
    entries = {e["id"]: e for e in shown["entries"]}
    assert entries["custom_employee_id"]["pattern"] == "\\bEMP-[0-9]{6}\\b"
    assert entries["custom_employee_id"]["min_count"] == 2
    assert entries["custom_keywords"]["words"] == ["Project Zorvex", "payroll"]

    # Predefined profiles show their entries with validators and context keywords.
    fin = json.loads(
        run_cli("dlp", "profile", "show", "Financial Information", "--format", "json").stdout
    )
    by_id = {e["id"]: e for e in fin["entries"]}
    assert fin["type"] == "predefined"
    assert by_id["card_visa"]["validator"] == "card_visa"
    assert "routing" in by_id["us_aba_routing"]["context_keywords"]
    text = run_cli("dlp", "profile", "show", "Financial Information")
    assert text.code == 0 and "card_visa" in text.stdout

    # Attached to a tenant, the profile cannot be removed; the message names the tenant.
    _add_acme("Acme HR")
    refused = run_cli("dlp", "profile", "remove", "Acme HR")
    assert refused.code == 2 and "acme" in refused.output
    assert [r.name for r in _rows()] == ["Acme HR"]
    listed = json.loads(run_cli("dlp", "profile", "list", "--format", "json").stdout)
    assert listed[-1]["used_by"] == ["acme"]

    detached = run_cli("tenant", "update", "acme", "--clear-dlp-profiles")
    assert detached.code == 0, detached.output
    removed = run_cli("dlp", "profile", "remove", "Acme HR")
    assert removed.code == 0, removed.output
    assert _rows() == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--regex", "Runaway=(a+)+b"], "Runaway"),
        (["--regex", "Broken=[unclosed"], "Broken"),
        (["--regex", "Anything=.*"], "Anything"),
        (["--regex", "no equals sign"], "ENTRY NAME=PATTERN"),
        ([], "at least one"),
        (["--keyword", "x"], "keywords"),
    ],
)
def test_bad_profiles_are_rejected_and_nothing_is_written(
    db: str, args: list[str], message: str
) -> None:
    result = run_cli("dlp", "profile", "add", "Bad", *args)
    assert result.code == 2
    assert message in result.output
    assert _rows() == []


def test_refusals(db: str) -> None:
    assert run_cli("dlp", "profile", "add", "Dup", "--keyword", "zorvex").code == 0
    again = run_cli("dlp", "profile", "add", "Dup", "--keyword", "other")
    assert again.code == 2 and "already exists" in again.output
    clash = run_cli("dlp", "profile", "add", "Credentials and Secrets", "--keyword", "abc")
    assert clash.code == 2 and "predefined" in clash.output
    predefined = run_cli("dlp", "profile", "remove", "Financial Information")
    assert predefined.code == 2 and "predefined" in predefined.output
    unknown = run_cli("dlp", "profile", "show", "Nope")
    assert unknown.code == 2 and "unknown DLP profile" in unknown.output
    assert [r.name for r in _rows()] == ["Dup"]


def test_resolve_profiles_mixes_code_and_rows(db: str) -> None:
    assert run_cli("dlp", "profile", "add", "Acme HR", "--regex", EMP).code == 0
    with session_scope() as session:
        got = resolve_profiles(session, ["Financial Information", "Acme HR"])
        assert [p.name for p in got] == ["Financial Information", "Acme HR"]
        assert got[0] is PREDEFINED["Financial Information"]
        assert profile_set_version(got) != profile_set_version(got[:1])
        with pytest.raises(DlpProfileError, match="Gone"):
            resolve_profiles(session, ["Gone"])


def test_scan_file_with_a_custom_profile(db: str, tmp_path: Path) -> None:
    assert run_cli("dlp", "profile", "add", "Acme HR", "--regex", EMP, "--min-count", "2").code == 0
    sample = tmp_path / "export.csv"
    sample.write_text("id,name\nEMP-204811,Ada\nEMP-377120,Grace\n")
    out = run_cli("dlp", "scan-file", str(sample), "--profile", "Acme HR", "--format", "json")
    assert out.code == 0, out.output
    result = json.loads(out.stdout)
    assert result["outcome"] == "matched" and result["profiles"] == ["Acme HR"]
    assert result["entries"][0]["count"] == 2
    assert "EMP-204811" not in out.stdout and "EMP-377120" not in out.stdout

    one = tmp_path / "one.txt"
    one.write_text("only EMP-204811 here\n")
    clean = json.loads(run_cli("dlp", "scan-file", str(one), "-p", "Acme HR", "-f", "json").stdout)
    assert clean["outcome"] == "clean"  # below min-count 2

    broken = tmp_path / "broken.docx"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    skipped = json.loads(run_cli("dlp", "scan-file", str(broken), "-f", "json").stdout)
    assert skipped["outcome"] == "skipped" and skipped["reason"] == "corrupt"

    table = run_cli("dlp", "scan-file", str(sample), "-p", "Acme HR")
    assert table.code == 0 and "matched" in table.stdout and "EMP-204811" not in table.stdout


def test_profile_entries_lists_the_catalogue(db: str) -> None:
    rows = json.loads(run_cli("dlp", "profile", "entries", "--format", "json").stdout)
    assert len(rows) == sum(len(p.entries) for p in PREDEFINED.values())
    ids = {r["id"] for r in rows}
    assert {"github_pat_classic", "gitlab_runner_token", "in_aadhaar", "br_cpf"} <= ids
    assert set(rows[0]) == {"id", "name", "profile", "validator", "context", "severity"}
    only = json.loads(
        run_cli("dlp", "profile", "entries", "-p", "Financial Information", "-f", "json").stdout
    )
    assert {r["profile"] for r in only} == {"Financial Information"}
    table = run_cli("dlp", "profile", "entries")
    assert table.code == 0 and f"{len(rows)} predefined DLP entries" in table.stdout
    bad = run_cli("dlp", "profile", "entries", "-p", "Nope")
    assert bad.code != 0 and "Nope" in bad.output


def test_include_test_values_is_stored_with_the_profile(db: str, tmp_path: Path) -> None:
    sample = tmp_path / "cards.txt"
    sample.write_text("card 4012 8888 8888 1881 and 4539 1488 0343 6467\n")
    added = run_cli(
        "dlp", "profile", "add", "Cards incl. test",
        "--from-predefined", "Financial Information", "--include-test-values",
    )  # fmt: skip
    assert added.code == 0, added.output
    with session_scope() as session:
        (profile,) = resolve_profiles(session, ["Cards incl. test"])
    assert profile.include_test_values and len(profile.entries) == len(
        PREDEFINED["Financial Information"].entries
    )
    shown = json.loads(run_cli("dlp", "profile", "show", "Cards incl. test", "-f", "json").stdout)
    assert shown["include_test_values"] is True

    def visa_count(*extra: str) -> int:
        out = json.loads(run_cli("dlp", "scan-file", str(sample), "-f", "json", *extra).stdout)
        return sum(e["count"] for e in out.get("entries", []) if e["entry_id"] == "card_visa")

    assert visa_count("-p", "Financial Information") == 1  # the test card is skipped
    assert visa_count("-p", "Cards incl. test") == 2
    assert visa_count("-p", "Financial Information", "--include-test-values") == 2
