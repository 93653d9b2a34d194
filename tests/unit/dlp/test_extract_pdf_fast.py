"""The PDF fast path: where it reads a page, its text is PDFium's, character for character;
everything it does not fully understand (including hostile input) goes to PDFium, so the
extraction (text, truncation, verdict) is the same with the fast path on and off."""

from __future__ import annotations

import io
import random
import re
from collections.abc import Iterator
from dataclasses import replace

import pytest

from detectors.dlp.extract import ExtractLimits, ExtractReport, extract_text, pdf_fast
from detectors.dlp.extract import pdf as pdf_module
from detectors.dlp.extract.pdf_fast import MAX_CONTENT_BYTES, open_fast_pdf
from tests.unit.dlp import fixtures

pdfium = pytest.importorskip("pypdfium2")

WIN_ANSI_FONT = "<< /Type /Font /Subtype /Type1 /BaseFont /{} /Encoding /WinAnsiEncoding >>"
PRINTABLE = "".join(chr(c) for c in range(0x21, 0x7F))


def pdfium_pages(data: bytes) -> list[str]:
    doc = pdfium.PdfDocument(data)
    out = []
    for page in doc:
        textpage = page.get_textpage()
        out.append(textpage.get_text_range(0, textpage.count_chars()).replace("\ufffe", "-"))
    return out


def fast_pages(data: bytes) -> list[str | None]:
    count = len(pdfium.PdfDocument(data))
    fast = open_fast_pdf(data, count)
    assert fast is not None, "the document structure should be simple enough"
    return [fast.page_text(i) for i in range(count)]


def assert_fast_reads_like_pdfium(data: bytes) -> list[str]:
    fast = fast_pages(data)
    assert None not in fast, "every page should be on the fast path"
    assert fast == pdfium_pages(data)
    return [text for text in fast if text is not None]


def extraction(data: bytes, fast: bool, limits: ExtractLimits | None = None) -> tuple[str, dict]:
    chosen = replace(limits or ExtractLimits(), pdf_engine="pdfium", pdf_fast=fast)
    report = ExtractReport()
    text = b"".join(extract_text("a.pdf", io.BytesIO(data), chosen, report)).decode()
    return text, {k: getattr(report, k) for k in ("pages", "truncated", "truncated_reason")}


def fpdf_document(pages: list[list[str]], font: str = "helvetica", size: float = 9) -> bytes:
    from fpdf import FPDF

    doc = FPDF(format="A4")
    for lines in pages:
        doc.add_page()
        doc.set_font(font, size=size)
        y = 20.0
        for line in lines:
            doc.text(12, y, line)
            y += size * 0.47  # 1.33 x the font size, in mm
    return bytes(doc.output())


def stream_pdf(*streams: bytes, font: str = WIN_ANSI_FONT.format("Helvetica"), **kw) -> bytes:
    return fixtures.pdf_from_streams(list(streams), font=font, **kw)


# -- positive: the fast path reads these pages, exactly as PDFium does ------------------------


@pytest.mark.parametrize("font", ["helvetica", "times", "courier"])
def test_fpdf_pages_read_like_pdfium(font: str) -> None:
    lines = [
        "Quarterly report: revenue up 12%, costs (as planned) down.",
        "A line that ends with a hyphenated-",
        "word continues here; a letter, a hyphen and a digit-",
        "9 join too, but a dash after a space -",
        "after a space. Hyphen then spaces-   ",
        "joins too. Runs  of   spaces   collapse.",
        "   leading spaces stay as one",
        "1234 5678 9012 3456",
        PRINTABLE,
        r"back\slash and (parentheses) and 'quotes' and `grave`",
        "OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD-",
        "EFGH continues the key line after a hyphen",
    ]
    data = fpdf_document([lines, lines[::-1], ["last page", "ok"]], font=font)
    pages = assert_fast_reads_like_pdfium(data)
    assert "hyphenated-word" in pages[0] and "digit-9 join" in pages[0]
    assert "space -\r\nafter" in pages[0] and "spaces-joins" in pages[0]
    assert "Runs of spaces collapse" in pages[0]


