"""The bulk OOXML scanner against expat: the same text for every shape, expat for the rest.

Every case extracts the same file twice, once with ``ExtractLimits(ooxml_scanner="expat")`` (the
reference) and once with the bulk scanner, and compares the text, the report and the skip
reason. Cases that the bulk scanner must hand back to expat are checked to really bail, and
the common shapes to really stay on the bulk path."""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detectors.dlp.extract import ExtractLimits, ExtractReport, SkipFile, extract_text
from detectors.dlp.extract import ooxml_fast as bulk
from detectors.dlp.extract.errors import Budget
from detectors.dlp.matcher import compile_policy
from detectors.dlp.profiles import PREDEFINED
from tests.unit.dlp import fixtures

S = fixtures.S
SSN = "536-22-7789"
AWS_KEY = "AKIAQWERTYUIOPASDFGH"


def _run(
    name: str, data: bytes, limits: ExtractLimits | None = None, scanner: str = "bulk"
) -> tuple[str, str | None, tuple[str, int, bool, str | None]]:
    report = ExtractReport()
    chosen = replace(limits or ExtractLimits(), ooxml_scanner=scanner)
    try:
        text = b"".join(extract_text(name, io.BytesIO(data), chosen, report))
    except SkipFile as skip:
        return "", skip.reason, ("", 0, False, None)
    facts = (report.format, report.parts, report.truncated, report.truncated_reason)
    return text.decode(), None, facts


def both(
    monkeypatch: pytest.MonkeyPatch, name: str, data: bytes, limits: ExtractLimits | None = None
) -> tuple[str, str | None]:
    """(text, skip reason) of the bulk scanner, asserted equal to expat's."""
    reference = _run(name, data, limits, "expat")
    got = _run(name, data, limits, "bulk")
    assert got == reference
    return got[0], got[1]


def sheet(rows: str, prefix: str = "", head: str = '<?xml version="1.0" encoding="UTF-8"?>') -> str:
    p = f"{prefix}:" if prefix else ""
    ns = f"xmlns{':' + prefix if prefix else ''}"
    return f'{head}<{p}worksheet {ns}="{S}"><{p}sheetData>{rows}</{p}sheetData></{p}worksheet>'


def book(sheet_xml: str, strings: str | None = None) -> bytes:
    parts: dict[str, str | bytes] = {
        "xl/workbook.xml": f'<workbook xmlns="{S}"/>',
        "xl/worksheets/sheet1.xml": sheet_xml,
    }
    if strings is not None:
        parts["xl/sharedStrings.xml"] = f'<?xml version="1.0"?><sst xmlns="{S}">{strings}</sst>'
    return fixtures._zip(parts)


def bails(xml: bytes) -> bool:
    """Whether the bulk scanner hands this worksheet part to expat."""
    limits = ExtractLimits()

    def make(prefix: bytes) -> bulk.CellScanner:
        return bulk.CellScanner(prefix, [b"shared"], bytearray(1))

    try:
        list(bulk.scan(io.BytesIO(xml), make, limits, Budget(limits)))
    except bulk.Bail:
        return True
    return False


# -- the common shapes stay on the bulk path and read the same ---------------------------------


def test_fixtures_read_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    rows: list[list[str | int]] = [["name", "ssn"], ["Ada & Bob", SSN], ["n", 42]]
    text, _ = both(monkeypatch, "b.xlsx", fixtures.xlsx(rows))
    assert f"Ada & Bob\t{SSN}\t\nn\t42\t\n" in text
    text, _ = both(monkeypatch, "b.xlsx", fixtures.xlsx(rows, shared=False))
    assert f"Ada & Bob\t{SSN}" in text


def test_common_shapes_do_not_bail() -> None:
    cells = (
        '<row r="1" spans="1:4"><c r="A1" s="2" t="s"><v>0</v></c><c r="B1"><f>SUM(C1:D1)</f>'
        '<v>3</v></c><c r="C1" t="inlineStr"><is><t xml:space="preserve"> x </t></is></c>'
        '<c r="D1" s="1"/></row><row r="2"/>'
    )
    assert not bails(sheet(cells).encode())


