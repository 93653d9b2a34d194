"""Stage-2 validators: pure functions that confirm (or reject) a regex candidate.

The fast engine (Hyperscan) only proves that a span has the right *shape*. These checks cut the
false positives that shape alone lets through: checksums (Luhn, mod-97, ABA, NHS mod-11, TFN),
numbering-plan rules (SSN areas, NINO prefixes), structure (JWT header JSON), randomness
(Shannon entropy) and placeholder / documentation values (``AKIAIOSFODNN7EXAMPLE``,
``${DB_PASSWORD}``, the 4111... test card). The hottest ones run compiled where the optional
``_native_checks`` module is built (same verdicts; the Python is the reference).

Every validator takes the candidate value as ``str`` and returns ``bool``. They never raise on
odd input and never log the value. ``VALIDATORS`` maps a stable name to each function so that a
profile refers to validators by name (names are hashed into the profile-set version).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from functools import lru_cache

from detectors.dlp.checks import CHECKS, jwt_parts_ok, luhn_digits_ok
from detectors.dlp.placeholders import (
    KNOWN_TEST_VALUES,
    entropy_at_least,
    is_placeholder,
    is_test_value,
    shannon_entropy,
)

try:
    from detectors.dlp import _native_checks
except ImportError:  # pragma: no cover - built wherever a C compiler was at install
    _native_checks = None  # type: ignore[assignment]

__all__ = [
    "IBAN_LENGTHS",
    "KNOWN_TEST_VALUES",
    "VALIDATORS",
    "aba_routing_ok",
    "au_tfn_ok",
    "ca_sin_ok",
    "card_brand",
    "iban_ok",
    "is_placeholder",
    "is_test_value",
    "jwt_ok",
    "luhn_ok",
    "shannon_entropy",
    "uk_nhs_ok",
    "uk_nino_ok",
    "us_itin_ok",
    "us_ssn_ok",
]

Validator = Callable[[str], bool]


_NON_DIGITS = re.compile(r"[^0-9]+")


def _digits(value: str) -> str:
    return _NON_DIGITS.sub("", value)


# --------------------------------------------------------------------------------------------
# Generic checks
# --------------------------------------------------------------------------------------------


def random_token_ok(value: str, min_len: int = 16, min_entropy: float = 3.0) -> bool:
    """A random-looking credential body: long enough, not a placeholder, enough entropy."""
    if _native_checks is not None:
        return _native_checks.random_token_ok(value, min_len, min_entropy)
    return (
        len(value) >= min_len and not is_placeholder(value) and entropy_at_least(value, min_entropy)
    )


# --------------------------------------------------------------------------------------------
# Payment cards
# --------------------------------------------------------------------------------------------


def luhn_ok(number: str) -> bool:
    """Luhn (mod-10) check on the digits of ``number``; False for fewer than 2 digits."""
    if _native_checks is not None:
        return _native_checks.luhn_ok(number)
    digits = _digits(number)
    return len(digits) >= 2 and luhn_digits_ok(digits)


def card_brand(number: str) -> str | None:
    """Brand from the IIN prefix and length of the digits, or None when nothing fits.

    Returns one of ``visa``, ``mastercard``, ``amex``, ``diners``, ``unionpay``, ``discover``,
    ``jcb``. The rules are the published IIN ranges; no checksum is done here.
    """
    d = _digits(number)
    n = len(d)
    if not 12 <= n <= 19:
        return None
    p2, p3, p4, p6 = int(d[:2]), int(d[:3]), int(d[:4]), int(d[:6])
    if d[0] == "4" and n in (13, 16, 19):
        return "visa"
    if (51 <= p2 <= 55 or 2221 <= p4 <= 2720) and n == 16:
        return "mastercard"
    if p2 in (34, 37) and n == 15:
        return "amex"
    if (300 <= p3 <= 305 or p2 in (36, 38, 39) or p4 == 3095) and n in (14, 16):
        return "diners"
    if (p4 == 6011 or 644 <= p3 <= 649 or p2 == 65 or 622126 <= p6 <= 622925) and n in (16, 19):
        return "discover"
    if p2 == 62 and 16 <= n <= 19:
        return "unionpay"
    if 3528 <= p4 <= 3589 and 16 <= n <= 19:
        return "jcb"
    return None


_CARD_GROUPINGS = {
    (4, 4, 4, 4),
    (4, 4, 4, 4, 3),
    (4, 4, 4, 1),
    (4, 6, 5),
    (4, 6, 4),
    (4, 4, 4, 3),
    (4, 4, 4, 2),
    (4, 4, 4, 4, 2),
    (4, 4, 4, 4, 1),
    (6, 13),
}


def card_format_ok(value: str) -> bool:
    """Digits are contiguous or grouped like a printed card (4-4-4-4, 4-6-5, ...) with one
    separator character used throughout."""
    seps = {c for c in value if not c.isdigit()}
    if not seps:
        return True
    if len(seps) != 1:
        return False
    sep = seps.pop()
    groups = tuple(len(g) for g in value.split(sep))
    return groups in _CARD_GROUPINGS


def card_ok(value: str, brand: str | None = None) -> bool:
    """A plausible real card number: brand (if given) by IIN, printed grouping, Luhn, not a
    test card. Cheap checks first: most card-shaped runs fail the brand test."""
    if _native_checks is not None:  # the same checks, in _card_verdict's compiled form
        found = _native_checks.card_verdict(value)
        return found is not None and (brand is None or found == brand)
    digits = _digits(value)
    found = card_brand(digits)
    if found is None or (brand is not None and found != brand):
        return False
    if not card_format_ok(value) or not luhn_ok(digits):
        return False
    return len(set(digits)) > 2


@lru_cache(maxsize=1)
def _card_verdict(value: str) -> str | None:
    """Brand of a value that passes every card check, else None. The seven brand entries
    share one candidate pattern and ask about the same span one after another, so the last
    answer is kept, and only it: a long-lived worker holds no list of card numbers."""
    if _native_checks is not None:
        return _native_checks.card_verdict(value)
    brand = card_brand(_digits(value))
    return brand if brand is not None and card_ok(value, brand) else None


def _brand_validator(brand: str) -> Validator:
    def check(value: str) -> bool:
        return _card_verdict(value) == brand

    check.__name__ = f"card_{brand}"
    return check


# --------------------------------------------------------------------------------------------
# Banking
# --------------------------------------------------------------------------------------------

# ISO 13616 registry lengths (SWIFT IBAN registry), country -> total IBAN length.
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
    "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32,
    "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24,
    "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31,
    "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28, "TL": 23,
    "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip


def iban_ok(value: str) -> bool:
    """IBAN (spaces or dashes allowed): known country, exact registry length (an over-long
    run is cut to it), mod-97 == 1."""
    compact = "".join(value.replace("-", " ").split()).upper()
    length = IBAN_LENGTHS.get(compact[:2])
    if length is None or len(compact) < length:
        return False
    iban = compact[:length]
    if not iban[2:4].isdigit() or not iban.isalnum():
        return False
    rearranged = iban[4:] + iban[:4]
    try:
        as_int = int("".join(str(int(c, 36)) for c in rearranged))
    except ValueError:
        return False
    return as_int % 97 == 1


def aba_routing_ok(value: str) -> bool:
    """US ABA routing transit number: 9 digits (contiguous or 4-4-1), Federal Reserve prefix,
    3-7-1 checksum."""
    if _native_checks is not None:
        return _native_checks.aba_routing_ok(value)
    d = _digits(value)
    if len(d) != 9 or len(set(d)) == 1:
        return False
    if len(value) != 9 and not _consistent_separators(value, (4, 4, 1)):
        return False  # contiguous, or printed 4-4-1 as on cheques
    prefix = int(d[:2])
    if not (prefix <= 12 or 21 <= prefix <= 32 or 61 <= prefix <= 72 or prefix == 80):
        return False
    w = (3, 7, 1) * 3
    return sum(int(c) * k for c, k in zip(d, w, strict=True)) % 10 == 0


# ISO 3166-1 alpha-2 country codes (for SWIFT/BIC positions 5-6).
_ISO_COUNTRY_CODES = (
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ "
    "BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM "
    "DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS "
    "GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN "
    "KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ "
    "MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM "
    "PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV "
    "SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI "
    "VN VU WF WS XK YE YT ZA ZM ZW"
)
_ISO_COUNTRIES = frozenset(_ISO_COUNTRY_CODES.split())


def swift_bic_ok(value: str) -> bool:
    """SWIFT/BIC: 8 or 11 upper-case alphanumerics, letters for bank and a real country code,
    location code not a test code (second character ``0``)."""
    v = value.strip()
    if len(v) not in (8, 11) or not v.isalnum() or not v[:6].isalpha() or not v.isupper():
        return False
    return v[4:6] in _ISO_COUNTRIES and v[7] != "0"


# --------------------------------------------------------------------------------------------
# National identifiers
# --------------------------------------------------------------------------------------------


def _consistent_separators(value: str, groups: tuple[int, ...]) -> bool:
    """Digits only, or the given group lengths separated by one repeated separator."""
    seps = {c for c in value if not c.isalnum()}
    if not seps:
        return True
    if len(seps) != 1:
        return False
    return tuple(len(g) for g in value.split(seps.pop())) == groups


def us_ssn_ok(value: str) -> bool:
    """US SSN with separators: area not 000/666/9xx, group not 00, serial not 0000, no
    well-known published or example numbers."""
    if _native_checks is not None:
        return _native_checks.us_ssn_ok(value)
    if not _consistent_separators(value, (3, 2, 4)) or value.isdigit():
        return False
    d = _digits(value)
    if len(d) != 9 or len(set(d)) == 1:
        return False
    area, group, serial = int(d[:3]), int(d[3:5]), int(d[5:])
    return area not in (0, 666) and area < 900 and group != 0 and serial != 0


def us_itin_ok(value: str) -> bool:
    """US ITIN: 9xx-GG-SSSS with separators, group in 50-65, 70-88, 90-92, 94-99."""
    if _native_checks is not None:
        return _native_checks.us_itin_ok(value)
    if not _consistent_separators(value, (3, 2, 4)) or value.isdigit():
        return False
    d = _digits(value)
    if len(d) != 9 or d[0] != "9" or int(d[5:]) == 0:
        return False
    g = int(d[3:5])
    return 50 <= g <= 65 or 70 <= g <= 88 or 90 <= g <= 92 or 94 <= g <= 99


def ca_sin_ok(value: str) -> bool:
    """Canada SIN: 9 digits (3-3-3 when separated), first digit not 0 or 8, Luhn."""
    if _native_checks is not None:
        return _native_checks.ca_sin_ok(value)
    if not _consistent_separators(value, (3, 3, 3)):
        return False
    d = _digits(value)
    return len(d) == 9 and d[0] not in "08" and len(set(d)) > 1 and luhn_ok(d)


_NINO_BAD_PREFIXES = frozenset({"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"})


def uk_nino_ok(value: str) -> bool:
    """UK National Insurance number: prefix rules (no D F I Q U V, second letter not O, not
    BG/GB/NK/KN/TN/NT/ZZ), six digits, suffix A-D, not the documentation examples."""
    v = "".join(value.split()).upper()
    if len(v) != 9 or not (v[:2].isalpha() and v[2:8].isdigit() and v[8] in "ABCD"):
        return False
    return not (v[0] in "DFIQUV" or v[1] in "DFIQUVO" or v[:2] in _NINO_BAD_PREFIXES)


def uk_nhs_ok(value: str) -> bool:
    """UK NHS number: 10 digits (3-3-4 when separated), mod-11 check digit."""
    if _native_checks is not None:
        return _native_checks.uk_nhs_ok(value)
    if not _consistent_separators(value, (3, 3, 4)):
        return False
    d = _digits(value)
    if len(d) != 10 or len(set(d)) == 1:
        return False
    total = sum(int(c) * w for c, w in zip(d[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(d[9])


def au_tfn_ok(value: str) -> bool:
    """Australian Tax File Number: 8 or 9 digits, weighted sum divisible by 11."""
    d = _digits(value)
    if len(d) not in (8, 9) or len(set(d)) == 1:
        return False
    weights = (10, 7, 8, 4, 6, 3, 5, 1) if len(d) == 8 else (1, 4, 3, 7, 5, 8, 6, 9, 10)
    return sum(int(c) * w for c, w in zip(d, weights, strict=True)) % 11 == 0


def us_passport_ok(value: str) -> bool:
    """US passport number: 9 digits or a letter and 8 digits, not a trivial run."""
    d = _digits(value)
    return len(value) == 9 and len(set(d)) > 2 and not is_placeholder(value)


# --------------------------------------------------------------------------------------------
# Contact data
# --------------------------------------------------------------------------------------------

_RESERVED_MAIL_DOMAINS = ("example.com", "example.org", "example.net")
_RESERVED_TLDS = ("example", "test", "invalid", "localhost", "local")


def email_ok(value: str) -> bool:
    """Email address, excluding RFC 2606 reserved domains and template locals (``{{user}}``)."""
    local, _, domain = value.rpartition("@")
    domain = domain.lower()
    if not local or "." not in domain or local.startswith(".") or ".." in value:
        return False
    if domain in _RESERVED_MAIL_DOMAINS or domain.endswith(
        tuple("." + d for d in _RESERVED_MAIL_DOMAINS)
    ):
        return False
    return domain.rsplit(".", 1)[1] not in _RESERVED_TLDS


def us_phone_ok(value: str) -> bool:
    """NANP number: area and exchange 2-9 and not N11, not the 555-01xx fictional block."""
    if _native_checks is not None:
        return _native_checks.us_phone_ok(value)
    d = _digits(value)
    if len(d) == 11 and d[0] == "1":
        d = d[1:]
    if len(d) != 10 or len(set(d)) <= 2:
        return False
    area, exch, line = d[:3], d[3:6], d[6:]
    if area[0] in "01" or exch[0] in "01" or area[1:] == "11" or exch[1:] == "11":
        return False
    return not (exch == "555" and line.startswith("01"))


# --------------------------------------------------------------------------------------------
# Credentials
# --------------------------------------------------------------------------------------------


def _b64url_json(segment: str) -> object:
    pad = "=" * (-len(segment) % 4)
    raw = base64.urlsafe_b64decode(segment + pad)
    return json.loads(raw)


def jwt_ok(value: str) -> bool:
    """JWT: base64url JSON header with ``alg`` and JSON payload; three parts, or an unsigned
    (``alg: none``) token with an empty or missing signature (see ``checks.jwt_parts_ok``)."""
    return jwt_parts_ok(value)


def openai_key_ok(value: str) -> bool:
    """OpenAI key (``sk-``, ``sk-proj-``, ``sk-svcacct-``, ``sk-admin-``). Keys minted by
    OpenAI carry the ``T3BlbkFJ`` marker (base64 of "OpenAI"); without it a long, high-entropy
    body is still accepted so that keys of a new layout are not missed. Anthropic's
    ``sk-ant-``, OpenRouter's ``sk-or-`` and Langfuse's ``sk-lf-`` keys have their own entries."""
    if value.startswith(("sk-ant-", "sk-or-", "sk-lf-")) or is_placeholder(value):
        return False
    body = value[3:]
    for prefix in ("proj-", "svcacct-", "admin-", "None-", "service-"):
        if body.startswith(prefix):
            body = body[len(prefix) :]
            break
    if "T3BlbkFJ" in body:
        return len(body) >= 40
    return len(body) >= 40 and entropy_at_least(body, 4.0)


def aws_access_key_ok(value: str) -> bool:
    """AWS access key id: 20 chars, not a docs example or a repeated run."""
    return len(value) == 20 and not is_placeholder(value) and entropy_at_least(value[4:], 2.5)


def aws_secret_ok(value: str) -> bool:
    """AWS secret access key: 40 base64 chars with high entropy, not a docs example."""
    return len(value) == 40 and not is_placeholder(value) and entropy_at_least(value, 3.5)


def private_key_ok(value: str) -> bool:
    """A PEM / OpenSSH / PGP private key block whose first body characters look random."""
    body = value.rstrip().rsplit("\n", 1)[-1].strip()
    return len(body) >= 32 and not is_placeholder(body) and entropy_at_least(body, 3.5)


def _token(min_len: int, min_entropy: float = 3.0) -> Validator:
    def check(value: str) -> bool:
        if _native_checks is not None:  # (one call less than through random_token_ok)
            return _native_checks.random_token_ok(value, min_len, min_entropy)
        return random_token_ok(value, min_len, min_entropy)

    check.__name__ = f"token_min{min_len}"
    return check


def hex_secret_ok(value: str) -> bool:
    """A hex secret (Twilio, GCP private_key_id): not a trivial run, some entropy."""
    if _native_checks is not None:
        return _native_checks.hex_secret_ok(value)
    return not is_placeholder(value) and entropy_at_least(value, 3.0)


VALIDATORS: dict[str, Validator] = {
    "luhn": luhn_ok,
    "card_any": card_ok,
    "card_visa": _brand_validator("visa"),
    "card_mastercard": _brand_validator("mastercard"),
    "card_amex": _brand_validator("amex"),
    "card_diners": _brand_validator("diners"),
    "card_unionpay": _brand_validator("unionpay"),
    "card_discover": _brand_validator("discover"),
    "card_jcb": _brand_validator("jcb"),
    "iban": iban_ok,
    "aba_routing": aba_routing_ok,
    "swift_bic": swift_bic_ok,
    "us_ssn": us_ssn_ok,
    "us_itin": us_itin_ok,
    "ca_sin": ca_sin_ok,
    "uk_nino": uk_nino_ok,
    "uk_nhs": uk_nhs_ok,
    "au_tfn": au_tfn_ok,
    "us_passport": us_passport_ok,
    "email": email_ok,
    "us_phone": us_phone_ok,
    "openai_key": openai_key_ok,
    "aws_access_key": aws_access_key_ok,
    "aws_secret": aws_secret_ok,
    "private_key": private_key_ok,
    "hex_secret": hex_secret_ok,
    "not_placeholder": lambda v: not is_placeholder(v),
    "token16": _token(16),
    "token20": _token(20),
    "token32": _token(32, 3.5),
    "token80": _token(80, 4.0),
    **CHECKS,
}
