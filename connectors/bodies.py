"""Reading a response body under a byte cap, decompressing it with a bounded output.

httpx decodes ``Content-Encoding`` before a caller sees a byte, so a server that sends a
small gzip body can make a client allocate gigabytes before any size check runs. Here the
raw bytes are read (``Response.iter_raw``) and decoded by ``BoundedDecoder``, which never
produces more than the cap plus one byte: the cap applies to what is decoded, not to
what crossed the wire.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import httpx


class BodyTooLarge(Exception):
    """The decoded body passed its cap (``size`` is how far it got, at most cap + 1)."""

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"body over {limit} bytes")


class UnsupportedEncoding(Exception):
    """A ``Content-Encoding`` this reader does not decode (the body is not read)."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding[:40]
        super().__init__(f"unsupported content encoding {self.encoding!r}")


class BoundedDecoder:
    """Incremental ``identity`` / ``gzip`` / ``deflate`` decoder with an output cap."""

    def __init__(self, content_encoding: str | None, limit: int) -> None:
        codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        if len(codings) > 1:
            raise UnsupportedEncoding(",".join(codings))
        self.coding = codings[0] if codings else "identity"
        if self.coding not in ("identity", "gzip", "x-gzip", "deflate"):
            raise UnsupportedEncoding(self.coding)
        self.limit = limit
        self.produced = 0
        self._zlib: zlib._Decompress | None = None
        self._deflate_first = self.coding == "deflate"
        if self.coding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self.coding == "deflate":
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS)

    def _count(self, data: bytes) -> bytes:
        self.produced += len(data)
        if self.produced > self.limit:
            raise BodyTooLarge(self.produced, self.limit)
        return data

    def feed(self, raw: bytes) -> bytes:
        """Decode one raw chunk; raises ``BodyTooLarge`` once the output passes the cap."""
        if self._zlib is None:
            return self._count(raw)
        out: list[bytes] = []
        data = raw
        while data:
            room = self.limit - self.produced + 1
            try:
                piece = self._zlib.decompress(data, room)
            except zlib.error:
                if self._deflate_first and not self.produced:
                    # "deflate" bodies come both zlib-wrapped and raw: retry as raw.
                    self._deflate_first = False
                    self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise
            self._deflate_first = False
            out.append(self._count(piece))
            if self._zlib.unconsumed_tail:
                data = self._zlib.unconsumed_tail
            elif self._zlib.eof and self._zlib.unused_data and self.coding != "deflate":
                data = self._zlib.unused_data  # the next gzip member
                self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
            else:
                data = b""
        return b"".join(out)

    def flush(self) -> bytes:
        if self._zlib is None:
            return b""
        return self._count(self._zlib.flush(self.limit - self.produced + 1))


def iter_capped(response: httpx.Response, limit: int) -> Iterator[bytes]:
    """The decoded body, chunk by chunk as it arrives, never more than ``limit`` bytes.

    Raises ``BodyTooLarge``, ``UnsupportedEncoding``, ``zlib.error`` (a corrupt body) or
    the transport's ``httpx.RequestError``.
    """
    loaded = getattr(response, "_content", None)
    if loaded is not None:
        # Already in memory (a response built from bytes, e.g. by a mock transport).
        if len(loaded) > limit:
            raise BodyTooLarge(len(loaded), limit)
        if loaded:
            yield loaded
        return
    decoder = BoundedDecoder(response.headers.get("content-encoding"), limit)
    for raw in response.iter_raw():
        decoded = decoder.feed(raw)
        if decoded:
            yield decoded
    tail = decoder.flush()
    if tail:
        yield tail


def read_capped(response: httpx.Response, limit: int, *, truncate: bool = False) -> bytes:
    """The whole decoded body (at most ``limit`` bytes), closing the response.

    With ``truncate`` a longer body is cut at ``limit`` (error bodies: only their start is
    ever shown) and an undecodable one reads as empty; without it those raise.
    """
    parts: list[bytes] = []
    try:
        for chunk in iter_capped(response, limit):
            parts.append(chunk)
    except (BodyTooLarge, UnsupportedEncoding, zlib.error):
        if not truncate:
            raise
    finally:
        response.close()
    return b"".join(parts)[:limit]


#: A body this small is read to its end before an unread response is closed.
DRAIN_LIMIT = 64 * 1024


def drain_and_close(response: httpx.Response, limit: int = DRAIN_LIMIT) -> None:
    """Close a response whose body nobody wants (a redirect, a 404), keeping its connection.

    An HTTP/1.1 connection goes back to the pool only once its response was read to the end;
    closing it unread closes the socket, and the next request opens a new one. A declared
    body of at most ``limit`` bytes is read (raw, never decoded) and dropped; a longer or
    unknown-length one, or any read error, just closes.
    """
    try:
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) <= limit:
            for _ in response.iter_raw():
                pass
    except (httpx.HTTPError, httpx.StreamError):
        pass
    finally:
        response.close()
