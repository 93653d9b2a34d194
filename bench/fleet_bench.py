"""Fleet benchmark: many tenants scanned end to end by real workers (run by hand; prints numbers).

    .venv/bin/python bench/fleet_bench.py [--small 50] [--small-size small]
                                          [--large 1] [--large-size large]
                                          [--fetch-concurrency 16] [--dlp-concurrency 2]
                                          [--modes fleet,inline] [--baseline-tree DIR]

What runs, as deployed: the simulator serves N small tenants and M large ones over HTTP
(two simulator servers, so the sizes differ); a private ``redis-server`` on a free port is
the broker, result backend and rate-budget store; a throwaway PostgreSQL database (created
on the server at ``--pg-admin``, dropped at the end) holds the registry and findings. Two
worker subprocesses: ``-Q scans,fetch,detect -P threads`` and ``-Q dlp -P prefork``. Every
tenant has DLP profiles. One ``casb.dispatch_due_scans`` (what beat sends every minute)
starts every scan; the bench waits until every run has finished.

Modes (``--modes``, run one after the other, each on fresh worlds, simulators, database
and Redis): ``fleet`` (the workers above) and ``inline`` (the same tenants scanned by
``pipeline.inline.run_inline`` in one process, ``--inline-threads`` tenants at a time, as
``casb scan --inline`` does for one). ``--baseline-tree DIR`` runs every mode first with
the code of another checkout (its own ``.venv``; workers and the inline process import
from there, the simulator stays this tree's), so before and after are measured in one run
under the same load.

The simulator applies the documented per-key limits on a window shortened by
``--time-scale`` and the workers get the same limits as their shared budget, so requests/s is
what the budget allows, and "violations" are requests the simulator had to refuse (429).

Printed per mode: files/s and API requests/s (wall from dispatch to the last scan), tenants
per minute, p50/p95 scan duration, DLP MB/s end to end, and CPU seconds apart: the scanner
(worker process trees, or the inline process), the simulator (the bench process less its
own polling threads), redis-server and the database's backends, with the scanner's CPU per
file and per request. The summary puts each figure beside its baseline. Nothing here
touches the shared Redis; PostgreSQL only gets temporary databases.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.processes import (  # noqa: E402  (the repository root is on the path from here)
    RedisServer,
    WorkerProcess,
    fleet_env,
    throwaway_database,
    wait_until,
)

RATE_GROUPS = ("ADMIN", "AUDIT", "COMPLIANCE_LIST", "COMPLIANCE_FILE")
# The pacing before adaptive budgets: GCRA at 90% of the limit, one request at a time.
LEGACY_POLICY = {
    "CASB_RATE_BURST_SHARE": "0",
    "CASB_RATE_HEADROOM": "0.9",
    "CASB_RATE_WINDOW_MARGIN": "0",
}


CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int, *, reaped: bool = True) -> float:
    """CPU seconds (user + system) of a process, with its waited-for children when ``reaped``."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    # fields[0] is the state (stat field 3): utime, stime, cutime, cstime are fields 14-17
    ticks = int(fields[11]) + int(fields[12])
    if reaped:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / CLK_TCK


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process, its reaped children and its live children (prefork pool)."""
    total = proc_cpu(pid)
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        total += sum(proc_cpu(int(c)) for c in children)
    return total


def tree_cpu_split(pid: int) -> tuple[float, float]:
    """(this process alone, its live children) CPU seconds."""
    own = proc_cpu(pid)
    return own, tree_cpu(pid) - own


def venv_python(tree: Path) -> str:
    return str(tree / ".venv" / "bin" / "python") if tree != REPO else sys.executable


def worker(
    env: dict[str, str], log: Path, pool: str, conc: int, queues: str, tree: Path
) -> WorkerProcess:
    """A celery worker of ``tree``'s code (its own interpreter), started without waiting."""
    process = WorkerProcess(
        env,
        log,
        pool=pool,
        concurrency=conc,
        queues=queues.split(","),
        name=f"bench-{uuid.uuid4().hex[:6]}@%h",
        log_level="WARNING",
        python=venv_python(tree),
        cwd=tree,
    )
    return process.start(wait_ready=False)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


