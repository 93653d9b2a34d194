"""A fast path for the text of simple PDF pages, with PDFium as the reference and fallback.

PDFium's text page (``FPDFText_LoadPage``) lays out every character (boxes, matrices, line
order, bidi) to rebuild lines; for a page written one line per text-showing operator, in a
standard font with a known encoding, the same text can be read straight from the content
stream. This module does that and nothing more: it answers ``None`` (read this page with
PDFium) for anything it does not fully understand, so the text it returns is the text PDFium
returns for that page, character for character (the tests compare both).

What the fast path accepts:

* the file: one classic cross-reference table (no update sections, no cross-reference
  stream, no ``/Encrypt``) whose every in-use entry points at its ``N G obj`` header, and a
  page tree whose page count is PDFium's;
* a page: not rotated; content streams unfiltered or ``/FlateDecode`` (no parameters), at
  most ``MAX_CONTENT_BYTES`` decoded; fonts that are non-embedded standard Latin Type 1 fonts
  (Helvetica, Times, Courier families) with ``/WinAnsiEncoding`` or no encoding, and no
  widths, descriptor or ``ToUnicode`` of their own;
* operators: text positioning and showing (``Td TD Tm T* Tj TJ ' "`` with unscaled,
  unrotated matrices; ``TJ`` adjustments too small to make PDFium insert a space), text
  state at its defaults (``Tc Tw Ts`` 0, ``Tz`` 100, ``Tr`` 0), ``q Q``, translations
  (``cm``), colours and paths; never ``Do``, inline images, marked content, ``gs``, Type 3
  glyph operators or comments;
* text: printable ASCII, and with ``/WinAnsiEncoding`` the codes above 0x7F (Windows-1252
  as PDFium maps it); every shown string at least two characters, not only spaces, on a
  line of its own (a baseline at least one font size away from the previous one) and not a
  copy of any of the five lines before it (PDFium drops overprinted copies).

Within those bounds PDFium's rules are simple and reproduced here: a line break between
lines (``\\r\\n``), runs of spaces collapsed to one, and a line that ends with a hyphen after
a letter, followed by a line that starts with a letter or digit, joined to it (PDFium's
hyphenation; its trailing spaces removed). Nothing is cached across documents; every loop
is bounded by the input, and object nesting and size, cross-reference entries, ``q``
depth, page-tree depth and decoded content size are capped.
"""

from __future__ import annotations

import re
import zlib
from typing import Any

__all__ = ["MAX_CONTENT_BYTES", "FastPdf", "open_fast_pdf"]

#: decoded content stream bytes per page beyond which the page is left to PDFium
MAX_CONTENT_BYTES = 4 * 1024 * 1024
MAX_OBJECT_DEPTH = 32
MAX_TREE_DEPTH = 32
MAX_GSTATE_DEPTH = 64
#: cross-reference entries and tokens in one object: past them the file goes to PDFium, so
#: the fast path's own parsing stays well under a second whatever the file holds
MAX_XREF_ENTRIES = 500_000
MAX_OBJECT_TOKENS = 200_000
#: |TJ adjustment| (thousandths of an em) under which PDFium inserts no space
MAX_TJ_ADJUST = 100.0

_LATIN_STANDARD_FONTS = frozenset(
    f"{family}{style}"
    for family, styles in (
        ("Helvetica", ("", "-Bold", "-Oblique", "-BoldOblique")),
        ("Times", ("-Roman", "-Bold", "-Italic", "-BoldItalic")),
        ("Courier", ("", "-Bold", "-Oblique", "-BoldOblique")),
    )
    for style in styles
)
_FONT_KEYS = frozenset({"Type", "Subtype", "BaseFont", "Encoding", "Name"})
#: StandardEncoding (a standard font without /Encoding) differs from ASCII in two codes
_STANDARD_ENCODING = {ord("'"): "\u2019", ord("`"): "\u2018"}
# the codes above 0x7F of a standard font without /Encoding are left to PDFium: they become
# this character, which no input can contain (control characters are refused)
_STANDARD_ENCODING.update({code: "\x00" for code in range(0x80, 0x100)})
#: WinAnsiEncoding as PDFium maps it: Windows-1252, its five unused codes as bullets, the
#: non-breaking space as a space and the soft hyphen as a hyphen
_WIN_ANSI = {code: bytes([code]).decode("cp1252", "replace") for code in range(0x80, 0x100)}
_WIN_ANSI.update({code: "\u2022" for code in (0x81, 0x8D, 0x8F, 0x90, 0x9D)})
_WIN_ANSI.update({0xA0: " ", 0xAD: "-"})


