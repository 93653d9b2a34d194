"""Fixtures of the resilience tests: real worker processes, a private Redis, the simulator.

Faults are done to things these tests own, never to the servers other test runs share:
workers are subprocesses started here (``python -m celery -A workers worker ...``, killed by
their own pid or process group), "Redis restarted" is a ``redis-server`` started here on a
free port, and "PostgreSQL unavailable" is ``proxy.TcpProxy`` in front of the real server.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery
from sqlmodel import col, func, select

from schemas.tables import Finding, ScanRun, ScanStatus
from store.db import session_scope
from tests.storage import with_storage_of

REPO = Path(__file__).resolve().parents[3]
#: Simulators started by ``start_sim`` and still running: their storage is allowed.
_SIMULATORS: list[Any] = []
ALL_QUEUES = ("scans", "fetch", "detect", "dlp")
RATE_GROUPS = ("ADMIN", "AUDIT", "COMPLIANCE_LIST", "COMPLIANCE_FILE")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, step: float = 0.1) -> Any:
    """Poll ``predicate`` until it returns something truthy (bounded wait, not a timing test)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(step)


# --------------------------------------------------------------------------- worker processes


def worker_env(
    database_url: str,
    redis_url: str,
    secret_key: str,
    *,
    rate_limits: dict[str, str] | None = None,
    **settings: str,
) -> dict[str, str]:
    """The environment of a worker subprocess: only what the fleet reads, nothing inherited
    from the test run's CASB_* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASB_")}
    env.update(
        CASB_DATABASE_URL=database_url,
        CASB_BROKER_URL=redis_url,
        CASB_RESULT_BACKEND=redis_url,
        CASB_REDIS_URL=redis_url,
        CASB_SECRET_KEY=secret_key,
        CASB_LOG_FORMAT="console",
        CASB_LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    for group in RATE_GROUPS:
        env[f"CASB_RATE_LIMIT_{group}"] = (rate_limits or {}).get(group, "200/1")
    for name, value in settings.items():
        env[f"CASB_{name.upper()}"] = str(value)
    # The storage of every simulator this test started (downloads are refused elsewhere).
    return with_storage_of(env, *_SIMULATORS)


class WorkerProcess:
    """One ``celery worker`` subprocess in its own process group."""

    def __init__(
        self,
        env: dict[str, str],
        log_path: Path,
        *,
        pool: str = "prefork",
        concurrency: int = 2,
        queues: Sequence[str] = ALL_QUEUES,
        name: str | None = None,
    ) -> None:
        self.env = env
        self.log_path = log_path
        self.pool = pool
        self.concurrency = concurrency
        self.queues = tuple(queues)
        self.name = name or f"resilience-{uuid.uuid4().hex[:8]}@%h"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 30.0) -> WorkerProcess:
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = self.log_path.open("ab")
        cmd = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "workers",
            "worker",
            "-P",
            self.pool,
            "-c",
            str(self.concurrency),
            "-Q",
            ",".join(self.queues),
            "-n",
            self.name,
            "--without-mingle",
            "--without-gossip",
            "-l",
            "INFO",
        ]
        self.proc = subprocess.Popen(
            cmd,
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()

        def ready() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited at startup:\n{self.log()[-3000:]}")
            return " ready." in self.log(offset)

        wait_until(ready, timeout, "the worker to be ready")
        return self

    def log(self, offset: int = 0) -> str:
        if not self.log_path.exists():
            return ""
        with self.log_path.open("rb") as fh:
            fh.seek(offset)
            return fh.read().decode(errors="replace")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def children(self) -> list[int]:
        """The pool's child processes (prefork), from /proc."""
        try:
            text = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def rss_bytes(self) -> int:
        """Resident memory of the worker and its children."""
        total = 0
        for pid in [self.pid, *self.children()]:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            except OSError:
                continue
        return total

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool children) at once."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, timeout: float = 20.0) -> None:
        """Warm shutdown (SIGTERM), SIGKILL if it does not exit in time."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        # Reap any pool child left behind in the group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)


@pytest.fixture(autouse=True)
def _empty_leased_redis(request: pytest.FixtureRequest) -> None:
    """Start from an empty leased Redis database (this run's own): no stray message from an
    earlier test may reach the worker subprocesses started here."""
    if "redis_url" in request.fixturenames:
        client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
        client.flushdb()
        client.close()


@pytest.fixture
def spawn_worker(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start worker subprocesses; every one is stopped at the end of the test."""
    started: list[WorkerProcess] = []

    def spawn(env: dict[str, str], **kwargs: Any) -> WorkerProcess:
        worker = WorkerProcess(env, tmp_path / f"worker-{len(started)}.log", **kwargs)
        started.append(worker)
        return worker.start()

    yield spawn
    for worker in started:
        worker.stop()


# --------------------------------------------------------------------------- a private Redis


class RedisServer:
    """A ``redis-server`` owned by one test (no persistence), restartable on the same port."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        client = redis.Redis.from_url(self.url)

        def answers() -> bool:
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        wait_until(answers, 10, "the private redis-server to answer")
        client.close()
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def restart(self) -> None:
        """Stop (everything in memory is lost: no persistence) and start on the same port."""
        self.stop()
        self.start()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


# --------------------------------------------------------------------------- producing and reading


def producer(broker_url: str) -> Celery:
    """A Celery app that only sends and inspects (the fleet's config, this broker)."""
    app = Celery("casb-resilience-producer")
    app.config_from_object("workers.celeryconfig")
    app.conf.update(broker_url=broker_url, result_backend=broker_url)
    return app


def latest_run_id(tenant_id: int) -> int:
    with session_scope() as session:
        value = session.exec(
            select(func.max(ScanRun.id)).where(ScanRun.tenant_id == tenant_id)
        ).one()
    return int(value or 0)


def request_scan(app: Celery, tenant_id: int, trigger: str = "api") -> int:
    """Send ``casb.scan_tenant`` as any producer would; the new run's id."""
    before = latest_run_id(tenant_id)
    app.send_task("casb.scan_tenant", args=[tenant_id], kwargs={"trigger": trigger}, queue="scans")
    return int(
        wait_until(
            lambda: (lambda latest: latest if latest > before else 0)(latest_run_id(tenant_id)),
            30,
            f"a scan run of tenant {tenant_id}",
            step=0.05,
        )
    )


def get_run(scan_id: int) -> ScanRun:
    with session_scope() as session:
        run = session.get(ScanRun, scan_id)
        assert run is not None
        return run


def wait_finished(scan_id: int, timeout: float = 60.0) -> ScanRun:
    def finished() -> ScanRun | None:
        run = get_run(scan_id)
        return run if run.status not in ScanStatus.active() else None

    return wait_until(finished, timeout, f"scan {scan_id} to finish")


def runs_of(tenant_id: int) -> list[ScanRun]:
    with session_scope() as session:
        return list(
            session.exec(
                select(ScanRun).where(ScanRun.tenant_id == tenant_id).order_by(col(ScanRun.id))
            ).all()
        )


def finding_rows(tenant_id: int) -> list[Finding]:
    with session_scope() as session:
        return list(session.exec(select(Finding).where(Finding.tenant_id == tenant_id)).all())


def open_findings(tenant_id: int) -> set[tuple[str, str]]:
    return {
        (f.finding_type_id, f.resource_id) for f in finding_rows(tenant_id) if f.status == "open"
    }


def assert_exact_findings(tenant_id: int, expected: set[tuple[str, str]], label: str) -> None:
    """Open findings equal the ground truth, and there is exactly one row per finding."""
    rows = finding_rows(tenant_id)
    keys = [(f.finding_type_id, f.resource_id) for f in rows]
    assert len(keys) == len(set(keys)), f"{label}: duplicated finding rows"
    got = {(f.finding_type_id, f.resource_id) for f in rows if f.status == "open"}
    assert got == expected, (label, sorted(got ^ expected)[:10])
    assert len(rows) == len(expected), f"{label}: rows beyond the ground truth"


# --------------------------------------------------------------------------- tenants


def register_tenants(
    sim: Any,
    slugs: Sequence[str] | None = None,
    *,
    rename: Callable[[str], str] = lambda slug: slug,
    **extra: Any,
) -> dict[str, int]:
    """Register simulator tenants; ``rename`` maps the simulator's slug to the registered one,
    so tenants of two simulators can live in one registry. Returns {simulator slug: id}."""
    from workers.cli.demo import register_simulated_tenants

    return register_simulated_tenants(sim, slugs, rename=rename, **extra)


@pytest.fixture
def start_sim() -> Iterator[Callable[[Any], Any]]:
    """Serve simulator worlds over HTTP for the test; all stopped at its end."""
    from simulator.server import start_in_thread

    running: list[Any] = []

    def start(world: Any) -> Any:
        handle = start_in_thread(world)
        running.append(handle)
        _SIMULATORS.append(handle)
        return handle

    yield start
    for handle in running:
        handle.stop()
        _SIMULATORS.remove(handle)
