"""What the per-part fetches cost in API calls, against the simulator over loopback HTTP.

For one simulated tenant it runs every posture fetch (pipeline/fetchers.py) with a call
counter and prints, per fetch task, the requests made and the objects stored per part. The
baseline beside it is measured in the same run: the audit-log login listing without its
``effective_at[gte]`` bound (as before the bound existed), and the parts this task added
(service accounts, project members, workspace users) as a share of all requests.

    .venv/bin/python bench/fetch_parts_cost.py [--size small|medium|large]
"""

from __future__ import annotations

import argparse
import time

from pydantic import SecretStr

from connectors.access import TenantAccess
from connectors.admin import AdminClient
from connectors.http import CallEvent
from connectors.ratelimit import LocalRateBudget
from pipeline.fetchers import FETCHES, FetchContext, PartRun
from simulator.server import start_in_thread
from simulator.world import World


class CallStats:
    """Counts HTTP attempts reported to the connectors' call observer."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, event: CallEvent) -> None:
        self.calls += 1

    def snapshot(self) -> dict[str, int]:
        return {"calls": self.calls}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="medium")
    args = parser.parse_args()
    world = World.generate(tenants=1, seed=5, size=args.size)
    world.limiter.config.enabled = False
    sim = start_in_thread(world)
    tenant = world.tenant("tenant-01")
    access = TenantAccess(
        tenant_key="tenant-01",
        workspace_id=tenant.workspace_id,
        admin_api_base=sim.admin_base,
        admin_key=SecretStr(tenant.admin_key),
        compliance_api_base=sim.compliance_base,
        compliance_key=SecretStr(tenant.compliance_key),
    )
    budget = LocalRateBudget({})
    since = time.time() - (tenant.thresholds.inactive_user_days + 2) * 86_400
    total = 0
    added = 0
    try:
        print(f"size={args.size}")
        for name in ("users", "invites", "admin_keys", "project_keys", "gpts"):
            stats = CallStats()
            ctx = FetchContext(access=access, budget=budget, observer=stats, login_since=since)
            out = PartRun()
            FETCHES[name].run(ctx, out)
            calls = stats.snapshot()["calls"]
            total += calls
            parts = {p: (r.state, len(r.items or [])) for p, r in out.results.items()}
            print(f"{name:13s} requests={calls:5d} parts={parts}")
        # what the new parts cost alone
        for label, run in (
            (
                "service_accounts+members",
                lambda c: [
                    list(c.service_accounts(p.id)) + list(c.project_members(p.id))
                    for p in c.projects()
                    if p.archived_at is None
                ],
            ),
        ):
            stats = CallStats()
            run(AdminClient(access, budget, observer=stats))
            added += stats.snapshot()["calls"]
            print(f"{label:25s} requests={stats.snapshot()['calls']}")
        for bounded in (False, True):
            stats = CallStats()
            signal = AdminClient(access, budget, observer=stats).latest_logins(
                since if bounded else None
            )
            print(
                f"audit logins {'bounded  ' if bounded else 'unbounded'} "
                f"requests={stats.snapshot()['calls']:4d} events read={signal.events:6d} "
                f"users with a login={len(signal.logins)}"
            )
        print(f"all posture fetches: {total} requests, of which the new parts {added}")
    finally:
        sim.stop()


if __name__ == "__main__":
    main()
