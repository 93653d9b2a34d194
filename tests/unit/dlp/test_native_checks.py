"""The compiled value checks (``_native_checks``) give the Python reference's answer.

Every check that has a compiled version, and every validator of the catalogue (most are built
on the compiled primitives), is called on the same value twice: as installed, and with the
compiled module switched off. Values: arbitrary text (any code point, lone surrogates,
empty), shapes of the credentials the checks are for, templates and placeholder words,
published test values in printed forms, case-changing Unicode, and long values."""

from __future__ import annotations

import hashlib
import math
import random
import string
from collections.abc import Callable
from functools import partial

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from detectors.dlp import checks, masking, placeholders, validators
from tests.unit.dlp.native import native_module, pure_python

NATIVE = native_module()
pytestmark = pytest.mark.skipif(NATIVE is None, reason="no C compiler on this host")

CHECKS: dict[str, Callable[[str], object]] = {
    "shannon_entropy": placeholders.shannon_entropy,
    "is_test_value": placeholders.is_test_value,
    "is_placeholder": placeholders.is_placeholder,
    "hex_secret_ok": validators.hex_secret_ok,
    "hex_key_ok": checks.hex_key_ok,
    "uuid_key_ok": checks.uuid_key_ok,
    "mixed_token_ok": checks.mixed_token_ok,
    "ethereum_address_ok": checks.ethereum_address_ok,
    "password_ok": checks.password_ok,
    "password_value_ok": checks.password_value_ok,
    "url_password_ok": checks.url_password_ok,
    "bearer_token_ok": checks.bearer_token_ok,
    "vendor_shaped": checks.vendor_shaped,
    "luhn_ok": validators.luhn_ok,
    "card_verdict": validators._card_verdict,
    "age_key_ok": checks.age_key_ok,
    "bech32": lambda v: checks._bech32_ok(v, (1,)),
    "bech32m": lambda v: checks._bech32_ok(v, (1, 0x2BC830A3)),
    **{f"card_ok {b}": partial(validators.card_ok, brand=b) for b in (None, "visa", "amex")},
    **{f"validator {name}": fn for name, fn in validators.VALIDATORS.items()},
}
THRESHOLDS = (0.0, 1.0, 2.5, 2.6, 3.0, 3.5, 4.0, 5.0)
TOKEN_RULES = ((16, 3.0), (20, 3.0), (32, 3.5), (80, 4.0), (0, 0.0), (4, 1.5))