def test_operators_beyond_the_one_line_shape_read_like_pdfium() -> None:
    stream = (
        b"q 0.5 g 10 10 100 100 re f Q\n"
        b"BT /F1 11 Tf 14 TL 72 720 Td (first line by Tj) Tj T* (second line by T*) Tj\n"
        b"(third line by quote) ' 0 0 (fourth by double quote) \"\n"
        b"0 -28 TD [(kerned ) -40 (TJ ) 25 (line)] TJ\n"
        b"1 0 0 1 72 600 Tm <48657820737472696e67> Tj\n"
        b"0 Tc 0 Tw 100 Tz 0 Ts 0 Tr 0 -14 Td (octal \\101\\102 and \\(escaped\\)) Tj ET\n"
        b"q 1 0 0 1 0 -200 cm BT /F1 11 Tf 72 720 Td (moved by cm) Tj ET Q\n"
        b"BT 72 400 Td (the font survives ET and Q) Tj ET"
    )
    for compress in (False, True):
        (text,) = assert_fast_reads_like_pdfium(stream_pdf(stream, compress=compress))
        assert "Hex string" in text and "octal AB and (escaped)" in text
        assert text.index("moved by cm") < text.index("the font survives")


def test_a_font_without_encoding_maps_quotes_as_pdfium_does() -> None:
    data = fixtures.pdf(["it's `quoted' here", "plain text page"])
    (first, second) = assert_fast_reads_like_pdfium(data)
    assert first == "it\u2019s \u2018quoted\u2019 here" and second == "plain text page"


@pytest.mark.parametrize("family", ["Helvetica", "Times-Roman", "Courier-Bold"])
def test_win_ansi_codes_above_ascii_read_like_pdfium(family: str) -> None:
    """Every code from 0x80 to 0xFF, inside words, alone between spaces, doubled and at a
    line's end (the non-breaking space is a space to PDFium, the soft hyphen a hyphen)."""
    streams = []
    for start in range(0x80, 0x100, 32):
        lines = [b"BT /F1 10 Tf ET"]
        for i, code in enumerate(range(start, start + 32)):
            char = b"\\%03o" % code
            text = b"ab" + char + b"cd " + char + b" " + char + char + b" end" + char
            lines.append(b"BT 72 %d Td (%s) Tj ET" % (760 - 20 * i, text))
        streams.append(b"\n".join(lines))
    assert_fast_reads_like_pdfium(stream_pdf(*streams, font=WIN_ANSI_FONT.format(family)))


def test_non_ascii_without_encoding_or_next_to_a_hyphen_goes_to_pdfium() -> None:
    without_encoding = fixtures.pdf(["caf\xe9 au lait"])
    hyphen_after = stream_pdf(b"BT /F1 12 Tf 72 700 Td (caf\\351-) Tj 0 -14 Td (next) Tj ET")
    hyphen_before = stream_pdf(b"BT /F1 12 Tf 72 700 Td (line-) Tj 0 -14 Td (\\351t\\351) Tj ET")
    for data in (without_encoding, hyphen_after, hyphen_before):
        assert fast_pages(data) == [None]
        assert extraction(data, fast=True) == extraction(data, fast=False)
    assert fast_pages(stream_pdf(b"BT /F1 12 Tf 72 700 Td (caf\\351 au lait) Tj ET")) == [
        "caf\xe9 au lait"
    ]


def test_an_empty_page_and_empty_strings() -> None:
    data = stream_pdf(b"", b"BT /F1 12 Tf 72 700 Td () Tj 0 -20 Td (after empty) Tj ET")
    assert assert_fast_reads_like_pdfium(data) == ["", "after empty"]


