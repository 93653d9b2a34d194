"""Stage-2 validators on published examples and hand-checked values.

Every test runs twice: with the compiled checks (``_native_checks``) where they are built,
and with the Python reference alone."""

from __future__ import annotations

import base64
import math
import random
import re
import string
from collections.abc import Iterator

import pytest

from detectors.dlp import placeholders
from detectors.dlp import validators as v
from detectors.dlp.checks import generic_jwt_ok, k8s_service_account_jwt_ok
from detectors.dlp.masking import mask_value
from tests.unit.dlp.native import native_module, pure_python


@pytest.fixture(
    params=["compiled", "python"] if native_module() is not None else ["python"], autouse=True
)
def checks_build(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "python":
        with pure_python():
            yield request.param
    else:
        yield request.param


@pytest.mark.parametrize(
    ("number", "ok"),
    [("79927398713", True), ("79927398710", False), ("4539 1488 0343 6467", True), ("1", False)],
)
def test_luhn(number: str, ok: bool) -> None:
    assert v.luhn_ok(number) is ok


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        ("4539148803436467", "visa"),
        ("5425233430109903", "mastercard"),
        ("2223000048410010", "mastercard"),
        ("374245455400126", "amex"),
        ("36227206271667", "diners"),
        ("6011000990139424", "discover"),
        ("6212345678901265", "unionpay"),
        ("3530111333300000", "jcb"),
        ("9999999999999995", None),
    ],
)
def test_card_brand(number: str, brand: str | None) -> None:
    assert v.card_brand(number) == brand


def test_card_rejects_test_numbers_and_odd_grouping() -> None:
    assert v.card_ok("4012 8888 8888 1881")  # valid, but a network test card:
    assert v.is_test_value("4012 8888 8888 1881")  # the profile decides (include_test_values)
    assert not v.card_ok("4111 1111 1111 1111")  # two distinct digits: not a real number
    assert v.is_test_value("4242424242424242")
    assert not v.is_test_value("4539 1488 0343 6467")
    assert v.card_ok("4539 1488 0343 6467")
    assert not v.card_ok("4539 14880 343 6467")  # not a printed grouping
    assert not v.card_ok("4539-1488 0343-6467")  # mixed separators


@pytest.mark.parametrize(
    ("iban", "ok"),
    [
        ("GB33BUKB20201555555555", True),
        ("GB33 BUKB 2020 1555 5555 55", True),
        ("GB34BUKB20201555555555", False),
        ("GB33-BUKB-2020-1555-5555-55", True),
        ("DE89-3704-0044-0532-0130-00", True),  # dashes; the standard's example
        ("DE89370400440532013001", False),
        ("XX33BUKB20201555555555", False),
        ("GB33BUKB2020155555555", False),  # too short for GB
        ("GB33BUKB20201555555555ZZZ", True),  # over-long run is cut to the country length
    ],
)
def test_iban(iban: str, ok: bool) -> None:
    assert v.iban_ok(iban) is ok


def test_aba_routing() -> None:
    assert v.aba_routing_ok("021000021")
    assert v.aba_routing_ok("0210-0002-1")  # printed 4-4-1
    assert not v.aba_routing_ok("0210-0002 1")
    assert v.aba_routing_ok("011000015")
    assert not v.aba_routing_ok("021000022")
    assert not v.aba_routing_ok("021-000-021")
    assert not v.aba_routing_ok("991000021")  # prefix outside the Federal Reserve ranges


def test_ssn_rules() -> None:
    assert v.us_ssn_ok("536-22-7789")
    assert v.us_ssn_ok("536 22 7789")
    for bad in ("000-22-7789", "666-22-7789", "912-22-7789", "536-00-7789", "536-22-0000"):
        assert not v.us_ssn_ok(bad), bad
    assert v.us_ssn_ok("536.22.7789")  # dots
    assert v.us_ssn_ok("078-05-1120")  # the Woolworth wallet card: valid, but published
    assert v.is_test_value("078-05-1120")
    assert not v.us_ssn_ok("536-22 7789")
    assert not v.us_ssn_ok("536227789")  # separators required