class _NotSimple(Exception):
    """The input is outside what the fast path reproduces exactly."""


class _Ref:
    __slots__ = ("num",)

    def __init__(self, num: int) -> None:
        self.num = num


class _Name(str):
    """A PDF name (without its slash), told apart from a string."""


# --------------------------------------------------------------------------- objects

_OBJ_TOKEN = re.compile(
    rb"[\x00\t\n\x0c\r ]*(?:"
    rb"(?P<ref>\d+)[\x00\t\n\x0c\r ]+\d+[\x00\t\n\x0c\r ]+R(?![^\x00\t\n\x0c\r ()<>\[\]{}/%])"
    rb"|(?P<num>[+-]?(?:\d+\.?\d*|\.\d+))"
    rb"|/(?P<name>[^\x00\t\n\x0c\r ()<>\[\]{}/%]*)"
    rb"|(?P<open><<|\[)"
    rb"|(?P<close>>>|\])"
    rb"|\((?P<str>[^()\\]*(?:\\.[^()\\]*)*)\)"
    rb"|<(?P<hex>[0-9A-Fa-f\x00\t\n\x0c\r ]*)>"
    rb"|(?P<word>true|false|null|stream|endobj)"
    rb")",
    re.S,
)
_OBJ_HEADER = re.compile(rb"(\d+)[\x00\t\n\x0c\r ]+(\d+)[\x00\t\n\x0c\r ]+obj")
_STARTXREF = re.compile(rb"startxref[\x00\t\n\x0c\r ]+(\d+)[\x00\t\n\x0c\r ]+%%EOF")
_XREF = re.compile(rb"xref[\x00\t\n\x0c\r ]+")
_XREF_SECTION = re.compile(rb"(\d+) (\d+)[\x00\t\n\x0c\r ]+")
_XREF_ENTRY = re.compile(rb"(\d{10}) (\d{5}) ([nf])[\r\n ]{1,2}")
_TRAILER = re.compile(rb"trailer[\x00\t\n\x0c\r ]*")
_STREAM = re.compile(rb"[\x00\t\n\x0c\r ]*stream\r?\n")
_ENDSTREAM = re.compile(rb"[\x00\t\n\x0c\r ]*endstream")


def _parse_object(data: bytes, pos: int) -> tuple[Any, int]:
    """The object that starts at ``pos`` and the position after it (stack based, so
    nesting costs no recursion; nesting beyond ``MAX_OBJECT_DEPTH`` is refused)."""
    stack: list[list[Any]] = [[]]
    kinds: list[bytes] = []
    for _ in range(MAX_OBJECT_TOKENS):
        m = _OBJ_TOKEN.match(data, pos)
        if m is None:
            raise _NotSimple("object syntax")
        pos = m.end()
        group = m.lastgroup
        if group == "open":
            if len(kinds) >= MAX_OBJECT_DEPTH:
                raise _NotSimple("object nesting")
            kinds.append(m.group("open"))
            stack.append([])
            continue
        if group == "close":
            if not kinds or (kinds.pop() == b"<<") != (m.group("close") == b">>"):
                raise _NotSimple("unbalanced object")
            items = stack.pop()
            value: Any = items
            if m.group("close") == b">>":
                if len(items) % 2 or not all(isinstance(k, _Name) for k in items[::2]):
                    raise _NotSimple("dictionary keys")
                value = dict(zip(items[::2], items[1::2], strict=True))
        elif group == "ref":
            value = _Ref(int(m.group("ref")))
        elif group == "num":
            value = float(m.group("num"))
        elif group == "name":
            if b"#" in m.group("name"):
                raise _NotSimple("escaped name")
            value = _Name(m.group("name").decode("latin-1"))
        elif group == "word" and m.group("word") in (b"true", b"false", b"null"):
            value = {b"true": True, b"false": False, b"null": None}[m.group("word")]
        elif group in ("str", "hex"):
            value = m.group(group)  # raw; only compared, never decoded here
        else:
            raise _NotSimple("keyword inside an object")
        stack[-1].append(value)
        if not kinds:
            return value, pos
    raise _NotSimple("object too large")


