"""Deterministic file contents for the simulator: real txt/csv/json/md/pdf/docx/xlsx bytes.

Pure: no I/O. Every file is rebuilt on demand from (world seed, file id, variant, profiles), so
a huge world keeps only small records in memory and the same seed always serves the same bytes.

The planted values are chosen so that a correct DLP matcher finds exactly the recorded profiles:
clean text has no digit run longer than four, no brand words (Visa, Mastercard...), no emails, no
"SSN" keyword; random token bodies never contain a run of five digits (so no national-id shaped
substring can appear by chance); near misses fail their validator (Luhn, mod-97, SSN area rules).
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
import string
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

PROFILE_CREDENTIALS = "Credentials and Secrets"
PROFILE_FINANCIAL = "Financial Information"
PROFILE_IDENTIFIERS = "Social Security, Insurance, Tax, and Identifier Numbers"
PLANTABLE_PROFILES: tuple[str, ...] = (PROFILE_CREDENTIALS, PROFILE_FINANCIAL, PROFILE_IDENTIFIERS)
# Not planted on its own: a file planted for Financial Information carries two card brands
# (Visa + Mastercard), which is two distinct PII entries, so it also matches a PII profile that
# needs two distinct kinds (the product's predefined PII profile). See matched_profiles().
PROFILE_PII = "Personally Identifiable Information (PII)"


def matched_profiles(planted: Sequence[str]) -> frozenset[str]:
    """Every predefined profile a file planted for `planted` truly matches."""
    out = set(planted)
    if PROFILE_FINANCIAL in out:
        out.add(PROFILE_PII)
    return frozenset(out)


FORMATS: tuple[str, ...] = ("txt", "csv", "json", "md", "pdf", "docx", "xlsx")

CONTENT_TYPES: dict[str, str] = {
    "txt": "text/plain; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "md": "text/markdown; charset=utf-8",
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

# Variants of a file's content. Only "planted" files carry true matches.
VARIANTS: tuple[str, ...] = ("clean", "planted", "near_miss", "corrupt", "zipbomb", "large")

WORDS = [
    "quarterly",
    "roadmap",
    "review",
    "notes",
    "budget",
    "draft",
    "meeting",
    "agenda",
    "launch",
    "timeline",
    "onboarding",
    "checklist",
    "vendor",
    "summary",
    "design",
    "proposal",
    "feedback",
    "migration",
    "plan",
    "sprint",
    "retrospective",
    "architecture",
    "diagram",
    "customer",
    "journey",
    "pricing",
    "experiment",
    "hiring",
    "pipeline",
    "training",
    "module",
    "release",
    "candidate",
    "regression",
    "backlog",
    "priority",
    "owner",
    "status",
    "green",
    "amber",
    "blue",
    "harbor",
    "orchard",
    "lantern",
    "meadow",
    "copper",
    "silver",
    "river",
    "granite",
    "summit",
    "beacon",
    "compass",
    "atlas",
    "falcon",
    "maple",
    "cedar",
    "willow",
    "juniper",
]

_B62 = string.ascii_letters + string.digits
_B64 = string.ascii_letters + string.digits + "+/"
_FORBIDDEN_IN_RANDOM = ("AKIA", "ASIA", "AIza", "ghp_", "xox", "sk-", "sk_live", "ssn", "SSN")


@dataclass(frozen=True, slots=True)
class PlantedEntry:
    """One planted sensitive value: the DLP profile and entry it belongs to, and the value.

    The value is kept so tests can check a matcher's masking; it is synthetic, never a real secret.
    """

    profile: str
    entry: str
    value: str


# --------------------------------------------------------------------------- validators


def luhn_ok(digits: str) -> bool:
    """True when the digit string passes the Luhn checksum."""
    nums = [int(c) for c in digits if c.isdigit()]
    total = 0
    for i, d in enumerate(reversed(nums)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return bool(nums) and total % 10 == 0


def _luhn_check_digit(partial: str) -> str:
    for c in "0123456789":
        if luhn_ok(partial + c):
            return c
    raise AssertionError("unreachable")


def iban_ok(iban: str) -> bool:
    """True when the IBAN's mod-97 check holds (spaces ignored)."""
    s = iban.replace(" ", "").upper()
    if len(s) < 5:
        return False
    moved = s[4:] + s[:4]
    num = "".join(str(int(c, 36)) for c in moved)
    return int(num) % 97 == 1


def _iban_with_check(country: str, bban: str) -> str:
    moved = bban + country + "00"
    num = "".join(str(int(c, 36)) for c in moved)
    check = 98 - int(num) % 97
    return f"{country}{check:02d}{bban}"


