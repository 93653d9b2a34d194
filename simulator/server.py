"""Run the simulator over real HTTP: uvicorn in a background thread (tests, `casb demo`), or
hypercorn over TLS offering HTTP/2 and HTTP/1.1 by ALPN (``start_tls_in_thread``).

Side effects: binds a loopback socket and starts a thread. Use as a context manager or call
`.stop()`; port 0 picks a free ephemeral port.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from simulator.app import ADMIN_PREFIX, COMPLIANCE_PREFIX, create_app
from simulator.tls import TlsFiles, make_loopback_tls
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


def _quiet_disconnects(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """A client that drops its TLS connection (a closed pool, a stop, a client that never
    answers the TLS close) is not an error."""
    if isinstance(context.get("exception"), ssl.SSLError | ConnectionError | TimeoutError):
        return
    loop.default_exception_handler(context)


class _ConnectionTrackingLoop(asyncio.SelectorEventLoop):
    """An event loop that remembers the transports of the connections its servers accept, so
    a stop can abort those a client keeps open (an idle TLS keep-alive connection otherwise
    holds the server's shutdown for the whole TLS close timeout)."""

    def __init__(self) -> None:
        super().__init__()
        self.transports: weakref.WeakSet[asyncio.BaseTransport] = weakref.WeakSet()
        self.set_exception_handler(_quiet_disconnects)

    async def create_server(self, protocol_factory: Any, *args: Any, **kwargs: Any) -> Any:
        def tracked() -> Any:
            protocol = protocol_factory()
            made = protocol.connection_made

            def connection_made(transport: asyncio.BaseTransport) -> None:
                self.transports.add(transport)
                made(transport)

            protocol.connection_made = connection_made
            return protocol

        return await super().create_server(tracked, *args, **kwargs)

    def abort_connections(self) -> None:
        for transport in list(self.transports):
            abort = getattr(transport, "abort", None)
            if abort is not None:
                abort()


class RunningSimulator:
    """A simulator serving `world` on `url`; `.admin_base`/`.compliance_base` are the API bases.

    Over TLS (``start_tls_in_thread``) the URL is ``https://`` and ``tls.ca_cert`` is the CA a
    client must trust to reach it.
    """

    def __init__(
        self,
        world: World,
        shutdown: Callable[[], None],
        thread: threading.Thread,
        host: str,
        port: int,
        tls: TlsFiles | None = None,
    ) -> None:
        self.world = world
        self.host = host
        self.port = port
        self.tls = tls
        self.url = f"{'https' if tls else 'http'}://{host}:{port}"
        self.admin_base = self.url + ADMIN_PREFIX
        self.compliance_base = self.url + COMPLIANCE_PREFIX
        self._shutdown = shutdown
        self._thread = thread

    def stats(self) -> dict[str, object]:
        return self.world.stats()

    def stop(self, timeout: float = 10.0) -> None:
        self._shutdown()
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


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def start_in_thread(
    world: World, host: str = "127.0.0.1", port: int = 0, timeout: float = 10.0
) -> RunningSimulator:
    """Start uvicorn serving `world` in a daemon thread and wait until it accepts connections."""
    sock = _bind(host, port)
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

    def shutdown() -> None:
        server.should_exit = True

    return RunningSimulator(world, shutdown, thread, host, bound_port)


def start_tls_in_thread(
    world: World,
    tls_dir: Path,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    alpn: tuple[str, ...] = ("h2", "http/1.1"),
    timeout: float = 10.0,
) -> RunningSimulator:
    """Serve `world` over TLS with hypercorn in a daemon thread: HTTP/2 and HTTP/1.1 offered by
    ALPN (``alpn``), a fresh loopback certificate written under ``tls_dir`` (see
    ``simulator.tls``). Returns once the server accepts connections."""
    # Imported here: hypercorn is a development dependency (tests, benches).
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    tls = make_loopback_tls(tls_dir)
    sock = _bind(host, port)
    bound_port = sock.getsockname()[1]
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.listen(1024)
    config = Config()
    config.bind = [f"fd://{sock.detach()}"]  # hypercorn owns the listening socket from here
    config.certfile, config.keyfile = str(tls.cert), str(tls.key)
    config.alpn_protocols = list(alpn)
    config.keep_alive_timeout = 30
    config.graceful_timeout = 1
    config.accesslog = None
    config.errorlog = None
    app: Any = create_app(world)  # an ASGI app; hypercorn's protocol types are narrower
    loop = _ConnectionTrackingLoop()
    started = threading.Event()
    stopping = asyncio.Event()
    failed: list[BaseException] = []

    async def trigger() -> None:
        # hypercorn awaits this once its listeners are up: that is "started".
        started.set()
        await stopping.wait()
        # Connections still open are cut (no request is worth waiting for in a stop).
        loop.abort_connections()

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(serve(app, config, shutdown_trigger=trigger))
        except BaseException as exc:  # reported to the starting thread
            failed.append(exc)
            started.set()
        finally:
            loop.close()

    thread = threading.Thread(target=run, name=f"simulator-tls:{bound_port}", daemon=True)
    thread.start()
    if not started.wait(timeout) or failed:
        raise RuntimeError(
            f"the TLS simulator did not start on {host}:{bound_port}"
            + (f": {failed[0]!r}" if failed else "")
        )

    def shutdown() -> None:
        with contextlib.suppress(RuntimeError):  # the loop already ended
            loop.call_soon_threadsafe(stopping.set)

    return RunningSimulator(world, shutdown, thread, host, bound_port, tls=tls)
