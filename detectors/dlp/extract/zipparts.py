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
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from collections.abc import Callable
from types import ModuleType
from typing import IO, Any, BinaryIO

__all__ = ["INFLATERS", "PartReader", "inflater_name"]

INFLATERS = ("isal", "zlib-ng", "zlib")
_LOCAL_HEADER = struct.Struct("<4s22xHH")
_LOCAL_SIGNATURE = b"PK\x03\x04"
_READ = 64 * 1024


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

    def __init__(self, fp: BinaryIO, start: int, info: zipfile.ZipInfo, module: ModuleType) -> None:
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

    def _data_start(self, info: zipfile.ZipInfo) -> int:
        self.fp.seek(info.header_offset)
        head = self.fp.read(_LOCAL_HEADER.size)
        if len(head) < _LOCAL_HEADER.size:
            raise zipfile.BadZipFile("truncated local header")
        signature, name_len, extra_len = _LOCAL_HEADER.unpack(head)
        if signature != _LOCAL_SIGNATURE:
            raise zipfile.BadZipFile("bad local header signature")
        return info.header_offset + _LOCAL_HEADER.size + name_len + extra_len

    def read(self, info: zipfile.ZipInfo) -> bytes:
        """The whole member (for small parts: one call into the inflater)."""
        if info.compress_type not in (zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED):
            with self.zf.open(info) as fh:
                return fh.read()
        self.fp.seek(self._data_start(info))
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

    def open(self, info: zipfile.ZipInfo) -> IO[bytes]:
        """The member as a stream read block by block."""
        if info.compress_type != zipfile.ZIP_DEFLATED:
            return self.zf.open(info)
        return _Member(self.fp, self._data_start(info), info, self.module)  # type: ignore[return-value]
