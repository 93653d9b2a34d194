"""A catalogue entry's ``engine_pattern``: the stream looks for a cheaper superset, stage 2
confirms each event with the entry's own pattern, so matches are those of the pattern."""

from __future__ import annotations

import random

import pytest

from detectors.dlp.matcher import compile_policy, resolve_engine
from detectors.dlp.profiles import CREDENTIALS, Entry, Profile, ProfileError

B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"


def _discord() -> Entry:
    return next(e for e in CREDENTIALS.entries if e.id == "discord_bot_token")


def test_engine_pattern_needs_no_som() -> None:
    with pytest.raises(ProfileError, match="som=False"):
        Entry("x", "X", r"\bab[0-9]{4}", engine_pattern=r"[0-9]{4}")


def test_discord_has_an_engine_pattern_that_is_a_suffix_of_its_pattern() -> None:
    entry = _discord()
    assert entry.engine_pattern is not None and not entry.som
    assert entry.pattern.endswith(entry.engine_pattern)


def _spans(profile: Profile, text: str, engine: str) -> list[tuple[str, int, int]]:
    stream = compile_policy([profile], engine=engine).open_stream(record_spans=True)
    data = text.encode()
    for i in range(0, len(data), 4096):
        stream.feed(data[i : i + 4096])
    stream.close()
    return sorted(stream.spans or [])


def test_engine_pattern_confirms_with_the_entry_pattern() -> None:
    entry = _discord()
    same_shape = Entry(
        entry.id,
        entry.name,
        entry.pattern,
        validator=entry.validator,
        som=False,
        terminator=entry.terminator,
        max_width=entry.max_width,
    )
    rnd = random.Random(5)

    def tok(n: int) -> str:
        return "".join(rnd.choice(B64URL) for _ in range(n))

    parts: list[str] = []
    for _ in range(3000):
        head = rnd.choice("MNOXm") + tok(rnd.randint(22, 26))
        parts.append(
            rnd.choice([head, "", tok(5), "a"])
            + "."
            + tok(rnd.randint(5, 7))
            + "."
            + tok(rnd.randint(25, 40))
            + rnd.choice([" ", "\n", ".", "-", ""])
        )
    text = "".join(parts)
    engine = resolve_engine()
    got = _spans(Profile("p", (entry,)), text, engine)
    want = _spans(Profile("p", (same_shape,)), text, engine)
    assert got == want
    assert len(got) > 20  # the text holds real tokens, not only superset-shaped noise
    # the superset alone (no head) is never a match
    assert _spans(Profile("p", (entry,)), "x ." + tok(6) + "." + tok(30) + " y", engine) == []
