"""The Discord bot token and Asana PAT shapes, checked against their formats.

A Discord bot token's first segment is the unpadded base64 of the bot's decimal user id; the
catalogue spells out which characters that allows at each position. Here the same sets are
derived from base64 itself over every digit triple, pair and single digit, and tokens built
from random ids of every length a Discord user id has (17-20 digits) must match."""

from __future__ import annotations

import base64
import itertools
import random
import re

from detectors.dlp.catalog.credentials import DISCORD_LEADS, DISCORD_USER_ID
from detectors.dlp.matcher import compile_policy
from detectors.dlp.profiles import CREDENTIALS, Profile
from tests.unit.dlp.corpus import Rand, discord_bot_token

DIGITS = "0123456789"
_GROUP = DISCORD_USER_ID[len("(?:") : DISCORD_USER_ID.index("){5}")]


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).rstrip(b"=").decode()


def _all_matches(regex: str, alphabet_len: int) -> set[str]:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    rx = re.compile(regex)
    return {
        "".join(t)
        for t in itertools.product(alphabet, repeat=alphabet_len)
        if rx.fullmatch("".join(t))
    }


def test_group_is_exactly_the_base64_of_three_digits() -> None:
    encoded = {_b64("".join(t)) for t in itertools.product(DIGITS, repeat=3)}
    assert len(encoded) == 1000
    rx = re.compile(_GROUP)
    assert all(rx.fullmatch(e) for e in encoded)
    # and nothing else: every 4-character string the group accepts is one of them
    lead = {_b64(a + b + c)[:2] for a, b, c in itertools.product(DIGITS, repeat=3)}
    assert _all_matches(r"(?:[MN][DTjz]|O[DT])", 2) == lead
    third = {_b64("".join(t))[2] for t in itertools.product(DIGITS, repeat=3)}
    fourth = {_b64("".join(t))[3] for t in itertools.product(DIGITS, repeat=3)}
    assert third == set("AEIMQUYcgk") and fourth == set("wxyz012345")


def test_tails_are_exactly_the_base64_of_one_and_two_digits() -> None:
    one = {_b64(d) for d in DIGITS}
    two = {_b64(a + b) for a, b in itertools.product(DIGITS, repeat=2)}
    assert _all_matches(r"(?:[MN][AQgw]|O[AQ])", 2) == one
    assert len(two) == 100
    assert all(re.fullmatch(r"(?:[MN][DTjz]|O[DT])[AEIMQUYcgk]", t) for t in two)


def test_user_id_shape_matches_every_id_length_and_only_those() -> None:
    rx = re.compile(DISCORD_USER_ID)
    rng = random.Random(13)
    for n in range(14, 24):
        for _ in range(300):
            encoded = _b64(str(rng.randrange(10 ** (n - 1), 10**n)))
            assert bool(rx.fullmatch(encoded)) == (17 <= n <= 20), (n, encoded)
    # a letter anywhere in the decoded id breaks the shape
    for _ in range(300):
        digits = list(str(rng.randrange(10**17, 10**18)))
        digits[rng.randrange(18)] = rng.choice("abcXYZ-_ ")
        assert not rx.fullmatch(_b64("".join(digits)))


def _policy_hits(entry_id: str, text: str) -> int:
    entry = next(e for e in CREDENTIALS.entries if e.id == entry_id)
    result = compile_policy([Profile(f"only {entry_id}", (entry,))]).scan_bytes(text.encode())
    return sum(m.count for m in result.entries)


def test_discord_tokens_from_random_ids_are_found() -> None:
    r = Rand(21)
    tokens = [discord_bot_token(r, n) for n in (17, 18, 19, 20) for _ in range(25)]
    text = "".join(f"DISCORD_TOKEN={t}\n" for t in tokens)
    assert _policy_hits("discord_bot_token", text) == len(tokens)


def test_discord_negatives_from_the_format() -> None:
    r = Rand(22)
    good = discord_bot_token(r, 18)
    user, stamp, mac = good.split(".")
    for bad in (
        f"{_b64('12345678901234567x')}.{stamp}.{mac}",  # not a decimal id
        f"{_b64('1234567890123456')}.{stamp}.{mac}",  # 16 digits: too short for a user id
        f"{user}.{stamp[:5]}.{mac}",  # short timestamp segment
        f"{user}.{stamp}.{mac[:20]}",  # short HMAC
        f"M{r.tok('u', 23)}.{stamp}.{mac}",  # random characters where the id goes
    ):
        assert _policy_hits("discord_bot_token", f"token: {bad}\n") == 0, bad


def test_asana_pat_needs_its_version_lead() -> None:
    r = Rand(23)
    for lead in ("1/", "2/"):
        value = f"{lead}{r.tok('d', 16)}:{r.tok('x', 32)}"
        assert _policy_hits("asana_pat", f"ASANA_TOKEN={value}\n") == 1, value
    for lead in ("0/", "3/", "9/", "12/"):
        value = f"{lead}{r.tok('d', 16)}:{r.tok('x', 32)}"
        assert _policy_hits("asana_pat", f"ASANA_TOKEN={value}\n") == 0, value
    assert _policy_hits("asana_pat", f"ASANA_TOKEN=1/{r.tok('d', 16)}:{r.tok('x', 31)}\n") == 0


def test_engine_parts_are_the_pattern_split_by_its_first_two_characters() -> None:
    """The Hyperscan database holds ten literal-led parts instead of the class-led whole;
    their union must match exactly what the whole matches."""
    entry = next(e for e in CREDENTIALS.entries if e.id == "discord_bot_token")
    assert set(DISCORD_LEADS) == {_b64("".join(t))[:2] for t in itertools.product(DIGITS, repeat=3)}
    assert len(entry.engine_patterns) == len(DISCORD_LEADS)
    whole = re.compile(entry.pattern)
    parts = [re.compile(p) for p in entry.engine_patterns]
    r = Rand(24)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-."
    checked = 0
    for n in (17, 18, 19, 20):
        for _ in range(400):
            token = discord_bot_token(r, n) + r.r.choice(["", " ", "\n", "x"])
            mutated = list(token)
            mutated[r.r.randrange(len(token))] = r.r.choice(alphabet)
            for text in (token, "".join(mutated)):
                m = whole.match(text)
                hits = [p.match(text) for p in parts]
                ends = {h.end() for h in hits if h}
                assert ends == ({m.end()} if m else set()), text
                checked += bool(m)
    assert checked > 1600  # every real token matched, and some mutations too
