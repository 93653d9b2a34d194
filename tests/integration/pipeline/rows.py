"""Rows the pipeline tests insert directly: a bare tenant and a scan run of a given age."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from schemas.tables import ScanRun, Tenant, utcnow
from store.db import session_scope


def insert_tenant(slug: str) -> int:
    with session_scope() as session:
        tenant = Tenant(
            slug=slug, name=slug.title(), admin_key_enc="x", thresholds={}, dlp_profiles=[]
        )
        session.add(tenant)
        session.flush()
        assert tenant.id is not None
        return tenant.id


def insert_run(
    tenant_id: int, status: str, age: timedelta, errors: list[dict[str, Any]] | None = None
) -> int:
    """A run requested, started and last heard from ``age`` ago."""
    then = utcnow() - age
    with session_scope() as session:
        run = ScanRun(
            tenant_id=tenant_id,
            status=status,
            requested_at=then,
            started_at=then,
            heartbeat_at=then,
            parts={},
            counts={},
            errors=errors or [],
        )
        session.add(run)
        session.flush()
        assert run.id is not None
        return run.id
