"""docx / xlsx / pptx: zip containers of XML parts, read with zipfile + the expat SAX parser,
or (xlsx and pptx parts, by default) the bulk scanner of ``detectors.dlp.extract.ooxml_fast``,
which hands any part it cannot vouch for back to expat.

Zip-bomb defences run before any part is inflated: entry count, declared total and per-entry
sizes, compression ratio, encrypted entries. Reading is bounded as well: the bulk path's
member reader (``detectors.dlp.extract.zipparts``, ISA-L's inflater when installed) and
zipfile both stop at the declared size and check it and the CRC.

Parsing builds no tree: expat callbacks keep only the text being collected and a depth
counter, so memory does not grow with the number of elements (a part of millions of empty
elements costs time, not memory). Each part is fed in ``xml_block`` pieces and the file's
time budget is checked after each. Nesting deeper than ``max_xml_depth`` truncates (expat keeps
every open element). A DTD or entity declaration anywhere in a part, in whatever encoding the
part is written, is refused as ``corrupt``: OOXML never needs one, and entity tricks live there.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Generator, Iterator
from typing import Any, BinaryIO
from xml.parsers import expat

from detectors.dlp.extract import ooxml_fast
from detectors.dlp.extract.errors import (
    Budget,
    ExtractLimits,
    ExtractReport,
    MiB,
    SkipFile,
    Truncated,
)
from detectors.dlp.extract.ooxml_fast import (
    Bail,
    CellScanner,
    SharedStringScanner,
    scan,
    slide_body,
    slide_text,
    slides_text,
)
from detectors.dlp.extract.zipparts import Container, Entry, PartReader, entries

__all__ = ["OOXML_SCANNERS", "iter_ooxml", "ooxml_kind", "open_zip"]

#: ``bulk`` (default): the bulk scanner for spreadsheet and slide parts, expat for what it
#: does not handle; ``expat``: expat for every part, read through zipfile (the reference the
#: bulk scanner is tested against, and a bench baseline). docx parts are read by expat
#: either way. Chosen by ``ExtractLimits.ooxml_scanner`` (the ``CASB_OOXML_SCANNER`` setting).
OOXML_SCANNERS = ("bulk", "expat")

_SLIDE_RE = re.compile(r"ppt/(slides/slide|notesSlides/notesSlide)(\d+)\.xml$")
_SLIDE_PREFIXES = ("ppt/slides/slide", "ppt/notesSlides/notesSlide")
_SHEET_RE = re.compile(r"xl/worksheets/sheet(\d+)\.xml$")
_DOCX_EXTRA_RE = re.compile(r"word/(header|footer)(\d*)\.xml$")


def _local(tag: str) -> str:
    """Local name of a tag read without namespace processing (``w:t`` -> ``t``)."""
    return tag.rpartition(":")[2]


def open_zip(source: BinaryIO, limits: ExtractLimits) -> zipfile.ZipFile:
    """Open and vet a zip container; SkipFile on corruption, encryption or bomb shapes."""
    try:
        zf = Container(source)
        infos = entries(zf)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise SkipFile("corrupt", "not a readable zip container") from None
    if len(infos) > limits.max_zip_entries:
        raise SkipFile("zip_bomb", f"{len(infos)} entries (limit {limits.max_zip_entries})")
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise SkipFile("encrypted", "zip entries are encrypted")
        if info.file_size > limits.max_zip_entry_bytes:
            raise SkipFile("zip_bomb", f"an entry inflates to {info.file_size} bytes")
        if info.file_size > MiB and (
            info.compress_size == 0
            or info.file_size / info.compress_size > limits.max_compression_ratio
        ):
            raise SkipFile("zip_bomb", "compression ratio above the limit")
        total += info.file_size
    if total > limits.max_zip_total_bytes:
        raise SkipFile("zip_bomb", f"entries inflate to {total} bytes")
    return zf


def _names(zf: zipfile.ZipFile) -> list[str]:
    return [info.filename for info in entries(zf)]


def ooxml_kind(zf: zipfile.ZipFile) -> str | None:
    names = set(_names(zf))
    if "word/document.xml" in names:
        return "docx"
    if "xl/workbook.xml" in names:
        return "xlsx"
    if "ppt/presentation.xml" in names:
        return "pptx"
    return None


class _DtdRefused(Exception):
    pass


def _refuse_dtd(*_: object) -> None:
    raise _DtdRefused


class _Handler:
    """Collects the text of one part from expat callbacks into ``out``.

    Subclasses name the local tags they react to in ``TAGS``; every other element costs a
    depth update and one dict lookup (qualified name -> local tag, cached per subclass, so a
    deck of many slides resolves each name once)."""

    TAGS: frozenset[str] = frozenset()
    _NAME_CACHE = 1024  # distinct element names remembered per handler class
    _names: dict[str, str | None] = {}

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        cls._names = {}  # shared by the parts a subclass reads (its TAGS never change)

    def __init__(self, limits: ExtractLimits) -> None:
        self.out: list[str] = []
        self.depth = 0
        self.max_depth = limits.max_xml_depth
        self.tags = self._names

    def _tag(self, name: str) -> str | None:
        local = _local(name)
        tag = local if local in self.TAGS else None
        if len(self.tags) < self._NAME_CACHE:
            self.tags[name] = tag
        return tag

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.depth += 1
        if self.depth > self.max_depth:
            raise Truncated(f"XML nested deeper than {self.max_depth} elements")
        tag = self.tags[name] if name in self.tags else self._tag(name)
        if tag is not None:
            self.on_start(tag, attrs)

    def end(self, name: str) -> None:
        self.depth -= 1
        tag = self.tags[name] if name in self.tags else self._tag(name)
        if tag is not None:
            self.on_end(tag)

    def on_start(self, tag: str, attrs: dict[str, str]) -> None:  # pragma: no cover - abstract
        pass

    def on_end(self, tag: str) -> None:  # pragma: no cover - abstract
        pass

    def chars(self, data: str) -> None:  # pragma: no cover - abstract
        pass


def _parse(
    zf: zipfile.ZipFile,
    name: str,
    handler: _Handler,
    budget: Budget,
    inflated: bytes | None = None,
) -> Iterator[str]:
    """Feed one part (or its ``inflated`` bytes, when already read) to expat block by block;
    yield the text collected after each block."""
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_dtd
    parser.StartElementHandler = handler.start
    parser.EndElementHandler = handler.end
    parser.CharacterDataHandler = handler.chars
    block = budget.limits.xml_block
    out = handler.out
    try:
        with io.BytesIO(inflated) if inflated is not None else zf.open(name) as fh:
            while True:
                data = fh.read(block)
                try:
                    parser.Parse(data, not data)
                except Truncated:
                    yield from out  # the text before the cap is kept
                    raise
                if out:
                    yield from out
                    out.clear()
                if not data:
                    break
                budget.check()
    except _DtdRefused:
        raise SkipFile("corrupt", "XML part declares a DTD") from None
    except expat.ExpatError:
        raise SkipFile("corrupt", "malformed XML part") from None
    except zipfile.BadZipFile:
        raise SkipFile("corrupt", "zip entry fails its CRC or size check") from None


def _bulk_enabled(limits: ExtractLimits) -> bool:
    chosen = (limits.ooxml_scanner or "bulk").strip().lower()
    if chosen not in OOXML_SCANNERS:
        raise ValueError(f"unknown OOXML scanner {chosen!r}; choose one of {OOXML_SCANNERS}")
    return chosen == "bulk"


def _read_part(
    zf: zipfile.ZipFile,
    name: str,
    handler: _Handler,
    bulk: Callable[[bytes], Any],
    budget: Budget,
    info: zipfile.ZipInfo | Entry,
) -> Generator[str, None, bool]:
    """One part's text: the bulk scanner first; if it bails, expat from the part's start,
    skipping the characters already yielded (both readers produce the same text). Returns
    whether the bulk scanner read the whole part."""
    emitted = 0
    if _bulk_enabled(budget.limits):
        try:
            with PartReader(zf, budget.limits.zip_inflate).open(info) as fh:
                for piece in scan(fh, bulk, budget.limits, budget):
                    emitted += len(piece)
                    yield piece
            return True
        except Bail:
            pass
        except zipfile.BadZipFile:
            raise SkipFile("corrupt", "zip entry fails its CRC or size check") from None
    for piece in _parse(zf, name, handler, budget):
        if emitted:
            if len(piece) <= emitted:
                emitted -= len(piece)
                continue
            piece = piece[emitted:]
            emitted = 0
        yield piece
    return False


class _Paragraphs(_Handler):
    """docx / pptx: text runs in document order, a newline per paragraph."""

    TAGS = frozenset({"t", "tab", "br", "cr", "p"})

    def __init__(self, limits: ExtractLimits) -> None:
        super().__init__(limits)
        self.in_text = 0

    def on_start(self, tag: str, attrs: dict[str, str]) -> None:
        if tag == "t":
            self.in_text += 1

    def on_end(self, tag: str) -> None:
        if tag == "t":
            self.in_text -= 1
        elif tag == "tab":
            self.out.append("\t")
        elif tag in ("br", "cr", "p"):
            self.out.append("\n")

    def chars(self, data: str) -> None:
        if self.in_text:
            self.out.append(data)


def _docx(
    zf: zipfile.ZipFile, limits: ExtractLimits, report: ExtractReport, budget: Budget
) -> Iterator[str]:
    names = zf.namelist()
    parts = ["word/document.xml"]
    parts += sorted(n for n in names if _DOCX_EXTRA_RE.match(n))
    parts += [
        n for n in ("word/footnotes.xml", "word/endnotes.xml", "word/comments.xml") if n in names
    ]
    for part in parts:
        report.parts += 1
        yield from _parse(zf, part, _Paragraphs(limits), budget)


def _slides_one_by_one(
    zf: zipfile.ZipFile, batch: list[tuple[str, bytes]], limits: ExtractLimits, budget: Budget
) -> Iterator[str]:
    """Parts whose batch bailed: each by the bulk scanner, else by expat (from the bytes
    already inflated: a UTF-8 part, at most its XML declaration dropped)."""
    for part, body in batch:
        try:
            text = slide_text(body)
        except Bail:
            yield from _parse(zf, part, _Paragraphs(limits), budget, body)
            yield "\n"
        else:
            yield text + "\n"


def _pptx(
    zf: zipfile.ZipFile, limits: ExtractLimits, report: ExtractReport, budget: Budget
) -> Iterator[str]:
    slides = []
    for info in entries(zf):
        name = info.filename
        if name.startswith(_SLIDE_PREFIXES) and (m := _SLIDE_RE.match(name)):
            slides.append((m.group(1) != "slides/slide", int(m.group(2)), name, info))
    slides.sort(key=lambda slide: slide[:3])
    parts = {info: part for _, _, part, info in slides}
    infos = [info for _, _, _, info in slides]
    if not _bulk_enabled(limits):
        for info in infos:
            report.parts += 1
            yield from _parse(zf, parts[info], _Paragraphs(limits), budget)
            yield "\n"
        return
    reader = PartReader(zf, limits.zip_inflate)
    if (
        ooxml_fast._native_slides is not None
        and reader.data is not None
        and isinstance(zf, Container)
        and zf.plain is not None
    ):
        yield from _pptx_native(zf, reader, infos, parts, limits, report, budget)
        return
    batch: list[tuple[str, bytes]] = []  # small parts read whole, scanned about a block at once
    batched = 0
    block, max_depth = limits.xml_block, limits.max_xml_depth
    for info, raw in reader.read_each(infos, block):
        report.parts += 1
        part = parts[info]
        body = None
        if raw is not None:
            try:
                body = slide_body(raw, max_depth)
            except Bail:
                body = None  # expat reads it, below
        if body is not None:
            batch.append((part, body))
            batched += len(body)
            if batched < block:
                continue
        if batch:
            yield from _slide_batch(zf, batch, limits, budget)
            batch, batched = [], 0
        if body is None:
            yield from _parse(zf, part, _Paragraphs(limits), budget)
            yield "\n"
    if batch:
        yield from _slide_batch(zf, batch, limits, budget)


def _slide_body(raw: bytes, max_depth: int) -> bytes | None:
    try:
        return slide_body(raw, max_depth)
    except Bail:
        return None


# what the compiled reader says of a batch (see _pptx_native)
_BATCH_DONE, _BATCH_STOP, _BATCH_ERROR = 0, 1, 2


def _pptx_native(
    zf: Container,
    reader: PartReader,
    infos: list[Any],
    parts: dict[Any, str],
    limits: ExtractLimits,
    report: ExtractReport,
    budget: Budget,
) -> Iterator[str]:
    """The slide and notes parts of an in-memory deck read by the compiled reader
    (``_native_slides.slide_batch``), a batch per call: what the loop of :func:`_pptx`
    does, with the same batches, reading checks and fallbacks, and no Python per part.

    Each call reads parts from ``infos[i]`` on (inflated by the reader's inflater, with
    :meth:`PartReader.read_each`'s checks; another compression method through
    :meth:`PartReader.read`) and checks each as :func:`slide_body` does (calling it for any
    part not of the usual shape), until about a block of XML is batched, and returns the
    batch's text (None where :func:`slides_text` would bail: the parts then go one by one).
    It stops before a part to stream through expat (too large, or refused by
    ``slide_body``: ``_BATCH_STOP``) and before a part failing a zip check
    (``_BATCH_ERROR``): Python's reader then reads that part again and raises its error,
    the batch before it dropped, as in :func:`_pptx` (an inflater's own error propagates
    from the call). Should that reader accept the part after all, the batch and the part
    are read in Python."""
    assert ooxml_fast._native_slides is not None
    batch_of = ooxml_fast._native_slides.slide_batch
    data = reader.data
    assert data is not None
    block, max_depth = limits.xml_block, limits.max_xml_depth
    i, count = 0, len(infos)
    while i < count:
        status, j, text, bodies = batch_of(
            data, infos, i, block, max_depth, block,
            ooxml_fast._ROOT_TAGS_SEEN, _slide_body, reader.read, reader.module,
        )  # fmt: skip
        report.parts += j - i
        batch = []
        if bodies is not None:  # the parts go one by one: by name, as _slide_batch has them
            batch = list(zip([parts[info] for info in infos[i:j]], bodies, strict=True))
        if status == _BATCH_ERROR:
            ((info, raw),) = reader.read_each(infos[j : j + 1], block)  # raises, as a rule
            report.parts += 1
            if batch:
                yield from _slide_batch(zf, batch, limits, budget)
            body = None if raw is None else _slide_body(raw, max_depth)
            if body is not None:
                yield from _slide_batch(zf, [(parts[info], body)], limits, budget)
            else:
                yield from _parse(zf, parts[info], _Paragraphs(limits), budget)
                yield "\n"
            i = j + 1
            continue
        if text is not None:
            yield text
            budget.check()
        elif batch:
            yield from _slides_one_by_one(zf, batch, limits, budget)
            budget.check()
        if status == _BATCH_STOP:
            report.parts += 1
            yield from _parse(zf, parts[infos[j]], _Paragraphs(limits), budget)
            yield "\n"
            j += 1
        if j <= i:  # pragma: no cover - the compiled reader always moves on
            raise RuntimeError("slide batch made no progress")
        i = j


def _slide_batch(
    zf: zipfile.ZipFile, batch: list[tuple[str, bytes]], limits: ExtractLimits, budget: Budget
) -> Iterator[str]:
    try:
        text = slides_text([body for _, body in batch])
    except Bail:
        yield from _slides_one_by_one(zf, batch, limits, budget)
    else:
        yield text
    budget.check()


class _SharedStrings(_Handler):
    """xlsx string table, kept for cell lookups up to the count and size caps; strings past
    the caps go to ``out`` (scanned where they stand) and the report says so."""

    TAGS = frozenset({"t", "rPh", "si"})

    def __init__(self, limits: ExtractLimits, report: ExtractReport) -> None:
        super().__init__(limits)
        self.table: list[str] = []
        self.chars_kept = 0
        self.max_count = limits.max_shared_strings
        self.max_chars = limits.max_shared_string_chars
        self.report = report
        self.full = False
        self.pieces: list[str] = []
        self.piece_chars = 0
        self.in_text = 0
        self.phonetic = 0

    def on_start(self, tag: str, attrs: dict[str, str]) -> None:
        if tag == "t":
            self.in_text += 1
        elif tag == "rPh":  # phonetic guide text duplicates the real text
            self.phonetic += 1

    def on_end(self, tag: str) -> None:
        if tag == "t":
            self.in_text -= 1
        elif tag == "rPh":
            self.phonetic -= 1
        elif tag == "si":
            if not self.full:
                self.table.append("".join(self.pieces))
                self.chars_kept += self.piece_chars
            else:
                self.out.append("\n")
            self.pieces.clear()
            self.piece_chars = 0

    def chars(self, data: str) -> None:
        if not self.in_text or self.phonetic:
            return
        if not self.full and (
            len(self.table) >= self.max_count
            or self.chars_kept + self.piece_chars + len(data) > self.max_chars
        ):
            self.full = True
            self.report.truncated = True
            self.report.truncated_reason = (
                f"shared strings past {self.max_count} strings or {self.max_chars} characters "
                "are scanned out of cell order"
            )
            self.out.extend(self.pieces)
            self.pieces.clear()
        if self.full:
            self.out.append(data)
        else:
            self.pieces.append(data)
            self.piece_chars += len(data)


class _Cells(_Handler):
    """xlsx worksheet: cell values (shared strings resolved), a tab per cell, a line per row."""

    TAGS = frozenset({"c", "v", "t", "rPh", "row"})

    def __init__(self, limits: ExtractLimits, shared: list[str], used: bytearray) -> None:
        super().__init__(limits)
        self.shared = shared
        self.used = used  # one flag per shared string: referenced by some cell
        self.kind: str | None = None
        self.in_value = 0
        self.in_inline = 0
        self.phonetic = 0
        self.index = ""
        self.wrote = False

    def on_start(self, tag: str, attrs: dict[str, str]) -> None:
        if tag == "c":
            self.kind = attrs.get("t")
            self.index = ""
            self.wrote = False
        elif tag == "v":
            self.in_value += 1
        elif tag == "t":
            self.in_inline += 1
        elif tag == "rPh":
            self.phonetic += 1

    def on_end(self, tag: str) -> None:
        if tag == "c":
            if self.kind == "s" and self.index.isdigit():
                idx = int(self.index)
                value = ""
                if idx < len(self.shared):
                    value = self.shared[idx]
                    self.used[idx] = 1
                if value:
                    self.out.append(value)
                    self.wrote = True
            if self.wrote:
                self.out.append("\t")
            self.kind = None
        elif tag == "v":
            self.in_value -= 1
        elif tag == "t":
            self.in_inline -= 1
        elif tag == "rPh":
            self.phonetic -= 1
        elif tag == "row":
            self.out.append("\n")

    def chars(self, data: str) -> None:
        if self.in_value:
            if self.kind == "s":
                if len(self.index) < 20:  # a table index, not text: bounded
                    self.index += data
            else:
                self.out.append(data)
                self.wrote = True
        elif self.in_inline and not self.phonetic and self.kind == "inlineStr":
            self.out.append(data)
            self.wrote = True


def _xlsx(
    zf: zipfile.ZipFile, limits: ExtractLimits, report: ExtractReport, budget: Budget
) -> Iterator[str]:
    shared = _SharedStrings(limits, report)
    table = shared.table
    members = entries(zf)
    infos = {info.filename: info for info in members}  # the last of a repeated name, as zipfile
    if "xl/sharedStrings.xml" in infos:
        bulk_table: list[str] = []

        def strings(prefix: bytes) -> SharedStringScanner:
            bulk_table.clear()
            return SharedStringScanner(prefix, limits, report, bulk_table)

        name = "xl/sharedStrings.xml"
        if (yield from _read_part(zf, name, shared, strings, budget, infos[name])):
            table = bulk_table
    sheets = sorted(
        (int(m.group(1)), info.filename)
        for info in members
        if (m := _SHEET_RE.match(info.filename)) is not None
    )
    used = bytearray(len(table))

    encoded: list[list[bytes]] = []  # the table as UTF-8, made once for every sheet

    def cells(prefix: bytes) -> CellScanner:
        if not encoded:
            encoded.append([s.encode("utf-8") for s in table])
        return CellScanner(prefix, encoded[0], used)

    for _, part in sheets:
        report.parts += 1
        yield from _read_part(zf, part, _Cells(limits, table, used), cells, budget, infos[part])
        yield "\n"
    # strings no cell shows are still in the file: scan them too, one per line
    for idx in (i for i, flag in enumerate(used) if not flag):
        if table[idx]:
            yield table[idx]
            yield "\n"


def iter_ooxml(
    zf: zipfile.ZipFile,
    kind: str,
    limits: ExtractLimits,
    report: ExtractReport,
    budget: Budget,
) -> Iterator[str]:
    if kind == "docx":
        return _docx(zf, limits, report, budget)
    if kind == "xlsx":
        return _xlsx(zf, limits, report, budget)
    if kind == "pptx":
        return _pptx(zf, limits, report, budget)
    raise SkipFile("unsupported_type", f"zip container of kind {kind}")
