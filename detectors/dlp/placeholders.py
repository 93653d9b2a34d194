"""Values shaped like a secret that are not one, and the randomness measure.

Placeholders (templates, masks, documentation words), published test values (network test
cards, documentation keys) and Shannon entropy: shared by ``validators`` and ``checks``.
Pure functions; they never raise on odd input and never log the value.

Where the optional C accelerator ``_native_checks`` is built, each function here hands its
value to the compiled version of itself, which gives the same answer for every ``str``; the
Python below is the reference and the fallback (tests compare the two).
"""

from __future__ import annotations

import math
import re

try:
    from detectors.dlp import _native_checks
except ImportError:  # pragma: no cover - built wherever a C compiler was at install
    _native_checks = None  # type: ignore[assignment]

try:  # the C counting loop behind collections.Counter, without Counter's set-up per call
    from _collections import _count_elements
except ImportError:  # pragma: no cover - CPython always has it
    from collections import _count_elements  # type: ignore[attr-defined]

__all__ = [
    "KNOWN_TEST_VALUES",
    "entropy_at_least",
    "is_placeholder",
    "is_test_value",
    "shannon_entropy",
]


# n -> [c / n * log2(c / n) for c in 0..n], for the lengths most values have
_PLOGP_MAX_N = 256
_PLOGP: dict[int, list[float]] = {}


def _plogp(n: int) -> list[float]:
    table = _PLOGP.get(n)
    if table is None:
        table = [0.0] + [c / n * math.log2(c / n) for c in range(1, n + 1)]
        _PLOGP[n] = table
    return table


def shannon_entropy(value: str) -> float:
    """Bits per character of ``value`` (0.0 for the empty string)."""
    if _native_checks is not None:
        return _native_checks.shannon_entropy(value)
    if not value:
        return 0.0
    n = len(value)
    # one C pass counts every character (a count per distinct character rescans the value
    # once each); summed in first-occurrence order, which unlike a set's does not depend on
    # the process's hash seed. The dict is filled by Counter's own C loop: a Counter costs
    # as much again in its set-up (an ABC check of the argument) for a short value.
    tally: dict[str, int] = {}
    _count_elements(tally, value)
    counts = tally.values()
    if n <= _PLOGP_MAX_N:  # the terms from a per-length table
        return -sum(map(_plogp(n).__getitem__, counts))
    return -sum(c / n * math.log2(c / n) for c in counts)


# n, d -> the least entropy of n characters of which d are distinct: one character n - d + 1
# times, each other once (entropy is Schur-concave, so this spread has the least)
_LEAST_ENTROPY: dict[tuple[int, int], float] = {}
# verdicts this close to the threshold are left to the exact sum
_MARGIN = 1e-9


def _least_entropy(n: int, d: int) -> float:
    key = (n, d)
    least = _LEAST_ENTROPY.get(key)
    if least is None:
        top = (n - d + 1) / n
        least = -(top * math.log2(top)) + (d - 1) / n * math.log2(n)
        if len(_LEAST_ENTROPY) < 65536:
            _LEAST_ENTROPY[key] = least
    return least


def entropy_at_least(value: str, bits: float) -> bool:
    """``shannon_entropy(value) >= bits``, mostly without counting: the number of distinct
    characters bounds the entropy from above (log2 of it) and from below (the least spread
    with that many), and only a value whose bounds straddle ``bits`` is counted."""
    if _native_checks is not None:
        return _native_checks.entropy_at_least(value, bits)
    if not value:
        return bits <= 0.0
    distinct = len(set(value))
    if math.log2(distinct) < bits - _MARGIN:
        return False
    if _least_entropy(len(value), distinct) >= bits + _MARGIN:
        return True
    return shannon_entropy(value) >= bits


