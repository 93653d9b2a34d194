"""The result backend rides out a short Redis outage instead of failing a finished task.

A task that completes while Redis is restarting records its chord part through the result
backend; Celery's stock backend fails that command at once (and the chord's errback then
fails the scan), the fleet's backend retries it until Redis answers again.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from celery import Celery
from celery.backends.redis import RedisBackend
from redis.exceptions import ConnectionError as RedisConnectionError

from tests.processes import RedisServer
from workers.result_backend import PatientRedisBackend

pytestmark = pytest.mark.slow


def _app(url: str) -> Celery:
    app = Celery("casb-backend-outage")
    app.config_from_object("workers.celeryconfig")
    app.conf.update(result_backend=url)
    return app


def test_the_fleet_backend_is_patient_and_celerys_own_is_not(tmp_path: Path) -> None:
    server = RedisServer(tmp_path).start()
    try:
        patient = _app(server.url).backend
        assert isinstance(patient, PatientRedisBackend)
        stock = RedisBackend(app=_app(server.url), url=server.url)
        assert patient.client.incr("parts") == 1
        assert stock.client.incr("parts") == 2

        server.stop()
        with pytest.raises(RedisConnectionError):
            stock.client.incr("parts")

        restarter = threading.Timer(0.8, server.start)
        restarter.start()
        assert patient.client.incr("parts") == 1, "answered by the restarted (empty) server"
        restarter.join()
    finally:
        server.stop()
