"""How fast the DLP stage gets through a tenant's files, cold and warm (run by hand).

    .venv/bin/python bench/bench_dlp_pipeline.py [--size small] [--batch 25]

Starts the simulator over HTTP (rate windows shortened by ``--speedup``, our budgets too:
a cold scan is bound by the API's 100 file downloads a minute, which the cache avoids),
registers one tenant with the three plantable profiles in a throwaway SQLite database
(embedded runtime: in-memory snapshots, local rate budget), and runs ``casb scan --inline``
twice. The first scan downloads, extracts and matches every file; the second finds every
file in the cache. Numbers include the simulator generating file bytes in the same process,
so they describe the pipeline, not the matcher (see bench/dlp_bench.py).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="small", choices=["tiny", "small", "medium"])
    parser.add_argument("--batch", type=int, default=25)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--speedup",
        type=float,
        default=60.0,
        help="Run the simulator's rate windows (and our budgets) this much faster.",
    )
    args = parser.parse_args()

    from cryptography.fernet import Fernet

    tmp = Path(tempfile.mkdtemp(prefix="casb-dlp-bench-"))
    os.environ["CASB_DATABASE_URL"] = f"sqlite:///{tmp / 'bench.db'}"
    os.environ["CASB_SECRET_KEY"] = Fernet.generate_key().decode()
    os.environ["CASB_DLP_BATCH_SIZE"] = str(args.batch)
    # Our budgets are the real API's limits (100 file downloads a minute per workspace),
    # squeezed by the same factor as the simulator's windows.
    from connectors.ratelimit import DEFAULT_LIMITS

    for group, (n, period) in DEFAULT_LIMITS.items():
        os.environ[f"CASB_RATE_LIMIT_{group.upper()}"] = f"{n}/{period / args.speedup}"

    from core.settings import reset_settings_cache
    from pipeline.inline import run_inline
    from pipeline.runtime import use_embedded
    from simulator.files import PLANTABLE_PROFILES
    from simulator.server import start_in_thread
    from simulator.world import World
    from store.db import session_scope, upgrade
    from workers.cli.demo import allow_simulator_storage, register_simulated_tenants

    reset_settings_cache()
    upgrade()
    use_embedded(True)
    world = World.generate(tenants=1, seed=args.seed, size=args.size, time_scale=args.speedup)
    slug = "tenant-01"
    with start_in_thread(world) as sim:
        allow_simulator_storage(sim)
        register_simulated_tenants(sim, [slug], dlp_profiles=list(PLANTABLE_PROFILES))
        files = len(world.tenant(slug).files)
        print(f"size={args.size} files={files} batch={args.batch} speedup={args.speedup:g}x")
        for label in ("cold", "warm"):
            world.reset_stats()
            started = time.perf_counter()
            result = run_inline(slug)
            seconds = time.perf_counter() - started
            from schemas.tables import ScanRun

            with session_scope() as session:
                run = session.get(ScanRun, int(result["scan_id"]))
                assert run is not None
                dlp = run.parts.get("dlp", {})
            counters = world.stats(slug).get("counters", {})
            print(
                f"{label}: status={result['status']} scan={seconds:.2f}s "
                f"files={dlp.get('counts', {}).get('files', 0)} "
                f"blob_downloads={counters.get('blob_downloads', 0)} "
                f"cached={dlp.get('counts', {}).get('cached', 0)} "
                f"matched={dlp.get('counts', {}).get('matched', 0)} "
                f"skipped={dlp.get('skip_reasons', {})} "
                f"files/s={files / seconds:.1f}"
            )


if __name__ == "__main__":
    main()
