"""simulator.files: real documents in every format, planted values that validate, clean text that cannot."""

from __future__ import annotations

import csv
import io
import json
import random
import re
import xml.etree.ElementTree as ET
import zipfile
import zlib

import pypdf
import pytest

from simulator import files as sf

ALL = list(sf.PLANTABLE_PROFILES)
W_NS = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
S_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def extract_text(fmt: str, data: bytes) -> str:
    """An independent reader per format (the way a DLP extractor would read it)."""
    if fmt in ("txt", "md"):
        return data.decode()
    if fmt == "csv":
        return "\n".join(" ".join(row) for row in csv.reader(io.StringIO(data.decode())))
    if fmt == "json":
        doc = json.loads(data)
        return doc["title"] + "\n" + "\n".join(f"{r['label']} {r['value']}" for r in doc["records"])
    if fmt == "pdf":
        reader = pypdf.PdfReader(io.BytesIO(data))
        return "\n".join(page.extract_text() for page in reader.pages)
    if fmt == "docx":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            assert "[Content_Types].xml" in zf.namelist()
            root = ET.fromstring(zf.read("word/document.xml"))
        return "\n".join(
            "".join(t.text or "" for t in p.iter(W_NS + "t")) for p in root.iter(W_NS + "p")
        )
    if fmt == "xlsx":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            sst = ET.fromstring(zf.read("xl/sharedStrings.xml"))
            strings = [
                "".join(t.text or "" for t in si.iter(S_NS + "t")) for si in sst.iter(S_NS + "si")
            ]
            sheet = ET.fromstring(zf.read("xl/worksheets/sheet1.xml"))
        cells = [strings[int(v.text or "0")] for v in sheet.iter(S_NS + "v")]
        return "\n".join(cells)
    raise AssertionError(fmt)


def test_validators_on_known_values() -> None:
    assert sf.luhn_ok("4111111111111111")
    assert not sf.luhn_ok("4111111111111112")
    assert sf.iban_ok("GB82 WEST 1234 5698 7654 32")
    assert not sf.iban_ok("GB83WEST12345698765432")
    assert sf.ssn_ok("123-45-6780")
    for bad in (
        "000-12-3456",
        "666-12-3456",
        "912-34-5678",
        "123-00-4567",
        "123-45-0000",
        "078-05-1120",
    ):
        assert not sf.ssn_ok(bad), bad


@pytest.mark.parametrize("seed", range(30))
def test_planted_values_are_valid_of_their_kind(seed: int) -> None:
    entries = sf.planted_entries(random.Random(seed), ALL)
    kinds = {e.entry for e in entries}
    assert {"AWS Access Key ID", "OpenAI API Key", "IBAN", "Visa Card Number"} <= kinds
    for e in entries:
        if e.entry.endswith("Card Number"):
            digits = re.sub(r"\D", "", e.value)
            assert len(digits) == 16 and sf.luhn_ok(digits)
            assert digits[0] in "45"
        elif e.entry == "IBAN":
            assert sf.iban_ok(e.value) and e.value.startswith("GB")
        elif e.entry.startswith("United States SSN"):
            assert sf.ssn_ok(e.value)
        elif e.entry == "AWS Access Key ID":
            assert re.fullmatch(r"AKIA[A-Z2-7]{16}", e.value) and "EXAMPLE" not in e.value
        elif e.entry == "OpenAI API Key":
            assert re.fullmatch(r"sk-proj-[A-Za-z0-9]{74}T3BlbkFJ[A-Za-z0-9]{74}", e.value)
        elif e.entry == "GitHub Personal Access Token":
            body, crc = e.value[4:34], e.value[34:]
            assert e.value.startswith("ghp_") and len(e.value) == 40
            assert crc == sf._b62encode(zlib.crc32(body.encode())).rjust(6, "0")
        elif e.entry == "SSH Private Key":
            assert e.value.startswith("-----BEGIN RSA PRIVATE KEY-----")
            assert e.value.endswith("-----END RSA PRIVATE KEY-----")


@pytest.mark.parametrize("seed", range(30))
def test_near_misses_fail_their_validators(seed: int) -> None:
    for label, value in sf.near_miss_values(random.Random(seed)):
        digits = re.sub(r"\D", "", value)
        if label == "reference":
            assert len(digits) == 16 and not sf.luhn_ok(digits)
        elif label == "account":
            assert value.startswith("GB") and not sf.iban_ok(value)
        else:
            assert re.fullmatch(r"\d{3}-\d{2}-\d{4}", value) and not sf.ssn_ok(value)
            # not an ITIN either (9xx with group 50-65, 70-88, 90-92, 94-99)
            assert not (value.startswith("9") and int(value[4:6]) >= 50)


