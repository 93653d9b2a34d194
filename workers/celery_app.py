"""The Celery application of the scanning fleet.

``celery -A workers worker -Q fetch --pool threads -c 32`` and ``celery -A workers beat``
find ``app`` through ``workers.__init__`` (lazily, so ``core.settings`` and the CLI
stay cheap to import). Tasks live in ``tasks/`` and are registered by name; producers that
only send (the CLI, Flower, other systems) never need to import them.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from typing import Any

from celery import Celery, Task
from celery.signals import (
    after_setup_logger,
    worker_init,
    worker_process_init,
    worker_process_shutdown,
    worker_ready,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import InterfaceError, OperationalError

from workers import kombu_fixes
from workers.logging import install_celery_hooks
from workers.metrics import install_celery_hooks as install_metrics_hooks


def _quiet_chord_errback_warning(**_: Any) -> None:
    """Our chord errback is deliberately attached to the body only (fetch tasks never raise
    on API errors); Celery 5.7 warns about that default once per scan. Celery's logging setup
    turns its own warnings back to 'always', so this runs again once the worker is ready."""
    warnings.filterwarnings(
        "ignore",
        message=".*task_allow_error_cb_on_chord_header",
        category=PendingDeprecationWarning,
    )


_quiet_chord_errback_warning()
after_setup_logger.connect(_quiet_chord_errback_warning, weak=False)
worker_ready.connect(_quiet_chord_errback_warning, weak=False)
worker_process_init.connect(_quiet_chord_errback_warning, weak=False)  # prefork children

log = logging.getLogger("casb.tasks")

TASK_MODULES: tuple[str, ...] = (
    "tasks.dispatch",
    "tasks.scan",
    "tasks.fetch",
    "tasks.detect",
    "tasks.finish",
    "tasks.dlp",
    "tasks.maintenance",
    "tasks.notify",
)


class CasbTask(Task):
    """Base task: no result trail, so a task that fans out holds no child results in memory.

    PostgreSQL or Redis unreachable (restart, failover, network cut) is retried, not failed:
    every task is idempotent, so the whole task runs again later with backoff (1, 2, 4 ... 30
    s, jittered; about two minutes of outage in all) instead of failing the scan or leaving
    its run ``running`` because the errback could not write either. (A Redis client retries a
    command a few times itself, but only against the address it resolved: a Sentinel failover
    is ridden out by running the task again, which asks the sentinels anew.)
    """

    trail = False
    autoretry_for = (OperationalError, InterfaceError, RedisConnectionError, RedisTimeoutError)
    retry_backoff = True
    retry_backoff_max = 30
    retry_jitter = True
    max_retries = 12
    # A stage of one scan (first argument ``scan_id``): it keeps its run's heartbeat fresh
    # while it runs, and does nothing when the run already finished (a late redelivery).
    scan_stage = False

    def _scan_active(self, scan_id: int, probe: Callable[[int], bool]) -> bool:
        """True unless the run is known to be finished; an outage counts as active, so the
        task body runs and meets the outage where ``autoretry_for`` retries it."""
        try:
            return probe(scan_id)
        except self.autoretry_for:
            return True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not self.scan_stage:
            return super().__call__(*args, **kwargs)
        from core.metrics import record_event
        from core.settings import get_settings
        from pipeline.common import keep_alive, scan_is_active

        scan_id = int(kwargs["scan_id"] if "scan_id" in kwargs else args[0])
        if not self._scan_active(scan_id, scan_is_active):
            record_event("late_redelivery")
            log.warning(
                "%s for scan %s arrived after the scan finished (a late redelivery): nothing to do",
                self.name,
                scan_id,
            )
            return {"scan_id": scan_id, "skipped": "scan_finished"}
        settings = get_settings()
        every = min(settings.scan_heartbeat_seconds, settings.scan_stale_after_seconds / 3)
        with keep_alive(scan_id, every):
            return super().__call__(*args, **kwargs)


kombu_fixes.install()  # a worker must survive a Redis restart (see workers/kombu_fixes.py)

app = Celery("casb", task_cls=CasbTask, include=list(TASK_MODULES))
app.config_from_object("workers.celeryconfig")
celery = app

# Workers log through our formatter: JSON or console per CASB_LOG_FORMAT, tenant/scan/task
# ids on every line, keys and bearer tokens scrubbed from every record.
install_celery_hooks()
# API-call and DLP counters reach Redis when each task ends, not only on the next call.
install_metrics_hooks()


def reconfigure() -> None:
    """Re-read broker/backend URLs from the environment (tests and the demo change it)."""
    from core.settings import reset_settings_cache
    from workers.celeryconfig import broker_and_backend

    reset_settings_cache()
    app.conf.update(broker_and_backend())
    # Forget connection/producer pools and the result backend bound to the previous URLs
    # (the same reset Celery does after a fork); they are rebuilt lazily.
    app._pool = None
    if "amqp" in app.__dict__:
        app.amqp._producer_pool = None
    app._backend_cache = None
    app._local.__dict__.pop("backend", None)


def load_tasks() -> None:
    """Import every task module (a worker does this itself; in-process runs need it)."""
    import importlib

    for name in TASK_MODULES:
        importlib.import_module(name)


@worker_init.connect
def _preload(**_: Any) -> None:
    """Import in the worker's main process what every task needs but imports lazily (the
    PostgreSQL driver): prefork children inherit it instead of each importing it again."""
    import psycopg  # noqa: F401
    import sqlalchemy.dialects.postgresql.psycopg  # noqa: F401


def _forks_children(pool: Any) -> bool:
    """The worker's pool (a name or class, as ``worker_init`` sees it) forks processes."""
    name = pool if isinstance(pool, str) else getattr(pool, "__module__", "")
    return name in ("prefork", "processes") or name.endswith(".prefork")


@worker_init.connect
def _preload_policies(sender: Any = None, **_: Any) -> None:
    """A prefork worker's main process compiles (or loads) the DLP policies its tenants use
    before forking, so no child spends its first batch on them. The pool is forgotten
    afterwards: the children open their own connections."""
    if not _forks_children(getattr(sender, "pool_cls", None)):
        return
    from pipeline.dlp import preload_policies
    from store.db import dispose_engines, get_engine

    loaded = preload_policies()
    get_engine().dispose()  # closes this process's connections (the children's are their own)
    dispose_engines()
    log.info("preloaded %d DLP policies for the prefork children", loaded)


@worker_process_init.connect
def _after_fork(**_: Any) -> None:
    """A prefork child must not reuse its parent's database pool, HTTP client or Redis pool."""
    from connectors.http import close_shared_client
    from pipeline.runtime import reset_runtime
    from store.db import dispose_engines

    dispose_engines()
    close_shared_client()
    reset_runtime()


@worker_process_init.connect
def cap_child_memory(**_: Any) -> None:
    """Cap a prefork child's address space (``CASB_WORKER_MEMORY_LIMIT_MB``): a hostile file
    that would exhaust it makes the allocation fail with MemoryError, which the DLP pipeline
    turns into a truncated or skipped file, instead of the kernel's OOM killer taking the
    child (and the batch being redelivered)."""
    import resource

    from core.settings import get_settings

    limit_mb = get_settings().worker_memory_limit_mb
    if limit_mb <= 0:
        return
    limit = limit_mb * 1024 * 1024
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


@worker_process_shutdown.connect
def _on_shutdown(**_: Any) -> None:
    from connectors.http import close_shared_client

    close_shared_client()
