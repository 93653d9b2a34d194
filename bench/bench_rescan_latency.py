"""Rescan latency of a tiny tenant, inline and through a worker, per rate policy (by hand).

    .venv/bin/python bench/bench_rescan_latency.py [--repeat 3]

What a user waits for: ``casb scan SLUG --inline`` and ``casb scan SLUG --wait`` (a worker
subprocess, threads pool, every queue) timed as whole commands, against the simulator at
its real, unscaled limits (50 list requests a minute per endpoint, 100 file downloads a
minute). One tiny tenant (about 30 objects and 9 files, DLP profiles on): a first scan fills
the DLP cache, then each rescan is timed. Both rate policies run in the same invocation:

* ``legacy``: the earlier pacing (one request per ``period / limit / 0.9``, burst 1);
* ``adaptive``: the budgets' defaults (bursts of a sixth of the limit, the whole limit).

A private ``redis-server`` and a throwaway PostgreSQL database (dropped at the end) are used;
``casb --help`` is timed too, as the cost of starting the CLI process.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fleet_bench import LEGACY_POLICY, REPO, worker

from tests.processes import RedisServer, throwaway_database, wait_until

CASB = str(Path(sys.executable).with_name("casb"))


def timed(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3, help="rescans timed per mode")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--pg-admin",
        default=os.environ.get("CASB_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    args = parser.parse_args()

    import redis
    from cryptography.fernet import Fernet

    tmp = Path(tempfile.mkdtemp(prefix="casb-rescan-bench-"))
    with contextlib.ExitStack() as stack:
        db_url = stack.enter_context(throwaway_database(args.pg_admin)).url
        redis_server = RedisServer(tmp).start()
        stack.callback(redis_server.stop)
        redis_url = redis_server.url
        rclient = redis.Redis.from_url(redis_url)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CASB_")}
        env.update(
            CASB_DATABASE_URL=db_url,
            CASB_BROKER_URL=redis_url,
            CASB_RESULT_BACKEND=redis_url,
            CASB_REDIS_URL=redis_url,
            CASB_SECRET_KEY=Fernet.generate_key().decode(),
            CASB_LOG_LEVEL="WARNING",
        )
        os.environ.update({k: v for k, v in env.items() if k.startswith("CASB_")})
        from core.settings import reset_settings_cache
        from store.db import upgrade

        reset_settings_cache()
        upgrade(db_url)
        from simulator.files import PLANTABLE_PROFILES
        from simulator.server import start_in_thread
        from simulator.world import World
        from workers.cli.demo import allow_simulator_storage, register_simulated_tenants

        world = World.generate(1, args.seed, size="tiny", time_scale=1.0)
        sim = start_in_thread(world)
        stack.callback(sim.stop)
        allow_simulator_storage(sim)  # this process and the CLI / worker processes' env
        env["CASB_STORAGE_ALLOWED_HOSTS"] = os.environ["CASB_STORAGE_ALLOWED_HOSTS"]
        register_simulated_tenants(sim, dlp_profiles=list(PLANTABLE_PROFILES))
        slug = next(iter(world.tenants))
        objects = sum(
            len(getattr(world.tenant(slug), name))
            for name in ("users", "invites", "admin_keys", "projects", "gpts", "conversations")
        )
        print(
            f"tiny tenant: {objects} listed objects, {len(world.tenant(slug).files)} files; "
            f"simulator at real limits; {os.cpu_count()} cores",
            flush=True,
        )
        start_cost = statistics.median(timed([CASB, "--help"], env) for _ in range(args.repeat))
        print(f"CLI process start (casb --help), median: {start_cost:.2f} s", flush=True)

        results: dict[tuple[str, str], list[float]] = {}
        for policy in ("legacy", "adaptive"):
            # In this process: the pipeline alone, without the CLI's start-up.
            for name in LEGACY_POLICY:
                os.environ.pop(name, None)
            if policy == "legacy":
                os.environ.update(LEGACY_POLICY)
            reset_settings_cache()
            from pipeline.inline import run_inline
            from pipeline.runtime import use_embedded

            use_embedded(True)  # a fresh in-process budget under this policy
            run_inline(slug)
            results[(policy, "in-process")] = [
                _timed_call(lambda: run_inline(slug)) for _ in range(args.repeat)
            ]
        for policy in ("legacy", "adaptive"):
            penv = {**env, **(LEGACY_POLICY if policy == "legacy" else {})}
            rclient.flushdb()  # no budget state carried from the other policy
            timed([CASB, "scan", slug, "--inline"], penv)  # first scan: fills the DLP cache
            inline = [timed([CASB, "scan", slug, "--inline"], penv) for _ in range(args.repeat)]
            results[(policy, "inline")] = inline
            rclient.flushdb()
            process = worker(
                penv, tmp / f"worker-{policy}.log", "threads", 8, "scans,fetch,detect,dlp"
            )
            try:
                from celery import Celery

                app = Celery("casb-bench")
                app.config_from_object("workers.celeryconfig")
                app.conf.update(broker_url=redis_url, result_backend=redis_url)
                wait_until(lambda app=app: len(app.control.ping(timeout=1.0)) >= 1, 60, "worker")
                timed([CASB, "scan", slug, "--wait"], penv)
                waited = [timed([CASB, "scan", slug, "--wait"], penv) for _ in range(args.repeat)]
                results[(policy, "worker")] = waited
            finally:
                process.stop()
            print(
                f"{policy:>8}: in-process rescan {_fmt(results[(policy, 'in-process')])}; "
                f"casb scan --inline {_fmt(inline)}; through a worker (--wait) {_fmt(waited)}",
                flush=True,
            )
        print()
        for mode in ("in-process", "inline", "worker"):
            before = statistics.median(results[("legacy", mode)])
            after = statistics.median(results[("adaptive", mode)])
            print(
                f"{mode:>6} rescan, median: legacy {before:.2f} s -> adaptive {after:.2f} s "
                f"({after / before:.2f}x)"
            )


def _timed_call(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _fmt(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f} s ({', '.join(f'{v:.2f}' for v in values)})"


if __name__ == "__main__":
    main()
