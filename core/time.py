"""Time helpers shared by every layer."""

from __future__ import annotations

from datetime import UTC, datetime


def as_utc(value: datetime | None) -> datetime | None:
    """A datetime read back from a column without zone (SQLite, old rows) taken as UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def iso_z(value: datetime | None) -> str | None:
    """``2026-11-26T12:00:00Z``: the one ISO-8601 form the CLI, exports and logs print."""
    if value is None:
        return None
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
