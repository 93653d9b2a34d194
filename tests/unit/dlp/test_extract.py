"""Text extraction: every format, encodings, streaming, and the skip reasons."""

from __future__ import annotations

import io
import itertools
import zipfile
from typing import BinaryIO, cast

import pytest

from detectors.dlp.extract import ExtractLimits, ExtractReport, SkipFile, extract_text
from detectors.dlp.matcher import compile_policy
from detectors.dlp.profiles import PREDEFINED
from tests.unit.dlp import fixtures


class OneWay(io.RawIOBase):
    """A non-seekable stream (like an HTTP body) that hands out small reads."""

    def __init__(self, data: bytes, step: int = 1000) -> None:
        self._data = data
        self._pos = 0
        self._step = step

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def read(self, n: int = -1) -> bytes:
        n = self._step if n < 0 else min(n, self._step)
        out = self._data[self._pos : self._pos + n]
        self._pos += len(out)
        return out


def one_way(data: bytes, step: int = 1000) -> BinaryIO:
    return cast(BinaryIO, OneWay(data, step))


def text_of(
    name: str, data: bytes | BinaryIO, limits: ExtractLimits | None = None
) -> tuple[str, ExtractReport]:
    report = ExtractReport()
    src = io.BytesIO(data) if isinstance(data, bytes) else data
    chunks = list(extract_text(name, src, limits or ExtractLimits(), report))
    return b"".join(chunks).decode("utf-8"), report


def skip_reason(name: str, data: bytes | BinaryIO, limits: ExtractLimits | None = None) -> str:
    with pytest.raises(SkipFile) as info:
        text_of(name, data, limits)
    return info.value.reason


# -- plain text -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["notes.txt", "README.md", "data.csv", "x.json", "app.py", "x.log"]
)
def test_text_formats_pass_through(name: str) -> None:
    body = "line one\nSSN 536-22-7789, caf\u00e9 \u6771\u4eac\n"
    text, report = text_of(name, body.encode())
    assert text == body
    assert report.format == "text" and report.encoding == "utf-8"


@pytest.mark.parametrize(
    ("encoding", "expect"),
    [("cp1252", "cp1252"), ("utf-16", "utf-16"), ("utf-8-sig", "utf-8-sig"), ("shift_jis", None)],
)
def test_encodings_are_detected(encoding: str, expect: str | None) -> None:
    if encoding == "shift_jis":
        body = (
            "\u65e5\u672c\u8a9e\u306e\u6587\u66f8\u3067\u3059\u3002\u79d8\u5bc6\u3067\u3059\u3002"
            * 30
        )
    else:
        body = "Caf\u00e9 M\u00fcller na\u00efve r\u00e9sum\u00e9 \u00e0 la cr\u00e8me. " * 20
    text, report = text_of("doc.txt", body.encode(encoding))
    assert text == body
    assert report.encoding is not None
    if expect:
        assert report.encoding.replace("_", "-") == expect


def test_text_is_chunked_and_streamed_from_non_seekable_source() -> None:
    line = "0123456789 abcdefghij \u00e9\u00e8\n"
    body = line * 20_000  # ~480 KB
    limits = ExtractLimits(chunk_size=64 * 1024)
    report = ExtractReport()
    chunks = list(extract_text("big.log", one_way(body.encode("utf-8"), 777), limits, report))
    assert len(chunks) > 5
    assert all(len(c) < 2 * 64 * 1024 for c in chunks)
    assert b"".join(chunks).decode() == body
    assert report.bytes_in == len(body.encode())


def test_invalid_utf8_bytes_are_replaced_not_fatal() -> None:
    data = b"token ok\n" * 100 + b"\xff\xfe bad \xc3 tail\n"
    text, _ = text_of("x.txt", data)
    assert "token ok" in text and "tail" in text


def test_unknown_extension_that_is_text_is_scanned() -> None:
    text, report = text_of("Makefile.orig", b"export KEY=value\n")
    assert text == "export KEY=value\n" and report.format == "text"


# -- office formats -------------------------------------------------------------------------


def test_docx() -> None:
    data = fixtures.docx(
        ["First paragraph with card 4539 1488 0343 6467.", "Second & <last> one."],
        header="Confidential header",
        table=[["Name", "SSN"], ["Ada", "536-22-7789"]],
    )
    text, report = text_of("report.docx", data)
    assert "First paragraph with card 4539 1488 0343 6467.\n" in text
    assert "Second & <last> one.\n" in text
    assert "536-22-7789" in text and "Confidential header" in text
    assert report.format == "docx" and report.parts == 2