class _Document:
    """Objects located through the file's single classic cross-reference table."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offsets: dict[int, tuple[int, int]] = {}  # number -> (offset, generation)
        self.cache: dict[int, Any] = {}
        self.trailer = self._read_xref()

    def _read_xref(self) -> dict[str, Any]:
        data = self.data
        found = _STARTXREF.search(data[-1024:])
        if found is None or data.count(b"startxref") != 1:
            raise _NotSimple("not one classic cross-reference section")
        pos = int(found.group(1))
        head = _XREF.match(data, pos)
        if head is None:
            raise _NotSimple("cross-reference stream")
        pos = head.end()
        while (m := _XREF_SECTION.match(data, pos)) is not None:
            first, count = int(m.group(1)), int(m.group(2))
            if len(self.offsets) + count > MAX_XREF_ENTRIES:
                raise _NotSimple("too many objects")
            pos = m.end()
            for num in range(first, first + count):
                entry = _XREF_ENTRY.match(data, pos)
                if entry is None:
                    raise _NotSimple("cross-reference entry")
                pos = entry.end()
                if entry.group(3) == b"n":
                    self.offsets[num] = (int(entry.group(1)), int(entry.group(2)))
        trailer = _TRAILER.match(data, pos)
        if trailer is None:
            raise _NotSimple("trailer")
        value, _ = _parse_object(data, trailer.end())
        if not isinstance(value, dict) or "Encrypt" in value or "Prev" in value:
            raise _NotSimple("encrypted or updated file")
        if "XRefStm" in value:
            raise _NotSimple("hybrid cross-reference")
        for num, (offset, generation) in self.offsets.items():
            header = _OBJ_HEADER.match(data, offset)
            if header is None or (int(header.group(1)), int(header.group(2))) != (num, generation):
                raise _NotSimple("cross-reference offset")
        return value

    def get(self, value: Any) -> Any:
        """``value`` with an indirect reference resolved (a missing object is refused)."""
        if not isinstance(value, _Ref):
            return value
        if value.num in self.cache:
            return self.cache[value.num]
        if value.num not in self.offsets:
            raise _NotSimple("missing object")
        header = _OBJ_HEADER.match(self.data, self.offsets[value.num][0])
        assert header is not None  # checked for every entry when the table was read
        obj, pos = _parse_object(self.data, header.end())
        if isinstance(obj, dict):
            after = _STREAM.match(self.data, pos)
            if after is not None:
                obj = _Stream(obj, after.end())
        self.cache[value.num] = obj
        return obj

    def stream_data(self, stream: Any) -> bytes:
        """Decoded bytes of a content stream, up to ``MAX_CONTENT_BYTES``."""
        if not isinstance(stream, _Stream):
            raise _NotSimple("contents are not a stream")
        length = self.get(stream.dict.get("Length"))
        if not isinstance(length, float) or length < 0 or length != int(length):
            raise _NotSimple("stream length")
        end = stream.start + int(length)
        if not _ENDSTREAM.match(self.data, end):
            raise _NotSimple("stream length does not reach endstream")
        filters = self.get(stream.dict.get("Filter"))
        if filters is None:
            if end - stream.start > MAX_CONTENT_BYTES:
                raise _NotSimple("content too large")
            return self.data[stream.start : end]
        raw = memoryview(self.data)[stream.start : end]  # no copy of a large stream
        if isinstance(filters, list) and len(filters) == 1:
            filters = self.get(filters[0])
        if filters != "FlateDecode" or stream.dict.get("DecodeParms") is not None:
            raise _NotSimple("stream filter")
        inflater = zlib.decompressobj()
        try:
            out = inflater.decompress(raw, MAX_CONTENT_BYTES + 1)
        except zlib.error:
            raise _NotSimple("damaged stream") from None
        if len(out) > MAX_CONTENT_BYTES or not inflater.eof:
            raise _NotSimple("content too large or incomplete")
        return out


class _Stream:
    __slots__ = ("dict", "start")

    def __init__(self, dictionary: dict[str, Any], start: int) -> None:
        self.dict = dictionary
        self.start = start


def _walk_pages(doc: _Document, limit: int) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(page dictionary, inherited attributes) of every page, in order, up to ``limit``."""
    root = doc.get(doc.trailer.get("Root"))
    if not isinstance(root, dict):
        raise _NotSimple("catalog")
    pages: list[tuple[dict[str, Any], dict[str, Any]]] = []
    _walk_node(doc, root.get("Pages"), {}, 0, pages, set(), limit)
    return pages


