"""docx / xlsx / pptx: zip containers of XML parts, read with zipfile + streaming iterparse.

Zip-bomb defences run before any part is inflated: entry count, declared total and per-entry
sizes, compression ratio, encrypted entries. Reading is bounded as well, since zipfile stops
at the declared size and checks the CRC. XML parts that declare a DTD are refused (OOXML
never needs one; entity tricks live there).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from typing import IO, BinaryIO
from xml.etree.ElementTree import Element, ParseError, iterparse

from detectors.dlp.extract.errors import ExtractLimits, ExtractReport, MiB, SkipFile

__all__ = ["iter_ooxml", "ooxml_kind", "open_zip"]

_SLIDE_RE = re.compile(r"ppt/(slides/slide|notesSlides/notesSlide)(\d+)\.xml$")
_SHEET_RE = re.compile(r"xl/worksheets/sheet(\d+)\.xml$")
_DOCX_EXTRA_RE = re.compile(r"word/(header|footer)(\d*)\.xml$")


_LOCAL_NAMES: dict[str, str] = {}


def _local(tag: str) -> str:
    # memoised: a part uses a few dozen distinct tags, looked up once per element
    name = _LOCAL_NAMES.get(tag)
    if name is None:
        name = tag.rsplit("}", 1)[-1]
        if len(_LOCAL_NAMES) < 4096:
            _LOCAL_NAMES[tag] = name
    return name


def open_zip(source: BinaryIO, limits: ExtractLimits) -> zipfile.ZipFile:
    """Open and vet a zip container; SkipFile on corruption, encryption or bomb shapes."""
    try:
        zf = zipfile.ZipFile(source)
        infos = zf.infolist()
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


def ooxml_kind(zf: zipfile.ZipFile) -> str | None:
    names = set(zf.namelist())
    if "word/document.xml" in names:
        return "docx"
    if "xl/workbook.xml" in names:
        return "xlsx"
    if "ppt/presentation.xml" in names:
        return "pptx"
    return None


def _open_part(zf: zipfile.ZipFile, name: str) -> IO[bytes]:
    with zf.open(name) as fh:
        head = fh.read(4096)
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
        raise SkipFile("corrupt", "XML part declares a DTD")
    return zf.open(name)


def _events(zf: zipfile.ZipFile, name: str) -> Iterator[tuple[str, Element]]:
    """(event, element) pairs of one part; parse errors become SkipFile('corrupt')."""
    fh = _open_part(zf, name)
    try:
        # Parts with a DTD were refused above, and expat (>= 2.4) caps entity amplification;
        # no external entity is ever resolved by ElementTree.
        yield from iterparse(fh, events=("start", "end"))  # noqa: S314
    except ParseError:
        raise SkipFile("corrupt", "malformed XML part") from None
    except zipfile.BadZipFile:
        raise SkipFile("corrupt", "zip entry fails its CRC or size check") from None
    finally:
        fh.close()


def _paragraph_text(zf: zipfile.ZipFile, name: str, text_tag: str, para_tag: str) -> Iterator[str]:
    """Text runs in document order, a newline per paragraph; memory stays bounded by
    clearing each finished paragraph's parent."""
    stack: list[Element] = []
    runs: list[str] = []  # one piece per paragraph: fewer, larger pieces are cheaper
    for event, elem in _events(zf, name):
        if event == "start":
            stack.append(elem)
            continue
        stack.pop()
        tag = _local(elem.tag)
        if tag == text_tag:
            if elem.text:
                runs.append(elem.text)
        elif tag == "tab":
            runs.append("\t")
        elif tag in ("br", "cr"):
            runs.append("\n")
        elif tag == para_tag:
            runs.append("\n")
            yield "".join(runs)
            runs.clear()
            elem.clear()
            if stack:
                stack[-1].clear()
    if runs:
        yield "".join(runs)


def _docx(zf: zipfile.ZipFile, report: ExtractReport) -> Iterator[str]:
    names = zf.namelist()
    parts = ["word/document.xml"]
    parts += sorted(n for n in names if _DOCX_EXTRA_RE.match(n))
    parts += [
        n for n in ("word/footnotes.xml", "word/endnotes.xml", "word/comments.xml") if n in names
    ]
    for part in parts:
        report.parts += 1
        yield from _paragraph_text(zf, part, "t", "p")


def _pptx(zf: zipfile.ZipFile, report: ExtractReport) -> Iterator[str]:
    slides = []
    for n in zf.namelist():
        m = _SLIDE_RE.match(n)
        if m:
            slides.append((m.group(1) != "slides/slide", int(m.group(2)), n))
    for _, _, part in sorted(slides):
        report.parts += 1
        yield from _paragraph_text(zf, part, "t", "p")
        yield "\n"


def _shared_strings(zf: zipfile.ZipFile) -> list[str]:
    if "xl/sharedStrings.xml" not in zf.namelist():
        return []
    out: list[str] = []
    pieces: list[str] = []
    skip_depth = 0
    for event, elem in _events(zf, "xl/sharedStrings.xml"):
        tag = _local(elem.tag)
        if event == "start":
            if tag == "rPh":  # phonetic guide text duplicates the real text
                skip_depth += 1
            continue
        if tag == "rPh":
            skip_depth -= 1
        elif tag == "t" and not skip_depth and elem.text:
            pieces.append(elem.text)
        elif tag == "si":
            out.append("".join(pieces))
            pieces.clear()
            elem.clear()
    return out


def _xlsx(zf: zipfile.ZipFile, report: ExtractReport) -> Iterator[str]:
    shared = _shared_strings(zf)
    sheets = sorted(
        (int(m.group(1)), n) for n in zf.namelist() if (m := _SHEET_RE.match(n)) is not None
    )
    for _, part in sheets:
        report.parts += 1
        stack: list[Element] = []
        cells: list[str] = []
        for event, elem in _events(zf, part):
            if event == "start":
                stack.append(elem)
                continue
            stack.pop()
            tag = _local(elem.tag)
            if tag == "c":
                kind = elem.get("t")
                value = ""
                for child in elem.iter():
                    ctag = _local(child.tag)
                    if kind == "inlineStr" and ctag == "t" and child.text:
                        value += child.text
                    elif ctag == "v" and child.text is not None:
                        value = child.text
                if kind == "s" and value.isdigit():
                    idx = int(value)
                    value = shared[idx] if idx < len(shared) else ""
                if value:
                    cells.append(value)
                    cells.append("\t")
            elif tag == "row":
                cells.append("\n")
                yield "".join(cells)  # one piece per row
                cells.clear()
                elem.clear()
                if stack:
                    stack[-1].clear()
        if cells:  # cells outside any row element
            yield "".join(cells)
        yield "\n"


def iter_ooxml(zf: zipfile.ZipFile, kind: str, report: ExtractReport) -> Iterator[str]:
    if kind == "docx":
        return _docx(zf, report)
    if kind == "xlsx":
        return _xlsx(zf, report)
    if kind == "pptx":
        return _pptx(zf, report)
    raise SkipFile("unsupported_type", f"zip container of kind {kind}")
