"""The API clients over TLS against the simulator served by hypercorn (HTTP/2 and HTTP/1.1
offered by ALPN, a CA made for the test and trusted through ``CASB_CA_BUNDLE``).

With ``CASB_HTTP2=auto`` every API request goes over HTTP/2, with ``off`` over HTTP/1.1,
as both the client (``CallEvent.http_version``) and the server (its per-tenant counters)
see it; file downloads stay HTTP/1.1 either way. Without the CA the connection is refused:
certificate verification is never turned off.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.admin import AdminClient
from connectors.compliance import ComplianceClient
from connectors.errors import UpstreamError
from connectors.http import CallEvent, shared_client
from core.settings import reset_settings_cache
from tests.integration.connectors.conftest import access_for, fast_options, scaled_budget

SLUGS = ["tenant-01", "tenant-02", "tenant-03"]


@pytest.fixture(scope="module")
def server(world: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from simulator.server import start_tls_in_thread
    from tests.storage import storage_allowed

    handle = start_tls_in_thread(world, tmp_path_factory.mktemp("tls"))
    with storage_allowed(handle):
        yield handle
    handle.stop()


def _use(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(f"CASB_{name.upper()}", value)
    reset_settings_cache()


@pytest.fixture(autouse=True)
def _settings_restored() -> Iterator[None]:
    yield
    reset_settings_cache()  # after monkeypatch undid the variables


@pytest.fixture
def trusted(server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _use(monkeypatch, ca_bundle=str(server.tls.ca_cert))


def _counters(world: Any, slug: str) -> dict[str, int]:
    return dict(world.stats(slug)["counters"])


def _delta(before: dict[str, int], after: dict[str, int], prefix: str) -> dict[str, int]:
    names = {n for n in after if n.startswith(prefix)}
    return {n: after[n] - before.get(n, 0) for n in names if after[n] != before.get(n, 0)}


def _list_users(world: Any, server: Any, slug: str) -> tuple[list[str], list[CallEvent]]:
    events: list[CallEvent] = []
    client = AdminClient(
        access_for(world, server, slug),
        scaled_budget(),
        options=fast_options(page_limits={"admin": 3}),
        observer=events.append,
    )
    return [u.id for u in client.users()], events


@pytest.mark.parametrize(("setting", "version"), [("auto", "2"), ("off", "1.1")])
def test_api_requests_use_the_negotiated_protocol(
    world: Any,
    server: Any,
    trusted: None,
    monkeypatch: pytest.MonkeyPatch,
    setting: str,
    version: str,
) -> None:
    _use(monkeypatch, http2=setting)
    slug = "tenant-01"
    before = _counters(world, slug)
    ids, events = _list_users(world, server, slug)
    assert ids == [u.id for u in world.tenant(slug).users.ordered()]
    assert len(events) > 1  # several pages
    assert {e.http_version for e in events} == {f"HTTP/{version}"}
    assert _delta(before, _counters(world, slug), "http_version:") == {
        f"http_version:{version}": len(events)
    }


def test_clients_per_process_or_per_thread(
    server: Any, trusted: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP/1.1: one client for the process. HTTP/2: one per thread (httpcore's synchronous
    HTTP/2 connection is not shared across threads). A settings change builds anew."""

    def in_thread() -> Any:
        out: list[Any] = []
        thread = threading.Thread(target=lambda: out.append(shared_client()))
        thread.start()
        thread.join(10)
        return out[0]

    _use(monkeypatch, http2="off")
    process = shared_client()
    assert shared_client() is process and in_thread() is process
    _use(monkeypatch, http2="auto")
    mine = shared_client()
    assert mine is not process and shared_client() is mine
    assert in_thread() not in (mine, process)
    _use(monkeypatch, http2="off", ca_bundle=str(server.tls.ca_cert) + "")
    assert shared_client() is process  # the same settings as before: the same client
    other_ca = Path(server.tls.ca_cert).with_name("copy.pem")
    other_ca.write_bytes(Path(server.tls.ca_cert).read_bytes())
    _use(monkeypatch, ca_bundle=str(other_ca))
    assert shared_client() is not process and process.is_closed


def test_tenants_list_at_once_from_threads(
    world: Any, server: Any, trusted: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several tenants listing at once from threads over HTTP/2: each gets exactly its own
    users."""
    _use(monkeypatch, http2="auto")
    results: dict[str, tuple[list[str], list[CallEvent]]] = {}
    errors: list[BaseException] = []

    def run(slug: str) -> None:
        try:
            results[slug] = _list_users(world, server, slug)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(slug,)) for slug in SLUGS * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    for slug in SLUGS:
        ids, events = results[slug]
        assert ids == [u.id for u in world.tenant(slug).users.ordered()]
        assert {e.http_version for e in events} == {"HTTP/2"}


def test_file_downloads_stay_http11_over_tls(
    world: Any, server: Any, trusted: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use(monkeypatch, http2="auto")
    slug = "tenant-02"
    tenant = world.tenant(slug)
    sim_file = next(
        f
        for f in tenant.files.values()
        if f.location == "gpt" and not f.expired and f.variant in ("clean", "planted")
    )
    before = _counters(world, slug)
    client = ComplianceClient(
        access_for(world, server, slug), scaled_budget(), options=fast_options()
    )
    dest = io.BytesIO()
    result = client.download_file("gpt", sim_file.id, dest)
    want = world.file_bytes(tenant, sim_file)
    assert dest.getvalue() == want and result.sha256 == hashlib.sha256(want).hexdigest()
    after = _counters(world, slug)
    assert _delta(before, after, "blob_http_version:") == {"blob_http_version:1.1": 1}
    assert _delta(before, after, "http_version:") == {"http_version:2": 1}  # the API's 307


def test_an_untrusted_certificate_is_refused(
    world: Any, server: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without the test CA in ``CASB_CA_BUNDLE`` the simulator's certificate does not verify:
    the call fails as a transport error and the server never sees a request."""
    from simulator.tls import make_loopback_tls

    other_ca = make_loopback_tls(tmp_path / "other").ca_cert
    for env in ({"http2": "auto"}, {"http2": "auto", "ca_bundle": str(other_ca)}):
        _use(monkeypatch, **env)
        before = _counters(world, "tenant-03")
        with pytest.raises(UpstreamError) as info:
            _list_users(world, server, "tenant-03")
        assert info.value.status is None and "ConnectError" in str(info.value)
        assert _delta(before, _counters(world, "tenant-03"), "http_version:") == {}