def _walk_node(
    doc: _Document,
    ref: Any,
    inherited: dict[str, Any],
    depth: int,
    pages: list[tuple[dict[str, Any], dict[str, Any]]],
    seen: set[int],
    limit: int,
) -> None:
    """Pages under one node of the page tree. Every ``/Count`` must match the pages found
    under its node: PDFium finds a page by its index through those counts, so a tree whose
    counts lie would number its pages otherwise."""
    if not isinstance(ref, _Ref) or ref.num in seen or depth > MAX_TREE_DEPTH:
        raise _NotSimple("page tree")
    seen.add(ref.num)
    node = doc.get(ref)
    if not isinstance(node, dict):
        raise _NotSimple("page tree node")
    attrs = dict(inherited)
    for key in ("Resources", "Rotate", "MediaBox", "CropBox"):
        if key in node:
            attrs[key] = node[key]
    kind = node.get("Type")
    if kind == "Page":
        pages.append((node, attrs))
        if len(pages) > limit:
            raise _NotSimple("page count")
        return
    kids = doc.get(node.get("Kids"))
    if kind != "Pages" or not isinstance(kids, list):
        raise _NotSimple("page tree node type")
    before = len(pages)
    for kid in kids:
        _walk_node(doc, kid, attrs, depth + 1, pages, seen, limit)
    if doc.get(node.get("Count")) != float(len(pages) - before):
        raise _NotSimple("a page count that does not match the tree")


# --------------------------------------------------------------------------- content

_NUM = rb"[+-]?(?:\d+\.?\d*|\.\d+)"
# bytes other than ( ) \ as positive ranges: Python's re tests those faster than [^()\\]
_STRING_BODY = rb"[\x00-\x27\x2a-\x5b\x5d-\xff]*(?:\\.[\x00-\x27\x2a-\x5b\x5d-\xff]*)*"
#: the usual shape of one line: BT x y Td (string) Tj ET
_LINE = (
    rb"BT[\x00\t\n\x0c\r ]+" + _NUM + rb"[\x00\t\n\x0c\r ]+(" + _NUM + rb")"
    rb"[\x00\t\n\x0c\r ]+Td[\x00\t\n\x0c\r ]*\((" + _STRING_BODY + rb")\)"
    rb"[\x00\t\n\x0c\r ]*Tj[\x00\t\n\x0c\r ]+ET(?=[\x00\t\n\x0c\r ()<>\[\]{}/%]|\Z)"
)
#: splits a content stream into [other tokens, baseline, string, other tokens, ...]; a line
#: starts where a token may start (after white space or a closing delimiter)
_LINE_SPLIT = re.compile(rb"(?<![^\x00\t\n\x0c\r )\]>])" + _LINE, re.S)
_PDF_SPACE = b"\x00\t\n\x0c\r "
_CONTENT_TOKEN = re.compile(
    rb"\((?P<str>" + _STRING_BODY + rb")\)"
    rb"|(?P<num>" + _NUM + rb")"
    rb"|/(?P<name>[^\x00\t\n\x0c\r ()<>\[\]{}/%]*)"
    rb"|<(?P<hex>[0-9A-Fa-f\x00\t\n\x0c\r ]*)>"
    rb"|(?P<op>[A-Za-z][A-Za-z0-9*]*|'|\")"
    rb"|(?P<arr>[\[\]])"
    rb"|(?P<junk>[^\x00\t\n\x0c\r ])",
    re.S,
)
_ESCAPE = re.compile(rb"\\([0-7]{1,3}|.)", re.S)
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}
_TEXT_BYTES = bytes(range(0x20, 0x7F)) + bytes(range(0x80, 0x100)) + b"\n"
_SPACE_RUN = re.compile(r"  +")
#: operators that position or show text, only meaningful between BT and ET
_TEXT_OBJECT_OPS = frozenset(b"Td TD Tm T* Tj TJ ' \"".split())
#: operators that change neither the text nor where it is
_INERT_OPS = frozenset(
    b"w J j M d ri i g G rg RG k K cs CS sc SC scn SCN m l c v y h re S s f F f* B B* b b* "
    b"n W W* sh".split()
)


