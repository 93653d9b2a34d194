"""PDF text via pypdf, page by page, with a page cap. Encrypted files are skipped unless
they open with the empty user password (owner-password-only PDFs are common and readable)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import BinaryIO

from detectors.dlp.extract.errors import ExtractLimits, ExtractReport, SkipFile

__all__ = ["iter_pdf"]

# pypdf warns about malformed objects on its own logger; that is noise for a scanner and is
# kept out of the worker logs (the warnings never carry page text, only object ids).
logging.getLogger("pypdf").setLevel(logging.ERROR)


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
