"""The block passes of the bulk OOXML scanner (pptx slide batches, xlsx cell regions) and
the zip member reader: the same text, report and skip reason as expat on every shape; the
common shapes really take the block pass, the unusual ones really fall back."""

from __future__ import annotations

import copy
import io
import os
import re
import zipfile
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detectors.dlp.extract import ExtractLimits, ExtractReport, SkipFile, extract_text
from detectors.dlp.extract import ooxml_fast as bulk
from detectors.dlp.extract.zipparts import INFLATERS, PartReader, inflater_name
from tests.unit.dlp import fixtures
from tests.unit.dlp.test_extract_bulk import SSN, _mutate, _run, book, both, sheet

A = fixtures.A
P = fixtures.P
PROLOG = "<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n"
LIMITS = ExtractLimits()


def slide(body: str, head: str = PROLOG, ns: str = "") -> str:
    declared = ns or f'xmlns:a="{A}" xmlns:p="{P}"'
    return f"{head}<p:sld {declared}><p:cSld><p:spTree><p:sp><p:txBody>{body}</p:txBody></p:sp></p:spTree></p:cSld></p:sld>"


def deck(*slides: str | bytes) -> bytes:
    parts: dict[str, str | bytes] = {"ppt/presentation.xml": f'<p:presentation xmlns:p="{P}"/>'}
    for n, xml in enumerate(slides, 1):
        parts[f"ppt/slides/slide{n}.xml"] = xml
    return fixtures._zip(parts)


def para(*runs: str) -> str:
    return "<a:p>" + "".join(f"<a:r><a:t>{r}</a:t></a:r>" for r in runs) + "</a:p>"


def batch_reads(*xml: str) -> bool:
    """Whether the slides go through the one-pass batch (no bail anywhere)."""
    try:
        bodies = [bulk.slide_body(x.encode(), LIMITS.max_xml_depth) for x in xml]
        bulk.slides_text(bodies)
    except bulk.Bail:
        return False
    return True


# -- zip members --------------------------------------------------------------------------------