# The inline mode's process: the tree's own code scans the tenants with run_inline, a few at a
# time in threads (as the demo does), between a "go" and a "stop" line on stdin.
INLINE_CHILD = r"""
import json, sys, time
from concurrent.futures import ThreadPoolExecutor
from pipeline.inline import run_inline
from pipeline.runtime import use_embedded
from schemas.tables import ScanTrigger

use_embedded(True)
ids = [int(x) for x in sys.argv[1].split(",")]
threads = int(sys.argv[2])
print("ready", flush=True)
sys.stdin.readline()
started = time.monotonic()
with ThreadPoolExecutor(max_workers=threads) as pool:
    results = list(pool.map(lambda tid: run_inline(tid, ScanTrigger.MANUAL), ids))
wall = time.monotonic() - started
print(json.dumps({"wall": wall, "statuses": [r.get("status") for r in results]}), flush=True)
sys.stdin.readline()
"""


@dataclass
class Result:
    """What one mode measured."""

    label: str
    wall: float = 0.0
    tenants: int = 0
    files: int = 0
    requests: int = 0
    violations: int = 0
    dlp_bytes: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    durations: list[float] = field(default_factory=list)
    large_runs: list[float] = field(default_factory=list)
    downloads: list[tuple[float, int]] = field(default_factory=list)
    """The large tenants' storage downloads so far, sampled every 0.2 s after dispatch."""
    scanner_cpu: dict[str, float] = field(default_factory=dict)
    sim_cpu: float = 0.0
    redis_cpu: float = 0.0
    pg_cpu: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)
    peak_rss: dict[str, int] = field(default_factory=dict)

    @property
    def fleet_cpu(self) -> float:
        return sum(self.scanner_cpu.values())

    def per(self, n: int) -> float:
        return self.fleet_cpu / n * 1000 if n else float("nan")


class PgBackends:
    """CPU of the backends serving one database (sampled, since pooled ones come and go)."""

    def __init__(self, admin_url: str, db_name: str) -> None:
        import psycopg

        self.conn = psycopg.connect(admin_url, autocommit=True)
        self.db_name = db_name
        self.cpu: dict[int, float] = {}

    def sample(self) -> None:
        rows = self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (self.db_name,),
        ).fetchall()
        for (pid,) in rows:
            self.cpu[pid] = max(self.cpu.get(pid, 0.0), proc_cpu(pid, reaped=False))

    def total(self) -> float:
        return sum(self.cpu.values())

    def close(self) -> None:
        self.conn.close()


