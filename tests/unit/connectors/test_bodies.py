"""BoundedDecoder: decoded output never passes the cap, whatever the compression ratio.
``drain_and_close``: an unwanted small body is read so its connection is reused."""

from __future__ import annotations

import gzip
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from connectors.bodies import BodyTooLarge, BoundedDecoder, UnsupportedEncoding, drain_and_close


def feed_all(decoder: BoundedDecoder, data: bytes, chunk: int = 4096) -> bytes:
    out = b"".join(decoder.feed(data[i : i + chunk]) for i in range(0, len(data), chunk))
    return out + decoder.flush()


@pytest.mark.parametrize("encoding", ["gzip", "x-gzip", "deflate", "identity", None])
def test_round_trip_under_the_cap(encoding: str | None) -> None:
    body = b"hello, world\n" * 1000
    if encoding in ("gzip", "x-gzip"):
        wire = gzip.compress(body)
    elif encoding == "deflate":
        wire = zlib.compress(body)
    else:
        wire = body
    assert feed_all(BoundedDecoder(encoding, len(body)), wire) == body


def test_raw_deflate_and_concatenated_gzip_members() -> None:
    body = b"abc" * 100
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw = compressor.compress(body) + compressor.flush()
    assert feed_all(BoundedDecoder("deflate", 1000), raw) == body
    two = gzip.compress(b"first ") + gzip.compress(b"second")
    assert feed_all(BoundedDecoder("gzip", 100), two) == b"first second"


def test_a_bomb_stops_one_byte_past_the_cap() -> None:
    wire = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)  # ~64 KB
    decoder = BoundedDecoder("gzip", 1024 * 1024)
    with pytest.raises(BodyTooLarge) as caught:
        feed_all(decoder, wire, chunk=len(wire))  # one chunk: the whole bomb at once
    assert caught.value.size == 1024 * 1024 + 1
    assert decoder.produced == 1024 * 1024 + 1


@pytest.mark.parametrize("encoding", ["br", "zstd", "gzip, gzip", "compress"])
def test_unsupported_encodings_are_refused(encoding: str) -> None:
    with pytest.raises(UnsupportedEncoding):
        BoundedDecoder(encoding, 100)


def test_a_corrupt_body_raises() -> None:
    with pytest.raises(zlib.error):
        feed_all(BoundedDecoder("gzip", 100), b"not gzip at all")


class _KeepAlive(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive: a 307 with a small body; records each request's client port."""

    protocol_version = "HTTP/1.1"
    ports: list[int] = []

    def do_GET(self) -> None:
        self.ports.append(self.client_address[1])
        body = b"redirecting" * 20
        self.send_response(307)
        self.send_header("Location", "/elsewhere")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        return None


@pytest.mark.parametrize("drain", [True, False])
def test_a_drained_redirect_keeps_its_connection(drain: bool) -> None:
    _KeepAlive.ports = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _KeepAlive)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/file"
    try:
        with httpx.Client() as client:
            for _ in range(3):
                response = client.send(client.build_request("GET", url), stream=True)
                assert response.status_code == 307
                if drain:
                    drain_and_close(response)
                else:
                    response.close()
                assert response.is_closed
    finally:
        server.shutdown()
        server.server_close()
    # Drained: one connection serves every request; closed unread: one connection each.
    assert len(set(_KeepAlive.ports)) == (1 if drain else 3)
