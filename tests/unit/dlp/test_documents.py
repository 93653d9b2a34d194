"""Document verdicts: PDF on PDFium and on pypdf agree, a partly read file is never clean,
images are read by OCR when asked (and refused by their caps), and a missing Tesseract
makes images ``skipped: ocr_unavailable``."""

from __future__ import annotations

import io
import os
import shutil
import struct
import zlib
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from detectors.dlp.document import CLEAN, MATCHED, SKIPPED, scan_document
from detectors.dlp.extract import ExtractLimits, ExtractReport, OcrEngine, extract_text
from detectors.dlp.extract import pdf as pdf_module
from detectors.dlp.extract.ocr import rejoined_lines
from detectors.dlp.matcher import compile_policy
from detectors.dlp.profiles import PREDEFINED
from tests.unit.dlp import fixtures, images

TOKEN = "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"  # CRC32-valid
OPENAI_KEY = (
    "sk-proj-q7XvR2mTz9LpW4kNc8HyB3sJd6FgQ1aE5uVx0oYiKtZrT3BlbkFJa9Wm2Qx7Lp4Rz8Nc3Vb6Hy1Kd5Gf0Ts"
)
CARD = "4539 3681 9303 6426"  # Luhn-valid, not a published test number
POLICY = compile_policy(PREDEFINED.values())


#: The PDF reader the ``pdf_engine`` fixture chose (ExtractLimits fields), for ``verdict``.
READERS: dict[str, object] = {}


def verdict(name: str, data: bytes, limits: ExtractLimits | None = None, ocr=None):  # type: ignore[no-untyped-def]
    chosen = replace(limits or ExtractLimits(), **READERS)  # type: ignore[arg-type]
    return scan_document(name, io.BytesIO(data), POLICY, chosen, ocr)