class Stage:
    """One mode's world: database, Redis, simulators, registered tenants."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="casb-fleet-bench-"))
        self.db_name = ""
        self.redis = RedisServer(self.tmp)
        self.resources = contextlib.ExitStack()
        self.sims: list[Any] = []
        self.env: dict[str, str] = {}
        self.tenant_ids: list[int] = []
        self.total_files = 0
        self.large_files: list[int] = []
        self.limits: dict[str, tuple[int, float]] = {}

    def start(self) -> None:
        from cryptography.fernet import Fernet

        args = self.args
        database = self.resources.enter_context(throwaway_database(args.pg_admin))
        self.db_name, db_url = database.name, database.url
        self.redis.start()
        self.resources.callback(self.redis.stop)
        self.redis_url = redis_url = self.redis.url
        from connectors.ratelimit import DEFAULT_LIMITS, scale_limits

        self.limits = limits = scale_limits(DEFAULT_LIMITS, 1.0 / args.time_scale)
        env = fleet_env(db_url, redis_url, Fernet.generate_key().decode(), log_level="WARNING")
        env.update(
            **(LEGACY_POLICY if args.rate_policy == "legacy" else {}),
            **{
                f"CASB_RATE_LIMIT_{g}": f"{n}/{p:g}"
                for g, (n, p) in ((g.upper(), v) for g, v in limits.items())
                if g in RATE_GROUPS
            },
        )
        env.update(dict(item.split("=", 1) for item in args.env))
        os.environ.update({k: v for k, v in env.items() if k.startswith("CASB_")})
        self.env = env

        from core.settings import reset_settings_cache
        from store.db import dispose_engines, upgrade

        reset_settings_cache()
        dispose_engines()
        upgrade(db_url)

        from simulator.files import PLANTABLE_PROFILES
        from simulator.server import start_in_thread
        from simulator.world import World
        from workers.cli.demo import allow_simulator_storage, register_simulated_tenants

        t_gen = time.monotonic()
        worlds = [
            (
                "s",
                World.generate(
                    args.small, args.seed, size=args.small_size, time_scale=args.time_scale
                ),
            )
        ]
        if args.large:
            worlds.append(
                (
                    "l",
                    World.generate(
                        args.large, args.seed + 1, size=args.large_size, time_scale=args.time_scale
                    ),
                )
            )
        print(f"generated worlds in {time.monotonic() - t_gen:.1f}s", flush=True)
        for prefix, world in worlds:
            sim = start_in_thread(world)
            self.sims.append(sim)
            allow_simulator_storage(sim)  # this process (registration) and the workers' env
            env["CASB_STORAGE_ALLOWED_HOSTS"] = os.environ["CASB_STORAGE_ALLOWED_HOSTS"]
            self.total_files += sum(len(tenant.files) for tenant in world.tenants.values())
            if prefix == "l":
                self.large_files = [len(t.files) for t in world.tenants.values()]
            ids = register_simulated_tenants(
                sim,
                rename=lambda slug, prefix=prefix: f"{prefix}-{slug}",
                dlp_profiles=list(PLANTABLE_PROFILES),
            )
            self.tenant_ids += list(ids.values())
        print(f"{len(self.tenant_ids)} tenants, {self.total_files} files registered", flush=True)

    def stop(self) -> None:
        for sim in self.sims:
            sim.stop()
        self.resources.close()


class CpuWindow:
    """CPU of this process less its own bookkeeping threads: the simulators' share."""

    def __init__(self) -> None:
        self.process = time.process_time()
        self.main = time.thread_time()
        self.sampler = 0.0

    def simulator(self) -> float:
        own = time.thread_time() - self.main
        return time.process_time() - self.process - own - self.sampler


def collect(stage: Stage, result: Result, wall: float) -> None:
    """Runs, DLP cache and simulator counters of a finished mode into ``result``."""
    from sqlmodel import select

    from schemas.tables import DlpFileCache, ScanRun
    from store.db import session_scope

    with session_scope() as session:
        runs = session.exec(select(ScanRun)).all()
        cache = session.exec(select(DlpFileCache)).all()
    result.wall = wall
    result.tenants = len(runs)
    result.durations = [
        (r.finished_at - r.started_at).total_seconds()
        for r in runs
        if r.finished_at is not None and r.started_at is not None
    ]
    for r in runs:
        result.statuses[r.status] = result.statuses.get(r.status, 0) + 1
    result.dlp_bytes = sum(int((c.result or {}).get("size") or 0) for c in cache)
    for c in cache:
        result.outcomes[c.outcome] = result.outcomes.get(c.outcome, 0) + 1
    result.files = len(cache)
    for sim in stage.sims:
        for tstats in sim.stats()["tenants"].values():
            result.requests += tstats["requests"]
            result.violations += tstats["violations"]
    result.large_runs = [
        (r.finished_at - r.started_at).total_seconds()
        for r in runs
        if r.finished_at and r.started_at and r.tenant_id > stage.args.small
    ]


def sampling(
    tick: Any, window: CpuWindow, stop: threading.Event, every: float = 0.25
) -> threading.Thread:
    def loop() -> None:
        start = time.thread_time()
        while not stop.is_set():
            tick()
            window.sampler = time.thread_time() - start
            time.sleep(every)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread


def run_fleet(args: argparse.Namespace, stage: Stage, tree: Path, label: str) -> Result:
    from celery import Celery
    from sqlmodel import select

    from schemas.tables import ScanRun, ScanStatus
    from store.db import session_scope

    env, tmp = stage.env, stage.tmp
    n_tenants = len(stage.tenant_ids)
    workers = {
        "fetch": worker(
            env, tmp / "worker-fetch.log", "threads", args.fetch_concurrency,
            "scans,fetch,detect", tree,
        ),
        "dlp": worker(env, tmp / "worker-dlp.log", "prefork", args.dlp_concurrency, "dlp", tree),
    }  # fmt: skip
    result = Result(label)
    pg = PgBackends(args.pg_admin, stage.db_name)
    try:
        app = Celery("casb-bench")
        app.config_from_object("workers.celeryconfig")
        app.conf.update(broker_url=stage.redis_url, result_backend=stage.redis_url)
        wait_until(lambda: len(app.control.ping(timeout=1.0)) >= 2, 120, "both workers")
        time.sleep(1.0)  # prefork children finish their start-up
        before = {name: tree_cpu(w.proc.pid) for name, w in workers.items()}
        assert stage.redis.proc is not None
        redis_before = proc_cpu(stage.redis.proc.pid)
        load0 = os.getloadavg()[0]
        window = CpuWindow()
        stop = threading.Event()

        def tick() -> None:
            for w in workers.values():
                w.sample()
            pg.sample()

        sampling(tick, window, stop)
        profilers = profile(args, {n: w.proc.pid for n, w in workers.items()}, label)
        started = time.monotonic()
        app.send_task("casb.dispatch_due_scans", queue="scans")

        def all_done() -> bool:
            with session_scope() as session:
                runs = session.exec(select(ScanRun)).all()
            done = [r for r in runs if r.status not in ScanStatus.active()]
            return len(runs) >= n_tenants and len(done) == len(runs)

        last_report = started
        large_sim = stage.sims[-1] if args.large else None
        while not all_done():
            if large_sim is not None:
                result.downloads.append((time.monotonic() - started, blob_downloads(large_sim)))
            if time.monotonic() - started > args.timeout:
                raise SystemExit("timed out waiting for the scans")
            if time.monotonic() - last_report > 15:
                last_report = time.monotonic()
                with session_scope() as session:
                    runs = session.exec(select(ScanRun)).all()
                finished = sum(r.status not in ScanStatus.active() for r in runs)
                print(
                    f"  {time.monotonic() - started:6.1f}s: {finished}/{n_tenants} scans finished",
                    flush=True,
                )
            time.sleep(0.2)
        wall = time.monotonic() - started
        stop.set()
        result.sim_cpu = window.simulator()
        result.scanner_cpu = {
            name: tree_cpu(w.proc.pid) - before[name] for name, w in workers.items()
        }
        stop_profilers(profilers)
        result.redis_cpu = proc_cpu(stage.redis.proc.pid) - redis_before
        pg.sample()
        result.pg_cpu = pg.total()
        result.load = (load0, os.getloadavg()[0])
        result.peak_rss = {name: w.peak_rss for name, w in workers.items()}
        collect(stage, result, wall)
        if args.stages:
            print_stages()
    finally:
        for w in workers.values():
            w.stop()
        pg.close()
    return result


