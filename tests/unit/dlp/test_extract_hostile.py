"""Hostile files: element bombs, huge string tables, deep nesting, hidden DTDs, mixed encodings.

Memory is measured in a child process (its peak RSS from /proc), so the test process's own
heap does not blur the figure."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from detectors.dlp.extract import ExtractLimits, ExtractReport, SkipFile, extract_text
from detectors.dlp.matcher import compile_policy
from detectors.dlp.profiles import PREDEFINED
from tests.unit.dlp import fixtures

MiB = 1024 * 1024
SSN = "536-22-7789"
AWS_KEY = "AKIAQWERTYUIOPASDFGH"

# Runs in a child: extract the file with a clock that advances one second per reading (so
# the time budget is a number of parser blocks, not wall time) and report the peak RSS.
_CHILD = """
import io, itertools, json, sys
from detectors.dlp.extract import ExtractLimits, ExtractReport, SkipFile, extract_text

def hwm_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

path, max_seconds = sys.argv[1], float(sys.argv[2])
ticks = itertools.count()
limits = ExtractLimits(max_seconds=max_seconds, clock=lambda: float(next(ticks)))
report = ExtractReport()
before = hwm_kib()
found, tail = False, b""
with open(path, "rb") as fh:
    for chunk in extract_text(path, fh, limits, report):
        found = found or b"SECRET-MARKER-" in tail + chunk
        tail = chunk[-64:]
print(json.dumps({
    "before_kib": before, "peak_kib": hwm_kib(), "truncated": report.truncated,
    "reason": report.truncated_reason, "bytes_out": report.bytes_out,
    "has_secret": found,
}))
"""


def _extract_in_child(path: Path, max_seconds: float) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), str(max_seconds)],
        capture_output=True,
        check=True,
        timeout=240,
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def _stored_zip(path: Path, parts: dict[str, bytes | list[bytes]]) -> None:
    """A zip written part by part (lists are streamed), stored so no ratio cap applies."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for name, body in parts.items():
            with zf.open(name, "w", force_zip64=True) as fh:
                for piece in [body] if isinstance(body, bytes) else body:
                    fh.write(piece)


def test_element_bomb_docx_stays_small_and_is_truncated(tmp_path: Path) -> None:
    """54 MB of empty elements (1.6 million): an element tree kept every one of them (about
    0.5 GB for this file); expat callbacks keep nothing per element. The clock here ticks
    once per 64 KiB block, so the 780 s budget runs out after ~51 MB: almost the whole bomb
    is parsed before ``truncated`` cuts it short."""
    block = b'<w:proofErr w:type="spellStart"/>' * 30_000
    body = [b'<?xml version="1.0"?><w:document xmlns:w="urn:w"><w:body><w:p><w:r><w:t>']
    body += [b"SECRET-MARKER-1</w:t></w:r>"] + [block] * 55 + [b"</w:p></w:body></w:document>"]
    path = tmp_path / "bomb.docx"
    _stored_zip(path, {"[Content_Types].xml": b"<Types/>", "word/document.xml": body})
    assert path.stat().st_size > 54_000_000
    result = _extract_in_child(path, max_seconds=780)
    assert result["truncated"] is True
    assert result["reason"] == "time budget of 780 s spent"
    assert result["has_secret"] is True  # text read before the cut is kept
    assert int(str(result["peak_kib"])) < 300 * 1024


def test_shared_strings_table_is_capped(tmp_path: Path) -> None:
    """A 32 MiB sharedStrings.xml: the table kept for cell lookups stops at the character cap,
    later strings are still scanned (out of cell order) and the file says ``truncated``."""
    si = b"<si><t>" + b"x" * 100 + b"</t></si>"
    count = (32 * MiB) // len(si)
    strings = [b'<sst xmlns="urn:s">', si * count, b"<si><t>SECRET-MARKER-2</t></si>", b"</sst>"]
    sheet = b'<worksheet><sheetData><row><c t="s"><v>0</v></c></row></sheetData></worksheet>'
    path = tmp_path / "strings.xlsx"
    _stored_zip(
        path,
        {
            "xl/workbook.xml": b"<workbook/>",
            "xl/sharedStrings.xml": strings,
            "xl/worksheets/sheet1.xml": sheet,
        },
    )
    result = _extract_in_child(path, max_seconds=10_000)
    assert result["truncated"] is True
    assert "shared strings past 200000 strings or 16777216 characters" in str(result["reason"])
    assert result["has_secret"] is True
    assert int(str(result["peak_kib"])) - int(str(result["before_kib"])) < 150 * 1024


def test_shared_string_count_cap_keeps_lookups_below_it() -> None:
    rows: list[list[str | int]] = [[f"s{i}"] for i in range(50)]
    data = fixtures.xlsx(rows)
    report = ExtractReport()
    text = b"".join(
        extract_text("b.xlsx", io.BytesIO(data), ExtractLimits(max_shared_strings=10), report)
    ).decode()
    assert report.truncated and "shared strings past 10 strings" in str(report.truncated_reason)
    # every string is still in the text: the first 10 in their cells, the rest up front
    assert all(f"s{i}" in text for i in range(50))


