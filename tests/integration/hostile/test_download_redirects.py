"""A compromised API redirects file downloads to internal addresses: nothing reaches them.

Loopback only. The "internal service" is ``Trap``, a second loopback port that is not on
the allowed list; the API and the allowed storage are ``HostileServer`` on another port,
which is on it (``host:port``). Every refused hop is a ``redirect_refused`` skip, and the
trap records no connection at all: not a request, not even a TLS handshake.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from connectors.access import ClientOptions, TenantAccess
from connectors.compliance import ComplianceClient
from connectors.errors import FileSkipped
from connectors.ratelimit import LocalRateBudget
from tests.integration.hostile.servers import TRAP_BODY, HostileServer, Script, Trap

WORKSPACE = "ws-1"
FILE_ROUTE = f"/v1/compliance/workspaces/{WORKSPACE}/gpt_files/file-1"


@pytest.fixture
def trap() -> Iterator[Trap]:
    server = Trap()
    yield server
    server.close()


@pytest.fixture
def api() -> Iterator[HostileServer]:
    server = HostileServer()
    yield server
    server.close()


def client_for(api: HostileServer, *allowed: str, **options: object) -> ComplianceClient:
    access = TenantAccess(
        tenant_key="hostile",
        workspace_id=WORKSPACE,
        compliance_api_base=f"{api.base}/v1",
        compliance_key=SecretStr("sk-test-compliance-key-0123456789"),
    )
    opts = ClientOptions(
        max_attempts=1,
        backoff_base=0.01,
        backoff_max=0.02,
        download_timeout=10.0,
        storage_allowed_hosts=(f"127.0.0.1:{api.port}", *allowed),
        **options,  # type: ignore[arg-type]
    )
    return ComplianceClient(access, LocalRateBudget(), options=opts)


def download(client: ComplianceClient) -> bytes:
    out = io.BytesIO()
    client.download_file("gpt", "file-1", out)
    return out.getvalue()


TRAP_FORMS = [
    "http://127.0.0.1:{port}/latest/meta-data",
    "https://127.0.0.1:{port}/latest/meta-data",
    "https://localhost:{port}/",
    "http://localhost:{port}/",
    "https://[::ffff:127.0.0.1]:{port}/",
    "https://[::1]:{port}/",
    "https://2130706433:{port}/",
    "https://0177.0.0.1:{port}/",
    "https://0x7f.0.0.1:{port}/",
    "https://127.1:{port}/",
    "http://user:pass@127.0.0.1:{port}/",
]


@pytest.mark.parametrize("form", TRAP_FORMS)
def test_redirect_to_an_internal_address_is_refused(
    api: HostileServer, trap: Trap, form: str
) -> None:
    api.redirect(FILE_ROUTE, form.format(port=trap.port))
    with pytest.raises(FileSkipped) as caught:
        download(client_for(api))
    assert caught.value.reason == "redirect_refused"
    assert trap.connections == []


def test_a_hop_of_the_allowed_storage_cannot_forward_to_the_trap(
    api: HostileServer, trap: Trap
) -> None:
    api.redirect(FILE_ROUTE, f"{api.base}/blob/1")
    api.redirect("/blob/1", f"https://localhost:{trap.port}/")
    with pytest.raises(FileSkipped) as caught:
        download(client_for(api))
    assert caught.value.reason == "redirect_refused"
    assert api.paths() == [FILE_ROUTE, "/blob/1"]
    assert trap.connections == []


def test_chains_longer_than_three_hops_are_refused_before_the_fourth(
    api: HostileServer, trap: Trap
) -> None:
    # API -> /hop/1 -> /hop/2 -> /hop/3 -> the body: four redirects in all; three are
    # followed, the fourth target is never fetched.
    api.redirect(FILE_ROUTE, f"{api.base}/hop/1")
    api.redirect("/hop/1", f"{api.base}/hop/2")
    api.redirect("/hop/2", f"{api.base}/hop/3")
    api.redirect("/hop/3", f"{api.base}/body")
    api.routes["/body"] = Script(200, {"Content-Type": "text/plain"}, b"the file")
    with pytest.raises(FileSkipped) as caught:
        download(client_for(api))
    assert caught.value.reason == "redirect_refused"
    assert "/body" not in api.paths()
    assert api.paths() == [FILE_ROUTE, "/hop/1", "/hop/2", "/hop/3"]

    # Three redirects are fine.
    api.redirect("/hop/2", f"{api.base}/body")
    assert download(client_for(api)) == b"the file"


def test_the_trap_is_reachable_when_it_is_allowed(api: HostileServer, trap: Trap) -> None:
    """The control: the same redirect, once the trap's host:port is on the allowed list,
    is fetched (so the refusals above are the policy's doing, not a broken trap)."""
    api.redirect(FILE_ROUTE, f"http://127.0.0.1:{trap.port}/latest/meta-data")
    body = download(client_for(api, f"127.0.0.1:{trap.port}"))
    assert body == TRAP_BODY
    assert len(trap.connections) == 1
    assert trap.connections[0].startswith(b"GET /latest/meta-data")


def test_an_allowed_host_entry_does_not_allow_its_other_ports(
    api: HostileServer, trap: Trap
) -> None:
    api.redirect(FILE_ROUTE, f"http://127.0.0.1:{trap.port}/")
    with pytest.raises(FileSkipped):
        download(client_for(api, "127.0.0.2", f"localhost:{api.port}"))
    assert trap.connections == []


def test_download_url_for_other_storage_objects_follows_the_same_policy(
    api: HostileServer, trap: Trap
) -> None:
    """``download_url`` (log and export files named by an API answer) is the same path."""
    client = client_for(api)
    for url in (f"https://localhost:{trap.port}/log", f"http://127.0.0.1:{trap.port}/log"):
        with pytest.raises(FileSkipped) as caught:
            client.download_url(url, io.BytesIO(), label="log-1")
        assert caught.value.reason == "redirect_refused"
    api.redirect("/log/1", f"https://[::ffff:127.0.0.1]:{trap.port}/")
    with pytest.raises(FileSkipped):
        client.download_url(f"{api.base}/log/1", io.BytesIO(), label="log-1")
    assert trap.connections == []

    api.routes["/log/2"] = Script(200, {"Content-Type": "text/plain"}, b"line 1\nline 2\n")
    out = io.BytesIO()
    assert client.download_url(f"{api.base}/log/2", out, label="log-2").size == 14
    assert out.getvalue() == b"line 1\nline 2\n"
