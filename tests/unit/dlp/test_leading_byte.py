"""Tokens whose class holds ``-`` start after a consumed leading byte, on every path.

``\\b`` does not hold between ``=`` (or a space, a quote) and a leading ``-``, so such rows
are written with a consumed leading byte (``Entry.leader``) that the matcher trims. These
tests check the exact spans on both engines and on every way a candidate reaches stage 2:
the keyword-led search (the catalogue entries), and, for the same entries without
keywords, the engine with start recovery (no SOM), with exact starts (SOM) and the RE2
stream driver."""

from __future__ import annotations

import dataclasses
import itertools
import random
import re
import re._constants as sre_const
import re._parser as sre_parse
import string

import pytest

from detectors.dlp.catalog.credentials import CREDENTIAL_ROWS
from detectors.dlp.matcher import CHUNK_SIZE, Policy, compile_policy
from detectors.dlp.profiles import CREDENTIALS, PREDEFINED, Entry, Profile

B64URL = string.ascii_letters + string.digits + "_-"
_WORD = frozenset((string.ascii_letters + string.digits + "_").encode())

# entry id -> (token lengths joined by their separators, a keyword of the entry)
SHAPES = {
    "travis_ci_token": ((22,), "", "travis"),
    "cloudflare_api_token_legacy": ((40,), "", "cloudflare"),
    "ibm_cloud_api_key": ((44,), "", "ibm"),
    "auth0_client_secret": ((64,), "", "auth0"),
    "ably_api_key": ((6, 6, 43), ".:", "ably"),
    "azure_function_key": ((54,), "==", "x-functions-key"),
}
ENTRIES = {e.id: e for e in CREDENTIALS.entries if e.id in SHAPES}


def _token(rnd: random.Random, eid: str, first: str) -> str:
    sizes, seps, _ = SHAPES[eid]
    parts = []
    for n in sizes:
        body = [rnd.choice(string.ascii_uppercase), rnd.choice(string.ascii_lowercase)]
        body += [rnd.choice(string.digits)] + [rnd.choice(B64URL) for _ in range(n - 3)]
        rnd.shuffle(body)
        parts.append("".join(body))
    if eid == "azure_function_key":
        token = parts[0] + "=="
    else:
        token = parts[0] + "".join(s + p for s, p in zip(seps, parts[1:], strict=True))
    return first + token[1:]


def _policies(eid: str) -> list[tuple[str, Policy]]:
    """The entry as catalogued (keyword-led) and without keywords, with and without SOM,
    each on both engines."""
    entry = ENTRIES[eid]
    bare = dataclasses.replace(entry, keywords=(), window=0)
    out = []
    for label, e in (
        ("keyword-led", entry),
        ("engine, start recovered", dataclasses.replace(bare, som=False)),
        ("engine, exact start", dataclasses.replace(bare, som=True)),
    ):
        for engine in ("hyperscan", "re2"):
            out.append((f"{label} / {engine}", compile_policy([Profile("t", (e,))], engine)))
    return out


POLICIES = {eid: _policies(eid) for eid in SHAPES}


def _spans(policy: Policy, data: bytes, cuts: tuple[int, ...] = ()) -> list[tuple[int, int]]:
    stream = policy.open_stream(record_spans=True)
    points = sorted({0, len(data), *cuts})
    for a, b in itertools.pairwise(points):
        stream.feed(data[a:b])
    stream.close()
    assert stream.spans is not None
    return [(s, e) for _, s, e in stream.spans]


def _expect_token(eid: str, data: bytes, token: str, cuts: tuple[int, ...] = ()) -> None:
    start = data.index(token.encode())
    for label, policy in POLICIES[eid]:
        assert _spans(policy, data, cuts) == [(start, start + len(token))], (label, data)


def test_every_word_boundary_row_is_led_by_word_bytes() -> None:
    """No predefined pattern puts ``\\b`` before a byte that is not a word byte: such a row
    misses the tokens starting with that byte and must use a consumed leading byte."""

    def first_bytes(items: list[tuple[object, object]]) -> set[int]:
        op, av = items[0]
        if op is sre_const.LITERAL:
            return {int(av)}  # type: ignore[call-overload]
        if op is sre_const.IN:
            out: set[int] = set()
            for o, a in av:  # type: ignore[attr-defined]
                if o is sre_const.LITERAL:
                    out.add(a)
                elif o is sre_const.RANGE:
                    out.update(range(a[0], a[1] + 1))
            return out
        if op in (sre_const.MAX_REPEAT, sre_const.MIN_REPEAT):
            return first_bytes(list(av[2]))  # type: ignore[index]
        if op is sre_const.SUBPATTERN:
            return first_bytes(list(av[3]))  # type: ignore[index]
        if op is sre_const.BRANCH:
            return set().union(*(first_bytes(list(alt)) for alt in av[1]))  # type: ignore[index]
        return set()

    offenders = []
    for entry in {e for p in PREDEFINED.values() for e in p.entries if e.pattern}:
        items = list(sre_parse.parse(entry.pattern))
        if items[0] == (sre_const.AT, sre_const.AT_BOUNDARY) and first_bytes(items[1:]) - _WORD:
            offenders.append(entry.id)
    assert offenders == []