def test_shared_strings_no_cell_shows_are_still_scanned() -> None:
    strings = "".join(f"<si><t>{t}</t></si>" for t in ["shown", f"hidden SSN {SSN}"])
    data = fixtures._zip(
        {
            "xl/workbook.xml": "<workbook/>",
            "xl/sharedStrings.xml": f"<sst>{strings}</sst>",
            "xl/worksheets/sheet1.xml": '<worksheet><sheetData><row><c t="s"><v>0</v></c>'
            "</row></sheetData></worksheet>",
        }
    )
    text, _ = _text("book.xlsx", data)
    assert text.index("shown") < text.index(f"hidden SSN {SSN}")
    assert text.count("shown") == 1


def test_deep_nesting_is_truncated_not_kept() -> None:
    depth = 200_000
    xml = (
        '<w:document xmlns:w="urn:w"><w:body><w:p><w:r><w:t>before</w:t></w:r></w:p>'
        + "<w:x>" * depth
        + "</w:x>" * depth
        + "</w:body></w:document>"
    )
    report = ExtractReport()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("word/document.xml", xml)
    data = buf.getvalue()
    text = b"".join(extract_text("d.docx", io.BytesIO(data), ExtractLimits(), report))
    assert report.truncated and report.truncated_reason == "XML nested deeper than 1000 elements"
    assert b"before" in text


@pytest.mark.parametrize(
    "xml",
    [
        # after a long prefix (well past any fixed-size head check)
        "<?xml version='1.0'?><!--" + "p" * 200_000 + '--><!DOCTYPE d [<!ENTITY e "x">]><d>&e;</d>',
        # an internal subset alone, no entity use
        '<?xml version="1.0"?>\n\n<!DOCTYPE w:document SYSTEM "urn:x"><w:document/>',
    ],
)
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_dtd_is_refused_at_any_position_in_any_encoding(xml: str, encoding: str) -> None:
    if encoding != "utf-8":
        xml = xml.replace("version='1.0'?>", "version='1.0' encoding='UTF-16'?>")
        xml = xml.replace('version="1.0"?>', 'version="1.0" encoding="UTF-16"?>')
    part = xml.encode(encoding)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("word/document.xml", part)
    with pytest.raises(SkipFile) as info:
        list(extract_text("x.docx", io.BytesIO(buf.getvalue())))
    assert info.value.reason == "corrupt" and "DTD" in info.value.detail


def _text(name: str, data: bytes) -> tuple[str, ExtractReport]:
    report = ExtractReport()
    out = b"".join(extract_text(name, io.BytesIO(data), ExtractLimits(), report))
    return out.decode("utf-8"), report


def _found(text: str) -> set[str]:
    result = compile_policy(PREDEFINED.values()).scan_bytes(text.encode())
    return {e.entry_id for e in result.entries}


@pytest.mark.parametrize("endian", ["utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("head_len", [100_000, 70_001, 1_000])
def test_ascii_head_then_utf16_body_does_not_hide_a_secret(endian: str, head_len: int) -> None:
    head = b"harmless ascii line\n" * (head_len // 20) + b"x" * (head_len % 20)
    body = f"\nconfig: aws_access_key_id = {AWS_KEY}\nSSN {SSN}\n".encode(endian) * 2_000
    text, report = _text("notes.txt", head + body)
    assert AWS_KEY in text and f"SSN {SSN}" in text
    assert text.startswith("harmless ascii line\n")
    assert {"aws_access_key_id", "us_ssn"} <= _found(text)
    if head_len > 1000:  # a short head is detected as UTF-16 outright; a long one switches
        # (ASCII reads the same as big-endian or as little-endian one byte earlier)
        assert str(report.encoding).startswith("utf-8+utf-16-")


def test_utf16_head_then_ascii_body_does_not_hide_a_secret() -> None:
    head = ("some words " * 8_000).encode("utf-16")  # BOM + 176 KB of UTF-16
    body = f"\nSSN {SSN} in plain ascii after the utf-16 part\n".encode() * 20
    text, report = _text("notes.txt", head + body)
    assert f"SSN {SSN} in plain ascii" in text
    assert str(report.encoding).endswith("+utf-8")


def test_nul_sprinkled_ascii_is_still_read() -> None:
    """Below the switch threshold, NULs are dropped rather than splitting tokens."""
    data = b"ok " * 30_000 + f"SSN {SSN}".encode("utf-16-le") + b" more ascii " * 30_000
    text, _ = _text("n.txt", data)
    assert f"SSN {SSN}" in text


class _Exhausting(io.RawIOBase):
    """A readable stream that runs out of memory after handing out some text."""

    def __init__(self) -> None:
        self._left = 3

    def readable(self) -> bool:
        return True

    def readinto(self, b: memoryview) -> int:  # type: ignore[override]
        if self._left == 0:
            raise MemoryError
        self._left -= 1
        data = (f"SSN {SSN} ".encode() * 10_000)[: len(b)]
        b[: len(data)] = data
        return len(data)


def test_memory_cap_mid_file_truncates_and_keeps_the_text() -> None:
    report = ExtractReport()
    src = io.BufferedReader(_Exhausting())
    text = b"".join(extract_text("m.txt", src, ExtractLimits(), report))
    assert report.truncated and report.truncated_reason == "memory cap reached while extracting"
    assert SSN.encode() in text
