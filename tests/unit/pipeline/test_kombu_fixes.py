"""workers.kombu_fixes: a detached kombu Redis channel raises a connection error.

(Not the AttributeError that ended the worker when Redis restarted.)
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import redis
from kombu.transport import redis as kombu_redis

from workers import kombu_fixes


def test_detached_channel_raises_a_connection_error_celery_ignores() -> None:
    kombu_fixes.install()
    kombu_fixes.install()  # idempotent: wrapped once
    connparams: Any = kombu_redis.Channel._connparams
    assert getattr(connparams, "_casb_detached_transport_fix", False)
    for detached in (
        SimpleNamespace(connection=None),
        SimpleNamespace(connection=SimpleNamespace(client=None)),
    ):
        with pytest.raises(redis.exceptions.ConnectionError):
            connparams(detached)
    # It is one of the errors the transport declares, so Celery's cleanup ignores it.
    assert issubclass(redis.exceptions.ConnectionError, kombu_redis.Transport.connection_errors)
