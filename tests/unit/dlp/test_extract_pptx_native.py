"""The compiled slide reader (``detectors.dlp.extract._native_slides``) against the pure-Python
one and expat: generated slide XML of every spelling the readers react to (runs, paragraphs,
breaks, tabs, ``cr``, attributed and empty tags, entities and character references, valid or
not, carriage returns, NULs, foreign prefixes, comments, CDATA, processing instructions,
bytes that are not UTF-8, parts cut short), read as a batch and as whole decks.

* A batch: the compiled tokenizer gives the Python batch pass's text, or both bail.
* A deck: the compiled reader and the pure-Python one give the same text, report and skip
  reason (a part either bails on is read again by expat, whose text is then the same on
  both paths); where expat reads the deck, both give expat's text."""

from __future__ import annotations

import contextlib
import io
import zipfile
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detectors.dlp.extract import ExtractLimits, ooxml
from detectors.dlp.extract import ooxml_fast as bulk
from tests.unit.dlp import fixtures
from tests.unit.dlp.test_extract_bulk import SSN, _run
from tests.unit.dlp.test_extract_fast import PROLOG, para, slide

A = fixtures.A
P = fixtures.P
LIMITS = ExtractLimits()
native = bulk._native_slides
pytestmark = pytest.mark.usefixtures("slide_reader")

# text inside a run: plain characters, the five entities, character references (valid and
# not), and spellings that look like tags the readers react to
_TEXT = st.lists(
    st.one_of(
        st.text(alphabet="ab xyz:/>=\"'é\u2603\t\n", max_size=6),
        st.sampled_from(
            [
                "&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#65;", "&#x42;", "&#x1F600;",
                "&#0065;", "&#x000041;", "&#9;", "&#10;", "&#13;", "&#0;", "&#8;", "&#xD800;",
                "&#xDFFF;", "&#1114111;", "&#1114112;", "&#x110000;", "&#99999999999;",
                "&#X41;", "&#;", "&#x;", "&#12a;", "&bogus;", "&amp", "&", "&;", "&AMP;",
                "\r", "a:t>", "x:t>", "x:p ", ":tab/", "/a:t>", "data:t>", "<a:x/>", f"SSN {SSN}",
            ]
        ),
    ),
    max_size=5,
).map("".join)  # fmt: skip

# markup between runs: the tags the readers react to in every spelling, other tags, markup
# they refuse, and tags under other prefixes
_MARKUP = st.sampled_from(
    [
        "<a:p>", "</a:p>", "<a:p/>", "<a:br/>", "<a:br>", "</a:br>", "<a:tab/>", "<a:tab>",
        "</a:tab>", "<a:cr/>", "<a:cr>", "</a:cr>", '<a:p lvl="1">', "<a:p />", "</a:p >",
        "<a:br\n/>", "<a:t/>", '<a:t xml:space="preserve">kept</a:t>', "</a:t>", "<a:t>",
        "</a:t >", "</a:p/>", "</a:t/>", "<a:pPr/>", "<a:tabLst/>", '<a:rPr lang="en-US"/>',
        "<a:tbl>", "</a:tbl>", "<a:r>", "</a:r>", "<p:sp>", "<x:p/>", "<x:t>foreign</x:t>",
        "<ab:br/>", "<:tab/>", "<a:x:cr/>", "</x:p>", "<!-- c -->", "<![CDATA[x < y]]>",
        "<?pi x?>", PROLOG.strip(), '<?xml version="1.0"?>', "<", "<a:", "</a:", "a:p>",
    ]
)  # fmt: skip


@st.composite
def _body(draw: st.DrawFn) -> str:
    pieces = []
    for _ in range(draw(st.integers(min_value=0, max_value=8))):
        kind = draw(st.sampled_from(["run", "para", "markup"]))
        if kind == "run":
            pieces.append(f"<a:r><a:t>{draw(_TEXT)}</a:t></a:r>")
        elif kind == "para":
            pieces.append(para(*draw(st.lists(_TEXT, max_size=3))))
        else:
            pieces.append(draw(_MARKUP))
    return "".join(pieces)


_ROOTS = [
    "",
    f"xmlns:a='{A}' xmlns:p='{P}'",
    f'xmlns:d="{A}" xmlns:p="{P}"',
    f'title="x>y" xmlns:a="{A}" xmlns:p="{P}"',
]
_HEADS = [PROLOG, '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>', "", "\n"]


