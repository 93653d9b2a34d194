"""Per-process counters of API calls and DLP bytes, flushed to Redis hashes.

Workers run in many processes and containers, so in-process Prometheus counters would each
show a fragment. Events are counted in memory here and flushed at most once a second as
``HINCRBY`` on Redis hashes (``casb:metrics:*``); ``workers.metrics`` flushes also when each
task ends and serves the hashes to Prometheus. A failing flush keeps the counts for the next.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import redis

log = logging.getLogger(__name__)

API_CALLS_KEY = "casb:metrics:api_calls"  # field "tenant\tgroup\tstatus_class" -> count
DLP_KEY = "casb:metrics:dlp"  # fields bytes, seconds, files
EVENTS_KEY = "casb:metrics:events"  # field event name -> count (rare events, written at once)
FIELD_SEP = "\t"
FLUSH_INTERVAL_SECONDS = 1.0


def status_class(status: int | None) -> str:
    """HTTP status -> a bounded label: 429 on its own (rate limits matter), else Nxx."""
    if status is None:
        return "error"
    if status == 429:
        return "429"
    if 100 <= status < 600:
        return f"{status // 100}xx"
    return "error"


# --------------------------------------------------------------------------- recording


class _Recorder:
    """Per-process counters, flushed to Redis hashes (see the module docstring)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.api: Counter[tuple[str, str, str]] = Counter()
        self.dlp_bytes = 0
        self.dlp_seconds = 0.0
        self.dlp_files = 0
        self.last_flush = time.monotonic()
        self.pid = os.getpid()
        self.client: redis.Redis | None = None
        self.redis_url: str | None = None
        self.last_warning = 0.0

    def _check_fork(self) -> None:
        if os.getpid() != self.pid:  # a forked child must not flush its parent's counts
            self.__init__()  # type: ignore[misc]

    def add_call(self, tenant: str, group: str, status: int | None) -> None:
        with self.lock:
            self._check_fork()
            self.api[(tenant or "unknown", group or "other", status_class(status))] += 1
        self.maybe_flush()

    def add_dlp(self, n: int, seconds: float, files: int) -> None:
        with self.lock:
            self._check_fork()
            self.dlp_bytes += max(0, int(n))
            self.dlp_seconds += max(0.0, float(seconds))
            self.dlp_files += max(0, int(files))
        self.maybe_flush()

    def drain(self) -> tuple[Counter[tuple[str, str, str]], int, float, int]:
        """Take the pending counts (and reset them)."""
        with self.lock:
            pending = (self.api, self.dlp_bytes, self.dlp_seconds, self.dlp_files)
            self.api = Counter()
            self.dlp_bytes, self.dlp_seconds, self.dlp_files = 0, 0.0, 0
            self.last_flush = time.monotonic()
        return pending

    def restore(self, pending: tuple[Counter[tuple[str, str, str]], int, float, int]) -> None:
        with self.lock:
            self.api.update(pending[0])
            self.dlp_bytes += pending[1]
            self.dlp_seconds += pending[2]
            self.dlp_files += pending[3]

    def maybe_flush(self) -> None:
        if time.monotonic() - self.last_flush >= FLUSH_INTERVAL_SECONDS:
            self.flush()

    def client_for_events(self) -> redis.Redis:
        with self.lock:
            self._check_fork()
        return self._redis()

    def _redis(self) -> redis.Redis:
        from core.settings import get_settings

        settings = get_settings()
        url = settings.effective_redis_url
        if self.client is None or self.redis_url != url:
            self.client = settings.redis(
                url, patient=False, socket_timeout=2, socket_connect_timeout=2
            )
            self.redis_url = url
        return self.client

    def flush(self) -> bool:
        """Write pending counts to Redis; on failure keep them for the next flush."""
        pending = self.drain()
        api, n_bytes, seconds, files = pending
        if not api and not n_bytes and not files:
            return True
        try:
            pipe = self._redis().pipeline(transaction=False)
            for (tenant, group, status), count in api.items():
                pipe.hincrby(API_CALLS_KEY, FIELD_SEP.join((tenant, group, status)), count)
            if n_bytes or files:
                pipe.hincrby(DLP_KEY, "bytes", n_bytes)
                pipe.hincrbyfloat(DLP_KEY, "seconds", seconds)
                pipe.hincrby(DLP_KEY, "files", files)
            pipe.execute()
            return True
        except Exception as exc:  # metrics must never fail a scan
            self.restore(pending)
            now = time.monotonic()
            if now - self.last_warning > 60:
                self.last_warning = now
                log.warning("metrics flush to Redis failed (%s); will retry", type(exc).__name__)
            return False


_recorder = _Recorder()
atexit.register(lambda: _recorder.flush())


def record_api_call(tenant: str, group: str, status: int | None) -> None:
    """Count one HTTP attempt to OpenAI (status None: transport error). Cheap; never raises."""
    _recorder.add_call(tenant, group, status)


def record_dlp_bytes(n: int, seconds: float, files: int = 1) -> None:
    """Count bytes the DLP matcher scanned and the seconds it took (MB/s = bytes/seconds)."""
    _recorder.add_dlp(n, seconds, files)


def record_event(name: str) -> None:
    """Count a rare event (e.g. ``late_redelivery``) in Redis at once; never raises."""
    try:
        _recorder.client_for_events().hincrby(EVENTS_KEY, name, 1)
    except Exception as exc:  # metrics must never fail a task
        log.warning("metrics event %s not recorded (%s)", name, type(exc).__name__)


def flush() -> bool:
    """Push pending counts to Redis now (worker shutdown, tests). False if Redis failed."""
    return _recorder.flush()


def reset_recorder() -> None:
    """Forget pending counts and the Redis client (tests that change CASB_REDIS_URL)."""
    global _recorder
    _recorder = _Recorder()
