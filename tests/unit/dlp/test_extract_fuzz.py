"""Fuzzing every extractor and the custom-pattern path: random bytes, truncated or mutated
valid files, mutated XML inside valid zips, deep nesting, hostile regexes.

The contract under test: ``extract_text`` yields UTF-8 chunks or raises ``SkipFile``, nothing
else; a custom pattern is refused with ``ProfileError`` or compiles and scans. Each example
runs under a memory budget (Python allocations, via tracemalloc) and a time budget (the
extraction clock and the matcher deadline, which end in ``truncated``, never a hang)."""

from __future__ import annotations

import io
import os
import time
import tracemalloc
import zipfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detectors.dlp.extract import ExtractLimits, ExtractReport, SkipFile, extract_text
from detectors.dlp.matcher import compile_policy
from detectors.dlp.profiles import ProfileError, custom_profile
from tests.unit.dlp import fixtures

MEMORY_BUDGET = 96 * 1024 * 1024
LIMITS = ExtractLimits(max_seconds=20.0, max_input_bytes=4 * 1024 * 1024, chunk_size=4096)
FUZZ = settings(
    max_examples=int(os.environ.get("CASB_FUZZ_EXAMPLES", "60")),  # raise for a campaign
    deadline=None,  # bounded by max_examples, input sizes and the extraction time budget
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

VALID = {
    "docx": fixtures.docx(["Card 4539 1488 0343 6467 here.", "two"], header="h", table=[["a"]]),
    "xlsx": fixtures.xlsx([["name", "ssn"], ["Ada", "536-22-7789"], ["n", 42]]),
    "pptx": fixtures.pptx([["one"], ["two", "three"]], notes=["note"]),
    "pdf": fixtures.pdf(["Page one SSN 536-22-7789", "Page two"]),
    "txt": "plain text with SSN 536-22-7789 and caf\u00e9\n".encode() * 20,
}
MAGIC = [
    b"PK\x03\x04",
    b"%PDF-1.7\n",
    b"\xff\xfe",
    b"\xfe\xff",
    b"\xef\xbb\xbf",
    b"\xd0\xcf\x11\xe0",
]
NAMES = ["a.txt", "a.docx", "a.xlsx", "a.pptx", "a.pdf", "a.csv", "download", "a.bin"]


def _extract(name: str, data: bytes) -> None:
    """Run one extraction under the memory budget; only SkipFile may escape."""
    tracemalloc.start()
    try:
        report = ExtractReport()
        for chunk in extract_text(name, io.BytesIO(data), LIMITS, report):
            assert isinstance(chunk, bytes)
            chunk.decode("utf-8")  # always valid UTF-8
        assert report.bytes_out <= LIMITS.max_output_bytes
        if report.truncated:
            assert report.truncated_reason
    except SkipFile as skip:
        assert skip.reason in {"corrupt", "encrypted", "too_large", "zip_bomb", "unsupported_type"}
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < MEMORY_BUDGET, f"{peak} bytes allocated"


def _mutate(data: st.DataObject, raw: bytes) -> bytes:
    """Truncate, flip a few bytes, or splice random bytes in."""
    mode = data.draw(st.sampled_from(["truncate", "flip", "splice"]))
    if not raw:
        return raw
    if mode == "truncate":
        return raw[: data.draw(st.integers(min_value=0, max_value=len(raw)))]
    out = bytearray(raw)
    if mode == "flip":
        for _ in range(data.draw(st.integers(min_value=1, max_value=16))):
            pos = data.draw(st.integers(min_value=0, max_value=len(out) - 1))
            out[pos] = data.draw(st.integers(min_value=0, max_value=255))
        return bytes(out)
    pos = data.draw(st.integers(min_value=0, max_value=len(out)))
    return bytes(out[:pos]) + data.draw(st.binary(max_size=64)) + bytes(out[pos:])


@FUZZ
@given(name=st.sampled_from(NAMES), data=st.binary(max_size=4096))
def test_random_bytes(name: str, data: bytes) -> None:
    _extract(name, data)


@FUZZ
@given(name=st.sampled_from(NAMES), prefix=st.sampled_from(MAGIC), data=st.binary(max_size=4096))
def test_random_bytes_behind_a_magic_number(name: str, prefix: bytes, data: bytes) -> None:
    _extract(name, prefix + data)


@FUZZ
@given(kind=st.sampled_from(sorted(VALID)), data=st.data())
def test_mutated_valid_files(kind: str, data: st.DataObject) -> None:
    _extract(f"file.{kind}", _mutate(data, VALID[kind]))


def _xml_parts(kind: str) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(VALID[kind])) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


