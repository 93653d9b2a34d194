"""Plain-text formats: encoding detection on a head sample, then incremental decoding."""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from typing import BinaryIO

from charset_normalizer import from_bytes

from detectors.dlp.extract.errors import ExtractLimits, ExtractReport, SkipFile

__all__ = ["detect_encoding", "iter_text", "looks_like_text"]

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
READ_SIZE = 64 * 1024


def _utf8_prefix_ok(head: bytes) -> bool:
    """Valid UTF-8, allowing a character cut at the end of the sample."""
    try:
        codecs.getincrementaldecoder("utf-8")("strict").decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(head: bytes) -> str | None:
    """Encoding of a text sample, or None when it does not look like text at all."""
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    if b"\x00" not in head and _utf8_prefix_ok(head):
        return "utf-8"
    best = from_bytes(head).best()
    if best is None:
        return None
    enc = best.encoding
    if b"\x00" in head and not enc.startswith(("utf_16", "utf_32")):
        return None  # NUL bytes in a single-byte encoding: binary, not text
    return enc


def looks_like_text(head: bytes) -> bool:
    return not head or detect_encoding(head) is not None


def iter_text(
    source: BinaryIO, head: bytes, limits: ExtractLimits, report: ExtractReport
) -> Iterator[str]:
    """Decode ``head`` + the rest of ``source`` incrementally (bad bytes become U+FFFD)."""
    enc = detect_encoding(head) if head else "utf-8"
    if enc is None:
        raise SkipFile("unsupported_type", "binary content")
    report.encoding = enc
    decoder = codecs.getincrementaldecoder(enc)(errors="replace")
    yield decoder.decode(head)
    total = len(head)
    while True:
        block = source.read(READ_SIZE)
        if not block:
            break
        total += len(block)
        if total > limits.max_input_bytes:
            raise SkipFile("too_large", f"more than {limits.max_input_bytes} bytes")
        yield decoder.decode(block)
    report.bytes_in = total
    yield decoder.decode(b"", final=True)
