"""Reading zip members for the OOXML readers: a faster inflater than ``zipfile``'s.

``zipfile`` inflates with the stdlib ``zlib`` and costs several microseconds of Python per
member opened; a deck of a few hundred slides pays that per slide and per notes page. This
module reads a member's compressed bytes straight from the container (the entry was vetted
by ``open_zip``: its declared sizes are within the caps, it is not encrypted) and inflates
them with ISA-L (``isal``, binary wheels), else zlib-ng (``zlib-ng``), else the stdlib, into
at most the declared size. The checks are ``zipfile``'s: the local header's signature, the
inflated size equal to the declared one, the CRC-32. A failure raises
``zipfile.BadZipFile``, which the extractor reports as ``corrupt``, as before. A member
stored with another method (bzip2, lzma) is read through ``zipfile``.

``ExtractLimits.zip_inflate`` (the ``CASB_ZIP_INFLATE`` setting: ``isal``, ``zlib-ng``,
``zlib``) picks the inflater (benches compare them); the default is the first one installed.

:class:`Container` is a ``zipfile.ZipFile`` that reads a plain central directory (no
archive comment, no zip64 record, no extra fields, no prefix before the archive: what
Office and the Python OOXML writers produce) with one ``struct`` loop into
:class:`Entry` tuples, and makes ``zipfile``'s ``ZipInfo`` objects only when one of
``zipfile``'s own methods needs them (parsing the directory again with ``zipfile``'s code,
so those objects are exactly ``zipfile``'s). ``zipfile`` spends a few microseconds of
Python per entry; a deck has two or three entries per slide. Where the compiled loop
(``_native_zipdir``) is built, it makes the same entries with the same checks. Any other
directory is read by ``zipfile`` at once, with its errors.
"""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from operator import itemgetter
from types import ModuleType
from typing import IO, Any, BinaryIO, NamedTuple

try:  # the directory loop compiled (setup.py builds it where a C compiler is)
    from detectors.dlp.extract import _native_zipdir
except ImportError:  # pragma: no cover - exercised on hosts without a compiler
    _native_zipdir = None  # type: ignore[assignment]

__all__ = [
    "INFLATERS",
    "Container",
    "Entry",
    "PartReader",
    "entries",
    "inflater_name",
]

INFLATERS = ("isal", "zlib-ng", "zlib")
_LOCAL_HEADER = struct.Struct("<4s22xHH")
_LOCAL_SIGNATURE = b"PK\x03\x04"
_READ = 64 * 1024


_END = struct.Struct("<4s4H2LH")
_END_SIGNATURE = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
# a central directory record: signature, (made by), version needed, (reserved), flags,
# method, (time, date), CRC-32, sizes, name / extra / comment lengths, (disk, attributes),
# local header offset; 46 bytes
_CENTRAL = struct.Struct("<4s2xBxHH4xLLLHHH8xL")
_CENTRAL_SIGNATURE = b"PK\x01\x02"
_UTF8_NAME = 0x800


class Entry(NamedTuple):
    """What the readers need of a member, under ``ZipInfo``'s attribute names."""

    filename: str
    flag_bits: int
    compress_type: int
    CRC: int
    compress_size: int
    file_size: int
    header_offset: int


class _Unusual(Exception):
    """A directory the struct loop leaves to ``zipfile``."""


def _plain_directory(fp: BinaryIO) -> tuple[list[Entry], int]:
    """The entries of a plain central directory (see the module docstring), else
    :class:`_Unusual`. Every field is read as ``zipfile`` reads it."""
    fp.seek(0, os.SEEK_END)
    size = fp.tell()
    if size < _END.size + _LOCAL_HEADER.size:
        raise _Unusual
    fp.seek(size - _END.size)
    sig, disk, cd_disk, count, total, cd_size, cd_offset, comment = _END.unpack(fp.read(_END.size))
    if sig != _END_SIGNATURE or comment or disk or cd_disk or count != total:
        raise _Unusual
    if cd_offset + cd_size != size - _END.size or 0xFFFF in (count, total):
        raise _Unusual  # a prefix or a gap before the directory, or zip64 counts
    if size - _END.size >= 20:
        fp.seek(size - _END.size - 20)
        if fp.read(4) == _ZIP64_LOCATOR:
            raise _Unusual
    fp.seek(cd_offset)
    directory = fp.read(cd_size)
    if len(directory) != cd_size:
        raise _Unusual
    if _native_zipdir is not None:  # the loop below, in C
        plain = _native_zipdir.entries(directory, count, Entry, zipfile.MAX_EXTRACT_VERSION)
        if plain is None:
            raise _Unusual
        return plain, cd_offset
    out: list[Entry] = []
    append = out.append
    unpack = _CENTRAL.unpack_from
    record = _CENTRAL.size
    max_version = zipfile.MAX_EXTRACT_VERSION
    new = tuple.__new__  # Entry._make without its Python frame
    pos = 0
    while pos < cd_size:
        if cd_size - pos < record:
            raise _Unusual
        (
            sig,
            version,
            flags,
            method,
            crc,
            packed,
            unpacked,
            name_len,
            extra_len,
            comment_len,
            offset,
        ) = unpack(directory, pos)
        if sig != _CENTRAL_SIGNATURE or extra_len or version > max_version:
            raise _Unusual
        if packed == 0xFFFFFFFF or unpacked == 0xFFFFFFFF or offset == 0xFFFFFFFF:
            raise _Unusual  # zip64 sizes
        pos += record
        end = pos + name_len
        try:  # cp437 and ASCII agree on ASCII names (the usual), and ASCII decodes in C
            name = directory[pos:end].decode("utf-8" if flags & _UTF8_NAME else "ascii")
        except UnicodeDecodeError:
            raise _Unusual from None  # not UTF-8; or cp437 beyond ASCII: zipfile decodes it
        pos = end + comment_len
        append(new(Entry, (name, flags, method, crc, packed, unpacked, offset)))
    names = set(map(itemgetter(0), out))
    if len(names) != len(out) or "\x00" in "".join(names):
        raise _Unusual  # a repeated name or a NUL (zipfile cuts the name there)
    if pos != cd_size or len(out) != count:
        raise _Unusual
    return out, cd_offset