# lower() changes these beyond ASCII (Kelvin sign -> "k", dotted I -> "i" + a combining dot)
_CASE_TRICKS = "\u212a\u0130\u017f\u1e9e\u03a3\u00c5\u212b\u0149\u1f88"
_SEPARATED = st.sampled_from(sorted(placeholders.KNOWN_TEST_VALUES)).flatmap(
    lambda v: st.lists(
        st.sampled_from(["", " ", "-", ".", "  ", "_"]), min_size=len(v), max_size=len(v)
    ).map(lambda seps: "".join(c + s for c, s in zip(v, seps, strict=True)))
)
_WORDY = st.lists(
    st.one_of(
        st.sampled_from(list(placeholders._PLACEHOLDER_WORDS)).map(str.upper),
        st.sampled_from(list(placeholders._PLACEHOLDER_WORDS)),
        st.text("ab0$_-xX*.k\u212a", max_size=6),
    ),
    max_size=5,
).map("".join)
_TEMPLATES = st.text("${}<>%()sdAZ_wé\u00b2\u0663 aX-.\n{}", max_size=40)
_TOKENS = st.text(string.ascii_letters + string.digits + "-_+/=", max_size=90)
_HEX = st.text("0123456789abcdefABCDEF", min_size=30, max_size=42)
_ETH = st.text("0123456789abcdefABCDEF", min_size=40, max_size=40).map(lambda b: "0x" + b)
_UUID = st.lists(st.text("0123456789abcdefABCDEF-", min_size=36, max_size=36), max_size=1).map(
    lambda xs: xs[0] if xs else "0b8e2a1c-4f6d-4a3b-9c7e-1d2f3a4b5c6d"
)
_ANY = st.text(st.characters(exclude_categories=()), max_size=60)
_NON_LATIN = st.text(st.characters(min_codepoint=0x100, max_codepoint=0x2FFFF), max_size=50)
_MIXED = st.lists(
    st.sampled_from(["a", "B", "7", "$", "{", "\u212a", "\u0130", "\n", "é"]), max_size=40
).map("".join)
_CARDS = st.tuples(
    st.sampled_from(
        ["4", "51", "2221", "34", "37", "300", "36", "3095", "6011", "65", "622126", "62", "3530"]
    ),
    st.text("0123456789", min_size=8, max_size=17),
    st.lists(
        st.sampled_from(["", "", "", " ", "-", "\u0663", "\u00b2", "/"]), min_size=20, max_size=20
    ),
).map(lambda t: "".join(c + sep for c, sep in zip(t[0] + t[1], t[2], strict=False)).rstrip(" -/"))
_BECH = st.tuples(
    st.sampled_from(
        ["AGE-SECRET-KEY-1", "age-secret-key-1", "bc1", "BC1", "x1", "1", "\u0130\u212a1"]
    ),
    st.text("qpzry9x8gf2tvdw0s3jn54khce6mua7lQPZ1b", min_size=0, max_size=62),
).map("".join)
_GROUPED = st.lists(st.text("0123456789", min_size=1, max_size=5), min_size=1, max_size=4).flatmap(
    lambda runs: st.sampled_from(["-", " ", ".", "", "/", "\u2013", "\u0663", "\u00b2", "a"]).map(
        lambda sep: sep.join(runs)
    )
)
_NUMBERS = st.sampled_from(
    [
        "078-05-1120",
        "123-45-6789",
        "912-70-1234",
        "046 454 286",
        "943 476 5919",
        "0210-0002-1",
        "021000021",
        "+1 (212) 555-0123",
        "1-415-867-5309",
        "9434765919",
        "555-01-2345",
    ]
)
_PASSWORDS = st.tuples(
    st.sampled_from(["", " ", "'", '"', " '", '\u00a0"', "\t"]),
    st.one_of(
        st.sampled_from(["Password", "HUNTER2", "qwerty", "s3cr3t-Pa55", "ya29.abc", "EAAb"]),
        st.text(string.ascii_letters + string.digits + "_-.$%{}<>[]()@:'\" ", max_size=24),
    ),
    st.sampled_from(["", " ", "'", '"', "' ", "\n"]),
).map("".join)
_URLS = st.tuples(
    st.sampled_from(["", "postgres://", "https://", "x:/", "://"]),
    st.text(string.ascii_letters + ":@", max_size=8),
    _PASSWORDS,
    st.sampled_from(["", "@host", "@db:5432/x", "@a@b"]),
).map("".join)
_VENDOR = st.tuples(
    st.sampled_from(
        ["", "ab", "abcdefgh", "abcdefghi", "A", "AB12", "ABCDEFGHIJ", "ey", "SG", "ya29"]
    ),
    st.sampled_from(["", "_", "-", ".", "_cd", "_cd_", "J", "_x-"]),
    st.text(string.ascii_letters + string.digits + "_-", max_size=14),
).map("".join)
VALUES = st.one_of(
    _ANY,
    _PASSWORDS,
    _URLS,
    _VENDOR,
    _GROUPED,
    _NUMBERS,
    _CARDS,
    _BECH,
    _NON_LATIN,
    _SEPARATED,
    _WORDY,
    _TEMPLATES,
    _TOKENS,
    _HEX,
    _ETH,
    _UUID,
    _MIXED,
    st.text(_CASE_TRICKS + "0123456789abcdef-", max_size=40),
)


def _outcome(fn: Callable[..., object], *args: object) -> object:
    """The result, or the type of the exception raised (a few Python validators raise on
    odd digits such as "\u00b2"; the matcher takes that as a rejection)."""
    validators._card_verdict.cache_clear()  # (it keeps the last answer, whoever gave it)
    try:
        return fn(*args)
    except Exception as exc:
        return type(exc)


