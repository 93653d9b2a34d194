"""The result backend rides out a short Redis outage instead of failing a finished task.

A task that completes while Redis is restarting records its chord part through the result
backend; Celery's stock backend fails that command at once (and the chord's errback then
fails the scan), the fleet's backend retries it until Redis answers again.
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

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


def test_a_chord_part_is_recorded_after_the_outage(tmp_path: Path) -> None:
    """The chord script is retried as a whole (here without connection-level retries, so the
    backend's own loop is what rides out the outage)."""
    server = RedisServer(tmp_path).start()
    try:
        backend = _app(server.url).backend
        for option in ("retry", "retry_on_error"):
            backend.connparams.pop(option)
        backend.client.ping()
        server.stop()

        restarter = threading.Timer(0.8, server.start)
        restarter.start()
        part = SimpleNamespace(id="fetch-1", group="scan-group", group_index=0, chord=None)
        backend.on_chord_part_return(part, "SUCCESS", {"count": 1})
        restarter.join()
        done = backend.client.smembers(backend.get_key_for_group("scan-group", ".d"))
        assert done == {b"fetch-1:0"}, "the part was counted once, after the restart"
    finally:
        server.stop()
