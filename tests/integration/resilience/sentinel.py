"""A real Redis master, one replica and three Sentinels on free loopback ports."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import redis

MASTER_NAME = "casbmaster"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():  # type: ignore[operator]
                return
        except redis.RedisError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


class SentinelCluster:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.redis_ports = [_free_port(), _free_port()]
        self.sentinel_ports = [_free_port() for _ in range(3)]
        self.procs: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def url(self) -> str:
        """The fleet's URL: every sentinel, database 0."""
        parts = [f"sentinel://127.0.0.1:{port}" for port in self.sentinel_ports]
        return ";".join(parts) + "/0"

    def start(self) -> SentinelCluster:
        self.workdir.mkdir(parents=True, exist_ok=True)
        master, replica = self.redis_ports
        self._redis(master)
        self._redis(replica, f"--replicaof 127.0.0.1 {master}")
        _wait(
            lambda: self.client(replica).info("replication").get("master_link_status") == "up",
            20,
            "the replica to sync",
        )
        for port in self.sentinel_ports:
            conf = self.workdir / f"sentinel-{port}.conf"
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {self.workdir}\n"
                f"sentinel monitor {MASTER_NAME} 127.0.0.1 {master} 2\n"
                f"sentinel down-after-milliseconds {MASTER_NAME} 1000\n"
                f"sentinel failover-timeout {MASTER_NAME} 5000\n"
                f"sentinel parallel-syncs {MASTER_NAME} 1\n"
            )
            self._spawn(port, [_binary("redis-sentinel"), str(conf)])
        for port in self.sentinel_ports:
            _wait(lambda p=port: self.client(p).ping(), 20, f"sentinel {port}")
        _wait(lambda: self.master_port() == master, 20, "the sentinels to agree on the master")
        return self

    def _redis(self, port: int, extra: str = "") -> None:
        args = [_binary("redis-server"), "--port", str(port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", str(self.workdir),
                "--dbfilename", f"dump-{port}.rdb", *extra.split()]  # fmt: skip
        self._spawn(port, args)
        _wait(lambda: self.client(port).ping(), 20, f"redis {port}")

    def _spawn(self, port: int, args: list[str]) -> None:
        log = (self.workdir / f"{port}.log").open("ab")
        self.procs[port] = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()

    def client(self, port: int) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=port, socket_timeout=2, socket_connect_timeout=2)

    def master_port(self) -> int:
        address: Any = self.client(self.sentinel_ports[0]).sentinel_get_master_addr_by_name(
            MASTER_NAME
        )
        return int(address[1])

    def kill_master(self) -> int:
        """SIGKILL the current master; returns its port once a replica was promoted."""
        old = self.master_port()
        os.killpg(self.procs[old].pid, signal.SIGKILL)
        self.procs[old].wait(timeout=10)
        _wait(lambda: self.master_port() != old, 60, "the sentinels to promote the replica")
        new = self.master_port()
        _wait(lambda: self.client(new).info("replication")["role"] == "master", 30, "promotion")
        return new

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _binary(name: str) -> str:
    return shutil.which(name) or f"/usr/bin/{name}"