def _unescape(match: re.Match[bytes]) -> bytes:
    code = match.group(1)
    if code[0] in b"01234567":
        return bytes([int(code, 8) & 0xFF])
    if code in (b"\n", b"\r"):
        return b""  # a line continuation
    return _ESCAPES.get(code, code)


def _literal(raw: bytes) -> bytes:
    """The bytes of a literal string's body (escapes resolved)."""
    if b"\\" in raw:
        return _ESCAPE.sub(_unescape, raw.replace(b"\\\r\n", b""))
    return raw


def _hex(digits: bytes) -> bytes:
    digits = re.sub(rb"[\x00\t\n\x0c\r ]", b"", digits)
    return bytes.fromhex((digits + b"0" * (len(digits) % 2)).decode())


class _Page:
    """Text state of one content stream, and the strings shown, one per line."""

    def __init__(self, fonts: dict[str, dict[int, str] | None]) -> None:
        self.fonts = fonts
        self.shown: list[bytes] = []
        self.font_of: list[dict[int, str]] = []
        self.last_y: float | None = None
        self.last_size = 0.0
        # graphics state: font (translation table), font size, leading, CTM translation
        self.font: dict[int, str] | None = None
        self.size = 0.0
        self.leading = 0.0
        self.ctm_x = self.ctm_y = 0.0
        self.saved: list[tuple[Any, float, float, float, float]] = []
        self.line_x = self.line_y = 0.0
        self.operands: list[Any] = []
        self.array: list[Any] | None = None
        self.in_text = False

    def feed(self, tokens: bytes) -> None:
        """Content other than lines of the usual shape, token by token."""
        for m in _CONTENT_TOKEN.finditer(tokens):
            kind = m.lastgroup
            if kind == "op":
                if self.array is not None:
                    raise _NotSimple("operator inside an array")
                self.op(m.group("op"), self.operands)
                self.operands = []
                continue
            target = self.operands if self.array is None else self.array
            if kind == "num":
                target.append(float(m.group("num")))
            elif kind == "str":
                target.append(_literal(m.group("str")))
            elif kind == "hex":
                target.append(_hex(m.group("hex")))
            elif kind == "name":
                if b"#" in m.group("name"):
                    raise _NotSimple("escaped name")
                target.append(m.group("name").decode("latin-1"))
            elif kind == "arr" and m.group("arr") == b"[" and self.array is None:
                self.array = []
            elif kind == "arr" and m.group("arr") == b"]" and self.array is not None:
                self.operands.append(self.array)
                self.array = None
            else:
                raise _NotSimple("token outside the simple syntax")

    def show(self, raw: bytes, y: float) -> None:
        """One string shown at baseline ``y`` (text space, before the CTM)."""
        if not raw:
            return  # PDFium makes no text object of an empty string
        font, size = self.font, self.size
        if font is None:
            raise _NotSimple("text without a font")
        if len(raw) < 2 or not raw.strip(b" \xa0"):
            raise _NotSimple("string too short for PDFium's writing-mode rule")
        y += self.ctm_y
        last_y = self.last_y
        if last_y is not None and abs(y - last_y) < max(size, self.last_size):
            raise _NotSimple("two strings on one line")
        if raw in self.shown[-5:]:
            raise _NotSimple("a copy of a recent line (PDFium drops overprinted copies)")
        self.shown.append(raw)
        self.font_of.append(font)
        self.last_y, self.last_size = y, size

    def show_lines(self, lines: list[tuple[bytes, bytes]]) -> None:
        """(baseline, string) of lines of the usual shape; the same checks as ``show``."""
        if self.array is not None or self.in_text:
            raise _NotSimple("unbalanced array, or BT inside BT")
        self.operands = []  # BT takes none: PDFium drops what is left
        font, size, ctm_y = self.font, self.size, self.ctm_y
        if font is None:
            raise _NotSimple("text without a font")
        shown = self.shown
        last_y, last_size = self.last_y, self.last_size
        for y_text, raw in lines:
            if b"\\" in raw:
                raw = _literal(raw)
            if not raw:
                continue
            if len(raw) < 2 or not raw.strip(b" \xa0"):
                raise _NotSimple("string too short for PDFium's writing-mode rule")
            y = float(y_text) + ctm_y
            if last_y is not None and abs(y - last_y) < max(size, last_size):
                raise _NotSimple("two strings on one line")
            if raw in shown[-5:]:
                raise _NotSimple("a copy of a recent line (PDFium drops overprinted copies)")
            shown.append(raw)
            last_y, last_size = y, size
        self.font_of.extend([font] * (len(shown) - len(self.font_of)))
        self.last_y, self.last_size = last_y, last_size
        self.line_x = self.line_y = 0.0  # BT reset them and ET ended the text object

    def text(self) -> str:
        if not self.shown:
            return ""
        joined = b"\n".join(self.shown)
        if joined.translate(None, _TEXT_BYTES) or joined.count(b"\n") != len(self.shown) - 1:
            raise _NotSimple("control character")
        text = joined.decode("latin-1")
        if any(table is _STANDARD_ENCODING for table in self.font_of):
            lines = text.split("\n")
            text = "\n".join(line.translate(t) for line, t in zip(lines, self.font_of, strict=True))
            if "\x00" in text:
                raise _NotSimple("a code above 0x7F in a font without an encoding")
        elif not text.isascii():
            text = text.translate(_WIN_ANSI)
        if "-\n" in text or " \n" in text:
            text = _join_hyphenated(text.split("\n"))
        text = text.replace("\n", "\r\n")
        return _SPACE_RUN.sub(" ", text) if "  " in text else text

    def op(self, op: bytes, operands: list[Any]) -> None:
        """One operator with its operands (lines of the usual shape go to ``show_lines``)."""
        if op in _INERT_OPS:
            return
        if op == b"BT" or op == b"ET":
            if self.in_text != (op == b"ET"):
                raise _NotSimple("BT and ET out of order")
            self.in_text = op == b"BT"
            self.line_x = self.line_y = 0.0
            return
        if op in _TEXT_OBJECT_OPS and not self.in_text:
            raise _NotSimple("text operator outside BT ... ET")
        if op == b"Tf":
            if len(operands) != 2 or not isinstance(operands[1], float):
                raise _NotSimple("Tf operands")
            name = operands[0]
            if not isinstance(name, str) or name not in self.fonts:
                raise _NotSimple("font resource")
            self.font, self.size = self.fonts[name], operands[1]
            if self.font is None or self.size <= 0:
                raise _NotSimple("font")
        elif op == b"Td" or op == b"TD":
            tx, ty = _numbers(operands, 2)
            self.line_x, self.line_y = self.line_x + tx, self.line_y + ty
            if op == b"TD":
                self.leading = -ty
        elif op == b"Tm":
            a, b, c, d, self.line_x, self.line_y = _numbers(operands, 6)
            if (a, b, c, d) != (1.0, 0.0, 0.0, 1.0):
                raise _NotSimple("scaled or rotated text matrix")
        elif op == b"T*":
            _numbers(operands, 0)
            self.line_y -= self.leading
        elif op == b"TL":
            (self.leading,) = _numbers(operands, 1)
        elif op == b"Tj":
            self.show(_one_string(operands), self.line_y)
        elif op == b"'":
            self.line_y -= self.leading
            self.show(_one_string(operands), self.line_y)
        elif op == b'"':
            if _numbers(operands[:2], 2) != [0.0, 0.0]:
                raise _NotSimple("word or character spacing")
            self.line_y -= self.leading
            self.show(_one_string(operands[2:]), self.line_y)
        elif op == b"TJ":
            self.show(_tj_bytes(operands), self.line_y)
        else:
            self.state_op(op, operands)

    def state_op(self, op: bytes, operands: list[Any]) -> None:
        if op in (b"Tc", b"Tw", b"Ts", b"Tz", b"Tr"):
            (value,) = _numbers(operands, 1)
            if value != (100.0 if op == b"Tz" else 0.0):
                raise _NotSimple("text state away from its default")
        elif op == b"q":
            if len(self.saved) >= MAX_GSTATE_DEPTH:
                raise _NotSimple("graphics state nesting")
            self.saved.append((self.font, self.size, self.leading, self.ctm_x, self.ctm_y))
        elif op == b"Q":
            if self.saved:
                self.font, self.size, self.leading, self.ctm_x, self.ctm_y = self.saved.pop()
        elif op == b"cm":
            a, b, c, d, e, f = _numbers(operands, 6)
            if (a, b, c, d) != (1.0, 0.0, 0.0, 1.0):
                raise _NotSimple("scaling or rotating cm")
            self.ctm_x, self.ctm_y = self.ctm_x + e, self.ctm_y + f
        else:
            raise _NotSimple("operator outside the fast path")


