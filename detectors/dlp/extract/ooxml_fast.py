"""The bulk scanner of OOXML parts: regular expressions over UTF-8 bytes, no per-element calls.

The expat reader in ``detectors.dlp.extract.ooxml`` calls Python twice per element, which
dominates on spreadsheets (a few bytes of text per cell, several elements per cell) and on
slides (~50 elements per paragraph). This scanner reads xlsx worksheets and shared strings
region by region, and pptx slide and notes parts a block of parts at a time, with compiled
patterns that pick out only what the expat reader reacts to, and produces exactly the text
the expat reader would (the tests compare the two). It keeps nothing per element: a region
ends at a safe cut (after a row, before a shared string) and the carry between regions is
bounded. Word parts stay on expat (long runs per element: expat is already at 50+ MB/s).

Two block passes run no Python per cell or per element at all:

* xlsx (:meth:`CellScanner.fast`): one ``split`` of a region by a pattern of the common cell
  shapes gives the tokens and what lies between them; when nothing between them is a tag,
  every tag was one of the known shapes, and the tokens become text through ``join``,
  ``replace`` and list operations (shared-string indices resolved by one ``map``). Any other
  region goes to the per-cell pattern (:meth:`CellScanner.feed`). Plain shared strings go
  the same way (:meth:`SharedStringScanner.fast`: one ``split``, the texts decoded once).
  A region of whole rows of inline strings in openpyxl's exact spelling goes quicker still
  (:func:`_inline_rows`): two ``sub`` calls turn the markup between texts into tabs and
  newlines, with no Python object per cell.
* pptx (:func:`slides_text`): consecutive small parts, joined with a NUL boundary, go
  through one ``findall`` of text runs and paragraph, break and tab ends. A batch with any
  other spelling goes part by part (:func:`slide_text`), and a part that bails there, or
  a part larger than ``xml_block``, to expat. Only ``a:t`` runs are read: DrawingML bound
  to another prefix or as the default namespace, and a ``t`` under another prefix, bail;
  an unprefixed ``t`` (no namespace: not DrawingML) is read by expat alone. A part with
  more tags than ``max_xml_depth`` (counted when it is long enough to hold that many start
  tags) goes to expat, so the depth cap holds exactly. Where Hyperscan is installed, one
  scan of the batch first looks for every other spelling the pattern reacts to; a batch
  with none (what python-pptx writes) is read by a pattern of two alternatives
  (:func:`_plain_slides`), and a part holding the reader's local names under a prefix other
  than ``a`` (``<x:p/>``, which expat reads by its local name) goes to expat. Where the
  compiled tokenizer (``_native_slides.c``) is built, it reads each batch instead, by the
  same rules, in one pass over each part; ``ooxml._pptx_native`` also reads the parts of an
  in-memory deck through it, with no Python per part.

It handles the shapes Office writes and nothing else. On anything unusual it raises
:class:`Bail` and the caller reads the part again with expat (which refuses DTDs, reports
malformed XML as corrupt and truncates deep nesting at the exact element), skipping the
characters already produced. A bail happens on:

* a part that is not UTF-8 (a byte order mark other than UTF-8's, NULs, another declared
  encoding), anything before the XML declaration, or no element at all;
* ``<!`` anywhere (DOCTYPE, ENTITY, comments, CDATA) or ``<?`` past the XML declaration;
* a carriage return (expat normalises line ends; Office writes none);
* an entity other than the five XML ones, a numeric reference to a non-XML character, a
  bare ``&``, or text that is not valid UTF-8;
* nesting deeper than ``max_xml_depth`` at a region's end or in the carry, or tags that
  do not balance at the part's end (counted from ``<``, ``</`` and ``/>``; a nest that
  rises past the cap and falls back inside one region costs this scanner nothing, as it
  keeps no per-element state, and is read whole);
* a carry longer than :data:`MAX_CARRY` bytes (one huge text run, tag or row);
* an xlsx cell or shared string of a shape the patterns do not know (formulas, styles,
  formatted runs and phonetic guides are known; anything else holding a ``c``, ``v``,
  ``t``, ``is``, ``si`` or ``rPh`` tag bails).

Where expat is stricter about well-formedness than these checks (mismatched end-tag names,
a second root element), the part is read rather than skipped as ``corrupt``: more text is
scanned, never less.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from operator import itemgetter
from typing import IO, Any

from detectors.dlp.extract.errors import Budget, ExtractLimits, ExtractReport

try:  # the matcher's engine; without its wheel (Linux aarch64) slides take the full pass
    import hyperscan
except ImportError:  # pragma: no cover - exercised on hosts without the wheel
    hyperscan = None  # type: ignore[assignment]

try:  # the compiled slide tokenizer (setup.py builds it where a C compiler is)
    from detectors.dlp.extract import _native_slides
except ImportError:  # pragma: no cover - exercised on hosts without a compiler
    _native_slides = None  # type: ignore[assignment]

__all__ = [
    "MAX_CARRY",
    "Bail",
    "CellScanner",
    "SharedStringScanner",
    "scan",
    "slide_body",
    "slide_text",
    "slides_text",
]

MAX_CARRY = 1024 * 1024

_NAME = rb"[A-Za-z_][\w.\-]*"
_PFX = rb"(?:" + _NAME + rb":)?"  # any namespace prefix
_ATTRS = rb"(?:[^>\"']|\"[^\"]*\"|'[^']*')*?"
_PROLOG = re.compile(rb"<\?xml\b(?:[^>\"']|\"[^\"]*\"|'[^']*')*\?>")
_ENCODING = re.compile(rb"\bencoding\s*=\s*[\"']([^\"']*)[\"']")
_ENTITY = re.compile(r"&(#[0-9]+|#x[0-9A-Fa-f]+|[A-Za-z]+);|&")
_XML_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_ANY_TAG = re.compile(rb"<" + _ATTRS + rb">")
_UNUSUAL = re.compile(rb"<[!?]|\r")


class Bail(Exception):
    """The bulk scanner cannot vouch for this part: read it with expat instead."""


def _entity(m: re.Match[str]) -> str:
    ref = m.group(1)
    if ref is None:
        raise Bail  # a bare '&': malformed
    if ref[0] == "#":
        try:
            code = int(ref[2:], 16) if ref[1] in "xX" else int(ref[1:])
            char = chr(code)
        except (ValueError, OverflowError):
            raise Bail from None
        if (code < 0x20 and code not in (0x9, 0xA, 0xD)) or 0xD800 <= code <= 0xDFFF:
            raise Bail  # not an XML character: expat refuses it
        return char
    if ref not in _XML_ENTITIES:
        raise Bail
    return _XML_ENTITIES[ref]


def text_of(raw: bytes) -> str:
    """Character data as expat delivers it: tags dropped, entities decoded, strict UTF-8."""
    if b"<" in raw:
        raw = _ANY_TAG.sub(b"", raw)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Bail from None
    if "&" in text:
        text = _ENTITY.sub(_entity, text)
    return text


def _prefix_of(head: bytes) -> bytes:
    """The namespace prefix of the root element (``x:`` for ``<x:worksheet``), else b""."""
    m = re.search(rb"<(" + _NAME + rb":)?" + _NAME, head)
    return m.group(1) or b"" if m else b""


def _strip_prolog(head: bytes) -> bytes:
    """The part without its XML declaration; Bail unless it is UTF-8."""
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    if b"\x00" in head[:4] or head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise Bail
    m = _PROLOG.match(head)
    if m is None:
        return head
    enc = _ENCODING.search(m.group(0))
    if enc is not None and enc.group(1).lower() not in (b"utf-8", b"utf8", b"us-ascii", b"ascii"):
        raise Bail
    return head[m.end() :]


def _rise(xml: bytes) -> int:
    """Elements opened minus elements closed (markup without ``<!`` or ``<?``)."""
    closes = xml.count(b"</")
    return xml.count(b"<") - 2 * closes - xml.count(b"/>")


class _Scanner:
    """Turns regions of one part into text; ``cut`` says where a region may end."""

    def __init__(self, prefix: bytes) -> None:
        self.prefix = prefix

    def cut(self, buf: bytes) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def feed(self, region: bytes) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def fast(self, region: bytes) -> tuple[str, int] | None:
        """The region's text and its rise in nesting by a quicker route than ``feed``, or
        None when that route cannot vouch for the region (``feed`` reads it then)."""
        return None

    def finish(self) -> str:
        return ""


def scan(
    fh: IO[bytes],
    make: Callable[[bytes], _Scanner],
    limits: ExtractLimits,
    budget: Budget,
) -> Iterator[str]:
    """Text of one part, region by region; ``budget`` is checked after every block read.

    Raises :class:`Bail` (see the module docstring); the caller re-reads the part.
    """
    block = limits.xml_block
    buf = _strip_prolog(fh.read(block))
    if b"<" not in buf:
        raise Bail  # no root element where one must start (an empty part is malformed)
    scanner = make(_prefix_of(buf[:4096]))
    depth = 0
    eof = False
    while True:
        data = fh.read(block)
        if data:
            buf += data
        else:
            eof = True
        cut = len(buf) if eof else scanner.cut(buf)
        if cut > 0:
            region = buf[:cut]
            buf = buf[cut:]
            fast = scanner.fast(region)
            if fast is None:
                if _UNUSUAL.search(region) is not None:
                    raise Bail
                depth += _rise(region)
            else:
                depth += fast[1]
            if depth < 0 or depth > limits.max_xml_depth:
                raise Bail
            text = scanner.feed(region) if fast is None else fast[0]
            if text:
                yield text
        elif len(buf) > MAX_CARRY or depth + _rise(buf) > limits.max_xml_depth:
            raise Bail
        if eof:
            break
        budget.check()
    if depth != 0:
        raise Bail
    tail = scanner.finish()
    if tail:
        yield tail


# --------------------------------------------------------------------------- xlsx


def _cell_pattern(p: bytes) -> re.Pattern[bytes]:
    """A row end; one cell (its attributes, and a value after an optional formula, or an
    inline string of one plain text element); an empty cell; or, last, any other cell,
    value or text tag (group ``odd``: a shape these patterns do not know, such as an
    attribute value holding ``>``)."""
    q = re.escape(p)
    formula = rb"(?:<" + q + rb"f(?:\s[^<>]*)?(?:/>|>[^<]*</" + q + rb"f>))?"
    value = rb"(<" + q + rb"v>)([^<]*)</" + q + rb"v>"
    inline = (
        rb"(<" + q + rb"is><" + q + rb"t(?:\s+xml:space\s*=\s*\"preserve\")?>)([^<]*)</"
        + q + rb"t></" + q + rb"is>"
    )  # fmt: skip
    return re.compile(
        rb"<(?:(/" + q + rb"row>|" + q + rb"row(?:\s[^<>]*)?/>)|" + q + rb"c(\s[^<>]*)?>\s*"
        rb"(?:" + formula + rb"\s*" + value + rb"|" + inline + rb")?\s*</" + q + rb"c>"
        rb"|" + q + rb"c(?:\s[^<>]*)?/>|(" + _PFX + rb"(?:c|v|t|is|rPh)[\s/>]))"
    )  # fmt: skip


_T_ATTR = re.compile(rb"\st\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")


def _cell_kind(attrs: bytes) -> bytes:
    """The ``t`` attribute of a cell (``s``, ``inlineStr``, ``n``, ...), else b""."""
    if attrs.endswith(b' t="s"'):
        return b"s"
    if attrs.endswith(b' t="inlineStr"'):
        return b"inlineStr"
    m = _T_ATTR.search(attrs)
    if m is None:
        return b""
    return m.group(1) if m.group(1) is not None else m.group(2)


def _decoded(raw: bytes) -> bytes:
    return text_of(raw).encode("utf-8")


_CELL_ATTRS = rb'(?: (?:r|s|cm|vm|ph)="[^"<>]*")*'
_FORMULA = rb'(?:<f(?: [a-z]+="[^"<>]*")*(?:/>|>[^<]*</f>))?'
# Tags around the cells (worksheet, sheetData, cols, pageMargins, ...): unprefixed, of no
# name the cell reader reacts to; a start or end tag is a token (``<`` or ``</``, counted
# for the rise), an empty one is not.
_OTHER_NAME = rb"(?!(?:c|v|t|is|f|r|rPh|row|si)[\s/>])[A-Za-z]\w*"
_OTHER_TAGS = (
    rb"|(<|</)" + _OTHER_NAME + rb'(?: [\w:]+="[^"<>]*")*>'
    rb"|<" + _OTHER_NAME + rb'(?: [\w:]+="[^"<>]*")*\s*/>'
)
# The cells Office and openpyxl write, in one pass that leaves no ``<`` unmatched when the
# region holds nothing else: a row start (group 1, empty: counted for the rise, dropped
# from the text) or end (group 2: ``</row>``, made a newline), a shared-string cell
# (group 3: ``<v>`` and the index, so it can be told from text), an inline string or a
# value after an optional formula (group 4: the text), an empty cell, another tag
# (group 5).
_FAST_CELLS = re.compile(
    rb'<row()(?: [\w:]+="[^"<>]*")*>|(</row>)'
    rb'|<c' + _CELL_ATTRS + rb'(?:'
    rb' t="s"' + _CELL_ATTRS + rb'>(<v>\d{1,9})</v></c>'
    rb'|(?: t="inlineStr"' + _CELL_ATTRS + rb'><is><t(?: xml:space="preserve")?>'
    rb'|(?: t="(?:n|b|e|str|d)")?' + _CELL_ATTRS + rb'>' + _FORMULA + rb'<v>)'
    rb'([^<]*)(?:</t></is>|</v>)</c>'
    rb'|(?: t="\w+")?' + _CELL_ATTRS + rb'(?:/>|></c>))'
    + _OTHER_TAGS
)  # fmt: skip
# The same for a sheet of inline strings only (what openpyxl writes), with as few pattern
# steps per cell as ``re`` allows (its cost is per step, so literal attributes are skipped
# rather than spelled). Group 1: the text; groups 2 and 3: a row start and end, as in
# ``_FAST_CELLS``; group 4: another tag. A cell start tag is taken whole up to its first
# ``>`` (at most 512 bytes: a region of unclosed tags costs linear time) and must end
# with `` t="inlineStr"``: in well-formed XML that is the cell's type
# attribute (the last quote before ``>`` closes a value, which holds no quote of its own);
# a ``>`` inside an attribute value ends the match early, and the tag is left between the
# tokens (the region then takes another pattern).
_INLINE_CELLS = re.compile(
    rb'<c [^>]{0,512} t="inlineStr"><is><t(?:>| xml:space="preserve">)([^<]*)</t></is></c>'
    rb"|<row()(?:>| [^>]{0,512}>)|(</row>)" + _OTHER_TAGS
)
#: (pattern, its number of groups, the group of a row start)
_FAST_PATTERNS = ((_INLINE_CELLS, 4, 2), (_FAST_CELLS, 5, 1))
# Whole rows of inline-string cells exactly as openpyxl writes them, read with no Python
# object per cell (see :func:`_inline_rows`): the markup from one cell's text to the next
# is a single match, replaced by a literal separator.
_INLINE_START = rb'<c r="[A-Z]{1,3}\d{1,7}" t="inlineStr"><is><t(?:>| xml:space="preserve">)'
_INLINE_ROW_START = rb'<row r="\d{1,7}"(?:>| spans="\d{1,5}:\d{1,5}">)'
_INLINE_HEAD = re.compile(_INLINE_ROW_START + _INLINE_START)
_INLINE_CELL_GAP = re.compile(rb"</t></is></c>" + _INLINE_START)
_INLINE_ROW_GAP = re.compile(rb"</t></is></c></row>" + _INLINE_ROW_START + _INLINE_START)
_INLINE_TAIL = b"</t></is></c></row>"
_EMPTY_TEXT = b"<t></t>"
_EMPTY_KEPT = b'<t xml:space="preserve"></t>'


def _inline_rows(region: bytes) -> str | None:
    """The text of a region of whole rows of non-empty inline-string cells in openpyxl's
    spelling, else None. The region must open with a row and cell start (``_INLINE_HEAD``)
    and close with a cell and row end; one ``sub`` turns each gap between two cells of a
    row into a tab, a second each gap across a row end into a tab and a newline. Texts hold
    no ``<``, so when no ``<`` is left every tag was in one of those gaps: the region is
    exactly head, text, (gap, text)..., tail, every cell balanced and the rows flat (a rise
    of 0). An empty text (which would give a tab the cell does not show), a
    carriage return, bad UTF-8 or an unknown entity gives None."""
    if not region.endswith(_INLINE_TAIL) or _EMPTY_TEXT in region or _EMPTY_KEPT in region:
        return None
    head = _INLINE_HEAD.match(region)
    if head is None or head.end() > len(region) - len(_INLINE_TAIL):
        return None
    body = _INLINE_CELL_GAP.sub(b"\t", region[head.end() : -len(_INLINE_TAIL)])
    body = _INLINE_ROW_GAP.sub(b"\t\n", body)  # on the shorter body: fewer bytes searched
    if b"<" in body or b"\r" in body:
        return None
    try:
        text = body.decode("utf-8")
        if "&" in text:
            text = _ENTITY.sub(_entity, text)
    except (Bail, UnicodeDecodeError):
        return None
    return text + "\t\n"


_SHARED_REF = re.compile(rb"<v>(\d+)\t")


def _decode_entities(raw: bytes) -> bytes:
    return _ENTITY.sub(_entity, raw.decode("utf-8")).encode("utf-8") if b"&" in raw else raw


class CellScanner(_Scanner):
    """xlsx worksheet cells: values, shared strings resolved from ``shared`` (flagging
    ``used``), inline strings; a tab after each cell that showed something, a newline per
    row (what the expat reader's cell handler yields)."""

    def __init__(self, prefix: bytes, shared: list[bytes], used: bytearray) -> None:
        super().__init__(prefix)
        self.shared = shared  # the shared-string table, UTF-8 encoded
        self.used = used
        self.cells = _cell_pattern(prefix)
        starts = (b"<%sc ", b"<%sc>", b"<%sc/", b"<%srow", b"</%srow>")
        self.starts = tuple(s.replace(b"%s", prefix) for s in starts)
        self.row_end = b"</" + prefix + b"row>"
        self.shared_tabbed: list[bytes] | None = None
        self.dialect = 0  # the pattern that read the last region, tried first

    def fast(self, region: bytes) -> tuple[str, int] | None:
        """Cells of the common shapes with no Python per cell: the region's rows by
        :func:`_inline_rows` when they are openpyxl's inline strings, else the region by
        :meth:`_split_pass`. None for a prefixed part or what ``_split_pass`` refuses."""
        if self.prefix:
            return None
        first = region.find(b"<row ")
        last = region.rfind(_INLINE_TAIL)
        if first >= 0 and last > first:
            text = _inline_rows(region[first : last + len(_INLINE_TAIL)])
            if text is not None:
                if first == 0 and last + len(_INLINE_TAIL) == len(region):
                    return text, 0
                # the sheet's first or last region: the tags around its rows (sheetData,
                # sheetViews, pageMargins, ...) by the split pass, which must find no text
                head, tail = region[:first], region[last + len(_INLINE_TAIL) :]
                around = [self._split_pass(piece) for piece in (head, tail) if piece]
                if all(got is not None and got[0] == "" for got in around):
                    return text, sum(got[1] for got in around if got is not None)
        return self._split_pass(region)

    def _split_pass(self, region: bytes) -> tuple[str, int] | None:
        """``split`` gives every token and what lies between them (which must hold no
        tag), the tokens are joined with tabs, row tokens and shared-string indices are
        replaced by ``bytes`` and list operations. None for any other tag, an index past
        the table, a carriage return, bad UTF-8 or an unknown entity."""
        for tried in range(len(_FAST_PATTERNS)):
            pattern, groups, row_start = _FAST_PATTERNS[
                (self.dialect + tried) % len(_FAST_PATTERNS)
            ]
            parts = pattern.split(region)
            between = parts[:: groups + 1]
            if not any(between) or b"<" not in b"".join(between):
                self.dialect = (self.dialect + tried) % len(_FAST_PATTERNS)
                break  # no tag left between the tokens: every one is a known shape
        else:
            return None
        step = groups + 1
        starts = parts[row_start::step]
        rise = len(starts) - starts.count(None)  # cells are balanced: rows and other tags rise
        other_tags = any(parts[groups::step])  # only around the sheet's rows
        if any(between):
            del parts[::step]  # white space between tags is not text
        joined = b"\t".join(filter(None, parts)) + b"\t"  # row starts are empty: dropped
        size = len(joined)
        joined = joined.replace(b"</row>\t", b"\n")
        rise -= (size - len(joined)) // (len(b"</row>\t") - 1)
        if other_tags:
            rise += joined.count(b"<\t") - joined.count(b"</\t")
            joined = joined.replace(b"<\t", b"").replace(b"</\t", b"")
        if b"\r" in joined:
            return None
        try:
            if b"<v>" not in joined and b"&" not in joined:
                return joined.decode("utf-8"), rise
            return self._resolved(joined).decode("utf-8"), rise
        except (Bail, IndexError, UnicodeDecodeError):
            return None

    def _resolved(self, joined: bytes) -> bytes:
        """Entities decoded and shared-string indices (``<v>N\\t``) replaced by the strings."""
        pieces = _SHARED_REF.split(joined)
        if b"&" in joined:
            pieces[::2] = [_decode_entities(piece) for piece in pieces[::2]]
        if len(pieces) > 1:
            indices = list(map(int, pieces[1::2]))
            if self.shared_tabbed is None:
                self.shared_tabbed = [s + b"\t" if s else b"" for s in self.shared]
            pieces[1::2] = map(self.shared_tabbed.__getitem__, indices)
            for idx in set(indices):
                self.used[idx] = 1
        return b"".join(pieces)

    def cut(self, buf: bytes) -> int:
        end = buf.rfind(self.row_end)
        if end > 0:
            return end + len(self.row_end)
        return max(max(buf.rfind(s) for s in self.starts), 0)

    def feed(self, region: bytes) -> str:
        shared, used, n = self.shared, self.used, len(self.shared)
        out: list[bytes] = []
        for row, attrs, v_tag, value, is_tag, inline, odd in self.cells.findall(region):
            if row:
                out.append(b"\n")
                continue
            if odd:
                raise Bail  # a cell of another shape: expat reads the part
            kind = _cell_kind(attrs) if b"t" in attrs else b""
            if v_tag:
                if kind == b"s":
                    if value.isdigit() and len(value) <= 20:
                        idx = int(value)
                        if idx < n:
                            used[idx] = 1
                            if shared[idx]:
                                out.append(shared[idx])
                                out.append(b"\t")
                elif value:
                    out.append(_decoded(value) if b"&" in value else value)
                    out.append(b"\t")
            elif is_tag and inline and kind == b"inlineStr":
                out.append(_decoded(inline) if b"&" in inline else inline)
                out.append(b"\t")
        try:
            return b"".join(out).decode("utf-8")
        except UnicodeDecodeError:
            raise Bail from None


_SI = re.compile(
    rb"<si>(?:(<t(?:\s+xml:space\s*=\s*\"preserve\")?>)([^<]*)</t>|(<t\s*/>))?</si>|<si\s*/>"
    rb"|<si>(.*?)</si>",
    re.S,
)
_RPH = re.compile(rb"<rPh(?:\s" + _ATTRS + rb")?(?:/>|>.*?</rPh>)", re.S)
_T_TEXT = re.compile(rb"<t(?:\s" + _ATTRS + rb")?>([^<]*)</t>|<t(?:\s" + _ATTRS + rb")?/>")
_SI_TAGS = re.compile(rb"<(?:si|t|rPh)(?=[\s/>])")


# Plain shared strings in one pass (group 1: the text, empty for ``<si><t/></si>`` and
# ``<si></si>``), and the unprefixed tags around them (group 2: ``<`` or ``</``, for the
# rise). Formatted runs, phonetic guides and ``<si/>`` are left between the tokens, so the
# region goes to the per-string pattern.
_FAST_STRINGS = re.compile(
    rb'<si>(?:<t(?: xml:space="preserve")?>(?=[^<]*</t></si>)|<t/>(?=</si>)|(?=</si>))'
    rb"([^<]*)(?:</t>)?</si>"
    rb"|(<|</)(?!(?:si|t|r|rPh|rPr)[\s/>])[A-Za-z]\w*(?: [\w:]+=\"[^\"<>]*\")*>"
    rb"|<(?!(?:si|t|r|rPh|rPr)[\s/>])[A-Za-z]\w*(?: [\w:]+=\"[^\"<>]*\")*\s*/>"
)


class SharedStringScanner(_Scanner):
    """xlsx shared strings into ``table`` up to the caps (strings past them go out as text,
    one per line, and the report says truncated), as the expat reader's handler does.
    Only unprefixed parts (what Office writes); a prefixed one bails."""

    def __init__(
        self, prefix: bytes, limits: ExtractLimits, report: ExtractReport, table: list[str]
    ) -> None:
        super().__init__(prefix)
        if prefix:
            raise Bail
        self.table = table
        self.chars = 0
        self.max_count = limits.max_shared_strings
        self.max_chars = limits.max_shared_string_chars
        self.report = report
        self.full = False

    def cut(self, buf: bytes) -> int:
        return max(buf.rfind(b"<si>"), buf.rfind(b"<si "), buf.rfind(b"<si/"), 0)

    def fast(self, region: bytes) -> tuple[str, int] | None:
        """Plain strings with no Python per string: one ``split`` (nothing but known
        tokens may lie between them), the texts joined with NUL, decoded once and split
        again. None (the per-string pattern reads the region) for any other shape, a NUL
        or carriage return, bad UTF-8 or entity, or a region that reaches a cap (which the
        per-string pattern applies string by string)."""
        if self.full or b"\x00" in region or b"\r" in region:
            return None
        parts = _FAST_STRINGS.split(region)
        if b"<" in b"".join(parts[::3]):
            return None
        texts = parts[1::3]
        others = parts[2::3]
        rise = 0
        if any(others):  # the part's first or last region: sst's start or end
            rise = others.count(b"<") - others.count(b"</")
            texts = [text for text, other in zip(texts, others, strict=True) if other is None]
        if not texts:
            return "", rise
        try:
            joined = b"\x00".join(texts).decode("utf-8")
            if "&" in joined:
                joined = _ENTITY.sub(_entity, joined)
        except (Bail, UnicodeDecodeError):
            return None
        chars = len(joined) - (len(texts) - 1)
        if len(self.table) + len(texts) > self.max_count or self.chars + chars > self.max_chars:
            return None
        self.table.extend(joined.split("\x00"))
        self.chars += chars
        return "", rise

    def _rich(self, inner: bytes) -> tuple[str, int]:
        """Text of a formatted string (runs; phonetic guides dropped) and its tag count."""
        tags = 0
        if b"<rPh" in inner:
            for guide in _RPH.findall(inner):
                tags += len(_SI_TAGS.findall(guide))
            inner = _RPH.sub(b"", inner)
        texts = _T_TEXT.findall(inner)
        return "".join(text_of(t) for t in texts if t), tags + len(texts)

    def feed(self, region: bytes) -> str:
        out: list[str] = []
        tags = 0
        table = self.table
        for t_tag, simple, t_empty, rich in _SI.findall(region):
            tags += 1
            if rich:
                text, n = self._rich(rich)
                tags += n
            else:
                tags += bool(t_tag or t_empty)
                text = text_of(simple) if simple else ""
            if (
                not self.full
                and text
                and (len(table) >= self.max_count or self.chars + len(text) > self.max_chars)
            ):
                self.full = True
                self.report.truncated = True
                self.report.truncated_reason = (
                    f"shared strings past {self.max_count} strings or {self.max_chars} "
                    "characters are scanned out of cell order"
                )
            if self.full:
                if text:
                    out.append(text)
                out.append("\n")
            else:
                table.append(text)
                self.chars += len(text)
        if len(_SI_TAGS.findall(region)) != tags:
            raise Bail
        return "".join(out)


# --------------------------------------------------------------------------- pptx

_RUN_LOCALS = rb"(?:t|p|br|tab|cr)"
# One match per text run (group 1: its text), per ``a:`` element end that the paragraph
# reader turns into a separator, per part boundary (``<NUL>``, see :func:`slides_text`),
# and per other spelling of an ``a:`` tag it reacts to (attributes, empty) or ``<!``/``<?``
# (group 2). Tags of other names fail at their first characters, so one pass costs about
# what finding the runs costs.
_RUNS = re.compile(
    rb"<(?:a:t>([^<]*)</a:t>|(a:(?:(?:p|br|cr|tab)/>|t[\s/>]|" + _RUN_LOCALS + rb"[\s/])"
    rb"|/a:(?:(?:p|br|cr|tab)>|" + _RUN_LOCALS + rb"\s)|\x00>"
    rb"|\?xml version=(?:'1\.0' encoding='UTF-8' standalone='yes'"
    rb"|\"1\.0\" encoding=\"UTF-8\" standalone=\"yes\")\?>|[!?]))"
)  # (alternatives grouped by their first bytes: fewer tried at each other tag)
_PROLOGS = (
    b"<?xml version='1.0' encoding='UTF-8' standalone='yes'?>",
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>',
)
_RUN_ENDS = {
    b"/a:p>": b"\n",
    b"/a:br>": b"\n",
    b"/a:cr>": b"\n",
    b"/a:tab>": b"\t",
    b"a:p/>": b"\n",
    b"a:br/>": b"\n",
    b"a:cr/>": b"\n",
    b"a:tab/>": b"\t",
}
_PART_ENDS = {**_RUN_ENDS, **{prolog[1:]: b"" for prolog in _PROLOGS}}  # and declarations
_BATCH_ENDS = {**_PART_ENDS, b"\x00>": b"\n"}
_RUN_TAG = re.compile(
    rb"<a:(t|p|br|tab|cr)(?:\s+" + _NAME + rb"(?::" + _NAME + rb")?\s*=\s*"
    rb"(?:\"[^\"<]*\"|'[^'<]*'))*\s*(/?)>"
)
_NAMESPACES = re.compile(rb"xmlns(?::(" + _NAME + rb"))?\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_DRAWINGML = (
    b"http://schemas.openxmlformats.org/drawingml/2006/main",
    b"http://purl.oclc.org/ooxml/drawingml/main",
)
_ROOT = re.compile(rb"\s*<(" + _NAME + rb"(?::" + _NAME + rb")?)[\s/>]")


def _run_tag(body: bytes, at: int) -> bytes:
    """What a start or empty ``a:`` tag at ``at`` adds (an empty one: its separator);
    Bail for a spelling the attribute grammar does not cover or a ``t`` that is not a
    plain run."""
    m = _RUN_TAG.match(body, at)
    if m is None or m.group(1) == b"t":
        raise Bail
    if not m.group(2):
        return b""  # a start tag: its end tag adds the separator
    return b"\t" if m.group(1) == b"tab" else b"\n"


def slide_body(xml: bytes, max_depth: int) -> bytes:
    """A slide or notes part checked for what the run patterns assume: UTF-8; the root
    element closed at the end (a cut part is expat's to call corrupt); no more tags than
    ``max_depth``, or too short to hold more start tags (so no nesting past the cap, which
    expat truncates at the exact element; a malformed short part of many ``<`` is read
    here where expat calls it corrupt: more text, never less);
    DrawingML, if declared, under the prefix ``a`` and no default namespace (text under
    another prefix would not be seen). Bail otherwise. The part is returned without its
    XML declaration (so any ``<?`` left is a processing instruction). A part holding a NUL
    (not an XML character; :func:`slides_text` marks part boundaries with one) bails
    too."""
    if b"\x00" in xml:
        raise Bail
    body = xml[_PROLOG_SIZE:] if xml.startswith(_PROLOGS) else _strip_prolog(xml)
    start = 0
    # the root tag up to its first '>' (a '>' inside one of its attribute values cuts it
    # short: the rest of the tag is then searched for declarations with the body, below)
    root_end = body.find(b">", start)
    root_tag = body[start : root_end + 1]
    end_tag = _ROOT_TAGS_SEEN.get(root_tag)
    if end_tag is None:
        root = _ROOT.match(root_tag)
        if root is None:
            raise Bail
        _check_namespaces(root_tag)
        end_tag = b"</" + root.group(1) + b">"
        if len(_ROOT_TAGS_SEEN) < _ROOT_TAGS_KEPT:
            _ROOT_TAGS_SEEN[root_tag] = end_tag
    if not body.rstrip().endswith(end_tag):
        raise Bail
    if len(body) - start > 3 * max_depth and body.count(b"<", start) > max_depth:
        raise Bail  # (a start tag takes 3 bytes at least: a shorter part cannot nest deeper)
    # declarations sit on the root tag; a part declaring more further on is searched whole
    if body.find(b"xmlns", root_end) >= 0:
        _check_namespaces(body[start:])
    return body


#: root tag (checked by :func:`_check_namespaces`) -> the end tag that must close the part
#: (a deck's slides share a few root tags)
_ROOT_TAGS_SEEN: dict[bytes, bytes] = {}
_ROOT_TAGS_KEPT = 64
_PROLOG_SIZE = len(_PROLOGS[0])
assert all(len(prolog) == _PROLOG_SIZE for prolog in _PROLOGS)


def _check_namespaces(xml: bytes) -> None:
    """Bail unless DrawingML, if declared in ``xml``, is bound to ``a`` and no default
    namespace is declared."""
    for prefix, dq, sq in _NAMESPACES.findall(xml):
        if not prefix or (prefix != b"a" and (dq or sq) in _DRAWINGML):
            raise Bail


def _only_a_runs(xml: bytes, runs: int) -> bool:
    """Whether every prefixed ``t`` element is one of the ``runs`` ``<a:t>`` runs found: a
    ``t`` under another prefix (``<x:t>``, declared or not, which expat reads as a run)
    adds to the ``:t>`` count. (An unprefixed ``<t>`` is in no namespace, or in a default
    one, which :func:`slide_body` refuses: not DrawingML text, and not read here.)"""
    return xml.count(b":t>") == 2 * runs


_MARK = itemgetter(1)  # a token's mark (b"" for a text run)


# Every spelling the plain pass below does not read, as Hyperscan patterns (reported once
# each at most): an attributed or empty ``a:`` run, paragraph, break, tab or ``cr`` tag, a
# break, tab or ``cr`` element (start or end), an end tag with blanks before its ``>``, and
# ``<!`` or ``<?`` (comments, CDATA, DTDs, processing instructions: the parts come without
# their XML declaration).
_ODD_SLIDE_TAGS = (
    rb"<a:(?:t|p|br|cr|tab)[\s/]",
    rb"</?a:(?:br|cr|tab)>",
    rb"</a:(?:t|p|br|cr|tab)\s",
    rb"<[!?]",
)
# A run, paragraph, break, tab or ``cr`` tag under a prefix other than ``a`` (``<x:p/>``,
# ``<ab:br/>``, ``<:tab/>``, ``<a:x:cr/>``): expat's reader goes by the local name and reads
# it, the run patterns do not, so such a part goes to expat. Found by what precedes the
# last colon: anything but ``a``, or an ``a`` that does not follow ``<`` or ``</`` (literal
# anchors keep the scan fast; the same spelling in text or an attribute value only sends
# the part to expat).
_FOREIGN_SLIDE_TAGS = (
    rb"[^a]:(?:t|p|br|cr|tab)[\s/>]",
    rb"[^</]a:(?:t|p|br|cr|tab)[\s/>]",
)
_ODD, _FOREIGN = 1, 2
# The plain pass: text runs (group 1) and paragraph ends and part boundaries (group 2).
_PLAIN_RUNS = re.compile(rb"<(?:a:t>([^<]*)</a:t>|(/a:p>|\x00>))")


class _OddTags:
    """One Hyperscan block scan for :data:`_ODD_SLIDE_TAGS` and
    :data:`_FOREIGN_SLIDE_TAGS` (a scratch per thread)."""

    def __init__(self) -> None:
        assert hyperscan is not None
        patterns = _ODD_SLIDE_TAGS + _FOREIGN_SLIDE_TAGS
        self.kinds = [_ODD] * len(_ODD_SLIDE_TAGS) + [_FOREIGN] * len(_FOREIGN_SLIDE_TAGS)
        self.db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self.db.compile(
            expressions=list(patterns),
            ids=list(range(len(patterns))),
            flags=[hyperscan.HS_FLAG_SINGLEMATCH | hyperscan.HS_FLAG_DOTALL] * len(patterns),
        )
        self.local = threading.local()

    def found(self, data: bytes) -> int:
        """Which kinds of spelling ``data`` holds: ``_ODD | _FOREIGN`` bits (both, to be
        safe, if the scan fails)."""
        scratch = getattr(self.local, "scratch", None)
        if scratch is None:
            scratch = self.local.scratch = hyperscan.Scratch(self.db)
        kinds = self.kinds
        hits = [0]

        def seen(pattern: int, start: int, end: int, flags: int, context: Any) -> None:
            hits[0] |= kinds[pattern]

        try:
            self.db.scan(data, match_event_handler=seen, scratch=scratch)
        except hyperscan.error:
            return _ODD | _FOREIGN
        return hits[0]


_ODD_TAGS: list[_OddTags | None] = []
_ODD_TAGS_LOCK = threading.Lock()


def _odd_tags() -> _OddTags | None:
    """The scanner, compiled on first use; None without Hyperscan (or if it fails)."""
    if not _ODD_TAGS:
        with _ODD_TAGS_LOCK:
            if not _ODD_TAGS:
                scanner = None
                if hyperscan is not None:
                    try:
                        scanner = _OddTags()
                    except hyperscan.error:  # pragma: no cover - a broken install
                        scanner = None
                _ODD_TAGS.append(scanner)
    return _ODD_TAGS[0]


def _foreign_tags(xml: bytes) -> None:
    """Bail if ``xml`` holds a tag of :data:`_FOREIGN_SLIDE_TAGS` (checked where Hyperscan
    is installed)."""
    scanner = _odd_tags()
    if scanner is not None and scanner.found(xml) & _FOREIGN:
        raise Bail


def _plain_slides(joined: bytes) -> bytes | None:
    """The text of joined parts holding only plain runs and paragraphs, else None; Bail
    for a tag of :data:`_FOREIGN_SLIDE_TAGS`.

    When the Hyperscan scan finds none of :data:`_ODD_SLIDE_TAGS`, every tag the full
    pattern (:data:`_RUNS`) reacts to is a ``<a:t>`` run, a ``</a:p>`` or a boundary, and
    :data:`_PLAIN_RUNS` finds them with two alternatives instead of a dozen (``re`` tries
    them at every ``<``). A run whose text holds a tag, or a ``t`` under another prefix,
    leaves a ``:t>`` outside the runs found, as in :func:`slides_text`: None then too."""
    scanner = _odd_tags()
    if scanner is None:
        return None
    found = scanner.found(joined)
    if found & _FOREIGN:
        raise Bail
    if found:
        return None
    tokens = _PLAIN_RUNS.findall(joined)
    if not _only_a_runs(joined, list(map(_MARK, tokens)).count(b"")):
        return None
    return b"".join([b"\n" if end else text for text, end in tokens])


def slides_text(bodies: list[bytes]) -> str:
    """The text of consecutive slide or notes parts (from :func:`slide_body`) in one pass,
    a newline after each part: what :func:`slide_text` gives for each, joined.

    The parts are joined with a ``<NUL>`` boundary (NUL is not an XML character, so no
    well-formed part holds one) and one ``findall`` finds every token; Python runs per
    run and paragraph, not per element. Parts of plain runs and paragraphs only (what
    python-pptx writes) take a cheaper pattern (:func:`_plain_slides`). Bails when any part
    would (the caller then reads the parts one by one).

    Where the compiled tokenizer (``_native_slides``) is built, it gives this text in one
    pass over each part by the same rules (the Hyperscan pre-scan's included, whether or
    not Hyperscan is installed), or None where this pass would bail."""
    if _native_slides is not None:
        text: str | None = _native_slides.slides_text(bodies)
        if text is None:
            raise Bail
        return text
    return _slides_text(bodies)


def _slides_text(bodies: list[bytes]) -> str:
    """:func:`slides_text` in Python (hosts without the compiled tokenizer)."""
    joined = b"<\x00>".join(bodies) + b"<\x00>"  # (slide_body refused any other NUL)
    plain = _plain_slides(joined)
    if plain is not None:
        if b"\r" in plain:
            raise Bail  # expat normalises line ends
        return text_of(plain)
    tokens = _RUNS.findall(joined)
    if tokens and not _only_a_runs(joined, list(map(_MARK, tokens)).count(b"")):
        raise Bail
    try:
        pieces = [_BATCH_ENDS[mark] if mark else text for text, mark in tokens]
    except KeyError:
        raise Bail from None  # another spelling of a tag the reader reacts to
    out = b"".join(pieces)
    if b"\r" in out:
        raise Bail  # expat normalises line ends
    return text_of(out)


def slide_text(body: bytes) -> str:
    """The text of one slide or notes part (from :func:`slide_body`) as the expat reader's
    paragraph handler gives it: runs in order, a newline per paragraph, break or ``cr``
    end, a tab per tab (empty and attributed ``a:`` tags read where they stand).

    Raises :class:`Bail` for a part it cannot vouch for (the module docstring's rules for
    the encoding, markup and entities, and runs spelled other than ``<a:t>``)."""
    _foreign_tags(body)
    out: list[str] = []
    runs = 0
    for m in _RUNS.finditer(body):
        text, mark = m.groups()
        if mark is None:
            runs += 1
            out.append(_run_text(text))
        elif mark in _PART_ENDS:
            out.append(_PART_ENDS[mark].decode())
        elif mark.startswith(b"a:"):
            out.append(_run_tag(body, m.start()).decode())
        else:
            raise Bail  # NUL, a comment, CDATA, DTD or PI
    if not _only_a_runs(body, runs):
        raise Bail
    return "".join(out)


def _run_text(raw: bytes) -> str:
    if b"\r" in raw or b"\x00" in raw:
        raise Bail  # expat normalises line ends and refuses NUL
    return text_of(raw)