_SSN_DENYLIST = {"078-05-1120", "219-09-9999", "123-45-6789"}


def ssn_ok(ssn: str) -> bool:
    """US SSN format rules: area not 000/666/9xx, group not 00, serial not 0000."""
    m = re.fullmatch(r"(\d{3})-(\d{2})-(\d{4})", ssn)
    if not m:
        return False
    area, group, serial = m.groups()
    if area in ("000", "666") or area.startswith("9"):
        return False
    if group == "00" or serial == "0000":
        return False
    return ssn not in _SSN_DENYLIST


def _b62encode(n: int) -> str:
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = _B62[r] + out
    return out or "0"


# --------------------------------------------------------------------------- random tokens


def _safe_token(rng: random.Random, n: int, alphabet: str = _B62) -> str:
    """A random token with no digit run of 5+ and no accidental secret prefix."""
    while True:
        tok = "".join(rng.choice(alphabet) for _ in range(n))
        if re.search(r"\d{5}", tok):
            continue
        if any(f in tok for f in _FORBIDDEN_IN_RANDOM):
            continue
        return tok


def _aws_access_key_id(rng: random.Random) -> str:
    alphabet = string.ascii_uppercase + "234567"
    while True:
        body = "".join(rng.choice(alphabet) for _ in range(16))
        if "EXAMPLE" not in body and not re.search(r"\d{5}", body):
            return "AKIA" + body


def _openai_project_key(rng: random.Random) -> str:
    return "sk-proj-" + _safe_token(rng, 74) + "T3BlbkFJ" + _safe_token(rng, 74)


def _github_pat(rng: random.Random) -> str:
    body = _safe_token(rng, 30)
    crc = _b62encode(zlib.crc32(body.encode())).rjust(6, "0")
    return "ghp_" + body + crc


def _private_key_block(rng: random.Random) -> list[str]:
    lines = ["-----BEGIN RSA PRIVATE KEY-----"]
    lines.append("MIIEow" + _safe_token(rng, 58, _B64))
    lines.extend(_safe_token(rng, 64, _B64) for _ in range(5))
    lines.append(_safe_token(rng, 40, _B64) + "==")
    lines.append("-----END RSA PRIVATE KEY-----")
    return lines


def _visa(rng: random.Random) -> str:
    partial = "4" + "".join(rng.choice(string.digits) for _ in range(14))
    return partial + _luhn_check_digit(partial)


def _mastercard(rng: random.Random) -> str:
    partial = "5" + rng.choice("12345") + "".join(rng.choice(string.digits) for _ in range(13))
    return partial + _luhn_check_digit(partial)


def _group4(num: str, sep: str) -> str:
    return sep.join(num[i : i + 4] for i in range(0, len(num), 4))


def _gb_iban(rng: random.Random, valid: bool = True) -> str:
    bank = "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(4))
    digits = "".join(rng.choice(string.digits) for _ in range(14))
    iban = _iban_with_check("GB", bank + digits)
    if valid:
        return iban
    bad = (int(iban[2:4]) + 1 + rng.randrange(90)) % 97 + 2
    cand = f"GB{bad:02d}{iban[4:]}"
    return cand if not iban_ok(cand) else f"GB{(bad + 1) % 97 + 2:02d}{iban[4:]}"


def _ssn(rng: random.Random) -> str:
    while True:
        area = rng.randrange(1, 900)
        if area == 666:
            continue
        ssn = f"{area:03d}-{rng.randrange(1, 100):02d}-{rng.randrange(1, 10000):04d}"
        if ssn_ok(ssn):
            return ssn


# --------------------------------------------------------------------------- logical documents


def _clean_sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randrange(6, 13))]
    words[0] = words[0].capitalize()
    return " ".join(words) + "."


def planted_entries(rng: random.Random, profiles: Sequence[str]) -> list[PlantedEntry]:
    """Synthetic sensitive values for each requested profile (two or more entries each)."""
    out: list[PlantedEntry] = []
    for profile in profiles:
        if profile == PROFILE_CREDENTIALS:
            out.append(PlantedEntry(profile, "AWS Access Key ID", _aws_access_key_id(rng)))
            out.append(PlantedEntry(profile, "OpenAI API Key", _openai_project_key(rng)))
            out.append(PlantedEntry(profile, "GitHub Personal Access Token", _github_pat(rng)))
            out.append(PlantedEntry(profile, "SSH Private Key", "\n".join(_private_key_block(rng))))
        elif profile == PROFILE_FINANCIAL:
            out.append(PlantedEntry(profile, "Visa Card Number", _group4(_visa(rng), " ")))
            out.append(
                PlantedEntry(profile, "Mastercard Card Number", _group4(_mastercard(rng), "-"))
            )
            out.append(PlantedEntry(profile, "IBAN", _gb_iban(rng)))
        elif profile == PROFILE_IDENTIFIERS:
            out.append(PlantedEntry(profile, "United States SSN Numeric Detection", _ssn(rng)))
            out.append(PlantedEntry(profile, "United States SSN Numeric Detection", _ssn(rng)))
        else:
            raise ValueError(f"cannot plant unknown profile {profile!r}")
    return out


