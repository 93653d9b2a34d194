"""The zip directory reader of the OOXML extractor (``zipparts.Container``): on a plain
directory it lists exactly what ``zipfile`` lists without making ``ZipInfo`` objects, and
``zipfile``'s own objects appear when asked for; any other directory is ``zipfile``'s,
errors included. Every test runs on the compiled directory loop and the pure-Python one
(``zipdir_reader``)."""

from __future__ import annotations

import io
import random
import struct
import zipfile

import pytest

from detectors.dlp.extract import zipparts
from detectors.dlp.extract.zipparts import Container, Entry, PartReader, entries
from tests.unit.dlp import fixtures

pytestmark = pytest.mark.usefixtures("zipdir_reader")


def _book() -> bytes:
    return fixtures.xlsx([["name", "ssn"], ["Ann", "123-45-6789"]])


def _documents() -> list[bytes]:
    return [
        _book(),
        fixtures.pptx([["one", "two"], ["three"]], notes=["n1", "n2"]),
        fixtures.docx(["alpha", "beta"], header="head"),
    ]


def _fields(info: zipfile.ZipInfo | Entry) -> tuple[object, ...]:
    return tuple(getattr(info, field) for field in Entry._fields)


@pytest.mark.parametrize("data", _documents())
def test_a_plain_directory_lists_what_zipfile_lists(data: bytes) -> None:
    stock = zipfile.ZipFile(io.BytesIO(data))
    ours = Container(io.BytesIO(data))
    assert ours.plain is not None  # read by the struct loop: no ZipInfo made yet
    assert "filelist" not in vars(ours)
    assert [tuple(entry) for entry in ours.plain] == [_fields(i) for i in stock.infolist()]
    assert entries(ours) == ours.plain
    # zipfile's objects, made on demand, are zipfile's
    assert [repr(i) for i in ours.infolist()] == [repr(i) for i in stock.infolist()]
    assert ours.namelist() == stock.namelist()
    assert (ours.start_dir, ours.comment) == (stock.start_dir, stock.comment)
    for name in stock.namelist():
        assert ours.read(name) == stock.read(name)
        assert PartReader(ours).read(ours.plain[stock.namelist().index(name)]) == stock.read(name)


def _rewrite(data: bytes, how: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(buf, "w") as dst:
        for info in src.infolist():
            body = src.read(info)
            if how == "extra":
                info.extra = struct.pack("<HH", 0xCAFE, 2) + b"ok"
            dst.writestr(info, body, compress_type=zipfile.ZIP_DEFLATED)
        if how == "comment":
            dst.comment = b"written by hand"
        if how == "repeated":
            with pytest.warns(UserWarning, match="Duplicate name"):
                dst.writestr("xl/worksheets/sheet1.xml", "<worksheet/>")
        if how == "cp437":
            dst.writestr("cafX.xml", "x")
    out = buf.getvalue()
    if how == "cp437":  # a name in the historical encoding (no UTF-8 flag), beyond ASCII
        out = out.replace(b"cafX", b"caf\x82")
    if how == "prefix":
        out = b"#!/bin/sh\n" * 3 + out
    return out


@pytest.mark.parametrize("how", ["extra", "comment", "repeated", "prefix", "cp437"])
def test_any_other_directory_is_read_by_zipfile(how: str) -> None:
    data = _rewrite(_book(), how)
    stock = zipfile.ZipFile(io.BytesIO(data))
    ours = Container(io.BytesIO(data))
    assert ours.plain is None
    assert [repr(i) for i in ours.infolist()] == [repr(i) for i in stock.infolist()]
    assert [_fields(i) for i in entries(ours)] == [_fields(i) for i in stock.infolist()]


def test_damaged_directories_fail_as_zipfile_fails() -> None:
    """Random bytes flipped in the central directory and end record: the container opens
    exactly when zipfile opens the file, with the same members."""
    data = _book()
    cd = data.find(b"PK\x01\x02")
    rng = random.Random(7)
    for _ in range(300):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(cd, len(data))
            damaged[at] = rng.randrange(256)
        blob = bytes(damaged)
        try:
            stock = zipfile.ZipFile(io.BytesIO(blob))
            want: object = [repr(i) for i in stock.infolist()]
        except Exception as exc:
            want = type(exc)
        try:
            ours = Container(io.BytesIO(blob))
            got: object = [repr(i) for i in ours.infolist()]
        except Exception as exc:
            got = type(exc)
        assert got == want


def _python_loop(blob: bytes) -> object:
    saved = zipparts._native_zipdir
    zipparts._native_zipdir = None  # type: ignore[assignment]
    try:
        return _listing(blob)
    finally:
        zipparts._native_zipdir = saved


def _listing(blob: bytes) -> object:
    try:
        ours = Container(io.BytesIO(blob))
    except Exception as exc:
        return type(exc)
    return None if ours.plain is None else [tuple(e) for e in ours.plain]


@pytest.mark.parametrize("seed", range(4))
def test_the_compiled_loop_reads_what_the_python_loop_reads(seed: int) -> None:
    """Damaged directories of each kind of document (bytes flipped anywhere in the records,
    names made non-ASCII, NUL or repeated, sizes set to the zip64 marker): the compiled loop
    lists the same entries, or finds the directory unusual, where the Python loop does."""
    rng = random.Random(seed)
    for data in _documents():
        cd = data.find(b"PK\x01\x02")
        assert _listing(data) == _python_loop(data) != []
        for _ in range(150):
            damaged = bytearray(data)
            how = rng.choice(["flip", "name", "zip64"])
            at = rng.randrange(cd, len(data))
            if how == "flip":
                damaged[at] = rng.randrange(256)
            elif how == "name":
                name = data.find(b"ppt/", cd) if b"ppt/" in data[cd:] else data.find(b"xl/", cd)
                if name < 0:
                    name = data.find(b"word/", cd)
                damaged[name + rng.randrange(3)] = rng.choice([0, 0x82, 0xC3, ord("/")])
            else:
                record = data.find(b"PK\x01\x02", at - 46 if at - 46 > cd else cd)
                if record > 0:
                    field = rng.choice([20, 24, 42])
                    damaged[record + field : record + field + 4] = b"\xff\xff\xff\xff"
            blob = bytes(damaged)
            assert _listing(blob) == _python_loop(blob)