def _join_hyphenated(lines: list[str]) -> str:
    """Lines joined by newlines, except that a line ending with a letter and a hyphen (and
    maybe spaces, dropped) runs on into a next line that starts with a letter or digit
    (PDFium's hyphenation; left to PDFium when either character is not ASCII)."""
    out: list[str] = []
    for line in lines:
        if out and out[-1][-1] in "- ":
            end = out[-1].rstrip(" ")
            if len(end) >= 2 and end[-1] == "-":
                before, first = end[-2], line[0]
                if not (before.isascii() and first.isascii()):
                    raise _NotSimple("hyphenation next to a character that is not ASCII")
                if before.isalpha() and first.isalnum():
                    out[-1] = end + line
                    continue
        out.append(line)
    return "\n".join(out)


def _numbers(operands: list[Any], count: int) -> list[float]:
    if len(operands) != count or not all(isinstance(v, float) for v in operands):
        raise _NotSimple("operands")
    return operands


def _one_string(operands: list[Any]) -> bytes:
    if len(operands) != 1 or not isinstance(operands[0], bytes):
        raise _NotSimple("string operand")
    return operands[0]


def _tj_bytes(operands: list[Any]) -> bytes:
    if len(operands) != 1 or not isinstance(operands[0], list):
        raise _NotSimple("TJ operands")
    parts: list[bytes] = []
    for item in operands[0]:
        if isinstance(item, bytes):
            parts.append(item)
        elif not isinstance(item, float) or abs(item) >= MAX_TJ_ADJUST:
            raise _NotSimple("TJ adjustment that may be a space")
    return b"".join(parts)


