"""Celery's Redis result backends, patient through a restart or a Sentinel failover.

Celery's own Redis backends build their connections without a retry policy, so one command
that meets a dead master fails at once. Most of the backend's traffic is retried by Celery
(``ensure``), but the chord bookkeeping a task does when it finishes (the header counter's
script, the join, the callback's claim) is not: a fetch task that completes while the master
is being replaced is recorded as failed, and the whole scan fails through the chord's
errback although every task succeeded. These subclasses give every backend connection the
fleet's patient retry policy (``core.redisconn.patient_retry_options``): each attempt
reconnects, and a Sentinel-managed connection asks the sentinels for the master again.

``workers.celeryconfig.override_backends`` maps the ``redis``, ``rediss`` and ``sentinel``
URL schemes to these classes for every app configured from it.
"""

from __future__ import annotations

from typing import Any

from celery.backends.redis import RedisBackend, SentinelBackend

from core.redisconn import patient_retry_options


class PatientRedisBackend(RedisBackend):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connparams.update(patient_retry_options())


class PatientSentinelBackend(SentinelBackend):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connparams.update(patient_retry_options())