def _planted_lines(entry: PlantedEntry) -> list[tuple[str, str]]:
    """(label, value) rows that present one entry the way a real document would."""
    e = entry.entry
    if e == "AWS Access Key ID":
        return [("aws_access_key_id", entry.value)]
    if e == "OpenAI API Key":
        return [("OPENAI_API_KEY", entry.value)]
    if e == "GitHub Personal Access Token":
        return [("github token", entry.value)]
    if e == "SSH Private Key":
        return [("private key", line) for line in entry.value.split("\n")]
    if e.endswith("Card Number"):
        return [("card number", entry.value)]
    if e == "IBAN":
        return [("iban", entry.value)]
    return [("SSN", entry.value)]


def near_miss_values(rng: random.Random) -> list[tuple[str, str]]:
    """Values shaped like sensitive data that every validator must reject."""
    visa = _visa(rng)
    bad_card = visa[:-1] + str((int(visa[-1]) + 3) % 10)
    return [
        ("reference", _group4(bad_card, " ")),
        ("account", _gb_iban(rng, valid=False)),
        ("record", f"000-{rng.randrange(10, 50):02d}-{rng.randrange(1000, 9999):04d}"),
        ("record", f"666-{rng.randrange(10, 50):02d}-{rng.randrange(1000, 9999):04d}"),
        (
            "record",
            f"9{rng.randrange(10, 99):02d}-{rng.randrange(10, 50):02d}-"
            f"{rng.randrange(1000, 9999):04d}",
        ),
        ("record", f"{rng.randrange(100, 600):03d}-00-{rng.randrange(1000, 9999):04d}"),
    ]


@dataclass(slots=True)
class Document:
    """Format-independent content: a title and rows of (label, value) cells."""

    title: str
    rows: list[tuple[str, str]]


def build_document(
    rng: random.Random, title: str, variant: str, profiles: Sequence[str]
) -> tuple[Document, list[PlantedEntry]]:
    """Rows of clean filler with the planted or near-miss values interleaved."""
    rows: list[tuple[str, str]] = [
        ("note", _clean_sentence(rng)) for _ in range(rng.randrange(6, 14))
    ]
    entries: list[PlantedEntry] = []
    inserts: list[tuple[str, str]] = []
    if variant == "planted":
        entries = planted_entries(rng, profiles)
        for entry in entries:
            inserts.extend(_planted_lines(entry))
    elif variant == "near_miss":
        inserts = near_miss_values(rng)
    # keep multi-line blocks (private keys) contiguous: insert them as one group
    pos = rng.randrange(1, len(rows))
    for offset, row in enumerate(inserts):
        rows.insert(pos + offset, row)
    rows.append(("note", _clean_sentence(rng)))
    return Document(title=title, rows=rows), entries


# --------------------------------------------------------------------------- renderers


def render_text(doc: Document) -> bytes:
    lines = [doc.title, ""]
    lines += [f"{label}: {value}" if label != "note" else value for label, value in doc.rows]
    return ("\n".join(lines) + "\n").encode()


def render_markdown(doc: Document) -> bytes:
    lines = [f"# {doc.title}", ""]
    for label, value in doc.rows:
        lines.append(value if label == "note" else f"- **{label}**: `{value}`")
        lines.append("")
    return "\n".join(lines).encode()


def render_csv(doc: Document) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["row", "label", "value"])
    for i, (label, value) in enumerate(doc.rows, start=1):
        writer.writerow([i, label, value])
    return buf.getvalue().encode()


def render_json(doc: Document) -> bytes:
    payload = {
        "title": doc.title,
        "records": [{"label": label, "value": value} for label, value in doc.rows],
    }
    return json.dumps(payload, indent=2).encode()


