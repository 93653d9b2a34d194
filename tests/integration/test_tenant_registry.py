"""`casb tenant ...` against the real PostgreSQL: encryption at rest, all-or-nothing input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.cli import run_cli

ADMIN_KEY = "sk-admin-" + "A1b2C3d4" * 6
COMPLIANCE_KEY = "sk-proj-" + "Z9y8X7w6" * 6


def _raw_rows(db_url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(db_url.replace("+psycopg", "")) as conn:
        return conn.execute(sql).fetchall()


def _snapshot(db_url: str) -> list[tuple[object, ...]]:
    return _raw_rows(db_url, "SELECT * FROM tenants ORDER BY id")


@pytest.fixture
def keys_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("ACME_ADMIN_KEY", ADMIN_KEY)
    monkeypatch.setenv("ACME_COMPLIANCE_KEY", COMPLIANCE_KEY)
    return {"ACME_ADMIN_KEY": ADMIN_KEY, "ACME_COMPLIANCE_KEY": COMPLIANCE_KEY}


def _add_acme(*extra: str) -> None:
    result = run_cli(
        "tenant", "add", "acme", "--name", "Acme Corp", "--org-id", "org-acme",
        "--workspace-id", "8f0c7f1e-1111-4c2b-9a55-3c3f3b8b9e01",
        "--admin-key-env", "ACME_ADMIN_KEY", "--compliance-key-env", "ACME_COMPLIANCE_KEY",
        "--threshold", "unused_key_days=45", "--schedule", "6h", *extra,
    )  # fmt: skip
    assert result.code == 0, result.output


def test_add_list_show_remove(db: str, keys_env: dict[str, str]) -> None:
    _add_acme()
    listed = run_cli("tenant", "list", "--format", "json")
    assert listed.code == 0
    rows = json.loads(listed.stdout)
    assert [r["slug"] for r in rows] == ["acme"]
    shown = json.loads(run_cli("tenant", "show", "acme", "--format", "json").stdout)
    assert shown["thresholds"] == {
        "key_rotation_days": 90,
        "unused_key_days": 45,
        "inactive_user_days": 90,
        "stale_invite_days": 14,
    }
    assert shown["schedule"] == "6h"
    assert shown["admin_key"].endswith(ADMIN_KEY[-4:]) and ADMIN_KEY not in listed.stdout
    removed = run_cli("tenant", "remove", "acme", "--yes")
    assert removed.code == 0
    assert _snapshot(db) == []


def test_stored_keys_are_not_plaintext(db: str, keys_env: dict[str, str]) -> None:
    _add_acme()
    rows = _raw_rows(db, "SELECT * FROM tenants")
    dump = repr(rows)
    assert ADMIN_KEY not in dump and COMPLIANCE_KEY not in dump
    # Not even a long piece of the key body.
    assert ADMIN_KEY[9:30] not in dump and COMPLIANCE_KEY[8:30] not in dump
    (admin_enc, compliance_enc) = _raw_rows(
        db, "SELECT admin_key_enc, compliance_key_enc FROM tenants"
    )[0]
    assert str(admin_enc).startswith("gAAAA") and str(compliance_enc).startswith("gAAAA")


def test_keys_decrypt_only_with_the_secret_key(db: str, keys_env: dict[str, str]) -> None:
    from core.settings import get_settings
    from store.db import session_scope
    from store.tenants import decrypt_keys, get_tenant

    _add_acme()
    with session_scope() as session:
        keys = decrypt_keys(get_tenant(session, "acme"), get_settings().fernet())
    assert keys.admin_key.get_secret_value() == ADMIN_KEY
    assert keys.compliance_key.get_secret_value() == COMPLIANCE_KEY
    assert ADMIN_KEY not in repr(keys)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tenant", "add", "acme", "--admin-key-env", "ACME_ADMIN_KEY"], "already exists"),
        (["tenant", "add", "Bad Slug", "--admin-key-env", "ACME_ADMIN_KEY"], "bad slug"),
        (["tenant", "add", "b", "--admin-key-file", "/nonexistent/key"], "cannot read key file"),
        (["tenant", "add", "b", "--admin-key-env", "NOT_SET_ANYWHERE"], "is not set"),
        (["tenant", "add", "b", "--admin-key-env", "ACME_ADMIN_KEY",
          "--admin-api-base", "ftp://x"], "bad admin API base"),
        (["tenant", "add", "b", "--admin-key-env", "ACME_ADMIN_KEY",
          "--dlp-profile", "No Such Profile"], "unknown DLP profile"),
        (["tenant", "add", "b", "--admin-key-env", "ACME_ADMIN_KEY",
          "--threshold", "bogus_days=3"], "unknown threshold"),
        (["tenant", "add", "b"], "admin key is required"),
        (["tenant", "show", "ghost"], "unknown tenant"),
        (["tenant", "update", "ghost", "--name", "x"], "unknown tenant"),
        (["tenant", "remove", "ghost", "--yes"], "unknown tenant"),
    ],
)  # fmt: skip
def test_bad_input_is_exit_2_and_changes_nothing(
    db: str, keys_env: dict[str, str], args: list[str], message: str
) -> None:
    _add_acme()
    before = _snapshot(db)
    result = run_cli(*args)
    assert result.code == 2
    assert message in result.output
    assert _snapshot(db) == before


def test_update_changes_only_given_fields(db: str, keys_env: dict[str, str]) -> None:
    _add_acme()
    before = json.loads(run_cli("tenant", "show", "acme", "--format", "json").stdout)
    result = run_cli("tenant", "update", "acme", "--threshold", "stale_invite_days=7", "--disable")
    assert result.code == 0, result.output
    after = json.loads(run_cli("tenant", "show", "acme", "--format", "json").stdout)
    assert after["thresholds"]["stale_invite_days"] == 7
    assert after["thresholds"]["unused_key_days"] == 45
    assert after["enabled"] is False
    assert after["admin_key"] == before["admin_key"]


def test_import_toml_and_json_all_or_nothing(
    db: str, keys_env: dict[str, str], tmp_path: Path
) -> None:
    key_file = tmp_path / "beta.key"
    key_file.write_text(ADMIN_KEY + "\n")
    toml_file = tmp_path / "tenants.toml"
    toml_file.write_text(
        f"""
