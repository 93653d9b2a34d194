"""Rescan latency of a tiny tenant, in process, inline and through a worker (by hand).

    .venv/bin/python bench/bench_rescan_latency.py [--repeat 3] [--faults issue|none]
                                                   [--size tiny] [--json out.json]

What a user waits for: ``casb scan SLUG --inline`` and ``casb scan SLUG --wait`` (a worker
subprocess, threads pool, every queue) timed as whole commands, against the simulator at
its real, unscaled limits (50 list requests a minute per endpoint, 100 file downloads a
minute). One tenant (``--size tiny``: 58 listed objects, 24 files; DLP profiles on).

Order: a worker is started and scans the tenant once (its first scan: fills the DLP cache),
then each rescan is timed: through the worker (``--wait``), as ``casb scan --inline``, and
in this process (``run_inline``, no CLI start-up). Before every timed rescan the simulator
is armed with the fixed waits of the tiny organisation the latency target was set on
(``--faults issue``): one ``429`` with ``Retry-After: 1`` on a Compliance route and one
``503`` on an Admin route, whose retry waits a full-jitter backoff of at most
``backoff_base`` (0.5 s). The bench prints those fixed waits beside the times, and the
times less those waits and less the CLI's own start (``casb scan --help``).

Also per scan through the worker: Redis commands (``INFO commandstats`` deltas of the
private ``redis-server``) and PostgreSQL transactions and row writes (``pg_stat_database``
deltas of the throwaway database, read after PostgreSQL's 10 s idle flush), for the cost
model in docs/benchmarks.md; and CPU seconds of each CLI command (``RUSAGE_CHILDREN``).

``--tree PATH`` measures another checkout with this same script: run it with that tree's
interpreter (``PATH/.venv/bin/python bench/bench_rescan_latency.py --tree PATH``); the CLI,
the worker and the in-process pipeline are then that tree's (``bench/perf_report.py`` does
this for the baseline). A private ``redis-server`` and a throwaway PostgreSQL database
(dropped at the end) are used, from this script's own checkout's ``tests/processes.py``
(loaded by path, so the other tree's interpreter runs it as it is and the product code it
imports stays that tree's).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[1]


def _load_processes() -> Any:
    spec = importlib.util.spec_from_file_location(
        "casb_bench_processes", HERE / "tests" / "processes.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


processes = _load_processes()
wait_for = processes.wait_until
#: The client's first 5xx backoff is full jitter in [0, backoff_base] (connectors/access.py).
BACKOFF_BASE = 0.5
RETRY_AFTER = 1.0
PG_IDLE_FLUSH = 11.0  # PostgreSQL 15 flushes an idle backend's statistics within 10 s


def default_tree() -> Path:
    """The checkout whose virtualenv runs this script (``TREE/.venv/bin/python``)."""
    tree = Path(sys.executable).parent.parent.parent
    return tree if (tree / "pipeline").is_dir() else HERE


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one command (which must succeed)."""
    cpu = children_cpu()
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}")
    return seconds, children_cpu() - cpu


def start_worker(tree: Path, env: dict[str, str], log: Path) -> Any:
    """``celery worker`` of the measured tree (its interpreter, cwd = that tree)."""
    worker = processes.WorkerProcess(
        env,
        log,
        pool="threads",
        concurrency=8,
        name=f"rescan-{uuid.uuid4().hex[:6]}@%h",
        log_level="WARNING",
        python=sys.executable,
        cwd=tree,
    )
    return worker.start(wait_ready=False)


def worker_cpu_seconds(worker: Any) -> float:
    """CPU seconds the worker process has used (its threads pool included)."""
    fields = Path(f"/proc/{worker.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def redis_calls(client: Any) -> dict[str, int]:
    stats = client.info("commandstats")
    return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()}


