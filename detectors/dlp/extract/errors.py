"""Extraction limits, the skip signal and the per-file report."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["SKIP_REASONS", "Budget", "ExtractLimits", "ExtractReport", "SkipFile", "Truncated"]

MiB = 1024 * 1024

#: Machine-friendly reasons a file is skipped (stored with the file's scan record).
#: ``ocr_unavailable``: an image (or a document holding images) needed OCR, which the DLP
#: profiles asked for, and Tesseract could not be run on this worker. ``truncated``: part of
#: the file was not read (a cap, an unreadable page or image) and what was read matched
#: nothing, so it cannot be called clean (never raised by the extractors themselves).
SKIP_REASONS = frozenset(
    {
        "corrupt",
        "encrypted",
        "too_large",
        "zip_bomb",
        "unsupported_type",
        "timeout",
        "ocr_unavailable",
        "truncated",
    }
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


class Truncated(Exception):
    """A cap was reached mid-file: extraction stops, the text so far is kept and scanned, and
    ``ExtractReport.truncated_reason`` says which cap (never file content)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class ExtractLimits:
    """Caps that keep one hostile or huge file from exhausting a worker.

    Exceeding ``max_input_bytes`` or any zip cap skips the file. The others truncate it
    (``ExtractReport.truncated`` and ``truncated_reason``): the text read so far is scanned.
    ``max_seconds`` is the file's time budget, checked between text pieces and every
    ``xml_block`` bytes of XML fed to the parser; ``max_xml_depth`` bounds element nesting
    (the parser keeps every open element); ``max_shared_strings`` and
    ``max_shared_string_chars`` bound the xlsx string table held for cell lookups (strings
    past them are scanned where they stand, out of cell order).
    """

    max_input_bytes: int = 100 * MiB
    max_zip_entries: int = 10_000
    max_zip_entry_bytes: int = 256 * MiB
    max_zip_total_bytes: int = 512 * MiB
    max_compression_ratio: float = 100.0
    max_pdf_pages: int = 2_000
    max_output_bytes: int = 512 * MiB
    max_seconds: float = 120.0
    max_xml_depth: int = 1_000
    max_shared_strings: int = 200_000
    max_shared_string_chars: int = 16 * MiB
    xml_block: int = 64 * 1024
    chunk_size: int = 64 * 1024
    # images read by OCR (only when the caller passes an OCR engine)
    max_image_bytes: int = 20 * MiB  # one encoded image (a file, or one embedded image)
    max_image_pixels: int = 40_000_000  # width x height, checked before any decoding
    max_image_frames: int = 8  # GIF / TIFF pages read, first ones first
    max_images: int = 50  # embedded images OCR'd per document (the rest: truncated)
    min_image_side: int = 16  # icons and spacers below this are not worth an OCR run
    max_image_seconds: float = 20.0  # Tesseract's budget per image (killed past it)
    # which reader (the process settings CASB_PDF_ENGINE, CASB_PDF_FAST, CASB_OOXML_SCANNER,
    # CASB_ZIP_INFLATE, passed down by the caller: extraction never reads the environment)
    pdf_engine: str = "pdfium"  # or "pypdf" (used anyway where PDFium has no wheel)
    pdf_fast: bool = True  # simple PDF pages read from their content streams
    ooxml_scanner: str = "bulk"  # or "expat" for every part
    zip_inflate: str = ""  # "isal", "zlib-ng", "zlib"; empty: the fastest one installed
    clock: Callable[[], float] = field(default=time.monotonic, compare=False, repr=False)


class Budget:
    """The time budget of one file: ``check()`` raises :class:`Truncated` once it is spent."""

    def __init__(self, limits: ExtractLimits, deadline: float | None = None) -> None:
        self.limits = limits
        self.deadline = limits.clock() + limits.max_seconds if deadline is None else deadline

    def check(self) -> None:
        if self.limits.clock() > self.deadline:
            raise Truncated(f"time budget of {self.limits.max_seconds:g} s spent")


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
    images: int = 0  # images (or frames) read by OCR
    images_unread: int = 0  # embedded images not read: a cap, an error, or OCR unavailable
    ocr_unavailable: bool = False  # some image needed OCR and Tesseract could not be run
    #: [start, end) byte offsets, in the extracted text, of text that came from OCR
    ocr_spans: list[tuple[int, int]] = field(default_factory=list)

    def truncate(self, reason: str) -> None:
        """Mark the file as not fully read; the first reason is kept."""
        if not self.truncated:
            self.truncated = True
            self.truncated_reason = reason
