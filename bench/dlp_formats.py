"""DLP per document format: generate realistic documents with planted values, then time
extraction + matching of each file on one core, as the fleet runs it (``scan_document``).

    .venv/bin/python bench/dlp_formats.py              # every row (a few minutes)
    .venv/bin/python bench/dlp_formats.py --scale 0.3  # smaller documents, quicker
    .venv/bin/python bench/dlp_formats.py --keep /tmp/docs  # keep (and reuse) the documents
    .venv/bin/python bench/dlp_formats.py --inflaters  # xlsx/pptx under each zip inflater too
    .venv/bin/python bench/dlp_formats.py --formats pptx --before ../base --rounds 7
        # only the pptx rows (and the plain text baseline), each row and its --before row
        # run in turn 7 times: medians, so a load change on a shared machine hits both

Documents: plain text (the baseline), PDF (fpdf2; read by the fast path with PDFium behind
it, by PDFium's text page alone, and by pypdf as the pre-PDFium baseline), DOCX
(python-docx), XLSX (openpyxl), PPTX (python-pptx), each at several sizes, with secrets and
personal data planted on their own lines among generated prose, tables and slides. Images:
screenshots of keys in several fonts and sizes (dark and light), and photographed-style
payment cards (JPEG), read by Tesseract.

Each row runs in a fresh child process pinned to one core (so peak RSS is the row's own).
Printed per row: MB of file/s, MB of extracted text/s, recall of the planted values (a
value counts as found when its entry reports as many matches as were planted), peak RSS,
and the ratio of text MB/s to plain text in the same run. PDF rows also say whether PDFium
and pypdf reach the same verdict on every file. MB = 10^6 bytes; times are CPU seconds
(this process + Tesseract), the best of ``--repeat`` runs of each file (generation and
process start-up excluded), so a busy shared machine skews them less than wall time.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import resource
import statistics
import string
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

_WORD_TEXT = (
    "the of and to in is for on that with as are this be by from at or an was report quarter "
    "revenue customer service team project meeting update release budget forecast design review "
    "invoice order shipment account balance status pending approved total region north south "
    "east west analysis summary data model training inference prompt response latency request "
    "cluster node deploy rollback metric alert incident owner action item follow draft plan "
    "contract renewal vendor onboarding policy compliance audit security access roadmap launch"
)
WORDS = _WORD_TEXT.split()
#: entries planted in documents: single-line, Latin-1 samples (PDF core fonts are Latin-1)
PLANTED = (
    "openai_api_key",
    "aws_access_key_id",
    "github_pat_classic",
    "gitlab_pat",
    "slack_token",
    "stripe_secret_key",
    "huggingface_token",
    "card_visa",
    "card_mastercard",
    "card_amex",
    "iban",
    "us_ssn",
    "email",
    "uk_nino",
)
B64URL = string.ascii_letters + string.digits + "-_"


# --------------------------------------------------------------------------- content


class Content:
    """Prose and table rows with planted lines; remembers what it planted."""

    def __init__(self, seed: int) -> None:
        from tests.unit.dlp.samples import Gen, entry_samples

        self.r = random.Random(seed)
        self.gen = Gen(seed)
        self.samples = entry_samples
        self.planted: Counter[str] = Counter()
        self.pool: dict[str, tuple[str, str, str]] = {}
        self.i = 0

    def sentence(self) -> str:
        words = self.r.choices(WORDS, k=self.r.randint(8, 20))
        return " ".join(words).capitalize() + "."

    def paragraph(self) -> str:
        return " ".join(self.sentence() for _ in range(self.r.randint(2, 5)))

    def secret_line(self) -> str:
        """A line with one planted value that the matcher finds, alone, in plain text (so
        recall measures what extraction loses, not the sample generator's misses)."""
        eid = PLANTED[self.i % len(PLANTED)]
        self.i += 1
        self.planted[eid] += 1
        while True:
            if eid == "openai_api_key":  # a project key as minted today, short enough for a line
                g = self.gen
                line = f"OPENAI_API_KEY=sk-proj-{g.tok(40, B64URL)}T3BlbkFJ{g.tok(24, B64URL)}"
            else:
                if eid not in self.pool:  # one call makes a sample of every entry
                    self.pool = dict(self.samples(self.gen))
                line = self.pool.pop(eid)[0].strip()
            stream = _plain_policy().open_stream(record_spans=True)
            stream.feed(line.encode())
            stream.close()
            # confirmed matches, whatever the profiles' thresholds (one email alone is not a
            # PII match, but it is found)
            if [span[0] for span in stream.spans or ()] == [eid]:
                return line

    def row(self) -> list[str]:
        r = self.r
        return [
            f"{r.randint(10000, 99999)}",
            r.choice(WORDS).capitalize() + " " + r.choice(WORDS),
            r.choice(["north", "south", "east", "west"]),
            f"{r.randint(0, 99999)}.{r.randint(0, 99):02d}",
            f"2026-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",
            " ".join(r.choices(WORDS, k=r.randint(3, 9))),
        ]


_POLICY: list[Any] = []


def _plain_policy() -> Any:
    if not _POLICY:
        from detectors.dlp.matcher import compile_policy
        from detectors.dlp.profiles import PREDEFINED

        _POLICY.append(compile_policy(PREDEFINED.values()))
    return _POLICY[0]


def blocks(content: Content, text_bytes: int, every: int = 12) -> list[str]:
    """Paragraphs adding up to about ``text_bytes``, a planted line every ``every``."""
    out: list[str] = []
    size = 0
    n = 0
    while size < text_bytes:
        n += 1
        block = content.secret_line() if n % every == 0 else content.paragraph()
        out.append(block)
        size += len(block) + 1
    return out


def write_txt(path: Path, content: Content, text_bytes: int) -> None:
    path.write_text("\n".join(blocks(content, text_bytes)) + "\n")


def write_pdf(path: Path, content: Content, text_bytes: int) -> None:
    """A4 pages of 9 pt Helvetica, lines wrapped as a word processor would (fpdf2 places
    each line; its own paragraph layout is too slow for megabytes of text)."""
    import textwrap

    from fpdf import FPDF

    doc = FPDF(format="A4")
    doc.set_font("helvetica", size=9)
    line_h, top, bottom = 4.2, 15.0, 282.0
    y = bottom
    for block in blocks(content, text_bytes):
        for line in [*textwrap.wrap(block, width=110), ""]:
            if y + line_h > bottom:
                doc.add_page()
                doc.set_font("helvetica", size=9)
                y = top
            if line:
                doc.text(12, y, line)
            y += line_h
    doc.output(str(path))


def write_docx(path: Path, content: Content, text_bytes: int) -> None:
    import docx

    document = docx.Document()
    document.add_heading("Quarterly operations review", level=1)
    for n, block in enumerate(blocks(content, text_bytes), 1):
        document.add_paragraph(block)
        if n % 200 == 0:  # a small table now and then, as reports have
            rows = [content.row() for _ in range(6)]
            table = document.add_table(rows=len(rows), cols=len(rows[0]))
            for r, row in enumerate(rows):
                for c, value in enumerate(row):
                    table.cell(r, c).text = value
    document.save(str(path))


def write_xlsx(path: Path, content: Content, text_bytes: int) -> None:
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Orders")
    sheet.append(["id", "customer", "region", "amount", "date", "note"])
    size = 0
    n = 0
    while size < text_bytes:
        n += 1
        row = content.row()
        if n % 60 == 0:
            row[-1] = content.secret_line()
        sheet.append(row)
        size += sum(len(v) + 1 for v in row)
    book.save(str(path))


def write_pptx(path: Path, content: Content, text_bytes: int) -> None:
    import pptx
    from pptx.util import Inches, Pt

    deck = pptx.Presentation()
    size = 0
    n = 0
    while size < text_bytes:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = content.sentence()[:60]
        body = slide.placeholders[1].text_frame
        body.text = content.sentence()
        for _ in range(4):
            n += 1
            line = content.secret_line() if n % 12 == 0 else content.sentence()
            para = body.add_paragraph()
            para.text = line
            para.font.size = Pt(12)
            size += len(line) + 1
        notes = slide.notes_slide.notes_text_frame
        notes.text = content.paragraph()
        size += len(notes.text)
        box = slide.shapes.add_textbox(Inches(0.5), Inches(6.8), Inches(9), Inches(0.5))
        box.text_frame.text = "Confidential - internal use"
    deck.save(str(path))


WRITERS = {
    "txt": write_txt,
    "pdf": write_pdf,
    "docx": write_docx,
    "xlsx": write_xlsx,
    "pptx": write_pptx,
}
#: (format, approximate MB of text) per document
SIZES = {
    "txt": (1.0, 10.0),
    "pdf": (0.05, 1.0, 3.0),
    "docx": (0.1, 1.0, 3.0),
    "xlsx": (0.1, 1.0, 3.0),
    "pptx": (0.02, 0.1, 0.3),
}


def generate(folder: Path, scale: float, seed: int) -> list[dict[str, Any]]:
    docs = []
    for fmt, sizes in SIZES.items():
        for mb in sizes:
            content = Content(seed + len(docs))
            path = folder / f"{fmt}-{mb:g}mb.{fmt}"
            t0 = time.perf_counter()
            WRITERS[fmt](path, content, int(mb * scale * 1e6))
            docs.append(
                {
                    "format": fmt,
                    "path": str(path),
                    "planted": dict(content.planted),
                    "generated_s": time.perf_counter() - t0,
                }
            )
    return docs


def generate_images(folder: Path, seed: int) -> list[dict[str, Any]]:
    from tests.unit.dlp import images
    from tests.unit.dlp.samples import Gen, crc_token

    g = Gen(seed)
    out = []
    fonts = ("DejaVuSansMono", "DejaVuSans", "DejaVuSerif")
    n = 0
    for font in fonts:
        for size in (12, 14, 16, 20):
            n += 1
            kind = n % 3
            if kind == 0:
                eid = "openai_api_key"
                line = (
                    f"export OPENAI_API_KEY=sk-proj-{g.tok(40, B64URL)}T3BlbkFJ{g.tok(24, B64URL)}"
                )
            elif kind == 1:
                eid = "github_pat_classic"
                token = crc_token(g, "ghp_")
                line = f"git remote set-url origin https://{token}@github.com/acme/app"
            else:
                eid = "aws_access_key_id"
                line = (
                    f"aws_access_key_id = AKIA{g.tok(16, string.ascii_uppercase + string.digits)}"
                )
            shot = images.screenshot(
                ["$ cat ~/.config/app.env", line, "$ ./deploy.sh --prod"],
                font_name=font,
                size=size,
                dark=n % 2 == 0,
            )
            path = folder / f"shot-{font}-{size}.png"
            path.write_bytes(images.encode(shot))
            out.append({"path": str(path), "entry": eid, "kind": "screenshot"})
    for i, prefix in enumerate(("4", "51", "4", "55")):
        number = g.card(prefix, 16)
        grouped = " ".join(number[j : j + 4] for j in range(0, 16, 4))
        eid = "card_visa" if prefix == "4" else "card_mastercard"
        photo = images.card_photo(grouped, seed=seed + i)
        path = folder / f"card-{i}.jpg"
        path.write_bytes(images.encode(photo, "JPEG", quality=82))
        out.append({"path": str(path), "entry": eid, "kind": "card photo"})
    return out


# --------------------------------------------------------------------------- measuring (child)


def _entry_counts(verdict: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    if verdict.match is not None:
        for e in verdict.match.entries:
            counts[e.entry_id] = max(counts.get(e.entry_id, 0), e.count)
    return counts


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (Tesseract runs as a child):
    the machine may be shared, and a core's worth of work is what sizing needs."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """Run in the child: time scan_document on each file of the row (the row's reader
    switches are passed as ``ExtractLimits`` fields, as the fleet passes its settings)."""
    from detectors.dlp.document import scan_document
    from detectors.dlp.extract import ExtractLimits, OcrEngine
    from detectors.dlp.matcher import compile_policy
    from detectors.dlp.profiles import PREDEFINED

    policy = compile_policy(PREDEFINED.values())
    policy.scan_bytes(b"warm up: compile and allocate scratch space")
    ocr = OcrEngine() if spec.get("ocr") else None
    limits = ExtractLimits(
        pdf_engine=spec.get("pdf_engine") or "pdfium",
        pdf_fast=(spec.get("pdf_fast") or "1").strip().lower() not in ("0", "off", "false", "no"),
        ooxml_scanner=spec.get("ooxml_scanner") or "bulk",
        zip_inflate=spec.get("inflater") or "",
    )
    files = []
    for item in spec["files"]:
        data = Path(item["path"]).read_bytes()
        best = float("inf")
        verdict = None
        runs, done, extended = spec["repeat"], 0, False
        while done < runs:
            t0 = cpu_seconds()
            verdict = scan_document(Path(item["path"]).name, io.BytesIO(data), policy, limits, ocr)
            best = min(best, max(cpu_seconds() - t0, 1e-6))
            done += 1
            if done == runs and best < 0.05 and not extended and ocr is None:
                runs, extended = runs + 10, True  # small files: more runs, less noise
        assert verdict is not None
        files.append(
            {
                "path": item["path"],
                "seconds": best,
                "file_bytes": len(data),
                "text_bytes": verdict.match.bytes_scanned if verdict.match else 0,
                "outcome": verdict.outcome,
                "reason": verdict.reason,
                "counts": _entry_counts(verdict),
            }
        )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    from detectors.dlp.extract.zipparts import inflater_name

    return {"files": files, "rss_mib": rss, "inflater": inflater_name(limits.zip_inflate)}


def run_child(spec: dict[str, Any], cpu: int) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(spec, fh)
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    script = Path(spec["src"]) / "bench" / "dlp_formats.py" if spec.get("src") else Path(__file__)
    cmd = [sys.executable, str(script), "--child", fh.name]
    if cpu >= 0 and hasattr(os, "sched_setaffinity"):
        cmd += ["--cpu", str(cpu)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    os.unlink(fh.name)
    return json.loads(out.strip().splitlines()[-1])


# --------------------------------------------------------------------------- report (parent)

FORMATS = ("txt", "pdf", "docx", "xlsx", "pptx")
#: share of files by format in the sizing mixes of docs/operations.md
MIXES = {
    "office-heavy": {"txt": 0.2, "pdf": 0.3, "docx": 0.2, "xlsx": 0.15, "pptx": 0.15},
    "text-heavy": {"txt": 0.6, "pdf": 0.2, "docx": 0.1, "xlsx": 0.05, "pptx": 0.05},
}


def mix_report(smallest: dict[str, tuple[float, float, float]]) -> None:
    """Files/s per core: each format's smallest document (the closest to a typical upload),
    and the sizing mixes of docs/operations.md (a harmonic mean weighted by the mix)."""
    parts = []
    for fmt, (seconds, file_mb, text_mb) in smallest.items():
        parts.append(
            f"{fmt} {1 / seconds:.0f} ({file_mb * 1000:.0f} KB file, {text_mb * 1000:.0f} KB text)"
        )
    print("files/s per core, smallest document of each format: " + ", ".join(parts))
    for name, mix in MIXES.items():
        seconds = sum(share * smallest[fmt][0] for fmt, share in mix.items())
        print(f"mix {name} {mix}: {1 / seconds:.0f} files/s per core")


def _rounds(
    rows: list[tuple[str, dict[str, str], list[dict[str, Any]]]], repeat: int, cpu: int, rounds: int
) -> dict[str, dict[str, Any]]:
    """Each row's child result; with several rounds, the rows run in turn ``rounds`` times
    and each file's seconds are the median of its rounds (verdicts: the last round's)."""
    runs: dict[str, list[dict[str, Any]]] = {}
    for _ in range(rounds):
        for label, settings, items in rows:
            runs.setdefault(label, []).append(
                run_child({"files": items, "repeat": repeat, **settings}, cpu)
            )
    out = {}
    for label, got in runs.items():
        last = got[-1]
        for i, f in enumerate(last["files"]):
            f["seconds"] = statistics.median(g["files"][i]["seconds"] for g in got)
        last["rss_mib"] = max(g["rss_mib"] for g in got)
        out[label] = last
    return out


def recall_of(planted: dict[str, int], counts: dict[str, int]) -> tuple[int, int]:
    total = sum(planted.values())
    found = sum(min(n, counts.get(eid, 0)) for eid, n in planted.items())
    return found, total


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--scale", type=float, default=1.0, help="multiply document sizes")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cpu", type=int, default=1, help="core to pin to (-1: no pinning)")
    ap.add_argument("--keep", type=Path, help="write the documents here and keep them")
    ap.add_argument(
        "--before",
        type=Path,
        help="also run the document rows with this source tree (e.g. `git archive main` "
        "unpacked), for before/after figures from one run",
    )
    ap.add_argument(
        "--inflaters",
        action="store_true",
        help="also run the xlsx and pptx rows with zlib-ng's and the stdlib's inflater",
    )
    ap.add_argument(
        "--formats",
        default=",".join(FORMATS[1:]),
        help="comma-separated document formats to run (the plain text baseline always runs)",
    )
    ap.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run the whole list of rows this many times in turn and report, per file, the "
        "median of the rounds' best times (A/B alternation against --before on a busy machine)",
    )
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.cpu >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    if args.child:
        spec = json.loads(Path(args.child).read_text())
        print(json.dumps(measure(spec)))
        return

    tmp = tempfile.TemporaryDirectory(prefix="dlp-formats-")
    folder = args.keep or Path(tmp.name)
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    manifest = folder / "manifest.json"
    key = {
        "version": 2,
        "scale": args.scale,
        "seed": args.seed,
        "sizes": {k: list(v) for k, v in SIZES.items()},
    }
    saved = json.loads(manifest.read_text()) if manifest.exists() else {}
    if saved.get("key") == key:  # --keep: reuse the documents of an earlier run
        docs, shots = saved["docs"], saved["shots"]
    else:
        docs = generate(folder, args.scale, args.seed)
        shots = generate_images(folder, args.seed)
        manifest.write_text(json.dumps({"key": key, "docs": docs, "shots": shots}))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    from detectors.dlp.extract.zipparts import inflater_name

    print(
        f"generated {len(docs)} documents and {len(shots)} images in "
        f"{time.perf_counter() - t0:.0f} s (scale {args.scale:g}, seed {args.seed}); "
        f"one core, CPU time, best of {args.repeat}; load average {load:.1f} on "
        f"{os.cpu_count()} cores; OOXML parts inflated by {inflater_name()}"
    )

    wanted = {"txt", *(f.strip() for f in args.formats.split(",") if f.strip())}

    def of(fmt: str) -> list[dict[str, Any]]:
        return [d for d in docs if d["format"] == fmt and fmt in wanted]

    # (label, extra child settings, documents); "before" rows: the reader each format had
    rows: list[tuple[str, dict[str, str], list[dict[str, Any]]]] = [
        ("txt", {}, of("txt")),
        ("pdf", {"pdf_engine": "pdfium"}, of("pdf")),
        ("pdf (text page only)", {"pdf_engine": "pdfium", "pdf_fast": "0"}, of("pdf")),
        ("pdf (pypdf, before)", {"pdf_engine": "pypdf"}, of("pdf")),
        ("docx", {}, of("docx")),
        ("xlsx", {}, of("xlsx")),
        ("xlsx (expat)", {"ooxml_scanner": "expat"}, of("xlsx")),
        ("pptx", {}, of("pptx")),
        ("pptx (expat)", {"ooxml_scanner": "expat"}, of("pptx")),
    ]
    if args.inflaters:  # the bulk path with each inflater (the rows above: the default one)
        rows += [
            (f"{fmt} ({name})", {"inflater": name}, of(fmt))
            for name in ("zlib-ng", "zlib")
            for fmt in ("xlsx", "pptx")
        ]
    if args.before:  # the same documents through an older source tree, in this run
        rows += [(f"{fmt} (before)", {"src": str(args.before)}, of(fmt)) for fmt in FORMATS[1:]]
    rows = [row for row in rows if row[2]]
    results = _rounds(rows, args.repeat, args.cpu, max(1, args.rounds))
    header = (
        f"{'format':<20} {'file':>10} {'text':>9} {'file MB/s':>10} {'text MB/s':>10} "
        f"{'recall':>7} {'RSS MiB':>8} {'vs text':>8}"
    )
    print(header)
    print("-" * len(header))
    baseline = None
    verdicts: dict[str, dict[str, Any]] = {}
    row_seconds: dict[str, float] = {}
    smallest: dict[str, tuple[float, float, float]] = {}
    for label, settings, items in rows:
        got = results[label]
        if settings.get("inflater") and got.get("inflater") != settings["inflater"]:
            print(f"  ({settings['inflater']} is not installed: {got.get('inflater')} was used)")
        planted = {d["path"]: d["planted"] for d in items}
        for f in got["files"]:
            found, total = recall_of(planted[f["path"]], f["counts"])
            name = Path(f["path"]).name
            print(
                f"  {name:<18} {f['file_bytes'] / 1e6:>9.2f}M {f['text_bytes'] / 1e6:>8.2f}M "
                f"{f['file_bytes'] / 1e6 / f['seconds']:>10.1f} "
                f"{f['text_bytes'] / 1e6 / f['seconds']:>10.1f} {found:>3}/{total:<3}"
            )
            verdicts.setdefault(f["path"], {})[label] = (f["outcome"], f["counts"])
        seconds = sum(f["seconds"] for f in got["files"])
        row_seconds[label] = seconds
        if label in FORMATS:
            small = min(got["files"], key=lambda f: f["file_bytes"])
            smallest[label] = (
                small["seconds"],
                small["file_bytes"] / 1e6,
                small["text_bytes"] / 1e6,
            )
        file_mb = sum(f["file_bytes"] for f in got["files"]) / 1e6
        text_mb = sum(f["text_bytes"] for f in got["files"]) / 1e6
        found = total = 0
        for f in got["files"]:
            a, b = recall_of(planted[f["path"]], f["counts"])
            found, total = found + a, total + b
        text_rate = text_mb / seconds
        if baseline is None:
            baseline = text_rate
        print(
            f"{label:<20} {file_mb:>9.2f}M {text_mb:>8.2f}M {file_mb / seconds:>10.1f} "
            f"{text_rate:>10.1f} {found / max(total, 1):>7.3f} {got['rss_mib']:>8.0f} "
            f"{text_rate / baseline:>8.3f}"
        )
    pdf_paths = [d["path"] for d in of("pdf")]
    if pdf_paths:
        same = all(verdicts[p]["pdf"] == verdicts[p]["pdf (pypdf, before)"] for p in pdf_paths)
        speedup = row_seconds["pdf (pypdf, before)"] / row_seconds["pdf"]
        print(f"PDF: PDFium is {speedup:.1f}x faster than pypdf on the same files")
        print(
            f"PDF verdicts (outcome and per-entry counts) identical under PDFium and pypdf: {same}"
        )
        same = all(verdicts[p]["pdf"] == verdicts[p]["pdf (text page only)"] for p in pdf_paths)
        speedup = row_seconds["pdf (text page only)"] / row_seconds["pdf"]
        print(
            f"PDF: the fast path is {speedup:.2f}x faster than PDFium's text page alone; "
            f"same verdicts: {same}"
        )
    pairs = [
        ("xlsx", "xlsx (expat)", "bulk scanner vs expat"),
        ("pptx", "pptx (expat)", "bulk scanner vs expat"),
    ]
    if args.inflaters:
        pairs += [
            (fmt, f"{fmt} ({name})", f"default inflater vs {name}")
            for name in ("zlib-ng", "zlib")
            for fmt in ("xlsx", "pptx")
        ]
    if args.before:
        pairs += [(fmt, f"{fmt} (before)", f"vs {args.before}") for fmt in FORMATS[1:]]
    for fmt, other, what in pairs:
        paths = [d["path"] for d in of(fmt)]
        if not paths:
            continue
        same = all(verdicts[p][fmt] == verdicts[p][other] for p in paths)
        speedup = row_seconds[other] / row_seconds[fmt]
        print(f"{fmt}: {speedup:.2f}x faster ({what}); same verdicts: {same}")
    if all(fmt in smallest for fmt in FORMATS):
        mix_report(smallest)
    if args.rounds > 1 or wanted != set(FORMATS):
        return  # (images: a full run)

    got = run_child(
        {"files": [{"path": s["path"]} for s in shots], "repeat": 1, "ocr": True}, args.cpu
    )
    seconds = sum(f["seconds"] for f in got["files"])
    by_kind: dict[str, list[int]] = {}
    for shot, f in zip(shots, got["files"], strict=True):
        hit = f["counts"].get(shot["entry"], 0) > 0
        stats = by_kind.setdefault(shot["kind"], [0, 0])
        stats[0] += hit
        stats[1] += 1
    recall = ", ".join(f"{k} {a}/{b}" for k, (a, b) in by_kind.items())
    print(
        f"{'images (OCR)':<20} {len(shots)} images, {len(shots) / seconds:.2f} images/s, "
        f"{seconds / len(shots):.2f} s/image, recall: {recall}, RSS {got['rss_mib']:.0f} MiB"
    )


if __name__ == "__main__":
    main()