def pg_counters(admin: str, db_name: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        row = conn.execute(
            "SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted "
            "FROM pg_stat_database WHERE datname = %s",
            (db_name,),
        ).fetchone()
    assert row is not None
    names = ("commits", "rollbacks", "inserted", "updated", "deleted")
    return dict(zip(names, map(int, row), strict=True))


def delta(after: dict[str, int], before: dict[str, int], per: int) -> dict[str, float]:
    keys = set(after) | set(before)
    return {k: (after.get(k, 0) - before.get(k, 0)) / per for k in sorted(keys)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3, help="rescans timed per mode")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--size", default="tiny", help="the simulator's tenant size")
    parser.add_argument("--faults", choices=["issue", "none"], default="issue")
    parser.add_argument("--tree", type=Path, default=None, help="checkout measured")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument(
        "--pg-admin",
        default=os.environ.get("CASB_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    args = parser.parse_args()
    tree = (args.tree or default_tree()).resolve()
    out = run(args, tree)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


def run(args: argparse.Namespace, tree: Path) -> dict[str, Any]:
    import redis
    from cryptography.fernet import Fernet

    tmp = Path(tempfile.mkdtemp(prefix="casb-rescan-bench-"))
    resources = contextlib.ExitStack()
    database = resources.enter_context(processes.throwaway_database(args.pg_admin))
    db_name, db_url = database.name, database.url
    redis_server = processes.RedisServer(tmp).start()
    resources.callback(redis_server.stop)
    redis_url = redis_server.url
    casb = str(Path(sys.executable).with_name("casb"))
    sim = None
    worker: Any = None
    try:
        rclient = redis.Redis.from_url(redis_url)
        env = processes.fleet_env(
            db_url, redis_url, Fernet.generate_key().decode(), log_level="WARNING"
        )
        os.environ.update({k: v for k, v in env.items() if k.startswith("CASB_")})
        from core.settings import reset_settings_cache
        from store.db import upgrade

        reset_settings_cache()
        upgrade(db_url)
        from simulator.faults import Fault
        from simulator.files import PLANTABLE_PROFILES
        from simulator.server import start_in_thread
        from simulator.world import World
        from workers.cli.demo import allow_simulator_storage, register_simulated_tenants

        world = World.generate(1, args.seed, size=args.size, time_scale=1.0)
        sim = start_in_thread(world)
        allow_simulator_storage(sim)  # this process and the CLI / worker processes' env
        env["CASB_STORAGE_ALLOWED_HOSTS"] = os.environ["CASB_STORAGE_ALLOWED_HOSTS"]
        register_simulated_tenants(sim, dlp_profiles=list(PLANTABLE_PROFILES))
        slug = next(iter(world.tenants))
        objects = sum(
            len(getattr(world.tenant(slug), name))
            for name in ("users", "invites", "admin_keys", "projects", "gpts", "conversations")
        )
        files = len(world.tenant(slug).files)

        def arm() -> None:
            """The fixed waits of one scan: a 429 (Retry-After 1) and a 503, once each."""
            world.faults.clear(slug) if hasattr(world.faults, "clear") else None
            if args.faults == "issue":
                world.faults.add(
                    slug, Fault("rate_limit_storm", api="compliance", count=1, retry_after=1.0)
                )
                world.faults.add(slug, Fault("server_error", api="admin", count=1, status=503))

        fixed = RETRY_AFTER + BACKOFF_BASE if args.faults == "issue" else 0.0
        load = os.getloadavg()
        print(
            f"{args.size} tenant: {objects} listed objects, {files} files; simulator at real "
            f"limits; {os.cpu_count()} cores; tree {tree}; load average {load[0]:.1f}",
            flush=True,
        )
        if args.faults == "issue":
            print(
                f"fixed waits per scan (the API's own): Retry-After {RETRY_AFTER:g} s + one 5xx "
                f"backoff <= {BACKOFF_BASE:g} s = <= {fixed:g} s",
                flush=True,
            )
        starts = [timed([casb, "scan", "--help"], env, tree) for _ in range(args.repeat)]
        start = statistics.median(w for w, _ in starts)
        start_cpu = statistics.median(c for _, c in starts)
        print(
            f"CLI process start (casb scan --help), median: {start:.2f} s, CPU {start_cpu:.2f} s",
            flush=True,
        )

        results: dict[str, Any] = {}
        # Through a worker: its first scan (cold: DLP cache, compiled profiles), then rescans.
        worker = start_worker(tree, env, tmp / "worker.log")
        from celery import Celery

        app = Celery("casb-bench")
        app.config_from_object("workers.celeryconfig")
        app.conf.update(broker_url=redis_url, result_backend=redis_url)
        wait_for(lambda: len(app.control.ping(timeout=1.0)) >= 1, 90, "worker")
        counters = _counters(rclient, args.pg_admin, db_name)
        arm()
        first = timed([casb, "scan", slug, "--wait"], env, tree)
        counters_first = _counters(rclient, args.pg_admin, db_name)
        waited: list[tuple[float, float]] = []
        worker_cpu: list[float] = []
        for _ in range(args.repeat):
            arm()
            before = worker_cpu_seconds(worker)
            waited.append(timed([casb, "scan", slug, "--wait"], env, tree))
            worker_cpu.append(worker_cpu_seconds(worker) - before)
        counters_rescan = _counters(rclient, args.pg_admin, db_name)
        worker.stop()
        worker = None
        results["worker"] = waited
        cost_first = per_scan(counters_first, counters, 1)
        cost_rescan = per_scan(counters_rescan, counters_first, args.repeat)
        seconds = _scan_seconds(args.repeat + 1)

        inline: list[tuple[float, float]] = []
        for _ in range(args.repeat):
            arm()
            inline.append(timed([casb, "scan", slug, "--inline"], env, tree))
        results["inline"] = inline

        # In this process: the pipeline alone, without the CLI's start-up.
        from pipeline.inline import run_inline
        from pipeline.runtime import use_embedded

        use_embedded(True)
        arm()
        run_inline(slug)  # this process's own first run (imports, compiled profiles)
        in_process = []
        for _ in range(args.repeat):
            arm()
            in_process.append(_timed_call(lambda: run_inline(slug)))
        results["in-process"] = in_process

        out = report(results, start, fixed, first, seconds, cost_first, cost_rescan)
        out["worker_cpu"] = worker_cpu
        out["process_start_cpu"] = start_cpu
        # On an idle machine a command takes about its CPU plus the API's fixed waits (the
        # simulator's CPU apart): the load-independent reading of the latency targets.
        cli_cpu = out["modes"]["worker"]["cpu_median"]
        wait_cpu = cli_cpu + statistics.median(worker_cpu)
        inline_cpu = out["modes"]["inline"]["cpu_median"] - start_cpu
        out["idle_estimate"] = {"worker": wait_cpu, "inline_less_start": inline_cpu}
        print(
            f"{'worker CPU per rescan':>34}: median {statistics.median(worker_cpu):.2f} s; "
            f"--wait: CLI + worker CPU {wait_cpu:.2f} s (target <= 2 s + fixed waits); "
            f"--inline CPU less process start {inline_cpu:.2f} s (target <= 1 s + fixed waits)",
            flush=True,
        )
        out.update(
            size=args.size,
            objects=objects,
            files=files,
            faults=args.faults,
            tree=str(tree),
            load_average=load[0],
            load_average_end=os.getloadavg()[0],
        )
        return out
    finally:
        if worker is not None:
            worker.stop()
        if sim is not None:
            sim.stop()
        resources.close()


class Counters:
    """Redis commands and PostgreSQL counters at one moment, after PostgreSQL's idle flush.

    The flush wait doubles as a look at the idle fleet: what Redis serves while nothing
    is scanned (the worker's queue polls, the simulator's nothing) is measured over it and
    taken out of the per-scan figures (``per_scan``)."""

    def __init__(self, client: Any, admin: str, db_name: str) -> None:
        idle_from, idle_started = redis_calls(client), time.monotonic()
        time.sleep(PG_IDLE_FLUSH)
        self.redis = redis_calls(client)
        self.at = time.monotonic()
        self.idle_rate = {
            k: v / (self.at - idle_started) for k, v in delta(self.redis, idle_from, 1).items()
        }
        self.pg = pg_counters(admin, db_name)


def per_scan(after: Counters, before: Counters, scans: int) -> dict[str, dict[str, float]]:
    """Per scan between two moments: Redis less the idle background, PostgreSQL as is."""
    window = after.at - before.at  # the scans and the idle flush wait after them
    redis = delta(after.redis, before.redis, 1)
    busy = {k: max(0.0, v - after.idle_rate.get(k, 0.0) * window) / scans for k, v in redis.items()}
    return {"redis": {k: v for k, v in busy.items() if v}, "pg": delta(after.pg, before.pg, scans)}


def _counters(client: Any, admin: str, db_name: str) -> Counters:
    return Counters(client, admin, db_name)


def _scan_seconds(last: int) -> list[float]:
    """The worker-side duration (run started -> finished) of the last ``last`` runs."""
    from sqlmodel import col, select

    from schemas.tables import ScanRun
    from store.db import session_scope

    with session_scope() as session:
        runs = session.exec(select(ScanRun).order_by(col(ScanRun.id).desc()).limit(last)).all()
    return [
        (r.finished_at - r.started_at).total_seconds()
        for r in reversed(runs)
        if r.finished_at and r.started_at
    ]


def report(
    results: dict[str, Any],
    start: float,
    fixed: float,
    first: tuple[float, float],
    seconds: list[float],
    cost_first: dict[str, dict[str, float]],
    cost_rescan: dict[str, dict[str, float]],
) -> dict[str, Any]:
    out: dict[str, Any] = {"process_start": start, "fixed_waits": fixed, "modes": {}}
    for mode, label, less_start in (
        ("in-process", "in-process rescan (run_inline)", False),
        ("inline", "casb scan --inline", True),
        ("worker", "casb scan --wait (worker)", False),
    ):
        walls = [w for w, _ in results[mode]]
        cpus = [c for _, c in results[mode]]
        wall = statistics.median(walls)
        beyond = wall - fixed - (start if less_start else 0.0)
        out["modes"][mode] = {
            "wall": walls,
            "cpu": cpus,
            "median": wall,
            "cpu_median": statistics.median(cpus),
            "beyond_fixed_waits": beyond,
        }
        less = " - process start" if less_start else ""
        print(
            f"{label:>34}: median {wall:.2f} s ({', '.join(f'{v:.2f}' for v in walls)}); "
            f"CPU {statistics.median(cpus):.2f} s; minus fixed waits{less}: {beyond:.2f} s",
            flush=True,
        )
    print(f"{'worker first scan (cold)':>34}: {first[0]:.2f} s, CPU of the CLI {first[1]:.2f} s")
    if seconds:
        print(
            f"{'worker-side run, started->finished':>34}: first {seconds[0]:.2f} s, rescans "
            + ", ".join(f"{s:.2f}" for s in seconds[1:])
            + " s"
        )
    out["worker_first"] = first[0]
    out["worker_run_seconds"] = seconds
    out["per_scan"] = {"first": cost_first, "rescan": cost_rescan}
    for name, cost in (("first scan", cost_first), ("rescan", cost_rescan)):
        redis_total = sum(cost["redis"].values())
        top = sorted(cost["redis"].items(), key=lambda kv: -kv[1])[:6]
        pg = cost["pg"]
        writes = pg["inserted"] + pg["updated"] + pg["deleted"]
        print(
            f"per {name} through the worker: Redis {redis_total:.0f} commands ("
            + ", ".join(f"{k} {v:.0f}" for k, v in top)
            + f"); PostgreSQL {pg['commits']:.0f} commits, {writes:.0f} row writes "
            f"({pg['inserted']:.0f} ins, {pg['updated']:.0f} upd, {pg['deleted']:.0f} del)"
        )
    return out


def _timed_call(call: Callable[[], object]) -> tuple[float, float]:
    cpu = time.process_time()
    started = time.perf_counter()
    call()
    return time.perf_counter() - started, time.process_time() - cpu


if __name__ == "__main__":
    main()
