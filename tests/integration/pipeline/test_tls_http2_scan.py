"""A full scan through a real worker against the simulator over TLS (hypercorn, HTTP/2 and
HTTP/1.1 offered by ALPN, a CA made for the test trusted through ``CASB_CA_BUNDLE``).

With ``CASB_HTTP2=auto`` every Admin and Compliance request of the scan reaches the server
over HTTP/2 and the findings (posture and DLP) equal the tenant's ground truth; with
``off`` the same scan goes over HTTP/1.1 with the same findings. File downloads are
HTTP/1.1 either way.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.settings import reset_settings_cache
from schemas.tables import ScanStatus
from simulator.files import PLANTABLE_PROFILES
from simulator.ground_truth import DLP_FINDING_TYPES
from store.db import session_scope
from store.findings import open_keys
from tests.integration.pipeline.conftest import register, wait_for_run
from tests.integration.pipeline.test_scan_pipeline import scan

SLUG = "tenant-01"


@pytest.fixture
def world() -> Any:
    from simulator.world import World

    return World.generate(tenants=1, seed=23, size="tiny")


@pytest.fixture
def sim(world: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The simulator over TLS, its CA trusted and its storage allowed in this process."""
    from simulator.server import start_tls_in_thread
    from tests.storage import storage_allowed

    running = start_tls_in_thread(world, tmp_path / "tls")
    monkeypatch.setenv("CASB_CA_BUNDLE", str(running.tls.ca_cert))
    with storage_allowed(running):
        yield running
    running.stop()
    monkeypatch.undo()
    reset_settings_cache()


@pytest.mark.parametrize(("setting", "version"), [("auto", "2"), ("off", "1.1")])
def test_full_scan_over_tls_equals_ground_truth(
    db: str,
    sim: Any,
    worker: Any,
    monkeypatch: pytest.MonkeyPatch,
    setting: str,
    version: str,
) -> None:
    monkeypatch.setenv("CASB_HTTP2", setting)
    reset_settings_cache()
    tid = register(sim, [SLUG], dlp_profiles=list(PLANTABLE_PROFILES))[SLUG]
    run = wait_for_run(scan(worker.app, tid), timeout=120)
    assert run.status == ScanStatus.SUCCEEDED.value, run.errors
    expected = sim.world.ground_truth(SLUG)
    assert {t for t, _ in expected} & set(DLP_FINDING_TYPES), "files downloaded and matched"
    with session_scope() as session:
        stored = open_keys(session, tid)
    assert stored == expected, stored ^ expected

    counters = sim.world.stats(SLUG)["counters"]
    seen = {n: c for n, c in counters.items() if n.startswith("http_version:")}
    assert seen == {f"http_version:{version}": sim.world.stats(SLUG)["requests"]}
    assert seen[f"http_version:{version}"] > 10
    blobs = {n: c for n, c in counters.items() if n.startswith("blob_http_version:")}
    assert blobs == {"blob_http_version:1.1": counters["blob_downloads"]}