_PLACEHOLDER_WORDS = (
    "changeme",
    "change_me",
    "example",
    "placeholder",
    "your_",
    "your-",
    "yourkey",
    "insert",
    "redacted",
    "dummy",
    "sample",
    "xxxx",
    "****",
    "....",
    "0000000000",
    "1234567890",
    "abcdefghij",
)
# one character repeated 8 times (a repeat of 8 or more contains one)
_REPEAT_RE = re.compile(r"(.)\1\1\1\1\1\1\1")
# templates: ${X}, {{x}}, <x>, %(x)s, $VAR; each needs one of these characters
_TEMPLATE_RE = re.compile(r"\$\{[^}]*\}|\{\{[^}]*\}\}|<[^>]*>|%\(\w+\)[sd]|\$[A-Z_]{3,}")

# Publicly documented test / example values. Matching them is noise, not a leak.
KNOWN_TEST_VALUES = frozenset(
    {
        # AWS documentation keys
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "AKIAI44QH8DHBEXAMPLE",
        "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
        # Stripe's documentation test-mode key
        "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
        # Payment-network test cards (Stripe / Visa / Mastercard / Amex docs)
        "4111111111111111",
        "4242424242424242",
        "4012888888881881",
        "4000056655665556",
        "4222222222222",
        "5555555555554444",
        "5105105105105100",
        "5200828282828210",
        "2223003122003222",
        "378282246310005",
        "371449635398431",
        "378734493671000",
        "6011111111111117",
        "6011000990139424",
        "30569309025904",
        "38520000023237",
        "3566002020360505",
        "6200000000000005",
        "6221260000000000",
        # Example IBANs used in standards and bank docs
        "DE89370400440532013000",
        "GB82WEST12345698765432",
        "GB29NWBK60161331926819",
        "FR1420041010050500013M02606",
        # SSNs that were published (Woolworth wallet card, advertising) or are obvious examples
        "078051120",
        "219099999",
        "123456789",
        "457555462",
        # UK NINO documentation example
        "AB123456C",
        "QQ123456C",
    }
)


# printed forms add at most one separator per 2 characters
_LONGEST_TEST_VALUE = 2 * max(len(v) for v in KNOWN_TEST_VALUES)


def is_placeholder(value: str) -> bool:
    """True for values that are evidently not real: templates, masks, docs examples.

    Checks ``${VAR}``, ``{{var}}``, ``<your-key>``, ``%(name)s``, ``$VAR``, runs of one
    repeated character, words such as ``changeme`` / ``example`` / ``xxxx`` and the published
    values a generator never produces. Published test values are :func:`is_test_value`.
    """
    if _native_checks is not None:
        return _native_checks.is_placeholder(value)
    if not value:
        return True
    if is_test_value(value):
        return False  # real-looking published values: the profile decides (include_test_values)
    low = value.lower()
    for word in _PLACEHOLDER_WORDS:  # substring tests: cheaper than one alternation regex
        if word in low:
            return True
    if _REPEAT_RE.search(value) is not None:
        return True
    if "$" in value or "{" in value or "<" in value or "%" in value:
        return _TEMPLATE_RE.search(value) is not None
    return False


def is_test_value(value: str) -> bool:
    """True for a published test or documentation value (network test cards, documentation
    keys, example IBANs/SSNs): real-looking, but public. Compared with separators removed.

    Profiles skip these unless they were saved with ``include_test_values``."""
    if _native_checks is not None:
        return _native_checks.is_test_value(value)
    if len(value) > _LONGEST_TEST_VALUE:
        return False
    if value in KNOWN_TEST_VALUES:
        return True
    if " " in value or "-" in value or "." in value:  # else it is its own compact form
        return value.replace(" ", "").replace("-", "").replace(".", "") in KNOWN_TEST_VALUES
    return False


if _native_checks is not None:  # the compiled checks compare against the same values
    _native_checks.configure(sorted(KNOWN_TEST_VALUES), _PLACEHOLDER_WORDS, _LONGEST_TEST_VALUE)