def both(fn: Callable[..., object], *args: object) -> tuple[object, object]:
    compiled = _outcome(fn, *args)
    with pure_python():
        reference = _outcome(fn, *args)
    return compiled, reference


def assert_same(value: str) -> None:
    for name, fn in CHECKS.items():
        compiled, reference = both(fn, value)
        assert compiled == reference, name
        assert type(compiled) is type(reference), name
    for bits in THRESHOLDS:
        assert (
            both(placeholders.entropy_at_least, value, bits)[0]
            == (both(placeholders.entropy_at_least, value, bits)[1])
        ), bits
    for min_len, bits in TOKEN_RULES:
        compiled, reference = both(validators.random_token_ok, value, min_len, bits)
        assert compiled == reference, (min_len, bits)
    for prefix in (0, 1, 3, 8, 40):
        compiled, reference = both(masking.mask_value, value, "secret", prefix)
        assert compiled == reference, prefix
    compiled, reference = both(masking.mask_value, value, "digits")
    assert compiled == reference, "digits"


def test_the_modules_use_the_compiled_checks() -> None:
    assert NATIVE is not None
    for module in (placeholders, checks, validators, masking):
        assert module._native_checks is NATIVE
    with pure_python():
        assert placeholders._native_checks is None
    assert placeholders._native_checks is NATIVE


@settings(max_examples=1500, deadline=None)
@given(VALUES)
@example("")
@example("\ud800")
@example("${DB_PASSWORD}")
@example("{{ user }}")
@example("{{a}x}}")
@example("%(name)s")
@example("%(na-me)s")
@example("$AB")
@example("$ABC")
@example("<your-key>")
@example("aaaaaaa\naaaaaaaa")
@example("aaaaaaaa")
@example("your\u212aey")
@example("\u0130nsert")
@example("AKIAIOSFODNN7EXAMPLE")
@example("4111 1111 1111 1111")
@example("sk-proj-abc")
@example("ab--cd_ef-gh-ijklmn")
@example("abcdefghi-x")
@example("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")
@example("0x52908400098527886E0F7030069857D2E4169EE7")
def test_every_check_gives_the_reference_verdict(value: str) -> None:
    assert_same(value)


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(exclude_categories=()), min_size=1, max_size=300))
def test_entropy_at_its_own_value_and_either_side(value: str) -> None:
    with pure_python():
        exact = placeholders.shannon_entropy(value)
    assert placeholders.shannon_entropy(value) == exact  # the same float, bit for bit
    for bits in (exact, math.nextafter(exact, 0.0), math.nextafter(exact, 9.0), exact + 1e-9):
        compiled, reference = both(placeholders.entropy_at_least, value, bits)
        assert compiled == reference, bits


