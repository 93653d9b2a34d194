"""The compiled stage-2 loops (``detectors/dlp/_native_stream.c``) against the Python methods
they stand in for: the same spans, evidence and errors, on random texts with planted values
and on hostile state (huge event lists, offsets at and past the history's edges, a history
cleared under the loop by a callback)."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detectors.dlp import matcher
from detectors.dlp.matcher import MatchStream, Policy, compile_policy
from detectors.dlp.profiles import CREDENTIALS, PREDEFINED
from tests.unit.dlp.samples import Gen, entry_samples

NATIVE = matcher._native_stream
pytestmark = pytest.mark.skipif(
    NATIVE is None, reason="accelerator not built here (the build test requires it with a compiler)"
)

POOL = [(eid, text) for seed in (3, 11) for eid, (text, _, _) in entry_samples(Gen(seed)).items()]
MISSES = [miss for _, (_, _, miss) in entry_samples(Gen(5)).items() if miss]
FILLER = [
    "the quarterly report ",
    "\n",
    "\n\n",
    "\r\n",
    "password: ",
    "card number ",
    "ssn ",
    "api key ",
    "routing number ",
    "passport no: ",
    "0123456789 ",
    "caf\u00e9 ",
    "x" * 40,
    "-- ",
]


def _policies() -> list[tuple[str, Policy]]:
    out = []
    for engine in matcher.ENGINES:
        if engine == "hyperscan" and matcher.hyperscan is None:
            continue
        out.append((f"full-{engine}", compile_policy(PREDEFINED.values(), engine=engine)))
        out.append((f"secrets-{engine}", compile_policy([CREDENTIALS], engine=engine)))
    return out


POLICIES = _policies()


@pytest.fixture
def python_path() -> Iterator[Callable[[bool], None]]:
    def use(native: bool) -> None:
        matcher._native_stream = NATIVE if native else None

    yield use
    matcher._native_stream = NATIVE


def _run(policy: Policy, data: bytes, chunk: int, native: bool, **kw: Any) -> tuple[Any, ...]:
    old = matcher._native_stream
    matcher._native_stream = NATIVE if native else None
    try:
        stream = policy.open_stream(record_spans=True, **kw)
        for i in range(0, len(data), chunk):
            stream.feed(data[i : i + chunk])
        result = stream.close()
    finally:
        matcher._native_stream = old
    return stream.spans, result.to_evidence(), result.truncated


def _text(r: random.Random, pieces: int) -> bytes:
    out = []
    for _ in range(pieces):
        kind = r.random()
        if kind < 0.45:
            out.append(r.choice(POOL)[1])
        elif kind < 0.6 and MISSES:
            out.append(r.choice(MISSES))
        else:
            out.append("".join(r.choice(FILLER) for _ in range(r.randint(1, 6))))
    return "".join(out).encode()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    pieces=st.integers(min_value=1, max_value=40),
    chunk=st.sampled_from([7_001, 65_536, 1_000, 97, 13]),
)
def test_planted_values_give_the_same_spans_on_both_paths(
    seed: int, pieces: int, chunk: int
) -> None:
    data = _text(random.Random(seed), pieces)
    for _name, policy in POLICIES:
        assert _run(policy, data, chunk, True) == _run(policy, data, chunk, False)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_one_byte_chunks_give_the_same_spans_on_both_paths(seed: int) -> None:
    data = _text(random.Random(seed), 6)[:3000]
    for _name, policy in POLICIES:
        assert _run(policy, data, 1, True) == _run(policy, data, 1, False)


def test_the_planted_texts_do_match() -> None:
    """The property tests above compare something: the pool's values are found."""
    data = "\n\n".join(text for _, text in POOL[:60]).encode()
    spans, evidence, _ = _run(compile_policy(PREDEFINED.values()), data, 7_001, True)
    assert len(spans) >= 40 and evidence["match_count"] >= 40


def test_a_large_corpus_gives_the_same_spans() -> None:
    r = random.Random(1)
    data = b"".join(_text(r, 40) for _ in range(60))
    for _name, policy in POLICIES:
        native = _run(policy, data, 65_536, True)
        assert native == _run(policy, data, 65_536, False)
        assert native[0]


def test_the_same_deadline_cut_on_both_paths() -> None:
    data = "\n".join(text for _, text in POOL).encode() * 3
    for _name, policy in POLICIES:
        results = []
        for native in (True, False):
            clock = _Ticks()
            results.append(_run(policy, data, 4_096, native, deadline=40.0, clock=clock))
            results[-1] += (clock.ticks,)
        assert results[0] == results[1]
        assert results[0][2] is not None  # it was cut


class _Ticks:
    """A clock that advances one per reading: the deadline is a number of readings."""

    def __init__(self) -> None:
        self.ticks = 0.0

    def __call__(self) -> float:
        self.ticks += 1.0
        return self.ticks