def _pdf_escape(text: str) -> str:
    safe = text.encode("latin-1", "replace").decode("latin-1")
    return safe.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def build_pdf(lines: Sequence[str], lines_per_page: int = 50) -> bytes:
    """A small valid PDF 1.4 with Helvetica text, one Tj per line, correct xref offsets."""
    pages = [
        list(lines[i : i + lines_per_page]) for i in range(0, max(len(lines), 1), lines_per_page)
    ]
    n_pages = len(pages)
    # object numbers: 1 catalog, 2 pages, 3 font, then per page (page, contents)
    objects: dict[int, bytes] = {}
    objects[1] = b"<< /Type /Catalog /Pages 2 0 R >>"
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(n_pages))
    objects[2] = f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode()
    objects[3] = (
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    )
    for i, page_lines in enumerate(pages):
        page_no, content_no = 4 + 2 * i, 5 + 2 * i
        objects[page_no] = (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {content_no} 0 R >>"
        ).encode()
        ops = ["BT", "/F1 9 Tf", "11 TL", "40 760 Td"]
        for line in page_lines:
            ops.append(f"({_pdf_escape(line)}) Tj T*")
        ops.append("ET")
        stream = ("\n".join(ops) + "\n").encode("latin-1")
        objects[content_no] = b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"endstream"
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}
    for num in sorted(objects):
        offsets[num] = len(out)
        out += b"%d 0 obj\n" % num + objects[num] + b"\nendobj\n"
    xref_at = len(out)
    size = max(objects) + 1
    out += b"xref\n0 %d\n" % size
    out += b"0000000000 65535 f \n"
    for num in range(1, size):
        out += b"%010d 00000 n \n" % offsets[num]
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref_at)
    return bytes(out)


def _xml_escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


_ZIP_DATE = (2026, 1, 1, 0, 0, 0)


