"""The Alembic migrations against the real PostgreSQL: they build exactly the models' schema.

Later issues add tables and columns through new migrations; this test is what catches a model
changed without its migration (the fleet's `migrate` job would then leave a schema the code
does not expect).
"""

from __future__ import annotations

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from tests.cli import run_cli


def test_migrated_schema_equals_the_models(db: str) -> None:
    import schemas.tables  # noqa: F401  (registers every table on the metadata)
    from store.db import get_engine

    with get_engine(db).connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert diff == [], diff


def _insert_finding(conn: psycopg.Connection, tenant_id: int, resource_id: str) -> None:
    conn.execute(
        "INSERT INTO findings (tenant_id, finding_type_id, resource_type, resource_id, "
        "severity, status, evidence, first_seen, last_seen, reopened_count) VALUES "
        "(%s, '776ceb93-fa9a-4ca0-83db-668a67c09936', 'invite', %s, 'high', 'open', '{}', "
        "now(), now(), 0)",
        (tenant_id, resource_id),
    )


def test_findings_unique_per_tenant_type_resource_and_removed_with_the_tenant(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REG_ADMIN_KEY", "sk-admin-" + "k" * 40)
    for slug in ("acme", "beta"):
        assert run_cli("tenant", "add", slug, "--admin-key-env", "REG_ADMIN_KEY").code == 0
    raw = db.replace("+psycopg", "")
    with psycopg.connect(raw, autocommit=True) as conn:
        ids = dict(conn.execute("SELECT slug, id FROM tenants").fetchall())
        _insert_finding(conn, ids["acme"], "invite-1")
        _insert_finding(conn, ids["beta"], "invite-1")  # same resource, other tenant: fine
        with pytest.raises(psycopg.errors.UniqueViolation):
            _insert_finding(conn, ids["acme"], "invite-1")
        conn.execute(
            "INSERT INTO scan_runs (tenant_id, trigger, status, attempt, coalesced_requests, "
            "parts, counts, errors) VALUES (%s, 'manual', 'succeeded', 1, 0, '{}', '{}', '[]')",
            (ids["acme"],),
        )

    assert run_cli("tenant", "remove", "acme", "--yes").code == 0
    with psycopg.connect(raw) as conn:
        left = conn.execute("SELECT tenant_id FROM findings").fetchall()
        runs = conn.execute("SELECT count(*) FROM scan_runs").fetchone()
    assert left == [(ids["beta"],)] and runs == (0,)
