"""PDF text via pypdf, page by page, with a page cap. Encrypted files are skipped unless
they open with the empty user password (owner-password-only PDFs are common and readable).

pypdf logs warnings about malformed objects on the ``pypdf`` logger (object ids, never page
text); workers may raise that logger's level to keep the noise down."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from detectors.dlp.extract.errors import ExtractLimits, ExtractReport, SkipFile

__all__ = ["iter_pdf"]


def iter_pdf(source: BinaryIO, limits: ExtractLimits, report: ExtractReport) -> Iterator[str]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

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
    except (PdfReadError, Exception) as exc:
        raise SkipFile("corrupt", f"unreadable PDF ({type(exc).__name__})") from None
    for index in range(count):
        if index >= limits.max_pdf_pages:
            report.truncated = True
            report.truncated_reason = f"more than {limits.max_pdf_pages} pages"
            break
        try:
            text = pages[index].extract_text() or ""
        except Exception:
            text = ""  # one broken page does not hide the others
        report.pages += 1
        yield text
        yield "\n\f\n"
