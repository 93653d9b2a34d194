"""The matcher's faster paths give the results of the plain ones.

* Class-led identifier patterns run on an RE2 union beside Hyperscan: its events are the
  events of searching each expression on its own, whatever the chunking.
* A token whose literal prefix cannot recur inside it starts at the prefix's last occurrence:
  the same start RE2's end-anchored search finds.
"""

from __future__ import annotations

import dataclasses
import random

import pytest

from detectors.dlp.matcher import Policy, _lone_prefix
from detectors.dlp.profiles import CREDENTIALS, PREDEFINED
from detectors.dlp.re2_engine import Re2Engine, Re2UnionEngine
from tests.unit.dlp.samples import Gen, entry_samples

FULL = Policy(list(PREDEFINED.values()))


def _side_ids() -> set[str]:
    assert FULL._side is not None
    return {e.id for eid in FULL._side.expr_ids for e in FULL._exprs[eid].entries}


def test_class_led_identifiers_are_on_the_side_pass() -> None:
    ids = _side_ids()
    assert {"card_visa", "iban", "us_ssn", "uk_nino", "it_codice_fiscale"} <= ids
    # literal-led tokens stay in Hyperscan, and a policy without such patterns has no side pass
    assert "github_pat_classic" not in ids
    assert Policy([CREDENTIALS])._side is None


def _text(seed: int, n: int = 300) -> bytes:
    rnd = random.Random(seed)
    samples = entry_samples(Gen(seed))
    keys = sorted(samples)
    parts = []
    for _ in range(n):
        text, value, miss = samples[rnd.choice(keys)]
        parts.append(rnd.choice([text, value, miss, text.replace(value, miss)]))
        parts.append(rnd.choice(["", " ", "\n", "-", "0", "a", "4111 ", ".", "("]))
    return "".join(parts).encode()


def _feed(finder: object, data: bytes, rnd: random.Random) -> None:
    pos = 0
    while pos < len(data):
        step = rnd.choice([1, 7, 64, 4096, 70000])
        finder.feed(data[pos : pos + step])  # type: ignore[attr-defined]
        pos += step
    finder.close()  # type: ignore[attr-defined]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_union_events_equal_per_expression_events(seed: int) -> None:
    side = FULL._side
    assert side is not None
    patterns = [rx.pattern for _, rx in side.members]
    ids = [eid for eid, _ in side.members]
    plain = Re2Engine(patterns, ids, [False] * len(ids), {}, 4096)
    union = Re2UnionEngine(patterns, ids, side.k - 1)
    data = _text(seed)
    got: list[tuple[int, int, int]] = []
    want: list[tuple[int, int, int]] = []
    _feed(union.finder(got), data, random.Random(seed))
    _feed(plain.finder(want), data, random.Random(seed + 100))
    assert sorted(got) == sorted(want)
    assert got  # the corpus does hold identifiers


def _spans(policy: Policy, data: bytes, seed: int) -> list[tuple[str, int, int]]:
    rnd = random.Random(seed)
    stream = policy.open_stream(record_spans=True)
    pos = 0
    while pos < len(data):
        step = rnd.choice([3, 500, 65536])
        stream.feed(data[pos : pos + step])
        pos += step
    stream.close()
    return sorted(stream.spans or [])


@pytest.mark.parametrize("seed", [4, 5])
def test_lone_prefix_start_equals_re2_start(seed: int) -> None:
    fast = Policy([CREDENTIALS])
    slow = Policy([CREDENTIALS])
    lone = [x for x in slow._exprs.values() if x.lone]
    assert len(lone) > 50
    for expr in lone:
        expr.lone = False  # start recovered by RE2's end-anchored search instead
    rnd = random.Random(seed)
    samples = entry_samples(Gen(seed))
    parts = []
    for key in sorted(samples):
        text, value, _ = samples[key]
        # glued repeats and a prefix right before the token stress the leftmost start
        parts += [text, value + value, value[:4] + value, "x" + value, value]
        rnd.shuffle(parts)
    data = " ".join(parts).encode()
    got = _spans(fast, data, seed)
    assert got == _spans(slow, data, seed)
    assert len(got) > 100


def test_lone_prefix_rules() -> None:
    term = r"(?:[^A-Za-z0-9]|$)"
    assert _lone_prefix(r"\bhf_[A-Za-z]{34}" + term, b"hf_", True)
    # "sk-" may occur inside a body of [A-Za-z0-9_-]: not lone
    assert not _lone_prefix(r"\bsk-[A-Za-z0-9_-]{20}" + term, b"sk-", True)
    # a prefix that overlaps itself can start inside an earlier occurrence
    assert not _lone_prefix(r"\baa_a[0-9]{8}" + term, b"aa_a", True)
    # the terminator's bytes do not count, but a non-terminated tail's do
    assert _lone_prefix(r"\bab_[0-9]{8}" + term, b"ab_", True)
    assert not _lone_prefix(r"\bab_[0-9_a-z]{8}", b"ab_", False)


def _width_text(seed: int) -> bytes:
    rnd = random.Random(seed)
    samples = entry_samples(Gen(seed))
    parts = []
    for key in sorted(samples):
        text, value, miss = samples[key]
        # glued repeats, a cut token before the value and a word char in front of it move
        # the leftmost start or rule a width out
        parts += [text, value + value, value[:5] + value, "x" + value, value, miss]
        rnd.shuffle(parts)
    return " ".join(parts).encode()


def test_width_starts_apply_to_bounded_tokens() -> None:
    sized = {e.id for x in Policy([CREDENTIALS])._exprs.values() if x.widths for e in x.entries}
    assert {"twilio_api_key", "newrelic_license_key", "sonarqube_token"} <= sized
    # an open-ended token, a lone prefix and a caseless pattern keep their other paths
    assert not sized & {"aws_session_token", "github_pat_classic", "basic_auth_header"}


@pytest.mark.parametrize("seed", [6, 7])
def test_width_start_equals_re2_start_for_every_event(seed: int) -> None:
    policy = Policy([CREDENTIALS])
    sized = {i: x for i, x in policy._exprs.items() if x.widths}
    data = _width_text(seed)
    events: list[tuple[int, int, int]] = []
    finder = policy._new_finder(events)
    finder.feed(data)
    finder.close()
    stream = policy.open_stream()
    stream.feed(data)  # the history then holds all of ``data`` from offset 0
    checked = 0
    for eid, _, end in events:
        expr = sized.get(eid)
        if expr is None:
            continue
        plain = dataclasses.replace(expr, widths=(), sized=None)
        assert stream._recover_start(expr, end) == stream._recover_start(plain, end)
        checked += 1
    stream.close()
    assert checked > 40


@pytest.mark.parametrize("seed", [8, 9])
def test_width_start_spans_equal_re2_spans_in_tiny_chunks(seed: int) -> None:
    fast = Policy([CREDENTIALS])
    slow = Policy([CREDENTIALS])
    for expr in slow._exprs.values():
        expr.widths = ()  # start recovered by the prefix or RE2 paths instead
    data = _width_text(seed)
    rnd = random.Random(seed)
    for chunk in range(1, 8):
        got, want = fast.open_stream(record_spans=True), slow.open_stream(record_spans=True)
        pos = 0
        while pos < len(data):
            step = rnd.choice([chunk, chunk, 65536])
            got.feed(data[pos : pos + step])
            want.feed(data[pos : pos + step])
            pos += step
        got.close()
        want.close()
        assert got.spans == want.spans
        assert len(got.spans or []) > 100
