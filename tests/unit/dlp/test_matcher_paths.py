"""Stage-2 paths chosen for speed give the same starts and results as the general ones:
token starts recovered from a crowded literal prefix, the history buffer grown and compacted in place,
context keywords that are query parameters, and candidates confirmed in batches."""

from __future__ import annotations

import pytest

from detectors.dlp import matcher
from detectors.dlp.matcher import (
    HIST_SLACK,
    FileMatch,
    MatchStream,
    Policy,
    compile_policy,
    resolve_engine,
)
from detectors.dlp.profiles import CREDENTIALS, PREDEFINED, Profile
from tests.unit.dlp.samples import Gen, entry_samples


def _spans(data: bytes, chunk: int) -> list[tuple[str, int, int]]:
    stream = compile_policy([CREDENTIALS]).open_stream(record_spans=True)
    for i in range(0, len(data), chunk):
        stream.feed(data[i : i + chunk])
    stream.close()
    return list(stream.spans or [])


def test_token_start_after_many_prefix_occurrences() -> None:
    # more occurrences of ``redis://`` in the window than are tried one by one: RE2 takes
    # over and the start is still the last scheme, the one the match begins with
    token = b"redis://cache:Zq8vR2mWx41kPd@db-7.internal"
    crowd = b"".join(b"redis://n%d " % i for i in range(20))
    data = b"log " + crowd + token + b" end\n"
    start = data.index(token)
    assert ("redis_connection_string", start, start + len(token)) in _spans(data, 1 << 16)
    few = b"log redis://a redis://b " + token + b" end\n"
    start = few.index(token)
    assert ("redis_connection_string", start, start + len(token)) in _spans(few, 7)


def test_token_start_of_literal_led_alternation() -> None:
    token = b"https://deploy:Vb7pQ2xZr9Lk@git.example.org"
    data = b"clone https://x https://y " + token + b" now\n"
    start = data.index(token)
    assert ("url_credentials", start, start + len(token)) in _spans(data, 5)


def test_history_compaction_keeps_results() -> None:
    # tokens on both sides of several compactions, fed in small and in huge chunks
    token = b"redis://cache:Zq8vR2mWx41kPd@db-7.internal"
    filler = b"lorem ipsum dolor sit amet, consectetur adipiscing elit\n" * 9000
    data = (filler + token + b"\n") * 6
    assert len(data) > 2 * HIST_SLACK
    small, huge = _spans(data, 4096), _spans(data, 3 * HIST_SLACK)
    assert small == huge
    assert len([s for s in small if s[0] == "redis_connection_string"]) == 6
    policy = compile_policy(PREDEFINED.values())
    assert policy.scan_bytes(data, 4096) == policy.scan_bytes(data, 3 * HIST_SLACK)


def test_history_growth_keeps_results() -> None:
    # a stream that starts with one byte grows its history in doubling steps; chunks of
    # uneven sizes, one of them past the working size, cross every step and compaction
    token = b"redis://cache:Zq8vR2mWx41kPd@db-7.internal"
    filler = b"lorem ipsum dolor sit amet, consectetur adipiscing elit\n" * 2500
    data = (filler + token + b"\n") * 20
    sizes = [1, 3, 700, 65536, 5, 150_000, 1, 2 * HIST_SLACK, 40_000, 333_333]
    stream = compile_policy([CREDENTIALS]).open_stream(record_spans=True)
    at, n = 0, 0
    while at < len(data):
        stream.feed(data[at : at + sizes[n % len(sizes)]])
        at += sizes[n % len(sizes)]
        n += 1
    stream.close()
    assert list(stream.spans or []) == _spans(data, 4096)
    assert len([s for s in stream.spans or [] if s[0] == "redis_connection_string"]) == 20


