"""How long the posture pass takes on a large tenant (run by hand; prints numbers).

    .venv/bin/python bench/bench_posture.py [--users N]

Builds a synthetic snapshot (N users, 2N project keys, N/10 admin keys, N/5 invites,
N/5 GPTs, 5N audit logins) with ages spread over two years, and times run_posture.
"""

from __future__ import annotations

import argparse
import random
import time

from detectors.registry import run_posture
from schemas.findings import Thresholds
from schemas.openai import AdminApiKey, AdminUser, AuditLogin, Gpt, Invite, ProjectApiKey
from schemas.snapshot import PostureSnapshot

NOW = 1_790_000_000.0
DAY = 86_400


def build(n: int, seed: int = 7) -> PostureSnapshot:
    rng = random.Random(seed)

    def ago() -> float:
        return NOW - rng.uniform(0, 730) * DAY

    users = [AdminUser(id=f"user-{i}", email=f"u{i}@example.com", added_at=ago()) for i in range(n)]
    project_keys = [
        ProjectApiKey.model_validate(
            {
                "id": f"key_p{i}",
                "name": f"k{i}",
                "redacted_value": "sk-proj-ab...yz",
                "created_at": ago(),
                "last_used_at": ago() if rng.random() < 0.7 else None,
                "owner": {"type": "user", "user": {"id": f"user-{rng.randrange(n)}"}},
                "project_id": f"proj_{i % 50}",
            }
        )
        for i in range(2 * n)
    ]
    admin_keys = [
        AdminApiKey(id=f"key_a{i}", created_at=ago(), last_used_at=ago()) for i in range(n // 10)
    ]
    invites = [
        Invite(
            id=f"invite-{i}",
            email=f"i{i}@example.com",
            role=rng.choice(["reader", "owner"]),
            status=rng.choice(["pending", "accepted"]),
            created_at=ago(),
            expires_at=NOW + rng.uniform(-30, 30) * DAY,
        )
        for i in range(n // 5)
    ]
    tools = ["custom_action", "code_interpreter", "browser", "dall-e"]
    gpts = [
        Gpt.model_validate(
            {
                "id": f"g-{i}",
                "sharing": {
                    "visibility": rng.choice(["workspace", "gpt-store", "anyone-with-link"])
                },
                "latest_config": {
                    "data": [
                        {"name": f"GPT {i}", "tools": [{"type": t} for t in rng.sample(tools, 2)]}
                    ]
                },
            }
        )
        for i in range(n // 5)
    ]
    logins = [
        AuditLogin(user_id=f"user-{rng.randrange(n)}", effective_at=ago()) for _ in range(5 * n)
    ]
    return PostureSnapshot(
        now=NOW,
        users=users,
        logins=logins,
        invites=invites,
        admin_keys=admin_keys,
        project_keys=project_keys,
        gpts=gpts,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    snap = build(args.users)
    objects = sum(len(getattr(snap, p) or []) for p in PostureSnapshot.model_fields if p != "now")
    best = float("inf")
    for _ in range(args.repeat):
        start = time.perf_counter()
        result = run_posture(snap, Thresholds())
        best = min(best, time.perf_counter() - start)
    print(f"objects in snapshot: {objects}")
    print(f"findings: {len(result.findings)}  by type: {result.counts()}")
    print(
        f"run_posture best of {args.repeat}: {best * 1000:.1f} ms ({objects / best:,.0f} objects/s)"
    )


if __name__ == "__main__":
    main()