def _zip(parts: Sequence[tuple[str, str | bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts:
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data if isinstance(data, bytes) else data.encode())
    return buf.getvalue()


_XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_PKG_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DOC_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_S_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def build_docx(paragraphs: Sequence[str], filler: str = "") -> bytes:
    """A minimal WordprocessingML package: content types, package rels, one document part."""
    content_types = (
        _XML_DECL + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.wordprocessingml.document.main+xml"/></Types>'
    )
    rels = (
        _XML_DECL + f'<Relationships xmlns="{_PKG_RELS}"><Relationship Id="rId1" '
        f'Type="{_DOC_REL}/officeDocument" Target="word/document.xml"/></Relationships>'
    )
    body = "".join(
        f'<w:p><w:r><w:t xml:space="preserve">{_xml_escape(p)}</w:t></w:r></w:p>'
        for p in paragraphs
    )
    if filler:
        body += f'<w:p><w:r><w:t xml:space="preserve">{filler}</w:t></w:r></w:p>'
    document = (
        _XML_DECL + f'<w:document xmlns:w="{_W_NS}"><w:body>{body}<w:sectPr/></w:body></w:document>'
    )
    return _zip(
        [
            ("[Content_Types].xml", content_types),
            ("_rels/.rels", rels),
            ("word/document.xml", document),
        ]
    )


def _col(i: int) -> str:
    name = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        name = chr(65 + r) + name
    return name


def build_xlsx(rows: Sequence[Sequence[str]]) -> bytes:
    """A minimal SpreadsheetML package with one sheet whose cells use the shared string table."""
    strings: list[str] = []
    index: dict[str, int] = {}
    sheet_rows = []
    for r, row in enumerate(rows, start=1):
        cells = []
        for c, value in enumerate(row):
            if value not in index:
                index[value] = len(strings)
                strings.append(value)
            cells.append(f'<c r="{_col(c)}{r}" t="s"><v>{index[value]}</v></c>')
        sheet_rows.append(f'<row r="{r}">{"".join(cells)}</row>')
    content_types = (
        _XML_DECL + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" '
        'ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.sharedStrings+xml"/></Types>'
    )
    rels = (
        _XML_DECL + f'<Relationships xmlns="{_PKG_RELS}"><Relationship Id="rId1" '
        f'Type="{_DOC_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    )
    workbook = (
        _XML_DECL + f'<workbook xmlns="{_S_NS}" xmlns:r="{_DOC_REL}"><sheets>'
        '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
    )
    wb_rels = (
        _XML_DECL + f'<Relationships xmlns="{_PKG_RELS}">'
        f'<Relationship Id="rId1" Type="{_DOC_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{_DOC_REL}/sharedStrings" Target="sharedStrings.xml"/>'
        "</Relationships>"
    )
    sheet = (
        _XML_DECL
        + f'<worksheet xmlns="{_S_NS}"><sheetData>{"".join(sheet_rows)}</sheetData></worksheet>'
    )
    sst_items = "".join(f'<si><t xml:space="preserve">{_xml_escape(s)}</t></si>' for s in strings)
    sst = (
        _XML_DECL
        + f'<sst xmlns="{_S_NS}" count="{len(strings)}" uniqueCount="{len(strings)}">'
        + sst_items
        + "</sst>"
    )
    return _zip(
        [
            ("[Content_Types].xml", content_types),
            ("_rels/.rels", rels),
            ("xl/workbook.xml", workbook),
            ("xl/_rels/workbook.xml.rels", wb_rels),
            ("xl/worksheets/sheet1.xml", sheet),
            ("xl/sharedStrings.xml", sst),
        ]
    )


def render(fmt: str, doc: Document) -> bytes:
    """Serialise a document in one of FORMATS."""
    if fmt == "txt":
        return render_text(doc)
    if fmt == "md":
        return render_markdown(doc)
    if fmt == "csv":
        return render_csv(doc)
    if fmt == "json":
        return render_json(doc)
    lines = [doc.title] + [v if label == "note" else f"{label}: {v}" for label, v in doc.rows]
    if fmt == "pdf":
        return build_pdf(lines)
    if fmt == "docx":
        return build_docx(lines)
    if fmt == "xlsx":
        return build_xlsx([["label", "value"]] + [[label, v] for label, v in doc.rows])
    raise ValueError(f"unknown format {fmt!r}")


def corrupt_bytes(fmt: str, rng: random.Random) -> bytes:
    """Bytes that start like the format but cannot be parsed (truncated container, no xref)."""
    junk = bytes(rng.randrange(256) for _ in range(600))
    if fmt in ("docx", "xlsx"):
        return b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + junk
    if fmt == "pdf":
        return b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R" + junk
    return b"\xff\xfe\x00" + junk


def zip_bomb(uncompressed_bytes: int = 256 * 1024 * 1024) -> bytes:
    """A .docx whose document part inflates to `uncompressed_bytes` of blanks (clean content)."""
    head = f'{_XML_DECL}<w:document xmlns:w="{_W_NS}"><w:body><w:p><w:r><w:t xml:space="preserve">'
    tail = "</w:t></w:r></w:p><w:sectPr/></w:body></w:document>"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(
            zipfile.ZipInfo("[Content_Types].xml", date_time=_ZIP_DATE), build_docx_content_types()
        )
        info = zipfile.ZipInfo("word/document.xml", date_time=_ZIP_DATE)
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w", force_zip64=True) as member:
            member.write(head.encode())
            block = b" " * (1024 * 1024)
            remaining = uncompressed_bytes
            while remaining > 0:
                n = min(remaining, len(block))
                member.write(block[:n])
                remaining -= n
            member.write(tail.encode())
    return buf.getvalue()


def build_docx_content_types() -> str:
    return (
        _XML_DECL + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="xml" ContentType="application/xml"/></Types>'
    )


def large_text_stream(total_bytes: int, chunk: int = 1024 * 1024) -> Iterator[bytes]:
    """Clean filler text of exactly `total_bytes`, yielded in chunks (never held in memory)."""
    line = b"quarterly roadmap review notes for the harbor team, nothing sensitive here.\n"
    block = line * (chunk // len(line) + 1)
    sent = 0
    while sent < total_bytes:
        n = min(chunk, total_bytes - sent)
        yield block[:n]
        sent += n


def message_text(
    rng: random.Random, variant: str, profiles: Sequence[str]
) -> tuple[str, list[PlantedEntry]]:
    """A chat message's text: clean sentences with planted (or near-miss) values, rendered
    like a text file's rows, so a correct matcher finds exactly ``matched_profiles``."""
    doc, entries = build_document(rng, "", variant, profiles)
    return render_text(doc).decode().strip(), entries


def file_rng(world_seed: int, file_id: str) -> random.Random:
    """The deterministic random stream a file's content is generated from."""
    return random.Random(f"sim-file:{world_seed}:{file_id}")


def generate_content(
    world_seed: int, file_id: str, name: str, fmt: str, variant: str, profiles: Sequence[str]
) -> tuple[bytes, list[PlantedEntry]]:
    """The bytes of a small file and the entries planted in it (empty unless variant='planted')."""
    rng = file_rng(world_seed, file_id)
    if variant == "corrupt":
        return corrupt_bytes(fmt, rng), []
    if variant in ("zipbomb", "large"):
        raise ValueError("zip bombs and large files are produced by zip_bomb()/large_text_stream()")
    title = name.rsplit(".", 1)[0].replace("_", " ").replace("-", " ").title()
    doc, entries = build_document(rng, title, variant, profiles)
    return render(fmt, doc), entries
