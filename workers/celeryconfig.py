"""The one Celery configuration module: queues, routing, delivery policy, limits, beat.

Everything the fleet's delivery semantics depend on is here, with the reason beside it
(docs/architecture.md tells the longer stories). Broker and backend URLs come from
``core.settings`` so a worker, beat and the CLI agree on them; ``broker_and_backend()`` is
re-read by ``workers.celery_app.reconfigure()`` when tests or the demo change the environment.
"""

from __future__ import annotations

from typing import Any

from kombu import Exchange, Queue

from core.redisconn import celery_url, is_sentinel
from core.settings import get_settings
from schemas.stages import FETCH_RESOURCES, fetch_task_name

# --------------------------------------------------------------------------- queues

SCANS, FETCH, DETECT, DLP, NOTIFY = "scans", "fetch", "detect", "dlp", "notify"
# notify: alert deliveries, kept apart so a slow webhook never holds a scan's stages.
QUEUE_NAMES: tuple[str, ...] = (SCANS, FETCH, DETECT, DLP, NOTIFY)

# Declared explicitly; a typo in a route must fail loudly, never create a queue no worker reads.
task_queues = tuple(
    Queue(name, Exchange(name, type="direct"), routing_key=name) for name in QUEUE_NAMES
)
task_create_missing_queues = False
task_default_queue = SCANS
task_default_exchange = SCANS
task_default_routing_key = SCANS

# --------------------------------------------------------------------------- task names and routes

DISPATCH_DUE_SCANS = "casb.dispatch_due_scans"
SCAN_TENANT = "casb.scan_tenant"
DETECT_POSTURE = "casb.detect_posture"
FINISH_SCAN = "casb.finish_scan"
DLP_SCAN = "casb.dlp_scan"
DLP_PLAN = "casb.dlp_plan"
DLP_FINALIZE = "casb.dlp_finalize"
REAP_STALE_SCANS = "casb.reap_stale_scans"
PRUNE_RETENTION = "casb.prune_retention"
DELIVER_ALERT = "casb.deliver_alert"
RETRY_ALERTS = "casb.retry_alerts"

#: ``casb.fetch_<resource>`` for every fetch resource (schemas.stages.FETCH_RESOURCES).
FETCH_TASKS = tuple(fetch_task_name(resource) for resource in FETCH_RESOURCES)

ROUTES: dict[str, str] = {
    DISPATCH_DUE_SCANS: SCANS,
    SCAN_TENANT: SCANS,
    REAP_STALE_SCANS: SCANS,
    PRUNE_RETENTION: SCANS,
    FINISH_SCAN: SCANS,
    DETECT_POSTURE: DETECT,
    DLP_SCAN: DLP,
    # Planning and finalizing are short bookkeeping: on the dlp queue they waited behind every
    # other tenant's batches, so every scan in a busy fleet finished only when the whole DLP
    # backlog had drained (bench/fleet_bench.py: p50 == p95 == wall time).
    DLP_PLAN: DETECT,
    DLP_FINALIZE: DETECT,
    DELIVER_ALERT: NOTIFY,
    RETRY_ALERTS: NOTIFY,
    **{name: FETCH for name in FETCH_TASKS},
}
task_routes: dict[str, dict[str, str]] = {name: {"queue": q} for name, q in ROUTES.items()}

# --------------------------------------------------------------------------- serialization

# JSON only: a pickle-accepting worker executes whatever lands on the broker.
task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]
result_accept_content = ["json"]

# --------------------------------------------------------------------------- delivery

# Every task is idempotent (upserts by natural key, scan runs as a state machine), so a task
# lost with its worker is re-queued rather than dropped; prefetch 1 exposes at most one
# extra message per process to a crash.
task_acks_late = True
task_reject_on_worker_lost = True
worker_prefetch_multiplier = 1
# A worker that lost its broker connection must not keep running late-ack tasks the broker
# is about to hand to another worker.
worker_cancel_long_running_tasks_on_connection_loss = True
# A Redis failover (Sentinel promoting a replica) or restart takes seconds: result writes
# retry through it instead of being lost with the task's result (a chord header's "part
# done" is retried by the backend classes of workers/result_backend.py, below).
result_backend_always_retry = True
result_backend_max_retries = 30
result_backend_base_sleep_between_retries_ms = 100
result_backend_max_sleep_between_retries_ms = 2000
broker_connection_retry_on_startup = True
# Publishing (a chord's body once its header is done, a DLP batch, a rescan) waits out a
# failover too: ~12 s of retries instead of Celery's 0.6 s.
task_publish_retry_policy = {
    "max_retries": 8,
    "interval_start": 0.2,
    "interval_step": 0.5,
    "interval_max": 2.0,
}
worker_soft_shutdown_timeout = 30.0
worker_enable_soft_shutdown_on_idle = True
# Results are off except where consumed (the chord header: fetch tasks opt back in).
task_ignore_result = True
result_expires = 12 * 3600
result_extended = False
task_track_started = False
worker_send_task_events = True
task_send_sent_event = True

# --------------------------------------------------------------------------- time limits