class Container(zipfile.ZipFile):
    """A read-only ``ZipFile`` whose plain central directory is :attr:`plain` (a list of
    :class:`Entry`, None when ``zipfile`` read an unusual directory at once); ``filelist``
    and ``NameToInfo`` are made by ``zipfile`` on first use."""

    plain: list[Entry] | None = None

    def _RealGetContents(self) -> None:
        if self.metadata_encoding is None and os.sep == "/" and self.mode == "r":
            try:
                plain, self.start_dir = _plain_directory(self.fp)  # type: ignore[arg-type]
            except (_Unusual, OSError, struct.error):
                pass
            else:
                self.plain = plain
                self._comment = b""
                del self.filelist, self.NameToInfo  # made by __getattr__ when asked for
                return
        super()._RealGetContents()  # type: ignore[misc]

    def __getattr__(self, name: str) -> Any:
        if name not in ("filelist", "NameToInfo") or self.plain is None:
            raise AttributeError(name)
        self.filelist = []
        self.NameToInfo = {}
        zipfile.ZipFile._RealGetContents(self)  # type: ignore[attr-defined]
        return getattr(self, name)


def entries(zf: zipfile.ZipFile) -> list[Entry] | list[zipfile.ZipInfo]:
    """The members in directory order, as plain tuples when ``zf`` is a :class:`Container`
    that read them so (no ``ZipInfo`` made), else ``zipfile``'s."""
    plain = zf.plain if isinstance(zf, Container) else None
    return plain if plain is not None else zf.infolist()


def _module(name: str) -> ModuleType | None:
    try:
        if name == "isal":
            from isal import isal_zlib

            return isal_zlib
        if name == "zlib-ng":
            from zlib_ng import zlib_ng

            return zlib_ng
    except ImportError:
        return None
    return zlib


def _chosen(inflate: str = "") -> tuple[str, ModuleType]:
    wanted = inflate.strip().lower()
    if wanted and wanted not in INFLATERS:
        raise ValueError(f"unknown inflater {wanted!r}; choose one of {INFLATERS}")
    for name in (wanted,) if wanted else INFLATERS:
        module = _module(name)
        if module is not None:
            return name, module
    return "zlib", zlib  # the one asked for is not installed


def inflater_name(inflate: str = "") -> str:
    """The inflater ``inflate`` (``ExtractLimits.zip_inflate``) selects: ``isal``,
    ``zlib-ng`` or ``zlib`` (empty: the fastest one installed)."""
    return _chosen(inflate)[0]


class _Member:
    """A deflated member read block by block (the ``read(n)`` that ``ooxml_fast.scan``
    needs), bounded by the declared size and checked against the CRC at its end."""

    def __init__(
        self, fp: BinaryIO, start: int, info: zipfile.ZipInfo | Entry, module: ModuleType
    ) -> None:
        self.fp = fp
        self.pos = start
        self.left_in = info.compress_size
        self.left_out = info.file_size
        self.expected_crc = info.CRC
        self.crc = 0
        self.crc32: Callable[[bytes, int], int] = module.crc32
        self.inflater: Any = module.decompressobj(-15)

    def _input(self) -> bytes:
        tail: bytes = self.inflater.unconsumed_tail
        if tail:
            return tail
        if self.left_in <= 0:
            return b""  # all given: the inflater may still hold output
        self.fp.seek(self.pos)
        data = self.fp.read(min(_READ, self.left_in))
        if not data:
            raise zipfile.BadZipFile("member data ends early")
        self.pos += len(data)
        self.left_in -= len(data)
        return data

    def read(self, size: int) -> bytes:
        out: list[bytes] = []
        want = min(size, self.left_out)
        while want > 0:
            piece: bytes = self.inflater.decompress(self._input(), want)
            if not piece and (self.left_in <= 0 or self.inflater.eof):
                raise zipfile.BadZipFile("member inflates to less than its declared size")
            out.append(piece)
            want -= len(piece)
            self.left_out -= len(piece)
            self.crc = self.crc32(piece, self.crc)
        if self.left_out == 0 and self.crc != self.expected_crc:
            raise zipfile.BadZipFile("member fails its CRC check")
        return b"".join(out)

    def __enter__(self) -> _Member:
        return self

    def __exit__(self, *_: object) -> None:
        return None


