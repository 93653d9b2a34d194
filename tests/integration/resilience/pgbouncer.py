"""A real PgBouncer on a free loopback port, in transaction mode, for one test."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg


class PgBouncer:
    """``pgbouncer`` (Debian's binary) in front of the test PostgreSQL, transaction pooling."""

    def __init__(self, database: str, *, pool_size: int = 4) -> None:
        # Not under pytest's tmp_path: pgbouncer drops root for the postgres user, which
        # cannot traverse root's private temporary directories.
        self.workdir = Path(tempfile.mkdtemp(prefix="casb-pgbouncer-"))
        self.database = database
        self.pool_size = pool_size
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{self.database}"

    def start(self) -> PgBouncer:
        binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        ini = self.workdir / "pgbouncer.ini"
        users = self.workdir / "users.txt"
        users.write_text('"postgres" ""\n')
        ini.write_text(
            "[databases]\n"
            f"{self.database} = host=127.0.0.1 port=5432 dbname={self.database}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\n"
            "auth_type = trust\n"
            f"auth_file = {users}\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {self.pool_size}\nmax_client_conn = 200\n"
            f"logfile = {self.workdir / 'pgbouncer.log'}\n"
            f"pidfile = {self.workdir / 'pgbouncer.pid'}\n"
            "ignore_startup_parameters = extra_float_digits,options\n"
        )
        os.chmod(self.workdir, 0o777)
        for path in (ini, users):
            os.chmod(path, 0o644)
        cmd = [binary, str(ini)]
        if os.geteuid() == 0:  # pgbouncer refuses to run as root
            cmd = [binary, "-u", "postgres", str(ini)]
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                with psycopg.connect(self.url.replace("+psycopg", ""), connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return self
            except psycopg.OperationalError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"pgbouncer did not start: {self.log()[-2000:]}") from None
                time.sleep(0.2)

    def log(self) -> str:
        path = self.workdir / "pgbouncer.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
