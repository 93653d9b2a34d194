"""Hostile custom patterns and the per-stream deadline (run once per stage-1 engine)."""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Callable

import pytest

from detectors.dlp.matcher import DEADLINE_EVERY, Policy, compile_policy, resolve_engine
from detectors.dlp.profiles import BUILTIN_PATTERNS, CREDENTIALS, Entry, Profile, custom_profile

# Stacked variable repeats: Python ``re`` needs minutes to find the start of one match of this
# in a 1 KiB window (it tries every split of the run between the four groups).
ADVERSARIAL = "[a-z]{1,200}[a-z]{1,200}[a-z]{1,200}[a-z]{1,200}#"


@pytest.fixture(autouse=True)
def _engine(dlp_engine: str) -> str:
    return dlp_engine


def _counting_clock(step: float = 1.0) -> Callable[[], float]:
    """A clock that advances ``step`` per reading: the deadline is a number of readings."""
    ticks = [0.0]

    def clock() -> float:
        ticks[0] += step
        return ticks[0]

    return clock


def test_adversarial_custom_pattern_is_accepted_and_scans_within_its_budget() -> None:
    profile = custom_profile("hostile", [{"name": "stacked", "pattern": ADVERSARIAL}])
    policy = compile_policy([profile])
    data = b"a" * 1023 + b"#"
    # A deadline far beyond what a linear-time scan of 1 KiB needs: before start recovery moved
    # to RE2 this scan would not return for minutes, and with the deadline it came back
    # truncated with no match.
    stream = policy.open_stream(record_spans=True, deadline=time.monotonic() + 30.0)
    stream.feed(data)
    result = stream.close()
    assert result.truncated is None
    assert [(e.entry_id, e.count) for e in result.entries] == [("custom_stacked", 1)]
    # the leftmost start that can reach the '#': at most 4 x 200 letters before it
    assert stream.spans == [("custom_stacked", 1023 - 800, 1024)]


def test_adversarial_pattern_over_many_matches_is_exact() -> None:
    profile = custom_profile("hostile", [{"name": "stacked", "pattern": ADVERSARIAL}])
    policy = compile_policy([profile])
    block = b"x" * 300 + b"#" + b" ab#" + b"z" * 3 + b"#"  # one match; two too short
    result = policy.open_stream(deadline=time.monotonic() + 60.0)
    for _ in range(200):
        result.feed(block)
    verdict = result.close()
    assert verdict.truncated is None
    assert verdict.entries[0].count == 200


@pytest.mark.parametrize(
    "pattern,text,span",
    [
        (rb"[a-f0-9]{8,40}", b"zz 0123abcdef99 zz", (3, 15)),
        (rb"k[a-z]{2,5}-[0-9]{3}", b"xx kabc-123 kzzzzz-999", (3, 11)),
        (rb"(?:ab|a)[a-z]{1,9}!", b"  aaab!", (2, 7)),
    ],
)
def test_start_recovery_agrees_with_start_tracking(
    pattern: bytes, text: bytes, span: tuple[int, int]
) -> None:
    """An expression compiled without SOM finds the same spans as one tracked by the engine."""
    spans = []
    for som in (True, False):
        entry = Entry("probe", "Probe", pattern.decode(), som=som, mask="generic", max_width=1024)
        policy = Policy([Profile("p", (entry,))], resolve_engine())
        stream = policy.open_stream(record_spans=True)
        stream.feed(text)
        stream.close()
        assert stream.spans is not None
        spans.append(stream.spans)
    assert spans[0] == spans[1]
    assert spans[0][0][1:] == span


def test_deadline_in_the_feed_loop_truncates_and_keeps_earlier_matches() -> None:
    profile = custom_profile("hostile", [{"name": "stacked", "pattern": ADVERSARIAL}])
    policy = compile_policy([profile])
    # Every reading of this clock is one second; the deadline allows a few readings only, so
    # one large chunk holding thousands of events must be cut inside the loop over its events.
    clock = _counting_clock()
    stream = policy.open_stream(deadline=6.0, clock=clock)
    stream.feed(b"early#" + b" " * 10_000)  # confirmed before the deadline
    reps = DEADLINE_EVERY * 400  # more than one RE2 batch, so both engines deliver events
    big = b"abcd#" * reps
    stream.feed(big)
    stream.feed(big)  # a no-op once truncated
    result = stream.close()
    assert result.truncated == "time budget exceeded while matching"
    assert result.bytes_scanned == 10_006 + len(big)
    assert result.entries and result.entries[0].count >= 1
    assert result.entries[0].count < reps // 2
    assert result.to_evidence()["truncated"] == result.truncated


def test_no_deadline_means_no_truncation() -> None:
    profile = custom_profile("hostile", [{"name": "stacked", "pattern": ADVERSARIAL}])
    result = compile_policy([profile]).scan_bytes(b"abcd#" * 1000)
    assert result.truncated is None and result.entries[0].count == 1000
    assert "truncated" not in result.to_evidence()


def test_keyword_region_search_checks_the_deadline() -> None:
    """A chunk with few engine events but many candidates in keyword regions is cut inside the
    region search (the clock's callers are recorded to show where it was read)."""
    (datadog,) = [e for e in CREDENTIALS.entries if e.id == "datadog_api_key"]
    policy = Policy([Profile("p", (datadog,))], resolve_engine())
    callers: list[str] = []

    def clock() -> float:
        callers.append(sys._getframe(2).f_code.co_name)  # the Python frame that asked
        return float(len(callers))

    lines = [
        "DD_API_KEY "
        + " ".join(hashlib.md5(b"%d" % (i * 3 + k)).hexdigest() for k in range(3))
        + "\n"
        for i in range(40)  # 40 keyword events: fewer than DEADLINE_EVERY
    ]
    block = "".join(lines).encode()
    stream = policy.open_stream(deadline=1.0, clock=clock)
    stream.feed(b" " * 70_000 + block + b" " * 200)
    result = stream.close()
    assert result.truncated == "time budget exceeded while matching"
    # (the compiled region search reads it for _search_regions, the Python one in _search_region)
    assert callers[0] == "feed" and {"_search_region", "_search_regions"} & set(callers)
    # without a deadline the same text has all 120 candidates confirmed
    full = Policy([Profile("p", (datadog,))], resolve_engine()).scan_bytes(
        b" " * 70_000 + block + b" " * 200
    )
    assert full.entries[0].count == 120


def test_custom_pattern_with_keywords_stays_on_the_engine_path() -> None:
    """Only catalogue patterns are searched with Python ``re`` around keywords; any other
    pattern that needs a keyword is matched by the engine, its context checked afterwards."""
    entry = Entry(
        "probe", "Probe", ADVERSARIAL, keywords=("ticket",), window=64, som=False, max_width=1024
    )
    policy = Policy([Profile("p", (entry,))], resolve_engine())
    assert all(e.search is None and e.prefix is None for e in policy._exprs.values())
    assert ADVERSARIAL not in BUILTIN_PATTERNS
    text = b"ticket " + b"a" * 700 + b"#\n" + b" " * 300 + b"b" * 700 + b"#\n"
    result = policy.open_stream(deadline=time.monotonic() + 60.0)
    result.feed(text)
    (row,) = result.close().entries
    assert row.count == 1  # the second run is too far from the keyword
