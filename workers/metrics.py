"""Prometheus metrics of the fleet: an exporter that reads PostgreSQL and Redis on scrape.

Design (why this shape): workers run in many processes and containers (prefork children,
``--scale worker-dlp=4``), so in-process ``prometheus_client`` counters would each show a
fragment, and the client's multiprocess mode only works inside one host's shared
directory. Instead:

- **State that lives in the database** (scans by status, scan durations, findings by
  severity/type/status, tenants by health) is read by the exporter at scrape time.
- **Events that happen in workers** (API calls and 429s by tenant and route group, DLP
  bytes and seconds) are counted in memory per process by ``record_api_call`` /
  ``record_dlp_bytes`` and flushed at most once a second as ``HINCRBY`` on Redis hashes
  (``casb:metrics:*``), and in a worker also when each task ends and when a pool process
  exits (``install_celery_hooks``), so an idle worker holds nothing back; the exporter
  reads the hashes. Counters survive worker restarts, add up across hosts, and a Redis
  outage only delays them (a failing flush keeps the counts for the next one).
- **Queue depth** is ``LLEN`` of each Celery queue (and its priority sub-lists) on the
  broker, read at scrape time (Flower exports no queue-length metric).

Cardinality: per-tenant series exist only for API calls and 429s (operators ask who is throttled);
``status`` is a class (2xx, 3xx, 4xx, 429, 5xx, error), route groups are a small fixed set
from the connectors, and at most ``tenant_label_limit`` tenants (default 100, by slug
order) get their own label; the rest add up under ``tenant="_other"``. Findings and scans
carry no tenant label at all: per-tenant views are `casb findings`/`casb health` (SQL).

``casb metrics serve --port 9808`` runs the exporter.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from core.metrics import API_CALLS_KEY, DLP_KEY, EVENTS_KEY, FIELD_SEP, flush
from store.metrics import DURATION_BUCKETS, DatabaseCounts

if TYPE_CHECKING:
    import redis


log = logging.getLogger(__name__)

OTHER_TENANT = "_other"
DEFAULT_QUEUES: tuple[str, ...] = ("scans", "fetch", "detect", "dlp", "notify")
# Kombu's Redis transport keeps priorities 3/6/9 in lists named queue + "\x06\x16" + n.
PRIORITY_SEP = "\x06\x16"
PRIORITY_STEPS = (3, 6, 9)


def _flush_after_task(**_: Any) -> None:
    """Celery signal handler: a task's API calls and DLP bytes reach Redis when it ends.

    Without it the last second of counts of a burst waits in memory until the process's
    next API call (hours, for a tenant scanned daily), and a recycled prefork child
    (``--max-tasks-per-child``, which exits without ``atexit``) loses them. A flush with
    nothing pending does no I/O.
    """
    flush()


def install_celery_hooks() -> None:
    """Flush the counters after every task and when a pool process shuts down.

    Called from the Celery app module; connecting twice is harmless (deduplicated).
    """
    from celery import signals

    signals.task_postrun.connect(
        _flush_after_task, weak=False, dispatch_uid="casb-metrics-flush-task"
    )
    signals.worker_process_shutdown.connect(
        _flush_after_task, weak=False, dispatch_uid="casb-metrics-flush-process"
    )


# --------------------------------------------------------------------------- snapshot


@dataclass
class MetricsSnapshot(DatabaseCounts):
    """Everything one scrape reports; built by ``gather`` (I/O), rendered by ``render``.

    The database's counts (`store.metrics.DatabaseCounts`), then what Redis and the broker say.
    """

    api_calls: dict[tuple[str, str, str], int] = field(default_factory=dict)  # tenant, grp, st
    dlp_bytes: int = 0
    dlp_seconds: float = 0.0
    dlp_files: int = 0
    events: dict[str, int] = field(default_factory=dict)  # late_redelivery, ...
    queue_depth: dict[str, int] = field(default_factory=dict)
    unacked: int | None = None
    up: dict[str, bool] = field(default_factory=dict)


def fold_tenants(
    calls: dict[tuple[str, str, str], int], limit: int
) -> dict[tuple[str, str, str], int]:
    """Keep the first ``limit`` tenants (slug order) as labels; sum the rest as ``_other``."""
    tenants = sorted({t for t, _, _ in calls})
    keep = set(tenants[: max(0, limit)])
    folded: Counter[tuple[str, str, str]] = Counter()
    for (tenant, group, status), n in calls.items():
        folded[(tenant if tenant in keep else OTHER_TENANT, group, status)] += n
    return dict(folded)


def render(snapshot: MetricsSnapshot, *, tenant_label_limit: int = 100) -> list[Metric]:
    """Metric families for a snapshot (pure: no I/O)."""
    return [
        *_scan_metrics(snapshot),
        *_api_metrics(snapshot, tenant_label_limit),
        *_dlp_metrics(snapshot),
        *_queue_metrics(snapshot),
    ]


def _labelled(
    kind: type[GaugeMetricFamily] | type[CounterMetricFamily],
    name: str,
    documentation: str,
    labels: list[str],
    values: Mapping[Any, float],
) -> Metric:
    """One family with a sample per key of ``values`` (a tuple key gives several labels)."""
    family = kind(name, documentation, labels=labels)
    for key, n in sorted(values.items()):
        family.add_metric(list(key) if isinstance(key, tuple) else [key], n)
    return family


def _scan_metrics(snapshot: MetricsSnapshot) -> list[Metric]:
    up = {source: 1.0 if ok else 0.0 for source, ok in snapshot.up.items()}
    hist = HistogramMetricFamily(
        "casb_scan_duration_seconds",
        "Duration of finished scan runs (started to finished), by final status.",
        labels=["status"],
    )
    for status, stats in sorted(snapshot.scan_durations.items()):
        bounds = [
            (_bound(b), float(n)) for b, n in zip(DURATION_BUCKETS, stats.buckets, strict=True)
        ]
        bounds.append(("+Inf", float(stats.count)))
        hist.add_metric([status], bounds, stats.total)
    return [
        _labelled(
            GaugeMetricFamily,
            "casb_exporter_source_up",
            "1 if the exporter could read this source.",
            ["source"],
            up,
        ),
        _labelled(
            GaugeMetricFamily,
            "casb_scan_runs",
            "Scan runs in the database by status.",
            ["status"],
            snapshot.scans_by_status,
        ),
        hist,
        _labelled(
            GaugeMetricFamily,
            "casb_findings",
            "Findings by severity, finding type (catalog key) and status.",
            ["severity", "finding_type", "status"],
            snapshot.findings,
        ),
        _labelled(
            GaugeMetricFamily,
            "casb_tenants",
            "Registered tenants by health.",
            ["health"],
            snapshot.tenants_by_health,
        ),
    ]


def _api_metrics(snapshot: MetricsSnapshot, tenant_label_limit: int) -> list[Metric]:
    folded = fold_tenants(snapshot.api_calls, tenant_label_limit)
    rate_limited: Counter[tuple[str, str]] = Counter()
    for (tenant, group, status), n in folded.items():
        if status == "429":
            rate_limited[(tenant, group)] += n
    return [
        _labelled(
            CounterMetricFamily,
            "casb_api_calls",
            "HTTP attempts to the OpenAI APIs by tenant, route group and status class.",
            ["tenant", "group", "status"],
            folded,
        ),
        _labelled(
            CounterMetricFamily,
            "casb_api_rate_limited",
            "429 answers by tenant and route group.",
            ["tenant", "group"],
            rate_limited,
        ),
    ]


def _dlp_metrics(snapshot: MetricsSnapshot) -> list[Metric]:
    mbps = snapshot.dlp_bytes / snapshot.dlp_seconds / 1e6 if snapshot.dlp_seconds > 0 else 0.0
    return [
        CounterMetricFamily("casb_dlp_bytes", "Bytes scanned by DLP.", value=snapshot.dlp_bytes),
        CounterMetricFamily(
            "casb_dlp_seconds", "Seconds spent matching DLP content.", value=snapshot.dlp_seconds
        ),
        CounterMetricFamily("casb_dlp_files", "Files scanned by DLP.", value=snapshot.dlp_files),
        _labelled(
            CounterMetricFamily,
            "casb_task_events",
            "Rare task events: late_redelivery = a stage task that arrived after its scan "
            "finished.",
            ["event"],
            snapshot.events,
        ),
        _labelled(
            CounterMetricFamily,
            "casb_changes",
            "Change records (casb changes) by resource type and field.",
            ["resource_type", "field"],
            snapshot.changes,
        ),
        _labelled(
            GaugeMetricFamily,
            "casb_alert_deliveries",
            "Alert deliveries by status (pending, delivered, failed).",
            ["status"],
            snapshot.alert_deliveries,
        ),
        GaugeMetricFamily(
            "casb_dlp_throughput_mb_per_second",
            "Lifetime DLP throughput (MB/s); for a window use "
            "rate(casb_dlp_bytes_total[5m]) / rate(casb_dlp_seconds_total[5m]) / 1e6.",
            value=mbps,
        ),
    ]


def _queue_metrics(snapshot: MetricsSnapshot) -> list[Metric]:
    out = [
        _labelled(
            GaugeMetricFamily,
            "casb_queue_depth",
            "Messages waiting in each Celery queue (Redis LLEN).",
            ["queue"],
            snapshot.queue_depth,
        )
    ]
    if snapshot.unacked is not None:
        out.append(
            GaugeMetricFamily(
                "casb_queue_unacked",
                "Messages delivered to workers and not yet acknowledged (all queues).",
                value=snapshot.unacked,
            )
        )
    return out


def _bound(value: float) -> str:
    return str(float(value))


# --------------------------------------------------------------------------- gathering


def _gather_database(snapshot: MetricsSnapshot, database_url: str | None) -> None:
    from store.metrics import database_counts

    counts = database_counts(database_url)
    for part in fields(DatabaseCounts):
        setattr(snapshot, part.name, getattr(counts, part.name))


def _gather_counters(snapshot: MetricsSnapshot, client: redis.Redis) -> None:
    raw: dict[bytes, bytes] = client.hgetall(API_CALLS_KEY)  # type: ignore[assignment]
    for key, value in raw.items():
        parts = key.decode("utf-8", "replace").split(FIELD_SEP)
        if len(parts) == 3:
            snapshot.api_calls[(parts[0], parts[1], parts[2])] = int(value)
    dlp: dict[bytes, bytes] = client.hgetall(DLP_KEY)  # type: ignore[assignment]
    snapshot.dlp_bytes = int(dlp.get(b"bytes", b"0"))
    snapshot.dlp_seconds = float(dlp.get(b"seconds", b"0"))
    snapshot.dlp_files = int(dlp.get(b"files", b"0"))
    events: dict[bytes, bytes] = client.hgetall(EVENTS_KEY)  # type: ignore[assignment]
    snapshot.events = {k.decode("utf-8", "replace"): int(v) for k, v in events.items()}


def _gather_queues(snapshot: MetricsSnapshot, client: redis.Redis, queues: Sequence[str]) -> None:
    pipe = client.pipeline(transaction=False)
    names: list[str] = []
    for queue in queues:
        for key in (queue, *(f"{queue}{PRIORITY_SEP}{p}" for p in PRIORITY_STEPS)):
            pipe.llen(key)
            names.append(queue)
    pipe.hlen("unacked")
    results = pipe.execute()
    for queue, n in zip(names, results[:-1], strict=True):
        snapshot.queue_depth[queue] = snapshot.queue_depth.get(queue, 0) + int(n)
    snapshot.unacked = int(results[-1])


def default_queues() -> tuple[str, ...]:
    try:
        from workers.celeryconfig import QUEUE_NAMES

        return tuple(QUEUE_NAMES)
    except Exception:  # the Celery config is optional for the exporter
        return DEFAULT_QUEUES


@dataclass
class Sources:
    """Where the exporter reads from (defaults: the process settings)."""

    database_url: str | None = None
    redis_url: str | None = None
    broker_url: str | None = None
    queues: tuple[str, ...] = field(default_factory=default_queues)


def gather(sources: Sources) -> MetricsSnapshot:
    """Read PostgreSQL and Redis; a source that fails is reported with ``up=0``, not raised."""

    from core.settings import get_settings

    settings = get_settings()
    snapshot = MetricsSnapshot()
    try:
        _gather_database(snapshot, sources.database_url)
        snapshot.up["database"] = True
    except Exception as exc:
        snapshot.up["database"] = False
        log.warning("metrics: database unavailable (%s)", type(exc).__name__)
    counters_url = sources.redis_url or settings.effective_redis_url
    broker_url = sources.broker_url or settings.broker_url
    for source, url, reader in (
        ("redis", counters_url, lambda c: _gather_counters(snapshot, c)),
        ("broker", broker_url, lambda c: _gather_queues(snapshot, c, sources.queues)),
    ):
        try:
            client = settings.redis(url, patient=False, socket_timeout=3, socket_connect_timeout=3)
            try:
                reader(client)
            finally:
                client.close()
            snapshot.up[source] = True
        except Exception as exc:
            snapshot.up[source] = False
            log.warning("metrics: %s unavailable (%s)", source, type(exc).__name__)
    return snapshot


class CasbCollector(Collector):
    """A prometheus_client collector that gathers a fresh snapshot on every scrape."""

    def __init__(self, sources: Sources | None = None, *, tenant_label_limit: int = 100) -> None:
        self.sources = sources or Sources()
        self.tenant_label_limit = tenant_label_limit

    def collect(self) -> Iterator[Metric]:
        yield from render(gather(self.sources), tenant_label_limit=self.tenant_label_limit)


def make_registry(
    sources: Sources | None = None, *, tenant_label_limit: int = 100
) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CasbCollector(sources, tenant_label_limit=tenant_label_limit))
    return registry


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


def make_exporter(
    host: str, port: int, *, sources: Sources | None = None, tenant_label_limit: int = 100
) -> WSGIServer:
    """An HTTP server answering ``/metrics`` (any path) with the fleet's metrics."""
    app = make_wsgi_app(make_registry(sources, tenant_label_limit=tenant_label_limit))
    return make_server(host, port, app, handler_class=_QuietHandler)