@st.composite
def _part(draw: st.DrawFn) -> bytes:
    """One slide or notes part: generated XML, then perhaps cut short or given bytes that
    are not UTF-8, a NUL or a carriage return."""
    xml = slide(draw(_body()), head=draw(st.sampled_from(_HEADS)), ns=draw(st.sampled_from(_ROOTS)))
    raw = xml.encode()
    how = draw(st.sampled_from(["keep", "keep", "keep", "cut", "splice"]))
    if how == "cut":
        raw = raw[: draw(st.integers(min_value=0, max_value=len(raw)))]
    elif how == "splice":
        at = draw(st.integers(min_value=0, max_value=len(raw)))
        bad = draw(
            st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00", b"\r", b"\xc3\xa9"])
        )
        raw = raw[:at] + bad + raw[at:]
    return raw


def _python_batch(bodies: list[bytes]) -> str | None:
    try:
        return bulk._slides_text(bodies)
    except bulk.Bail:
        return None


@pytest.mark.skipif(native is None, reason="no compiled slide reader on this host")
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(_part(), min_size=1, max_size=5))
def test_a_batch_reads_as_the_python_batch_pass(parts: list[bytes], slide_reader: str) -> None:
    """The compiled tokenizer gives the Python batch pass's text, or both bail. (The Python
    pass's checks for foreign prefixes run only with Hyperscan; without it, only the parts
    the compiled tokenizer reads are compared.)"""
    assert native is not None
    bodies = []
    for raw in parts:
        with contextlib.suppress(bulk.Bail):
            bodies.append(bulk.slide_body(raw, LIMITS.max_xml_depth))
    got = native.slides_text(bodies)
    expected = _python_batch(bodies)
    if bulk.hyperscan is not None or got is not None:
        assert got == expected


def _deck(slides: list[bytes], notes: list[bytes], method: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        zf.writestr("ppt/presentation.xml", f'<p:presentation xmlns:p="{P}"/>')
        for n, xml in enumerate(slides, 1):
            zf.writestr(f"ppt/slides/slide{n}.xml", xml, compress_type=method)
        for n, xml in enumerate(notes, 1):
            zf.writestr(f"ppt/notesSlides/notesSlide{n}.xml", xml)
    return buf.getvalue()


def _both_readers(name: str, data: bytes, limits: ExtractLimits) -> tuple[object, object]:
    saved = bulk._native_slides
    try:
        bulk._native_slides = None  # type: ignore[assignment]
        python = _run(name, data, limits)
    finally:
        bulk._native_slides = saved
    return _run(name, data, limits), python


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    slides=st.lists(_part(), min_size=1, max_size=6),
    notes=st.lists(_part(), max_size=3),
    method=st.sampled_from([zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED, zipfile.ZIP_LZMA]),
    block=st.sampled_from([512, 4096, 64 * 1024]),
)
def test_generated_decks_read_the_same_on_both_paths(
    slides: list[bytes], notes: list[bytes], method: int, block: int, slide_reader: str
) -> None:
    """Whole decks (members deflated, stored or in a method only zipfile reads; blocks small
    enough to cut batches anywhere): the reader under test gives the other's text, report
    and skip reason, and expat's wherever expat reads the deck (no unprefixed ``t`` or
    ``p`` is generated: those are expat's alone)."""
    bulk._ROOT_TAGS_SEEN.clear()
    data = _deck(slides, notes, method)
    limits = replace(LIMITS, xml_block=block)
    got, other = _both_readers("g.pptx", data, limits)
    assert got == other
    reference = _run("g.pptx", data, limits, "expat")
    if reference[1] is None:
        assert got == reference


_PLAIN = slide(para("Title") + para(f"SSN {SSN}", " and more") + "<a:p/>" + para("end"))


def test_a_deck_of_plain_slides_takes_the_compiled_batches(
    monkeypatch: pytest.MonkeyPatch, slide_reader: str
) -> None:
    """A deck of usual slides is read by the compiled reader alone: no part goes through
    slide_body, slide_text or expat in Python."""
    bulk._ROOT_TAGS_SEEN.clear()
    slides = [_PLAIN.replace("Title", f"slide {n}") for n in range(300)]
    data = _deck([s.encode() for s in slides], [_PLAIN.encode()], zipfile.ZIP_DEFLATED)
    reference = _run("p.pptx", data, LIMITS, "expat")
    calls: list[str] = []

    def spy(name: str, real: Any) -> Any:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            return real(*args, **kwargs)

        return wrapped

    monkeypatch.setattr(ooxml, "slide_body", spy("slide_body", bulk.slide_body))
    monkeypatch.setattr(ooxml, "slide_text", spy("slide_text", bulk.slide_text))
    monkeypatch.setattr(ooxml, "_parse", spy("_parse", ooxml._parse))
    text, reason, facts = _run("p.pptx", data, LIMITS)
    assert reason is None and facts[1] == 301
    assert text.count(f"SSN {SSN}") == 301 and "slide 299\n" in text
    assert (text, reason, facts) == reference
    if slide_reader == "native":
        assert calls.count("slide_body") <= 2  # each new root tag once (slide, notes)
        assert "slide_text" not in calls and "_parse" not in calls
    else:
        assert calls.count("slide_body") == 301