def test_cells_of_every_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    strings = (
        "<si><t>plain</t></si><si><t/></si><si/>"
        '<si><r><rPr><b/></rPr><t>rich </t></r><r><t xml:space="preserve">text</t></r>'
        '<rPh sb="0" eb="1"><t>phonetic</t></rPh><phoneticPr fontId="1"/></si>'
        f"<si><t>unused {SSN}</t></si>"
    )
    rows = (
        '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>3</v></c>'
        '<c r="C1" t="s"><v>99</v></c><c r="D1" t="s"><v>1</v></c>'
        '<c r="E1" t="b"><v>1</v></c><c r="F1" t="str"><f>A1</f><v>plain</v></c>'
        '<c r="G1" t="inlineStr"><is><t>a &lt;b&gt; &#65;&#x42; &quot;q&quot;</t></is></c>'
        '<c r="H1"><v></v></c><c r="I1" t="e"><v>#N/A</v></c><c r="J1" t=\'s\'><v>0</v></c>'
        "</row>"
        '<row r="2"><c r="A2" t="inlineStr"><is><r><t>rich inline</t></r></is></c></row>'
        "<row r='3'>\n  <c r='A3'>\n    <v>7</v>\n  </c>\n</row>"
    )
    text, _ = both(monkeypatch, "k.xlsx", book(sheet(rows), strings))
    assert "plain\trich text\t" in text and "phonetic" not in text
    assert 'a <b> AB "q"' in text and "rich inline" in text
    assert text.count("plain") == 3  # two cells and a formula's cached value
    assert f"unused {SSN}" in text  # strings no cell shows are still scanned


