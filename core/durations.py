"""The one duration grammar of the CLI and settings: ``30s``, ``15m``, ``12h``, ``7d``, ``2w``."""

from __future__ import annotations

import re
from datetime import timedelta

from core.errors import UserError

_DURATION = re.compile(r"(\d+)\s*([smhdw])")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
FORMS = "a number and a unit: 30s, 15m, 12h, 7d or 2w"


def parse_duration(text: str, *, option: str = "duration") -> timedelta:
    """``7d`` -> 7 days. The error names the option and the accepted forms."""
    match = _DURATION.fullmatch((text or "").strip().lower())
    if match is None or int(match.group(1)) <= 0:
        raise UserError(f"bad {option}: {text!r}; use {FORMS}")
    return timedelta(seconds=int(match.group(1)) * UNIT_SECONDS[match.group(2)])
