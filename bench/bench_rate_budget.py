"""How close a budget-bound stream of requests gets to its bound, per rate policy (by hand).

    .venv/bin/python bench/bench_rate_budget.py [--requests 3000] [--threads 4]
                                                [--time-scale 60]

A big tenant's scan is bound by its file-route budget (100 downloads a minute): each file
costs one request there. This bench isolates that part: ``--threads`` threads (DLP workers)
send ``--requests`` file-route requests of one tenant through ``connectors.http.ApiSession``
and a shared ``RedisRateBudget`` (a private ``redis-server``) to the simulator over HTTP,
whose windows (and our budgets) are shortened by ``--time-scale``. Nothing else runs, so the
time is the limiter's, not the DLP pipeline's CPU. Printed per policy: wall time, the bound
(requests / limit x window) and their ratio, plus the simulator's 429s. Both policies run in
the same invocation:

* ``legacy``: the earlier pacing (one request per ``period / limit / 0.9``, burst 1);
* ``adaptive``: the budgets' defaults (bursts of a sixth of the limit, the whole limit, a
  1% window margin).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.processes import free_port
from tests.processes import wait_until as wait_for

POLICIES = {
    "legacy": {"burst_share": 0.0, "headroom": 0.9, "window_margin": 0.0},
    "adaptive": {},
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--time-scale", type=float, default=60.0)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    import httpx
    import redis
    from pydantic import SecretStr

    from connectors.access import ClientOptions
    from connectors.compliance import ComplianceClient
    from connectors.http import ApiSession
    from connectors.ratelimit import (
        COMPLIANCE_FILE,
        DEFAULT_LIMITS,
        BudgetPolicy,
        RedisRateBudget,
        scale_limits,
    )
    from simulator.server import start_in_thread
    from simulator.world import World

    tmp = Path(tempfile.mkdtemp(prefix="casb-budget-bench-"))
    port = free_port()
    redis_proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""],
        cwd=tmp,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    client = redis.Redis.from_url(f"redis://127.0.0.1:{port}/0")

    def up() -> bool:
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False

    world = World.generate(1, 3, size="tiny", time_scale=args.time_scale)
    slug = next(iter(world.tenants))
    sim = start_in_thread(world)
    try:
        wait_for(up, 10, "redis-server")
        limits = scale_limits(DEFAULT_LIMITS, 1.0 / args.time_scale)
        n_limit, window = limits[COMPLIANCE_FILE]
        bound = args.requests / n_limit * window
        creds = world.tenant(slug).credentials()
        from connectors.access import TenantAccess

        access = TenantAccess(
            tenant_key=slug,
            workspace_id=creds["workspace_id"],
            compliance_api_base=sim.compliance_base,
            compliance_key=SecretStr(creds["compliance_key"]),
        )
        print(
            f"{args.requests} file-route requests, {args.threads} threads, limit {n_limit} per "
            f"{window:g}s: bound {bound:.1f} s",
            flush=True,
        )
        results: dict[str, float] = {}
        for name, fields in POLICIES.items():
            client.flushdb()
            world.reset_stats()
            budget = RedisRateBudget(client, limits, policy=BudgetPolicy(**fields))
            http = httpx.Client(follow_redirects=False)
            paths = ComplianceClient(access, budget)  # for the route layout only
            remaining = list(range(args.requests))
            lock = threading.Lock()

            def work(
                budget: RedisRateBudget = budget,
                http: httpx.Client = http,
                paths: ComplianceClient = paths,
                remaining: list[int] = remaining,
                lock: threading.Lock = lock,
            ) -> None:
                transport = ApiSession(
                    tenant_key=slug,
                    api="compliance",
                    base_url=access.compliance_api_base,
                    key=SecretStr(creds["compliance_key"]),
                    budget=budget,
                    http=http,
                    options=ClientOptions(budget_max_wait=600),
                )
                while True:
                    with lock:
                        if not remaining:
                            return
                        index = remaining.pop()
                    path, route = paths.file_path("gpt", f"file-bench{index:06d}")
                    transport.send(
                        "GET",
                        path,
                        route=route,
                        group=COMPLIANCE_FILE,
                        expect=lambda r: r.status_code in (307, 404, 410) or r.is_success,
                    ).close()

            started = time.perf_counter()
            threads = [threading.Thread(target=work) for _ in range(args.threads)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            seconds = time.perf_counter() - started
            http.close()
            results[name] = seconds
            stats = world.stats(slug)
            print(
                f"{name:>8}: {seconds:.1f} s = {seconds / bound:.3f}x the bound; "
                f"simulator requests {stats['requests']}, 429s {stats['violations']}",
                flush=True,
            )
        print(
            f"adaptive / legacy: {results['adaptive'] / results['legacy']:.3f} "
            f"(legacy {results['legacy'] / bound:.3f}x -> adaptive "
            f"{results['adaptive'] / bound:.3f}x the bound)"
        )
        if args.json:
            args.json.write_text(
                json.dumps({"bound": bound, "requests": args.requests, "seconds": results})
            )
    finally:
        sim.stop()
        redis_proc.terminate()
        redis_proc.wait(10)


if __name__ == "__main__":
    main()
