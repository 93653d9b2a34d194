"""Plain-text formats: encoding detection on a head sample, re-checked on every block, and
incremental decoding."""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from typing import BinaryIO

from charset_normalizer import from_bytes

from detectors.dlp.extract.errors import ExtractLimits, ExtractReport, SkipFile

__all__ = ["detect_encoding", "encoding_shift", "iter_text", "looks_like_text"]

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
READ_SIZE = 64 * 1024
MIN_NARROW_RUN = 256  # printable bytes after the last NUL that switch UTF-16 back to narrow


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


def _is_wide(encoding: str) -> bool:
    return encoding.replace("_", "-").lower().startswith(("utf-16", "utf-32"))


def _printable_utf8(data: bytes) -> bool:
    if not _utf8_prefix_ok(data):
        return False
    plain = sum(1 for b in data if 0x20 <= b < 0x7F or b in (9, 10, 13))
    return plain * 10 >= len(data) * 9


def encoding_shift(encoding: str, block: bytes) -> tuple[int, str] | None:
    """Where in ``block`` text in ``encoding`` gives way to another encoding, and which.

    Narrow (UTF-8, single-byte) text followed by UTF-16: a block whose bytes are at least 1/8
    NUL switches to UTF-16 one byte before its first NUL, little- or big-endian by the side
    the NULs fall on. UTF-16/32 followed by narrow text: the switch is after the block's last
    NUL when at least ``MIN_NARROW_RUN`` bytes of printable UTF-8 follow it."""
    if not block:
        return None
    nuls = block.count(0)
    if not _is_wide(encoding):
        if nuls * 8 < len(block):
            return None
        split = max(block.index(0) - 1, 0)
        sample = block[split : split + 4096]
        odd, even = sample[1::2].count(0), sample[0::2].count(0)
        return split, "utf-16-le" if odd >= even else "utf-16-be"
    split = block.rfind(0) + 1
    tail = block[split:]
    if len(tail) >= MIN_NARROW_RUN and _printable_utf8(tail):
        return split, "utf-8"
    return None


def _decoder(encoding: str) -> codecs.IncrementalDecoder:
    return codecs.getincrementaldecoder(encoding)(errors="replace")


def iter_text(
    source: BinaryIO, head: bytes, limits: ExtractLimits, report: ExtractReport
) -> Iterator[str]:
    """Decode ``head`` + the rest of ``source`` incrementally (bad bytes become U+FFFD).

    The encoding found on the head is re-checked on every block (:func:`encoding_shift`), so
    a head of one encoding cannot hide the rest of the file in another. In narrow encodings
    NUL bytes carry no text and are dropped: ASCII written as UTF-16 stays readable even
    where no switch is detected."""
    first_nul = head.find(0)
    if first_nul >= MIN_NARROW_RUN and not head.startswith(
        (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
    ):
        enc = detect_encoding(head[:first_nul])  # narrow text that turns wide inside the head
    else:
        enc = detect_encoding(head) if head else "utf-8"
    if enc is None:
        raise SkipFile("unsupported_type", "binary content")
    report.encoding = enc
    decoder = _decoder(enc)
    total = len(head)
    block = head
    while True:
        for _ in range(2):  # at most one switch each way per block
            shift = encoding_shift(enc, block)
            if shift is None:
                break
            split, new = shift
            yield _clean(decoder.decode(block[:split], final=True), enc)
            enc = new
            report.encoding = f"{report.encoding}+{enc}"
            decoder = _decoder(enc)
            block = block[split:]
        yield _clean(decoder.decode(block), enc)
        block = source.read(READ_SIZE)
        if not block:
            break
        total += len(block)
        if total > limits.max_input_bytes:
            raise SkipFile("too_large", f"more than {limits.max_input_bytes} bytes")
    report.bytes_in = total
    yield _clean(decoder.decode(b"", final=True), enc)


def _clean(text: str, encoding: str) -> str:
    if "\x00" in text and not _is_wide(encoding):
        return text.replace("\x00", "")
    return text
