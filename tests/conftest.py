"""Shared fixtures: a throwaway PostgreSQL database and a private Redis database per run.

Integration tests talk to the real servers on 127.0.0.1 (``scripts/services.sh`` makes
sure they answer). Several test runs may share one machine, so each run creates its own
database ``casb_test_<random>`` and leases a Redis logical database (2-15) with a key
in db 0, instead of flushing anything another run might be using.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from cryptography.fernet import Fernet

from tests.processes import PG_ADMIN_URL, throwaway_database

REDIS_HOST_URL = os.environ.get("CASB_TEST_REDIS", "redis://127.0.0.1:6379")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in Path(str(item.fspath)).as_posix():
            item.add_marker(pytest.mark.integration)


def _loopback_only_resolver(host: str, port: int) -> list[str]:
    """Tests resolve names that the machine answers itself (``localhost``), nothing else:
    a download policy check must never send a DNS query off the machine."""
    import socket

    if host.lower().rstrip(".") not in ("localhost", "localhost.localdomain"):
        raise OSError(f"tests do not resolve {host!r}")
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


@pytest.fixture(autouse=True)
def _no_dns_off_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    import connectors.destinations

    monkeypatch.setattr(connectors.destinations, "system_resolver", _loopback_only_resolver)


@pytest.fixture(scope="session")
def secret_key() -> Iterator[str]:
    key = Fernet.generate_key().decode()
    old = os.environ.get("CASB_SECRET_KEY")
    os.environ["CASB_SECRET_KEY"] = key
    _reset_settings()
    yield key
    if old is None:
        os.environ.pop("CASB_SECRET_KEY", None)
    else:
        os.environ["CASB_SECRET_KEY"] = old
    _reset_settings()


def _reset_settings() -> None:
    from core.settings import reset_settings_cache

    reset_settings_cache()


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Set ``CASB_*`` variables for one test, with the settings re-read; both are undone at
    its end. Call it with the variables as keywords."""

    def apply(**variables: str) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        _reset_settings()

    yield apply
    monkeypatch.undo()
    _reset_settings()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh, empty database on the real server, dropped at the end of the run."""
    with throwaway_database(PG_ADMIN_URL, prefix="casb_test") as database:
        yield database.url


@pytest.fixture(scope="session")
def migrated_db(pg_url: str, secret_key: str) -> Iterator[str]:
    """CASB_DATABASE_URL points at the throwaway database, migrated to head."""
    old = os.environ.get("CASB_DATABASE_URL")
    os.environ["CASB_DATABASE_URL"] = pg_url
    _reset_settings()
    from store.db import dispose_engines, upgrade

    dispose_engines()
    upgrade(pg_url)
    yield pg_url
    dispose_engines()
    if old is None:
        os.environ.pop("CASB_DATABASE_URL", None)
    else:
        os.environ["CASB_DATABASE_URL"] = old
    _reset_settings()


TABLES = (
    "findings",
    "scan_runs",
    "dlp_file_cache",
    "suppressions",
    "dlp_profiles",
    "tenants",
    "alert_deliveries",
    "alert_destinations",
    "change_records",
    "part_fingerprints",
)


@pytest.fixture
def db(migrated_db: str) -> Iterator[str]:
    """A migrated database emptied before the test."""
    from sqlalchemy import text

    from store.db import get_engine

    with get_engine(migrated_db).begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    yield migrated_db


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis logical database leased for this run (flushed before and after)."""
    lease = redis.Redis.from_url(f"{REDIS_HOST_URL}/0")
    token = secrets.token_hex(8)
    deadline = time.monotonic() + 60
    chosen = None
    while chosen is None:
        for number in range(2, 16):
            if lease.set(f"casb:test-lease:{number}", token, nx=True, ex=3600):
                chosen = number
                break
        else:
            if time.monotonic() > deadline:
                raise RuntimeError("no free Redis test database (2-15) to lease")
            time.sleep(1)
    url = f"{REDIS_HOST_URL}/{chosen}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    old = {
        k: os.environ.get(k) for k in ("CASB_BROKER_URL", "CASB_RESULT_BACKEND", "CASB_REDIS_URL")
    }
    for key in old:
        os.environ[key] = url
    _reset_settings()
    yield url
    client.flushdb()
    if lease.get(f"casb:test-lease:{chosen}") == token.encode():
        lease.delete(f"casb:test-lease:{chosen}")
    for key, value in old.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    _reset_settings()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.close()