def test_azure_sas_context_is_its_query_parameters() -> None:
    policy = compile_policy([CREDENTIALS])
    sig = "sig=" + "Qm7cX2aV9pLr0TfYw3nB8kZs1HdJ4uEo6gIq5yRt2Wx" + "%3D"
    url = f"https://acct.blob.core.example/c/f?sv=2024-05-04&se=2026-01-01&sp=r&{sig}\n"
    hit = policy.scan_bytes(url.encode())
    assert [e.entry_id for e in hit.entries] == ["azure_sas_token"]
    # the bare words (a Swedish "se", an "sp" abbreviation) are no longer its context
    prose = f"se the sp notes, {sig}\n"
    assert "azure_sas_token" not in [e.entry_id for e in policy.scan_bytes(prose.encode()).entries]


def test_batched_confirmation_gives_per_chunk_results(monkeypatch: pytest.MonkeyPatch) -> None:
    # candidates wait for a batch (or a compaction of the history) before their starts are
    # recovered and they are confirmed: the same spans and verdict as doing both after every
    # chunk, and the pending set stays near the batch size
    samples = entry_samples(Gen(11))
    lines = [text for _, (text, _, _) in sorted(samples.items())]
    filler = b"lorem ipsum dolor sit amet, consectetur adipiscing elit\n" * 300
    data = b"".join(filler + line.encode() + b"\n" for line in lines * 6)
    assert len(data) > 2 * HIST_SLACK
    policy = compile_policy(PREDEFINED.values())
    # (chunk size, bytes fed): tiny chunks over the first part only, to keep the test short
    feeds = [(3, 150_000), (4096, len(data)), (65536, len(data))]

    def run(chunk: int, size: int) -> tuple[list[tuple[str, int, int]], FileMatch, int]:
        stream = policy.open_stream(record_spans=True)
        most = 0
        for i in range(0, size, chunk):
            stream.feed(data[i : min(size, i + chunk)])
            most = max(most, len(stream._pending))
        verdict = stream.close()
        return list(stream.spans or []), verdict, most

    batch = matcher.CONFIRM_BATCH
    batched = [run(chunk, size) for chunk, size in feeds]
    monkeypatch.setattr(matcher, "CONFIRM_BATCH", 1)
    for (chunk, size), (spans, verdict, most) in zip(feeds, batched, strict=True):
        each_spans, each_verdict, each_most = run(chunk, size)
        assert spans == each_spans
        assert verdict == each_verdict
        assert each_most <= most < batch + 2 * len(lines)
    assert batched[1][2] > run(*feeds[1])[2]  # candidates did wait for a batch
    assert len(batched[1][0]) > 6 * len(lines) // 2


def test_keyword_regions_far_apart_leave_the_bytes_between_unsearched(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # two SIN labels 40 KB apart in one chunk, a CSV of 9-digit IDs between them: the keyword-led
    # search looks only near each label (no ID between can have a label in context), and
    # finds both values whatever the chunking
    (sin,) = [e for p in PREDEFINED.values() for e in p.entries if e.id == "ca_sin"]
    text, value, _ = entry_samples(Gen(5))["ca_sin"]
    ids = b"".join(b"%09d,north,12.50\n" % (100_000_007 + 7919 * i) for i in range(2_000))
    data = b"head\n\n" + text.encode() + b"\n" + ids + b"\n" + text.encode() + b"\n\ntail\n"
    policy = Policy([Profile("p", (sin,))], resolve_engine())
    confirmed: list[int] = []
    real = MatchStream._confirm

    def counting(self: MatchStream, eid: int, start: int, end: int) -> None:
        confirmed.append(start)
        real(self, eid, start, end)

    monkeypatch.setattr(MatchStream, "_confirm", counting)
    for chunk in (len(data), 65536, 4096, 7):
        confirmed.clear()
        stream = policy.open_stream(record_spans=True)
        for i in range(0, len(data), chunk):
            stream.feed(data[i : i + chunk])
        result = stream.close()
        assert result.entries[0].count == 2
        starts = [s for _, s, _ in stream.spans or []]
        assert starts == [data.index(value.encode()), data.rindex(value.encode())]
        assert len(confirmed) < 40  # the IDs next to each label, not all 2,000 between