def random_page(r: random.Random) -> bytes:
    """Lines of random text (ASCII and WinAnsi codes above it, hyphens, space runs) shown by
    Tj, kerned TJ, hex strings under Tm, and Tj under a translating cm."""
    alphabet = (
        b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789    --.,;:'`\"!?()[]{}<>"
        b"/\\@#$%^&*_+=|~\xe9\xa0\xad\xfc\x80\x95\x81"
    )

    def literal(raw: bytes) -> bytes:
        return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")

    ops = [b"BT /F1 %d Tf ET" % r.choice([8, 9, 10, 12])]
    y = 780.0
    for _ in range(r.randint(1, 25)):
        text = bytes(r.choice(alphabet) for _ in range(r.randint(2, 30)))
        text += r.choice([b"", b"", b"-", b"  "])
        kind = r.random()
        if kind < 0.6:
            ops.append(b"BT 72 %.2f Td (%s) Tj ET" % (y, literal(text)))
        elif kind < 0.75:
            half = len(text) // 2
            kern = r.choice([-99, -50, 0, 30, 99])
            parts = b"(%s) %d (%s)" % (literal(text[:half]), kern, literal(text[half:]))
            ops.append(b"BT 72 %.2f Td [%s] TJ ET" % (y, parts))
        elif kind < 0.85:
            x = r.randint(0, 400)
            ops.append(b"BT 1 0 0 1 %d %.2f Tm <%s> Tj ET" % (x, y, text.hex().encode()))
        else:
            ops.append(b"q 1 0 0 1 0 %.2f cm BT 72 0 Td (%s) Tj ET Q" % (y, literal(text)))
        y -= r.choice([14, 12, 20, 25, -40])
    return b"\n".join(ops)


