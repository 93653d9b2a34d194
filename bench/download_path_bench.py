"""The DLP worker's per-file download path alone: client CPU per file, this tree against another.

    .venv/bin/python bench/download_path_bench.py [--files 400] [--repeat 4]
                                                  [--baseline-tree DIR]

What one file costs a DLP worker before any extraction: the rate-budget grant (a
``RedisRateBudget`` on a private ``redis-server``), the Compliance API's 307 and the storage
GET of ``ComplianceClient.download_file``, the body read under the caps. The simulator
(this process, a thread; its rate limiter off) serves a small world's clean and planted
files over loopback HTTP; each measured client is a subprocess of its tree's own ``.venv``
that downloads ``--files`` files (the world's files round-robin) after a warm-up, and
reports its own CPU seconds (``time.process_time``), so neither the simulator nor Redis is
counted. With ``--baseline-tree`` the two trees alternate ``--repeat`` times (A/B/A/B on
the same server and Redis) and the medians and their ratio are printed: on a shared,
loaded machine one run proves little, the ratio of medians of alternating runs more.
``--instructions N`` also counts each tree's client instructions per file under callgrind
(a client at N and at 2N files; the difference removes start-up and warm-up), which the
machine's load does not move.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from simulator.ratelimit import RateLimitConfig  # noqa: E402
from simulator.server import start_in_thread  # noqa: E402
from simulator.world import World  # noqa: E402
from tests.processes import RedisServer  # noqa: E402

# Run by each tree's own interpreter (cwd = that tree): downloads the files given on stdin.
CLIENT = r"""
import io, json, sys, time
from pydantic import SecretStr
import redis
from connectors.access import ClientOptions, TenantAccess
from connectors.compliance import ComplianceClient
from connectors.ratelimit import RedisRateBudget

spec = json.load(sys.stdin)
access = TenantAccess(
    tenant_key=spec["tenant"], org_id=spec["org_id"], workspace_id=spec["workspace_id"],
    admin_api_base=spec["admin_base"], admin_key=SecretStr(spec["admin_key"]),
    compliance_api_base=spec["compliance_base"], compliance_key=SecretStr(spec["compliance_key"]),
)
limits = {g: (10**6, 60.0) for g in ("admin", "audit", "compliance_list", "compliance_file")}
budget = RedisRateBudget(redis.Redis.from_url(spec["redis"]), limits, key_prefix=spec["prefix"])
client = ComplianceClient(access, budget, options=ClientOptions())
files = spec["files"]

def download(n):
    total = 0
    for i in range(n):
        kind, file_id, owner, parent = files[i % len(files)]
        dest = io.BytesIO()
        conversation = kind == "conversation"
        client.download_file(
            kind, file_id, dest,
            user_id=owner if conversation else None,
            conversation_id=parent if conversation else None,
        )
        total += dest.tell()
    return total

download(min(50, spec["count"]))
started = time.process_time()
size = download(spec["count"])
print(json.dumps({"cpu": time.process_time() - started, "bytes": size}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=400, help="downloads measured per run")
    parser.add_argument("--repeat", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--baseline-tree", type=Path)
    parser.add_argument("--instructions", type=int, default=0, help="files per callgrind run")
    args = parser.parse_args()

    world = World.generate(
        tenants=1, seed=args.seed, size="small", rate_limits=RateLimitConfig(enabled=False)
    )
    tenant = world.tenant("tenant-01")
    files = [
        [f.location, f.id, f.owner_user_id, f.parent_id]
        for f in tenant.files.values()
        if f.variant in ("clean", "planted") and not f.expired
    ]
    creds = tenant.credentials()
    trees = [(args.baseline_tree.resolve(), "baseline")] if args.baseline_tree else []
    trees.append((REPO, "this tree"))
    cpu: dict[str, list[float]] = {label: [] for _, label in trees}
    instructions: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as workdir:
        redis_server = RedisServer(Path(workdir)).start()
        server = start_in_thread(world, port=0)
        try:
            env = {
                **os.environ,
                "CASB_STORAGE_ALLOWED_HOSTS": f"{server.host}:{server.port}",
                "CASB_LOG_LEVEL": "WARNING",
            }
            for run in range(args.repeat):
                for tree, label in trees:
                    spec: dict[str, Any] = {
                        "tenant": "tenant-01",
                        "org_id": creds["org_id"],
                        "workspace_id": creds["workspace_id"],
                        "admin_base": server.admin_base,
                        "admin_key": creds["admin_key"],
                        "compliance_base": server.compliance_base,
                        "compliance_key": creds["compliance_key"],
                        "redis": redis_server.url,
                        "prefix": f"bench:{run}:{label}:",
                        "files": files,
                        "count": args.files,
                    }
                    got = run_client(tree, label, spec, env)
                    cpu[label].append(got["cpu"])
                    print(
                        f"run {run + 1} {label:>9}: {1000 * got['cpu'] / args.files:.3f} ms "
                        f"CPU per file ({got['bytes'] / args.files / 1024:.1f} KiB per file); "
                        f"load {os.getloadavg()[0]:.1f}",
                        flush=True,
                    )
            for tree, label in trees if args.instructions else []:
                counts = []
                for n in (args.instructions, 2 * args.instructions):
                    spec = {**spec, "prefix": f"bench:callgrind:{label}:{n}:", "count": n}
                    counts.append(callgrind_instructions(tree, label, spec, env))
                instructions[label] = (counts[1] - counts[0]) / args.instructions
                print(f"{label:>9}: {instructions[label]:,.0f} instructions per file", flush=True)
        finally:
            server.stop()
            redis_server.stop()
    medians = {label: statistics.median(values) for label, values in cpu.items()}
    for label, value in medians.items():
        print(f"median {label:>9}: {1000 * value / args.files:.3f} ms CPU per file")
    if args.baseline_tree:
        ratio = medians["this tree"] / medians["baseline"]
        print(f"this tree / baseline: {ratio:.2f}x CPU per file")
        if instructions:
            ratio = instructions["this tree"] / instructions["baseline"]
            print(f"this tree / baseline: {ratio:.2f}x instructions per file")


def run_client(
    tree: Path, label: str, spec: dict[str, Any], env: dict[str, str], prefix: tuple[str, ...] = ()
) -> dict[str, Any]:
    done = subprocess.run(
        [*prefix, str(tree / ".venv/bin/python"), "-c", CLIENT],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        cwd=tree,
        env={**env, "PYTHONPATH": str(tree)},
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{label} client failed:\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def callgrind_instructions(
    tree: Path, label: str, spec: dict[str, Any], env: dict[str, str]
) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        run_client(
            tree, label, spec, env, ("valgrind", "--tool=callgrind", f"--callgrind-out-file={out}")
        )
        for line in out.read_text().splitlines():
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError("callgrind wrote no instruction total")


if __name__ == "__main__":
    main()
