"""HTTP/2 against HTTP/1.1 over TLS for the API clients: client CPU per request and requests/s.

    .venv/bin/python bench/http2_bench.py [--pages 1500] [--threads 1,4] [--repeat 3]
                                          [--instructions 150] [--json out.json]

The simulator runs in a subprocess (hypercorn over TLS, HTTP/2 and HTTP/1.1 offered by ALPN,
a CA made for the run and trusted through ``CASB_CA_BUNDLE``; its rate limiter off). This
process lists Admin API pages (``/organization/users?limit=20``) through the product's own
``connectors.http.ApiSession`` and ``shared_client()``, once with ``CASB_HTTP2=off`` (TLS
HTTP/1.1: one client per process) and once with ``auto`` (TLS HTTP/2: one client per
thread): the same server, the same requests, only the client's protocol differs. The rate
budget is local and so large that it never waits. ``--threads`` threads list at once (one
tenant each); the modes
alternate ``--repeat`` times and the median of each is printed.

Figures: wall requests/s, the client's CPU per request (this process: the server is apart),
the server's CPU per request (its /proc counters), and the HTTP/2 / HTTP/1.1 ratio of each.
``--instructions P`` also counts the client's instructions per request under callgrind
(a client subprocess per mode at P and 2P pages; the difference removes start-up and the
TLS handshake), which the machine's load does not move. The load average is printed before
and after: wall and CPU times on a shared 2-core machine are noisy, ratios less so.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MODES = {"h1": "off", "h2": "auto"}  # label -> CASB_HTTP2
PAGE = 20


# --------------------------------------------------------------------------- the server side


def serve() -> None:
    """Subprocess: the simulator over TLS; prints how to reach it, runs until stdin closes."""
    from simulator.ratelimit import RateLimitConfig
    from simulator.server import start_tls_in_thread
    from simulator.world import World

    world = World.generate(
        tenants=4, seed=7, size="small", rate_limits=RateLimitConfig(enabled=False)
    )
    sim = start_tls_in_thread(world, Path(tempfile.mkdtemp(prefix="casb-h2-bench-")))
    info = {
        "admin_base": sim.admin_base,
        "ca": str(sim.tls.ca_cert) if sim.tls else "",
        "keys": [t.credentials()["admin_key"] for t in world.tenants.values()],
    }
    print(json.dumps(info), flush=True)
    sys.stdin.read()
    sim.stop()


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- the client side


def use_mode(info: dict[str, Any], mode: str) -> None:
    """Point the product's settings at the run's CA and the mode's CASB_HTTP2."""
    from core.settings import reset_settings_cache

    os.environ["CASB_CA_BUNDLE"] = info["ca"]
    os.environ["CASB_HTTP2"] = MODES[mode]
    reset_settings_cache()


def list_pages(info: dict[str, Any], pages: int, threads: int) -> tuple[float, float, set[str]]:
    """List ``pages`` pages over ``threads`` threads: (wall seconds, client CPU, versions)."""
    from pydantic import SecretStr

    from connectors.http import ApiSession, CallEvent
    from connectors.ratelimit import LocalRateBudget

    budget = LocalRateBudget({g: (10**9, 1.0) for g in ("admin", "audit")})
    versions: set[str] = set()

    def observe(event: CallEvent) -> None:
        if event.http_version:
            versions.add(event.http_version)

    sessions = [
        ApiSession(
            tenant_key=f"bench-{i}",
            api="admin",
            base_url=info["admin_base"],
            key=SecretStr(info["keys"][i % len(info["keys"])]),
            budget=budget,
            observer=observe,
        )
        for i in range(threads)
    ]
    ready = threading.Barrier(threads + 1)
    errors: list[BaseException] = []

    def work(session: ApiSession, count: int) -> None:
        try:
            # One warm-up page: the thread's client, its connection and the TLS handshake
            # are not measured.
            session.get_json("/organization/users", route="users", group="admin")
        except BaseException as exc:
            errors.append(exc)
            count = 0
        ready.wait()
        try:
            for _ in range(count):
                session.get_json(
                    "/organization/users", route="users", group="admin", params={"limit": PAGE}
                )
        except BaseException as exc:
            errors.append(exc)

    share = [pages // threads + (1 if i < pages % threads else 0) for i in range(threads)]
    pairs = zip(sessions, share, strict=True)
    workers = [threading.Thread(target=work, args=pair) for pair in pairs]
    for w in workers:
        w.start()
    ready.wait()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for w in workers:
        w.join()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    if errors:
        raise errors[0]
    return wall, cpu, versions


def client_only(info_path: Path, mode: str, pages: int) -> None:
    """Subprocess under callgrind: one mode, one thread, ``pages`` pages."""
    info = json.loads(info_path.read_text())
    use_mode(info, mode)
    list_pages(info, pages, 1)


# --------------------------------------------------------------------------- instructions


def callgrind_instructions(info_path: Path, mode: str, pages: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                sys.executable,
                __file__,
                "--client",
                mode,
                "--pages",
                str(pages),
                "--info",
                str(info_path),
            ],
            check=True,
            capture_output=True,
            cwd=ROOT,
        )
        for line in out.read_text().splitlines():
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError("callgrind wrote no instruction total")