def test_xlsx_shared_and_inline_strings() -> None:
    rows: list[list[str | int]] = [["name", "routing"], ["Ada", "021000021"], ["n", 42]]
    text, report = text_of("book.xlsx", fixtures.xlsx(rows))
    assert "name\trouting\t\nAda\t021000021\t\nn\t42\t\n" in text
    assert report.format == "xlsx"
    text2, _ = text_of("book.xlsx", fixtures.xlsx(rows, shared=False))
    assert "Ada\t021000021" in text2


@pytest.mark.usefixtures("slide_reader")
def test_pptx_slides_in_numeric_order_and_notes() -> None:
    data = fixtures.pptx([["one"], ["two"], ["ten", "ten b"]], notes=["speaker note"])
    text, report = text_of("deck.pptx", data)
    assert text.index("one") < text.index("two") < text.index("ten") < text.index("speaker")
    assert report.format == "pptx" and report.parts == 4


def test_office_sniffed_without_extension() -> None:
    text, report = text_of("download", fixtures.docx(["hello"]))
    assert "hello" in text and report.format == "docx"


def test_office_from_non_seekable_stream() -> None:
    text, _ = text_of("x.docx", one_way(fixtures.docx(["streamed"]), 100))
    assert "streamed" in text


# -- pdf ------------------------------------------------------------------------------------


def test_pdf_pages() -> None:
    text, report = text_of("a.pdf", fixtures.pdf(["Page one SSN 536-22-7789", "Page two"]))
    assert "Page one SSN 536-22-7789" in text and "Page two" in text
    assert report.format == "pdf" and report.pages == 2


def test_pdf_page_cap_truncates() -> None:
    data = fixtures.pdf([f"page {i}" for i in range(5)])
    text, report = text_of("a.pdf", data, ExtractLimits(max_pdf_pages=2))
    assert "page 1" in text and "page 2" not in text
    assert report.truncated and report.pages == 2


def test_pdf_encrypted_with_password_is_skipped() -> None:
    assert skip_reason("s.pdf", fixtures.encrypted_pdf(["secret"], "pw")) == "encrypted"


def test_pdf_encrypted_with_empty_user_password_is_read() -> None:
    text, _ = text_of("s.pdf", fixtures.encrypted_pdf(["readable text"], ""))
    assert "readable text" in text


# -- skips ----------------------------------------------------------------------------------


