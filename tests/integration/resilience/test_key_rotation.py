"""``casb keys rotate`` re-encrypts every stored secret under a new key while the fleet scans.

The rotation procedure: workers run with the new key as CASB_SECRET_KEY and the old one as
CASB_SECRET_KEY_PREVIOUS (both decrypt); the command rewrites each token still under the old
key; scans keep succeeding throughout; afterwards every token decrypts under the new key alone.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from cryptography.fernet import Fernet, MultiFernet
from sqlmodel import Session, select

from core.settings import reset_settings_cache
from schemas.tables import ScanStatus, Tenant
from simulator.world import World
from store.crypto import is_current
from store.db import session_scope
from store.keyrotation import rotate_secrets
from tests.cli import run_cli
from tests.integration.resilience.conftest import (
    WorkerProcess,
    producer,
    register_tenants,
    request_scan,
    wait_finished,
    worker_env,
)

pytestmark = pytest.mark.slow


def _tokens() -> list[str]:
    with session_scope() as session:
        tenants = session.exec(select(Tenant)).all()
    return [t for tenant in tenants for t in (tenant.admin_key_enc, tenant.compliance_key_enc) if t]


def test_rotation_under_a_running_fleet_fails_no_scan(
    db: str,
    redis_url: str,
    secret_key: str,
    start_sim: Callable[[Any], Any],
    spawn_worker: Callable[..., WorkerProcess],
) -> None:
    world = World.generate(tenants=4, seed=41, size="tiny")
    sim = start_sim(world)
    ids = register_tenants(sim)  # encrypted under the old key (the session's CASB_SECRET_KEY)
    old, new = Fernet(secret_key.encode()), Fernet.generate_key().decode()
    primary = Fernet(new.encode())
    spawn_worker(
        worker_env(db, redis_url, new, secret_key_previous=secret_key),
        pool="threads",
        concurrency=8,
    )
    app = producer(redis_url)

    first = [request_scan(app, tid) for tid in ids.values()]
    assert [wait_finished(scan_id, 120).status for scan_id in first] == [
        ScanStatus.SUCCEEDED.value
    ] * len(ids)

    # Rotate one row per transaction and start a tenant's scan after each: the scans read
    # tenants whose tokens are half old, half new while the rotation goes on.
    pending = list(ids.values())
    during: list[int] = []

    @contextmanager
    def batch_then_scan() -> Iterator[Session]:
        with session_scope() as session:
            yield session
        if pending:
            during.append(request_scan(app, pending.pop(0)))

    report = rotate_secrets(batch_then_scan, MultiFernet([primary, old]), primary, batch_size=1)
    statuses = [wait_finished(scan_id, 120).status for scan_id in during]
    after = [request_scan(app, tid) for tid in ids.values()]
    statuses += [wait_finished(scan_id, 120).status for scan_id in after]
    assert len(during) == len(ids)
    assert statuses == [ScanStatus.SUCCEEDED.value] * len(statuses)
    assert report.rotated == len(_tokens()) and report.unreadable == []
    assert all(is_current(primary, token) for token in _tokens())
    again = rotate_secrets(session_scope, MultiFernet([primary, old]), primary)
    assert (again.rotated, again.current) == (0, len(_tokens())), "idempotent"


def test_an_interrupted_rotation_resumes_where_it_stopped(
    db: str, secret_key: str, start_sim: Callable[[Any], Any]
) -> None:
    sim = start_sim(World.generate(tenants=3, seed=42, size="tiny"))
    register_tenants(sim)
    old, primary = Fernet(secret_key.encode()), Fernet(Fernet.generate_key())
    total = len(_tokens())
    commits = 0

    @contextmanager
    def dies_after_two_batches() -> Iterator[Session]:
        nonlocal commits
        if commits == 2:
            raise RuntimeError("the rotating process was killed")
        with session_scope() as session:
            yield session
        commits += 1

    with pytest.raises(RuntimeError):
        rotate_secrets(dies_after_two_batches, MultiFernet([primary, old]), primary, batch_size=1)
    halfway = sum(is_current(primary, t) for t in _tokens())
    assert 0 < halfway < total
    rest = rotate_secrets(session_scope, MultiFernet([primary, old]), primary, batch_size=1)
    assert (rest.rotated, rest.current) == (total - halfway, halfway)
    assert all(is_current(primary, t) for t in _tokens())


@contextmanager
def _keys(current: str, previous: str | None = None) -> Iterator[None]:
    """The CLI's environment for one call (settings are cached per process)."""
    saved = {k: os.environ.get(k) for k in ("CASB_SECRET_KEY", "CASB_SECRET_KEY_PREVIOUS")}
    os.environ["CASB_SECRET_KEY"] = current
    os.environ.pop("CASB_SECRET_KEY_PREVIOUS", None)
    if previous:
        os.environ["CASB_SECRET_KEY_PREVIOUS"] = previous
    reset_settings_cache()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        reset_settings_cache()


def test_the_command_names_secrets_no_key_can_read(
    db: str, secret_key: str, start_sim: Callable[[Any], Any]
) -> None:
    sim = start_sim(World.generate(tenants=1, seed=43, size="tiny"))
    register_tenants(sim)
    dry = run_cli("keys", "rotate", "--dry-run")
    assert dry.code == 0 and "would re-encrypt 0 secret(s)" in dry.output
    unrelated = Fernet.generate_key().decode()
    with _keys(unrelated):
        result = run_cli("keys", "rotate")
    assert result.code == 2
    assert "tenants:tenant-01.admin_key_enc" in result.output
    assert "CASB_SECRET_KEY_PREVIOUS" in result.output
    for token in _tokens():
        assert token not in result.output
    with _keys(unrelated, previous=secret_key):
        moved = run_cli("keys", "rotate")
    assert moved.code == 0, moved.output
    assert "CASB_SECRET_KEY_PREVIOUS can be removed" in moved.output
    assert all(is_current(Fernet(unrelated.encode()), t) for t in _tokens())