def test_itin() -> None:
    assert v.us_itin_ok("912-78-1234")
    assert v.us_itin_ok("900-70-0001")
    assert not v.us_itin_ok("912-45-1234")
    assert not v.us_itin_ok("812-78-1234")


def test_sin_nino_nhs_tfn() -> None:
    assert v.ca_sin_ok("130 692 544")
    assert not v.ca_sin_ok("130 692 545")
    assert not v.ca_sin_ok("046 454 286")  # first digit 0 is never issued
    assert v.uk_nino_ok("JG 10 37 59 A")
    assert v.uk_nino_ok("jg103759a")
    assert not v.uk_nino_ok("GB 10 37 59 A")
    assert not v.uk_nino_ok("DA 10 37 59 A")
    assert not v.uk_nino_ok("QQ 12 34 56 C")
    assert v.uk_nhs_ok("943 476 5919")
    assert not v.uk_nhs_ok("943 476 5918")
    assert v.au_tfn_ok("123 456 782")
    assert not v.au_tfn_ok("123 456 781")


def test_swift() -> None:
    assert v.swift_bic_ok("DEUTDEFF")
    assert v.swift_bic_ok("DEUTDEFF500")
    assert not v.swift_bic_ok("ABCDXX12")  # XX is not a country
    assert not v.swift_bic_ok("DEUTDE00")  # test BIC
    assert not v.swift_bic_ok("deutdeff")


def test_jwt() -> None:
    header = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    payload = "eyJzdWIiOiIxMjM0NTY3ODkwIn0"
    assert v.jwt_ok(f"{header}.{payload}.c2lnbmF0dXJl")
    assert not v.jwt_ok(f"eyJub3RhbGciOiJ4In0.{payload}.c2ln")  # header without alg
    assert not v.jwt_ok(f"eyJhbGciOiJIUzI1Ni.{payload}.c2ln")  # header is not JSON
    assert not v.jwt_ok(f"{header}.{payload}")  # signed alg, no signature
    unsigned = "eyJhbGciOiJub25lIn0"  # {"alg":"none"}
    assert v.jwt_ok(f"{unsigned}.{payload}.")
    assert v.jwt_ok(f"{unsigned}.{payload}")


def test_a_jwt_is_either_a_service_account_token_or_a_generic_one() -> None:
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    header = b64(b'{"alg":"RS256","kid":"k1"}')
    account = b64(b'{"iss":"kubernetes/serviceaccount","sub":"system:serviceaccount:ns:app"}')
    user = b64(b'{"sub":"1234567890","name":"someone"}')
    signature = "c2lnbmF0dXJlLWJ5dGVz"
    assert k8s_service_account_jwt_ok(f"{header}.{account}.{signature}")
    assert not generic_jwt_ok(f"{header}.{account}.{signature}")
    assert generic_jwt_ok(f"{header}.{user}.{signature}")
    assert not k8s_service_account_jwt_ok(f"{header}.{user}.{signature}")
    for broken in (f"{header}.{account}", f"{header}.{b64(b'[1]')}.{signature}", "a.b.c"):
        assert not k8s_service_account_jwt_ok(broken)
        assert not generic_jwt_ok(broken)


def test_a_jwt_whose_payload_nests_deeper_than_json_recurses_is_rejected() -> None:
    header = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    deep = base64.urlsafe_b64encode(b"[" * 3000 + b"]" * 3000).decode().rstrip("=")
    assert not v.jwt_ok(f"{header}.{deep}.c2lnbmF0dXJl")


def test_entropy_and_placeholders() -> None:
    assert v.shannon_entropy("") == 0.0
    assert v.shannon_entropy("aaaa") == 0.0
    assert v.shannon_entropy("abcd") == pytest.approx(2.0)
    for p in (
        "changeme",
        "${DB_PASSWORD}",
        "<your-api-key>",
        "{{vault.secret}}",
        "%(password)s",
        "xxxxxxxxxxxx",
        "aaaaaaaaaaaaaaaa",
        "********",
    ):
        assert v.is_placeholder(p), p
    assert not v.is_placeholder("Zk3p9QvT2mLw8RxN")
    # documentation keys are published test values, not placeholders
    assert not v.is_placeholder("AKIAIOSFODNN7EXAMPLE")
    assert v.is_test_value("AKIAIOSFODNN7EXAMPLE")