def test_parts_the_compiled_reader_stops_at_go_to_expat(slide_reader: str) -> None:
    """A part too large for a batch, one with a foreign prefix, one with a comment and,
    last, one nested past the depth cap, among plain ones: each is read as expat reads it
    (the deep one truncates the file there), the rest by batches, in deck order; a part
    cut short or holding a NUL makes the deck corrupt on both paths, as for expat."""
    odd = [
        slide(para(f"big {SSN}") * 2000),
        slide(para("x") + "<x:p/>"),
        slide(para("c") + "<!-- comment -->"),
        slide("<a:p>" * 1200 + "<a:r><a:t>deep</a:t></a:r>" + "</a:p>" * 1200),
    ]
    slides = []
    for n, xml in enumerate(odd):
        slides += [_PLAIN.replace("Title", f"before {n}"), xml]
    data = _deck([s.encode() for s in slides], [], zipfile.ZIP_DEFLATED)
    got = _run("o.pptx", data, LIMITS)
    assert got == _run("o.pptx", data, LIMITS, "expat")
    assert got[2][2] is True  # truncated at the deep part
    order = [int(line.split()[1]) for line in got[0].splitlines() if line.startswith("before")]
    assert order == list(range(len(odd)))
    assert f"big {SSN}" in got[0]
    for broken in (slide(para("cut short"))[:-9], slide(para("nul\x00here"))):
        data = _deck([_PLAIN.encode(), broken.encode(), _PLAIN.encode()], [], zipfile.ZIP_DEFLATED)
        assert _run("c.pptx", data, LIMITS)[1] == "corrupt"
        assert _run("c.pptx", data, LIMITS, "expat")[1] == "corrupt"


def test_a_part_the_inflater_refuses_fails_as_on_the_python_path(slide_reader: str) -> None:
    """A slide whose deflate stream is broken: the inflater's error ends the file on both
    paths with the same reason (the batch before it is not yielded)."""
    xml = slide(para(f"SSN {SSN}") * 40).encode()
    data = bytearray(_deck([_PLAIN.encode(), xml], [], zipfile.ZIP_DEFLATED))
    name = b"ppt/slides/slide2.xml"
    at = data.find(name) + len(name)  # the member's data starts after its local header name
    data[at + 3 : at + 9] = b"\xff\xff\xff\xff\xff\xff"
    got = _run("b.pptx", bytes(data), LIMITS)
    assert got[1] == "corrupt"
    saved = bulk._native_slides
    try:
        bulk._native_slides = None  # type: ignore[assignment]
        assert _run("b.pptx", bytes(data), LIMITS) == got
    finally:
        bulk._native_slides = saved


def test_a_zip_check_the_python_reader_passes_is_read_in_python(
    monkeypatch: pytest.MonkeyPatch, slide_reader: str
) -> None:
    """Should the compiled reader report a zip check failure that Python's reader does not
    confirm (an inflater more lenient than the check), the batch and the part are read in
    Python: the same text and report as without the report."""
    slides = [_PLAIN.replace("Title", f"slide {n}") for n in range(8)]
    data = _deck([s.encode() for s in slides], [], zipfile.ZIP_DEFLATED)
    reference = _run("d.pptx", data, LIMITS)
    if slide_reader != "native":
        assert reference == _run("d.pptx", data, LIMITS, "expat")
        return
    assert native is not None
    real = native.slide_batch
    plain = zipfile.ZipFile(io.BytesIO(data))
    failed: list[int] = []

    def disagreeing(*args: Any) -> tuple[int, int, str | None, list[bytes] | None]:
        status, nxt, text, bodies = real(*args)
        start, infos = args[2], args[1]
        assert isinstance(start, int) and isinstance(infos, list)
        if failed or status != 0 or nxt - start < 3:
            return status, nxt, text, bodies
        failed.append(start + 2)  # "the third part failed": the two before it come back
        before = [bulk.slide_body(plain.read(info[0]), 1000) for info in infos[start : start + 2]]
        return 2, start + 2, None, before

    monkeypatch.setattr(native, "slide_batch", disagreeing)
    assert _run("d.pptx", data, LIMITS) == reference
    assert failed == [2]