@pytest.fixture(params=["pdfium", "pdfium-textpage", "pypdf"])
def pdf_engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The engine; ``pdfium-textpage`` is PDFium with the fast path off (every page through
    PDFium's text page), ``pdfium`` reads these simple pages on the fast path."""
    engine, _, variant = str(request.param).partition("-")
    monkeypatch.setitem(READERS, "pdf_engine", engine)
    monkeypatch.setitem(READERS, "pdf_fast", variant != "textpage")
    assert pdf_module.resolve_pdf_engine(engine) == engine
    return engine


@pytest.fixture
def tesseract() -> OcrEngine:
    if shutil.which("tesseract") is None:
        message = "tesseract is not installed: run scripts/ensure-tesseract.sh"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return OcrEngine()


# -- PDF: both engines, same verdicts ------------------------------------------------------


def test_pdf_engines_read_the_same_pages(pdf_engine: str) -> None:
    data = fixtures.pdf(["Employee SSN: 536-22-7789", f"token {TOKEN}", "nothing here"])
    report = ExtractReport()
    limits = replace(ExtractLimits(), **READERS)  # type: ignore[arg-type]
    text = b"".join(extract_text("a.pdf", io.BytesIO(data), limits, report)).decode()
    assert "536-22-7789" in text and TOKEN in text and "nothing here" in text
    assert report.format == "pdf" and report.pages == 3 and not report.truncated
    found = verdict("a.pdf", data)
    assert found.outcome == MATCHED
    assert {e.entry_id for e in found.match.entries} >= {"us_ssn", "github_pat_classic"}  # type: ignore[union-attr]
    assert verdict("b.pdf", fixtures.pdf(["quarterly numbers", "page two"])).outcome == CLEAN


def test_pdf_engines_agree_on_skips(pdf_engine: str) -> None:
    locked = verdict("s.pdf", fixtures.encrypted_pdf([f"token {TOKEN}"], "pw"))
    assert (locked.outcome, locked.reason) == (SKIPPED, "encrypted")
    owner_only = verdict("s.pdf", fixtures.encrypted_pdf([f"token {TOKEN}"], ""))
    assert owner_only.outcome == MATCHED
    broken = verdict("x.pdf", b"%PDF-1.4\nthis is not a pdf at all")
    assert (broken.outcome, broken.reason) == (SKIPPED, "corrupt")


def test_page_cap_without_a_match_is_truncated_not_clean(pdf_engine: str) -> None:
    data = fixtures.pdf(["intro", "more text", f"token {TOKEN}"])
    capped = verdict("a.pdf", data, ExtractLimits(max_pdf_pages=2))
    assert (capped.outcome, capped.reason) == (SKIPPED, "truncated")
    assert "2 pages" in capped.detail
    # a match in the pages read still counts, and the evidence says the rest was not read
    early = verdict(
        "a.pdf", fixtures.pdf([f"token {TOKEN}", "b", "c"]), ExtractLimits(max_pdf_pages=2)
    )
    assert early.outcome == MATCHED and "2 pages" in early.evidence()["truncated"]


def test_padded_pdf_is_never_reported_clean(monkeypatch: pytest.MonkeyPatch) -> None:
    """A token followed by 2.1 M padding tokens: PDFium reads it; pypdf gives up on the page
    (its token budget), and the file is then truncated, not clean."""
    data = fixtures.pdf([f"token {TOKEN}"], padding=2_100_000)
    found = verdict("padded.pdf", data, ExtractLimits(pdf_engine="pdfium"))
    assert found.outcome == MATCHED
    assert [e.entry_id for e in found.match.entries] == ["github_pat_classic"]  # type: ignore[union-attr]

    # pypdf hits the same limit on 2.1 M tokens after ~30 s; a smaller budget shows the
    # same path on a smaller file
    from pypdf._configuration import CURRENT_CONFIGURATION

    small = fixtures.pdf(["cover page", f"token {TOKEN}"], padding=21_000)
    budget = CURRENT_CONFIGURATION.get().with_overwrites(stream_parsing_work_maximum_count=20_000)
    reset = CURRENT_CONFIGURATION.set(budget)
    try:
        lost = verdict("padded.pdf", small, ExtractLimits(pdf_engine="pypdf"))
    finally:
        CURRENT_CONFIGURATION.reset(reset)
    assert lost.outcome == SKIPPED and lost.reason == "truncated"
    assert "page 1 could not be read" in lost.detail


def test_a_page_that_raises_marks_the_file_truncated(
    pdf_engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if pdf_engine == "pdfium":
        real = pdf_module._page

        def flaky(doc, fast, index, *args):  # type: ignore[no-untyped-def]
            if index == 1:
                raise RuntimeError("damaged page")
            return real(doc, fast, index, *args)

        monkeypatch.setattr(pdf_module, "_page", flaky)
    else:
        from pypdf import PageObject

        real_extract = PageObject.extract_text

        def flaky_extract(self, *a, **k):  # type: ignore[no-untyped-def]
            text = real_extract(self, *a, **k)
            if "second" in text:
                raise ValueError("damaged page")
            return text

        monkeypatch.setattr(PageObject, "extract_text", flaky_extract)
    data = fixtures.pdf(["first page", "second page", "third page"])
    report = ExtractReport()
    limits = replace(ExtractLimits(), **READERS)  # type: ignore[arg-type]
    text = b"".join(extract_text("a.pdf", io.BytesIO(data), limits, report)).decode()
    assert "first page" in text and "third page" in text and "second page" not in text
    assert report.truncated and report.truncated_reason == "page 2 could not be read"
    assert report.pages == 3
    assert verdict("a.pdf", data).reason == "truncated"


def test_pdfium_is_the_default_engine() -> None:
    assert pdf_module.resolve_pdf_engine() == "pdfium"
    assert ExtractLimits().pdf_engine == "pdfium"
    with pytest.raises(ValueError):
        pdf_module.resolve_pdf_engine("ghostscript")


# -- OCR -------------------------------------------------------------------------------------


def key_screenshot(fmt: str = "PNG", **params: object) -> bytes:
    shot = images.screenshot(
        ["$ export OPENAI_API_KEY=" + OPENAI_KEY, "$ python app.py"],
        font_name="DejaVuSans",
        size=16,
    )
    return images.encode(shot, fmt, **params)


def test_png_screenshot_of_an_openai_key_is_found_by_ocr(tesseract: OcrEngine) -> None:
    found = verdict("Screenshot 2026-12-01.png", key_screenshot(), ocr=tesseract)
    assert found.outcome == MATCHED
    evidence = found.evidence()
    entry = next(e for e in evidence["entries"] if e["entry_id"] == "openai_api_key")
    assert entry["ocr_count"] >= 1  # the evidence says the match came from OCR
    assert evidence["ocr"]["images_read"] == 1 and evidence["ocr"]["matches"] >= 1
    assert OPENAI_KEY not in str(evidence)  # masked, as every match


def test_photographed_card_number_is_found_by_ocr(tesseract: OcrEngine) -> None:
    photo = images.encode(images.card_photo(CARD), "JPEG", quality=80)
    found = verdict("IMG_2041.jpg", photo, ocr=tesseract)
    assert found.outcome == MATCHED
    entry = next(e for e in found.evidence()["entries"] if e["entry_id"].startswith("card_"))
    assert entry["entry_id"] == "card_visa" and entry["ocr_count"] == entry["count"] >= 1


@pytest.mark.parametrize(
    ("fmt", "params"),
    [("WEBP", {"lossless": True}), ("GIF", {}), ("TIFF", {"compression": "tiff_deflate"})],
)
def test_every_image_format_is_read(tesseract: OcrEngine, fmt: str, params: dict) -> None:  # type: ignore[type-arg]
    found = verdict(f"shot.{fmt.lower()}", key_screenshot(fmt, **params), ocr=tesseract)
    assert found.outcome == MATCHED and found.report.format == "image"


def test_images_without_ocr_stay_unsupported() -> None:
    skipped = verdict("shot.png", key_screenshot())
    assert (skipped.outcome, skipped.reason) == (SKIPPED, "unsupported_type")


def test_ocr_of_a_clean_image_is_clean(tesseract: OcrEngine) -> None:
    shot = images.screenshot(["Quarterly roadmap", "1. ship the new dashboard"], size=16)
    assert verdict("notes.png", images.encode(shot), ocr=tesseract).outcome == CLEAN


def _docx_with_picture(paragraph: str, picture: bytes) -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph(paragraph)
    document.add_picture(io.BytesIO(picture))
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def _pptx_with_picture(title: str, picture: bytes) -> bytes:
    import pptx

    deck = pptx.Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[5])
    slide.shapes.title.text = title
    slide.shapes.add_picture(io.BytesIO(picture), pptx.util.Inches(1), pptx.util.Inches(2))
    buf = io.BytesIO()
    deck.save(buf)
    return buf.getvalue()


def _pdf_with_picture(line: str, picture: bytes, copies: int = 1) -> bytes:
    from fpdf import FPDF

    doc = FPDF()
    for _ in range(copies):
        doc.add_page()
        doc.set_font("helvetica", size=12)
        doc.cell(text=line)
        doc.image(io.BytesIO(picture), x=10, y=30, w=190)
    return bytes(doc.output())


@pytest.mark.parametrize("kind", ["pdf", "docx", "pptx"])
def test_images_inside_documents_are_read(tesseract: OcrEngine, kind: str) -> None:
    build = {"pdf": _pdf_with_picture, "docx": _docx_with_picture, "pptx": _pptx_with_picture}
    data = build[kind]("Meeting notes, nothing secret here", key_screenshot())
    found = verdict(f"notes.{kind}", data, ocr=tesseract)
    assert found.outcome == MATCHED, found
    assert found.report.images == 1
    entry = next(e for e in found.evidence()["entries"] if e["entry_id"] == "openai_api_key")
    assert entry["ocr_count"] >= 1
    # without OCR the same document is clean: the key is only in the picture
    assert verdict(f"notes.{kind}", data).outcome == CLEAN


def test_the_same_image_on_every_pdf_page_is_read_once(tesseract: OcrEngine) -> None:
    data = _pdf_with_picture("page", key_screenshot(), copies=3)
    found = verdict("deck.pdf", data, ocr=tesseract)
    assert found.outcome == MATCHED and found.report.images == 1 and found.report.pages == 3


# -- without Tesseract -------------------------------------------------------------------------


@pytest.fixture
def no_tesseract(monkeypatch: pytest.MonkeyPatch) -> OcrEngine:
    import pytesseract

    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/bin/tesseract")
    return OcrEngine()


def test_without_tesseract_an_image_is_skipped_not_clean(no_tesseract: OcrEngine) -> None:
    for name, data in [
        ("shot.png", key_screenshot()),
        ("card.jpg", images.encode(images.card_photo(CARD), "JPEG")),
    ]:
        result = verdict(name, data, ocr=no_tesseract)
        assert (result.outcome, result.reason) == (SKIPPED, "ocr_unavailable")


def test_without_tesseract_a_document_with_images_is_not_clean(no_tesseract: OcrEngine) -> None:
    plain = _docx_with_picture("Meeting notes", key_screenshot())
    result = verdict("notes.docx", plain, ocr=no_tesseract)
    assert (result.outcome, result.reason) == (SKIPPED, "ocr_unavailable")
    # its text is still scanned: a match there is reported, with the unread image noted
    leaky = _docx_with_picture(f"token {TOKEN}", key_screenshot())
    found = verdict("notes.docx", leaky, ocr=no_tesseract)
    assert found.outcome == MATCHED
    assert found.evidence()["ocr"] == {
        "images_read": 0,
        "images_unread": 1,
        "unavailable": True,
        "matches": 0,
    }


def test_a_tesseract_that_hangs_is_killed_at_the_image_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pytesseract

    slow = tmp_path / "tesseract"
    slow.write_text("#!/bin/sh\nexec sleep 30\n")  # exec: the kill reaches the sleeper
    slow.chmod(0o755)
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", str(slow))
    limits = ExtractLimits(max_image_seconds=0.5)
    result = verdict("shot.png", key_screenshot(), limits, ocr=OcrEngine())
    assert (result.outcome, result.reason) == (SKIPPED, "timeout")


# -- caps against image bombs ----------------------------------------------------------------


class NeverOcr(OcrEngine):
    def read(self, image, seconds):  # type: ignore[no-untyped-def]
        raise AssertionError("a refused image must never reach OCR")


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height greyscale pixels (one zlib'd row)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" + b"\xff" * min(width, 4096), 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def test_pixel_bomb_is_refused_before_decoding() -> None:
    bomb = png_declaring(100_000, 100_000)  # 10 G pixels in a few hundred bytes
    assert len(bomb) < 1000
    result = verdict("bomb.png", bomb, ocr=NeverOcr())
    assert (result.outcome, result.reason) == (SKIPPED, "too_large")
    assert "pixel" in result.detail
    # the cap is ours, and Pillow's own limit is set to it explicitly
    capped = verdict(
        "wide.png",
        png_declaring(5000, 1000),
        ExtractLimits(max_image_pixels=4_000_000),
        ocr=NeverOcr(),
    )
    assert capped.reason == "too_large"
    assert Image.MAX_IMAGE_PIXELS == 4_000_000


def test_real_decompression_bomb_is_refused() -> None:
    """A genuinely encoded 6000x6000 white PNG (36 M pixels, ~35 KB) against a 10 M cap."""
    white = images.encode(Image.new("1", (6000, 6000), 1), optimize=True)
    assert len(white) < 100_000
    result = verdict("white.png", white, ExtractLimits(max_image_pixels=10_000_000), ocr=NeverOcr())
    assert (result.outcome, result.reason) == (SKIPPED, "too_large")


def test_image_byte_cap_and_frame_cap(tesseract: OcrEngine) -> None:
    big = verdict("shot.png", key_screenshot(), ExtractLimits(max_image_bytes=1000), ocr=NeverOcr())
    assert (big.outcome, big.reason) == (SKIPPED, "too_large")
    frames = [images.screenshot([f"frame {i}"], size=16) for i in range(4)]
    gif = io.BytesIO()
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:])
    capped = verdict("anim.gif", gif.getvalue(), ExtractLimits(max_image_frames=2), ocr=tesseract)
    assert capped.report.images == 2
    assert (capped.outcome, capped.reason) == (SKIPPED, "truncated")
    assert "2 image frames" in capped.detail