def test_placeholder_and_entropy_rules_on_generated_values() -> None:
    """Every piece of the placeholder rule, and entropy by its definition, on strings built
    from templates, runs, documentation words and random characters."""
    words = re.compile("|".join(re.escape(w) for w in placeholders._PLACEHOLDER_WORDS))
    shapes = re.compile(r"\$\{[^}]*\}|\{\{[^}]*\}\}|<[^>]*>|%\(\w+\)[sd]|\$[A-Z_]{3,}|(.)\1{7,}")
    rng = random.Random(7)
    parts = ["${", "}", "{{", "}}", "<", ">", "%(", ")s", ")d", "$", "ABC_", "Dummy", "XXXX",
             "\n", "aaaa", "....", "1234567890", "your-", "Sample", "é", "-", " "]  # fmt: skip
    alphabet = string.ascii_letters + string.digits + "_-$%{}<>()*. "
    for _ in range(20_000):
        value = "".join(
            rng.choice(parts) if rng.random() < 0.3 else rng.choice(alphabet)
            for _ in range(rng.randint(0, 40))
        )
        expected = not value or (
            not v.is_test_value(value)
            and (words.search(value.lower()) is not None or shapes.search(value) is not None)
        )
        assert v.is_placeholder(value) is expected, value
        n = len(value)
        by_definition = -sum(value.count(c) / n * math.log2(value.count(c) / n) for c in set(value))
        assert v.shannon_entropy(value) == pytest.approx(by_definition, abs=1e-12)


def test_openai_key_rules() -> None:
    body = "Zk3p9QvT2mLw8RxN4bYc" * 3
    assert v.openai_key_ok("sk-proj-" + body[:30] + "T3BlbkFJ" + body[:30])
    assert v.openai_key_ok("sk-" + body[:20] + "T3BlbkFJ" + body[20:40])
    assert v.openai_key_ok("sk-admin-" + body)
    assert not v.openai_key_ok("sk-ant-api03-" + body)
    assert not v.openai_key_ok("sk-learn-preprocessing-pipeline")
    assert not v.openai_key_ok("sk-proj-" + "x" * 60)


def test_email_and_phone() -> None:
    assert v.email_ok("maria@northwind.com")
    assert not v.email_ok("user@example.com")
    assert not v.email_ok("a@b.test")
    assert v.us_phone_ok("(415) 867-5309")
    assert v.us_phone_ok("+1 415-867-5309")
    assert not v.us_phone_ok("(211) 867-5309")
    assert not v.us_phone_ok("415-555-0123")


def test_validators_never_raise_on_junk() -> None:
    for fn in v.VALIDATORS.values():
        for junk in ("", "-", "\x00\xff", "é" * 50, "9" * 200, "eyJ.eyJ.x"):
            assert fn(junk) in (True, False)


@pytest.mark.parametrize(
    ("value", "style", "prefix", "expected"),
    [
        ("4539148803436467", "card", 0, "4539 **** **** 6467"),
        ("374245455400126", "card", 0, "3742 **** *** 0126"),
        ("536-22-7789", "digits", 0, "***-**-7789"),
        ("GB33BUKB20201555555555", "iban", 0, "GB** \u2026 5555"),
        ("maria@northwind.com", "email", 0, "m***@n***.com"),
        (
            "ghp_" + "Zk3p9QvT2mLw8RxN4bYc" + "Q1w2E3r4T5y6U7i8",
            "secret",
            0,
            "ghp_\u2026i8"[:-2] + "7i8",
        ),
        ("AKIAZ7Q3XK5LMN2P4R6T", "secret", 4, "AKIA\u20266T"),
        (
            "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE",
            "pem",
            0,
            "-----BEGIN EC PRIVATE KEY----- \u2026",
        ),
        ("abc", "generic", 0, "***"),
    ],
)
def test_mask_value(value: str, style: str, prefix: int, expected: str) -> None:
    assert mask_value(value, style, prefix) == expected


