"""Celery's Redis result backends, patient through a restart or a Sentinel failover.

Celery's own Redis backends build their connections without a retry policy, and the chord
bookkeeping a task does when it finishes (the header counter's script, the join, the
callback's claim) is outside the retry loop that ``result_backend_always_retry`` gives result
writes. A fetch task that completed while the master was being replaced was then recorded as
failed, and the whole scan failed through the chord's errback although every task had
succeeded. These subclasses give every backend connection the fleet's retry policy
(``core.redisconn.patient_retry_options``: each attempt reconnects, and a Sentinel-managed
connection asks the sentinels for the master again), and retry a chord part's return as
long as result writes are retried (``result_backend_max_retries``, exponential backoff).
A repeated return is safe: Celery's chord script counts each header task once and lets one
claimant publish the body.

``workers.celeryconfig.override_backends`` maps the ``redis``, ``rediss`` and ``sentinel``
URL schemes to these classes for every app configured from it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from celery.backends.redis import RedisBackend, SentinelBackend
from celery.utils.time import get_exponential_backoff_interval

from core.redisconn import patient_retry_options

log = logging.getLogger(__name__)


class _PatientChordParts:
    """Retry ``on_chord_part_return`` through connection errors (mixed into a Redis backend)."""

    connparams: dict[str, Any]
    max_retries: int
    base_sleep_between_retries_ms: int
    max_sleep_between_retries_ms: int
    exception_safe_to_retry: Callable[[BaseException], bool]

    def _make_patient(self) -> None:
        self.connparams.update(patient_retry_options())

    def on_chord_part_return(self, request: Any, state: Any, result: Any, **kwargs: Any) -> Any:
        attempt = 0
        while True:
            try:
                return super().on_chord_part_return(  # type: ignore[misc]
                    request, state, result, **kwargs
                )
            except Exception as exc:
                if attempt >= self.max_retries or not self.exception_safe_to_retry(exc):
                    raise
                attempt += 1
                pause_ms = get_exponential_backoff_interval(
                    self.base_sleep_between_retries_ms,
                    attempt,
                    self.max_sleep_between_retries_ms,
                    True,
                )
                log.warning(
                    "recording chord part of task %s failed (%s); retry %d of %d",
                    request.id,
                    type(exc).__name__,
                    attempt,
                    self.max_retries,
                )
                time.sleep(pause_ms / 1000)


class PatientRedisBackend(_PatientChordParts, RedisBackend):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._make_patient()


class PatientSentinelBackend(_PatientChordParts, SentinelBackend):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._make_patient()