def test_prefixed_sheet(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = '<x:row r="1"><x:c r="A1" t="inlineStr"><x:is><x:t>pre</x:t></x:is></x:c></x:row>'
    text, _ = both(monkeypatch, "p.xlsx", book(sheet(rows, prefix="x")))
    assert "pre\t\n" in text
    assert not bails(sheet(rows, prefix="x").encode())


def test_a_bail_after_text_was_given_does_not_repeat_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Thousands of ordinary rows (several regions), then a shape only expat reads: the
    text already yielded is not yielded again, none is lost, and the count of planted
    values matches expat's exactly."""
    normal = "".join(
        f'<row r="{i}"><c r="A{i}" t="inlineStr"><is><t>row {i} SSN {SSN}</t></is></c>'
        f'<c r="B{i}"><v>{i}</v></c></row>'
        for i in range(1, 4000)
    )
    odd = '<row r="4000"><c r="A4000" t="inlineStr"><is><t>a</t><t>b</t></is></c></row>'
    xml = sheet(normal + odd + "<!-- a comment -->")
    assert bails(xml.encode())
    text, _ = both(monkeypatch, "big.xlsx", book(xml))
    assert text.count(f"SSN {SSN}") == 3999 and "row 3999 SSN" in text
    policy = compile_policy(PREDEFINED.values())
    counts = {e.entry_id: e.count for e in policy.scan_bytes(text.encode()).entries}
    assert counts.get("us_ssn") == 3999


@pytest.mark.parametrize(
    "cell",
    [
        '<c t="inlineStr"><is><t>one</t></is></c><!-- c --><c><v>2</v></c>',
        '<c t="inlineStr"><is><t><![CDATA[x < y & z]]></t></is></c>',
        '<c t="inlineStr"><is><t>line\r\nbreak</t></is></c>',
        '<c t="inlineStr"><is><t>pi</t></is></c><?pi data?>',
        '<c t="inlineStr"><is><t>bad &bogus; entity</t></is></c>',
        '<c t="inlineStr"><is><t>bare & amp</t></is></c>',
        '<c t="inlineStr"><is><t>&#0; not a character</t></is></c>',
        '<c t="inlineStr"><is><t>unclosed',
        '<c r="A1" t="inlineStr" x="a>b"><is><t>odd attribute</t></is></c>',
        "<v>a value outside any cell</v>",
    ],
)
def test_unusual_cells_read_as_expat_reads_them(monkeypatch: pytest.MonkeyPatch, cell: str) -> None:
    xml = sheet(f'<row r="1">{cell}</row>')
    assert bails(xml.encode())
    both(monkeypatch, "u.xlsx", book(xml))


def test_dtd_after_cells_is_still_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = "".join(f'<row r="{i}"><c r="A{i}"><v>{i}</v></c></row>' for i in range(1, 3000))
    xml = sheet(rows).replace("</worksheet>", '<!DOCTYPE x [<!ENTITY e "boom">]></worksheet>')
    _, reason = both(monkeypatch, "dtd.xlsx", book(xml))
    assert reason == "corrupt"


@pytest.mark.parametrize("encoding", ["utf-16", "latin-1"])
def test_other_encodings_go_to_expat(monkeypatch: pytest.MonkeyPatch, encoding: str) -> None:
    rows = f'<row r="1"><c r="A1" t="inlineStr"><is><t>caf\u00e9 {SSN}</t></is></c></row>'
    head = f'<?xml version="1.0" encoding="{encoding.upper()}"?>'
    xml = sheet(rows, head=head).encode(encoding)
    assert bails(xml)
    parts: dict[str, str | bytes] = {
        "xl/workbook.xml": "<workbook/>",
        "xl/worksheets/sheet1.xml": xml,
    }
    text, _ = both(monkeypatch, "enc.xlsx", fixtures._zip(parts))
    assert f"caf\u00e9 {SSN}" in text


def test_deep_nesting_in_a_sheet_truncates_like_expat(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nesting past the cap at a region's end goes to expat, which truncates at the exact
    element. (A nest that rises past the cap and falls back within one region costs the
    bulk scanner nothing, as it keeps no per-element state, and is read whole.)"""
    rows = '<row r="1"><c r="A1" t="inlineStr"><is><t>before</t></is></c></row>'
    xml = sheet(rows + "<x>" * 50_000 + "</x>" * 50_000)
    text, _ = both(monkeypatch, "deep.xlsx", book(xml))
    assert "before" in text
    report = ExtractReport()
    list(extract_text("deep.xlsx", io.BytesIO(book(xml)), ExtractLimits(), report))
    assert report.truncated_reason == "XML nested deeper than 1000 elements"


def test_shared_string_caps_match_expat(monkeypatch: pytest.MonkeyPatch) -> None:
    strings = "".join(f"<si><t>s{i}</t></si>" for i in range(50))
    rows = "".join(f'<row r="{i + 1}"><c t="s"><v>{i}</v></c></row>' for i in range(50))
    limits = ExtractLimits(max_shared_strings=10)
    text, _ = both(monkeypatch, "caps.xlsx", book(sheet(rows), strings), limits)
    assert all(f"s{i}" in text for i in range(50))
    limits = ExtractLimits(max_shared_string_chars=25)
    both(monkeypatch, "caps.xlsx", book(sheet(rows), strings), limits)


def test_time_budget_is_checked_per_block(monkeypatch: pytest.MonkeyPatch) -> None:
    ticks = iter(range(10_000))
    limits = ExtractLimits(max_seconds=5, clock=lambda: float(next(ticks)), xml_block=4096)
    rows = "".join(
        f'<row r="{i}"><c t="inlineStr"><is><t>{AWS_KEY} {i}</t></is></c></row>'
        for i in range(1, 5000)
    )
    report = ExtractReport()
    data = book(sheet(rows))
    text = b"".join(extract_text("t.xlsx", io.BytesIO(data), limits, report)).decode()
    assert report.truncated and report.truncated_reason == "time budget of 5 s spent"
    assert AWS_KEY in text and "4999" not in text


def test_crc_error_in_a_bulk_part_is_corrupt(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = "".join(f'<row r="{i}"><c r="A{i}"><v>{i}</v></c></row>' for i in range(1, 500))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("xl/workbook.xml", "<workbook/>")
        zf.writestr("xl/worksheets/sheet1.xml", sheet(rows))
    data = bytearray(buf.getvalue())
    data[data.find(b'<row r="250"') + 5] ^= 0x01
    _, reason = both(monkeypatch, "crc.xlsx", bytes(data))
    assert reason == "corrupt"


def test_sheets_share_one_string_table(monkeypatch: pytest.MonkeyPatch) -> None:
    strings = "".join(f"<si><t>{t}</t></si>" for t in ["first", "second", f"never shown {SSN}"])
    one = sheet('<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>')
    two = sheet('<row r="1"><c r="A1" t="s"><v>1</v></c><c r="B1"><v>5</v></c></row>')
    parts: dict[str, str | bytes] = {
        "xl/workbook.xml": f'<workbook xmlns="{S}"/>',
        "xl/worksheets/sheet1.xml": one,
        "xl/worksheets/sheet2.xml": two,
        "xl/sharedStrings.xml": f'<?xml version="1.0"?><sst xmlns="{S}">{strings}</sst>',
    }
    text, _ = both(monkeypatch, "two.xlsx", fixtures._zip(parts))
    assert text.startswith("first\tsecond\t\n\nsecond\t5\t\n\n")
    assert text.count(f"never shown {SSN}") == 1


@pytest.mark.parametrize("body", [b"", b'<?xml version="1.0"?>', b"   ", b"text, no markup"])
def test_a_part_without_a_root_element_is_read_as_expat_reads_it(
    monkeypatch: pytest.MonkeyPatch, body: bytes
) -> None:
    assert bails(body)
    parts: dict[str, str | bytes] = {"xl/workbook.xml": "<workbook/>"}
    parts["xl/worksheets/sheet1.xml"] = body
    _, reason = both(monkeypatch, "empty.xlsx", fixtures._zip(parts))
    assert reason == "corrupt"


_SHEET = sheet(
    '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="inlineStr"><is><t>in &amp; line</t>'
    '</is></c><c r="C1"><f>A1</f><v>12</v></c></row><row r="2"><c r="A2" t="s"><v>1</v></c>'
    "</row>"
)
_STRINGS = '<si><t>plain</t></si><si><r><t>ri</t></r><r><t xml:space="preserve">ch</t></r></si>'


def _mutate(data: st.DataObject, raw: bytes) -> bytes:
    """Truncate, flip a few bytes, or splice some in."""
    mode = data.draw(st.sampled_from(["truncate", "flip", "splice"]))
    if mode == "truncate":
        return raw[: data.draw(st.integers(min_value=0, max_value=len(raw)))]
    out = bytearray(raw)
    if mode == "flip":
        for _ in range(data.draw(st.integers(min_value=1, max_value=8))):
            pos = data.draw(st.integers(min_value=0, max_value=len(out) - 1))
            out[pos] = data.draw(st.sampled_from(list(b"<>/&;\"'=!?x t\r\x00\xff")))
        return bytes(out)
    pos = data.draw(st.integers(min_value=0, max_value=len(out)))
    return bytes(out[:pos]) + data.draw(st.binary(max_size=16)) + bytes(out[pos:])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), target=st.sampled_from(["sheet", "strings"]))
def test_mutated_parts_read_as_expat_reads_them(data: st.DataObject, target: str) -> None:
    """Where expat reads a mutated part, the bulk scanner yields the same text and report;
    where expat calls it corrupt, the bulk scanner may read it (it is more lenient about
    well-formedness) but never fails otherwise."""
    sheet_xml, strings = _SHEET.encode(), f'<sst xmlns="{S}">{_STRINGS}</sst>'.encode()
    if target == "sheet":
        sheet_xml = _mutate(data, sheet_xml)
    else:
        strings = _mutate(data, strings)
    parts: dict[str, str | bytes] = {
        "xl/workbook.xml": "<workbook/>",
        "xl/worksheets/sheet1.xml": sheet_xml,
        "xl/sharedStrings.xml": strings,
    }
    xlsx = fixtures._zip(parts)
    reference = _run("m.xlsx", xlsx, None, "expat")
    got = _run("m.xlsx", xlsx, None, "bulk")
    if reference[1] != "corrupt":
        assert got == reference
