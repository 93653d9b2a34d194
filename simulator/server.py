"""Run the simulator over real HTTP: uvicorn in a background thread (tests, `casb demo`).

Side effects: binds a loopback socket and starts a thread. Use as a context manager or call
`.stop()`; port 0 picks a free ephemeral port.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from simulator.app import ADMIN_PREFIX, COMPLIANCE_PREFIX, create_app
from simulator.world import World


class _CoalescingTransport:
    """Joins the writes of one event-loop tick into a single send.

    uvicorn writes the status line + headers and the body separately; where TCP_NODELAY is not
    honoured (some sandboxes), the second segment then waits for the peer's delayed ACK and
    every request costs ~40 ms. One write per response avoids that.
    """

    def __init__(self, transport: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._buffer: list[bytes] = []
        self._scheduled = False

    def write(self, data: bytes) -> None:
        if not data:
            return
        self._buffer.append(bytes(data))
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        if self._buffer:
            data = b"".join(self._buffer)
            self._buffer.clear()
            if not self._transport.is_closing():
                self._transport.write(data)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class _H11CoalescingProtocol(H11Protocol):
    def connection_made(self, transport: Any) -> None:
        wrapped: Any = _CoalescingTransport(transport, asyncio.get_running_loop())
        super().connection_made(wrapped)


class RunningSimulator:
    """A simulator serving `world` on `url`; `.admin_base`/`.compliance_base` are the API bases."""

    def __init__(
        self, world: World, server: uvicorn.Server, thread: threading.Thread, host: str, port: int
    ) -> None:
        self.world = world
        self.host = host
        self.port = port
        self.url = f"http://{host}:{port}"
        self.admin_base = self.url + ADMIN_PREFIX
        self.compliance_base = self.url + COMPLIANCE_PREFIX
        self._server = server
        self._thread = thread

    def stats(self) -> dict[str, object]:
        return self.world.stats()

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> RunningSimulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"RunningSimulator(url={self.url!r}, tenants={list(self.world.tenants)})"


def start_in_thread(
    world: World, host: str = "127.0.0.1", port: int = 0, timeout: float = 10.0
) -> RunningSimulator:
    """Start uvicorn serving `world` in a daemon thread and wait until it accepts connections."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(world),
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_keep_alive=30,
        http=_H11CoalescingProtocol,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"simulator:{bound_port}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(
                "the simulator server thread exited during startup; see its log above"
            )
        if time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(
                f"the simulator did not start within {timeout}s on {host}:{bound_port}"
            )
        time.sleep(0.01)
    return RunningSimulator(world, server, thread, host, bound_port)
