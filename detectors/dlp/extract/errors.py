"""Extraction limits, the skip signal and the per-file report."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["SKIP_REASONS", "ExtractLimits", "ExtractReport", "SkipFile"]

MiB = 1024 * 1024

#: Machine-friendly reasons a file is skipped (stored with the file's scan record).
SKIP_REASONS = frozenset(
    {"corrupt", "encrypted", "too_large", "zip_bomb", "unsupported_type", "timeout"}
)


class SkipFile(Exception):
    """The file cannot be scanned; ``reason`` is one of :data:`SKIP_REASONS`.

    The message never contains file content (only sizes, counts and format facts), so it is
    safe to log and to store.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        if reason not in SKIP_REASONS:
            raise ValueError(f"unknown skip reason {reason!r}")
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


@dataclass(frozen=True)
class ExtractLimits:
    """Caps that keep one hostile or huge file from exhausting a worker.

    Exceeding ``max_input_bytes``, any zip cap or ``max_seconds`` skips the file; exceeding
    ``max_pdf_pages`` or ``max_output_bytes`` only truncates it (``ExtractReport.truncated``).
    """

    max_input_bytes: int = 100 * MiB
    max_zip_entries: int = 10_000
    max_zip_entry_bytes: int = 256 * MiB
    max_zip_total_bytes: int = 512 * MiB
    max_compression_ratio: float = 100.0
    max_pdf_pages: int = 2_000
    max_output_bytes: int = 512 * MiB
    max_seconds: float = 120.0
    chunk_size: int = 64 * 1024
    clock: Callable[[], float] = field(default=time.monotonic, compare=False, repr=False)


@dataclass
class ExtractReport:
    """Filled in while extracting: what was read and whether it was cut short."""

    format: str = ""
    encoding: str | None = None
    pages: int = 0
    parts: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    truncated: bool = False
    truncated_reason: str | None = None
