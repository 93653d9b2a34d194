"""The streaming matcher against the predefined profiles: true samples, near misses,
chunk-straddling matches, thresholds and masking."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter

import pytest

from detectors.dlp.matcher import FileMatch, Policy, compile_policy
from detectors.dlp.profiles import PII, PREDEFINED, Entry, Profile
from tests.unit.dlp.corpus import NEGATIVE_SPACER
from tests.unit.dlp.samples import Gen, crc_token, entry_samples

SAMPLES = entry_samples(Gen(11))
ALL_ENTRIES = {e.id: e for p in PREDEFINED.values() for e in p.entries}


def _full() -> Policy:
    """The full predefined policy on the engine selected for this test (conftest)."""
    return compile_policy(PREDEFINED.values())


def _single(entry: Entry) -> Profile:
    return Profile(f"only {entry.id}", (entry,))


def _counts(result: FileMatch) -> dict[str, int]:
    return {m.entry_id: m.count for m in result.entries}


def test_every_predefined_entry_has_samples() -> None:
    assert set(SAMPLES) == set(ALL_ENTRIES)


@pytest.mark.parametrize("entry_id", sorted(ALL_ENTRIES))
def test_entry_fires_on_true_sample(entry_id: str) -> None:
    text, value, _ = SAMPLES[entry_id]
    policy = compile_policy([_single(ALL_ENTRIES[entry_id])])
    result = policy.scan_bytes(("filler line\n" * 20 + text + "more filler\n").encode())
    assert _counts(result) == {entry_id: 1}, result
    assert result.profiles == (f"only {entry_id}",)
    assert value not in repr(result)


@pytest.mark.parametrize("entry_id", sorted(ALL_ENTRIES))
def test_entry_silent_on_near_miss(entry_id: str) -> None:
    _, _, miss = SAMPLES[entry_id]
    policy = compile_policy([_single(ALL_ENTRIES[entry_id])])
    result = policy.scan_bytes(("filler\n" * 5 + miss).encode())
    assert result.entries == ()
    assert not result.matched


def test_near_misses_are_silent_for_the_full_policy() -> None:
    text = NEGATIVE_SPACER.join(miss for _, _, miss in SAMPLES.values()).encode()
    result = _full().scan_bytes(text)
    # A near miss of one entry must not turn into a hit of another.
    assert _counts(result) == {}, result.to_evidence()


def test_all_samples_in_one_file_full_policy() -> None:
    text = "\n".join(t for t, _, _ in SAMPLES.values()).encode()
    result = _full().scan_bytes(text)
    assert set(result.profiles) == set(PREDEFINED)
    by_profile: dict[str, set[str]] = {}
    for m in result.entries:
        by_profile.setdefault(m.profile, set()).add(m.entry_id)
    for name, profile in PREDEFINED.items():
        assert by_profile[name] == {e.id for e in profile.entries}, name


@pytest.mark.parametrize("chunk_size", [1, 7, 4096, 65536])
def test_straddling_matches_found_exactly_once(chunk_size: int) -> None:
    """Each sample is placed so that a chunk boundary cuts it; every count must be 1."""
    parts: list[bytes] = []
    pos = 0
    ids = sorted(SAMPLES)
    for i, eid in enumerate(ids):
        text, value, _ = SAMPLES[eid]
        line = text.encode()
        cut_in_value = line.index(value.encode()) + 1 + i % max(1, len(value) - 1)
        # pad so that pos + pad + cut_in_value is a multiple of chunk_size
        pad = (-(pos + cut_in_value)) % chunk_size
        while pad < 300:  # keep samples outside each other's context windows
            pad += chunk_size
        filler = (b"." * (pad - 1)) + b"\n"
        parts.append(filler + line)
        pos += len(filler) + len(line)
    data = b"".join(parts)
    stream = _full().open_stream(record_spans=True)
    for i in range(0, len(data), chunk_size):
        stream.feed(data[i : i + chunk_size])
    result = stream.close()
    counts = Counter(eid for eid, _, _ in stream.spans or [])
    # the same lines scanned one by one, uncut: a few samples are also (rightly) another
    # entry's match, e.g. a 9-digit number next to "UK passport" is a US passport shape too
    expected: Counter[str] = Counter()
    for eid in ids:
        one = _full().open_stream(record_spans=True)
        one.feed(SAMPLES[eid][0].encode())
        one.close()
        expected.update(e for e, _, _ in one.spans or [])
    assert counts == expected, chunk_size
    assert set(counts) == set(ALL_ENTRIES), chunk_size
    assert result.bytes_scanned == len(data)


def test_results_identical_across_chunkings() -> None:
    text = ("\n".join(t for t, _, _ in SAMPLES.values()) * 3).encode()
    reference = _full().scan_bytes(text, 65536)
    for size in (1, 3, 64, 1000):
        assert _full().scan_bytes(text, size) == reference


def test_counts_and_excerpt_limit() -> None:
    g = Gen(3)
    keys = [crc_token(g, "ghp_") for _ in range(5)]
    result = _full().scan_bytes(("\n".join(keys) + "\n").encode())
    (row,) = [m for m in result.entries if m.entry_id == "github_pat_classic"]
    assert row.count == 5
    assert len(row.excerpts) == 3
    assert all(x.startswith("ghp_\u2026") for x in row.excerpts)


def test_repeated_value_counts_each_occurrence() -> None:
    _, value, _ = SAMPLES["aws_access_key_id"]
    result = _full().scan_bytes(f"{value} and again {value}\n".encode())
    assert _counts(result)["aws_access_key_id"] == 2


def test_min_count_threshold() -> None:
    base = ALL_ENTRIES["github_pat_classic"]
    entry = dataclasses.replace(base, min_count=3)
    policy = compile_policy([Profile("three tokens", (entry,))])
    g = Gen(5)
    two = "\n".join(crc_token(g, "ghp_") for _ in range(2)).encode()
    three = "\n".join(crc_token(g, "ghp_") for _ in range(3)).encode()
    assert not policy.scan_bytes(two).matched
    result = policy.scan_bytes(three)
    assert result.profiles == ("three tokens",)
    assert _counts(result) == {"github_pat_classic": 3}


def test_pii_needs_two_distinct_entries() -> None:
    policy = compile_policy([PII])
    email = SAMPLES["email"][0]
    phone = SAMPLES["us_phone"][0]
    assert not policy.scan_bytes((email * 5).encode()).matched
    result = policy.scan_bytes((email + phone).encode())
    assert result.profiles == (PII.name,)
    assert _counts(result) == {"email": 1, "us_phone": 1}


def test_context_keyword_may_follow_the_value() -> None:
    policy = compile_policy([_single(ALL_ENTRIES["us_aba_routing"])])
    assert policy.scan_bytes(b"021000021 is our routing number\n").matched
    far = b"021000021" + b" " * 500 + b"routing\n"
    assert not policy.scan_bytes(far).matched


def test_card_inside_longer_digit_run_is_not_reported() -> None:
    g = Gen(9)
    card = g.card("4", 16)
    assert _counts(_full().scan_bytes(f"id {card}1234 end\n".encode())) == {}
    assert _counts(_full().scan_bytes(f"id {card} end\n".encode())).get("card_visa") == 1


def test_raw_values_never_in_result() -> None:
    text = "\n".join(t for t, _, _ in SAMPLES.values())
    result = _full().scan_bytes(text.encode())
    rendered = [repr(result), str(result), json.dumps(result.to_evidence(), ensure_ascii=False)]
    for eid, (_, value, _) in SAMPLES.items():
        for blob in rendered:
            assert value not in blob, eid
            compact = value.replace(" ", "").replace("-", "")
            assert compact not in blob.replace(" ", "").replace("-", ""), eid


def test_masking_shapes() -> None:
    text = "\n".join(t for t, _, _ in SAMPLES.values())
    result = _full().scan_bytes(text.encode())
    ex = {m.entry_id: m.excerpts[0] for m in result.entries}
    visa = SAMPLES["card_visa"][1]
    assert ex["card_visa"] == f"{visa[:4]} **** **** {visa[-4:]}"
    assert ex["us_ssn"] == "***-**-7789"
    key = SAMPLES["openai_api_key"][1]
    assert ex["openai_api_key"] == f"sk-proj-\u2026{key[-3:]}"
    assert ex["private_key"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert ex["email"] == "m***@n***.com"


def test_to_evidence_shape() -> None:
    text, _, _ = SAMPLES["jwt"]
    ev = _full().scan_bytes(text.encode()).to_evidence()
    assert ev["profiles"] == ["Credentials and Secrets"]
    assert ev["entries"][0]["entry_id"] == "jwt"
    assert ev["entries"][0]["count"] == 1
    assert ev["match_count"] == 1
    assert ev["bytes_scanned"] == len(text.encode())
    assert ev["policy_version"] == _full().version
    json.dumps(ev)


def test_stream_api_and_closed_stream() -> None:
    stream = _full().open_stream()
    text, _, _ = SAMPLES["npm_token"]
    stream.feed(text.encode()[:10])
    stream.feed(b"")
    stream.feed(text.encode()[10:])
    assert stream.bytes_scanned == len(text.encode())
    result = stream.close()
    assert _counts(result) == {"npm_token": 1}
    assert stream.close() == result
    with pytest.raises(RuntimeError):
        stream.feed(b"more")


def test_token_at_end_of_stream_without_terminator() -> None:
    _, value, _ = SAMPLES["gitlab_pat"]
    assert _counts(_full().scan_bytes(value.encode(), 5)) == {"gitlab_pat": 1}


def test_non_utf8_and_binary_noise_does_not_break_matching() -> None:
    _, value, _ = SAMPLES["github_pat_classic"]
    data = bytes(range(256)) * 10 + b" " + value.encode() + b" \xff\xfe" + bytes(range(256))
    assert _counts(_full().scan_bytes(data, 100)) == {"github_pat_classic": 1}


def test_compile_policy_caches_by_version() -> None:
    a = compile_policy(list(PREDEFINED.values()))
    b = compile_policy(list(reversed(list(PREDEFINED.values()))))
    assert a is b


def test_empty_input() -> None:
    result = _full().scan([])
    assert result.bytes_scanned == 0 and not result.matched and result.entries == ()


def test_engine_follows_the_environment(dlp_engine: str) -> None:
    # conftest runs this module once per engine through CASB_DLP_ENGINE
    assert _full().engine == dlp_engine


def test_profiles_sharing_an_entry_are_judged_each_on_its_own_threshold() -> None:
    """One entry in two profiles is counted once and reported under each profile whose
    threshold it meets, in the policy's profile order; clean text matches no profile."""
    first, second = sorted(ALL_ENTRIES)[:2]
    shared, other = ALL_ENTRIES[first], ALL_ENTRIES[second]
    loose = Profile("loose", (other, shared))
    strict = Profile("strict", (shared, other), min_distinct_entries=2)
    alone = Profile("alone", (shared,))
    policy = compile_policy([loose, strict, alone])
    text = ("filler line\n" * 5 + SAMPLES[first][0] + "\nmore filler\n").encode()
    result = policy.scan_bytes(text)
    assert result.profiles == ("loose", "alone")
    assert [(m.profile, m.entry_id, m.count) for m in result.entries] == [
        ("loose", first, 1),
        ("alone", first, 1),
    ]
    assert result.bytes_scanned == len(text)
    clean = policy.scan_bytes(b"filler line\n" * 40)
    assert (clean.profiles, clean.entries, clean.bytes_scanned) == ((), (), 40 * 12)
    assert clean.policy_version == result.policy_version
