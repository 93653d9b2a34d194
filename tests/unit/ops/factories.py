"""In-memory rows for the ops unit tests (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.catalog import BY_KEY
from schemas.tables import Finding, ScanRun, Tenant

T0 = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)


def tenant(id: int = 1, slug: str = "acme", **kw: Any) -> Tenant:
    return Tenant(id=id, slug=slug, name=kw.pop("name", slug.title()), admin_key_enc="x", **kw)


def finding(
    key: str = "gpt_custom_actions",
    *,
    id: int = 1,
    tenant_id: int = 1,
    resource_id: str = "g-abc",
    status: str = "open",
    severity: str | None = None,
    **kw: Any,
) -> Finding:
    ft = BY_KEY[key]
    return Finding(
        id=id,
        tenant_id=tenant_id,
        finding_type_id=ft.finding_type_id,
        resource_type=ft.resource_type.value,
        resource_id=resource_id,
        resource_name=kw.pop("resource_name", "Sales helper"),
        severity=severity or ft.severity.value,
        status=status,
        evidence=kw.pop("evidence", {"tools": ["action"], "domain": "api.example.com"}),
        first_seen=kw.pop("first_seen", T0),
        last_seen=kw.pop("last_seen", T0 + timedelta(days=1)),
        **kw,
    )


def scan_run(
    id: int, tenant_id: int = 1, finished: datetime = T0, status: str = "succeeded"
) -> ScanRun:
    return ScanRun(
        id=id,
        tenant_id=tenant_id,
        status=status,
        requested_at=finished - timedelta(minutes=5),
        started_at=finished - timedelta(minutes=4),
        finished_at=finished,
    )