# (soft, hard) seconds. Only prefork enforces them; fetchers on the threads pool rely on
# httpx timeouts and the connector's page guard instead.
TIME_LIMITS: dict[str, tuple[int, int]] = {
    DISPATCH_DUE_SCANS: (50, 60),
    SCAN_TENANT: (60, 90),
    REAP_STALE_SCANS: (120, 150),
    PRUNE_RETENTION: (1800, 1860),
    DETECT_POSTURE: (300, 360),
    # A DLP scan's finish also ends its DLP stage (DLP_FINALIZE's work, then the run's).
    FINISH_SCAN: (360, 450),
    DLP_SCAN: (1800, 1860),
    DLP_PLAN: (120, 150),
    DLP_FINALIZE: (300, 360),
    # One POST (CASB_ALERT_TIMEOUT_SECONDS, 10 s by default) plus bookkeeping.
    DELIVER_ALERT: (120, 150),
    RETRY_ALERTS: (50, 60),
    **{name: (900, 960) for name in FETCH_TASKS},
}
LONGEST_TASK_SECONDS = max(hard for _, hard in TIME_LIMITS.values())
# Named entries only: a '*' entry would silently override every per-task one.
task_annotations: dict[str, dict[str, Any]] = {
    name: {"soft_time_limit": soft, "time_limit": hard}
    for name, (soft, hard) in TIME_LIMITS.items()
}
task_soft_time_limit = 900
task_time_limit = 960

# Redis redelivers an unacked message after visibility_timeout, counted from delivery to a
# worker. A prefetched message waits behind at most one running task, then runs itself, so
# the timeout must exceed twice the longest hard limit, or a healthy long task runs twice.
# A lost worker's scan does not wait for it: the reaper fails the run within minutes and
# queues a fresh one; a redelivery that arrives after that finds its run finished and does
# nothing (``CasbTask.scan_stage``; counted as casb_task_events_total{event="late_redelivery"}).
VISIBILITY_MARGIN_SECONDS = 600
VISIBILITY_TIMEOUT = 2 * LONGEST_TASK_SECONDS + VISIBILITY_MARGIN_SECONDS
visibility_timeout = VISIBILITY_TIMEOUT

# --------------------------------------------------------------------------- beat

DISPATCH_EVERY = 60.0
REAP_EVERY = float(get_settings().reap_every_seconds)
PRUNE_EVERY = 24 * 3600.0
RETRY_ALERTS_EVERY = 30.0
# The static schedule stays tiny; per-tenant cadence lives in PostgreSQL (next_scan_at).
# `expires` drops ticks a backlogged fleet could not run in time instead of piling them up.
beat_schedule: dict[str, dict[str, Any]] = {
    "dispatch-due-scans": {
        "task": DISPATCH_DUE_SCANS,
        "schedule": DISPATCH_EVERY,
        "options": {"queue": SCANS, "expires": DISPATCH_EVERY - 5},
    },
    "reap-stale-scans": {
        "task": REAP_STALE_SCANS,
        "schedule": REAP_EVERY,
        "options": {"queue": SCANS, "expires": REAP_EVERY - 10},
    },
    "prune-retention": {
        "task": PRUNE_RETENTION,
        "schedule": PRUNE_EVERY,
        "options": {"queue": SCANS, "expires": 3600},
    },
    # Alert retries are beat-driven: a due delivery row is re-sent by this sweep, so a retry
    # survives worker restarts without long-countdown messages sitting in Redis.
    "retry-alerts": {
        "task": RETRY_ALERTS,
        "schedule": RETRY_ALERTS_EVERY,
        "options": {"queue": NOTIFY, "expires": RETRY_ALERTS_EVERY - 5},
    },
}
beat_max_loop_interval = 60


def broker_and_backend() -> dict[str, Any]:
    """URLs and transport options from the current settings (re-read when the env changes).

    ``sentinel://`` URLs (several sentinels, ``;``-separated) use Celery's Sentinel transport
    and backend; the master's name comes from ``CASB_REDIS_SENTINEL_MASTER``.
    """
    settings = get_settings()
    options: dict[str, Any] = {"visibility_timeout": VISIBILITY_TIMEOUT}
    config: dict[str, Any] = {
        "broker_url": celery_url(settings.broker_url),
        "result_backend": celery_url(settings.result_backend),
        "broker_transport_options": dict(options),
        "result_backend_transport_options": dict(options),
    }
    for url, key in (
        (settings.broker_url, "broker_transport_options"),
        (settings.result_backend, "result_backend_transport_options"),
    ):
        if is_sentinel(url):
            config[key]["master_name"] = settings.redis_sentinel_master
    return config


_urls = broker_and_backend()
broker_url = _urls["broker_url"]
result_backend = _urls["result_backend"]
broker_transport_options = _urls["broker_transport_options"]
result_backend_transport_options = _urls["result_backend_transport_options"]

# Result backends that retry through a Redis restart or Sentinel failover instead of failing
# the chord of a task that already succeeded (workers/result_backend.py).
override_backends = {
    scheme: f"workers.result_backend:Patient{kind}Backend"
    for scheme, kind in (("redis", "Redis"), ("rediss", "Redis"), ("sentinel", "Sentinel"))
}