def test_bomb_inside_a_document_truncates_it_and_keeps_its_text() -> None:
    bomb = png_declaring(100_000, 100_000)
    data = fixtures._zip(
        {
            "word/document.xml": f'<w:document xmlns:w="{fixtures.W}"><w:body><w:p><w:r>'
            "<w:t>hello</w:t></w:r></w:p></w:body></w:document>",
            "word/media/image1.png": bomb,
        }
    )
    clean_text = verdict("x.docx", data, ocr=NeverOcr())
    assert (clean_text.outcome, clean_text.reason) == (SKIPPED, "truncated")
    assert clean_text.report.images_unread == 1


def test_embedded_image_count_cap() -> None:
    pictures = {f"ppt/media/image{i}.png": png_declaring(8, 8) for i in range(5)}
    data = fixtures._zip(
        {"ppt/presentation.xml": f'<p:presentation xmlns:p="{fixtures.P}"/>', **pictures}
    )
    # 8x8 images are below min_image_side: counted as neither read nor unread
    small = verdict("x.pptx", data, ExtractLimits(max_images=2), ocr=NeverOcr())
    assert small.outcome == CLEAN
    big = {f"ppt/media/image{i}.png": png_declaring(20_000, 20_000) for i in range(5)}
    data = fixtures._zip(
        {"ppt/presentation.xml": f'<p:presentation xmlns:p="{fixtures.P}"/>', **big}
    )
    capped = verdict("x.pptx", data, ExtractLimits(max_images=2), ocr=NeverOcr())
    assert capped.reason == "truncated" and capped.report.images_unread == 5


