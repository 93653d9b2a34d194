"""Builders of small docx / xlsx / pptx / pdf files, written in the tests (no binaries)."""

from __future__ import annotations

import io
import zipfile
import zlib
from xml.sax.saxutils import escape

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
S = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
A = "http://schemas.openxmlformats.org/drawingml/2006/main"
P = "http://schemas.openxmlformats.org/presentationml/2006/main"


def _zip(parts: dict[str, str | bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        for name, body in parts.items():
            zf.writestr(name, body)
    return buf.getvalue()


def docx(paragraphs: list[str], header: str = "", table: list[list[str]] | None = None) -> bytes:
    def para(text: str) -> str:
        # split each paragraph into two runs so that run joining is exercised
        mid = len(text) // 2
        return (
            f"<w:p><w:r><w:t>{escape(text[:mid])}</w:t></w:r>"
            f'<w:r><w:t xml:space="preserve">{escape(text[mid:])}</w:t></w:r></w:p>'
        )

    body = "".join(para(p) for p in paragraphs)
    if table:
        rows = "".join(
            "<w:tr>" + "".join(f"<w:tc>{para(c)}</w:tc>" for c in row) + "</w:tr>" for row in table
        )
        body += f"<w:tbl>{rows}</w:tbl>"
    parts = {
        "word/document.xml": f'<?xml version="1.0"?><w:document xmlns:w="{W}"><w:body>{body}'
        "</w:body></w:document>",
    }
    if header:
        parts["word/header1.xml"] = f'<w:hdr xmlns:w="{W}">{para(header)}</w:hdr>'
    return _zip(parts)


def xlsx(rows: list[list[str | int]], shared: bool = True) -> bytes:
    strings: list[str] = []
    cells_xml = []
    for r, row in enumerate(rows, 1):
        cells = []
        for c, value in enumerate(row):
            ref = f"{chr(65 + c)}{r}"
            if isinstance(value, int):
                cells.append(f'<c r="{ref}"><v>{value}</v></c>')
            elif shared:
                strings.append(value)
                cells.append(f'<c r="{ref}" t="s"><v>{len(strings) - 1}</v></c>')
            else:
                cells.append(f'<c r="{ref}" t="inlineStr"><is><t>{escape(value)}</t></is></c>')
        cells_xml.append(f'<row r="{r}">{"".join(cells)}</row>')
    parts = {
        "xl/workbook.xml": f'<workbook xmlns="{S}"><sheets><sheet name="S1" sheetId="1"/></sheets></workbook>',
        "xl/worksheets/sheet1.xml": f'<worksheet xmlns="{S}"><sheetData>{"".join(cells_xml)}'
        "</sheetData></worksheet>",
    }
    if strings:
        si = "".join(f"<si><t>{escape(s)}</t></si>" for s in strings)
        parts["xl/sharedStrings.xml"] = f'<sst xmlns="{S}" count="{len(strings)}">{si}</sst>'
    return _zip(parts)


def pptx(slides: list[list[str]], notes: list[str] | None = None) -> bytes:
    def sp(texts: list[str]) -> str:
        paras = "".join(f"<a:p><a:r><a:t>{escape(t)}</a:t></a:r></a:p>" for t in texts)
        return (
            f'<p:sld xmlns:p="{P}" xmlns:a="{A}"><p:cSld><p:spTree><p:sp><p:txBody>{paras}'
            "</p:txBody></p:sp></p:spTree></p:cSld></p:sld>"
        )

    parts = {"ppt/presentation.xml": f'<p:presentation xmlns:p="{P}"/>'}
    # slide10 after slide2: numeric, not lexical, order
    numbers = [1, 2, 10][: len(slides)] + list(range(11, 11 + max(0, len(slides) - 3)))
    for n, texts in zip(numbers, slides, strict=True):
        parts[f"ppt/slides/slide{n}.xml"] = sp(texts)
    for i, note in enumerate(notes or [], 1):
        parts[f"ppt/notesSlides/notesSlide{i}.xml"] = sp([note])
    return _zip(parts)


def pdf(pages: list[str], padding: int = 0) -> bytes:
    """A minimal valid PDF with one text line per page (Helvetica, no /Encoding).

    ``padding`` appends that many number tokens (``0``) to each page's content stream after
    its text: parsers that count tokens give up on such a page."""
    streams = []
    for text in pages:
        safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        streams.append(f"BT /F1 12 Tf 72 712 Td ({safe}) Tj ET".encode("latin-1") + b" 0" * padding)
    return pdf_from_streams(streams)


def pdf_from_streams(
    streams: list[bytes],
    font: str = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    page_extra: str = "",
    compress: bool = False,
    trailer_extra: str = "",
) -> bytes:
    """A PDF with these content streams, one page each, font ``/F1`` on every page (classic
    cross-reference table). ``page_extra`` goes into every page dictionary; ``compress``
    deflates the streams (``/FlateDecode``)."""
    objects: list[bytes] = []
    n_pages = len(streams)
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n_pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode())
    font_id = 3 + 2 * n_pages
    for i, stream in enumerate(streams):
        content_id = 4 + 2 * i
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {content_id} 0 R "
            f"/Resources << /Font << /F1 {font_id} 0 R >> >> {page_extra}>>".encode()
        )
        flate = ""
        if compress:
            stream = zlib.compress(stream)
            flate = " /Filter /FlateDecode"
        objects.append(
            f"<< /Length {len(stream)}{flate} >>\nstream\n".encode() + stream + b"\nendstream"
        )
    objects.append(font.encode())
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R {trailer_extra}>>\n"
        f"startxref\n{xref}\n%%EOF\n"
    ).encode()
    return bytes(out)


def encrypted_pdf(pages: list[str], user_password: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(pdf(pages))).pages:
        writer.add_page(page)
    writer.encrypt(user_password=user_password, owner_password="owner-secret")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def set_zip_encrypted_flag(data: bytes) -> bytes:
    """Mark every entry as encrypted (general-purpose flag bit 0) in both headers."""
    out = bytearray(data)
    for sig, flag_off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (i := out.find(sig, start)) != -1:
            out[i + flag_off] |= 0x01
            start = i + 4
    return bytes(out)
