"""What the metrics exporter reads from the database at scrape time: counts by status,
severity, health and field, and scan durations bucketed by the database where it can."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import text

from schemas.catalog import BY_ID
from store.db import get_engine

#: Upper bounds (seconds) of the scan-duration histogram buckets.
DURATION_BUCKETS: tuple[float, ...] = (5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400)


@dataclass
class DurationStats:
    """Cumulative counts per bucket upper bound (``DURATION_BUCKETS``), total count and sum."""

    buckets: list[int]
    count: int
    total: float


def durations_to_stats(durations: Iterable[float]) -> DurationStats:
    values = list(durations)
    buckets = [sum(1 for d in values if d <= bound) for bound in DURATION_BUCKETS]
    return DurationStats(buckets=buckets, count=len(values), total=float(sum(values)))


@dataclass
class DatabaseCounts:
    """The database's part of one scrape."""

    scans_by_status: dict[str, int] = field(default_factory=dict)
    scan_durations: dict[str, DurationStats] = field(default_factory=dict)
    findings: dict[tuple[str, str, str], int] = field(default_factory=dict)  # sev, type, status
    tenants_by_health: dict[str, int] = field(default_factory=dict)
    changes: dict[tuple[str, str], int] = field(default_factory=dict)  # resource_type, field
    alert_deliveries: dict[str, int] = field(default_factory=dict)  # status


def database_counts(database_url: str | None = None) -> DatabaseCounts:
    """Read every count in one connection (raises what the database raises)."""
    out = DatabaseCounts()
    engine = get_engine(database_url)
    with engine.connect() as conn:
        for status, n in conn.execute(
            text("SELECT status, count(*) FROM scan_runs GROUP BY status")
        ):
            out.scans_by_status[status] = int(n)
        if engine.dialect.name == "postgresql":
            filters = ", ".join(
                f"count(*) FILTER (WHERE d <= {float(b)})" for b in DURATION_BUCKETS
            )
            query = (
                f"SELECT status, count(*), coalesce(sum(d), 0), {filters} FROM ("  # noqa: S608
                "SELECT status, EXTRACT(EPOCH FROM (finished_at - started_at)) AS d "
                "FROM scan_runs WHERE finished_at IS NOT NULL AND started_at IS NOT NULL) s "
                "GROUP BY status"
            )
            for row in conn.execute(text(query)):
                out.scan_durations[row[0]] = DurationStats(
                    buckets=[int(v) for v in row[3:]], count=int(row[1]), total=float(row[2])
                )
        else:  # the embedded SQLite demo: small enough to bucket in Python
            by_status: dict[str, list[float]] = {}
            for status, started, finished in conn.execute(
                text(
                    "SELECT status, started_at, finished_at FROM scan_runs "
                    "WHERE finished_at IS NOT NULL AND started_at IS NOT NULL"
                )
            ):
                s = datetime.fromisoformat(str(started))
                f = datetime.fromisoformat(str(finished))
                by_status.setdefault(status, []).append((f - s).total_seconds())
            for status, values in by_status.items():
                out.scan_durations[status] = durations_to_stats(values)
        for sev, type_id, status, n in conn.execute(
            text(
                "SELECT severity, finding_type_id, status, count(*) FROM findings "
                "GROUP BY severity, finding_type_id, status"
            )
        ):
            ft = BY_ID.get(type_id)
            key = ((sev or "").lower(), ft.key if ft else type_id, status)
            out.findings[key] = out.findings.get(key, 0) + int(n)
        for health, n in conn.execute(text("SELECT health, count(*) FROM tenants GROUP BY health")):
            out.tenants_by_health[health] = int(n)
        for resource_type, changed, n in conn.execute(
            text(
                "SELECT resource_type, field, count(*) FROM change_records "
                "GROUP BY resource_type, field"
            )
        ):
            out.changes[(resource_type, changed)] = int(n)
        for status, n in conn.execute(
            text("SELECT status, count(*) FROM alert_deliveries GROUP BY status")
        ):
            out.alert_deliveries[status] = int(n)
    return out
