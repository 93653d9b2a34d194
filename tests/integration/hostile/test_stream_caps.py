"""Bodies under caps: gzip bombs (file, JSON page, error body) and trickled downloads.

Memory is measured with ``tracemalloc`` around the call (peak of Python allocations,
which is where decoded bytes live); the trickle tests assert how much of the body was
read when the download gave up, never how long it took.
"""

from __future__ import annotations

import io
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from connectors.access import ClientOptions, TenantAccess
from connectors.admin import AdminClient
from connectors.compliance import ComplianceClient
from connectors.errors import DownloadTooSlow, FileSkipped, MalformedResponseError, UpstreamError
from connectors.ratelimit import LocalRateBudget
from tests.integration.hostile.servers import HostileServer, Script, gzip_bomb

WORKSPACE = "ws-1"
FILE_ROUTE = f"/v1/compliance/workspaces/{WORKSPACE}/gpt_files/file-1"
MiB = 1024 * 1024
BOMB = gzip_bomb(256 * MiB)  # ~250 KB on the wire


@pytest.fixture
def api() -> Iterator[HostileServer]:
    server = HostileServer()
    yield server
    server.close()


def options(api: HostileServer, **overrides: Any) -> ClientOptions:
    base: dict[str, Any] = {
        "max_attempts": 1,
        "backoff_base": 0.01,
        "backoff_max": 0.02,
        "storage_allowed_hosts": (f"127.0.0.1:{api.port}",),
    }
    base.update(overrides)
    return ClientOptions(**base)


def compliance(api: HostileServer, **overrides: Any) -> ComplianceClient:
    access = TenantAccess(
        tenant_key="hostile",
        workspace_id=WORKSPACE,
        compliance_api_base=f"{api.base}/v1",
        compliance_key=SecretStr("sk-test-compliance-key-0123456789"),
    )
    return ComplianceClient(access, LocalRateBudget(), options=options(api, **overrides))


def peak_bytes(call: Callable[[], Any]) -> tuple[int, BaseException | None]:
    tracemalloc.start()
    error: BaseException | None = None
    try:
        call()
    except Exception as exc:
        error = exc
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak, error


def test_a_gzip_bomb_download_stops_at_the_file_cap(api: HostileServer) -> None:
    api.redirect(FILE_ROUTE, f"{api.base}/blob")
    api.routes["/blob"] = Script(200, {"Content-Encoding": "gzip"}, BOMB)
    client = compliance(api)
    out = io.BytesIO()

    peak, error = peak_bytes(lambda: client.download_file("gpt", "file-1", out, max_bytes=4 * MiB))

    assert isinstance(error, FileSkipped), error
    assert error.reason == "too_large"
    assert error.size is not None and error.size <= 4 * MiB + 1
    assert out.getvalue() == b""  # rewound
    assert peak < 32 * MiB, f"peak {peak / MiB:.0f} MiB while the body decodes to 256 MiB"
    storage_request = dict(api.requests)["/blob"]
    assert storage_request["Accept-Encoding"] == "identity"
    assert "Authorization" not in storage_request


def test_a_small_gzip_file_still_downloads(api: HostileServer) -> None:
    import gzip

    api.redirect(FILE_ROUTE, f"{api.base}/blob")
    api.routes["/blob"] = Script(200, {"Content-Encoding": "gzip"}, gzip.compress(b"a,b\n1,2\n"))
    out = io.BytesIO()
    result = compliance(api).download_file("gpt", "file-1", out)
    assert out.getvalue() == b"a,b\n1,2\n"
    assert result.size == 8


def test_a_gzip_bomb_json_page_is_a_malformed_response_within_the_page_cap(
    api: HostileServer,
) -> None:
    route = "/v1/organization/users"
    api.routes[route] = Script(
        200, {"Content-Type": "application/json", "Content-Encoding": "gzip"}, BOMB
    )
    access = TenantAccess(
        tenant_key="hostile",
        admin_api_base=f"{api.base}/v1",
        admin_key=SecretStr("sk-admin-test-key-0123456789"),
    )
    client = AdminClient(access, LocalRateBudget(), options=options(api, max_json_bytes=4 * MiB))

    peak, error = peak_bytes(lambda: list(client.users()))

    assert isinstance(error, MalformedResponseError), error
    assert "over 4194304 bytes" in str(error)
    assert peak < 32 * MiB, f"peak {peak / MiB:.0f} MiB"


def test_a_gzip_bomb_error_body_is_cut_at_the_error_cap(api: HostileServer) -> None:
    route = "/v1/organization/users"
    api.routes[route] = Script(
        400, {"Content-Type": "application/json", "Content-Encoding": "gzip"}, BOMB
    )
    access = TenantAccess(
        tenant_key="hostile",
        admin_api_base=f"{api.base}/v1",
        admin_key=SecretStr("sk-admin-test-key-0123456789"),
    )
    client = AdminClient(access, LocalRateBudget(), options=options(api))

    peak, error = peak_bytes(lambda: list(client.users()))

    assert isinstance(error, UpstreamError), error
    assert error.status == 400
    assert peak < 16 * MiB, f"peak {peak / MiB:.0f} MiB"


class TrickleWriter:
    """Sends a body one byte per ``every`` seconds and counts what went out."""

    def __init__(self, body: bytes, every: float, first_delay: float = 0.0) -> None:
        self.body = body
        self.every = every
        self.first_delay = first_delay
        self.sent = 0
        self.done = threading.Event()

    def __call__(self, wfile: Any) -> None:
        try:
            time.sleep(self.first_delay)
            for byte in self.body:
                wfile.write(bytes([byte]))
                wfile.flush()
                self.sent += 1
                time.sleep(self.every)
        finally:
            self.done.set()


def test_a_trickled_body_cannot_outlive_the_download_deadline(api: HostileServer) -> None:
    """One byte every 0.2 s of a 1000-byte body (200 s in all): every read returns well
    within the read timeout, so only a deadline checked on each read can stop it."""
    writer = TrickleWriter(b"x" * 1000, every=0.2)
    api.redirect(FILE_ROUTE, f"{api.base}/blob")
    api.routes["/blob"] = Script(200, {"Content-Length": "1000"}, writer=writer)
    client = compliance(api, download_timeout=2.0, read_timeout=60.0)

    with pytest.raises(UpstreamError) as caught:
        client.download_file("gpt", "file-1", io.BytesIO())

    assert "ReadTimeout" in str(caught.value)
    assert isinstance(caught.value, DownloadTooSlow)  # the DLP stage retries it, then skips
    assert writer.sent < 1000
    assert writer.done.wait(30)  # the server saw the client go away


def test_a_stalled_read_is_cut_at_the_download_deadline(api: HostileServer) -> None:
    """Headers at once, then nothing for 30 s (under the 60 s read timeout): the socket
    read itself waits only until the download's deadline."""
    writer = TrickleWriter(b"0123456789", every=0.0, first_delay=30.0)
    api.redirect(FILE_ROUTE, f"{api.base}/blob")
    api.routes["/blob"] = Script(200, {"Content-Length": "10"}, writer=writer)
    client = compliance(api, download_timeout=1.5, read_timeout=60.0)

    with pytest.raises(UpstreamError) as caught:
        client.download_file("gpt", "file-1", io.BytesIO())

    assert "ReadTimeout" in str(caught.value)
    assert isinstance(caught.value, DownloadTooSlow)  # the DLP stage retries it, then skips
    assert writer.sent == 0  # given up before the server sent a byte of the body