def instructions_per_request(info: dict[str, Any], pages: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        info_path = Path(tmp) / "info.json"
        info_path.write_text(json.dumps(info))
        result = {}
        for mode in MODES:
            small = callgrind_instructions(info_path, mode, pages)
            large = callgrind_instructions(info_path, mode, 2 * pages)
            result[mode] = (large - small) / pages
        return result


# --------------------------------------------------------------------------- the run


def run(args: argparse.Namespace) -> dict[str, Any]:
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert server.stdout is not None and server.stdin is not None
    try:
        info = json.loads(server.stdout.readline())
        figures: dict[str, Any] = {"load_before": os.getloadavg(), "threads": {}}
        for threads in args.threads:
            samples: dict[str, list[tuple[float, float, float]]] = {m: [] for m in MODES}
            for _ in range(args.repeat):
                for mode in MODES:
                    use_mode(info, mode)
                    server_cpu0 = cpu_of(server.pid)
                    wall, cpu, versions = list_pages(info, args.pages, threads)
                    server_cpu = cpu_of(server.pid) - server_cpu0
                    expected = "HTTP/2" if mode == "h2" else "HTTP/1.1"
                    assert versions == {expected}, (mode, versions)
                    samples[mode].append((wall, cpu, server_cpu))
            figures["threads"][threads] = {
                mode: {
                    "requests_per_s": args.pages / statistics.median(s[0] for s in rows),
                    "client_cpu_ms": 1000 * statistics.median(s[1] for s in rows) / args.pages,
                    "server_cpu_ms": 1000 * statistics.median(s[2] for s in rows) / args.pages,
                }
                for mode, rows in samples.items()
            }
        if args.instructions:
            figures["instructions"] = instructions_per_request(info, args.instructions)
        figures["load_after"] = os.getloadavg()
        return figures
    finally:
        server.stdin.close()
        server.wait(30)


def report(figures: dict[str, Any], pages: int) -> None:
    load = " ".join(f"{x:.2f}" for x in figures["load_before"])
    print(f"load average before: {load}  (2 cores, shared)")
    print(f"{pages} Admin list pages ({PAGE} users each) per mode, TLS, rate budget off")
    print(
        f"{'threads':>7} {'mode':>5} {'req/s':>8} {'client CPU ms/req':>18} "
        f"{'server CPU ms/req':>18}"
    )
    for threads, modes in figures["threads"].items():
        for mode, row in modes.items():
            print(
                f"{threads:>7} {mode:>5} {row['requests_per_s']:>8.0f} "
                f"{row['client_cpu_ms']:>18.3f} {row['server_cpu_ms']:>18.3f}"
            )
        h1, h2 = modes["h1"], modes["h2"]
        print(
            f"{threads:>7} {'h2/h1':>5} {h2['requests_per_s'] / h1['requests_per_s']:>8.2f} "
            f"{h2['client_cpu_ms'] / h1['client_cpu_ms']:>18.2f} "
            f"{h2['server_cpu_ms'] / h1['server_cpu_ms']:>18.2f}"
        )
    if "instructions" in figures:
        ins = figures["instructions"]
        print(
            f"client instructions per request (callgrind): h1 {ins['h1']:,.0f}  "
            f"h2 {ins['h2']:,.0f}  h2/h1 {ins['h2'] / ins['h1']:.2f}"
        )
    load = " ".join(f"{x:.2f}" for x in figures["load_after"])
    print(f"load average after: {load}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=1500)
    parser.add_argument("--threads", type=lambda s: [int(x) for x in s.split(",")], default=[1, 4])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--instructions", type=int, default=0, metavar="P")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--client", choices=list(MODES), help=argparse.SUPPRESS)
    parser.add_argument("--info", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    if args.client:
        client_only(args.info, args.client, args.pages)
        return
    figures = run(args)
    report(figures, args.pages)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
