"""Probe: could libxml2 (through lxml) read OOXML parts faster than the expat reader and the
bulk scanner of ``detectors.dlp.extract``? Measures, in one process on the same documents:

* the extractor as shipped (``extract_text``, bulk scanner on, and expat only);
* the part inflation alone (``ZipFile.read``), a floor for any parser;
* lxml building the tree of every text part, fed in blocks through a hardened parser
  (no entities resolved, no network, no DTD loading, no huge trees), a floor for any
  lxml-based reader;
* a complete lxml reader of Word and PowerPoint parts that gives the expat reader's text
  (text runs, a tab per tab element, a newline per paragraph, break and carriage return;
  a DTD refused), checked equal to the shipped text;
* for spreadsheets, the cheapest lxml readings there are (one XPath over cell values and
  inline strings, or the tree serialised as text), which give less than the shipped
  reader (no cell separators, no shared-string lookup), so they bound lxml from below;
* the resident memory a part's tree adds.

    .venv/bin/python bench/ooxml_lxml_probe.py DOC [DOC ...]

Times are CPU seconds, best of ``--repeat``; compare rows of one run only.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detectors.dlp.extract import ExtractLimits, extract_text

_PARTS = (
    "word/document",
    "word/header",
    "word/footer",
    "ppt/slides/slide",
    "ppt/notesSlides/notesSlide",
    "xl/worksheets/sheet",
    "xl/sharedStrings",
)
_NS = {"x": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
_CELL_TEXT = etree.XPath(
    "//x:c/x:v/text() | //x:c/x:is/x:t/text()", namespaces=_NS, smart_strings=False
)
_RUN_TAGS = ("{*}t", "{*}p", "{*}tab", "{*}br", "{*}cr")


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def tree_of(zf: zipfile.ZipFile, name: str, block: int = 64 * 1024) -> etree._Element:
    parser = _parser()
    with zf.open(name) as fh:
        while data := fh.read(block):
            parser.feed(data)
    root = parser.close()
    info = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None or info.system_url:
        raise ValueError("DTD")
    return root


def paragraphs(root: etree._Element) -> str:
    """The expat reader's paragraph text, from a tree."""
    out: list[str] = []
    in_text = 0
    for event, el in etree.iterwalk(root, events=("start", "end"), tag=_RUN_TAGS):
        local = el.tag.rpartition("}")[2]
        if event == "start":
            if local == "t":
                in_text += 1
                if el.text:
                    out.append(el.text)
            elif in_text and el.text:
                out.append(el.text)
            continue
        if local == "t":
            in_text -= 1
        elif local == "tab":
            out.append("\t")
        else:
            out.append("\n")
        if in_text and el.tail:
            out.append(el.tail)
    return "".join(out)


def lxml_office_text(path: str) -> str:
    """docx / pptx text as the shipped extractor yields it (parts in the same order)."""
    zf = zipfile.ZipFile(path)
    names = zf.namelist()
    if "word/document.xml" in names:
        parts = ["word/document.xml"]
        parts += sorted(
            n for n in names if n.startswith(("word/header", "word/footer")) and "/_rels" not in n
        )
        parts += [
            n
            for n in ("word/footnotes.xml", "word/endnotes.xml", "word/comments.xml")
            if n in names
        ]
        return "".join(paragraphs(tree_of(zf, n)) for n in parts)
    slides = []
    for n in names:
        for prefix, notes in (("ppt/slides/slide", False), ("ppt/notesSlides/notesSlide", True)):
            if n.startswith(prefix) and n.endswith(".xml"):
                slides.append((notes, int(n[len(prefix) : -4]), n))
    return "".join(paragraphs(tree_of(zf, n)) + "\n" for _, _, n in sorted(slides))


def shipped_text(path: str, scanner: str) -> str:
    with open(path, "rb") as fh:
        return b"".join(extract_text(path, fh, ExtractLimits(ooxml_scanner=scanner))).decode()


def best(fn: Callable[[], object], repeat: int) -> float:
    low = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        low = min(low, time.process_time() - t0)
    return low


def rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def probe(path: str, repeat: int) -> None:
    zf = zipfile.ZipFile(path)
    names = [n for n in zf.namelist() if n.startswith(_PARTS) and n.endswith(".xml")]
    xml_bytes = sum(zf.getinfo(n).file_size for n in names)
    text = shipped_text(path, "bulk")
    mb = len(text.encode("utf-8")) / 1e6
    rows: dict[str, float] = {
        "shipped extractor (bulk)": best(lambda: shipped_text(path, "bulk"), repeat),
        "shipped extractor (expat only)": best(lambda: shipped_text(path, "expat"), repeat),
        "inflate parts only (floor)": best(lambda: [zf.read(n) for n in names], repeat),
        "lxml: inflate + tree (floor)": best(lambda: [tree_of(zf, n) for n in names], repeat),
    }
    note = ""
    if path.endswith(("docx", "pptx")):
        rows["lxml: complete reader"] = best(lambda: lxml_office_text(path), repeat)
        same = lxml_office_text(path) == text.rstrip("\n") or lxml_office_text(path) == text
        note = f"; lxml text identical to shipped: {same}"
    else:
        rows["lxml: tree + XPath cell text (partial)"] = best(
            lambda: ["\t".join(_CELL_TEXT(tree_of(zf, n))) for n in names], repeat
        )
        rows["lxml: tree + tostring text (partial)"] = best(
            lambda: [etree.tostring(tree_of(zf, n), method="text", encoding=str) for n in names],
            repeat,
        )
    largest = max(names, key=lambda n: zf.getinfo(n).file_size)
    grown = float(
        subprocess.run(
            [sys.executable, __file__, "--rss", largest, path],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    print(
        f"{Path(path).name}: {len(names)} parts, {xml_bytes / 1e6:.2f} MB XML, {mb:.2f} MB text; "
        f"largest part {zf.getinfo(largest).file_size / 1e6:.2f} MB, its tree +{grown:.0f} MiB "
        f"RSS{note}; load {os.getloadavg()[0]:.1f}"
    )
    base = rows["shipped extractor (bulk)"]
    for label, seconds in rows.items():
        print(
            f"    {label:<40} {seconds * 1000:8.1f} ms {mb / seconds:7.1f} MB text/s "
            f"{base / seconds:6.2f}x"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("docs", nargs="+")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--rss", help=argparse.SUPPRESS)  # child: RSS one part's tree adds
    args = ap.parse_args()
    if args.rss:
        zf = zipfile.ZipFile(args.docs[0])
        before = rss_mib()
        tree = tree_of(zf, args.rss)
        print(rss_mib() - before if tree is not None else 0.0)
        return
    for path in args.docs:
        probe(path, args.repeat)


if __name__ == "__main__":
    main()
