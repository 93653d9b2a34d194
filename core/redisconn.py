"""Redis clients from the fleet's URLs: a plain server, or a master found through Sentinel.

A Sentinel URL lists the sentinels, Celery's way:
``sentinel://:password@host1:26379;sentinel://host2:26379;sentinel://host3:26379/0``
(``redis+sentinel://`` is accepted too). The password is the master's; the database is the
path of the last part. The master's name is ``CASB_REDIS_SENTINEL_MASTER``. Every client asks
the sentinels for the current master on each new connection, so after a failover it follows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry
from redis.sentinel import Sentinel

SENTINEL_SCHEMES = ("sentinel://", "redis+sentinel://")


@dataclass(frozen=True)
class SentinelUrl:
    hosts: tuple[tuple[str, int], ...]
    password: str | None
    db: int


def is_sentinel(url: str) -> bool:
    return url.startswith(SENTINEL_SCHEMES)


def celery_url(url: str) -> str:
    """The URL as Celery spells it (``sentinel://`` for every part)."""
    return url.replace("redis+sentinel://", "sentinel://") if is_sentinel(url) else url


def parse_sentinel_url(url: str) -> SentinelUrl:
    hosts: list[tuple[str, int]] = []
    password: str | None = None
    db = 0
    for part in celery_url(url).split(";"):
        parts = urlsplit(part.strip())
        if parts.scheme != "sentinel" or not parts.hostname:
            raise ValueError(
                "a Sentinel URL is sentinel://[:password@]host:port[;sentinel://…][/db]"
            )
        hosts.append((parts.hostname, parts.port or 26379))
        if parts.password and password is None:
            password = unquote(parts.password)
        if parts.path.strip("/"):
            db = int(parts.path.strip("/"))
    return SentinelUrl(tuple(hosts), password, db)


# A failover or restart takes seconds: a command retries through it instead of failing the
# stage that sent it. redis-py applies the policy twice, nested: around the command (each
# attempt reconnects, and a Sentinel client asks the sentinels for the master again) and
# around the socket connect of each attempt (to the address just resolved). Few attempts
# with a short backoff keep both loops short: about 5 x 2.5 s in all, re-resolving the
# master every 2.5 s, which outlasts a Sentinel failover (down-after + election).
RETRY_ATTEMPTS = 5


def patient_retry_options() -> dict[str, Any]:
    """Connection options that retry a command through a short outage or failover."""
    return {
        "retry": Retry(ExponentialBackoff(cap=1.0, base=0.05), RETRY_ATTEMPTS),
        "retry_on_error": [RedisConnectionError, RedisTimeoutError],
    }


def redis_client(
    url: str, master_name: str = "mymaster", *, patient: bool = True, **options: Any
) -> redis.Redis:
    """A client of ``url``; for Sentinel URLs, of the current master of ``master_name``.

    ``patient`` clients retry a command through a short outage (``RETRY_ATTEMPTS``, exponential
    backoff); the metrics clients are not patient (a count can wait for the next flush).
    """
    if patient:
        options = {**patient_retry_options(), **options}
    if not is_sentinel(url):
        return redis.Redis.from_url(url, **options)
    parsed = parse_sentinel_url(url)
    timeouts = {k: v for k, v in options.items() if k.startswith("socket_")}
    sentinel = Sentinel(list(parsed.hosts), sentinel_kwargs=timeouts or None, **timeouts)
    client: redis.Redis = sentinel.master_for(
        master_name, db=parsed.db, password=parsed.password, **options
    )
    return client