@pytest.mark.parametrize("fmt", sf.FORMATS)
def test_every_format_carries_the_planted_values(fmt: str) -> None:
    data, entries = sf.generate_content(7, "file-abc", f"payroll_export.{fmt}", fmt, "planted", ALL)
    text = extract_text(fmt, data)
    assert entries
    for e in entries:
        for line in e.value.split("\n"):
            assert line in text, (fmt, e.entry)


@pytest.mark.parametrize("fmt", sf.FORMATS)
@pytest.mark.parametrize("variant", ["clean", "near_miss"])
def test_clean_and_near_miss_text_has_nothing_a_matcher_could_confirm(
    fmt: str, variant: str
) -> None:
    for i in range(15):
        data, entries = sf.generate_content(
            i, f"file-{i}", f"harbor_notes_{i}.{fmt}", fmt, variant, ()
        )
        assert entries == []
        text = extract_text(fmt, data)
        lowered = text.lower()
        for word in (
            "visa",
            "mastercard",
            "amex",
            "american express",
            "ssn",
            "social security",
            "cvv",
        ):
            assert word not in lowered
        assert "@" not in text and "AKIA" not in text and "ghp_" not in text and "sk-" not in text
        assert "BEGIN" not in text
        for run in re.findall(r"\d+", text):
            if variant == "clean":
                assert len(run) <= 4, run
        for card in re.findall(r"\b(?:\d{4}[ -]?){3}\d{4}\b", text):
            assert not sf.luhn_ok(card)
        for ssn in re.findall(r"\b\d{3}-\d{2}-\d{4}\b", text):
            assert not sf.ssn_ok(ssn)
        for iban in re.findall(r"\bGB\d{2}[A-Z]{4}\d{14}\b", text):
            assert not sf.iban_ok(iban)


def test_same_inputs_give_the_same_bytes_and_different_ids_differ() -> None:
    a = sf.generate_content(1, "file-x", "a.docx", "docx", "planted", ALL)
    b = sf.generate_content(1, "file-x", "a.docx", "docx", "planted", ALL)
    c = sf.generate_content(1, "file-y", "a.docx", "docx", "planted", ALL)
    assert a == b
    assert a[0] != c[0]


def test_pdf_is_structurally_valid_with_several_pages() -> None:
    lines = [f"line {i} (with parens) and a back\\slash" for i in range(130)]
    data = sf.build_pdf(lines, lines_per_page=50)
    reader = pypdf.PdfReader(io.BytesIO(data), strict=True)
    assert len(reader.pages) == 3
    text = "\n".join(p.extract_text() for p in reader.pages)
    assert "line 129 (with parens) and a back\\slash" in text
    # the xref offsets point at the objects
    xref_at = int(data.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    assert data[xref_at : xref_at + 4] == b"xref"


def test_corrupt_files_do_not_parse() -> None:
    rng = random.Random(3)
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(sf.corrupt_bytes("docx", rng)))
    with pytest.raises(pypdf.errors.PdfReadError):
        pypdf.PdfReader(io.BytesIO(sf.corrupt_bytes("pdf", rng)), strict=True).pages[
            0
        ].extract_text()


def test_zip_bomb_is_small_but_inflates_past_its_declared_size() -> None:
    data = sf.zip_bomb(8 * 1024 * 1024)
    assert len(data) < 100 * 1024
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        info = zf.getinfo("word/document.xml")
        assert info.file_size > 8 * 1024 * 1024
        assert info.file_size / info.compress_size > 500


def test_large_stream_has_the_exact_size_in_chunks() -> None:
    chunks = list(sf.large_text_stream(3 * 1024 * 1024 + 17, chunk=1024 * 1024))
    assert len(chunks) == 4
    assert sum(len(c) for c in chunks) == 3 * 1024 * 1024 + 17
    assert not re.search(rb"\d{5}", b"".join(chunks))


def test_unknown_profile_cannot_be_planted() -> None:
    with pytest.raises(ValueError, match="unknown profile"):
        sf.planted_entries(random.Random(1), ["PII"])
