"""The metrics exporter against real PostgreSQL and Redis, scraped over HTTP."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from core import metrics as recording
from tests.integration.ops.seed import T0, add_finding, add_scan, add_tenant
from workers import metrics


@pytest.fixture
def exporter(db: str, redis_client: redis.Redis) -> Iterator[str]:
    # redis_client empties the leased Redis database: counters an earlier test of this
    # process flushed there would otherwise add to this test's.
    recording.reset_recorder()
    server = metrics.make_exporter("127.0.0.1", 0, tenant_label_limit=1)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/metrics"
    server.shutdown()
    server.server_close()
    recording.reset_recorder()


def _scrape(url: str) -> dict[tuple[str, tuple], float]:
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200
    out = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_exporter_reports_database_redis_and_queues(exporter: str, db: str, redis_url: str) -> None:
    acme = add_tenant(db, "acme", health="healthy")
    add_tenant(db, "beta")
    add_finding(db, acme, "gpt_custom_actions", "g-1")
    add_finding(db, acme, "gpt_custom_actions", "g-2")
    add_finding(db, acme, "stale_pending_invite", "i-1", status="ignored")
    add_scan(db, acme, T0)  # 3 minutes long
    add_scan(db, acme, T0 + timedelta(hours=1), status="failed")

    recording.record_api_call("acme", "users", 200)
    recording.record_api_call("acme", "users", 429)
    recording.record_api_call("beta", "gpts", 200)
    recording.record_api_call("zeta", "gpts", 500)
    recording.record_dlp_bytes(3_000_000, 1.5, files=2)
    assert recording.flush() is True

    broker = redis.Redis.from_url(redis_url)
    fake_queues = ("fetch", "fetch\x06\x166", "dlp")
    broker.rpush("fetch", b"m1", b"m2")
    broker.rpush("fetch\x06\x166", b"m3")
    broker.rpush("dlp", b"m4")
    try:
        s = _scrape(exporter)
    finally:
        # Placeholder messages are not Celery messages: a worker started later in the
        # session would choke on them.
        broker.delete(*fake_queues)
    assert s[("casb_exporter_source_up", (("source", "database"),))] == 1
    assert s[("casb_exporter_source_up", (("source", "broker"),))] == 1
    assert s[("casb_scan_runs", (("status", "succeeded"),))] == 1
    assert s[("casb_scan_duration_seconds_bucket", (("le", "300.0"), ("status", "succeeded")))] == 1
    assert s[("casb_scan_duration_seconds_bucket", (("le", "120.0"), ("status", "succeeded")))] == 0
    assert s[("casb_scan_duration_seconds_sum", (("status", "succeeded"),))] == 180
    high = (("finding_type", "gpt_custom_actions"), ("severity", "high"), ("status", "open"))
    assert s[("casb_findings", high)] == 2
    assert s[("casb_tenants", (("health", "healthy"),))] == 1
    # tenant_label_limit=1: acme keeps its label, beta and zeta add up under _other.
    assert s[("casb_api_rate_limited_total", (("group", "users"), ("tenant", "acme")))] == 1
    assert (
        s[("casb_api_calls_total", (("group", "gpts"), ("status", "2xx"), ("tenant", "_other")))]
        == 1
    )
    assert (
        s[("casb_api_calls_total", (("group", "gpts"), ("status", "5xx"), ("tenant", "_other")))]
        == 1
    )
    assert s[("casb_dlp_bytes_total", ())] == 3_000_000
    assert s[("casb_dlp_throughput_mb_per_second", ())] == 2.0
    assert s[("casb_queue_depth", (("queue", "fetch"),))] == 3
    assert s[("casb_queue_depth", (("queue", "dlp"),))] == 1
    assert s[("casb_queue_depth", (("queue", "scans"),))] == 0

    # Counters add up across flushes (and so across processes).
    recording.record_api_call("acme", "users", 429)
    recording.flush()
    assert (
        _scrape(exporter)[("casb_api_rate_limited_total", (("group", "users"), ("tenant", "acme")))]
        == 2
    )


def test_exporter_survives_an_unreachable_broker(db: str, redis_url: str) -> None:
    sources = metrics.Sources(broker_url="redis://127.0.0.1:1/0")
    snapshot = metrics.gather(sources)
    assert snapshot.up == {"database": True, "redis": True, "broker": False}
    assert snapshot.queue_depth == {}