# -- OCR text repair ---------------------------------------------------------------------------


def test_rejoined_lines_glue_keys_split_by_ocr() -> None:
    read = "$ export OPENAI_API_KEY=sk-proj-q7XvR2mTz9LpW 4kNc8HyB3s]d6FgQ1 aE 5uVx0T3BlbkFJ\nok"
    assert rejoined_lines(read) == (
        "$ export OPENAI_API_KEY=sk-proj-q7XvR2mTz9LpW4kNc8HyB3sJd6FgQ1aE5uVx0T3BlbkFJ"
    )
    assert rejoined_lines("sk -proj-abc") == "sk-proj-abc"
    # prose is left alone
    assert rejoined_lines("the meeting is at noon - bring notes\nsecond line") == ""


def test_finding_evidence_keeps_the_ocr_facts_and_nothing_else(tesseract: OcrEngine) -> None:
    from detectors.dlp.decisions import FileRef, build_evidence

    found = verdict("shot.png", key_screenshot(), ocr=tesseract)
    match_evidence = {**found.evidence(), "raw_text": OPENAI_KEY}  # a stray field is not copied
    listed = {"kind": "conversation", "file_id": "file-1", "name": "shot.png", "parent_id": "c-1"}
    evidence = build_evidence(FileRef.from_listing("conversation", listed), match_evidence)
    entry = next(e for e in evidence["entries"] if e["entry_id"] == "openai_api_key")
    assert entry["ocr_count"] >= 1
    assert evidence["ocr"] == {
        "images_read": 1,
        "images_unread": 0,
        "unavailable": False,
        "matches": found.evidence()["ocr"]["matches"],
    }
    assert "truncated" not in evidence and OPENAI_KEY not in str(evidence)
    capped = verdict(
        "a.pdf", fixtures.pdf([f"token {TOKEN}", "b", "c"]), ExtractLimits(max_pdf_pages=1)
    )
    kept = build_evidence(FileRef.from_listing("conversation", listed), capped.evidence())
    assert kept["truncated"] == "more than 1 pages"


