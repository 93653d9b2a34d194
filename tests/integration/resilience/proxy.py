"""A small TCP proxy the resilience tests put between workers and the real PostgreSQL.

Other test runs share the PostgreSQL server on this machine, so "the database goes away" is
simulated here instead of by stopping it: ``cut()`` severs every proxied connection and
makes the proxy close each new connection as soon as it is accepted (the client sees the
server hang up, as during a restart); ``restore()`` lets connections through again.
``refused`` counts the connection attempts made while cut, so a test can prove that the
workers kept trying during the outage.

Side effects: binds a loopback port and runs daemon threads (one accept loop, two pumps per
connection). Nothing is logged; bytes are forwarded as they are.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType


class TcpProxy:
    """Forward ``127.0.0.1:<port>`` to ``upstream``; switchable on and off at run time."""

    def __init__(self, upstream_host: str, upstream_port: int, host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self._listener = socket.create_server((host, 0))
        self._listener.settimeout(0.1)
        self.host = host
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._up = True
        self._closed = threading.Event()
        self.accepted = 0
        self.refused = 0
        self.severed = 0
        self._thread = threading.Thread(
            target=self._accept_loop, name=f"tcp-proxy:{self.port}", daemon=True
        )
        self._thread.start()

    # ------------------------------------------------------------------ control

    @property
    def is_up(self) -> bool:
        with self._lock:
            return self._up

    def cut(self) -> int:
        """Sever every open connection and refuse new ones; returns how many were severed."""
        with self._lock:
            self._up = False
            pairs = list(self._pairs)
            self._pairs.clear()
            self.severed += len(pairs)
        for pair in pairs:
            _close_pair(pair)
        return len(pairs)

    def restore(self) -> None:
        with self._lock:
            self._up = True

    def open_connections(self) -> int:
        with self._lock:
            return len(self._pairs)

    def close(self) -> None:
        self._closed.set()
        self.cut()
        self._thread.join(5)
        self._listener.close()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ plumbing

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            if not self.is_up:
                with self._lock:
                    self.refused += 1
                _hang_up(client)
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _hang_up(client)
                continue
            pair = (client, upstream)
            with self._lock:
                if not self._up:  # cut while we were connecting
                    self.refused += 1
                    _close_pair(pair)
                    continue
                self._pairs.add(pair)
                self.accepted += 1
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(
                    target=self._pump, args=(src, dst, pair), name="tcp-proxy-pump", daemon=True
                ).start()

    def _pump(
        self,
        src: socket.socket,
        dst: socket.socket,
        pair: tuple[socket.socket, socket.socket],
    ) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._pairs.discard(pair)
            _close_pair(pair)


def _hang_up(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def _close_pair(pair: tuple[socket.socket, socket.socket]) -> None:
    for sock in pair:
        _hang_up(sock)