def run_inline_mode(args: argparse.Namespace, stage: Stage, tree: Path, label: str) -> Result:
    """The same tenants scanned by ``run_inline`` in one process of ``tree``'s code."""
    result = Result(label)
    log = (stage.tmp / "inline.log").open("ab")
    proc = subprocess.Popen(
        [venv_python(tree), "-c", INLINE_CHILD, ",".join(map(str, stage.tenant_ids)),
         str(args.inline_threads)],
        cwd=tree,
        env=stage.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        start_new_session=True,
    )  # fmt: skip
    pg = PgBackends(args.pg_admin, stage.db_name)
    try:
        assert proc.stdin is not None and proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise SystemExit(f"the inline process did not start: see {stage.tmp / 'inline.log'}")
        before = proc_cpu(proc.pid)
        assert stage.redis.proc is not None
        load0 = os.getloadavg()[0]
        window = CpuWindow()
        stop = threading.Event()
        sampling(pg.sample, window, stop)
        profilers = profile(args, {"inline": proc.pid}, label)
        started = time.monotonic()
        proc.stdin.write("go\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
        wall = time.monotonic() - started
        stop.set()
        result.sim_cpu = window.simulator()
        result.scanner_cpu = {"inline": proc_cpu(proc.pid) - before}
        stop_profilers(profilers)
        pg.sample()
        result.pg_cpu = pg.total()
        result.load = (load0, os.getloadavg()[0])
        if not line:
            raise SystemExit(f"the inline process failed: see {stage.tmp / 'inline.log'}")
        json.loads(line)
        proc.stdin.write("stop\n")
        proc.stdin.flush()
        proc.wait(60)
        collect(stage, result, wall)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        pg.close()
        log.close()
    return result


def profile(args: argparse.Namespace, pids: dict[str, int], label: str) -> list[Any]:
    """``py-spy record`` of each scanner process tree (``--profile DIR``): collapsed stacks."""
    if args.profile is None:
        return []
    args.profile.mkdir(parents=True, exist_ok=True)
    spy = Path(sys.executable).parent / "py-spy"
    return [
        subprocess.Popen(
            [str(spy), "record", "--pid", str(pid), "--subprocesses", "--rate", "100",
             "--format", "raw", "--nonblocking", "-o", str(args.profile / f"{label}-{name}.txt"),
             *(["--gil"] if args.profile_gil else [])],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, pid in pids.items()
    ]  # fmt: skip


def stop_profilers(profilers: list[Any]) -> None:
    for spy in profilers:
        spy.send_signal(signal.SIGINT)
    for spy in profilers:
        spy.wait(30)


def blob_downloads(sim: Any) -> int:
    """Storage downloads the simulator served, over its tenants (one per file request)."""
    tenants = sim.world.stats().get("tenants", {})
    return sum(int(t.get("counters", {}).get("blob_downloads", 0)) for t in tenants.values())


def download_phase(samples: list[tuple[float, int]]) -> tuple[float, float, float] | None:
    """(first download, last download, longest pause between them), seconds after dispatch."""
    moving = [(t, n) for t, n in samples if n > 0]
    if not moving:
        return None
    last_n = moving[-1][1]
    end = next(t for t, n in moving if n == last_n)
    pause, since, seen = 0.0, moving[0][0], moving[0][1]
    for t, n in moving:
        if t > end:
            break
        if n > seen:
            pause, since, seen = max(pause, t - since), t, n
    return moving[0][0], end, pause


def print_stages() -> None:
    from sqlmodel import select

    from schemas.tables import ScanRun
    from store.db import session_scope

    with session_scope() as session:
        runs = session.exec(select(ScanRun)).all()
    t0 = min(r.started_at for r in runs if r.started_at is not None)
    for r in sorted(runs, key=lambda r: r.id or 0):
        fetch = r.parts.get("fetch") or {}
        slowest = max((f.get("seconds") or 0.0 for f in fetch.values()), default=0.0)
        assert r.started_at is not None and r.finished_at is not None
        print(
            f"  run {r.id}: start +{(r.started_at - t0).total_seconds():.1f}s, "
            f"slowest fetch {slowest:.1f}s, finish "
            f"+{(r.finished_at - t0).total_seconds():.1f}s, "
            f"dlp batches {(r.parts.get('dlp') or {}).get('batches')}"
        )


def report(args: argparse.Namespace, stage: Stage, r: Result) -> None:
    from connectors.ratelimit import policy_from_settings
    from core.settings import get_settings

    wall = r.wall
    print()
    print(f"== {r.label}")
    print(f"scan statuses: {r.statuses}; DLP cache outcomes: {r.outcomes}")
    print(
        f"wall time (dispatch -> last scan finished): {wall:.1f} s; load average "
        f"{r.load[0]:.1f} -> {r.load[1]:.1f}"
    )
    print(f"tenants scanned per minute: {r.tenants / wall * 60:.1f}")
    print(f"files: {r.files} ({r.files / wall:.1f}/s); API requests: {r.requests} "
          f"({r.requests / wall:.1f}/s)")  # fmt: skip
    if r.durations:
        print(
            f"scan duration p50 / p95 / max: {percentile(r.durations, 0.5):.1f} / "
            f"{percentile(r.durations, 0.95):.1f} / {max(r.durations):.1f} s"
            + (f" (large tenant: {statistics.mean(r.large_runs):.1f} s)" if r.large_runs else "")
        )
    print(
        f"DLP bytes downloaded and matched: {r.dlp_bytes / 1e6:.1f} MB "
        f"({r.dlp_bytes / 1e6 / wall:.2f} MB/s end to end)"
    )
    parts = ", ".join(f"{k} {v:.1f}" for k, v in r.scanner_cpu.items())
    print(
        f"CPU seconds: scanner {r.fleet_cpu:.1f} ({parts}); simulator {r.sim_cpu:.1f}; "
        f"redis {r.redis_cpu:.1f}; postgres {r.pg_cpu:.1f}"
    )
    print(
        f"scanner CPU per file {r.per(r.files):.1f} ms, per request {r.per(r.requests):.1f} ms, "
        f"per file+request {r.per(r.files + r.requests):.1f} ms; simulator CPU per request "
        f"{r.sim_cpu / max(1, r.requests) * 1000:.1f} ms"
    )
    for name, rss in r.peak_rss.items():
        print(f"peak RSS {name} worker: {rss / 2**20:.0f} MiB")
    print(f"429s from the simulator (rate-limit violations): {r.violations}")
    if r.large_runs and stage.large_files:
        # Each file costs one request on the file routes (the storage download is not
        # limited): a large tenant cannot finish before files / limit windows.
        n_limit, window = stage.limits["compliance_file"]
        bound = max(stage.large_files) / n_limit * window
        print(
            f"large tenant budget bound: {max(stage.large_files)} files / {n_limit} per "
            f"{window:g}s = {bound:.1f} s; scan {max(r.large_runs):.1f} s = "
            f"{max(r.large_runs) / bound:.3f}x the bound (rate policy {args.rate_policy})"
        )
        margin = policy_from_settings(get_settings()).window_margin
        print(
            f"  the budget's own pace (its window {margin:.0%} longer than the API's, so a "
            f"request in flight never lands in the next window): {bound * (1 + margin):.1f} s"
        )
        phase = download_phase(r.downloads)
        if phase is not None:
            first, last, pause = phase
            print(
                f"large tenant downloads: first at +{first:.1f} s, last at +{last:.1f} s "
                f"({(last - first) / bound:.3f}x the bound); longest pause between "
                f"downloads {pause:.1f} s"
            )


def summary(results: list[Result]) -> None:
    """Each figure beside its baseline (the same mode on the baseline tree), and fleet/inline."""
    print()
    print("== summary (ratios are this tree / baseline, or fleet / inline)")
    by_label = {r.label: r for r in results}
    rows = [
        ("wall s", lambda r: r.wall),
        ("files/s", lambda r: r.files / r.wall),
        ("requests/s", lambda r: r.requests / r.wall),
        ("scanner CPU s", lambda r: r.fleet_cpu),
        ("scanner CPU ms/file", lambda r: r.per(r.files)),
        ("scanner CPU ms/request", lambda r: r.per(r.requests)),
        ("simulator CPU s", lambda r: r.sim_cpu),
        ("load average (start)", lambda r: r.load[0]),
    ]
    labels = [r.label for r in results]
    print(f"{'':24}" + "".join(f"{label:>16}" for label in labels))
    for name, get in rows:
        print(f"{name:24}" + "".join(f"{get(by_label[label]):16.2f}" for label in labels))
    for mode in ("fleet", "inline"):
        new, old = by_label.get(mode), by_label.get(f"{mode}@baseline")
        if new and old:
            print(
                f"{mode}: files/s {new.files / new.wall / (old.files / old.wall):.2f}x, "
                f"requests/s {new.requests / new.wall / (old.requests / old.wall):.2f}x, "
                f"scanner CPU per file {new.per(new.files) / old.per(old.files):.2f}x "
                "the baseline"
            )
    for suffix in ("", "@baseline"):
        fleet, inline = by_label.get("fleet" + suffix), by_label.get("inline" + suffix)
        if fleet and inline:
            print(
                f"fleet / inline wall{suffix and ' (baseline)'}: {fleet.wall:.1f} / "
                f"{inline.wall:.1f} s = {fleet.wall / inline.wall:.2f}x"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=50, help="number of small tenants")
    parser.add_argument("--small-size", default="small")
    parser.add_argument("--large", type=int, default=1, help="number of large tenants")
    parser.add_argument("--large-size", default="large")
    parser.add_argument("--fetch-concurrency", type=int, default=16)
    parser.add_argument("--dlp-concurrency", type=int, default=2)
    parser.add_argument("--time-scale", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--stages", action="store_true", help="print each run's timeline")
    parser.add_argument(
        "--modes",
        default="fleet",
        help="comma-separated: fleet (Celery workers), inline (run_inline in one process)",
    )
    parser.add_argument("--inline-threads", type=int, default=16)
    parser.add_argument("--json", type=Path, help="also write this tree's figures to this file")
    parser.add_argument(
        "--env", action="append", default=[], help="KEY=VALUE for the scanner (repeatable)"
    )
    parser.add_argument(
        "--profile", type=Path, help="directory for py-spy profiles of the scanner processes"
    )
    parser.add_argument(
        "--profile-gil", action="store_true", help="profile only threads holding the GIL (CPU)"
    )
    parser.add_argument(
        "--baseline-tree",
        type=Path,
        help="another checkout (with its own .venv) whose code runs each mode first",
    )
    parser.add_argument(
        "--rate-policy",
        choices=["adaptive", "legacy"],
        default="adaptive",
        help="adaptive: the budgets' defaults (bursts of a sixth, the whole limit); legacy: "
        "the earlier pacing for a baseline (one request per period/limit/0.9, burst 1)",
    )
    parser.add_argument(
        "--pg-admin",
        default=os.environ.get("CASB_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    args = parser.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if set(modes) - {"fleet", "inline"}:
        raise SystemExit(f"unknown mode in {args.modes!r}")
    trees: list[tuple[Path, str]] = []
    if args.baseline_tree is not None:
        trees.append((args.baseline_tree.resolve(), "@baseline"))
    trees.append((REPO, ""))
    print(
        f"machine: {os.cpu_count()} cores; time scale {args.time_scale:g} (limits per "
        f"{60 / args.time_scale:g}s window); tenants: {args.small} x {args.small_size} + "
        f"{args.large} x {args.large_size}; workers: threads x{args.fetch_concurrency} "
        f"(scans,fetch,detect) + prefork x{args.dlp_concurrency} (dlp); inline: one process, "
        f"{args.inline_threads} tenants at a time",
        flush=True,
    )
    results: list[Result] = []
    stage = Stage(args)
    for tree, suffix in trees:
        for mode in modes:
            label = mode + suffix
            print(f"\n-- {label} ({tree})", flush=True)
            stage = Stage(args)
            try:
                stage.start()
                run = run_fleet if mode == "fleet" else run_inline_mode
                result = run(args, stage, tree, label)
                report(args, stage, result)
                results.append(result)
            finally:
                stage.stop()
    summary(results)
    if args.json:
        write_json(args.json, results, stage.large_files, stage.limits)


def write_json(
    path: Path,
    results: list[Result],
    large_files: list[int],
    limits: dict[str, tuple[int, float]],
) -> None:
    """This tree's fleet figures (``bench/perf_report.py`` reads them), inline's wall beside."""
    by_label = {r.label: r for r in results}
    fleet, inline = by_label.get("fleet"), by_label.get("inline")
    main = fleet or inline
    if main is None:
        return
    n_limit, window = limits["compliance_file"]
    figures = {
        "wall": main.wall,
        "tenants": main.tenants,
        "statuses": main.statuses,
        "requests": main.requests,
        "files": main.files,
        "dlp_bytes": main.dlp_bytes,
        "violations": main.violations,
        "durations": main.durations,
        "large_files": max(large_files) if large_files else None,
        "large_scan": max(main.large_runs) if main.large_runs else None,
        "large_bound": max(large_files) / n_limit * window if large_files else None,
        "large_downloads": download_phase(main.downloads),
        # CPU of the scanner alone (simulator apart): the larger of per file and per request
        "cpu_per_item_ms": max(main.per(main.files), main.per(main.requests)),
        "cpu_per_file_ms": main.per(main.files),
        "cpu_per_request_ms": main.per(main.requests),
        "simulator_cpu": main.sim_cpu,
        "inline_wall": inline.wall if fleet and inline else None,
    }
    path.write_text(json.dumps(figures))


if __name__ == "__main__":
    main()