def test_a_token_ending_in_a_hyphen_at_a_line_end_keeps_its_hyphen(pdf_engine: str) -> None:
    """PDFium reads a line-ending hyphen as hyphenation (U+FFFE, lines joined): the hyphen is
    put back, so a token that ends with one is still whole."""
    from fpdf import FPDF

    token = "glpat-Rk2mWq9ZtL4xVb7Nc3Hd-"
    doc = FPDF()
    doc.add_page()
    doc.set_font("helvetica", size=10)
    doc.text(12, 20, f"PRIVATE-TOKEN: {token}")
    doc.text(12, 25, "Prompt the plan")
    limits = replace(ExtractLimits(), **READERS)  # type: ignore[arg-type]
    text = b"".join(extract_text("a.pdf", io.BytesIO(bytes(doc.output())), limits)).decode()
    assert token in text and "\ufffe" not in text
    found = verdict("a.pdf", bytes(doc.output()))
    assert [e.entry_id for e in found.match.entries] == ["gitlab_pat"]  # type: ignore[union-attr]


# -- one time budget, one truncated rule -----------------------------------------------------


def _ticking_limits(max_seconds: float) -> ExtractLimits:
    """Every clock reading is one second later: the budget is a number of readings."""
    ticks = iter(range(1, 1_000_000))
    return ExtractLimits(max_seconds=max_seconds, chunk_size=256, clock=lambda: float(next(ticks)))