def test_random_pages_read_like_pdfium_whenever_the_fast_path_takes_them() -> None:
    r = random.Random(7)
    fonts = [WIN_ANSI_FONT.format(name) for name in ("Helvetica", "Times-Bold", "Courier")]
    fonts.append("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    taken = total = 0
    for _ in range(20):
        data = stream_pdf(*(random_page(r) for _ in range(5)), font=r.choice(fonts))
        for fast, want in zip(fast_pages(data), pdfium_pages(data), strict=True):
            total += 1
            if fast is not None:
                taken += 1
                assert fast == want
    assert taken >= total // 3  # the rest hit a rule (a copy of a line, a non-ASCII hyphen...)


# -- negative: these pages go to PDFium --------------------------------------------------------


@pytest.mark.parametrize(
    "stream",
    [
        b"BT /F1 12 Tf 72 700 Td (before image) Tj ET q 10 0 0 10 0 0 cm /Im1 Do Q",
        b"/Span << /ActualText (other) >> BDC BT /F1 12 Tf 72 700 Td (marked) Tj ET EMC",
        b"BT /F1 12 Tf 2 Tc 72 700 Td (spaced out) Tj ET",
        b"BT /F1 12 Tf 72 700 Td [(wide) -400 (gap)] TJ ET",
        b"BT /F1 12 Tf 72 700 Td (new\\nline escape) Tj ET",
        b"BT /F1 12 Tf 72 700 Td (tab\\tescape) Tj ET",
        b"BT /F1 12 Tf 72 700 Td (two on) Tj 80 0 Td (one line) Tj ET",
        b"BT /F1 12 Tf 72 700 Td (x) Tj ET",
        b"BT /F1 12 Tf 72 700 Td (same) Tj 0 -14 Td (same) Tj ET",
        b"BT /F1 12 Tf 2 0 0 2 72 700 Tm (scaled) Tj ET",
        b"q 0 1 -1 0 300 0 cm BT /F1 12 Tf 72 700 Td (rotated) Tj ET Q",
        b"BT /F1 12 Tf 72 700 Td (comment) Tj % a comment\nET",
        b"BT /F2 12 Tf 72 700 Td (unknown font) Tj ET",
        b"BT /F1 12 Tf 72 700 Td (lines too) Tj 0 -5 Td (close together) Tj ET",
        b"/F1 12 Tf 72 700 Td (outside a text object) Tj",
        b"BT /F1 12 Tf 72 700 Td (text object) Tj BT 0 -20 Td (inside another) Tj ET",
    ],
)
def test_pages_outside_the_fast_path_go_to_pdfium(stream: bytes) -> None:
    data = stream_pdf(stream)
    assert fast_pages(data) == [None]
    assert extraction(data, fast=True) == extraction(data, fast=False)


@pytest.mark.parametrize(
    ("font", "page_extra"),
    [
        (WIN_ANSI_FONT.format("Symbol"), ""),
        (WIN_ANSI_FONT.format("Arial"), ""),
        ("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 99 0 R >>", ""),
        ("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /FirstChar 32 /Widths [0] >>", ""),
        ("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /MacRomanEncoding >>", ""),
        (WIN_ANSI_FONT.format("Helvetica"), "/Rotate 90"),
        (WIN_ANSI_FONT.format("Helvetica"), "/CropBox [0 0 20 20]"),
    ],
)
def test_fonts_and_pages_outside_the_fast_path_go_to_pdfium(font: str, page_extra: str) -> None:
    data = stream_pdf(b"BT /F1 12 Tf 72 700 Td (some text) Tj ET", font=font, page_extra=page_extra)
    assert fast_pages(data) == [None]
    assert extraction(data, fast=True) == extraction(data, fast=False)


def test_documents_outside_the_fast_path_go_to_pdfium() -> None:
    plain = fixtures.pdf(["readable text", "second page"])
    owner_only = fixtures.encrypted_pdf(["readable text"], "")
    updated = plain + b"trailer\n<< /Size 6 /Root 1 0 R /Prev 9 >>\nstartxref\n9\n%%EOF\n"
    wrong_offset = plain.replace(b"0000000009 00000 n", b"0000000010 00000 n")
    for data in (owner_only, updated, wrong_offset, lying_page_tree()):
        count = len(pdfium.PdfDocument(data))
        assert open_fast_pdf(data, count) is None
        assert extraction(data, fast=True) == extraction(data, fast=False)
    assert open_fast_pdf(plain, 3) is None  # a page count other than PDFium's
    assert open_fast_pdf(plain, 1) is None
    text, report = extraction(owner_only, fast=True)
    assert "readable text" in text and not report["truncated"]


@pytest.mark.parametrize(
    "stream",
    [
        b"BT /F1 12 Tf 72 700 Td (outer (BT 72 690 Td (inner) Tj ET) nested) Tj ET",
        b"BT /F1 12 Tf 72 700 Td (outer \\(BT 72 690 Td (inner) Tj ET) Tj ET",
        b"BT /F1 12 Tf 72 700 Td (name next) Tj ET /F1BT 72 690 Td (glued) Tj ET",
        b"BT /F1 12 Tf 72 700 Td (a line) Tj ET [BT 72 690 Td (in an array) Tj ET]",
        b"/F1 12 Tf BT 72 700 Td (operands left before BT) Tj ET",
    ],
)
def test_line_shapes_inside_other_tokens_are_not_taken_for_lines(stream: bytes) -> None:
    data = stream_pdf(stream)
    (fast,) = fast_pages(data)
    assert fast is None or [fast] == pdfium_pages(data)
    assert extraction(data, fast=True) == extraction(data, fast=False)


# -- hostile input against the fast path -------------------------------------------------------


def lying_page_tree() -> bytes:
    """Three pages under two inner nodes whose /Count say 1 and 2 for 2 and 1 pages (the
    root's 3 is right): PDFium numbers pages through the counts."""
    font = WIN_ANSI_FONT.format("Helvetica").encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 3 >>",
        b"<< /Type /Pages /Parent 2 0 R /Kids [5 0 R 6 0 R] /Count 1 >>",
        b"<< /Type /Pages /Parent 2 0 R /Kids [7 0 R] /Count 2 >>",
    ]
    for number, parent in ((5, 3), (6, 3), (7, 4)):
        objects.append(
            b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 11 0 R >> >> >>" % (parent, number + 3)
        )
    for number in (5, 6, 7):
        stream = b"BT /F1 12 Tf 72 700 Td (text of page object %d) Tj ET" % number
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    objects.append(font)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def hostile_documents() -> Iterator[tuple[str, bytes]]:
    line = b"BT /F1 12 Tf 72 700 Td (token line) Tj ET\n"
    yield "deep object nesting", stream_pdf(line, page_extra="/Deep " + "[" * 5000 + "]" * 5000)
    yield "deep q nesting", stream_pdf(b"q " * 100_000 + line + b"Q " * 100_000)
    yield "deep array nesting in content", stream_pdf(line + b"[" * 100_000)
    bomb = line + b" " * (MAX_CONTENT_BYTES + 1024)
    yield "content past the cap", stream_pdf(bomb, compress=True)
    yield "damaged deflate", stream_pdf(line, compress=True).replace(b"x\x9c", b"x\x9d", 1)
    yield "length past the end", re.sub(rb"/Length \d+", b"/Length 99999", stream_pdf(line))
    yield "unterminated string", stream_pdf(b"BT /F1 12 Tf 72 700 Td (open " + b"x" * 100_000)
    loop = fixtures.pdf(["token line"]).replace(b"/Kids [3 0 R]", b"/Kids [2 0 R]")
    yield "page tree cycle", loop
    two = fixtures.pdf(["token line", "second page"])
    yield "page count that lies", two.replace(b"/Count 2", b"/Count 3")
    yield "inner page counts that lie", lying_page_tree()


