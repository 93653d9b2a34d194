"""Insert tenants, scan runs and findings straight into the test database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session

from schemas.catalog import BY_KEY
from schemas.tables import Finding, ScanRun, Tenant
from store.db import get_engine

T0 = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)


def add_tenant(db: str, slug: str, **kw: Any) -> int:
    with Session(get_engine(db)) as s:
        t = Tenant(
            slug=slug, name=kw.pop("name", slug.title()), admin_key_enc="gAAAA-not-a-key", **kw
        )
        s.add(t)
        s.commit()
        assert t.id is not None
        return t.id


def add_finding(db: str, tenant_id: int, key: str, resource_id: str, **kw: Any) -> int:
    ft = BY_KEY[key]
    with Session(get_engine(db)) as s:
        f = Finding(
            tenant_id=tenant_id,
            finding_type_id=ft.finding_type_id,
            resource_type=ft.resource_type.value,
            resource_id=resource_id,
            resource_name=kw.pop("resource_name", None),
            severity=kw.pop("severity", ft.severity.value),
            status=kw.pop("status", "open"),
            evidence=kw.pop("evidence", {"k": "v"}),
            first_seen=kw.pop("first_seen", T0),
            last_seen=kw.pop("last_seen", T0 + timedelta(days=1)),
            **kw,
        )
        s.add(f)
        s.commit()
        assert f.id is not None
        return f.id


def add_scan(db: str, tenant_id: int, started: datetime, status: str = "succeeded") -> int:
    with Session(get_engine(db)) as s:
        run = ScanRun(
            tenant_id=tenant_id,
            status=status,
            requested_at=started,
            started_at=started,
            finished_at=started + timedelta(minutes=3),
            counts={"findings": 1},
        )
        s.add(run)
        s.commit()
        assert run.id is not None
        return run.id


def get_finding(db: str, finding_id: int) -> Finding:
    with Session(get_engine(db), expire_on_commit=False) as s:
        f = s.get(Finding, finding_id)
        assert f is not None
        return f