class PartReader:
    """Members of one vetted container, inflated by the chosen inflater."""

    def __init__(self, zf: zipfile.ZipFile, inflate: str = "") -> None:
        self.zf = zf
        self.fp: BinaryIO = zf.fp  # type: ignore[assignment]
        self.module = _chosen(inflate)[1]
        # an in-memory container is read by slicing (BytesIO.getvalue shares its bytes)
        self.data = self.fp.getvalue() if isinstance(self.fp, io.BytesIO) else None

    def _data_start(self, info: zipfile.ZipInfo | Entry) -> int:
        if self.data is not None:
            head = self.data[info.header_offset : info.header_offset + _LOCAL_HEADER.size]
        else:
            self.fp.seek(info.header_offset)
            head = self.fp.read(_LOCAL_HEADER.size)
        if len(head) < _LOCAL_HEADER.size:
            raise zipfile.BadZipFile("truncated local header")
        signature, name_len, extra_len = _LOCAL_HEADER.unpack(head)
        if signature != _LOCAL_SIGNATURE:
            raise zipfile.BadZipFile("bad local header signature")
        return info.header_offset + _LOCAL_HEADER.size + name_len + extra_len

    def read(self, info: zipfile.ZipInfo | Entry) -> bytes:
        """The whole member (for small parts: one call into the inflater)."""
        if info.compress_type not in (zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED):
            with self.zf.open(_info(self.zf, info)) as fh:
                return fh.read()
        start = self._data_start(info)
        if self.data is not None:
            raw = self.data[start : start + info.compress_size]
        else:
            self.fp.seek(start)
            raw = self.fp.read(info.compress_size)
        if len(raw) != info.compress_size:
            raise zipfile.BadZipFile("member data ends early")
        if info.compress_type == zipfile.ZIP_STORED:
            data = raw
        else:
            data = self.module.decompressobj(-15).decompress(raw, info.file_size + 1)
        if len(data) != info.file_size:
            raise zipfile.BadZipFile("member size differs from its declared size")
        if self.module.crc32(data) != info.CRC:
            raise zipfile.BadZipFile("member fails its CRC check")
        return bytes(data)

    def read_each(
        self, infos: Iterable[zipfile.ZipInfo | Entry], max_size: int
    ) -> Iterator[tuple[zipfile.ZipInfo | Entry, bytes | None]]:
        """Each member of ``infos`` in order, with what :meth:`read` gives for it when it
        inflates to at most ``max_size`` bytes, else None (the caller streams it). The
        checks are :meth:`read`'s, made in one frame: a deck reads hundreds of small parts,
        and a call per part costs more than the checks."""
        data = self.data
        if data is None:
            for info in infos:
                yield info, self.read(info) if info.file_size <= max_size else None
            return
        head_size = _LOCAL_HEADER.size
        unpack = _LOCAL_HEADER.unpack_from
        inflater = self.module.decompressobj
        crc32 = self.module.crc32
        deflated = zipfile.ZIP_DEFLATED
        for info in infos:
            if info.file_size > max_size:
                yield info, None
                continue
            if info.compress_type != deflated:
                yield info, self.read(info)  # stored, or read through zipfile
                continue
            offset = info.header_offset
            if offset < 0 or len(data) - offset < head_size:
                raise zipfile.BadZipFile("truncated local header")
            signature, name_len, extra_len = unpack(data, offset)
            if signature != _LOCAL_SIGNATURE:
                raise zipfile.BadZipFile("bad local header signature")
            start = offset + head_size + name_len + extra_len
            size = info.compress_size
            raw = data[start : start + size]
            if len(raw) != size:
                raise zipfile.BadZipFile("member data ends early")
            body = inflater(-15).decompress(raw, info.file_size + 1)
            if len(body) != info.file_size:
                raise zipfile.BadZipFile("member size differs from its declared size")
            if crc32(body) != info.CRC:
                raise zipfile.BadZipFile("member fails its CRC check")
            yield info, bytes(body)

    def open(self, info: zipfile.ZipInfo | Entry) -> IO[bytes]:
        """The member as a stream read block by block."""
        if info.compress_type != zipfile.ZIP_DEFLATED:
            return self.zf.open(_info(self.zf, info))
        return _Member(self.fp, self._data_start(info), info, self.module)  # type: ignore[return-value]


def _info(zf: zipfile.ZipFile, info: zipfile.ZipInfo | Entry) -> zipfile.ZipInfo:
    """``zipfile``'s own entry for ``info`` (names are unique in a plain directory)."""
    return zf.getinfo(info.filename) if isinstance(info, Entry) else info