HOSTILE = dict(hostile_documents())


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_input_gives_pdfiums_result(case: str) -> None:
    data = HOSTILE[case]
    count = len(pdfium.PdfDocument(data))
    fast = open_fast_pdf(data, count)
    if fast is not None:
        assert [fast.page_text(i) for i in range(count)] == [None] * count, case
    assert extraction(data, fast=True) == extraction(data, fast=False), case


def test_parsing_caps_send_the_file_to_pdfium(monkeypatch: pytest.MonkeyPatch) -> None:
    data = fixtures.pdf(["readable text", "second page"])
    assert open_fast_pdf(data, 2) is not None
    monkeypatch.setattr(pdf_fast, "MAX_XREF_ENTRIES", 5)
    assert open_fast_pdf(data, 2) is None
    monkeypatch.setattr(pdf_fast, "MAX_XREF_ENTRIES", 500)
    monkeypatch.setattr(pdf_fast, "MAX_OBJECT_TOKENS", 5)
    assert open_fast_pdf(data, 2) is None
    monkeypatch.undo()
    claimed = re.sub(rb"xref\n0 \d+", b"xref\n0 99999999", data)
    assert open_fast_pdf(claimed, 2) is None


def test_caps_and_deadline_truncate_the_same_way_on_the_fast_path() -> None:
    data = fpdf_document(
        [[f"page {p} line {i} with some words" for i in range(30)] for p in range(6)]
    )
    assert None not in fast_pages(data)
    for limits in (ExtractLimits(max_output_bytes=2500), ExtractLimits(max_pdf_pages=3)):
        fast = extraction(data, True, limits)
        assert fast == extraction(data, False, limits) and fast[1]["truncated"]

    def ticking_limits() -> ExtractLimits:
        ticks = iter(range(10_000))
        return ExtractLimits(max_seconds=3.5, clock=lambda: float(next(ticks)))

    fast = extraction(data, True, ticking_limits())
    assert fast == extraction(data, False, ticking_limits())
    assert fast[1]["truncated_reason"] == "time budget of 3.5 s spent" and fast[1]["pages"] < 6


def test_extract_text_reads_simple_pages_without_pdfiums_text_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Through ``extract_text``: simple pages never reach PDFium's page reader; with the fast
    path off they all do."""
    data = fpdf_document([["first page text", "more words"], ["second page text", "ok"]])
    reached: list[int] = []
    real = pdf_module._pdfium_page

    def counting(doc, index, *args):  # type: ignore[no-untyped-def]
        reached.append(index)
        return real(doc, index, *args)

    monkeypatch.setattr(pdf_module, "_pdfium_page", counting)
    fast_text, fast_report = extraction(data, fast=True)
    assert reached == []
    slow_text, slow_report = extraction(data, fast=False)
    assert reached == [0, 1]
    assert fast_text == slow_text and "second page text" in fast_text
    assert fast_report == slow_report == {"pages": 2, "truncated": False, "truncated_reason": None}