def test_rows_with_a_leading_byte() -> None:
    led = {r["id"] for r in CREDENTIAL_ROWS if r.get("lead")}
    assert led == set(SHAPES)
    for eid in SHAPES:
        assert ENTRIES[eid].pattern.startswith("(?:^|[^A-Za-z0-9_-])")
        assert ENTRIES[eid].leader == "A-Za-z0-9_-"


@pytest.mark.parametrize("eid", sorted(SHAPES))
@pytest.mark.parametrize("first", ["-", "_", "a", "Q", "7"])
@pytest.mark.parametrize(
    "before", ["", "\n", "KEY=", 'key: "', "key:", "key: ", "x\r\n", "\t", "(", ",", "'"]
)
def test_token_found_whatever_its_first_byte_and_what_precedes_it(
    eid: str, first: str, before: str
) -> None:
    rnd = random.Random(f"{eid}{first}{before}")
    token = _token(rnd, eid, first)
    keyword = SHAPES[eid][2]
    data = f"{before}{token}\n{keyword}\n".encode()
    _expect_token(eid, data, token)


@pytest.mark.parametrize("eid", sorted(SHAPES))
def test_token_after_its_keyword_on_the_same_line(eid: str) -> None:
    token = _token(random.Random(eid), eid, "-")
    data = f"{SHAPES[eid][2]}={token}".encode()  # ends the text: no terminator byte
    _expect_token(eid, data, token)


@pytest.mark.parametrize("eid", sorted(SHAPES))
def test_token_at_every_cut_around_it(eid: str) -> None:
    """Chunks cut before, at and after the leading byte and inside the token."""
    token = _token(random.Random(eid), eid, "-")
    data = f"{SHAPES[eid][2]} = {token} # end\n".encode()
    start = data.index(token.encode())
    for cut in range(start - 2, start + 4):
        _expect_token(eid, data, token, (cut,))
    _expect_token(eid, data, token, tuple(range(len(data))))  # one byte per feed


@pytest.mark.parametrize("eid", ["ibm_cloud_api_key", "ably_api_key"])
@pytest.mark.parametrize("offset", [-1, 0, 1, 20])
def test_token_across_a_stream_chunk_boundary(eid: str, offset: int) -> None:
    """The token starts ``offset`` bytes after a 64 KiB boundary (its leading byte is the
    last byte of the previous chunk when ``offset`` is 0), deep into the stream."""
    token = _token(random.Random(f"{eid}{offset}"), eid, "-")
    filler = ("lorem ipsum dolor sit amet\n" * (3 * CHUNK_SIZE // 27 + 1)).encode()
    head = filler[: 2 * CHUNK_SIZE + offset - 1] + b"="
    data = head + f"{token} {SHAPES[eid][2]}\n".encode() + filler[:5000]
    assert data.index(token.encode()) == 2 * CHUNK_SIZE + offset
    cuts = tuple(range(CHUNK_SIZE, len(data), CHUNK_SIZE))
    _expect_token(eid, data, token, cuts)


@pytest.mark.parametrize("eid", sorted(SHAPES))
def test_two_tokens_one_separator_apart(eid: str) -> None:
    """The first token's terminator is the second one's leading byte: both count."""
    rnd = random.Random(eid)
    one, two = _token(rnd, eid, "-"), _token(rnd, eid, "-")
    data = f"{one} {two} {SHAPES[eid][2]}\n".encode()
    a, b = data.index(one.encode()), data.index(two.encode())
    for label, policy in POLICIES[eid]:
        assert _spans(policy, data) == [(a, a + len(one)), (b, b + len(two))], label


@pytest.mark.parametrize("eid", sorted(SHAPES))
@pytest.mark.parametrize("before", ["x", "Z9", "_", "-", "ab-", "a_"])
def test_token_inside_a_longer_run_is_not_a_token(eid: str, before: str) -> None:
    token = _token(random.Random(eid + before), eid, "-")
    keyword = SHAPES[eid][2]
    for data in (f"{keyword} {before}{token}\n", f"{keyword} {token}{before}\n"):
        if data.endswith("==" + before + "\n"):
            continue  # a run after the padding is a new token's business, not this one's
        for label, policy in POLICIES[eid]:
            assert _spans(policy, data.encode()) == [], (label, data)


def test_the_full_policy_finds_a_dash_led_key_on_both_engines() -> None:
    token = _token(random.Random(5), "ibm_cloud_api_key", "-")
    data = f"IBMCLOUD_API_KEY={token}\n".encode()
    for engine in ("hyperscan", "re2"):
        result = compile_policy(PREDEFINED.values(), engine).scan_bytes(data)
        assert [e.entry_id for e in result.entries] == ["ibm_cloud_api_key"]
        assert token not in repr(result)


def test_leading_byte_is_part_of_the_entry_signature() -> None:
    entry = ENTRIES["ibm_cloud_api_key"]
    assert entry.signature()["leader"] == "A-Za-z0-9_-"
    assert Entry("x", "X", "[a-z]{3}").signature()["leader"] is None
    assert re.fullmatch(entry.pattern, "=" + "A" * 44 + " ")