@FUZZ
@given(kind=st.sampled_from(["docx", "xlsx", "pptx"]), data=st.data())
def test_mutated_xml_inside_a_valid_zip(kind: str, data: st.DataObject) -> None:
    """Mutations that get past the zip layer (CRCs are right) into the XML parser."""
    parts = _xml_parts(kind)
    target = data.draw(st.sampled_from(sorted(parts)))
    parts[target] = _mutate(data, parts[target])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, body in parts.items():
            zf.writestr(name, body)
    _extract(f"file.{kind}", buf.getvalue())


@FUZZ
@given(
    kind=st.sampled_from(["docx", "xlsx", "pptx"]),
    depth=st.integers(min_value=1, max_value=50_000),
    tag=st.sampled_from(["w:p", "w:t", "si", "t", "c", "v", "row", "a:p", "x"]),
    closed=st.booleans(),
)
def test_deep_nesting_in_every_part(kind: str, depth: int, tag: str, closed: bool) -> None:
    parts = _xml_parts(kind)
    nest = (f"<{tag}>" * depth + "secret" + (f"</{tag}>" * depth if closed else "")).encode()
    for name in parts:
        if name.endswith(".xml") and b"<" in parts[name]:
            body = parts[name]
            cut = body.rfind(b"</")
            parts[name] = body[:cut] + nest + body[cut:]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, body in parts.items():
            zf.writestr(name, body)
    _extract(f"file.{kind}", buf.getvalue())


@FUZZ
@given(
    head=st.binary(max_size=512),
    encoding=st.sampled_from(["utf-16-le", "utf-16-be", "utf-32", "cp1252", "utf-8"]),
    text=st.text(max_size=300),
    tail=st.binary(max_size=512),
)
def test_mixed_encodings_in_text_files(head: bytes, encoding: str, text: str, tail: bytes) -> None:
    _extract("notes.txt", head + text.encode(encoding, "replace") + tail)


# -- custom patterns --------------------------------------------------------------------------

atoms = st.sampled_from(
    [
        "a",
        "[a-z]",
        "[0-9]",
        "\\d",
        "\\w",
        "\\s",
        ".",
        "[^ ]",
        "#",
        "-",
        "x",
        "(?:ab|a)",
        "[A-Fa-f0-9]",
    ]
)
quantifiers = st.sampled_from(["", "", "?", "{1,3}", "{2}", "{1,200}", "{0,50}", "*", "+"])
patterns = st.lists(st.tuples(atoms, quantifiers), min_size=1, max_size=6).map(
    lambda parts: "".join(a + q for a, q in parts)
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pattern=patterns | st.text(max_size=40), text=st.binary(max_size=1024))
def test_custom_patterns_are_refused_or_scan_within_the_deadline(pattern: str, text: bytes) -> None:
    try:
        profile = custom_profile("fuzz", [{"name": "p", "pattern": pattern}])
    except ProfileError:
        return
    stream = compile_policy([profile]).open_stream(deadline=time.monotonic() + 30.0)
    stream.feed(text + b"a" * 1000 + b"#")
    result = stream.close()
    # no deadline reached on 2 KiB: every accepted pattern runs in linear time
    assert result.truncated is None
