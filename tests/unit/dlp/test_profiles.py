"""Predefined profile catalogue, custom profile vetting, profile-set versions."""

from __future__ import annotations

import hyperscan
import pytest

from detectors.dlp.matcher import compile_policy
from detectors.dlp.profiles import (
    CREDENTIALS,
    PREDEFINED,
    Entry,
    Profile,
    ProfileError,
    custom_profile,
    predefined_profile,
    profile_set_version,
)


def test_predefined_names_match_cloudflare() -> None:
    assert set(PREDEFINED) == {
        "Credentials and Secrets",
        "Financial Information",
        "Social Security, Insurance, Tax, and Identifier Numbers",
        "Personally Identifiable Information (PII)",
    }
    assert predefined_profile("Financial Information").name == "Financial Information"
    with pytest.raises(ProfileError, match="known"):
        predefined_profile("Nope")


def test_predefined_patterns_are_portable_and_compile_alone() -> None:
    import re

    for profile in PREDEFINED.values():
        for e in profile.entries:
            re.compile(e.pattern.encode())  # same text compiles in Python re
            db = hyperscan.Database(
                mode=hyperscan.HS_MODE_STREAM | hyperscan.HS_MODE_SOM_HORIZON_LARGE
            )
            flag = hyperscan.HS_FLAG_SOM_LEFTMOST if e.som else 0
            db.compile(expressions=[e.pattern.encode()], ids=[0], flags=[flag])
            assert "(?=" not in e.pattern and "(?!" not in e.pattern and "(?<" not in e.pattern


def test_openai_entry_covers_all_key_kinds() -> None:
    policy = compile_policy([CREDENTIALS])
    body = "Zk3p9QvT2mLw8RxN4bYcQ1w2E3r4T5y6U7i8Op9aSdFgHjKl"
    for key in (
        "sk-proj-" + body + "T3BlbkFJ" + body,
        "sk-svcacct-" + body + "T3BlbkFJ" + body,
        "sk-admin-" + body + "T3BlbkFJ" + body,
        "sk-" + body[:20] + "T3BlbkFJ" + body[20:40],
    ):
        result = policy.scan_bytes(f"key={key}\n".encode())
        assert [(m.entry_id, m.count) for m in result.entries] == [("openai_api_key", 1)], key


def test_custom_profile_matches_regex_and_keywords() -> None:
    profile = custom_profile(
        "Acme internal",
        [{"name": "Employee ID", "pattern": r"\bEMP-[0-9]{6}\b", "min_count": 2}],
        ["Project Zorvex", "TOP SECRET//ACME"],
    )
    policy = compile_policy([profile])
    one = policy.scan_bytes(b"EMP-123456 only once")
    assert not one.matched or {m.entry_id for m in one.entries} == {"custom_keywords"}
    result = policy.scan_bytes(
        b"EMP-123456, EMP-654321 and project zorvex; PROJECT ZORVEX. top secret//acme"
    )
    counts = {m.entry_id: m.count for m in result.entries}
    assert counts == {"custom_employee_id": 2, "custom_keywords": 3}
    assert result.profiles == ("Acme internal",)
    assert "zorvex" not in repr(result).lower()
    assert "123456" not in repr(result)


def test_custom_keyword_is_whole_word() -> None:
    policy = compile_policy([custom_profile("kw", [], ["zorvex"])])
    assert not policy.scan_bytes(b"zorvexian zorvexes").matched
    assert policy.scan_bytes(b"the zorvex plan").matched


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("([a-z]", "invalid regex"),
        ("(?=abc)abc", "lookahead/lookbehind"),
        ("(?<!x)abc", "lookahead/lookbehind"),
        (r"(ab)\1", "backreferences"),
        ("a{0,3}", "empty string"),
        ("x?", "empty string"),
        ("abc[0-9]+", "unbounded repeat"),
        ("ab.*cd", "unbounded repeat"),
        ("ab[0-9]{3,}", "unbounded repeat"),
        ("(a{1,5}){1,5}", "nested variable quantifiers"),
        ("(?:[a-z]{1,3}-){2,4}", "nested variable quantifiers"),
        ("[a-z]{2000}", "up to 2000 bytes"),
        ("(?>abc)d", "atomic"),
        ("caf\u00e9", "ASCII"),
        ("", "empty"),
        ("a" * 1100, "longer than"),
    ],
)
def test_custom_profile_rejects(pattern: str, message: str) -> None:
    with pytest.raises(ProfileError, match=message) as info:
        custom_profile("bad", [{"name": "r", "pattern": pattern}], [])
    assert "'r'" in str(info.value) or message in ("empty",)


def test_custom_profile_rejects_what_only_the_engine_refuses() -> None:
    # Python's re accepts this, Hyperscan does not (\G / \A inside is fine in re, but a
    # start anchor after a consuming token is a compile error in Hyperscan).
    with pytest.raises(ProfileError, match="engine rejects"):
        custom_profile("bad", [{"name": "r", "pattern": r"ab\Acd"}], [])


def test_custom_profile_other_errors() -> None:
    with pytest.raises(ProfileError, match="predefined"):
        custom_profile("Financial Information", [{"name": "r", "pattern": "abc"}], [])
    with pytest.raises(ProfileError, match="at least one"):
        custom_profile("empty", [], [])
    with pytest.raises(ProfileError, match="min_count"):
        custom_profile("x", [{"name": "r", "pattern": "abc", "min_count": 0}], [])
    with pytest.raises(ProfileError, match="named"):
        custom_profile("x", [{"name": "r", "pattern": "abc"}, {"name": "R", "pattern": "abd"}], [])
    with pytest.raises(ProfileError, match="2-128"):
        custom_profile("x", [], ["a"])


def test_custom_bounded_pattern_falls_back_to_no_som() -> None:
    # A wide bounded class repeat is "too large" with start-of-match tracking; the entry is
    # compiled without it and the start is recovered by a bounded confirm.
    profile = custom_profile("hex", [{"name": "m", "pattern": r"\b[0-9a-f]{32,128}\b"}], [])
    (entry,) = profile.entries
    assert entry.som is False
    token_a, token_b = "0123456789abcdef" * 3, "fedcba9876543210" * 2
    text = f"sum {token_a} and {token_b}; short deadbeef".encode()
    result = compile_policy([profile]).scan_bytes(text, 3)
    assert [(m.entry_id, m.count) for m in result.entries] == [("custom_m", 2)]


def test_profile_set_version() -> None:
    a = custom_profile("v", [{"name": "r", "pattern": "abc"}], ["kw"])
    b = custom_profile("v", [{"name": "r", "pattern": "abc", "min_count": 2}], ["kw"])
    c = custom_profile("v", [{"name": "r", "pattern": "abc"}], ["kw", "other"])
    base = profile_set_version([CREDENTIALS, a])
    assert base == profile_set_version([a, CREDENTIALS])
    assert base.startswith("v1-")
    assert (
        len({base, profile_set_version([CREDENTIALS, b]), profile_set_version([CREDENTIALS, c])})
        == 3
    )
    assert profile_set_version([CREDENTIALS]) != base


def test_entry_and_profile_invariants() -> None:
    with pytest.raises(ProfileError):
        Entry("x", "X")
    with pytest.raises(ProfileError, match="unknown validator"):
        Entry("x", "X", "abc", validator="nope")
    with pytest.raises(ProfileError, match="window"):
        Entry("x", "X", "abc", keywords=("k",))
    e = Entry("x", "X", "abc")
    with pytest.raises(ProfileError, match="duplicate"):
        Profile("p", (e, e))
    with pytest.raises(ProfileError, match="no entries"):
        Profile("p", ())
