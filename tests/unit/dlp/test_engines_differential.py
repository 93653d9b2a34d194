"""Differential tests: the RE2 fallback and Hyperscan give the same FileMatch.

Same entries, counts, excerpts and version for the same bytes, whatever the chunking: the
RE2 engine must be a drop-in for hosts without a Hyperscan wheel."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.dlp.matcher import FileMatch, Policy, compile_policy
from detectors.dlp.profiles import CREDENTIALS, PREDEFINED, ProfileError, custom_profile
from detectors.dlp.re2_engine import to_re2_pattern
from tests.unit.dlp.samples import Gen, entry_samples

PROFILES = [
    *PREDEFINED.values(),
    custom_profile(
        "Acme",
        [{"name": "Employee ID", "pattern": r"\bEMP-[0-9]{6}\b"}],
        ["Project Zorvex", "zorvex labs", "café crème"],
    ),
    # shares a start with "zorvex labs": RE2's alternation reports only the longer one, the
    # shorter must be recovered for this profile to match as with Hyperscan
    custom_profile("Beta", [], ["zorvex"]),
]
HS = compile_policy(PROFILES, engine="hyperscan")
RE2 = compile_policy(PROFILES, engine="re2")

_NOISE = [
    "lorem ipsum dolor sit amet, consectetur adipiscing elit\n",
    "id,value\n123456789,987654321\n",
    '{"sha1": "da39a3ee5e6b4b0d3255bfef95601890afd80709", "n": 4111111111111111}\n',
    "routing number 021000021 and SIN 046 454 286\n",
    "zorvex ZORVEX Zorvex-labs zorvexlabs zorvex labs café crème Café Crème\n",
    "EMP-123456 EMP-1234567 xEMP-123456\n",
    "tab\tvt\x0bff\x0ccr\r\n",
    "ünïcödé text ✓ 日本語\n",
]


def _corpus(seed: int, n: int) -> bytes:
    """Samples (true values and near misses) mixed with noise, packed with no spacing so
    context windows and overlapping candidates interact."""
    rnd = random.Random(seed)
    samples = entry_samples(Gen(seed))
    parts: list[str] = []
    for _ in range(n):
        text, value, miss = samples[rnd.choice(sorted(samples))]
        pick = rnd.random()
        if pick < 0.4:
            parts.append(text)
        elif pick < 0.6:
            parts.append(text.replace(value, miss))
        elif pick < 0.7:
            parts.append(value)  # bare value glued to its neighbours
        else:
            parts.append(rnd.choice(_NOISE))
        parts.append(rnd.choice(["\n", " ", "", ",", "\t", "x"]))
    return "".join(parts).encode()


def _chunked(policy: Policy, data: bytes, cuts: list[int]) -> FileMatch:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return policy.scan(data[a:b] for a, b in itertools.pairwise(points))


def _assert_same(a: FileMatch, b: FileMatch) -> None:
    assert a.entries == b.entries
    assert a == b


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_engines_agree_on_sample_corpora(seed: int) -> None:
    data = _corpus(seed, 400)
    hs = HS.scan_bytes(data)
    assert hs.entries  # the corpus does exercise the matcher
    _assert_same(RE2.scan_bytes(data), hs)


def test_engines_agree_across_overlap_window_and_batches() -> None:
    # > 4 RE2 batches, so carries, owned ranges and deferred matches are crossed many times
    data = _corpus(11, 6000)
    assert len(data) > 300_000
    hs = HS.scan_bytes(data)
    _assert_same(RE2.scan_bytes(data, 4093), hs)
    _assert_same(RE2.scan_bytes(data, 1 << 20), hs)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=10_000),
    cuts=st.lists(st.integers(min_value=0, max_value=10**6), max_size=40),
)
def test_engines_agree_for_random_chunkings(seed: int, cuts: list[int]) -> None:
    data = _corpus(seed, 60)
    _assert_same(_chunked(RE2, data, cuts), HS.scan_bytes(data))


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=400), st.lists(st.integers(min_value=0, max_value=500), max_size=8))
def test_engines_agree_on_arbitrary_bytes(noise: bytes, cuts: list[int]) -> None:
    samples = entry_samples(Gen(3))
    text, _, _ = samples["github_pat_classic"]
    data = noise + text.encode() + noise[::-1]
    policy_hs = compile_policy([CREDENTIALS], engine="hyperscan")
    policy_re2 = compile_policy([CREDENTIALS], engine="re2")
    _assert_same(_chunked(policy_re2, data, cuts), policy_hs.scan_bytes(data))


def test_token_longer_than_the_overlap_window() -> None:
    # a GitLab token of 10 KB: longer than K, so it straddles several RE2 buffers
    data = b"x " * 40_000 + b"glpat-" + b"aB3dE5gH7j" * 1000 + b" tail\n" + b"y" * 70_000
    hs = HS.scan_bytes(data)
    assert any(e.entry_id == "gitlab_pat" for e in hs.entries)
    for size in (1000, 65536, len(data)):
        _assert_same(RE2.scan_bytes(data, size), hs)


def test_keywords_sharing_a_start_are_all_reported() -> None:
    data = b"met the Zorvex Labs team\n"
    hs = HS.scan_bytes(data)
    assert {e.profile for e in hs.entries} == {"Acme", "Beta"}
    _assert_same(RE2.scan_bytes(data), hs)


def test_engine_selection() -> None:
    assert HS.engine == "hyperscan" and RE2.engine == "re2"
    assert HS is not RE2 and HS.version == RE2.version
    with pytest.raises(ValueError, match="auto, hyperscan or re2"):
        compile_policy(PROFILES, engine="pcre")


def test_re2_dialect_rewrite() -> None:
    assert to_re2_pattern(rb"a\sb") == rb"a[\t\n\x0b\x0c\r ]b"
    assert to_re2_pattern(rb"[\s,]\S\\s") == rb"[\t\n\x0b\x0c\r ,][^\t\n\x0b\x0c\r ]\\s"


def test_without_hyperscan_auto_picks_re2_and_custom_regexes_are_vetted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # what an aarch64 host sees: the hyperscan module is absent
    from detectors.dlp import matcher, profiles

    monkeypatch.setattr(matcher, "hyperscan", None)
    monkeypatch.setattr(profiles, "hyperscan", None)
    monkeypatch.setenv("CASB_DLP_ENGINE", "auto")
    assert matcher.resolve_engine() == "re2"
    with pytest.raises(ValueError, match="not installed"):
        matcher.resolve_engine("hyperscan")
    acme = custom_profile("Acme2", [{"name": "Emp", "pattern": r"\bEMP-[0-9]{6}\b"}])
    assert compile_policy([acme]).scan_bytes(b"id EMP-123456\n").matched
    with pytest.raises(profiles.ProfileError, match="rejects this regex") as err:
        custom_profile("Bad", [{"name": "Emp", "pattern": r"\bEMP-[0-9]{6}\Z"}])
    assert "EMP-" not in str(err.value) and "\\Z" not in str(err.value)


def test_custom_regex_must_compile_in_both_engines() -> None:
    # \Z compiles in Hyperscan but not in RE2: refused at add time on every host
    with pytest.raises(ProfileError, match="rejects this regex"):
        custom_profile("Bad", [{"name": "Emp", "pattern": r"\bEMP-[0-9]{6}\Z"}])
