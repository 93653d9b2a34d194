"""Format checks behind the catalogue's validators: token checksums, credential structure,
national identifier check digits, crypto address checksums.

Pure functions of the candidate text, ``str -> bool``; they never raise on odd input (callers
still guard) and never log. Each one states the published rule it implements. Registered by
name in ``validators.VALIDATORS``. The hottest ones hand the value to their compiled version
in ``_native_checks`` when it is built (same verdict for every ``str``; the Python here is the
reference and the fallback).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import zlib
from collections.abc import Callable, Sequence
from datetime import date

from detectors.dlp.placeholders import entropy_at_least, is_placeholder

try:
    from detectors.dlp import _native_checks
except ImportError:  # pragma: no cover - built wherever a C compiler was at install
    _native_checks = None  # type: ignore[assignment]

__all__ = [
    "CHECKS",
    "base62_crc32_ok",
    "jwt_parts_ok",
    "keccak256",
    "luhn_digits_ok",
    "verhoeff_ok",
]

_NON_DIGITS = re.compile(r"[^0-9]+")
_NON_ALNUM = re.compile(r"[^0-9A-Za-z]+")


def _digits(value: str) -> str:
    return _NON_DIGITS.sub("", value)


def _alnum(value: str) -> str:
    return _NON_ALNUM.sub("", value)


def _weighted(digits: str, weights: Sequence[int]) -> int:
    return sum(int(c) * w for c, w in zip(digits, weights, strict=False))


# Luhn: every second digit from the right is doubled (and 9 taken off past 9): 0-9 -> these
_LUHN_DOUBLED = bytes.maketrans(b"0123456789", bytes((0, 2, 4, 6, 8, 1, 3, 5, 7, 9)))


def luhn_digits_ok(digits: str) -> bool:
    """Luhn (mod 10) over a string of ASCII digits, summed in C: the kept digits as bytes
    (less 48 each), the doubled ones through a translation table."""
    raw = digits.encode("ascii")
    kept = raw[-1::-2]
    return (sum(kept) - 48 * len(kept) + sum(raw[-2::-2].translate(_LUHN_DOUBLED))) % 10 == 0


def _iso7064_mod11_10(digits: str) -> int:
    """Check digit of ISO 7064 MOD 11,10 over ``digits`` (German Steuer-ID, Croatian OIB)."""
    product = 10
    for c in digits:
        total = (int(c) + product) % 10 or 10
        product = (2 * total) % 11
    return (11 - product) % 10


def _valid_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------------------------
# Token checksums and structure
# --------------------------------------------------------------------------------------------

_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _base62(n: int, width: int) -> str:
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = _B62[r] + out
    return out.rjust(width, "0")


def base62_crc32_ok(value: str) -> bool:
    """GitHub (``ghp_`` ``gho_`` ``ghu_`` ``ghs_`` ``ghr_``) and npm (``npm_``) tokens: after
    the prefix, 30 random base62 characters and 6 that are the CRC32 of those 30, in base62
    (digits, upper, lower) left-padded with ``0``."""
    _, sep, body = value.partition("_")
    if not sep or len(body) != 36 or not body.isalnum() or not body.isascii():
        return False
    entropy, check = body[:30], body[30:]
    return _base62(zlib.crc32(entropy.encode()), 6) == check and not is_placeholder(entropy)


def _b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def pypi_macaroon_ok(value: str) -> bool:
    """PyPI / TestPyPI API token: ``pypi-`` then a base64url macaroon in the v2 binary format:
    version byte 2, a location field naming pypi.org or test.pypi.org, an identifier field,
    and the 32-byte signature field at the end."""
    if not value.startswith("pypi-"):
        return False
    try:
        raw = _b64url_decode(value[5:])
    except (ValueError, binascii.Error):
        return False
    for location in (b"pypi.org", b"test.pypi.org"):
        head = b"\x02\x01" + bytes([len(location)]) + location + b"\x02"
        if raw.startswith(head):
            break
    else:
        return False
    return len(raw) >= len(head) + 40 and raw[-35:-32] == b"\x00\x06\x20"


def jwt_parts_ok(value: str) -> bool:
    """JWT (JWS compact form): base64url JSON header with ``alg`` and a JSON object payload.
    Signed tokens have three parts; unsigned ones (``alg: none``) may end with an empty third
    part or have only two."""
    return _jwt_payload(value) is not None


def _jwt_payload(value: str) -> dict[str, object] | None:
    """The decoded payload of a token that passes :func:`jwt_parts_ok`, else None (one
    decode serves both JWT entries' checks)."""
    parts = value.split(".")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        return None
    try:
        header = json.loads(_b64url_decode(parts[0]))
        payload = json.loads(_b64url_decode(parts[1]))
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(header, dict) or not isinstance(payload, dict) or "alg" not in header:
        return None
    unsigned = str(header.get("alg", "")).lower() == "none"
    if len(parts) == 2 or not parts[2]:
        return payload if unsigned else None
    return payload if len(parts[2]) >= 8 else None


def _names_service_account(payload: dict[str, object]) -> bool:
    blob = json.dumps(payload)
    return "kubernetes.io" in blob or "system:serviceaccount:" in blob


def generic_jwt_ok(value: str) -> bool:
    """A JWT that is not a Kubernetes service-account token (that entry reports those)."""
    payload = _jwt_payload(value)
    return payload is not None and not _names_service_account(payload)


def k8s_service_account_jwt_ok(value: str) -> bool:
    """A JWT issued to a Kubernetes service account (its payload names one)."""
    payload = _jwt_payload(value)
    return payload is not None and _names_service_account(payload)


def basic_auth_ok(value: str) -> bool:
    """``Authorization: Basic`` credentials: base64 of printable ``user:password`` with a
    non-placeholder password."""
    token = value.rsplit(" ", 1)[-1]
    try:
        raw = base64.b64decode(token + "=" * (-len(token) % 4), validate=True).decode("utf-8")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return False
    user, sep, password = raw.partition(":")
    return bool(sep and user and raw.isprintable()) and password_ok(password)


_WEAK_PASSWORDS = frozenset(
    {
        "password", "passw0rd", "pass", "secret", "admin", "root", "user", "test", "guest",
        "default", "none", "null", "true", "false", "changeit", "letmein", "qwerty",
        "123456", "12345678", "hunter2", "mypassword", "yourpassword",
    }
)  # fmt: skip
if _native_checks is not None:  # the compiled password check refuses the same words
    _native_checks.configure_weak_passwords(sorted(_WEAK_PASSWORDS))


# A value shaped like a vendor token (lower-case prefix and separator, an upper-case
# ``NAME_`` prefix, a JWT, ...) belongs to that vendor's own entry, not to a generic one.
_VENDOR_TOKEN = re.compile(
    r"^(?:[a-z]{2,8}(?:_[a-z]{2,6})?[_-]|[A-Z][A-Z0-9]{1,9}_|eyJ|ATBB|ATATT|AKIA|ASIA|AIza"
    r"|ya29\.|EAA|SG\.)"
)


def vendor_shaped(value: str) -> bool:
    """True when ``value`` looks like a prefixed vendor token (10+ characters)."""
    if _native_checks is not None:
        return _native_checks.vendor_shaped(value)
    return len(value) >= 10 and _VENDOR_TOKEN.match(value) is not None


def password_value_ok(value: str) -> bool:
    """A labelled password (``password = ...``): :func:`password_ok`, and not a vendor token
    (which its own entry reports)."""
    if _native_checks is not None:
        return _native_checks.password_value_ok(value)
    v = value.strip().strip("'\"")
    return password_ok(v) and not vendor_shaped(v)


def bearer_token_ok(value: str) -> bool:
    """A bearer token of no known vendor: random-looking, not a JWT or prefixed token."""
    if _native_checks is not None:
        return _native_checks.bearer_token_ok(value)
    return mixed_token_ok(value) and not vendor_shaped(value)


def password_ok(value: str) -> bool:
    """A password value that looks real: 6-128 chars, not a template/placeholder, not a
    dictionary default, at least two character classes and some entropy."""
    if _native_checks is not None:
        return _native_checks.password_ok(value)
    v = value.strip().strip("'\"")
    if not 6 <= len(v) <= 128 or is_placeholder(v) or v.lower() in _WEAK_PASSWORDS:
        return False
    if v.startswith(("$", "%", "{", "<", "[", "(")) or v.endswith(("}", ">", ")")):
        return False
    classes = sum(
        (
            any(map(str.islower, v)),
            any(map(str.isupper, v)),
            any(map(str.isdigit, v)),
            not all(map(str.isalnum, v)),
        )
    )
    return classes >= 2 and entropy_at_least(v, 2.5)


def url_password_ok(value: str) -> bool:
    """``scheme://user:password@host``: the password part passes :func:`password_ok`."""
    if _native_checks is not None:
        return _native_checks.url_password_ok(value)
    rest = value.split("://", 1)[-1]
    creds = rest.rsplit("@", 1)[0]
    _, sep, password = creds.partition(":")
    return bool(sep) and password_ok(password)


def hex_key_ok(value: str) -> bool:
    """A hex secret: not a run or a placeholder, both letters and digits, some entropy.

    The entropy floor depends on the length: 20 random hex digits fall under 3.0 bits per
    character about 3% of the time (too few draws to show all 16 symbols evenly), under
    2.6 less than 0.1% of the time; from 32 digits on, 3.0 rejects about 0.01%.
    """
    if _native_checks is not None:
        return _native_checks.hex_key_ok(value)
    v = value.lower()
    return (
        not is_placeholder(v)
        and any(map(str.isdigit, v))
        and any(map(str.isalpha, v))
        and entropy_at_least(v, 3.0 if len(v) >= 32 else 2.6)
    )


def uuid_key_ok(value: str) -> bool:
    """A UUID used as a secret: version nibble 1-8 and the standard variant (the fourth
    group's first digit 8-b, as every UUID version sets it), not nil/max, some entropy."""
    if _native_checks is not None:
        return _native_checks.uuid_key_ok(value)
    v = value.lower()
    if len(v) != 36 or v.count("-") != 4 or v[14] not in "12345678" or v[19] not in "89ab":
        return False
    return hex_key_ok(v.replace("-", ""))


def mixed_token_ok(value: str) -> bool:
    """A random token body of mixed case and digits (no dictionary words)."""
    if _native_checks is not None:
        return _native_checks.mixed_token_ok(value)
    return (
        not is_placeholder(value)
        and any(map(str.isdigit, value))
        and any(map(str.isupper, value))
        and any(map(str.islower, value))
        and entropy_at_least(value, 3.0 if len(value) < 24 else 3.5)
    )


def cloudflare_token_ok(value: str) -> bool:
    """Cloudflare ``cfk_``/``cfut_``/``cfat_`` tokens: 40 random base62 characters, then an
    8-character lowercase hex checksum."""
    body = value.split("_", 1)[-1]
    if len(body) != 48:
        return False
    tail = body[40:]
    return all(c in "0123456789abcdef" for c in tail) and not is_placeholder(body[:40])


def private_key_block_ok(value: str) -> bool:
    """A private key block in any wrapping whose body starts with random-looking base64."""
    body = re.split(r"-----|\\n|[\r\n ]", value.strip())
    tail = max(body, key=len) if body else ""
    return len(tail) >= 24 and not is_placeholder(tail) and entropy_at_least(tail, 3.5)


def age_key_ok(value: str) -> bool:
    """age X25519 identity: ``AGE-SECRET-KEY-1`` + 58 bech32 characters with a valid
    bech32 checksum (HRP ``age-secret-key-``)."""
    if _native_checks is not None:
        return _native_checks.age_key_ok(value)
    v = value.lower()
    return v.startswith("age-secret-key-1") and _bech32_ok(v, (1,))


# --------------------------------------------------------------------------------------------
# Crypto addresses
# --------------------------------------------------------------------------------------------

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _bech32_ok(value: str, consts: tuple[int, ...]) -> bool:
    if _native_checks is not None:
        return _native_checks.bech32_ok(value, consts)
    hrp, sep, data = value.rpartition("1")
    if not sep or not hrp or len(data) < 6 or any(c not in _BECH32 for c in data):
        return False
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    values = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    values += [_BECH32.index(c) for c in data]
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            if (top >> i) & 1:
                chk ^= gen[i]
    return chk in consts


def bitcoin_address_ok(value: str) -> bool:
    """Bitcoin address: bech32/bech32m (``bc1``) with its checksum, or base58check legacy
    P2PKH (``1``) / P2SH (``3``): 25 bytes whose last 4 are the double-SHA-256 of the rest."""
    if not 14 <= len(value) <= 74:
        return False
    if value[:3].lower() == "bc1":
        v = value.lower()
        if value != v and value != value.upper():
            return False
        return 14 <= len(v) <= 74 and _bech32_ok(v, (1, 0x2BC830A3))
    n = 0
    for c in value:
        i = _B58.find(c)
        if i < 0:
            return False
        n = n * 58 + i
    try:
        raw = n.to_bytes(25, "big")
    except OverflowError:
        return False
    if raw[0] not in (0x00, 0x05) or (raw[0] == 0 and value[0] != "1"):
        return False
    digest = hashlib.sha256(hashlib.sha256(raw[:21]).digest()).digest()
    return digest[:4] == raw[21:]


_KECCAK_RC = (
    0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
    0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
    0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
    0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
    0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
    0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008,
)  # fmt: skip
_M64 = (1 << 64) - 1


def _keccak_f(lanes: list[int]) -> list[int]:
    """Keccak-f[1600] on 25 lanes (lane (x, y) at x + 5y): theta (c, d), rho and pi (b),
    chi and iota, unrolled over local variables (lists per step cost about twice as much)."""
    a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12 = lanes[:13]
    a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23, a24 = lanes[13:]
    m64 = _M64
    for rc in _KECCAK_RC:
        c0 = a0 ^ a5 ^ a10 ^ a15 ^ a20
        c1 = a1 ^ a6 ^ a11 ^ a16 ^ a21
        c2 = a2 ^ a7 ^ a12 ^ a17 ^ a22
        c3 = a3 ^ a8 ^ a13 ^ a18 ^ a23
        c4 = a4 ^ a9 ^ a14 ^ a19 ^ a24
        d0 = c4 ^ (((c1 << 1) | (c1 >> 63)) & m64)
        d1 = c0 ^ (((c2 << 1) | (c2 >> 63)) & m64)
        d2 = c1 ^ (((c3 << 1) | (c3 >> 63)) & m64)
        d3 = c2 ^ (((c4 << 1) | (c4 >> 63)) & m64)
        d4 = c3 ^ (((c0 << 1) | (c0 >> 63)) & m64)
        b0 = a0 ^ d0
        v = a5 ^ d0
        b16 = ((v << 36) | (v >> 28)) & m64
        v = a10 ^ d0
        b7 = ((v << 3) | (v >> 61)) & m64
        v = a15 ^ d0
        b23 = ((v << 41) | (v >> 23)) & m64
        v = a20 ^ d0
        b14 = ((v << 18) | (v >> 46)) & m64
        v = a1 ^ d1
        b10 = ((v << 1) | (v >> 63)) & m64
        v = a6 ^ d1
        b1 = ((v << 44) | (v >> 20)) & m64
        v = a11 ^ d1
        b17 = ((v << 10) | (v >> 54)) & m64
        v = a16 ^ d1
        b8 = ((v << 45) | (v >> 19)) & m64
        v = a21 ^ d1
        b24 = ((v << 2) | (v >> 62)) & m64
        v = a2 ^ d2
        b20 = ((v << 62) | (v >> 2)) & m64
        v = a7 ^ d2
        b11 = ((v << 6) | (v >> 58)) & m64
        v = a12 ^ d2
        b2 = ((v << 43) | (v >> 21)) & m64
        v = a17 ^ d2
        b18 = ((v << 15) | (v >> 49)) & m64
        v = a22 ^ d2
        b9 = ((v << 61) | (v >> 3)) & m64
        v = a3 ^ d3
        b5 = ((v << 28) | (v >> 36)) & m64
        v = a8 ^ d3
        b21 = ((v << 55) | (v >> 9)) & m64
        v = a13 ^ d3
        b12 = ((v << 25) | (v >> 39)) & m64
        v = a18 ^ d3
        b3 = ((v << 21) | (v >> 43)) & m64
        v = a23 ^ d3
        b19 = ((v << 56) | (v >> 8)) & m64
        v = a4 ^ d4
        b15 = ((v << 27) | (v >> 37)) & m64
        v = a9 ^ d4
        b6 = ((v << 20) | (v >> 44)) & m64
        v = a14 ^ d4
        b22 = ((v << 39) | (v >> 25)) & m64
        v = a19 ^ d4
        b13 = ((v << 8) | (v >> 56)) & m64
        v = a24 ^ d4
        b4 = ((v << 14) | (v >> 50)) & m64
        a0 = b0 ^ (~b1 & b2) ^ rc
        a1 = b1 ^ (~b2 & b3)
        a2 = b2 ^ (~b3 & b4)
        a3 = b3 ^ (~b4 & b0)
        a4 = b4 ^ (~b0 & b1)
        a5 = b5 ^ (~b6 & b7)
        a6 = b6 ^ (~b7 & b8)
        a7 = b7 ^ (~b8 & b9)
        a8 = b8 ^ (~b9 & b5)
        a9 = b9 ^ (~b5 & b6)
        a10 = b10 ^ (~b11 & b12)
        a11 = b11 ^ (~b12 & b13)
        a12 = b12 ^ (~b13 & b14)
        a13 = b13 ^ (~b14 & b10)
        a14 = b14 ^ (~b10 & b11)
        a15 = b15 ^ (~b16 & b17)
        a16 = b16 ^ (~b17 & b18)
        a17 = b17 ^ (~b18 & b19)
        a18 = b18 ^ (~b19 & b15)
        a19 = b19 ^ (~b15 & b16)
        a20 = b20 ^ (~b21 & b22)
        a21 = b21 ^ (~b22 & b23)
        a22 = b22 ^ (~b23 & b24)
        a23 = b23 ^ (~b24 & b20)
        a24 = b24 ^ (~b20 & b21)
    low = [a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12]
    return [*low, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23, a24]


def keccak256(data: bytes) -> bytes:
    """Keccak-256 as Ethereum uses it (original padding 0x01, not SHA3's 0x06)."""
    if _native_checks is not None:
        return _native_checks.keccak256(data)
    rate = 136
    msg = bytearray(data) + b"\x01"
    msg += b"\x00" * (-len(msg) % rate)
    msg[-1] |= 0x80
    a = [0] * 25
    for off in range(0, len(msg), rate):
        for i in range(rate // 8):
            a[i] ^= int.from_bytes(msg[off + 8 * i : off + 8 * i + 8], "little")
        a = _keccak_f(a)
    return b"".join(a[i].to_bytes(8, "little") for i in range(4))


def ethereum_address_ok(value: str) -> bool:
    """``0x`` + 40 hex. Mixed case must carry a valid EIP-55 checksum (Keccak-256 of the
    lowercase address decides each letter's case); single-case addresses have none, so they
    are accepted when random-looking (the entry needs context)."""
    if _native_checks is not None:
        return _native_checks.ethereum_address_ok(value)
    body = value[2:]
    if len(body) != 40 or any(c not in "0123456789abcdefABCDEF" for c in body):
        return False
    if body in (body.lower(), body.upper()):
        return hex_key_ok(body)
    digest = keccak256(body.lower().encode()).hex()
    return all(
        (c.upper() if int(h, 16) >= 8 else c.lower()) == c
        for c, h in zip(body, digest, strict=False)
        if c.isalpha()
    )


# --------------------------------------------------------------------------------------------
# National identifiers (check digits per the issuing authority's published rule)
# --------------------------------------------------------------------------------------------

_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def es_dni_ok(value: str) -> bool:
    """Spain DNI/NIF: 8 digits and the letter ``TRWAGMYFPDXBNJZSQVHLCKE``[n mod 23]."""
    v = _alnum(value).upper()
    return len(v) == 9 and v[:8].isdigit() and _DNI_LETTERS[int(v[:8]) % 23] == v[8]


def es_nie_ok(value: str) -> bool:
    """Spain NIE: X/Y/Z (read as 0/1/2), 7 digits, the DNI check letter."""
    v = _alnum(value).upper()
    if len(v) != 9 or v[0] not in "XYZ" or not v[1:8].isdigit():
        return False
    return _DNI_LETTERS[int(str("XYZ".index(v[0])) + v[1:8]) % 23] == v[8]


_CF_ODD = dict(
    zip(
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        (1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20,
         11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23),
        strict=True,
    )
)  # fmt: skip


def it_codice_fiscale_ok(value: str) -> bool:
    """Italy codice fiscale: 16 characters; the last is the letter of (sum of the odd
    positions through the published table + the even positions as 0-9 / A-Z = 0-25) mod 26;
    the month letter is one of ABCDEHLMPRST."""
    v = value.upper()
    if len(v) != 16 or not v.isalnum() or v[8] not in "ABCDEHLMPRST":
        return False
    total = 0
    for i, c in enumerate(v[:15]):
        if i % 2 == 0:
            total += _CF_ODD[c]
        else:
            total += int(c) if c.isdigit() else ord(c) - 65
    return chr(65 + total % 26) == v[15]


def de_tax_id_ok(value: str) -> bool:
    """Germany Steuerliche Identifikationsnummer: 11 digits, no leading 0, one digit of the
    first ten repeated (2 or 3 times), ISO 7064 MOD 11,10 check digit."""
    d = _digits(value)
    if len(d) != 11 or d[0] == "0":
        return False
    counts = sorted((d[:10].count(c) for c in set(d[:10])), reverse=True)
    if counts[0] not in (2, 3) or (len(counts) > 1 and counts[1] > 1):
        return False
    return _iso7064_mod11_10(d[:10]) == int(d[10])


def fr_nir_ok(value: str) -> bool:
    """France NIR (sécurité sociale): sex 1/2, year, month 01-12 (or 20-42, 50-99 for unknown),
    department (2A/2B for Corsica), commune, order, and key = 97 - (first 13 mod 97)."""
    v = _alnum(value).upper()
    if len(v) != 15 or v[0] not in "1278":
        return False
    body = v[:13].replace("2A", "19", 1) if v[5:7] == "2A" else v[:13]
    body = body.replace("2B", "18", 1) if v[5:7] == "2B" else body
    if not body.isdigit() or not v[13:].isdigit():
        return False
    month = int(v[3:5])
    if not (1 <= month <= 12 or 20 <= month <= 42 or 50 <= month <= 99):
        return False
    return 97 - int(body) % 97 == int(v[13:])


def nl_bsn_ok(value: str) -> bool:
    """Netherlands BSN: 9 digits, 11-proef (weights 9..2 and -1, sum divisible by 11)."""
    d = _digits(value)
    if len(d) != 9 or len(set(d)) == 1:
        return False
    return (_weighted(d, (9, 8, 7, 6, 5, 4, 3, 2)) - int(d[8])) % 11 == 0


def pl_pesel_ok(value: str) -> bool:
    """Poland PESEL: 11 digits, a real birth date (century in the month), weights
    1,3,7,9,... check digit."""
    d = _digits(value)
    if len(d) != 11:
        return False
    yy, mm, dd = int(d[:2]), int(d[2:4]), int(d[4:6])
    century = {0: 1900, 1: 2000, 2: 2100, 3: 2200, 4: 1800}.get(mm // 20)
    if century is None or not _valid_date(century + yy, mm % 20, dd):
        return False
    return (10 - _weighted(d, (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)) % 10) % 10 == int(d[10])


def se_personnummer_ok(value: str) -> bool:
    """Sweden personnummer / samordningsnummer: (YY)YYMMDD-NNNC (``+`` past 100 years), a real
    date (day + 60 for coordination numbers), Luhn over the last 10 digits."""
    d = _digits(value)
    if len(d) == 12:
        d = d[2:]
    if len(d) != 10:
        return False
    mm, dd = int(d[2:4]), int(d[4:6])
    if dd > 60:
        dd -= 60
    return _valid_date(2000, mm, dd) and luhn_digits_ok(d)


_HETU_CHECK = "0123456789ABCDEFHJKLMNPRSTUVWXY"


def fi_hetu_ok(value: str) -> bool:
    """Finland henkilötunnus: DDMMYY, century sign (+, -, U-Y, A-F), NNN, check character
    ``0-9A-Y`` (no G I O Q Z) indexed by DDMMYYNNN mod 31."""
    v = value.upper()
    if len(v) != 11 or v[6] not in "+-UVWXYABCDEF" or not (v[:6] + v[7:10]).isdigit():
        return False
    if not _valid_date(2000, int(v[2:4]), int(v[:2])) or int(v[7:10]) < 2:
        return False
    return _HETU_CHECK[int(v[:6] + v[7:10]) % 31] == v[10]


_VERHOEFF_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6), (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8), (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2), (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4), (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)  # fmt: skip
_VERHOEFF_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2), (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 8, 7, 0, 6), (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5), (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)  # fmt: skip


def verhoeff_ok(digits: str) -> bool:
    """Verhoeff dihedral-group checksum over ``digits`` (check digit included)."""
    c = 0
    for i, ch in enumerate(reversed(digits)):
        c = _VERHOEFF_D[c][_VERHOEFF_P[i % 8][int(ch)]]
    return c == 0


def in_aadhaar_ok(value: str) -> bool:
    """India Aadhaar: 12 digits (4-4-4 when grouped), first digit 2-9, Verhoeff check."""
    d = _digits(value)
    return len(d) == 12 and d[0] not in "01" and len(set(d)) > 2 and verhoeff_ok(d)


def in_pan_ok(value: str) -> bool:
    """India PAN: AAAAA9999A with the 4th letter a holder type (C P H F A T B L J G)."""
    v = value.upper()
    return (
        len(v) == 10
        and v[:5].isalpha()
        and v[5:9].isdigit()
        and v[9].isalpha()
        and v[3] in "CPHFATBLJG"
        and len(set(v[5:9])) > 1
    )


def br_cpf_ok(value: str) -> bool:
    """Brazil CPF: 11 digits (000.000.000-00), two mod-11 check digits."""
    d = _digits(value)
    if len(d) != 11 or len(set(d)) == 1:
        return False
    for n in (9, 10):
        check = _weighted(d[:n], range(n + 1, 1, -1)) * 10 % 11 % 10
        if check != int(d[n]):
            return False
    return True


def br_cnpj_ok(value: str) -> bool:
    """Brazil CNPJ: 14 digits (00.000.000/0000-00), two mod-11 check digits."""
    d = _digits(value)
    if len(d) != 14 or len(set(d)) == 1:
        return False
    for n, weights in (
        (12, (5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)),
        (13, (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)),
    ):
        r = _weighted(d[:n], weights) % 11
        if (0 if r < 2 else 11 - r) != int(d[n]):
            return False
    return True


def sg_nric_ok(value: str) -> bool:
    """Singapore NRIC/FIN: S/T/F/G + 7 digits + check letter (weights 2,7,6,5,4,3,2; T/G add
    4; S/T letters JZIHGFEDCBA, F/G letters XWUTRQPNMLK)."""
    v = value.upper()
    if len(v) != 9 or v[0] not in "STFG" or not v[1:8].isdigit():
        return False
    total = _weighted(v[1:8], (2, 7, 6, 5, 4, 3, 2)) + (4 if v[0] in "TG" else 0)
    table = "JZIHGFEDCBA" if v[0] in "ST" else "XWUTRQPNMLK"
    return table[total % 11] == v[8]


def au_medicare_ok(value: str) -> bool:
    """Australia Medicare card: 10 digits (+ optional issue digit), first digit 2-6,
    check digit = weights 1,3,7,9,1,3,7,9 over the first 8 mod 10."""
    d = _digits(value)
    if len(d) not in (10, 11) or d[0] not in "23456":
        return False
    return _weighted(d[:8], (1, 3, 7, 9, 1, 3, 7, 9)) % 10 == int(d[8])


def au_abn_ok(value: str) -> bool:
    """Australian Business Number: 11 digits; subtract 1 from the first, weights
    10,1,3,5,...,19, the sum divisible by 89."""
    d = _digits(value)
    if len(d) != 11 or d[0] == "0":
        return False
    first = int(d[0]) - 1
    return (first * 10 + _weighted(d[1:], (1, 3, 5, 7, 9, 11, 13, 15, 17, 19))) % 89 == 0


def au_acn_ok(value: str) -> bool:
    """Australian Company Number: 9 digits, weights 8..1 over the first 8, complement mod 10."""
    d = _digits(value)
    if len(d) != 9 or len(set(d)) == 1:
        return False
    return (10 - _weighted(d[:8], (8, 7, 6, 5, 4, 3, 2, 1)) % 10) % 10 == int(d[8])


def mx_clabe_ok(value: str) -> bool:
    """Mexico CLABE: 18 digits, weights 3,7,1 (products mod 10), complement mod 10."""
    d = _digits(value)
    if len(d) != 18 or len(set(d)) == 1:
        return False
    total = sum(int(c) * w % 10 for c, w in zip(d[:17], (3, 7, 1) * 6, strict=False))
    return (10 - total % 10) % 10 == int(d[17])


def hk_hkid_ok(value: str) -> bool:
    """Hong Kong identity card: 1-2 letters, 6 digits, check (0-9 or A) in parentheses;
    weights 9..2 with a blank first letter counted as 36, check = 11 - sum mod 11."""
    v = value.upper().replace("(", "").replace(")", "")
    head = v[:-7]
    if len(head) not in (1, 2) or not head.isalpha() or not v[-7:-1].isdigit():
        return False
    head = head.rjust(2, " ")
    vals = [36 if c == " " else ord(c) - 55 for c in head] + [int(c) for c in v[-7:-1]]
    r = 11 - sum(x * w for x, w in zip(vals, range(9, 1, -1), strict=True)) % 11
    check = {10: "A", 11: "0"}.get(r, str(r))
    return check == v[-1]


_TW_CODES = dict(zip("ABCDEFGHJKLMNPQRSTUVXYWZIO", range(10, 36), strict=True))


def tw_national_id_ok(value: str) -> bool:
    """Taiwan national ID: letter (area code 10-35), 1/2 (sex), 8 digits; weighted sum
    (1, 9, 8..1, 1) divisible by 10."""
    v = value.upper()
    if len(v) != 10 or v[0] not in _TW_CODES or v[1] not in "12" or not v[1:].isdigit():
        return False
    n = _TW_CODES[v[0]]
    total = n // 10 + (n % 10) * 9 + _weighted(v[1:9], (8, 7, 6, 5, 4, 3, 2, 1)) + int(v[9])
    return total % 10 == 0


def kr_rrn_ok(value: str) -> bool:
    """South Korea resident registration number: YYMMDD-SNNNNNC, a real date, sex/century
    digit 1-8, check = (11 - weighted sum mod 11) mod 10 with weights 2..9,2..5."""
    d = _digits(value)
    if len(d) != 13 or d[6] not in "12345678":
        return False
    if not _valid_date(2000, int(d[2:4]), int(d[4:6])):
        return False
    total = _weighted(d[:12], (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5))
    return (11 - total % 11) % 10 == int(d[12])


def cn_resident_id_ok(value: str) -> bool:
    """China resident identity card: 17 digits (area, YYYYMMDD birth date, order) and an
    ISO 7064 MOD 11-2 check character (0-9 or X)."""
    v = value.upper()
    if len(v) != 18 or not v[:17].isdigit() or not (v[17].isdigit() or v[17] == "X"):
        return False
    if not _valid_date(int(v[6:10]), int(v[10:12]), int(v[12:14])) or int(v[6:8]) not in (
        18,
        19,
        20,
    ):
        return False
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return "10X98765432"[_weighted(v[:17], weights) % 11] == v[17]


def th_national_id_ok(value: str) -> bool:
    """Thailand national ID: 13 digits, first 1-8, weights 13..2, (11 - sum mod 11) mod 10."""
    d = _digits(value)
    if len(d) != 13 or d[0] in "09":
        return False
    return (11 - _weighted(d[:12], range(13, 1, -1)) % 11) % 10 == int(d[12])


def za_id_ok(value: str) -> bool:
    """South Africa ID: YYMMDD SSSS C A Z (13 digits), a real date, citizenship 0-2, Luhn."""
    d = _digits(value)
    if len(d) != 13 or d[10] not in "012":
        return False
    return _valid_date(2000, int(d[2:4]), int(d[4:6])) and luhn_digits_ok(d)


def cl_rut_ok(value: str) -> bool:
    """Chile RUT/RUN: 7-8 digit body and a check character (0-9 or K) from weights 2..7
    (cycling from the right), 11 - sum mod 11 (11 -> 0, 10 -> K)."""
    v = value.upper().replace(".", "").replace("-", "")
    body, check = v[:-1], v[-1:]
    if not 7 <= len(body) <= 8 or not body.isdigit():
        return False
    total = sum(int(c) * (2 + i % 6) for i, c in enumerate(reversed(body)))
    r = 11 - total % 11
    return {11: "0", 10: "K"}.get(r, str(r)) == check


def dk_cpr_ok(value: str) -> bool:
    """Denmark CPR: DDMMYY-SSSS with a real date (the mod-11 rule was dropped in 2007)."""
    d = _digits(value)
    return len(d) == 10 and _valid_date(2000, int(d[2:4]), int(d[:2])) and len(set(d[6:])) > 1


def no_fodselsnummer_ok(value: str) -> bool:
    """Norway fødselsnummer: DDMMYY + 5 digits, two mod-11 check digits (weights
    3,7,6,1,8,9,4,5,2 and 5,4,3,2,7,6,5,4,3,2); D-numbers add 4 to the first digit."""
    d = _digits(value)
    if len(d) != 11:
        return False
    day = int(d[:2]) - (40 if d[0] in "4567" else 0)
    if not _valid_date(2000, int(d[2:4]), day):
        return False
    for n, weights in ((9, (3, 7, 6, 1, 8, 9, 4, 5, 2)), (10, (5, 4, 3, 2, 7, 6, 5, 4, 3, 2))):
        k = 11 - _weighted(d[:n], weights) % 11
        k = 0 if k == 11 else k
        if k == 10 or k != int(d[n]):
            return False
    return True


def be_national_number_ok(value: str) -> bool:
    """Belgium national number: YYMMDD SSS CC, CC = 97 - (first 9 mod 97), with a ``2``
    prepended for births from 2000."""
    d = _digits(value)
    if len(d) != 11:
        return False
    check = int(d[9:])
    return check in (97 - int(d[:9]) % 97, 97 - int("2" + d[:9]) % 97)


def pt_nif_ok(value: str) -> bool:
    """Portugal NIF: 9 digits, first 1-3, 5, 6, 8 or 9; weights 9..2, check 0 if the
    remainder mod 11 is below 2, else 11 - remainder."""
    d = _digits(value)
    if len(d) != 9 or d[0] not in "1235689":
        return False
    r = _weighted(d[:8], range(9, 1, -1)) % 11
    return (0 if r < 2 else 11 - r) == int(d[8])


def ie_pps_ok(value: str) -> bool:
    """Ireland PPS number: 7 digits, a check letter and an optional second letter (A, B, H
    or W); weights 8..2 plus 9 x the second letter, ``WABCDEFGHIJKLMNOPQRSTUV``[sum mod 23]."""
    v = value.upper()
    if len(v) not in (8, 9) or not v[:7].isdigit() or not v[7:].isalpha():
        return False
    extra = (ord(v[8]) - 64) * 9 if len(v) == 9 and v[8] != "W" else 0
    total = _weighted(v[:7], range(8, 1, -1)) + extra
    return "WABCDEFGHIJKLMNOPQRSTUV"[total % 23] == v[7]


def nz_ird_ok(value: str) -> bool:
    """New Zealand IRD number: 8-9 digits in 10,000,000-150,000,000; mod-11 with weights
    3,2,7,6,5,4,3,2, falling back to 7,4,3,2,5,2,7,6 when the first gives 10."""
    d = _digits(value).rjust(9, "0")
    if len(d) != 9 or not 10_000_000 <= int(d) <= 150_000_000:
        return False
    for weights in ((3, 2, 7, 6, 5, 4, 3, 2), (7, 4, 3, 2, 5, 2, 7, 6)):
        r = _weighted(d[:8], weights) % 11
        check = 0 if r == 0 else 11 - r
        if check != 10:
            return check == int(d[8])
    return False


def jp_my_number_ok(value: str) -> bool:
    """Japan My Number (individual): 12 digits; weights 6..2,7..2 over the first 11,
    check 0 when the remainder mod 11 is 0 or 1, else 11 - remainder."""
    d = _digits(value)
    if len(d) != 12 or len(set(d)) == 1:
        return False
    r = _weighted(d[:11], (6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2)) % 11
    return (0 if r <= 1 else 11 - r) == int(d[11])


def hr_oib_ok(value: str) -> bool:
    """Croatia OIB: 11 digits, ISO 7064 MOD 11,10 check digit."""
    d = _digits(value)
    return len(d) == 11 and len(set(d)) > 1 and _iso7064_mod11_10(d[:10]) == int(d[10])


def bg_egn_ok(value: str) -> bool:
    """Bulgaria EGN: YYMMDD (month +20 for 1800s, +40 for 2000s) + 3 digits + check;
    weights 2,4,8,5,10,9,7,3,6, remainder mod 11 (10 -> 0)."""
    d = _digits(value)
    if len(d) != 10:
        return False
    mm = int(d[2:4]) % 20
    if not _valid_date(2000, mm or 13, int(d[4:6])):
        return False
    r = _weighted(d[:9], (2, 4, 8, 5, 10, 9, 7, 3, 6)) % 11
    return (0 if r == 10 else r) == int(d[9])


_EIN_BAD_PREFIXES = frozenset({0, 7, 8, 9, 17, 18, 19, 28, 29, 49, 69, 70, 78, 79, 89, 96, 97})


def us_ein_ok(value: str) -> bool:
    """US Employer Identification Number: NN-NNNNNNN with an IRS-assigned prefix."""
    d = _digits(value)
    return len(d) == 9 and int(d[:2]) not in _EIN_BAD_PREFIXES and len(set(d[2:])) > 1


def us_npi_ok(value: str) -> bool:
    """US National Provider Identifier: 10 digits starting 1 or 2, Luhn over ``80840`` +
    the number."""
    d = _digits(value)
    return len(d) == 10 and d[0] in "12" and luhn_digits_ok("80840" + d)


def us_dea_ok(value: str) -> bool:
    """US DEA registration number: registrant-type letter, a letter (or 9), 7 digits;
    (d1+d3+d5) + 2(d2+d4+d6) ends in d7."""
    v = value.upper()
    if len(v) != 9 or v[0] not in "ABCDEFGHJKLMPRSTUX" or not v[2:].isdigit():
        return False
    if not (v[1].isalpha() or v[1] == "9"):
        return False
    d = [int(c) for c in v[2:]]
    return (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10 == d[6]


def fr_siren_ok(value: str) -> bool:
    """France SIREN (9 digits) or SIRET (14 digits): Luhn."""
    d = _digits(value)
    return len(d) in (9, 14) and len(set(d)) > 2 and luhn_digits_ok(d)


def uk_passport_ok(value: str) -> bool:
    """UK passport number: 9 digits, not a run or sequence."""
    d = _digits(value)
    return len(d) == 9 and len(set(d)) > 3 and d not in "01234567890123456789"


def account_number_ok(value: str) -> bool:
    """A bank account number in context: 8-17 digits, not a run, not a counting sequence."""
    d = _digits(value)
    return 6 <= len(d) <= 17 and len(set(d)) > 2 and d not in "0123456789012345678901234567890"


def drivers_license_ok(value: str) -> bool:
    """A US driver's licence number in context: at most 2 letters, 6-13 digits, not a run."""
    d = _digits(value)
    letters = sum(c.isalpha() for c in value)
    return 6 <= len(d) <= 13 and letters <= 2 and len(set(d)) > 2


def cvv_ok(value: str) -> bool:
    """Card verification code in context: 3-4 digits, not 000/0000."""
    return value.isdigit() and len(value) in (3, 4) and int(value) != 0


def e164_phone_ok(value: str) -> bool:
    """E.164 international number: ``+``, country code 1-9.., 8-15 digits in total, not a
    run; North American numbers must follow the NANP (area and exchange 2-9)."""
    d = _digits(value)
    if not 8 <= len(d) <= 15 or len(set(d)) <= 2:
        return False
    if d[0] == "1":
        return len(d) == 11 and d[1] not in "01" and d[4] not in "01"
    return d[0] != "0"


CHECKS: dict[str, Callable[[str], bool]] = {
    "base62_crc32": base62_crc32_ok,
    "pypi_macaroon": pypi_macaroon_ok,
    "jwt": generic_jwt_ok,
    "password_value": password_value_ok,
    "bearer_token": bearer_token_ok,
    "k8s_sa_jwt": k8s_service_account_jwt_ok,
    "basic_auth": basic_auth_ok,
    "password": password_ok,
    "url_password": url_password_ok,
    "hex_key": hex_key_ok,
    "uuid_key": uuid_key_ok,
    "mixed_token": mixed_token_ok,
    "cloudflare_token": cloudflare_token_ok,
    "private_key_block": private_key_block_ok,
    "age_key": age_key_ok,
    "bitcoin_address": bitcoin_address_ok,
    "ethereum_address": ethereum_address_ok,
    "es_dni": es_dni_ok,
    "es_nie": es_nie_ok,
    "it_codice_fiscale": it_codice_fiscale_ok,
    "de_tax_id": de_tax_id_ok,
    "fr_nir": fr_nir_ok,
    "nl_bsn": nl_bsn_ok,
    "pl_pesel": pl_pesel_ok,
    "se_personnummer": se_personnummer_ok,
    "fi_hetu": fi_hetu_ok,
    "in_aadhaar": in_aadhaar_ok,
    "in_pan": in_pan_ok,
    "br_cpf": br_cpf_ok,
    "br_cnpj": br_cnpj_ok,
    "sg_nric": sg_nric_ok,
    "au_medicare": au_medicare_ok,
    "au_abn": au_abn_ok,
    "au_acn": au_acn_ok,
    "mx_clabe": mx_clabe_ok,
    "hk_hkid": hk_hkid_ok,
    "tw_national_id": tw_national_id_ok,
    "kr_rrn": kr_rrn_ok,
    "cn_resident_id": cn_resident_id_ok,
    "th_national_id": th_national_id_ok,
    "za_id": za_id_ok,
    "cl_rut": cl_rut_ok,
    "dk_cpr": dk_cpr_ok,
    "no_fodselsnummer": no_fodselsnummer_ok,
    "be_national_number": be_national_number_ok,
    "pt_nif": pt_nif_ok,
    "ie_pps": ie_pps_ok,
    "nz_ird": nz_ird_ok,
    "jp_my_number": jp_my_number_ok,
    "hr_oib": hr_oib_ok,
    "bg_egn": bg_egn_ok,
    "us_ein": us_ein_ok,
    "us_npi": us_npi_ok,
    "us_dea": us_dea_ok,
    "fr_siren": fr_siren_ok,
    "uk_passport": uk_passport_ok,
    "account_number": account_number_ok,
    "drivers_license": drivers_license_ok,
    "cvv": cvv_ok,
    "e164_phone": e164_phone_ok,
}
