"""Time helpers shared by every layer."""

from __future__ import annotations

from datetime import UTC, datetime


def as_utc(value: datetime | None) -> datetime | None:
    """A datetime read back from a column without zone (SQLite, old rows) taken as UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def iso_z(value: datetime | None, *, timespec: str = "seconds") -> str | None:
    """``2026-11-26T12:00:00Z``: the one ISO-8601 form the CLI, exports and logs print.

    ``timespec`` as in ``datetime.isoformat``: ``"milliseconds"`` for log lines, ``"auto"``
    for a query bound that must keep the microseconds it has. A naive value is taken as UTC.
    """
    if value is None:
        return None
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).replace(tzinfo=None).isoformat(timespec=timespec) + "Z"


def unix_iso_z(ts: float | None, *, timespec: str = "seconds") -> str | None:
    """`iso_z` of a Unix timestamp (seconds)."""
    return None if ts is None else iso_z(datetime.fromtimestamp(ts, UTC), timespec=timespec)
