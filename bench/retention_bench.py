"""A fleet after a year: table sizes and the latency of the hot queries, then a prune.

    .venv/bin/python bench/retention_bench.py [--tenants 1000] [--days 365] [--runs 20]

Creates a throwaway database on the local PostgreSQL (``CASB_BENCH_PG_ADMIN``, default
postgresql://postgres@127.0.0.1:5432/test), migrates it, and generates in SQL what
``--tenants`` tenants scanned daily for ``--days`` days leave behind: one scan run per tenant
and day, 60 open findings per tenant and two findings resolved per tenant and day, 200 DLP
cache rows per tenant. Then it measures p50/p95 over ``--runs`` calls of ``casb findings
--tenant T --format json``, ``casb health --json`` (both through the CLI, in process), the
dispatcher's claim of due tenants, and one scan's finding upserts (rolled back), runs ``casb db
prune`` with the default retention, and measures again. The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.processes import throwaway_database

ADMIN = os.environ.get("CASB_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")
TYPES = [
    "5a2995f5-0cc1-4af3-9045-cdf7e6601f7b",
    "d368036a-be90-49f0-b7da-5092a3f8beb4",
    "3af14358-5ff2-4502-921e-7ffd9a310093",
    "2c079fe8-6188-43e1-a2e5-d0e2dd8c7686",
    "c8fd231b-de51-43cc-8c3f-e1e57114c5f5",
    "20ab9ddb-fd48-46a8-9fdf-9bb9b9061f21",
]

GENERATE = """
INSERT INTO tenants (slug, name, admin_key_enc, admin_key_hint, admin_api_base,
    compliance_api_base, schedule_seconds, enabled, health, thresholds, dlp_profiles,
    severity_overrides, conversation_watermark, next_scan_at, created_at, updated_at)
SELECT format('t-%%s', lpad(i::text, 5, '0')), format('Tenant %%s', i), 'gAAAA-bench', '',
    'https://api.openai.com/v1', 'https://api.chatgpt.com/v1', 86400, true, 'healthy', '{}', '[]',
    '{}', 0, now() + (i %% 1440) * interval '1 minute', now(), now()
FROM generate_series(1, %(tenants)s) AS i;

INSERT INTO scan_runs (tenant_id, trigger, status, attempt, coalesced_requests, requested_at,
    started_at, finished_at, heartbeat_at, parts, counts, errors)
SELECT t.id, 'schedule', 'succeeded', 1, 0, d, d, d + interval '3 minutes',
    d + interval '3 minutes', '{"expected": ["users", "invites", "admin_keys", "gpts"]}',
    '{"findings": 60, "seconds": 180}', '[]'
FROM tenants t CROSS JOIN generate_series(now() - %(days)s * interval '1 day', now(),
    interval '1 day') AS d;

INSERT INTO findings (tenant_id, finding_type_id, resource_type, resource_id, resource_name,
    severity, status, evidence, first_seen, last_seen, resolved_at, reopened_count)
SELECT t.id, (%(types)s::text[])[1 + i %% 6], 'gpt', format('g-open-%%s', i), format('GPT %%s', i),
    'high', 'open', '{"owner": "someone@example.com", "visibility": "gpt-store"}',
    now() - %(days)s * interval '1 day', now(), NULL, 0
FROM tenants t CROSS JOIN generate_series(1, 60) AS i;

INSERT INTO findings (tenant_id, finding_type_id, resource_type, resource_id, resource_name,
    severity, status, evidence, first_seen, last_seen, resolved_at, reopened_count)
SELECT t.id, (%(types)s::text[])[1 + i %% 6], 'project_api_key', format('key_%%s', i), NULL,
    'medium', 'resolved', '{"project": "proj_x", "created_at": "2025-01-01T00:00:00Z"}',
    now() - (i / 2 + 30) * interval '1 day', now() - (i / 2) * interval '1 day',
    now() - (i / 2) * interval '1 day', 0
FROM tenants t CROSS JOIN generate_series(1, 2 * %(days)s) AS i;

INSERT INTO dlp_file_cache (tenant_id, file_id, listing_fingerprint, content_sha256,
    profile_version, outcome, result, scanned_at)
SELECT t.id, format('file-%%s', i), md5(i::text), md5(t.id::text || i::text), 'v1', 'clean',
    '{}', now() - (i %% %(days)s) * interval '1 day'
