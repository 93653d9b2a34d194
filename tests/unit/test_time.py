"""The one ISO-8601 formatter: every caller's form, from datetimes and Unix seconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from core.time import as_utc, iso_z, unix_iso_z

NOON = datetime(2026, 11, 26, 12, 0, 0, 250_500, tzinfo=UTC)


def test_seconds_is_the_default_form_and_naive_values_are_utc() -> None:
    assert iso_z(NOON) == "2026-11-26T12:00:00Z"
    assert iso_z(NOON.replace(tzinfo=None)) == "2026-11-26T12:00:00Z"
    assert iso_z(None) is None


def test_other_zones_are_converted_to_utc() -> None:
    paris = NOON.astimezone(timezone(timedelta(hours=1)))
    assert iso_z(paris) == "2026-11-26T12:00:00Z"


def test_log_lines_keep_milliseconds_and_query_bounds_keep_what_they_have() -> None:
    assert iso_z(NOON, timespec="milliseconds") == "2026-11-26T12:00:00.250Z"
    assert iso_z(NOON, timespec="auto") == "2026-11-26T12:00:00.250500Z"
    assert iso_z(NOON.replace(microsecond=0), timespec="auto") == "2026-11-26T12:00:00Z"


def test_unix_seconds() -> None:
    ts = NOON.timestamp()
    assert unix_iso_z(ts) == "2026-11-26T12:00:00Z"
    assert unix_iso_z(int(ts)) == "2026-11-26T12:00:00Z"
    assert unix_iso_z(ts, timespec="auto") == "2026-11-26T12:00:00.250500Z"
    assert unix_iso_z(None) is None


def test_as_utc_only_fills_a_missing_zone() -> None:
    assert as_utc(NOON.replace(tzinfo=None)) == NOON
    assert as_utc(None) is None
