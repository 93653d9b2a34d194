"""Processes and databases the integration tests and the benches start for themselves.

Plain helpers, no pytest: ``bench/`` imports them too. A throwaway PostgreSQL database
(created on the server of an admin URL, dropped with ``FORCE`` at the end), a private
``redis-server`` on a free loopback port (no persistence, restartable on the same port) and
``celery worker`` subprocesses in their own process groups.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import redis

REPO = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get("CASB_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")
ALL_QUEUES = ("scans", "fetch", "detect", "dlp")


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


def fleet_env(database_url: str, redis_url: str, secret_key: str, **casb: str) -> dict[str, str]:
    """The environment of a fleet process on a private database and Redis: this process's
    environment without any ``CASB_*`` variable, then the fleet's URLs and key, then ``casb``
    (``log_level="INFO"`` sets ``CASB_LOG_LEVEL``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASB_")}
    env.update(
        CASB_DATABASE_URL=database_url,
        CASB_BROKER_URL=redis_url,
        CASB_RESULT_BACKEND=redis_url,
        CASB_REDIS_URL=redis_url,
        CASB_SECRET_KEY=secret_key,
    )
    env.update({f"CASB_{name.upper()}": value for name, value in casb.items()})
    return env


# --------------------------------------------------------------------------- a throwaway database


@dataclass(frozen=True)
class Database:
    name: str
    libpq: str
    """``postgresql://…/name`` (psycopg)."""
    url: str
    """``postgresql+psycopg://…/name`` (SQLAlchemy, ``CASB_DATABASE_URL``)."""


@contextlib.contextmanager
def throwaway_database(
    admin_url: str = PG_ADMIN_URL, prefix: str = "casb_bench"
) -> Iterator[Database]:
    """A fresh, empty database on the server of ``admin_url``, dropped at the end."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    libpq = f"{admin_url.rsplit('/', 1)[0]}/{name}"
    try:
        yield Database(name, libpq, libpq.replace("postgresql://", "postgresql+psycopg://", 1))
    finally:
        from store.db import dispose_engines

        dispose_engines()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --------------------------------------------------------------------------- a private Redis


class RedisServer:
    """A private ``redis-server`` (no persistence), restartable on the same port."""

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


# --------------------------------------------------------------------------- worker processes


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
        log_level: str = "INFO",
        python: str = sys.executable,
        cwd: Path = REPO,
    ) -> None:
        """``python`` and ``cwd`` run another checkout's code (a bench's baseline tree)."""
        self.env = env
        self.python = python
        self.cwd = cwd
        self.log_path = log_path
        self.pool = pool
        self.concurrency = concurrency
        self.queues = tuple(queues)
        self.name = name or f"worker-{uuid.uuid4().hex[:8]}@%h"
        self.log_level = log_level
        self.proc: subprocess.Popen[bytes] | None = None
        self._asked_to_stop = False
        self.peak_rss = 0

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 30.0, *, wait_ready: bool = True) -> WorkerProcess:
        """Start the worker; with ``wait_ready`` until its log says ``ready.`` (INFO level)."""
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._asked_to_stop = False
        log = self.log_path.open("ab")
        cmd = [
            self.python,
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
            self.log_level,
        ]
        self.proc = subprocess.Popen(
            cmd,
            cwd=self.cwd,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        if not wait_ready:
            return self

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

    def problems(self, limit: int = 8000) -> str:
        """The log's warnings, errors and tracebacks (last ``limit`` characters), for an
        assertion message that says which task failed and why."""
        kept: list[str] = []
        in_traceback = False
        for line in self.log().splitlines():
            if line.startswith("Traceback") or (in_traceback and line[:1] in (" ", "")):
                in_traceback = True
                kept.append(line)
                continue
            in_traceback = False
            if any(level in line for level in (" WARNING ", " ERROR ", " CRITICAL ")):
                kept.append(line)
            elif kept and line[:1] not in (" ", "") and not line[:4].isdigit():
                kept.append(line)  # the exception line that closes a traceback
        return "\n".join(kept)[-limit:]

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

    def sample(self) -> None:
        """Remember the highest ``rss_bytes`` seen (``peak_rss``)."""
        self.peak_rss = max(self.peak_rss, self.rss_bytes())

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool children) at once."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def ask_to_stop(self) -> None:
        """Begin a warm shutdown (SIGTERM) without waiting: ``stop`` then waits for it."""
        if self.proc is not None and self.proc.poll() is None and not self._asked_to_stop:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self._asked_to_stop = True

    def stop(self, timeout: float = 20.0) -> None:
        """Warm shutdown (SIGTERM), SIGKILL if it does not exit in time."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self.ask_to_stop()
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        # Reap any pool child left behind in the group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