def _read_content(content: bytes, fonts: dict[str, dict[int, str] | None]) -> str:
    """The page text of one decoded content stream (see the module docstring). Lines of the
    usual shape are cut out by one regular expression pass; what lies between them (usually
    white space) goes through the tokenizer."""
    page = _Page(fonts)
    parts = _LINE_SPLIT.split(content)
    page.feed(parts[0])
    run: list[tuple[bytes, bytes]] = []
    for i in range(1, len(parts), 3):
        run.append((parts[i], parts[i + 1]))
        between = parts[i + 2]
        if between.strip(_PDF_SPACE):
            page.show_lines(run)
            run = []
            page.feed(between)
    if run:
        page.show_lines(run)
    if page.array is not None:
        raise _NotSimple("unbalanced array")
    return page.text()


# --------------------------------------------------------------------------- pages


def _check_box(box: Any) -> None:
    """A page box of ordinary size (PDFium's display matrix then keeps the scale near 1)."""
    if not isinstance(box, list) or len(box) != 4 or not all(isinstance(v, float) for v in box):
        raise _NotSimple("page box")
    if abs(box[2] - box[0]) < 50 or abs(box[3] - box[1]) < 50:
        raise _NotSimple("page box too small")


class FastPdf:
    """Pages of one document, read on demand; ``page_text`` is ``None`` for a page that
    PDFium must read."""

    def __init__(self, doc: _Document, pages: list[tuple[dict[str, Any], dict[str, Any]]]):
        self._doc = doc
        self._pages = pages
        self._fonts: dict[int, dict[str, dict[int, str] | None]] = {}

    def __len__(self) -> int:
        return len(self._pages)

    def page_text(self, index: int) -> str | None:
        try:
            return self._page_text(index)
        except MemoryError:
            raise
        except Exception:  # _NotSimple, or input this reader does not expect: PDFium reads it
            return None

    def _page_text(self, index: int) -> str:
        doc = self._doc
        node, attrs = self._pages[index]
        if doc.get(attrs.get("Rotate", 0.0)) not in (0.0, None):
            raise _NotSimple("rotated page")
        for key in ("MediaBox", "CropBox"):
            if key in attrs or key == "MediaBox":
                _check_box(doc.get(attrs.get(key)))
        fonts = self._font_maps(attrs.get("Resources"))
        contents = doc.get(node.get("Contents"))
        parts = contents if isinstance(contents, list) else [node.get("Contents")]
        if contents is None:
            return ""
        data = b"\n".join(doc.stream_data(doc.get(part)) for part in parts)
        if len(data) > MAX_CONTENT_BYTES:
            raise _NotSimple("content too large")
        return _read_content(data, fonts)

    def _font_maps(self, resources_ref: Any) -> dict[str, dict[int, str] | None]:
        """Font resource name -> translation table (``None``: a font PDFium must read)."""
        key = resources_ref.num if isinstance(resources_ref, _Ref) else -1
        if key >= 0 and key in self._fonts:
            return self._fonts[key]
        resources = self._doc.get(resources_ref)
        if not isinstance(resources, dict):
            raise _NotSimple("resources")
        fonts = self._doc.get(resources.get("Font", {}))
        if not isinstance(fonts, dict):
            raise _NotSimple("font resources")
        maps = {name: self._font_map(font) for name, font in fonts.items()}
        if key >= 0:
            self._fonts[key] = maps
        return maps

    def _font_map(self, ref: Any) -> dict[int, str] | None:
        font = self._doc.get(ref)
        if (
            not isinstance(font, dict)
            or not set(font) <= _FONT_KEYS
            or font.get("Subtype") != "Type1"
            or font.get("BaseFont") not in _LATIN_STANDARD_FONTS
        ):
            return None
        encoding = font.get("Encoding")
        if encoding == "WinAnsiEncoding":
            return _WIN_ANSI
        if encoding is None:
            return _STANDARD_ENCODING
        return None


def open_fast_pdf(data: bytes, page_count: int) -> FastPdf | None:
    """The fast reader of ``data`` when its structure is simple and its page count is
    ``page_count`` (PDFium's); ``None`` otherwise (every page then goes to PDFium)."""
    try:
        doc = _Document(data)
        pages = _walk_pages(doc, page_count)
    except MemoryError:
        raise
    except Exception:  # _NotSimple, or input this reader does not expect: PDFium reads it
        return None
    if len(pages) != page_count:
        return None
    return FastPdf(doc, pages)