def test_corrupt_files() -> None:
    assert skip_reason("x.pdf", b"%PDF-1.4\nthis is not a pdf at all") == "corrupt"
    assert skip_reason("x.pdf", b"hello") == "corrupt"
    assert skip_reason("x.docx", b"PK\x03\x04" + b"\x00" * 100) == "corrupt"
    assert skip_reason("x.docx", b"plain text named docx") == "corrupt"
    good = fixtures.docx(["hello world " * 50])
    assert skip_reason("x.docx", good[: len(good) // 2]) == "corrupt"
    broken = fixtures._zip({"word/document.xml": "<w:document><w:body><w:p>"})
    assert skip_reason("x.docx", broken) == "corrupt"


def test_dtd_in_xml_part_is_refused() -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><w:document>&lol2;</w:document>'
    )
    assert skip_reason("x.docx", fixtures._zip({"word/document.xml": bomb})) == "corrupt"


def test_crc_mismatch_is_corrupt() -> None:
    data = bytearray(fixtures.docx(["abcdefgh " * 200]))
    # flip a byte inside the deflated body of the document part
    i = data.find(b"word/document.xml") + len("word/document.xml") + 20
    data[i] ^= 0xFF
    assert skip_reason("x.docx", bytes(data)) == "corrupt"


def test_encrypted_office_files() -> None:
    cfb = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600
    assert skip_reason("secret.docx", cfb) == "encrypted"
    assert skip_reason("secret.xlsx", cfb) == "encrypted"
    flagged = fixtures.set_zip_encrypted_flag(fixtures.docx(["x"]))
    assert skip_reason("x.docx", flagged) == "encrypted"


def _bomb(size: int, entries: int = 1) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("word/document.xml", "<w:document/>")
        for i in range(entries):
            zf.writestr(f"word/media/blob{i}.bin", b"\x00" * size)
    return buf.getvalue()


def test_zip_bombs() -> None:
    assert skip_reason("x.docx", _bomb(4 * 1024 * 1024)) == "zip_bomb"  # ratio ~1000:1
    many = ExtractLimits(max_zip_entries=10)
    assert skip_reason("x.docx", _bomb(10, entries=20), many) == "zip_bomb"
    small_total = ExtractLimits(max_zip_total_bytes=50_000, max_compression_ratio=1e9)
    assert skip_reason("x.docx", _bomb(40_000, entries=2), small_total) == "zip_bomb"
    per_entry = ExtractLimits(max_zip_entry_bytes=1000)
    assert skip_reason("x.docx", _bomb(2000), per_entry) == "zip_bomb"


def test_too_large() -> None:
    limits = ExtractLimits(max_input_bytes=1000)
    assert skip_reason("x.txt", b"a" * 1001, limits) == "too_large"
    assert skip_reason("x.txt", one_way(b"a" * 200_000), limits) == "too_large"
    assert skip_reason("x.pdf", one_way(fixtures.pdf(["x" * 2000])), limits) == "too_large"
    text, _ = text_of("x.txt", b"a" * 1000, limits)
    assert len(text) == 1000


def test_output_cap_truncates() -> None:
    limits = ExtractLimits(max_output_bytes=100_000, chunk_size=10_000)
    text, report = text_of("x.txt", b"b" * 300_000, limits)
    assert len(text) == 100_000 and report.truncated


def test_time_budget_truncates_and_keeps_the_text_read() -> None:
    ticks = itertools.count(0, 10)
    limits = ExtractLimits(max_seconds=25, clock=lambda: float(next(ticks)), chunk_size=1000)
    text, report = text_of("x.txt", b"c" * 1_000_000, limits)
    assert report.truncated and report.truncated_reason == "time budget of 25 s spent"
    assert 0 < len(text) < 1_000_000 and set(text) == {"c"}


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("photo.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4),
        ("x.jpg", b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4),
        ("blob.bin", bytes(range(256)) * 40),
        ("old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600),
        ("archive.zip", fixtures._zip({"a.txt": "hello"})),
        ("x.gz", b"\x1f\x8b\x08\x00" + b"\x00" * 50),
    ],
)
def test_unsupported_types(name: str, data: bytes) -> None:
    assert skip_reason(name, data) == "unsupported_type"


def test_skip_message_has_no_content() -> None:
    secret = "ghp_" + "Zk3p9QvT2mLw8RxN4bYcQ1w2E3r4T5y6U7i8"
    with pytest.raises(SkipFile) as info:
        text_of("x.txt", secret.encode() * 100, ExtractLimits(max_input_bytes=100))
    assert secret not in str(info.value) and secret[:8] not in repr(info.value)
    with pytest.raises(ValueError):
        SkipFile("nope")


# -- extraction + matcher -------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["docx", "xlsx", "pptx", "pdf", "txt"])
def test_extracted_text_feeds_the_matcher(kind: str) -> None:
    ssn_line = "Employee SSN: 536-22-7789"
    token = "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"  # CRC32-valid
    data = {
        "docx": lambda: fixtures.docx([ssn_line, f"token {token}"]),
        "xlsx": lambda: fixtures.xlsx([[ssn_line], [f"token {token}"]]),
        "pptx": lambda: fixtures.pptx([[ssn_line], [f"token {token}"]]),
        "pdf": lambda: fixtures.pdf([ssn_line, f"token {token}"]),
        "txt": lambda: f"{ssn_line}\ntoken {token}\n".encode(),
    }[kind]()
    policy = compile_policy(PREDEFINED.values())
    result = policy.scan(
        extract_text(f"file.{kind}", io.BytesIO(data), ExtractLimits(chunk_size=16))
    )
    ids = {m.entry_id for m in result.entries}
    assert {"us_ssn", "github_pat_classic"} <= ids


def test_skip_during_matching_propagates_and_releases_the_stream() -> None:
    policy = compile_policy(PREDEFINED.values())
    data = b"Employee SSN: 536-22-7789\n" * 1000
    with pytest.raises(SkipFile) as info:
        policy.scan(extract_text("x.txt", one_way(data), ExtractLimits(max_input_bytes=5000)))
    assert info.value.reason == "too_large"
    # the policy is still usable afterwards
    assert policy.scan_bytes(b"Employee SSN: 536-22-7789 and (415) 867-5309").matched
