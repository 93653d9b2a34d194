"""How a deck's slide and notes parts reach the batch pass: ``PartReader.read_each`` (every
member inflated in one frame, with ``read``'s checks) and ``slide_body`` (root tags cached
with their end tags). Both must give what the per-part reader and expat give, on generated
decks and on hostile members. Every test runs on both slide readers (``slide_reader``: the
compiled one and the pure-Python one)."""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detectors.dlp.extract import ExtractLimits
from detectors.dlp.extract import ooxml_fast as bulk
from detectors.dlp.extract.zipparts import INFLATERS, Container, PartReader, entries
from tests.unit.dlp import fixtures
from tests.unit.dlp.test_extract_bulk import SSN, _run
from tests.unit.dlp.test_extract_fast import PROLOG, _members, lying_member, para, slide

A = fixtures.A
P = fixtures.P
LIMITS = ExtractLimits()
pytestmark = pytest.mark.usefixtures("slide_reader")


# -- PartReader.read_each ------------------------------------------------------------------------


class _FileLike(io.RawIOBase):
    """A seekable source that is not a BytesIO (the reader then seeks and reads)."""

    def __init__(self, data: bytes) -> None:
        self.inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, b: bytearray) -> int:  # type: ignore[override]
        chunk = self.inner.read(len(b))
        b[: len(chunk)] = chunk
        return len(chunk)

    def seek(self, pos: int, whence: int = 0) -> int:
        return self.inner.seek(pos, whence)

    def tell(self) -> int:
        return self.inner.tell()


@pytest.mark.parametrize("inflater", INFLATERS)
@pytest.mark.parametrize("source", ["bytesio", "file"])
def test_read_each_gives_what_read_gives(inflater: str, source: str) -> None:
    """Deflated, stored, bzip2 and empty members, in order; a member over ``max_size`` is
    None (streamed by the caller), one at exactly ``max_size`` is read."""
    zf, bodies = _members()
    raw = zf.fp.getvalue()  # type: ignore[union-attr]
    opened = zipfile.ZipFile(io.BytesIO(raw) if source == "bytesio" else _FileLike(raw))
    reader = PartReader(opened, inflater)
    assert (reader.data is not None) == (source == "bytesio")
    infos = opened.infolist()
    limit = len(bodies["random.bin"])
    got = list(reader.read_each(infos, limit))
    assert [info for info, _ in got] == infos
    for info, body in got:
        expected = bodies[info.filename]
        assert body == (expected if len(expected) <= limit else None)
    assert [body for _, body in reader.read_each(infos, 0)] == [
        b"" if bodies[info.filename] == b"" else None for info in infos
    ]


@pytest.mark.parametrize("inflater", INFLATERS)
@pytest.mark.parametrize("lie", ["crc", "smaller", "larger", "header", "offset", "short"])
def test_read_each_refuses_a_member_that_lies_about_itself(inflater: str, lie: str) -> None:
    """The same refusals as ``read``: a wrong CRC, a declared size the data does not inflate
    to (never inflated past it), a bad local header, a header offset past the end or
    before the start, compressed data that ends early."""
    zf, _ = _members()
    info = lying_member(zf, lie)
    reader = PartReader(zf, inflater)
    with pytest.raises(zipfile.BadZipFile):
        list(reader.read_each([info], 1 << 30))
    with pytest.raises(zipfile.BadZipFile):
        reader.read(info)
    if lie == "offset":
        info.header_offset = -5
        with pytest.raises(zipfile.BadZipFile):
            list(reader.read_each([info], 1 << 30))


def test_read_each_reads_plain_entries_of_a_container() -> None:
    """The struct-loop entries of a :class:`Container` read like ``zipfile``'s."""
    zf, bodies = _members()
    ours = Container(io.BytesIO(zf.fp.getvalue()))  # type: ignore[union-attr]
    plain = entries(ours)
    assert ours.plain is not None
    got = dict((info.filename, body) for info, body in PartReader(ours).read_each(plain, 1 << 30))
    assert got == bodies


# -- slide_body's root tag cache -----------------------------------------------------------------


@pytest.fixture
def fresh_cache() -> None:
    bulk._ROOT_TAGS_SEEN.clear()