FROM tenants t CROSS JOIN generate_series(1, 200) AS i;
ANALYZE;
"""

SIZES = """
SELECT relname, n_live_tup, pg_total_relation_size(relid)
FROM pg_stat_user_tables WHERE relname IN ('tenants', 'scan_runs', 'findings', 'dlp_file_cache')
ORDER BY relname
"""


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


def timed(call: Callable[[], object], runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return percentiles(samples)


def measure(tenants: int, runs: int, rng: random.Random) -> dict[str, tuple[float, float]]:
    from schemas.catalog import BY_ID
    from schemas.findings import DetectedFinding
    from schemas.tables import utcnow
    from store.db import session_scope
    from store.findings import apply_scan_findings
    from store.scans import claim_due_tenants
    from tests.cli import run_cli

    def findings_cli() -> None:
        slug = f"t-{rng.randrange(1, tenants + 1):05d}"
        result = run_cli("findings", "--tenant", slug, "--format", "json")
        assert result.code == 0, result.output

    def health_cli() -> None:
        result = run_cli("health", "--json")
        assert result.code == 0, result.output

    def claim() -> None:
        with session_scope() as session:
            claim_due_tenants(session, utcnow() + timedelta(days=1), 200)
            session.rollback()

    def upserts() -> None:
        tenant_id = rng.randrange(1, tenants + 1)
        detected = [
            DetectedFinding(
                finding_type=BY_ID[TYPES[i % 6]],
                resource_id=f"g-open-{i}",
                resource_name=f"GPT {i}",
                evidence={"owner": "x"},
            )
            for i in range(1, 63)
        ]
        with session_scope() as session:
            apply_scan_findings(
                session, tenant_id=tenant_id, scan_id=1, detected=detected,
                judged_types=TYPES, resolvable=set(TYPES), now=utcnow(),
            )  # fmt: skip
            session.rollback()

    return {
        "casb findings --tenant T": timed(findings_cli, runs),
        "casb health": timed(health_cli, max(3, runs // 4)),
        "dispatcher claim (200 due)": timed(claim, runs),
        "one scan's upserts (62 findings)": timed(upserts, runs),
    }


def sizes(libpq: str) -> dict[str, tuple[int, int]]:
    with psycopg.connect(libpq) as conn:
        return {name: (rows, size) for name, rows, size in conn.execute(SIZES).fetchall()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()

    with throwaway_database(ADMIN) as database:
        libpq, url = database.libpq, database.url
        os.environ["CASB_DATABASE_URL"] = url
        os.environ.setdefault("CASB_SECRET_KEY", "n2mV4oVb8iJ2Gf2m0x4bS5p1xW7i8kzG3bXyQ0cD1eM=")
        from store.db import upgrade

        upgrade(url)
        start = time.perf_counter()
        with psycopg.connect(libpq, autocommit=True) as conn:
            params = {"tenants": args.tenants, "days": args.days, "types": TYPES}
            for statement in filter(str.strip, GENERATE.split(";")):
                conn.execute(statement, params)
        print(f"generated {args.tenants} tenants x {args.days} days in "
              f"{time.perf_counter() - start:.0f}s")  # fmt: skip
        rng = random.Random(1)
        before_sizes, before = sizes(libpq), measure(args.tenants, args.runs, rng)

        from core.settings import get_settings
        from store.db import session_scope
        from store.retention import prune

        start = time.perf_counter()
        counts = prune(session_scope, get_settings().retention(), batch_size=5000)
        prune_seconds = time.perf_counter() - start
        with psycopg.connect(libpq, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        after_sizes, after = sizes(libpq), measure(args.tenants, args.runs, rng)

        print(f"\nprune (default retention) in {prune_seconds:.1f}s: "
              + ", ".join(f"{c.kind} {c.rows}" for c in counts))  # fmt: skip
        print("\n| table | rows before | MB before | rows after prune | MB after |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for table, (rows, size) in before_sizes.items():
            rows_after, size_after = after_sizes[table]
            print(f"| {table} | {rows:,} | {size / 1e6:.0f} | {rows_after:,} | "
                  f"{size_after / 1e6:.0f} |")  # fmt: skip
        print("\n| operation | p50 ms | p95 ms | p50 after prune | p95 after prune |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for operation, (p50, p95) in before.items():
            q50, q95 = after[operation]
            print(f"| {operation} | {p50:.1f} | {p95:.1f} | {q50:.1f} | {q95:.1f} |")


if __name__ == "__main__":
    main()
