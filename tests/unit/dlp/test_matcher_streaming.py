"""Property tests: any way of cutting the text into chunks gives the same result, and
policies can be used from several threads at once."""

from __future__ import annotations

import itertools
import threading

from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.dlp.matcher import FileMatch, Policy, compile_policy
from detectors.dlp.profiles import PREDEFINED
from tests.unit.dlp.samples import Gen, entry_samples

SAMPLES = entry_samples(Gen(23))
# samples kept apart so that no context window reaches a neighbour
TEXT = ("\n" + "." * 300 + "\n").join(t for t, _, _ in SAMPLES.values()).encode()
_REFERENCES: dict[str, FileMatch] = {}


def _policy() -> Policy:
    """The full predefined policy on the engine selected for this test (conftest)."""
    return compile_policy(PREDEFINED.values())


def _reference() -> FileMatch:
    policy = _policy()
    if policy.engine not in _REFERENCES:
        _REFERENCES[policy.engine] = policy.scan_bytes(TEXT)
    return _REFERENCES[policy.engine]


def _scan_cut(cuts: list[int]) -> FileMatch:
    points = sorted({0, len(TEXT), *(c % (len(TEXT) + 1) for c in cuts)})
    return _policy().scan(TEXT[a:b] for a, b in itertools.pairwise(points))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10**6), max_size=60))
def test_any_chunking_gives_the_same_result(cuts: list[int]) -> None:
    assert _scan_cut(cuts) == _reference()


def test_every_entry_found_in_reference() -> None:
    counts = {(m.profile, m.entry_id): m.count for m in _reference().entries}
    for name, profile in PREDEFINED.items():
        for e in profile.entries:
            # >= 1: a few samples are also another entry's match (a UK passport number is a
            # US passport shape too); exact counts are checked per line in test_matcher
            assert counts.get((name, e.id), 0) >= 1, (name, e.id)


def test_concurrent_streams_in_threads() -> None:
    results: list[FileMatch] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(5):
            r = _policy().scan_bytes(TEXT, 997)
            with lock:
                results.append(r)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 20 and all(r == _reference() for r in results)


def test_interleaved_streams_on_one_thread() -> None:
    a, b = _policy().open_stream(), _policy().open_stream()
    half = len(TEXT) // 2
    a.feed(TEXT[:half])
    b.feed(TEXT[:half])
    a.feed(TEXT[half:])
    b.feed(b"nothing here")
    assert a.close() == _reference()
    assert b.close().entries != _reference().entries
