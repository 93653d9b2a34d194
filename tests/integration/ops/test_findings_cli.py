"""`casb findings`, `findings ignore|unignore` and `casb suppress` against the real PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest

from exports.findings import EXPORT_FIELDS
from schemas.catalog import BY_KEY
from tests.cli import run_cli
from tests.integration.ops.seed import T0, add_finding, add_tenant, get_finding


@pytest.fixture
def fleet(db: str) -> dict[str, int]:
    acme = add_tenant(db, "acme")
    beta = add_tenant(db, "beta")
    ids = {
        "acme_action": add_finding(
            db, acme, "gpt_custom_actions", "g-1", resource_name="Sales helper"
        ),
        "acme_invite": add_finding(db, acme, "stale_pending_invite", "invite-1"),
        "acme_old": add_finding(
            db, acme, "admin_key_unused", "key_1", status="resolved", resolved_at=T0
        ),
        "beta_browse": add_finding(
            db, beta, "gpt_web_browsing", "g-2", first_seen=T0 + timedelta(days=10)
        ),
        "beta_critical": add_finding(db, beta, "gpt_public_link", "g-3", severity="critical"),
    }
    return ids


def _json(*args: str) -> list[dict]:
    result = run_cli("findings", "--format", "json", *args)
    assert result.code == 0, result.output
    return json.loads(result.stdout)


def test_filters(fleet: dict[str, int]) -> None:
    assert {r["id"] for r in _json()} == {
        fleet["acme_action"],
        fleet["acme_invite"],
        fleet["beta_browse"],
        fleet["beta_critical"],
    }
    everything = _json("--status", "all")
    assert len(everything) == 5
    assert everything[0]["severity"] == "critical"  # worst first
    assert [r["id"] for r in _json("--status", "resolved")] == [fleet["acme_old"]]
    assert {r["tenant"] for r in _json("--tenant", "beta")} == {"beta"}
    assert len(_json("--tenant", "beta", "--tenant", "acme")) == 4
    assert [r["id"] for r in _json("--severity", "low")] == [fleet["acme_invite"]]
    assert len(_json("--severity", "low", "--severity", "medium")) == 2
    by_key = _json("--type", "gpt_custom_actions")
    by_id = _json("--type", BY_KEY["gpt_custom_actions"].finding_type_id)
    assert by_key == by_id and [r["id"] for r in by_key] == [fleet["acme_action"]]
    assert [r["id"] for r in _json("--since", "2026-11-05")] == [fleet["beta_browse"]]
    assert _json("--since", "2026-11-11T12:00:01Z") == []


def test_formats_and_output_file(fleet: dict[str, int], tmp_path: Path) -> None:
    rows = _json("--tenant", "acme")
    assert set(rows[0]) == set(EXPORT_FIELDS)
    assert rows[0]["finding_type"] == "OpenAI: GPT with Custom Actions enabled"

    out = run_cli("findings", "--format", "csv", "--tenant", "acme")
    parsed = list(csv.DictReader(io.StringIO(out.stdout)))
    assert tuple(parsed[0]) == EXPORT_FIELDS and len(parsed) == 2

    ocsf = json.loads(run_cli("findings", "--format", "ocsf").stdout)
    assert len(ocsf) == 4 and {e["class_uid"] for e in ocsf} == {2004}

    table = run_cli("findings", "--tenant", "acme")
    assert table.code == 0 and "Sales helper" in table.stdout and "2 finding(s)" in table.stdout

    target = tmp_path / "f.json"
    written = run_cli("findings", "--format", "json", "--output", str(target))
    assert written.code == 0 and written.stdout == ""
    assert len(json.loads(target.read_text())) == 4


def test_findings_gate(fleet: dict[str, int]) -> None:
    failed = run_cli("findings", "--format", "json", "--fail-on", "critical")
    assert failed.code == 1 and "1 open finding(s) at or above critical" in failed.stderr
    assert len(json.loads(failed.stdout)) == 4  # the listing is still printed
    assert run_cli("findings", "--fail-on", "critical", "--tenant", "acme").code == 0
    assert run_cli("findings", "--fail-on", "high", "--tenant", "acme").code == 1
    # The gate counts open findings only.
    assert (
        run_cli("findings", "--fail-on", "medium", "--status", "resolved", "--tenant", "acme").code
        == 1
    )
    assert run_cli("findings", "--fail-on", "low", "--type", "admin_key_unused").code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--tenant", "nope"), "unknown tenant 'nope'"),
        (("--type", "nope"), "unknown finding type 'nope'"),
        (("--since", "yesterday"), "bad date for --since"),
        (("--severity", "severe"), "severe"),
        (("--fail-on", "huge"), "huge"),
        (("--status", "closed"), "closed"),
    ],
)
def test_bad_input_exits_2(fleet: dict[str, int], args: tuple[str, ...], message: str) -> None:
    result = run_cli("findings", *args)
    assert result.code == 2
    assert message in result.output


def test_ignore_and_unignore(fleet: dict[str, int], db: str) -> None:
    fid = fleet["acme_invite"]
    ok = run_cli("findings", "ignore", str(fid), "--reason", "onboarding", "--until", "30d")
    assert ok.code == 0, ok.output
    f = get_finding(db, fid)
    assert (
        f.status == "ignored" and f.ignored_reason == "onboarding" and f.ignored_until is not None
    )
    assert fid not in {r["id"] for r in _json()}
    assert [r["ignored_reason"] for r in _json("--status", "ignored")] == ["onboarding"]
    assert (
        run_cli("findings", "ignore", str(fid), "--reason", "x", "--until", "2020-01-01").code == 2
    )
    assert run_cli("findings", "ignore", "9999", "--reason", "x").code == 2
    assert run_cli("findings", "unignore", str(fid)).code == 0
    assert get_finding(db, fid).status == "open"
    again = run_cli("findings", "unignore", str(fid))
    assert again.code == 2 and "not ignored" in again.output


def test_suppress_add_list_remove(fleet: dict[str, int], db: str) -> None:
    added = run_cli(
        "suppress", "add", "--type", "gpt_web_browsing", "--resource", "g-*",
        "--reason", "browsing approved", "--until", "2099-01-01", "--created-by", "sec-team",
    )  # fmt: skip
    assert added.code == 0, added.output
    assert "1 finding(s) ignored now" in added.stdout
    assert get_finding(db, fleet["beta_browse"]).status == "ignored"

    rules = json.loads(run_cli("suppress", "list", "--format", "json").stdout)
    assert len(rules) == 1
    rule = rules[0]
    assert rule["tenant"] is None and rule["finding_type"] == BY_KEY["gpt_web_browsing"].title
    assert rule["until"] == "2099-01-01T00:00:00Z" and rule["created_by"] == "sec-team"
    assert (
        len(json.loads(run_cli("suppress", "list", "--tenant", "acme", "--format", "json").stdout))
        == 1
    )
    listed = run_cli("suppress", "list").stdout
    assert "sec-team" in listed and "browsing" in listed

    blocked = run_cli("findings", "unignore", str(fleet["beta_browse"]))
    assert blocked.code == 2 and f"suppress remove {rule['id']}" in blocked.output

    removed = run_cli("suppress", "remove", str(rule["id"]))
    assert removed.code == 0 and "1 finding(s) released" in removed.stdout
    assert get_finding(db, fleet["beta_browse"]).status == "open"
    assert run_cli("suppress", "remove", str(rule["id"])).code == 2
    assert run_cli("suppress", "add", "--tenant", "ghost", "--reason", "r").code == 2
    assert run_cli("suppress", "add", "--reason", "r").code == 2  # would hide everything


def test_an_expired_ignore_never_hides_a_finding_from_the_gate(db: str) -> None:
    acme = add_tenant(db, "acme")
    fid = add_finding(
        db, acme, "gpt_public_store", "g-9", status="ignored",
        ignored_reason="temporary", ignored_until=T0 + timedelta(days=1),
    )  # fmt: skip
    gated = run_cli("findings", "--format", "json", "--fail-on", "high")
    assert gated.code == 1
    assert [r["id"] for r in json.loads(gated.stdout)] == [fid]
    f = get_finding(db, fid)
    assert f.status == "open" and f.ignored_until is None and f.ignored_reason is None
