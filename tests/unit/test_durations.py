"""The one duration grammar and the flags that read it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.durations import is_duration, parse_duration
from core.errors import UserError
from store.tenants import TenantInputError, parse_schedule
from workers.cli.findings import parse_when


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("15m", 900), ("12h", 43200), ("7d", 604800), ("2w", 1209600), (" 3 D ", 259200)],
)
def test_the_grammar(text: str, seconds: int) -> None:
    assert is_duration(text)
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "7", "0d", "-1d", "1.5h", "7days", "2026-11-01"])
def test_anything_else_is_refused_naming_the_option(text: str) -> None:
    with pytest.raises(UserError, match="bad --older-than"):
        parse_duration(text, option="--older-than")


def test_plain_seconds_only_where_asked() -> None:
    assert parse_duration("3600", bare_seconds=True) == timedelta(hours=1)
    with pytest.raises(UserError):
        parse_duration("3600")


def test_schedule_reads_the_grammar_weeks_included_and_keeps_its_floor() -> None:
    assert parse_schedule("1w") == 604800
    assert parse_schedule("300s") == 300
    assert parse_schedule("3600") == 3600
    with pytest.raises(TenantInputError, match="too frequent"):
        parse_schedule("299s")


def test_since_and_until_read_the_grammar_seconds_included() -> None:
    before = datetime.now(UTC)
    since = parse_when("90s", direction="past", option="--since")
    until = parse_when("2w", direction="future", option="--until")
    after = datetime.now(UTC)
    assert before - timedelta(seconds=90) <= since <= after - timedelta(seconds=90)
    assert before + timedelta(weeks=2) <= until <= after + timedelta(weeks=2)
    assert parse_when("2026-11-01", direction="past", option="--since") == datetime(
        2026, 11, 1, tzinfo=UTC
    )
    with pytest.raises(UserError, match="bad --until"):
        parse_when("0d", direction="future", option="--until")