def _body(xml: bytes) -> bytes:
    """What slide_body returns for a well-formed part: the part without its declaration."""
    return xml[len(PROLOG) - 1 :] if xml.startswith(PROLOG[:-1].encode()) else xml


def test_a_cached_root_tag_still_needs_its_end_tag(fresh_cache: None) -> None:
    good = slide(para("one")).encode()
    assert bulk.slide_body(good, 1000) == _body(good)
    assert len(bulk._ROOT_TAGS_SEEN) == 1
    for cut in (good[:-1], good[: good.rfind(b"</p:sld>")] + b"</p:sldx>", good + b"<p:x/>"):
        with pytest.raises(bulk.Bail):
            bulk.slide_body(cut, 1000)


def test_root_tags_with_drawingml_elsewhere_are_not_cached(fresh_cache: None) -> None:
    other = slide(para("x"), ns=f'xmlns:x="{A}" xmlns:p="{P}"').replace("a:", "x:").encode()
    default = slide(para("y"), ns=f'xmlns="{A}" xmlns:p="{P}"').encode()
    for xml in (other, default, other):
        with pytest.raises(bulk.Bail):
            bulk.slide_body(xml, 1000)
    assert bulk._ROOT_TAGS_SEEN == {}


def test_declarations_past_the_root_tag_are_checked_on_every_part(fresh_cache: None) -> None:
    """A cached root tag says nothing of what follows it: DrawingML declared as the default
    namespace on an inner element bails each time, and a root tag holding ``>`` in an
    attribute value has the rest of its declarations checked with the body."""
    plain = slide(para("fine")).encode()
    inner = plain.replace(b"<p:txBody>", f'<p:txBody xmlns="{A}">'.encode())
    bulk.slide_body(plain, 1000)
    for _ in range(2):
        with pytest.raises(bulk.Bail):
            bulk.slide_body(inner, 1000)
    quoted = slide(para("q"), ns=f'title="a>b" xmlns:a="{A}" xmlns:p="{P}"').encode()
    assert bulk.slide_body(quoted, 1000) == _body(quoted)
    bad = slide(para("q"), ns=f'title="a>b" xmlns="{A}" xmlns:p="{P}"').encode()
    with pytest.raises(bulk.Bail):
        bulk.slide_body(bad, 1000)


def test_the_cache_is_bounded(fresh_cache: None) -> None:
    for n in range(bulk._ROOT_TAGS_KEPT + 10):
        xml = slide(para("n"), ns=f'xmlns:a="{A}" xmlns:p="{P}" n="{n}"').encode()
        assert bulk.slide_body(xml, 1000) == _body(xml)
    assert len(bulk._ROOT_TAGS_SEEN) == bulk._ROOT_TAGS_KEPT


# -- whole decks ---------------------------------------------------------------------------------


