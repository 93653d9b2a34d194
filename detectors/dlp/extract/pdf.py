"""PDF text page by page: PDFium (``pypdfium2``) where its wheel exists, pypdf otherwise.

Both engines give the same verdicts:

* a password-protected PDF is skipped (``encrypted``) unless it opens with the empty user
  password (owner-password-only PDFs are common and readable);
* a PDF that cannot be opened is skipped (``corrupt``);
* a page that raises is not read, and the file is marked ``truncated`` with the page number:
  its other pages are still scanned, and a file with an unread page is never called clean;
* more than ``max_pdf_pages`` pages, or a page with more text than the output cap leaves,
  truncates; the clock is checked after every page (a spent time budget truncates too).

With PDFium, pages of a simple shape (one line per text-showing operator, standard fonts,
ASCII or WinAnsi text: what report generators and fpdf-like libraries write) are read from their
content streams by ``pdf_fast``, which produces PDFium's text for them at several times its
speed and leaves every other page to PDFium (``ExtractLimits.pdf_fast``, the
``CASB_PDF_FAST`` setting, turns it off).

With an OCR engine, the images placed on each page are read too (PDFium only: the pypdf
fallback marks a page with images as truncated). Identical images (a logo on every page) are
read once.

PDFium is not thread-safe: every call into it holds one process-wide lock, released between
pages, so documents in different threads interleave page by page. pypdf logs warnings about
malformed objects on the ``pypdf`` logger (object ids, never page text).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from detectors.dlp.extract.errors import ExtractLimits, ExtractReport, SkipFile, Truncated
from detectors.dlp.extract.ocr import OcrEngine, ocr_embedded_image
from detectors.dlp.extract.pdf_fast import FastPdf, open_fast_pdf

__all__ = ["PDF_ENGINES", "iter_pdf", "resolve_pdf_engine"]

PDF_ENGINES = ("pdfium", "pypdf")
PAGE_BREAK = "\n\f\n"
_PDFIUM_LOCK = threading.RLock()

try:
    import pypdfium2 as _pdfium
    import pypdfium2.raw as _pdfium_raw
except ImportError:  # pragma: no cover - hosts without a pypdfium2 wheel
    _pdfium = None
    _pdfium_raw = None


def resolve_pdf_engine(engine: str | None = None) -> str:
    """``pdfium`` unless asked otherwise (``engine``: ``ExtractLimits.pdf_engine``, from the
    ``CASB_PDF_ENGINE`` setting) or unavailable."""
    chosen = (engine or "pdfium").strip().lower()
    if chosen not in PDF_ENGINES:
        raise ValueError(f"unknown PDF engine {chosen!r}; choose one of {PDF_ENGINES}")
    if chosen == "pdfium" and _pdfium is None:
        return "pypdf"
    return chosen


def iter_pdf(
    source: BinaryIO,
    limits: ExtractLimits,
    report: ExtractReport,
    deadline: float | None = None,
    ocr: OcrEngine | None = None,
    engine: str | None = None,
) -> Iterator[str]:
    """Text of each page followed by a page break (see the module docstring)."""
    if deadline is None:
        deadline = limits.clock() + limits.max_seconds
    if resolve_pdf_engine(engine or limits.pdf_engine) == "pdfium":
        return _pdfium_pages(source, limits, report, deadline, ocr)
    return _pypdf_pages(source, limits, report, deadline, ocr)


def _after_page(limits: ExtractLimits, deadline: float) -> None:
    if limits.clock() > deadline:
        raise Truncated(f"time budget of {limits.max_seconds:g} s spent")


def _room(limits: ExtractLimits, produced: int) -> int:
    """Characters of text the output cap still allows (a character is at least a byte)."""
    return max(0, limits.max_output_bytes - produced)


# --------------------------------------------------------------------------- PDFium


def _pdfium_open(data: bytes) -> Any:
    assert _pdfium is not None and _pdfium_raw is not None
    try:
        with _PDFIUM_LOCK:
            return _pdfium.PdfDocument(data)
    except _pdfium.PdfiumError as exc:
        if exc.err_code == _pdfium_raw.FPDF_ERR_PASSWORD:
            raise SkipFile("encrypted", "PDF needs a password") from None
        if exc.err_code == _pdfium_raw.FPDF_ERR_SECURITY:
            raise SkipFile("encrypted", "PDF uses an unsupported security handler") from None
        raise SkipFile("corrupt", "unreadable PDF") from None


def _page(
    doc: Any,
    fast: FastPdf | None,
    index: int,
    room: int,
    ocr: OcrEngine | None,
    limits: ExtractLimits,
) -> tuple[str, bool, list[Any]]:
    """(text, text was cut, decoded images to OCR) of one page: the fast path when it reads
    the page (such a page draws no image: ``Do`` and inline images send a page to PDFium),
    PDFium otherwise."""
    text = fast.page_text(index) if fast is not None else None
    if text is None:
        return _pdfium_page(doc, index, room, ocr, limits)
    return text[:room], len(text) > room, []


def _pdfium_page(
    doc: Any, index: int, room: int, ocr: OcrEngine | None, limits: ExtractLimits
) -> tuple[str, bool, list[Any]]:
    """(text, text was cut, decoded images to OCR) of one page, under the PDFium lock."""
    assert _pdfium_raw is not None
    with _PDFIUM_LOCK:
        page = doc[index]
        try:
            textpage = page.get_textpage()
            try:
                count = textpage.count_chars()
                cut = count > room
                text = textpage.get_text_range(0, min(count, room)) if count > 0 else ""
                # PDFium turns a hyphen that ends a line into U+FFFE and joins the lines
                # (hyphenation); put the hyphen back: it may be part of a token
                text = text.replace("\ufffe", "-")
            finally:
                textpage.close()
            images = _pdfium_images(page, limits) if ocr is not None else []
        finally:
            page.close()
    return text, cut, images


def _pdfium_images(page: Any, limits: ExtractLimits) -> list[Any]:
    """Decoded images of one page (caps checked on the declared size, before decoding);
    ``None`` stands for an image refused by a cap."""
    assert _pdfium_raw is not None
    out: list[Any] = []
    for obj in page.get_objects(filter=[_pdfium_raw.FPDF_PAGEOBJ_IMAGE], max_depth=4):
        width, height = obj.get_px_size()
        if min(width, height) < limits.min_image_side:
            continue
        if width * height > limits.max_image_pixels:
            out.append(None)
            continue
        try:
            raw = obj.get_data(decode_simple=False)
            digest = hashlib.sha256(bytes(raw)).digest()
            out.append((digest, obj.get_bitmap(render=False).to_pil()))
        except Exception:  # a damaged image stream: the page's text still counts
            out.append(None)
    return out


def _pdfium_pages(
    source: BinaryIO,
    limits: ExtractLimits,
    report: ExtractReport,
    deadline: float,
    ocr: OcrEngine | None,
) -> Iterator[str]:
    # PDFium opens the file first, so encrypted/corrupt verdicts and the page count are its own
    data = source.read()
    doc = _pdfium_open(data)
    seen_images: set[bytes] = set()
    try:
        with _PDFIUM_LOCK:
            count = len(doc)
        # a file past the page cap is truncated anyway: PDFium reads it, and the fast path's
        # walk of the page tree stays bounded by the cap
        simple = limits.pdf_fast and count <= limits.max_pdf_pages
        fast = open_fast_pdf(data, count) if simple else None

        def read(index: int, room: int) -> tuple[str, bool, Iterator[str]]:
            text, cut, images = _page(doc, fast, index, room, ocr, limits)
            return text, cut, _ocr_images(images, seen_images, ocr, limits, report, deadline)

        yield from _walk_pages(count, limits, report, deadline, read)
    finally:
        with _PDFIUM_LOCK:
            doc.close()


def _ocr_images(
    images: list[tuple[bytes, Any] | None],
    seen: set[bytes],
    ocr: OcrEngine | None,
    limits: ExtractLimits,
    report: ExtractReport,
    deadline: float,
) -> Iterator[str]:
    """The text OCR reads from a page's images, each distinct image once per file."""
    for image in images:
        if image is None:
            report.images_unread += 1
            report.truncate("an embedded image exceeds the image caps")
            continue
        digest, pil = image
        if digest in seen:
            continue
        seen.add(digest)
        assert ocr is not None
        yield from ocr_embedded_image(pil, ocr, limits, report, deadline)


