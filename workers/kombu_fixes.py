"""A workaround for kombu 5.7 that keeps a worker alive when Redis restarts.

When the worker's broker connection breaks while Redis is down (a restart, a failover),
Celery's consumer first ``collect()``s the connection, which detaches the kombu transport
from its connection (``transport.client = None``), and then ``close()``s it. Closing the
Redis channel restores its unacknowledged messages, which needs a fresh Redis client, whose
parameters are read from ``transport.client``: ``AttributeError: 'NoneType' object has no
attribute 'hostname'``. Celery only ignores *connection* errors at that point, so the
AttributeError ends the whole worker ("Unrecoverable error") instead of reconnecting.

The fix: a channel whose transport is detached raises Redis's ``ConnectionError`` (one of
the transport's connection errors) when asked for connection parameters, so the cleanup is
ignored as intended and the consumer reconnects. The messages it could not restore are
still in Redis's unacked set (or gone with an unpersisted Redis); the stale-scan reaper
covers both. Reproduced by tests/integration/resilience/test_redis_restart.py.

Remove when: a kombu release no longer detaches the transport before closing its channels
(run the test above without ``install()``). The patch applies only to the kombu versions it
was written against (``PATCHED_KOMBU``); on any other version it does nothing and says so.
"""

from __future__ import annotations

import logging
from typing import Any

_PATCHED = "_casb_detached_transport_fix"
# The kombu releases whose Channel._connparams this patch was checked against.
PATCHED_KOMBU = ((5, 5), (5, 6), (5, 7))

log = logging.getLogger(__name__)


def install() -> bool:
    """Patch ``kombu.transport.redis.Channel._connparams`` once per process (idempotent).

    Returns False, and logs why, on a kombu version the patch was not checked against.
    """
    import kombu
    from kombu.transport import redis as kombu_redis

    version = tuple(int(part) for part in kombu.__version__.split(".")[:2])
    if version not in PATCHED_KOMBU:
        log.warning(
            "kombu %s: the Redis reconnect workaround is not applied (checked on %s); "
            "run tests/integration/resilience/test_redis_restart.py to see if it is needed",
            kombu.__version__,
            ", ".join(f"{major}.{minor}" for major, minor in PATCHED_KOMBU),
        )
        return False

    channel_cls: Any = kombu_redis.Channel
    original = channel_cls._connparams
    if getattr(original, _PATCHED, False):
        return True

    def _connparams(self: Any, asynchronous: bool = False) -> dict[str, Any]:
        transport = getattr(self, "connection", None)
        if transport is None or getattr(transport, "client", None) is None:
            raise kombu_redis.redis.exceptions.ConnectionError(
                "the broker connection is already closed (transport detached)"
            )
        result: dict[str, Any] = original(self, asynchronous=asynchronous)
        return result

    setattr(_connparams, _PATCHED, True)
    channel_cls._connparams = _connparams
    return True