class _Probe:
    def __init__(self, fail: bool) -> None:
        self.fail = fail
        self.seen: list[tuple[str, int]] = []

    def wants(self, entry: Any) -> bool:
        return "aws" in entry.id or "github" in entry.id

    def observe(self, entry: Any, value: str) -> None:
        self.seen.append((entry.id, len(value)))
        if self.fail:
            raise ValueError("probe bug")


@pytest.mark.parametrize("fail", [False, True])
def test_the_probe_sees_the_same_values(fail: bool) -> None:
    data = "\n\n".join(text for _, text in POOL).encode()
    policy = compile_policy(PREDEFINED.values())
    seen = []
    for native in (True, False):
        probe = _Probe(fail)
        out = _run(policy, data, 65_536, native, probe=probe)
        seen.append((out, probe.seen))
    assert seen[0] == seen[1]
    assert seen[0][1]


def _fed_stream(policy: Policy, data: bytes) -> MatchStream:
    stream = policy.open_stream(record_spans=True)
    stream.feed(data)
    return stream


def _outcome(fn: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", fn()
    except Exception as exc:  # the same exception type on both paths
        return type(exc).__name__, None


def test_huge_event_lists_and_edge_offsets_are_absorbed_alike() -> None:
    policy = compile_policy(PREDEFINED.values())
    data = "\n".join(text for _, text in POOL[:80]).encode()
    r = random.Random(7)
    kws = sorted(policy._lit_len)
    eids = sorted(policy._exprs)
    events = []
    for _ in range(200_000):
        eid = r.choice(kws) if r.random() < 0.5 else r.choice(eids)
        end = r.choice([0, 1, len(data) - 1, len(data), len(data) + 5, r.randrange(len(data))])
        events.append((eid, max(0, end - r.randint(0, 60)), end))
    states = []
    for native in (True, False):
        matcher._native_stream = NATIVE if native else None
        try:
            stream = _fed_stream(policy, data)
            stream._events[:] = events
            stream._absorb()
            states.append(
                (
                    dict(stream._pending),
                    list(stream._unstarted),
                    {k: list(v) for k, v in stream._kw_ends.items()},
                    {k: [list(x) for x in v] for k, v in stream._regions.items()},
                    stream._events,
                )
            )
        finally:
            matcher._native_stream = NATIVE
    assert states[0] == states[1]
    assert states[0][0] and states[0][2] and not states[0][4]


@pytest.mark.parametrize("shift", [0, 1, 4095, 4096, 10**6])
def test_candidates_at_and_past_the_history_edges_confirm_alike(shift: int) -> None:
    """Pending candidates whose offsets lie before the history's base, at its end or past it
    (which the stream never makes, but the loop must not read out of bounds for)."""
    policy = compile_policy(PREDEFINED.values())
    data = "\n".join(text for _, text in POOL[:40]).encode()
    n = len(data)
    eids = sorted(policy._confirming)
    outcomes = []
    for native in (True, False):
        matcher._native_stream = NATIVE if native else None
        try:
            stream = _fed_stream(policy, data)
            stream._events.clear()
            stream._pending.clear()
            stream._unstarted.clear()
            for k, eid in enumerate(eids):
                start = [-shift, 0, n - 1, n, n + shift, k * 37 % (n + 1)][k % 6]
                stream._pending[(eid, start)] = start + [1, 40, 4096, shift + 1][k % 4]
            outcome = _outcome(lambda s=stream: s._finalize(n + shift + 1))  # type: ignore[misc]
            outcomes.append((outcome, stream.spans, dict(stream._pending)))
        finally:
            matcher._native_stream = NATIVE
    assert outcomes[0] == outcomes[1]


class _Clearing:
    """The test-value check, emptying the stream's history on its fifth call."""

    def __init__(self, stream: MatchStream, real: Callable[[str], bool]) -> None:
        self.stream = stream
        self.real = real
        self.calls = 0

    def __call__(self, value: str) -> bool:
        self.calls += 1
        if self.calls == 5:
            self.stream._hist.clear()
        return self.real(value)


def test_a_history_cleared_by_a_validator_is_not_read_past(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A callback that empties the history mid-batch: both paths stop with the same error
    (the compiled loop re-reads the buffer's size after every call back into Python)."""
    policy = compile_policy(PREDEFINED.values())
    data = "\n\n".join(text for _, text in POOL).encode()
    outcomes = []
    real = matcher.is_test_value
    for native in (True, False):
        matcher._native_stream = NATIVE if native else None
        stream = _fed_stream(policy, data)
        hostile = _Clearing(stream, real)
        monkeypatch.setattr(matcher, "is_test_value", hostile)
        try:
            outcome = _outcome(lambda s=stream: s._finalize(len(data) + 1))  # type: ignore[misc]
            outcomes.append((outcome, list(stream.spans or []), hostile.calls))
        finally:
            matcher._native_stream = NATIVE
            monkeypatch.setattr(matcher, "is_test_value", real)
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0][0] == "IndexError"