def _walk_pages(
    count: int,
    limits: ExtractLimits,
    report: ExtractReport,
    deadline: float,
    read: Callable[[int, int], tuple[str, bool, Iterator[str]]],
) -> Iterator[str]:
    """Each page's text then a page break, under the page and output caps, for either engine.

    ``read(index, room)`` gives the page's text (at most ``room`` characters), whether it was
    cut there, and what more the page yields after its break (OCR of its images). A page that
    cannot be read is empty and noted; the walk goes on.
    """
    produced = 0
    for index in range(count):
        if index >= limits.max_pdf_pages:
            report.truncate(f"more than {limits.max_pdf_pages} pages")
            break
        try:
            text, cut, more = read(index, _room(limits, produced))
        except Exception:
            report.truncate(f"page {index + 1} could not be read")
            text, cut, more = "", False, iter(())
        report.pages += 1
        produced += len(text)
        yield text
        yield PAGE_BREAK
        if cut:
            report.truncate(f"more than {limits.max_output_bytes} bytes of text")
            break
        yield from more
        _after_page(limits, deadline)


# --------------------------------------------------------------------------- pypdf


def _pypdf_pages(
    source: BinaryIO,
    limits: ExtractLimits,
    report: ExtractReport,
    deadline: float,
    ocr: OcrEngine | None,
) -> Iterator[str]:
    from pypdf import PdfReader

    try:
        reader = PdfReader(source, strict=False)
        if reader.is_encrypted:
            opened: object
            try:
                opened = reader.decrypt("")
            except Exception:
                opened = 0
            if not opened:
                raise SkipFile("encrypted", "PDF needs a password")
        pages = reader.pages
        count = len(pages)
    except SkipFile:
        raise
    except Exception:
        raise SkipFile("corrupt", "unreadable PDF") from None

    def read(index: int, room: int) -> tuple[str, bool, Iterator[str]]:
        page = pages[index]
        text = page.extract_text() or ""
        if ocr is not None and _pypdf_has_images(page):
            report.images_unread += 1
            report.truncate("images in this PDF need PDFium to be read")
        return text[:room], len(text) > room, iter(())

    yield from _walk_pages(count, limits, report, deadline, read)


def _pypdf_has_images(page: Any) -> bool:
    resources = page.get("/Resources") or {}
    xobjects = resources.get("/XObject") if hasattr(resources, "get") else None
    if not xobjects:
        return False
    xobjects = xobjects.get_object()
    return any((xobjects[name].get_object() or {}).get("/Subtype") == "/Image" for name in xobjects)
