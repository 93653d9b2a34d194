"""Text extraction for DLP: a file (name + binary stream) in, UTF-8 text chunks out.

Pure with respect to the outside world: it reads only the stream it is given (no temp files,
no network). Streaming for plain text and the OOXML formats; PDF needs random access, so a
non-seekable PDF stream is buffered (bounded by ``max_input_bytes``).

Images (PNG, JPEG, WebP, GIF, TIFF files, and the images inside PDF, docx and pptx files) are
read only when the caller passes an :class:`OcrEngine`, which runs Tesseract (see
``detectors.dlp.extract.ocr``); without one, an image file is ``unsupported_type``. Text that
came from OCR is located in the output by ``ExtractReport.ocr_spans``.

Failures never propagate as arbitrary exceptions: a file that cannot be scanned raises
:class:`SkipFile` with a reason code. It may be raised *during* iteration (a stream that turns
out to be too large, a corrupt part); the caller then discards partial matches and records the
file as skipped. A file that reaches a cap mid-way (time budget, output size, XML depth, shared
strings, memory) is not skipped: the text read so far is yielded and the report says
``truncated`` with the reason.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from detectors.dlp.extract.errors import (
    SKIP_REASONS,
    Budget,
    ExtractLimits,
    ExtractReport,
    SkipFile,
    Truncated,
)
from detectors.dlp.extract.ocr import (
    OcrEngine,
    OcrText,
    iter_image_file,
    iter_zip_images,
    looks_like_image,
)
from detectors.dlp.extract.ooxml import iter_ooxml, ooxml_kind, open_zip
from detectors.dlp.extract.pdf import iter_pdf
from detectors.dlp.extract.text import iter_text, looks_like_text

__all__ = [
    "SKIP_REASONS",
    "TEXT_EXTENSIONS",
    "ExtractLimits",
    "ExtractReport",
    "OcrEngine",
    "SkipFile",
    "extract_text",
]

_TEXT_EXTENSION_LIST = (
    "txt text md markdown rst adoc csv tsv json jsonl ndjson log xml html htm yaml yml toml "
    "ini cfg conf env properties sql py pyi js mjs cjs ts tsx jsx java kt kts scala go rs c h "
    "cc cpp cxx hpp cs swift m mm rb php pl pm lua r sh bash zsh fish ps1 bat cmd tf hcl "
    "gradle groovy dart ex exs erl hs clj vue svelte css scss less ipynb tex srt vtt pem key "
    "crt cer pub gitignore dockerfile makefile"
)
TEXT_EXTENSIONS = frozenset(_TEXT_EXTENSION_LIST.split())
_OOXML_EXTENSIONS = frozenset({"docx", "docm", "xlsx", "xlsm", "pptx", "pptm"})
_BINARY_MAGIC = (
    b"\x89PNG",
    b"\xff\xd8\xff",
    b"GIF8",
    b"\x1f\x8b",
    b"7z\xbc\xaf",
    b"Rar!",
    b"\x7fELF",
    b"MZ",
    b"RIFF",
    b"\x00\x00\x00\x18ftyp",
    b"\x00\x00\x00\x20ftyp",
    b"OggS",
    b"ID3",
)
_CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_HEAD = 64 * 1024


def _extension(filename: str) -> str:
    base = filename.rsplit("/", 1)[-1].lower()
    if "." not in base:
        return base  # Makefile, Dockerfile, ...
    return base.rsplit(".", 1)[-1]


def _size_if_seekable(source: BinaryIO) -> int | None:
    try:
        if not source.seekable():
            return None
        pos = source.tell()
        end = source.seek(0, io.SEEK_END)
        source.seek(pos)
        return end - pos
    except (OSError, AttributeError, ValueError):
        return None


def _random_access(source: BinaryIO, head: bytes, limits: ExtractLimits) -> BinaryIO:
    """A seekable stream positioned at the file start (buffers a non-seekable source)."""
    if _size_if_seekable(source) is not None:
        source.seek(source.tell() - len(head))
        return source
    buf = bytearray(head)
    while True:
        block = source.read(_HEAD)
        if not block:
            break
        buf += block
        if len(buf) > limits.max_input_bytes:
            raise SkipFile("too_large", f"more than {limits.max_input_bytes} bytes")
    return io.BytesIO(bytes(buf))


def _office_with_images(
    text: Iterable[str],
    zf: zipfile.ZipFile,
    ocr: OcrEngine,
    limits: ExtractLimits,
    report: ExtractReport,
    deadline: float,
) -> Iterator[str]:
    yield from text
    yield from iter_zip_images(zf, ocr, limits, report, deadline)


def _pieces(
    filename: str,
    source: BinaryIO,
    limits: ExtractLimits,
    report: ExtractReport,
    budget: Budget,
    ocr: OcrEngine | None,
) -> Iterable[str]:
    size = _size_if_seekable(source)
    if size is not None and size > limits.max_input_bytes:
        raise SkipFile("too_large", f"{size} bytes (limit {limits.max_input_bytes})")
    ext = _extension(filename)
    head = source.read(_HEAD)
    if size is not None:
        report.bytes_in = size

    if head.startswith(b"%PDF-") or (ext == "pdf" and b"%PDF-" in head[:1024]):
        report.format = "pdf"
        return iter_pdf(_random_access(source, head, limits), limits, report, budget.deadline, ocr)
    if ext == "pdf":
        raise SkipFile("corrupt", "no PDF header")
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        zf = open_zip(_random_access(source, head, limits), limits)
        kind = ooxml_kind(zf)
        if kind is None:
            raise SkipFile("unsupported_type", "zip archive that is not docx/xlsx/pptx")
        report.format = kind
        text = iter_ooxml(zf, kind, limits, report, budget)
        if ocr is not None and kind in ("docx", "pptx"):
            return _office_with_images(text, zf, ocr, limits, report, budget.deadline)
        return text
    if ext in _OOXML_EXTENSIONS:
        if head.startswith(_CFB_MAGIC):
            # An encrypted Office document is an OLE container holding EncryptedPackage.
            raise SkipFile("encrypted", "password-protected Office document")
        raise SkipFile("corrupt", "Office document that is not a zip container")
    if ocr is not None and looks_like_image(head):
        report.format = "image"
        image = _random_access(source, head, limits)
        return iter_image_file(image, ocr, limits, report, budget.deadline)
    if head.startswith(_CFB_MAGIC) or any(head.startswith(m) for m in _BINARY_MAGIC):
        raise SkipFile("unsupported_type", "binary format")
    if ext in TEXT_EXTENSIONS or looks_like_text(head[:8192]):
        report.format = "text"
        return iter_text(source, head, limits, report)
    raise SkipFile("unsupported_type", "binary content")


def extract_text(
    filename: str,
    source: BinaryIO,
    limits: ExtractLimits | None = None,
    report: ExtractReport | None = None,
    deadline: float | None = None,
    ocr: OcrEngine | None = None,
) -> Iterator[bytes]:
    """Yield the file's text as UTF-8 chunks of about ``limits.chunk_size`` bytes.

    ``filename`` only guides the format (content sniffing wins). ``report``, if given, is
    filled with the format, encoding, page/part counts and truncation. Raises
    :class:`SkipFile` (``corrupt``, ``encrypted``, ``too_large``, ``zip_bomb``,
    ``unsupported_type``; ``ocr_unavailable`` or ``timeout`` for a standalone image) and
    nothing else for bad input. ``deadline`` (a ``limits.clock()`` value; default: now +
    ``limits.max_seconds``) ends extraction with ``truncated``; the caller may share it with
    the matcher so one budget covers the whole file.

    With ``ocr``, image files and the images inside PDF/docx/pptx files are read by OCR; an
    embedded image that can't be read marks the file ``truncated`` (or, when Tesseract is
    missing, ``report.ocr_unavailable``) without ending it. The caller decides what an
    incompletely read file means (``detectors.dlp.document`` never calls it clean).
    """
    limits = limits or ExtractLimits()
    report = report if report is not None else ExtractReport()
    budget = Budget(limits, deadline)
    buf: list[str] = []
    buffered = 0
    out = 0
    since_check = 0

    def cut(reason: str) -> None:
        report.truncated = True
        report.truncated_reason = reason

    def capped(chunk: bytes) -> tuple[bytes, bool]:
        """The chunk within the output cap (cut to fit, the file marked truncated, and True
        when it went over); counts what is let out."""
        nonlocal out
        over = out + len(chunk) > limits.max_output_bytes
        if over:
            cut(f"more than {limits.max_output_bytes} bytes of text")
            chunk = chunk[: max(0, limits.max_output_bytes - out)]
        out += len(chunk)
        report.bytes_out = out
        return chunk, over

    try:
        try:
            for piece in _pieces(filename, source, limits, report, budget, ocr):
                if not piece:
                    continue
                if isinstance(piece, OcrText):
                    start = out + len("".join(buf).encode("utf-8", "replace"))
                    end = start + len(piece.encode("utf-8", "replace"))
                    report.ocr_spans.append((start, end))
                buf.append(piece)
                buffered += len(piece)
                since_check += 1
                if since_check >= 64 or buffered >= limits.chunk_size:
                    since_check = 0
                    budget.check()
                if buffered >= limits.chunk_size:
                    chunk, over = capped("".join(buf).encode("utf-8", "replace"))
                    buf.clear()
                    buffered = 0
                    if chunk:
                        yield chunk
                    if over:
                        return
            budget.check()
        except Truncated as stop:
            cut(stop.reason)
        except MemoryError:
            # the worker's per-process memory cap (see docs/dlp.md) was reached: what was read
            # is still scanned, the parser's memory is released with its frames
            cut("memory cap reached while extracting")
        if buf:
            chunk, _ = capped("".join(buf).encode("utf-8", "replace"))
            buf.clear()
            if chunk:
                yield chunk
    except SkipFile:
        raise
    except zipfile.BadZipFile:
        raise SkipFile("corrupt", "zip entry fails its CRC or size check") from None
    except MemoryError:
        raise SkipFile("too_large", "out of memory while extracting") from None
    except Exception as exc:  # a parser bug on hostile input must not fail the scan
        raise SkipFile("corrupt", f"unreadable ({type(exc).__name__})") from None