def _deck(slides: list[str], notes: list[str], stored: set[int]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        zf.writestr("ppt/presentation.xml", f'<p:presentation xmlns:p="{P}"/>')
        for n, xml in enumerate(slides, 1):
            method = zipfile.ZIP_STORED if n in stored else zipfile.ZIP_DEFLATED
            zf.writestr(f"ppt/slides/slide{n}.xml", xml, compress_type=method)
            zf.writestr(f"ppt/slides/_rels/slide{n}.xml.rels", "<Relationships/>")
        for n, xml in enumerate(notes, 1):
            zf.writestr(f"ppt/notesSlides/notesSlide{n}.xml", xml)
    return buf.getvalue()


_ROOTS = [
    f'xmlns:a="{A}" xmlns:p="{P}"',
    f"xmlns:a='{A}' xmlns:p='{P}' xmlns:r=\"urn:r\"",
    f'title="x>y" xmlns:a="{A}" xmlns:p="{P}"',
    f'xmlns="{A}" xmlns:p="{P}"',
    f'xmlns:d="{A}" xmlns:p="{P}"',
]
_HEADS = [PROLOG, '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n', "", "\n  "]


@st.composite
def _slides(draw: st.DrawFn) -> str:
    texts = draw(
        st.lists(
            st.sampled_from(["plain", f"SSN {SSN}", "a &amp; b", "caf\u00e9", "", " x "]),
            min_size=0,
            max_size=6,
        )
    )
    body = "".join(para(t) for t in texts)
    body += draw(st.sampled_from(["", "<a:p/>", "<a:p><a:r><a:t>tail</a:t></a:r><a:br/></a:p>"]))
    if draw(st.booleans()):
        body += para("pad " * draw(st.integers(min_value=0, max_value=3000)))
    return slide(body, head=draw(st.sampled_from(_HEADS)), ns=draw(st.sampled_from(_ROOTS)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    slides=st.lists(_slides(), min_size=1, max_size=8),
    notes=st.lists(_slides(), max_size=4),
    stored=st.sets(st.integers(min_value=1, max_value=8)),
    block=st.sampled_from([4096, 16384, 64 * 1024]),
)
def test_generated_decks_read_as_expat_reads_them(
    slides: list[str], notes: list[str], stored: set[int], block: int
) -> None:
    """Decks of slides and notes in every root spelling (DrawingML under another prefix or
    as the default namespace: expat's; a ``>`` in a root attribute), stored and deflated
    members, parts over and under the block size (streamed or batched): the bulk path
    gives expat's text and report. (DrawingML as the default namespace is compared only
    when expat's handler would read the same: it reads unprefixed ``t`` too.)"""
    bulk._ROOT_TAGS_SEEN.clear()
    data = _deck(slides, notes, stored)
    limits = replace(LIMITS, xml_block=block)
    assert _run("d.pptx", data, limits, "bulk") == _run("d.pptx", data, limits, "expat")


def test_a_slide_with_a_bad_local_header_is_corrupt() -> None:
    data = bytearray(_deck([slide(para("one")), slide(para(f"SSN {SSN}"))], [], set()))
    at = data.find(b"PK\x03\x04", data.find(b"ppt/slides/slide2.xml") - 40)
    data[at + 3] = 0x05
    for scanner in ("bulk", "expat"):
        assert _run("h.pptx", bytes(data), LIMITS, scanner)[1] == "corrupt"


def test_a_slide_that_lies_about_its_size_is_corrupt() -> None:
    """A slide whose directory entry declares fewer bytes than it inflates to (both in
    the central directory and the local header) is refused, not read past the size."""
    xml = slide(para(f"SSN {SSN}") * 50).encode()
    data = bytearray(_deck([xml.decode()], [], set()))
    size = len(xml).to_bytes(4, "little")
    smaller = (len(xml) - 7).to_bytes(4, "little")
    assert data.count(size) == 2
    data = bytearray(bytes(data).replace(size, smaller))
    for scanner in ("bulk", "expat"):
        assert _run("l.pptx", bytes(data), LIMITS, scanner)[1] == "corrupt"


# -- the plain pass (Hyperscan finds no other spelling) ------------------------------------------

_PLAIN = [
    slide(para("Title") + para(f"SSN {SSN}", " and more") + para("end")),
    slide(para("a &amp; b &lt;c&gt; &#65;", "caf\u00e9 \u2603") + para("")),
    slide(para("no declaration"), head=""),
]
# (fragment, read by the plain pass): other spellings of the tags the reader reacts to,
# markup it refuses, and tags under other prefixes, which expat reads by their local name
_FRAGMENTS = [
    (para("plain"), True),
    ("<a:p><a:pPr><a:tabLst/></a:pPr><a:r><a:t>tab list</a:t></a:r></a:p>", True),
    ("<a:p/>", False),
    ('<a:p><a:r><a:t>x</a:t></a:r><a:br><a:rPr lang="en-US"/></a:br></a:p>', False),
    ("<a:p><a:r><a:t>x</a:t></a:r><a:br/><a:r><a:t>y</a:t></a:r></a:p>", False),
    ("<a:p><a:r><a:t>x</a:t></a:r><a:tab/><a:r><a:t>y</a:t></a:r></a:p>", False),
    ("<a:p><a:r><a:t>x</a:t></a:r><a:cr/></a:p>", False),
    ('<a:p><a:r><a:t xml:space="preserve"> kept </a:t></a:r></a:p>', False),
    ("<a:p><a:r><a:t>end</a:t></a:r></a:p >", False),
    ("<a:p><a:r><a:t>end</a:t ></a:r></a:p>", False),
    ("<a:p><a:r><a:t>a<a:x/>b</a:t></a:r></a:p>", False),
    ("<!-- a comment --><a:p><a:r><a:t>c</a:t></a:r></a:p>", False),
    ("<?pi data?><a:p><a:r><a:t>pi</a:t></a:r></a:p>", False),
    ('<a:p attr="1"><a:r><a:t>attributed</a:t></a:r></a:p>', False),
    ("<x:p><x:r><x:t>foreign</x:t></x:r></x:p>", False),
    ("<a:p><a:r><a:t>x</a:t></a:r></a:p><x:p/>", False),
    ("<a:p><a:r><a:t>x</a:t></a:r><ab:br/></a:p>", False),
    ("<a:p><a:r><a:t>x</a:t></a:r><:tab/></a:p>", False),
    ("<a:p><a:r><a:t>x</a:t></a:r><a:x:cr/></a:p>", False),
    ("<a:p><a:r><a:t>x</a:t></a:r></a:p></x:p>", False),
    # the same spellings in text: expat reads the part, to the same text
    (para("ratio x:p> y"), False),
    (para("see a:t here"), False),
    (para("time:tab/ and a:b"), False),
]


def test_plain_slides_take_the_plain_pass() -> None:
    bodies = [bulk.slide_body(x.encode(), 1000) for x in _PLAIN]
    joined = b"<\x00>".join(bodies) + b"<\x00>"
    if bulk.hyperscan is None:  # pragma: no cover - hosts without the wheel
        assert bulk._plain_slides(joined) is None
        return
    plain = bulk._plain_slides(joined)
    assert plain is not None
    assert bulk.text_of(plain) == "".join(bulk.slide_text(b) + "\n" for b in bodies)


@pytest.mark.parametrize("fragment, plain", _FRAGMENTS)
def test_other_spellings_leave_the_plain_pass_and_read_as_expat(fragment: str, plain: bool) -> None:
    xml = slide(para(f"SSN {SSN}") + fragment)
    body = bulk.slide_body(xml.encode(), 1000)
    joined = b"<\x00>" + body + b"<\x00>"
    if bulk.hyperscan is not None:
        try:
            got = bulk._plain_slides(joined)
        except bulk.Bail:
            got = None
        assert (got is not None) == plain
    data = _deck([_PLAIN[0], xml, _PLAIN[1]], [xml], set())
    assert _run("o.pptx", data, LIMITS, "bulk") == _run("o.pptx", data, LIMITS, "expat")


def test_without_hyperscan_decks_take_the_full_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "_ODD_TAGS", [None])
    assert bulk._plain_slides(b"<\x00>" + _PLAIN[0].encode() + b"<\x00>") is None
    data = _deck(_PLAIN, _PLAIN[:1], set())
    reference = _run("n.pptx", data, LIMITS, "expat")
    assert _run("n.pptx", data, LIMITS, "bulk") == reference
    assert f"SSN {SSN}" in reference[0]


def test_a_failing_scan_is_taken_as_every_spelling(monkeypatch: pytest.MonkeyPatch) -> None:
    scanner = bulk._odd_tags()
    if scanner is None:  # pragma: no cover - hosts without the wheel: no scan to fail
        assert bulk.hyperscan is None
        return

    class Broken:
        def scan(self, *args: object, **kwargs: object) -> None:
            raise bulk.hyperscan.error("scratch in use")

    monkeypatch.setattr(scanner, "db", Broken())
    monkeypatch.setattr(scanner.local, "scratch", object(), raising=False)
    assert scanner.found(b"<a:p/>") == bulk._ODD | bulk._FOREIGN
    with pytest.raises(bulk.Bail):
        bulk._plain_slides(b"<\x00>" + _PLAIN[0].encode() + b"<\x00>")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pieces=st.lists(st.sampled_from([f for f, _ in _FRAGMENTS]), min_size=1, max_size=6),
    parts=st.integers(min_value=1, max_value=4),
)
def test_slides_of_random_fragments_read_as_expat_reads_them(pieces: list[str], parts: int) -> None:
    """Decks whose slides mix plain runs with every other spelling above: the plain pass,
    the full pass, part by part and expat together give expat's text."""
    slides = [slide("".join(pieces[i::parts]) or para("x")) for i in range(parts)]
    data = _deck(slides, slides[:1], set())
    assert _run("r.pptx", data, LIMITS, "bulk") == _run("r.pptx", data, LIMITS, "expat")
