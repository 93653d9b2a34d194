"""workers.metrics (rendering, status classes, tenant folding) and the core.metrics recorder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from core import metrics as recording
from core.metrics import status_class
from store.metrics import DurationStats, durations_to_stats
from workers.metrics import MetricsSnapshot, fold_tenants, render


class _Static(Collector):
    def __init__(self, snapshot: MetricsSnapshot, limit: int) -> None:
        self.snapshot, self.limit = snapshot, limit

    def collect(self) -> Iterator[Metric]:
        return iter(render(self.snapshot, tenant_label_limit=self.limit))


def _samples(snapshot: MetricsSnapshot, limit: int = 100) -> dict[tuple[str, tuple], float]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Static(snapshot, limit))
    text = generate_latest(registry).decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _snapshot() -> MetricsSnapshot:
    return MetricsSnapshot(
        scans_by_status={"succeeded": 3, "failed": 1},
        scan_durations={"succeeded": durations_to_stats([4, 50, 4000])},
        findings={
            ("high", "gpt_custom_actions", "open"): 2,
            ("low", "stale_pending_invite", "ignored"): 1,
        },
        tenants_by_health={"healthy": 2},
        api_calls={
            ("acme", "users", "2xx"): 10,
            ("acme", "users", "429"): 3,
            ("beta", "gpts", "5xx"): 1,
        },
        dlp_bytes=50_000_000,
        dlp_seconds=2.0,
        dlp_files=7,
        queue_depth={"fetch": 4, "dlp": 0},
        unacked=2,
        up={"database": True, "redis": True, "broker": False},
    )


def test_status_class() -> None:
    assert [status_class(s) for s in (200, 201, 304, 404, 429, 500, None, 999)] == [
        "2xx", "2xx", "3xx", "4xx", "429", "5xx", "error", "error",
    ]  # fmt: skip


def test_render_every_family() -> None:
    s = _samples(_snapshot())
    assert s[("casb_scan_runs", (("status", "succeeded"),))] == 3
    assert s[("casb_scan_duration_seconds_count", (("status", "succeeded"),))] == 3
    assert s[("casb_scan_duration_seconds_bucket", (("le", "5.0"), ("status", "succeeded")))] == 1
    assert s[("casb_scan_duration_seconds_bucket", (("le", "60.0"), ("status", "succeeded")))] == 2
    assert s[("casb_scan_duration_seconds_bucket", (("le", "+Inf"), ("status", "succeeded")))] == 3
    assert s[("casb_scan_duration_seconds_sum", (("status", "succeeded"),))] == 4054
    key = (("finding_type", "gpt_custom_actions"), ("severity", "high"), ("status", "open"))
    assert s[("casb_findings", key)] == 2
    assert (
        s[("casb_api_calls_total", (("group", "users"), ("status", "429"), ("tenant", "acme")))]
        == 3
    )
    assert s[("casb_api_rate_limited_total", (("group", "users"), ("tenant", "acme")))] == 3
    assert ("casb_api_rate_limited_total", (("group", "gpts"), ("tenant", "beta"))) not in s
    assert s[("casb_dlp_bytes_total", ())] == 50_000_000
    assert s[("casb_dlp_throughput_mb_per_second", ())] == 25.0
    assert s[("casb_queue_depth", (("queue", "fetch"),))] == 4
    assert s[("casb_queue_unacked", ())] == 2
    assert s[("casb_exporter_source_up", (("source", "broker"),))] == 0
    assert s[("casb_tenants", (("health", "healthy"),))] == 2


def test_tenant_labels_are_capped() -> None:
    calls = {(f"t{i:03d}", "users", "2xx"): 1 for i in range(10)}
    folded = fold_tenants(calls, 3)
    assert folded == {
        ("t000", "users", "2xx"): 1,
        ("t001", "users", "2xx"): 1,
        ("t002", "users", "2xx"): 1,
        ("_other", "users", "2xx"): 7,
    }
    s = _samples(MetricsSnapshot(api_calls=calls), limit=3)
    tenants = {dict(labels)["tenant"] for (name, labels) in s if name == "casb_api_calls_total"}
    assert tenants == {"t000", "t001", "t002", "_other"}


def test_durations_to_stats_is_cumulative() -> None:
    stats = durations_to_stats([1, 1, 20, 100000])
    assert isinstance(stats, DurationStats)
    assert stats.count == 4 and stats.buckets[0] == 2 and stats.buckets[-1] == 3


@pytest.fixture
def recorder() -> Iterator[None]:
    recording.reset_recorder()
    yield
    recording.reset_recorder()


def test_recorder_accumulates_until_drained(
    recorder: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recording, "FLUSH_INTERVAL_SECONDS", 3600.0)
    recording.record_api_call("acme", "users", 200)
    recording.record_api_call("acme", "users", 200)
    recording.record_api_call("acme", "users", 429)
    recording.record_api_call("", "", None)
    recording.record_dlp_bytes(1000, 0.5)
    api, n_bytes, seconds, files = recording._recorder.drain()
    assert api == {
        ("acme", "users", "2xx"): 2,
        ("acme", "users", "429"): 1,
        ("unknown", "other", "error"): 1,
    }
    assert (n_bytes, seconds, files) == (1000, 0.5, 1)
    assert recording._recorder.drain()[0] == {}


def test_failed_flush_keeps_the_counts(recorder: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recording, "FLUSH_INTERVAL_SECONDS", 3600.0)
    monkeypatch.setenv("CASB_REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens on port 1
    from core.settings import reset_settings_cache

    reset_settings_cache()
    try:
        recording.record_api_call("acme", "gpts", 503)
        assert recording.flush() is False
        assert recording._recorder.drain()[0] == {("acme", "gpts", "5xx"): 1}
    finally:
        monkeypatch.delenv("CASB_REDIS_URL")
        reset_settings_cache()


def test_observe_call_adapts_connector_events(
    recorder: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from connectors.http import CallEvent
    from pipeline.runtime import observe_call

    monkeypatch.setattr(recording, "FLUSH_INTERVAL_SECONDS", 3600.0)
    event = CallEvent(
        tenant="acme", api="admin", group="users", route="/organization/users",
        status=429, attempt=1, outcome="retry", elapsed=0.1, retry_after=2.0,
    )  # fmt: skip
    observe_call(event)
    assert recording._recorder.drain()[0] == {("acme", "users", "429"): 1}