def _long_text(first_line: str) -> bytes:
    return (first_line + "\n" + "plain words of an ordinary report\n" * 6_000).encode()


def test_time_budget_keeps_an_early_match_and_a_cut_short_file_without_one_is_not_clean() -> None:
    leaky = _long_text(f"token {TOKEN}")
    found = verdict("notes.txt", leaky, _ticking_limits(5))
    assert found.outcome == MATCHED
    assert found.truncated is not None and "time budget" in found.truncated
    assert found.evidence()["truncated"] == found.truncated

    plain = _long_text("nothing secret here")
    cut = verdict("notes.txt", plain, _ticking_limits(5))
    assert (cut.outcome, cut.reason) == (SKIPPED, "truncated")
    assert "time budget" in cut.detail
    # the same file read in full is clean
    assert verdict("notes.txt", plain).outcome == CLEAN


def test_a_deadline_given_by_the_caller_is_shared_by_extraction_and_matching() -> None:
    plain = _long_text("nothing secret here")
    limits = _ticking_limits(10_000)
    spent = scan_document("notes.txt", io.BytesIO(plain), POLICY, limits, deadline=3.0)
    assert (spent.outcome, spent.reason) == (SKIPPED, "truncated")


def test_memory_cap_while_matching_skips_the_file_as_too_large(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from detectors.dlp.matcher import MatchStream

    def exhausted(self: MatchStream, data: bytes) -> None:
        raise MemoryError

    monkeypatch.setattr(MatchStream, "feed", exhausted)
    result = verdict("notes.txt", _long_text(f"token {TOKEN}"))
    assert (result.outcome, result.reason) == (SKIPPED, "too_large")
    assert result.detail == "memory cap reached while matching"