def _members() -> tuple[zipfile.ZipFile, dict[str, bytes]]:
    bodies = {
        "deflated.xml": (f"<x>{SSN} " * 20_000 + "</x>").encode(),
        "small.xml": b"<x>one</x>",
        "empty.xml": b"",
        "random.bin": os.urandom(70_000),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, body in bodies.items():
            zf.writestr(name, body)
        zf.writestr("stored.xml", b"<x>stored</x>", compress_type=zipfile.ZIP_STORED)
        zf.writestr("bzip.xml", b"<x>bzip</x>", compress_type=zipfile.ZIP_BZIP2)
    bodies["stored.xml"] = b"<x>stored</x>"
    bodies["bzip.xml"] = b"<x>bzip</x>"
    return zipfile.ZipFile(io.BytesIO(buf.getvalue())), bodies


@pytest.mark.parametrize("inflater", INFLATERS)
def test_members_read_as_zipfile_reads_them(inflater: str) -> None:
    zf, bodies = _members()
    reader = PartReader(zf, inflater)
    for name, body in bodies.items():
        info = zf.getinfo(name)
        assert reader.read(info) == body
        for block in (7, 4096, 65536):
            with reader.open(info) as fh:
                pieces = []
                while piece := fh.read(block):
                    assert len(piece) <= block
                    pieces.append(piece)
            assert b"".join(pieces) == body


def test_the_inflater_falls_back_to_the_stdlib() -> None:
    assert inflater_name("zlib") == "zlib"
    with pytest.raises(ValueError, match="unknown inflater"):
        inflater_name("gzip")


def lying_member(zf: zipfile.ZipFile, lie: str) -> zipfile.ZipInfo:
    """A copy of the deflated member's entry that lies about it: ``crc``, ``smaller`` or
    ``larger`` (declared size), ``header`` (local header offset one byte off), ``offset``
    (header offset near the end) or ``short`` (compressed data ending before its declared size)."""
    info = copy.copy(zf.getinfo("deflated.xml"))
    size = len(zf.fp.getvalue())  # type: ignore[union-attr]
    if lie == "crc":
        info.CRC ^= 1
    elif lie == "smaller":
        info.file_size = 100
    elif lie == "larger":
        info.file_size += 100
    elif lie == "header":
        info.header_offset += 1
    elif lie == "offset":
        info.header_offset = size - 10
    elif lie == "short":
        info.compress_size = size
    else:
        raise ValueError(lie)
    return info


@pytest.mark.parametrize("inflater", INFLATERS)
@pytest.mark.parametrize("lie", ["crc", "smaller", "larger", "header"])
def test_a_member_that_lies_about_itself_is_refused(inflater: str, lie: str) -> None:
    """A wrong CRC, a declared size the data does not inflate to (a member declaring 100
    bytes and inflating to 800 KB is cut at 101, never inflated whole), a bad local header."""
    zf, _ = _members()
    info = lying_member(zf, lie)
    reader = PartReader(zf, inflater)
    with pytest.raises(zipfile.BadZipFile):
        reader.read(info)
    with pytest.raises(zipfile.BadZipFile), reader.open(info) as fh:
        while fh.read(65536):
            pass


@pytest.mark.usefixtures("slide_reader")
def test_a_slide_failing_its_crc_is_corrupt(monkeypatch: pytest.MonkeyPatch) -> None:
    xml = slide(para(f"ssn {SSN}") * 20)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("ppt/presentation.xml", "<p:presentation/>")
        zf.writestr("ppt/slides/slide1.xml", xml)
    data = bytearray(buf.getvalue())
    data[data.find(b"ssn 536") + 1] ^= 0x01
    _, reason = both(monkeypatch, "crc.pptx", bytes(data))
    assert reason == "corrupt"


# -- pptx ----------------------------------------------------------------------------------------

COMMON_SLIDES = [
    slide(para("Title") + para(f"SSN {SSN}", " and more") + "<a:p/>" + para("end")),
    slide(
        '<a:p><a:pPr><a:tabLst><a:tab pos="914400" algn="l"/></a:tabLst></a:pPr>'
        '<a:r><a:rPr lang="en-US"/><a:t>before</a:t></a:r><a:br><a:rPr lang="en-US"/></a:br>'
        '<a:r><a:t>after</a:t></a:r><a:br/><a:fld id="x" type="slidenum"><a:t>7</a:t>'
        "</a:fld></a:p><a:p><a:r><a:t> spaced </a:t></a:r></a:p>"
    ),
    slide(para("a &amp; b &lt;c&gt; &#65;&#x42; &quot;q&quot;", "caf\u00e9 \u00fcber \u2603")),
    slide(para(""), head='<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'),
    slide(para("no declaration"), head=""),
]


@pytest.mark.usefixtures("slide_reader")
def test_common_slides_read_the_same_in_one_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    assert batch_reads(*COMMON_SLIDES[:1], *COMMON_SLIDES[2:])
    text, _ = both(monkeypatch, "c.pptx", deck(*COMMON_SLIDES))
    assert f"Title\nSSN {SSN} and more\n\nend\n\n" in text
    assert "\tbefore\nafter\n7\n spaced \n" in text
    assert 'a & b <c> AB "q"caf\u00e9 \u00fcber \u2603' in text


@pytest.mark.usefixtures("slide_reader")
def test_tab_stops_and_empty_tags_are_read_where_they_stand() -> None:
    """An attributed or empty ``a:`` tag sends its batch to the part-by-part reader, which
    still reads it without expat."""
    body = bulk.slide_body(COMMON_SLIDES[1].encode(), LIMITS.max_xml_depth)
    assert not batch_reads(COMMON_SLIDES[1])
    assert bulk.slide_text(body).startswith("\tbefore\nafter\n")


@pytest.mark.usefixtures("slide_reader")
def test_many_slides_span_several_batches_with_an_odd_one_inside(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slides = [slide(para(f"slide {i} SSN {SSN}", "filler " * 40)) for i in range(400)]
    slides[150] = slide(para("odd <!-- a comment --> one"))
    text, _ = both(monkeypatch, "many.pptx", deck(*slides))
    assert text.count(f"SSN {SSN}") == 399
    order = [int(m) for m in re.findall(r"slide (\d+) SSN", text)]
    assert order == sorted(order)  # numeric order kept across batches and the odd one


UNUSUAL_SLIDES = [
    slide(para("x") + "<!-- <a:p><a:r><a:t>in a comment</a:t></a:r></a:p> -->"),
    slide("<a:p><a:r><a:t><![CDATA[x < y & z]]></a:t></a:r></a:p>"),
    slide(para("pi") + "<?pi <a:t>data</a:t>?>"),
    slide(para("line\r\nbreak")),
    slide(para("bad &bogus; entity")),
    slide(para("bare & amp")),
    slide(para("&#0; not a character")),
    slide("<a:p><a:r><a:t>run <a:b/>with a child</a:t></a:r></a:p>"),
    slide("<a:p><a:r><a:t/></a:r></a:p>" + para("after an empty run")),
    slide('<a:p><a:r><a:t xml:space="preserve"> attributed </a:t></a:r></a:p>'),
    slide('<a:p><d:t xmlns:d="' + A + '">DrawingML under d:</d:t></a:p>'),
    slide("<a:p><q:t>undeclared prefix</q:t></a:p>"),
    slide(para("default namespace"), ns=f'xmlns="{A}" xmlns:a="{A}" xmlns:p="{P}"'),
    slide(para("cut short"))[:-20],
    slide(para("text")).replace("</p:sld>", '<!DOCTYPE x [<!ENTITY e "boom">]></p:sld>'),
    slide("<a:p>" * 1200 + "<a:r><a:t>deep</a:t></a:r>" + "</a:p>" * 1200),
]


@pytest.mark.usefixtures("slide_reader")
@pytest.mark.parametrize("xml", UNUSUAL_SLIDES)
def test_unusual_slides_read_as_expat_reads_them(monkeypatch: pytest.MonkeyPatch, xml: str) -> None:
    assert not batch_reads(xml)
    both(monkeypatch, "u.pptx", deck(COMMON_SLIDES[0], xml, COMMON_SLIDES[2]))


@pytest.mark.usefixtures("slide_reader")
def test_other_encodings_of_a_slide_go_to_expat(monkeypatch: pytest.MonkeyPatch) -> None:
    head = '<?xml version="1.0" encoding="UTF-16"?>'
    xml = slide(para(f"caf\u00e9 {SSN}"), head=head).encode("utf-16")
    with pytest.raises(bulk.Bail):
        bulk.slide_body(xml, LIMITS.max_xml_depth)
    text, _ = both(monkeypatch, "enc.pptx", deck(xml))
    assert f"caf\u00e9 {SSN}" in text


@pytest.mark.usefixtures("slide_reader")
def test_a_large_slide_is_streamed_through_expat(monkeypatch: pytest.MonkeyPatch) -> None:
    xml = slide(para(f"big {SSN}") * 3000)
    assert len(xml) > LIMITS.xml_block
    text, _ = both(monkeypatch, "big.pptx", deck(COMMON_SLIDES[0], xml))
    assert text.count(f"big {SSN}") == 3000


@pytest.mark.usefixtures("slide_reader")
def test_time_budget_is_checked_per_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    ticks = iter(range(10_000))
    limits = ExtractLimits(max_seconds=3, clock=lambda: float(next(ticks)), xml_block=4096)
    slides = [slide(para(f"slide {i} SSN {SSN}")) for i in range(200)]
    report = ExtractReport()
    data = deck(*slides)
    text = b"".join(extract_text("t.pptx", io.BytesIO(data), limits, report)).decode()
    assert report.truncated and report.truncated_reason == "time budget of 3 s spent"
    assert "slide 0 SSN" in text and "slide 199" not in text


def _expat_and_bulk(
    name: str, data: bytes, limits: ExtractLimits | None = None
) -> tuple[tuple[str, str | None, tuple[str, int, bool, str | None]], ...]:
    """What expat and the bulk scanner make of a file (``ExtractLimits.ooxml_scanner``)."""
    return _run(name, data, limits, "expat"), _run(name, data, limits, "bulk")


_SLIDE = slide(para("one &amp; two", "three") + "<a:p/>" + para(f"SSN {SSN}"))


@pytest.mark.usefixtures("slide_reader")
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_slides_read_as_expat_reads_them(data: st.DataObject) -> None:
    """Where expat reads a mutated slide, the bulk scanner gives the same text and report;
    where expat calls it corrupt, the bulk scanner may read it (it is more lenient about
    well-formedness) but never fails otherwise. An unprefixed ``t`` (in no namespace, not
    DrawingML) is read by expat only, so such mutants are not compared."""
    mutated = _mutate(data, _SLIDE.encode())
    pptx = deck(_SLIDE, mutated)
    reference, got = _expat_and_bulk("m.pptx", pptx)
    assert got[1] in (None, "corrupt")
    if reference[1] != "corrupt" and re.search(rb"</t\s*>", mutated) is None:
        assert got == reference


# -- xlsx ----------------------------------------------------------------------------------------

SMALL_BLOCKS = ExtractLimits(xml_block=4096)


def _fast_reads(xml: str, shared: list[bytes] | None = None) -> str | None:
    body = bulk._strip_prolog(xml.encode())
    scanner = bulk.CellScanner(b"", shared or [b"shared"], bytearray(len(shared or [1])))
    got = scanner.fast(body)
    return None if got is None else got[0]


def test_a_sheet_region_of_common_shapes_takes_the_block_pass() -> None:
    rows = (
        '<row r="1" spans="1:4"><c r="A1" s="2" t="s"><v>0</v></c><c r="B1"><f>SUM(C1:D1)</f>'
        '<v>3</v></c><c r="C1" t="inlineStr"><is><t xml:space="preserve"> x </t></is></c>'
        '<c r="D1" s="1"/><c r="E1" t="str"><f t="shared" si="0"/><v>f &amp; g</v></c></row>'
    )
    assert _fast_reads(sheet(rows)) == "shared\t3\t x \tf & g\t\n"
    inline = '<row r="1"><c r="A1" t="inlineStr"><is><t>only inline</t></is></c></row>'
    assert _fast_reads(sheet(inline)) == "only inline\t\n"


@pytest.mark.parametrize(
    "cell",
    [
        '<c r="A1" t="inlineStr"><is><r><t>rich</t></r></is></c>',
        '<c r="A1" t="inlineStr"><is><t>one</t></is></c><!-- c -->',
        '<c r="A1" t="s"><v>7</v></c>',  # past the table
        '<c r="A1" t="inlineStr"><is><t>line\r\nbreak</t></is></c>',
        '<c r="A1" t="inlineStr"><is><t>bad &bogus;</t></is></c>',
        '<c r="A1" x="1"><v>1</v></c>',
        '<x:c r="A1"><x:v>1</x:v></x:c>',
        "<v>a value outside any cell</v>",
    ],
)
def test_unusual_regions_leave_the_block_pass(monkeypatch: pytest.MonkeyPatch, cell: str) -> None:
    xml = sheet(f'<row r="1">{cell}</row>')
    assert _fast_reads(xml) is None
    both(monkeypatch, "u.xlsx", book(xml, "<si><t>s0</t></si>"), SMALL_BLOCKS)


def _inline_rows(cell_attrs: str, n: int = 40) -> str:
    return "".join(
        f'<row r="{i}"><c {cell_attrs.format(i=i)}><is><t>text {i}</t></is></c>'
        f'<c r="B{i}" t="inlineStr"><is><t xml:space="preserve"> {SSN} </t></is></c></row>'
        for i in range(1, n)
    )


@pytest.mark.parametrize(
    "attrs",
    [
        'r="A{i}" t="inlineStr"',  # what openpyxl writes: the block pass
        'r="A{i}" s="4" cm="1" t="inlineStr"',  # attributes skipped whole
        't="inlineStr" r="A{i}"',  # the type not last: the other patterns
        'r="A{i}" t="s"',  # not an inline string: its text is not shown
        'r="A{i}" x="a>b" t="inlineStr"',  # '>' in a value ends the tag early
        'r="A{i}"  t="inlineStr"',
    ],
)
def test_inline_string_cells_read_as_expat_reads_them(
    monkeypatch: pytest.MonkeyPatch, attrs: str
) -> None:
    xml = sheet(_inline_rows(attrs))
    text, reason = both(monkeypatch, "i.xlsx", book(xml), SMALL_BLOCKS)
    assert reason is None and text.count(f" {SSN} \t\n") == 39
    if attrs.startswith('r="A{i}" t="inlineStr"'):
        assert _fast_reads(xml) == text[: -len("\n")]


def test_a_tag_named_like_a_row_is_not_a_row(monkeypatch: pytest.MonkeyPatch) -> None:
    """``<rowBreaks>`` after the rows (Excel writes it with page breaks) is one of the tags
    around the rows: no line of its own, in the block pass too."""
    rows = _inline_rows('r="A{i}" t="inlineStr"', 5)
    xml = sheet(rows).replace(
        "</sheetData>", '</sheetData><rowBreaks count="1"><brk id="3" max="16383"/></rowBreaks>'
    )
    text, _ = both(monkeypatch, "b.xlsx", book(xml), SMALL_BLOCKS)
    assert text.endswith(f" {SSN} \t\n\n")
    assert _fast_reads(xml) == text[: -len("\n")]


def test_a_region_of_unclosed_cell_tags_is_refused_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tens of thousands of ``<c`` starts and no ``>``: every pattern stops at the next ``<``
    or after a bounded attribute run, and the part is expat's (corrupt)."""
    xml = sheet('<row r="1">' + '<c r="A1" ' * 20_000 + "</row>")
    assert _fast_reads(xml) is None
    assert both(monkeypatch, "c.xlsx", book(xml))[1] == "corrupt"


_CELL_TEXT = st.lists(
    st.sampled_from([*"ab 7-_\t\n&<>\"'é€", "&amp;", "&#x41;", SSN]), max_size=12
).map("".join)


@st.composite
def _inline_sheet(draw: st.DrawFn) -> str:
    """An inline-string sheet as openpyxl or Office might write it, with the spellings the
    block pass must read or refuse: attribute orders and extras, preserved space, empty
    texts and cells, other cell types, white space between tags, a rowBreaks element."""
    rows = []
    for r in range(1, draw(st.integers(min_value=1, max_value=30))):
        cells = []
        for c in "ABCDEF"[: draw(st.integers(min_value=0, max_value=6))]:
            raw = draw(_CELL_TEXT)
            text = escape(raw) if "&" not in raw or draw(st.booleans()) else raw
            attrs = draw(
                st.sampled_from(
                    [
                        f'r="{c}{r}" t="inlineStr"',
                        f'r="{c}{r}" s="2" t="inlineStr"',
                        f't="inlineStr" r="{c}{r}"',
                        f'r="{c}{r}" t="str"',
                        f"r='{c}{r}' t='inlineStr'",
                    ]
                )
            )
            t_tag = draw(st.sampled_from(["<t>", '<t xml:space="preserve">']))
            cell = f"<c {attrs}><is>{t_tag}{text}</t></is></c>"
            cells.append(draw(st.sampled_from([cell, f'<c r="{c}{r}"/>', cell + "\n"])))
        rows.append(f'<row r="{r}">' + "".join(cells) + "</row>")
    tail = draw(st.sampled_from(["", '<rowBreaks count="1"><brk id="2"/></rowBreaks>']))
    return sheet("".join(rows)).replace("</sheetData>", "</sheetData>" + tail)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(xml=_inline_sheet(), data=st.data())
def test_random_inline_sheets_read_as_expat_reads_them(xml: str, data: st.DataObject) -> None:
    """Random inline-string sheets, whole or mutated: where expat reads the part, the bulk
    scanner gives the same text and report (by the block pass or its fallbacks); where
    expat calls it corrupt, the bulk scanner reads it or calls it corrupt too."""
    raw = xml.encode()
    if data.draw(st.booleans()):
        raw = _mutate(data, raw)
    workbook = book(raw.decode("utf-8", "replace"))
    reference, got = _expat_and_bulk("r.xlsx", workbook, SMALL_BLOCKS)
    assert got[1] in (None, "corrupt")
    if reference[1] != "corrupt":
        assert got == reference


_ROW_PASS_TEXT = st.lists(
    st.sampled_from([*"ab 7-_\t\n>\"'é€", "&amp;", "&lt;", "&#x41;", "&#9;", SSN]),
    min_size=1,
    max_size=10,
).map("".join)


@st.composite
def _openpyxl_rows(draw: st.DrawFn) -> tuple[str, bool]:
    """Rows of inline-string cells as openpyxl writes them (the spellings the row pass
    reads), and whether every text is one it must read: now and then an empty text, a
    carriage return, an unknown entity, a row with ``spans``, a cell of another shape."""
    rows = []
    readable = True
    for r in range(1, draw(st.integers(min_value=2, max_value=12))):
        cells = []
        for c in "ABCDEF"[: draw(st.integers(min_value=1, max_value=6))]:
            text = draw(_ROW_PASS_TEXT)
            odd = draw(st.sampled_from(["", "", "", "", "", "empty", "cr", "entity", "other"]))
            t_tag = draw(st.sampled_from(["<t>", '<t xml:space="preserve">']))
            if odd == "empty":
                text = ""
            elif odd == "cr":
                text += "\r"
            elif odd == "entity":
                text += "&bogus;"
            attrs = (
                f'r="{c}{r}" s="1" t="inlineStr"' if odd == "other" else f'r="{c}{r}" t="inlineStr"'
            )
            readable = readable and not odd
            cells.append(f"<c {attrs}><is>{t_tag}{text}</t></is></c>")
        spans = draw(st.sampled_from(["", f' spans="1:{len(cells)}"']))
        rows.append(f'<row r="{r}"{spans}>' + "".join(cells) + "</row>")
    return "".join(rows), readable


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=_openpyxl_rows())
def test_rows_of_inline_strings_take_the_row_pass_and_read_as_expat_reads_them(
    case: tuple[str, bool],
) -> None:
    """The row pass gives exactly expat's text for the rows, reads every region of the
    spellings it knows, and leaves the others (empty texts, carriage returns, unknown
    entities, cells of other attributes) to the patterns that read them cell by cell."""
    rows, readable = case
    reference, got = _expat_and_bulk("o.xlsx", book(sheet(rows)))
    assert got == reference
    via_rows = bulk._inline_rows(rows.encode())
    assert (via_rows is not None) == readable
    if via_rows is not None:
        assert reference[0] == via_rows + "\n"  # the sheet's own line end follows its rows
        assert _fast_reads(sheet(rows)) == via_rows


@pytest.mark.parametrize(
    "region",
    [
        # a cell inside a cell: balanced by count, but not the flat shape
        '<row r="1"><c r="A1" t="inlineStr"><is><t>a<c r="B1" t="inlineStr"><is><t>b'
        "</t></is></c></t></is></c></row>",
        # a comment between cells, white space between rows, an empty row
        '<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c><!-- x --></row>',
        '<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c></row>\n'
        '<row r="2"><c r="A2" t="inlineStr"><is><t>b</t></is></c></row>',
        '<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c></row><row r="2"/>',
        # a region cut inside a row, or holding the sheet's end
        '<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c>',
        '<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c></row></sheetData>',
        # bytes that are not UTF-8
        '<row r="1"><c r="A1" t="inlineStr"><is><t>\udcff</t></is></c></row>',
        # CDATA, an attribute holding '>', a cell with a style, rich text
        '<row r="1"><c r="A1" t="inlineStr"><is><t><![CDATA[a<b]]></t></is></c></row>',
        '<row r="1" x="a>b"><c r="A1" t="inlineStr"><is><t>a</t></is></c></row>',
        '<row r="1"><c r="A1" s="1" t="inlineStr"><is><t>a</t></is></c></row>',
        '<row r="1"><c r="A1" t="inlineStr"><is><r><t>a</t></r></is></c></row>',
    ],
)
def test_regions_off_the_openpyxl_shape_leave_the_row_pass(
    monkeypatch: pytest.MonkeyPatch, region: str
) -> None:
    raw = region.encode("utf-8", "surrogateescape")
    assert bulk._inline_rows(raw) is None
    if "\udcff" not in region:  # (the zip writer takes text: the non-UTF-8 case stops here)
        both(monkeypatch, "o.xlsx", book(sheet(region)))


def test_the_first_and_last_regions_read_their_rows_by_the_row_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A sheet in one region: the tags before and after its rows go to the split pass
    (no text there, a rise each), the rows to the row pass; a cell outside any row (text
    around the rows) sends the whole region to the split pass."""
    split_inputs: list[bytes] = []
    split_pass = bulk.CellScanner._split_pass

    def spy(self: bulk.CellScanner, region: bytes) -> tuple[str, int] | None:
        split_inputs.append(region)
        return split_pass(self, region)

    monkeypatch.setattr(bulk.CellScanner, "_split_pass", spy)
    rows = _inline_rows('r="A{i}" t="inlineStr"', 5)
    xml = sheet(rows).replace("</sheetData>", '</sheetData><pageMargins left="0.75"/>')
    body = bulk._strip_prolog(xml.encode())
    scanner = bulk.CellScanner(b"", [], bytearray())
    text = bulk._inline_rows(rows.encode())
    assert scanner.fast(body) == (text, 0)
    assert split_inputs and all(b"<row " not in piece for piece in split_inputs)
    stray = xml.replace("<sheetData>", '<sheetData><c r="Z1"><v>7</v></c>')
    split_inputs.clear()
    assert _fast_reads(stray) == "7\t" + text
    assert any(b"<row " in piece for piece in split_inputs)
    both(monkeypatch, "s.xlsx", book(stray))


def test_nested_cells_still_truncate_like_expat(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cells nested past the depth cap are never read whole by the row pass: expat
    truncates them at the exact element, and so does the bulk path."""
    cell = '<c r="A1" t="inlineStr"><is><t>'
    rows = '<row r="1">' + cell * 400 + "x" + "</t></is></c>" * 400 + "</row>"
    assert bulk._inline_rows(rows.encode()) is None
    report = ExtractReport()
    list(extract_text("n.xlsx", io.BytesIO(book(sheet(rows))), SMALL_BLOCKS, report))
    assert report.truncated_reason == "XML nested deeper than 1000 elements"
    both(monkeypatch, "n.xlsx", book(sheet(rows)), SMALL_BLOCKS)


def test_many_regions_of_every_kind_read_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    strings = "".join(f"<si><t>string {i}</t></si>" for i in range(50)) + "<si><t/></si>"
    strings += f"<si><t>never shown {SSN}</t></si>"
    rows = "".join(
        f'<row r="{i}"><c r="A{i}" t="s"><v>{i % 51}</v></c><c r="B{i}" s="1"><v>{i}.5</v></c>'
        f'<c r="C{i}" t="inlineStr"><is><t>inline {i} &amp; {SSN}</t></is></c>'
        f'<c r="D{i}" t="b"><v>1</v></c><c r="E{i}" s="3"/></row>'
        for i in range(1, 1500)
    )
    text, _ = both(monkeypatch, "k.xlsx", book(sheet(rows), strings), SMALL_BLOCKS)
    assert text.count(f"& {SSN}") == 1499 and text.count(f"never shown {SSN}") == 1
    assert "string 1\t1.5\tinline 1 & " in text


def test_deep_nesting_between_rows_still_truncates(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = "".join(f'<row r="{i}"><c r="A{i}"><v>{i}</v></c></row>' for i in range(1, 300))
    xml = sheet(rows + "<x>" * 3000 + "</x>" * 3000)
    report = ExtractReport()
    list(extract_text("d.xlsx", io.BytesIO(book(xml)), SMALL_BLOCKS, report))
    assert report.truncated_reason == "XML nested deeper than 1000 elements"
    both(monkeypatch, "d.xlsx", book(xml), SMALL_BLOCKS)


def test_skip_reasons_are_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SkipFile):
        b"".join(extract_text("x.pptx", io.BytesIO(b"PK\x03\x04 not a zip")))
    _, reason = both(monkeypatch, "dtd.pptx", deck(UNUSUAL_SLIDES[-2]))
    assert reason == "corrupt"


def test_plain_shared_strings_take_the_block_pass() -> None:
    table: list[str] = []
    report = ExtractReport()
    scanner = bulk.SharedStringScanner(b"", LIMITS, report, table)
    region = (
        b'<si><t>a &amp; b</t></si><si><t/></si><si></si><si><t xml:space="preserve"> c </t>'
        b"</si><si><t>caf\xc3\xa9</t></si>"
    )
    assert scanner.fast(region) == ("", 0)
    assert table == ["a & b", "", "", " c ", "caf\u00e9"]
    assert scanner.fast(b'<sst xmlns="urn:s" count="1"><si><t>d</t></si>') == ("", 1)
    assert scanner.fast(b"<si><t>e</t></si></sst>") == ("", -1)
    assert table[-2:] == ["d", "e"] and not report.truncated


@pytest.mark.parametrize(
    "strings",
    [
        b"<si><r><t>rich</t></r></si>",
        b'<si><t>a</t><rPh sb="0" eb="1"><t>b</t></rPh></si>',
        b"<si/>",
        b"<si><t>line\r\nbreak</t></si>",
        b"<si><t>bad &bogus;</t></si>",
        b"<si><t>one</t></si><!-- c -->",
        b"<si><t>bad \xff byte</t></si>",
    ],
)
def test_other_shared_strings_leave_the_block_pass(
    monkeypatch: pytest.MonkeyPatch, strings: bytes
) -> None:
    scanner = bulk.SharedStringScanner(b"", LIMITS, ExtractReport(), [])
    assert scanner.fast(strings) is None
    rows = sheet('<row r="1"><c r="A1" t="s"><v>0</v></c></row>')
    parts: dict[str, str | bytes] = {
        "xl/workbook.xml": "<workbook/>",
        "xl/worksheets/sheet1.xml": rows,
        "xl/sharedStrings.xml": b'<sst xmlns="urn:s">' + strings + b"</sst>",
    }
    both(monkeypatch, "s.xlsx", fixtures._zip(parts), SMALL_BLOCKS)


@pytest.mark.parametrize(
    "limits",
    [
        ExtractLimits(xml_block=4096, max_shared_strings=1000),
        ExtractLimits(xml_block=4096, max_shared_string_chars=20_000),
    ],
)
def test_shared_string_caps_reached_inside_the_block_pass(
    monkeypatch: pytest.MonkeyPatch, limits: ExtractLimits
) -> None:
    strings = "".join(f"<si><t>string {i} {SSN}</t></si>" for i in range(3000))
    rows = "".join(f'<row r="{i + 1}"><c t="s"><v>{i}</v></c></row>' for i in range(3000))
    text, _ = both(monkeypatch, "caps.xlsx", book(sheet(rows), strings), limits)
    assert text.count(SSN) == 3000
