"""The one duration grammar of the CLI and settings: ``30s``, ``15m``, ``12h``, ``7d``, ``2w``.

Used by ``--schedule`` (tenants), ``--since``/``--until`` (findings, changes, suppressions;
besides dates) and ``casb db prune --older-than``. ``--schedule`` alone also takes a plain
number of seconds (``3600``), as it always has.
"""

from __future__ import annotations

import re
from datetime import timedelta

from core.errors import UserError

_DURATION = re.compile(r"(\d+)\s*([smhdw])")
_SECONDS = re.compile(r"\d+")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
FORMS = "a number and a unit: 30s, 15m, 12h, 7d or 2w"


def is_duration(text: str) -> bool:
    """True when ``text`` is written in the grammar (whatever its value)."""
    return _DURATION.fullmatch((text or "").strip().lower()) is not None


def parse_duration(text: str, *, option: str = "duration", bare_seconds: bool = False) -> timedelta:
    """``7d`` -> 7 days; with ``bare_seconds`` a plain number is seconds (``3600``).

    A zero or unreadable value is a ``UserError`` naming the option and the accepted forms.
    """
    value = (text or "").strip().lower()
    if bare_seconds and _SECONDS.fullmatch(value):
        seconds = int(value)
    else:
        match = _DURATION.fullmatch(value)
        seconds = int(match.group(1)) * UNIT_SECONDS[match.group(2)] if match else 0
    if seconds <= 0:
        forms = FORMS + (" (or plain seconds)" if bare_seconds else "")
        raise UserError(f"bad {option}: {text!r}; use {forms}")
    return timedelta(seconds=seconds)
