"""Loopback servers that behave like a compromised API / storage host, and a trap.

``Trap`` is the "internal service" or "cloud metadata" target: a TCP listener on its own
loopback port, never on the allowed list, that records every connection it accepts (a
TLS ClientHello counts as much as an HTTP request). ``HostileServer`` answers each path
with a scripted response: a redirect anywhere, a gzip bomb, a body trickled a byte at a
time, an oversized JSON page.
"""

from __future__ import annotations

import socket
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TRAP_BODY = b"internal metadata secret!!"


class Trap:
    """Accepts connections on 127.0.0.1:<port> and records them; answers nothing useful."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = int(self.sock.getsockname()[1])
        self.connections: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(1.0)
                try:
                    first = conn.recv(4096)
                except OSError:
                    first = b""
                self.connections.append(first)
                if first.startswith(b"GET"):
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                        % (len(TRAP_BODY), TRAP_BODY)
                    )

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        self._thread.join(2)


@dataclass
class Script:
    """What a path answers: status, headers, and a body (bytes, or a writer function)."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    writer: Callable[[Any], None] | None = None


class HostileServer:
    """An HTTP/1.1 server on 127.0.0.1 answering scripted responses by path."""

    def __init__(self) -> None:
        self.routes: dict[str, Script] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                server.requests.append((path, dict(self.headers.items())))
                script = server.routes.get(path) or Script(404, body=b'{"error": "no route"}')
                self.send_response(script.status)
                for name, value in script.headers.items():
                    self.send_header(name, value)
                if script.writer is None:
                    self.send_header("Content-Length", str(len(script.body)))
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    if script.writer is not None:
                        script.writer(self.wfile)
                    else:
                        self.wfile.write(script.body)
                except OSError:
                    pass  # the client gave up: what the caps are for
                self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self.base = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def redirect(self, path: str, location: str, status: int = 307) -> None:
        self.routes[path] = Script(status, {"Location": location})

    def paths(self) -> list[str]:
        return [p for p, _ in self.requests]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(2)


def gzip_bomb(decoded_bytes: int) -> bytes:
    """A gzip body of ``decoded_bytes`` zeros (about a thousandth of that on the wire),
    compressed block by block so building it never holds the decoded size in memory."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"\0" * (1024 * 1024)
    parts: list[bytes] = []
    remaining = decoded_bytes
    while remaining > 0:
        n = min(remaining, len(block))
        parts.append(compressor.compress(block[:n]))
        remaining -= n
    parts.append(compressor.flush())
    return b"".join(parts)


def trickle(body: bytes, every: float) -> Callable[[Any], None]:
    """A writer that sends ``body`` one byte every ``every`` seconds (chunked encoding off:
    the caller sets Content-Length)."""

    def write(wfile: Any) -> None:
        for byte in body:
            wfile.write(bytes([byte]))
            wfile.flush()
            time.sleep(every)

    return write
