"""Fleet benchmark: many tenants scanned end to end by real workers (run by hand; prints numbers).

    .venv/bin/python bench/fleet_bench.py [--small 50] [--small-size small]
                                          [--large 1] [--large-size large]
                                          [--fetch-concurrency 16] [--dlp-concurrency 2]

What runs, as deployed: the simulator serves N small tenants and M large ones over HTTP
(two simulator servers, so the sizes differ); a private ``redis-server`` on a free port is
the broker, result backend and rate-budget store; a throwaway PostgreSQL database (created
on the server at ``--pg-admin``, dropped at the end) holds the registry and findings. Two
worker subprocesses: ``-Q scans,fetch,detect -P threads`` and ``-Q dlp -P prefork``. Every
tenant has DLP profiles. One ``casb.dispatch_due_scans`` (what beat sends every minute)
starts every scan; the bench waits until every run has finished.

The simulator applies the documented per-key limits on a window shortened by
``--time-scale`` and the workers get the same limits as their shared budget, so requests/s is
what the budget allows, and "violations" are requests the simulator had to refuse (429).

Printed: tenants scanned per minute, API requests/s, p50/p95 scan duration, DLP MB/s end to
end (bytes downloaded and matched / wall time from dispatch to the last scan), peak RSS of
each worker (process and children), and 429s/violations. Nothing here touches the shared
Redis; PostgreSQL only gets the temporary database.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.processes import (  # noqa: E402  (the repository on the path first)
    RedisServer,
    WorkerProcess,
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


def worker(env: dict[str, str], log: Path, pool: str, conc: int, queues: str) -> WorkerProcess:
    """A bench worker (WARNING log level), started without waiting: callers ping the fleet."""
    process = WorkerProcess(
        env,
        log,
        pool=pool,
        concurrency=conc,
        queues=queues.split(","),
        name=f"bench-{uuid.uuid4().hex[:6]}@%h",
        log_level="WARNING",
    )
    return process.start(wait_ready=False)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


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
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    from cryptography.fernet import Fernet

    tmp = Path(tempfile.mkdtemp(prefix="casb-fleet-bench-"))
    workers: list[WorkerProcess] = []
    sims: list[Any] = []
    with contextlib.ExitStack() as stack:
        database = stack.enter_context(throwaway_database(args.pg_admin))
        db_url = database.url
        redis_server = RedisServer(tmp).start()
        stack.callback(redis_server.stop)
        redis_url = redis_server.url
        stack.callback(_stop_all, workers, sims)
        from connectors.ratelimit import DEFAULT_LIMITS, scale_limits

        limits = scale_limits(DEFAULT_LIMITS, 1.0 / args.time_scale)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CASB_")}
        env.update(
            CASB_DATABASE_URL=db_url,
            CASB_BROKER_URL=redis_url,
            CASB_RESULT_BACKEND=redis_url,
            CASB_REDIS_URL=redis_url,
            CASB_SECRET_KEY=Fernet.generate_key().decode(),
            CASB_LOG_LEVEL="WARNING",
            **(LEGACY_POLICY if args.rate_policy == "legacy" else {}),
            **{
                f"CASB_RATE_LIMIT_{g}": f"{n}/{p:g}"
                for g, (n, p) in ((g.upper(), v) for g, v in limits.items())
                if g in RATE_GROUPS
            },
        )
        os.environ.update({k: v for k, v in env.items() if k.startswith("CASB_")})

        from core.settings import reset_settings_cache
        from store.db import session_scope, upgrade

        reset_settings_cache()
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
        total_files = 0
        large_files: list[int] = []
        for prefix, world in worlds:
            sim = start_in_thread(world)
            sims.append(sim)
            allow_simulator_storage(sim)  # this process (registration) and the workers' env
            env["CASB_STORAGE_ALLOWED_HOSTS"] = os.environ["CASB_STORAGE_ALLOWED_HOSTS"]
            total_files += sum(len(tenant.files) for tenant in world.tenants.values())
            if prefix == "l":
                large_files = [len(t.files) for t in world.tenants.values()]
            register_simulated_tenants(
                sim,
                rename=lambda slug, prefix=prefix: f"{prefix}-{slug}",
                dlp_profiles=list(PLANTABLE_PROFILES),
            )
        n_tenants = sum(len(w.tenants) for _, w in worlds)
        print(f"{n_tenants} tenants, {total_files} files registered", flush=True)

        workers.append(
            worker(
                env,
                tmp / "worker-fetch.log",
                "threads",
                args.fetch_concurrency,
                "scans,fetch,detect",
            )
        )
        workers.append(worker(env, tmp / "worker-dlp.log", "prefork", args.dlp_concurrency, "dlp"))
        from celery import Celery

        app = Celery("casb-bench")
        app.config_from_object("workers.celeryconfig")
        app.conf.update(broker_url=redis_url, result_backend=redis_url)
        wait_until(lambda: len(app.control.ping(timeout=1.0)) >= 2, 60, "both workers")

        from sqlmodel import select

        from schemas.tables import DlpFileCache, ScanRun, ScanStatus

        stop_sampling = threading.Event()

        def sampler() -> None:
            while not stop_sampling.is_set():
                for w in workers:
                    w.sample()
                time.sleep(0.25)

        threading.Thread(target=sampler, daemon=True).start()
        started = time.monotonic()
        app.send_task("casb.dispatch_due_scans", queue="scans")

        def all_done() -> bool:
            with session_scope() as session:
                runs = session.exec(select(ScanRun)).all()
            done = [r for r in runs if r.status not in ScanStatus.active()]
            return len(runs) >= n_tenants and len(done) == len(runs)

        last_report = 0.0
        while not all_done():
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
            time.sleep(0.5)
        wall = time.monotonic() - started
        stop_sampling.set()

        with session_scope() as session:
            runs = session.exec(select(ScanRun)).all()
            cache = session.exec(select(DlpFileCache)).all()
        durations = [
            (r.finished_at - r.started_at).total_seconds()
            for r in runs
            if r.finished_at is not None and r.started_at is not None
        ]
        statuses: dict[str, int] = {}
        for r in runs:
            statuses[r.status] = statuses.get(r.status, 0) + 1
        dlp_bytes = sum(int((c.result or {}).get("size") or 0) for c in cache)
        outcomes: dict[str, int] = {}
        for c in cache:
            outcomes[c.outcome] = outcomes.get(c.outcome, 0) + 1
        requests = violations = 0
        for sim in sims:
            for tstats in sim.stats()["tenants"].values():
                requests += tstats["requests"]
                violations += tstats["violations"]
        large_runs = [
            (r.finished_at - r.started_at).total_seconds()
            for r in runs
            if r.finished_at and r.started_at and r.tenant_id > args.small
        ]

        print()
        print(
            f"machine: {os.cpu_count()} cores; time scale {args.time_scale:g} (limits per "
            f"{60 / args.time_scale:g}s window)"
        )
        print(
            f"tenants: {args.small} x {args.small_size} + {args.large} x {args.large_size}; "
            f"files: {total_files}; workers: threads x{args.fetch_concurrency} "
            f"(scans,fetch,detect) + prefork x{args.dlp_concurrency} (dlp)"
        )
        print(f"scan statuses: {statuses}; DLP cache outcomes: {outcomes}")
        print(f"wall time (dispatch -> last scan finished): {wall:.1f} s")
        print(f"tenants scanned per minute: {len(runs) / wall * 60:.1f}")
        print(f"API requests: {requests} ({requests / wall:.1f}/s)")
        print(
            f"scan duration p50 / p95 / max: {percentile(durations, 0.5):.1f} / "
            f"{percentile(durations, 0.95):.1f} / {max(durations):.1f} s"
            + (f" (large tenant: {statistics.mean(large_runs):.1f} s)" if large_runs else "")
        )
        print(
            f"DLP bytes downloaded and matched: {dlp_bytes / 1e6:.1f} MB "
            f"({dlp_bytes / 1e6 / wall:.2f} MB/s end to end); files: {len(cache)} "
            f"({len(cache) / wall:.1f}/s)"
        )
        for w in workers:
            print(f"peak RSS {w.log_path.stem}: {w.peak_rss / 2**20:.0f} MiB")
        print(f"429s from the simulator (rate-limit violations): {violations}")
        if large_runs and large_files:
            # Each file costs one request on the file routes (the storage download is not
            # limited): a large tenant cannot finish before files / limit windows.
            n_limit, window = limits["compliance_file"]
            bound = max(large_files) / n_limit * window
            print(
                f"large tenant budget bound: {max(large_files)} files / {n_limit} per "
                f"{window:g}s = {bound:.1f} s; scan {max(large_runs):.1f} s = "
                f"{max(large_runs) / bound:.3f}x the bound (rate policy {args.rate_policy})"
            )
        if args.json:
            n_limit, window = limits["compliance_file"]
            figures = {
                "wall": wall,
                "tenants": len(runs),
                "statuses": statuses,
                "requests": requests,
                "files": len(cache),
                "dlp_bytes": dlp_bytes,
                "violations": violations,
                "durations": durations,
                "large_files": max(large_files) if large_files else None,
                "large_scan": max(large_runs) if large_runs else None,
                "large_bound": max(large_files) / n_limit * window if large_files else None,
                "rate_policy": args.rate_policy,
                "time_scale": args.time_scale,
            }
            args.json.write_text(json.dumps(figures))
        if args.stages:
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


def _stop_all(workers: list[WorkerProcess], sims: list[Any]) -> None:
    for w in workers:
        w.stop()
    for sim in sims:
        sim.stop()


if __name__ == "__main__":
    main()
