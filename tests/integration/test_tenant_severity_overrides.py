"""`casb tenant add/update/show/import --severity` against the real PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from schemas.catalog import BY_KEY
from tests.cli import run_cli

ADMIN_KEY = "sk-admin-" + "S3v3rity" * 6
INVITE_ID = BY_KEY["stale_pending_invite"].finding_type_id
USER_ID = BY_KEY["inactive_user"].finding_type_id


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEV_ADMIN_KEY", ADMIN_KEY)


def _stored(db_url: str) -> dict[str, object]:
    with psycopg.connect(db_url.replace("+psycopg", "")) as conn:
        return dict(conn.execute("SELECT slug, severity_overrides FROM tenants").fetchall())


def _snapshot(db_url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(db_url.replace("+psycopg", "")) as conn:
        return conn.execute("SELECT * FROM tenants ORDER BY id").fetchall()


def _show(slug: str) -> dict[str, object]:
    result = run_cli("tenant", "show", slug, "--format", "json")
    assert result.code == 0, result.output
    shown: dict[str, object] = json.loads(result.stdout)
    return shown


def test_add_update_show_and_clear(db: str) -> None:
    added = run_cli(
        "tenant", "add", "acme", "--admin-key-env", "SEV_ADMIN_KEY",
        "--severity", "stale_pending_invite=critical",
    )  # fmt: skip
    assert added.code == 0, added.output
    assert _stored(db) == {"acme": {INVITE_ID: "critical"}}
    assert _show("acme")["severity_overrides"] == {"stale_pending_invite": "critical"}

    # update merges (a FindingTypeID works as well as a key) and replaces per type
    updated = run_cli(
        "tenant", "update", "acme",
        "--severity", f"{USER_ID}=HIGH", "--severity", "stale_pending_invite=medium",
    )  # fmt: skip
    assert updated.code == 0, updated.output
    assert _stored(db) == {"acme": {INVITE_ID: "medium", USER_ID: "high"}}
    table = run_cli("tenant", "show", "acme")
    assert "inactive_user=high" in table.stdout and "stale_pending_invite=medium" in table.stdout

    # other updates leave the overrides alone; clear drops them, then --severity applies
    assert run_cli("tenant", "update", "acme", "--schedule", "6h").code == 0
    assert _stored(db) == {"acme": {INVITE_ID: "medium", USER_ID: "high"}}
    cleared = run_cli(
        "tenant", "update", "acme", "--clear-severity-overrides",
        "--severity", "inactive_user=low",
    )  # fmt: skip
    assert cleared.code == 0, cleared.output
    assert _stored(db) == {"acme": {USER_ID: "low"}}
    assert run_cli("tenant", "update", "acme", "--clear-severity-overrides").code == 0
    assert _show("acme")["severity_overrides"] == {}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--severity", "no_such_type=high"), "unknown finding type 'no_such_type'"),
        (("--severity", "inactive_user=urgent"), "bad severity for inactive_user"),
        (("--severity", "inactive_user"), "TYPE=SEVERITY"),
    ],
)
def test_bad_overrides_exit_2_and_change_nothing(
    db: str, args: tuple[str, ...], message: str
) -> None:
    base = ("--admin-key-env", "SEV_ADMIN_KEY", "--severity", "stale_pending_invite=high")
    assert run_cli("tenant", "add", "acme", *base).code == 0
    before = _snapshot(db)
    bad_add = run_cli("tenant", "add", "beta", "--admin-key-env", "SEV_ADMIN_KEY", *args)
    assert bad_add.code == 2 and message in bad_add.output, bad_add.output
    bad_update = run_cli("tenant", "update", "acme", "--clear-severity-overrides", *args)
    assert bad_update.code == 2 and message in bad_update.output, bad_update.output
    assert _snapshot(db) == before


def test_import_accepts_overrides_and_refuses_bad_ones(db: str, tmp_path: Path) -> None:
    toml_file = tmp_path / "tenants.toml"
    toml_file.write_text(
        f"""
[[tenants]]
slug = "alpha"
admin_key_env = "SEV_ADMIN_KEY"
severity_overrides = {{ stale_pending_invite = "critical", "{USER_ID}" = "low" }}

[[tenants]]
slug = "beta"
admin_key_env = "SEV_ADMIN_KEY"
"""
    )
    result = run_cli("tenant", "import", str(toml_file))
    assert result.code == 0, result.output
    assert _stored(db) == {"alpha": {INVITE_ID: "critical", USER_ID: "low"}, "beta": {}}

    again = tmp_path / "update.json"
    again.write_text(
        json.dumps([{"slug": "beta", "severity_overrides": {"inactive_user": "high"}}])
    )
    assert run_cli("tenant", "import", "--update", str(again)).code == 0
    assert _stored(db)["beta"] == {USER_ID: "high"}

    before = _snapshot(db)
    for bad, message in (
        ({"severity_overrides": ["inactive_user=high"]}, "'severity_overrides' must be a table"),
        ({"severity_overrides": {"inactive_user": 3}}, "must be severity names"),
        ({"severity_overrides": {"nope": "high"}}, "unknown finding type 'nope'"),
        ({"severity_overrides": {"inactive_user": "huge"}}, "bad severity for inactive_user"),
    ):
        path = tmp_path / "bad.json"
        good = {"slug": "gamma", "admin_key_env": "SEV_ADMIN_KEY"}
        path.write_text(
            json.dumps([good, {"slug": "delta", "admin_key_env": "SEV_ADMIN_KEY", **bad}])
        )
        refused = run_cli("tenant", "import", str(path))
        assert refused.code == 2 and message in refused.output, refused.output
        assert _snapshot(db) == before