[[tenants]]
slug = "alpha"
name = "Alpha"
admin_key_env = "ACME_ADMIN_KEY"
schedule = "12h"
thresholds = {{ inactive_user_days = 30 }}

[[tenants]]
slug = "beta"
admin_key_file = "{key_file}"
compliance_api_base = "http://127.0.0.1:9/chatgpt/v1"
"""
    )
    result = run_cli("tenant", "import", str(toml_file))
    assert result.code == 0, result.output
    slugs = [r[0] for r in _raw_rows(db, "SELECT slug FROM tenants ORDER BY slug")]
    assert slugs == ["alpha", "beta"]

    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "tenants": [
                    {"slug": "gamma", "admin_key_env": "ACME_ADMIN_KEY"},
                    {"slug": "delta", "admin_key_file": str(tmp_path / "missing.key")},
                ]
            }
        )
    )
    before = _snapshot(db)
    result = run_cli("tenant", "import", str(bad))
    assert result.code == 2 and "delta" in result.output
    assert _snapshot(db) == before  # gamma was not half-written

    inline = tmp_path / "inline.json"
    inline.write_text(json.dumps([{"slug": "eps", "admin_key": ADMIN_KEY}]))
    result = run_cli("tenant", "import", str(inline))
    assert result.code == 2 and "inline keys" in result.output
    assert ADMIN_KEY not in result.output


def test_unmigrated_database_says_run_db_upgrade(pg_url: str, secret_key: str) -> None:
    import psycopg as pg

    name = pg_url.rsplit("/", 1)[1] + "_empty"
    admin = pg_url.rsplit("/", 1)[0].replace("+psycopg", "") + "/test"
    with pg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        env = {**os.environ, "CASB_DATABASE_URL": pg_url.rsplit("/", 1)[0] + "/" + name}
        proc = subprocess.run(
            [sys.executable, "-m", "workers.cli", "tenant", "list"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 2
        assert "casb db upgrade" in proc.stderr
        assert "Traceback" not in proc.stderr
    finally:
        with pg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_add_defaults_and_compliance_key_file(
    db: str, keys_env: dict[str, str], tmp_path: Path
) -> None:
    from core.settings import get_settings
    from store.db import session_scope
    from store.tenants import decrypt_keys, get_tenant

    # No compliance key given: it defaults to the admin key; the API bases to OpenAI's.
    result = run_cli("tenant", "add", "solo", "--admin-key-env", "ACME_ADMIN_KEY")
    assert result.code == 0, result.output
    shown = json.loads(run_cli("tenant", "show", "solo", "--format", "json").stdout)
    assert shown["admin_api_base"] == "https://api.openai.com/v1"
    assert shown["compliance_api_base"] == "https://api.chatgpt.com/v1"
    assert shown["compliance_key"] == "(same as admin key)"
    assert shown["schedule"] == "1d" and shown["dlp_profiles"] == []

    # A compliance key read from a file (trailing newline stripped), a known DLP profile.
    key_file = tmp_path / "compliance.key"
    key_file.write_text(COMPLIANCE_KEY + "\n")
    result = run_cli(
        "tenant", "add", "duo", "--admin-key-env", "ACME_ADMIN_KEY",
        "--compliance-key-file", str(key_file), "--dlp-profile", "Credentials and Secrets",
        "--compliance-api-base", "http://127.0.0.1:9/chatgpt/v1/",
    )  # fmt: skip
    assert result.code == 0, result.output
    shown = json.loads(run_cli("tenant", "show", "duo", "--format", "json").stdout)
    assert shown["compliance_key"].endswith(COMPLIANCE_KEY[-4:])
    assert shown["compliance_api_base"] == "http://127.0.0.1:9/chatgpt/v1"
    assert shown["dlp_profiles"] == ["Credentials and Secrets"]
    assert COMPLIANCE_KEY not in repr(_raw_rows(db, "SELECT * FROM tenants"))
    with session_scope() as session:
        fernet = get_settings().fernet()
        solo = decrypt_keys(get_tenant(session, "solo"), fernet)
        duo = decrypt_keys(get_tenant(session, "duo"), fernet)
    assert solo.compliance_key.get_secret_value() == ADMIN_KEY
    assert duo.compliance_key.get_secret_value() == COMPLIANCE_KEY

    # Both sources for one key is a usage error that writes nothing.
    before = _snapshot(db)
    result = run_cli(
        "tenant", "add", "trio", "--admin-key-env", "ACME_ADMIN_KEY",
        "--compliance-key-env", "ACME_COMPLIANCE_KEY", "--compliance-key-file", str(key_file),
    )  # fmt: skip
    assert result.code == 2 and "not both" in result.output
    assert _snapshot(db) == before


def test_import_json_list_then_existing_slug_needs_update(
    db: str, keys_env: dict[str, str], tmp_path: Path
) -> None:
    key_file = tmp_path / "c.key"
    key_file.write_text(COMPLIANCE_KEY)
    doc = [
        {
            "slug": "one",
            "admin_key_env": "ACME_ADMIN_KEY",
            "compliance_key_file": str(key_file),
            "workspace_id": "8f0c7f1e-1111-4c2b-9a55-3c3f3b8b9e01",
            "dlp_profiles": ["Financial Information"],
            "thresholds": {"stale_invite_days": 7},
            "schedule": 3600,
            "enabled": False,
        },
        {"slug": "two", "admin_key_env": "ACME_ADMIN_KEY"},
    ]
    path = tmp_path / "tenants.json"
    path.write_text(json.dumps(doc))
    result = run_cli("tenant", "import", str(path))
    assert result.code == 0, result.output
    rows = {r["slug"]: r for r in json.loads(run_cli("tenant", "list", "-f", "json").stdout)}
    assert set(rows) == {"one", "two"}
    one = rows["one"]
    assert one["schedule"] == "1h" and one["enabled"] is False
    assert one["dlp_profiles"] == ["Financial Information"]
    assert one["thresholds"]["stale_invite_days"] == 7
    assert one["compliance_key"].endswith(COMPLIANCE_KEY[-4:])

    # Importing a slug that exists fails as a whole (the new tenant is not written either)...
    again = tmp_path / "again.json"
    again.write_text(
        json.dumps(
            {
                "tenants": [
                    {"slug": "three", "admin_key_env": "ACME_ADMIN_KEY"},
                    {"slug": "two", "admin_key_env": "ACME_ADMIN_KEY", "name": "Two"},
                ]
            }
        )
    )
    before = _snapshot(db)
    result = run_cli("tenant", "import", str(again))
    assert result.code == 2 and "already exists" in result.output
    assert "--update" in result.output
    assert _snapshot(db) == before
    # ...unless --update says to update existing tenants.
    result = run_cli("tenant", "import", str(again), "--update")
    assert result.code == 0, result.output
    rows = {r["slug"]: r for r in json.loads(run_cli("tenant", "list", "-f", "json").stdout)}
    assert set(rows) == {"one", "two", "three"} and rows["two"]["name"] == "Two"


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"name": 5}, "'name' must be a string, not a number"),
        ({"enabled": "yes"}, "'enabled' must be true or false"),
        ({"dlp_profiles": "Financial Information"}, "'dlp_profiles' must be a list"),
        ({"dlp_profiles": [1]}, "'dlp_profiles' must be a list of profile names"),
        ({"thresholds": [7]}, "'thresholds' must be a table"),
        ({"thresholds": {"stale_invite_days": "soon"}}, "whole days"),
        ({"schedule": True}, "'schedule' must be a duration"),
        ({"admin_key_env": ["ACME_ADMIN_KEY"]}, "'admin_key_env' must be the name of"),
        ({"admin_api_base": "not a url"}, "bad admin API base"),
        ({"dlp_profiles": ["No Such Profile"]}, "unknown DLP profile"),
        ({"slug": None}, "missing 'slug'"),
    ],
)
def test_import_with_wrong_values_is_exit_2_and_writes_nothing(
    db: str, keys_env: dict[str, str], tmp_path: Path, item: dict[str, object], message: str
) -> None:
    # The first tenant is valid; the second carries one bad value: nothing may be written.
    path = tmp_path / "t.json"
    bad = {"slug": "bad", "admin_key_env": "ACME_ADMIN_KEY", **item}
    path.write_text(json.dumps([{"slug": "good", "admin_key_env": "ACME_ADMIN_KEY"}, bad]))
    result = run_cli("tenant", "import", str(path))  # a traceback would raise here
    assert result.code == 2, result.output
    assert message in result.output
    assert _snapshot(db) == []


def _casb(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workers.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_db_upgrade_is_idempotent_and_unreachable_is_one_line(pg_url: str, secret_key: str) -> None:
    import psycopg as pg

    from store.db import head_revision

    name = pg_url.rsplit("/", 1)[1] + "_upgrade"
    admin = pg_url.rsplit("/", 1)[0].replace("+psycopg", "") + "/test"
    with pg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        env = {"CASB_DATABASE_URL": pg_url.rsplit("/", 1)[0] + "/" + name}
        first = _casb(env, "db", "upgrade")
        assert first.returncode == 0, first.stderr
        second = _casb(env, "db", "upgrade")  # already at head: nothing to do, still ok
        assert second.returncode == 0, second.stderr
        head = head_revision()
        assert head and f"revision {head}" in first.stdout and f"revision {head}" in second.stdout
        current = _casb(env, "db", "current")
        assert current.returncode == 0 and f"current: {head}" in current.stdout
        listed = _casb(env, "tenant", "list", "--format", "json")
        assert listed.returncode == 0 and json.loads(listed.stdout) == []
    finally:
        with pg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    # Nothing listens on port 9: one line, exit 2, the password in the URL is not shown.
    nowhere = {"CASB_DATABASE_URL": "postgresql+psycopg://casb:hunter2@127.0.0.1:9/casb"}
    for args in (("db", "upgrade"), ("db", "current")):
        proc = _casb(nowhere, *args)
        assert proc.returncode == 2, proc.stderr
        assert "cannot reach the database" in proc.stderr and "CASB_DATABASE_URL" in proc.stderr
        assert "Traceback" not in proc.stderr and "hunter2" not in proc.stderr


def test_a_slug_wins_over_an_id_that_looks_the_same(db: str, keys_env: dict[str, str]) -> None:
    # Slugs may be all digits; ids are what tasks pass. A command given "3" must act on the
    # tenant whose slug is "3", never on another tenant that happens to have id 3.
    for slug in ("3", "acme", "bravo"):  # ids 1, 2, 3
        result = run_cli("tenant", "add", slug, "--admin-key-env", "ACME_ADMIN_KEY")
        assert result.code == 0, result.output
    assert dict(_raw_rows(db, "SELECT slug, id FROM tenants")) == {"3": 1, "acme": 2, "bravo": 3}
    # a new slug equal to an existing id is not "already exists"
    result = run_cli("tenant", "add", "2", "--admin-key-env", "ACME_ADMIN_KEY")
    assert result.code == 0, result.output
    shown = json.loads(run_cli("tenant", "show", "3", "--format", "json").stdout)
    assert shown["slug"] == "3" and shown["id"] == 1
    assert run_cli("tenant", "remove", "3", "--yes").code == 0
    slugs = sorted(r[0] for r in _raw_rows(db, "SELECT slug FROM tenants"))
    assert slugs == ["2", "acme", "bravo"]
    # an id still finds its tenant when no slug equals it
    assert json.loads(run_cli("tenant", "show", "2", "--format", "json").stdout)["slug"] == "2"
    assert json.loads(run_cli("tenant", "show", "3", "--format", "json").stdout)["slug"] == "bravo"


def test_declining_remove_keeps_the_tenant_and_exits_0(db: str, keys_env: dict[str, str]) -> None:
    _add_acme()
    before = _snapshot(db)
    result = run_cli("tenant", "remove", "acme", input="n\n")
    assert result.code == 0
    assert "nothing removed" in result.stdout
    assert _snapshot(db) == before
