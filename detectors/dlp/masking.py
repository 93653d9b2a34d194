"""Masking of matched values: the only form in which DLP content leaves the matcher.

A masked excerpt lets a human recognise *which* key or card it was (brand prefix, last few
characters) without being able to use it. Rules: at most about a third of the characters are
kept and never more than 4 trailing ones; short values keep only their last characters.
"""

from __future__ import annotations

import re

try:
    from detectors.dlp import _native_checks
except ImportError:  # pragma: no cover - built wherever a C compiler was at install
    _native_checks = None  # type: ignore[assignment]

__all__ = ["mask_value"]

ELLIPSIS = "\u2026"
_PREFIX_RE = re.compile(r"^[a-z]{1,8}(?:[-_][a-z]{1,8}){0,2}[-_]")


def _mask_card(value: str) -> str:
    digits = [c for c in value if c.isdigit()]
    n = len(digits)
    last = "".join(digits[-4:])
    first = "".join(digits[:4])
    middle = n - 8
    stars = ["*" * 4] * (middle // 4) + (["*" * (middle % 4)] if middle % 4 else [])
    return " ".join([first, *stars, last])


def _mask_digits(value: str) -> str:
    """Keep separators and the last 4 digits: ``***-**-6789``."""
    if _native_checks is not None:
        return _native_checks.mask_digits(value)
    total = sum(c.isdigit() for c in value)
    keep_from = total - 4 if total > 6 else total - 2
    out, seen = [], 0
    for c in value:
        if c.isdigit():
            out.append(c if seen >= keep_from else "*")
            seen += 1
        else:
            out.append(c)
    return "".join(out)


def _mask_iban(value: str) -> str:
    compact = "".join(value.split())
    return f"{compact[:2]}** {ELLIPSIS} {compact[-4:]}"


def _mask_email(value: str) -> str:
    local, _, domain = value.rpartition("@")
    host, _, tld = domain.rpartition(".")
    return f"{local[:1]}***@{host[:1]}***.{tld}"


def _mask_pem(value: str) -> str:
    header = value.split("-----", 2)
    label = header[1] if len(header) > 2 else "PRIVATE KEY"
    return f"-----{label}----- {ELLIPSIS}"


def _mask_secret(value: str, prefix: int) -> str:
    if _native_checks is not None:  # the same text, compiled
        return _native_checks.mask_secret(value, prefix)
    n = len(value)
    if prefix <= 0:
        m = _PREFIX_RE.match(value)
        prefix = len(m.group(0)) if m else 0
    prefix = min(prefix, n // 3)
    if n >= 24:
        suffix = 3
    elif n >= 12:
        suffix = 2
    else:
        suffix = 0
        prefix = min(prefix, 2)
    return f"{value[:prefix]}{ELLIPSIS}{value[n - suffix :] if suffix else ''}"


def _mask_generic(value: str) -> str:
    n = len(value)
    if n <= 4:
        return "*" * n
    keep = 2 if n >= 10 else 1
    return f"{value[:keep]}{'*' * min(n - 2 * keep, 8)}{value[-keep:]}"


def mask_value(value: str, style: str = "secret", prefix: int = 0) -> str:
    """Mask ``value`` in the given ``style``.

    Styles: ``card`` (``4111 **** **** 1111``), ``digits`` (``***-**-6789``), ``iban``,
    ``email`` (``j***@e***.com``), ``pem`` (header line only), ``secret`` (known lowercase
    prefix such as ``sk-proj-`` or ``prefix`` chars, then ``…`` and the last 2-3 chars),
    ``generic``.
    """
    if style == "card":
        return _mask_card(value)
    if style == "digits":
        return _mask_digits(value)
    if style == "iban":
        return _mask_iban(value)
    if style == "email":
        return _mask_email(value)
    if style == "pem":
        return _mask_pem(value)
    if style == "generic":
        return _mask_generic(value)
    return _mask_secret(value, prefix)