def test_mask_never_reveals_most_of_a_secret() -> None:
    for n in range(1, 120):
        value = ("Q1w2E3r4T5y6U7i8" * 8)[:n]
        masked = mask_value("sk-proj-" + value, "secret")
        shown = masked.replace("\u2026", "")
        assert len(shown) <= max(3, (8 + n) // 3 + 3)
        if n >= 6:
            assert value not in masked


def test_keccak256_published_vectors() -> None:
    """Ethereum's Keccak-256 (not SHA3-256) on the empty input and "abc", and on an input of
    two 136-byte blocks (the digest the earlier list-based rounds of this module gave)."""
    from detectors.dlp.checks import keccak256

    assert keccak256(b"").hex() == (
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    )
    assert keccak256(b"abc").hex() == (
        "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"
    )
    assert keccak256(bytes(range(200))).hex() == (
        "bfb0aa97863e797943cf7c33bb7e880bb4543f3d2703c0923c6901c2af57b890"
    )


def test_luhn_by_its_definition_on_generated_numbers() -> None:
    """The table-driven Luhn agrees with the rule written out digit by digit."""
    from detectors.dlp.checks import luhn_digits_ok

    def by_definition(digits: str) -> bool:
        total = 0
        for i, ch in enumerate(reversed(digits)):
            d = int(ch) * (2 if i % 2 else 1)
            total += d - 9 if d > 9 else d
        return total % 10 == 0

    rng = random.Random(11)
    for _ in range(20_000):
        digits = "".join(rng.choice(string.digits) for _ in range(rng.randint(0, 24)))
        assert luhn_digits_ok(digits) is by_definition(digits), digits
        assert v.luhn_ok(digits) is (len(digits) >= 2 and by_definition(digits)), digits


def test_entropy_at_least_agrees_with_the_exact_entropy() -> None:
    """The bounds only decide what the exact sum would: random and skewed values, thresholds
    the validators use, and values whose entropy is exactly a threshold (8 distinct
    characters twice each: 3.0 bits)."""
    rng = random.Random(13)
    alphabets = (string.hexdigits, string.ascii_letters + string.digits, "ab", "abcdefgh")
    for _ in range(20_000):
        alphabet = rng.choice(alphabets)
        skew = rng.random()
        value = "".join(
            alphabet[0] if rng.random() < skew else rng.choice(alphabet)
            for _ in range(rng.randint(0, 90))
        )
        for bits in (2.5, 3.0, 3.5, 4.0):
            expected = v.shannon_entropy(value) >= bits
            assert placeholders.entropy_at_least(value, bits) is expected, (value, bits)
    assert placeholders.entropy_at_least("abcdefgh" * 2, 3.0)
    assert not placeholders.entropy_at_least("abcdefgh" * 2, 3.0000001)


@pytest.mark.parametrize("length", [20, 32, 40])
def test_random_hex_secrets_pass_the_hex_key_check_whatever_their_length(length: int) -> None:
    from detectors.dlp.checks import hex_key_ok

    rng = random.Random(length)
    values = ["".join(rng.choice("0123456789abcdef") for _ in range(length)) for _ in range(5000)]
    values = [value for value in values if any(c.isalpha() for c in value)]
    values = [value for value in values if any(c.isdigit() for c in value)]
    rejected = [value for value in values if not hex_key_ok(value)]
    assert len(rejected) <= len(values) // 1000, rejected[:5]


@pytest.mark.parametrize(
    "value",
    [
        "aaaaaaaaaa1111111111",
        "abababababab12121212",
        "0000000000000000000a",
        "1234567890abcdef1234",
    ],
)
def test_hex_key_check_refuses_runs_and_repeated_pairs(value: str) -> None:
    from detectors.dlp.checks import hex_key_ok

    assert not hex_key_ok(value)