def test_long_values_on_either_side_of_the_buffers() -> None:
    rng = random.Random(5)
    alphabets = [
        string.ascii_letters + string.digits,
        "0123456789abcdef",
        "".join(map(chr, range(0x400, 0x700))),
    ]
    for n in (1, 159, 160, 161, 255, 256, 257, 1000, 100_000):
        for alphabet in alphabets:
            value = "".join(rng.choice(alphabet) for _ in range(n))
            assert_same(value)
            assert_same(value[: n // 2] + "${X}" + value[n // 2 :])
    assert_same("a" * 100_000)
    assert_same("".join(map(chr, range(0x100, 0x100 + 5000))))


def test_keccak256_matches_the_reference_at_every_block_boundary() -> None:
    rng = random.Random(3)
    for n in (*range(0, 300), 1000, 4096):
        data = bytes(rng.randrange(256) for _ in range(n))
        compiled, reference = both(checks.keccak256, data)
        assert compiled == reference, n
    # a published vector: Keccak-256 of the empty string
    assert checks.keccak256(b"").hex() == (
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    )
    assert checks.keccak256(b"abc") != hashlib.sha3_256(b"abc").digest()  # not SHA3's padding


def test_eip55_checksums_of_random_addresses() -> None:
    rng = random.Random(11)
    for _ in range(300):
        body = "".join(rng.choice("0123456789abcdef") for _ in range(40))
        digest = checks.keccak256(body.encode()).hex()
        good = "".join(
            c.upper() if int(h, 16) >= 8 else c for c, h in zip(body, digest, strict=False)
        )
        assert_same("0x" + good)
        flip = [i for i, c in enumerate(good) if c.isalpha()]
        if flip:
            i = rng.choice(flip)
            bad = good[:i] + good[i].swapcase() + good[i + 1 :]
            assert_same("0x" + bad)
            assert checks.ethereum_address_ok("0x" + good) is True or good in (body, body.upper())
            assert checks.ethereum_address_ok("0x" + bad) is False or bad in (body, body.upper())


_B32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _bech32_checksum(hrp: str, data: list[int], const: int) -> str:
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for v in [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp] + data + [0] * 6:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if (top >> i) & 1 else 0
    chk ^= const
    return "".join(_B32[(chk >> 5 * (5 - i)) & 31] for i in range(6))


def test_bech32_keys_and_addresses_with_valid_and_broken_checksums() -> None:
    rng = random.Random(13)
    for hrp, n, const in (("age-secret-key-", 52, 1), ("bc", 33, 1), ("bc", 53, 0x2BC830A3)):
        for _ in range(100):
            data = [rng.randrange(32) for _ in range(n)]
            value = hrp + "1" + "".join(_B32[d] for d in data) + _bech32_checksum(hrp, data, const)
            for v in (value, value.upper(), value[:-1] + ("q" if value[-1] != "q" else "p")):
                assert_same(v)
            assert checks._bech32_ok(value, (1, 0x2BC830A3))
            if hrp.startswith("age"):
                assert checks.age_key_ok(value.upper())


def test_card_groupings_and_their_near_misses() -> None:
    rng = random.Random(17)
    shapes: set[tuple[int, ...]] = set()
    for grouping in validators._CARD_GROUPINGS:
        shapes.add(grouping)
        for i in range(len(grouping)):  # one group a digit longer or shorter, or split off
            for delta in (-1, 1):
                shapes.add((*grouping[:i], grouping[i] + delta, *grouping[i + 1 :]))
            shapes.add((*grouping[:i], 1, grouping[i] - 1, *grouping[i + 1 :]))
        shapes.add((*grouping, 1))
    for shape in sorted(s for s in shapes if all(k >= 1 for k in s) and 12 <= sum(s) <= 19):
        for lead in ("4", "37", "6011", "3530"):
            digits = lead + "".join(rng.choice("0123456789") for _ in range(sum(shape) - len(lead)))
            check = next(d for d in "0123456789" if validators.luhn_ok(digits[:-1] + d))
            digits = digits[:-1] + check
            parts, i = [], 0
            for k in shape:
                parts.append(digits[i : i + k])
                i += k
            for sep in (" ", "-", "\u00a0"):
                value = sep.join(parts)
                assert (
                    both(validators._card_verdict, value)[0]
                    == both(validators._card_verdict, value)[1]
                )
                for brand in (None, "visa", "amex", "discover", "jcb"):
                    compiled, reference = both(validators.card_ok, value, brand)
                    assert compiled == reference, (value, brand)


def test_configure_refuses_what_it_cannot_compare() -> None:
    assert NATIVE is not None
    with pytest.raises(ValueError):
        NATIVE.configure(["caf\u00e9"], ["x"], 10)
    with pytest.raises(ValueError):
        NATIVE.configure(["abc"], [""], 10)
    with pytest.raises(TypeError):
        NATIVE.is_placeholder(b"bytes")
    # a refused configuration leaves the one in force
    assert placeholders.is_test_value("AKIAIOSFODNN7EXAMPLE")
    assert placeholders.is_placeholder("changeme-please")
