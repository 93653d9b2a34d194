"""`casb demo`: the whole product on one machine, in well under a minute.

Embedded mode (nothing configured, or the configured servers do not answer): SQLite under
``./.casb/`` and the pipeline run in-process (``--inline`` semantics). Fleet mode
(``CASB_DATABASE_URL`` and ``CASB_BROKER_URL`` set and answering): PostgreSQL, Redis and a
real Celery worker started as a subprocess for the demo. Either way it starts the simulator
(a fake OpenAI) with sample tenants in a thread, registers them, scans them and prints a
findings summary per tenant, then where to look next.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import typer
from pydantic import SecretStr
from rich.panel import Panel

from schemas.tables import ScanTrigger
from workers.cli.common import SafeTable, console, fail, styled

SEVERITIES = ("critical", "high", "medium", "low")


def _fleet_available() -> tuple[bool, str]:
    """Both URLs set explicitly, and both servers answer within a second."""
    from core.settings import get_settings

    settings = get_settings()
    db_url, broker = settings.database_url, settings.broker_url
    if not {"database_url", "broker_url"} <= settings.model_fields_set:
        return False, "CASB_DATABASE_URL/CASB_BROKER_URL not set"
    if not broker.startswith("redis"):
        return False, "the demo's fleet mode needs a Redis broker"
    try:
        import redis

        redis.Redis.from_url(broker, socket_connect_timeout=1, socket_timeout=1).ping()
    except Exception as exc:
        return False, f"the broker does not answer ({type(exc).__name__})"
    try:
        from store.db import ensure_reachable

        ensure_reachable(db_url)
    except Exception as exc:
        return False, f"the database does not answer ({type(exc).__name__})"
    return True, "PostgreSQL and Redis answer"


def _embedded_env(directory: Path) -> Path:
    from core.settings import reset_settings_cache
    from store.db import dispose_engines

    directory.mkdir(parents=True, exist_ok=True)
    db = directory / "demo.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    os.environ["CASB_DATABASE_URL"] = f"sqlite:///{db}"
    reset_settings_cache()
    dispose_engines()
    return db


def _ensure_secret_key(directory: Path | None) -> None:
    from cryptography.fernet import Fernet

    from core.settings import get_settings, reset_settings_cache

    secret = get_settings().secret_key
    if secret is not None and secret.get_secret_value():
        return
    key_file = directory / "secret.key" if directory else None
    if key_file and key_file.exists():
        key = key_file.read_text().strip()
    else:
        key = Fernet.generate_key().decode()
        if key_file:
            # Created owner-only from the start: the key decrypts the demo tenants' credentials.
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(key + "\n")
    os.environ["CASB_SECRET_KEY"] = key
    reset_settings_cache()


def allow_simulator_storage(sim: Any) -> str:
    """Add the simulator's ``host:port`` (its ``/_blob`` storage) to
    ``CASB_STORAGE_ALLOWED_HOSTS`` of this process and the workers it starts; the entry.

    File downloads go only to ``https`` public addresses otherwise, and the simulator serves
    plain ``http`` on loopback. Only that exact port is added, never the whole host.
    """
    from core.settings import get_settings, reset_settings_cache

    entry = f"{sim.host}:{sim.port}"
    current = [e.strip() for e in get_settings().storage_allowed_hosts.split(",")]
    os.environ["CASB_STORAGE_ALLOWED_HOSTS"] = ",".join(
        dict.fromkeys([e for e in current if e] + [entry])
    )
    reset_settings_cache()
    return entry


def register_simulated_tenants(
    sim: Any,
    slugs: Sequence[str] | None = None,
    *,
    rename: Callable[[str], str] = lambda slug: slug,
    update_existing: bool = False,
    **extra: Any,
) -> dict[str, int]:
    """Register (or, with ``update_existing``, re-point) a running simulator's tenants.

    Used by the demo and by the tests. Keys go straight from the simulator into encrypted
    columns (never through an environment, argv or a log). Returns {simulator slug: tenant id}.
    """
    from core.settings import get_settings
    from store.db import session_scope
    from store.tenants import KeySource, TenantInput, add_tenant, find_tenant, update_tenant

    fernet = get_settings().fernet()
    ids: dict[str, int] = {}
    with session_scope() as session:
        for slug in slugs or list(sim.world.tenants):
            simulated = sim.world.tenant(slug)
            creds = simulated.credentials()
            data = TenantInput(
                slug=rename(slug),
                name=simulated.name,
                org_id=creds["org_id"],
                workspace_id=creds["workspace_id"],
                admin_key=KeySource(value=SecretStr(creds["admin_key"])),
                compliance_key=KeySource(value=SecretStr(creds["compliance_key"])),
                admin_api_base=sim.admin_base,
                compliance_api_base=sim.compliance_base,
                **extra,
            )
            if update_existing and find_tenant(session, data.slug) is not None:
                row = update_tenant(session, data, fernet)
            else:
                row = add_tenant(session, data, fernet)
            assert row.id is not None
            ids[slug] = row.id
    return ids


def _register(sim: Any, prefix: str) -> dict[str, int]:
    """The demo's tenants, with the DLP profiles the simulator plants data for."""
    from store.tenants import predefined_profile_names

    wanted = ("Credentials and Secrets", "Financial Information")
    profiles = [p for p in wanted if p in set(predefined_profile_names())]
    ids = register_simulated_tenants(
        sim,
        rename=lambda slug: f"{prefix}{slug}",
        update_existing=True,
        dlp_profiles=profiles or None,
        enabled=True,
    )
    return {f"{prefix}{slug}": tenant_id for slug, tenant_id in ids.items()}


def _run_embedded(ids: dict[str, int]) -> list[int]:
    from pipeline.inline import run_inline
    from pipeline.runtime import use_embedded

    use_embedded(True)
    with (
        console.status(f"scanning {len(ids)} tenants in-process…"),
        ThreadPoolExecutor(max_workers=len(ids)) as pool,
    ):
        results = list(pool.map(lambda tid: run_inline(tid, ScanTrigger.MANUAL), ids.values()))
    return [int(r["scan_id"]) for r in results if r.get("scan_id")]


def _start_worker() -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable, "-m", "celery", "-A", "workers", "--quiet", "worker",
        "-Q", "scans,fetch,detect,dlp,notify", "--pool", "threads", "-c", "8",
        "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
        "-n", f"casb-demo-{os.getpid()}@%h",
    ]  # fmt: skip
    # A laptop demo often runs as root in a container; Celery's advice about that is noise here.
    env = {**os.environ, "PYTHONWARNINGS": "ignore:You're running the worker with superuser"}
    return subprocess.Popen(cmd, env=env)  # noqa: S603


def _wait_worker(app: Any, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            fail("the demo worker exited during startup: see its output above")
        replies = app.control.ping(timeout=0.5) or []
        if any(f"casb-demo-{os.getpid()}@" in name for reply in replies for name in reply):
            return
    fail("the demo worker did not come up within 30s")


def _run_fleet(ids: dict[str, int]) -> list[int]:
    from store.db import session_scope
    from store.scans import request_scan
    from store.tenants import get_tenant
    from workers.celery_app import app, reconfigure
    from workers.celeryconfig import SCAN_TENANT, SCANS
    from workers.cli.scans import _follow, _Tracked

    reconfigure()
    proc = _start_worker()
    try:
        with console.status("starting a Celery worker (queues scans, fetch, detect, dlp)…"):
            _wait_worker(app, proc)
        tracked: list[_Tracked] = []
        for slug, tid in ids.items():
            with session_scope() as session:
                req = request_scan(session, get_tenant(session, tid), ScanTrigger.MANUAL)
            if not req.coalesced:
                app.send_task(
                    SCAN_TENANT,
                    args=[tid],
                    kwargs={"trigger": ScanTrigger.MANUAL.value, "scan_id": req.scan_id},
                    queue=SCANS,
                )
            tracked.append(_Tracked(slug, req.scan_id))
        _follow(tracked, timeout=120)
        return [t.scan_id for t in tracked]
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def _print_summary(scan_ids: list[int]) -> None:
    from schemas.catalog import BY_ID
    from store.db import session_scope
    from store.findings import open_findings
    from store.scans import runs_with_tenants

    with session_scope() as session:
        for run, tenant in runs_with_tenants(session, scan_ids):
            rows = open_findings(session, run.tenant_id)
            by_sev = {s: 0 for s in SEVERITIES}
            by_type: dict[str, tuple[str, int]] = {}
            for row in rows:
                by_sev[row.severity] = by_sev.get(row.severity, 0) + 1
                ft = BY_ID.get(row.finding_type_id)
                title = ft.title.removeprefix("OpenAI: ") if ft else row.finding_type_id
                sev, count = by_type.get(title, (row.severity, 0))
                by_type[title] = (sev, count + 1)
            table = SafeTable(show_header=True, box=None, pad_edge=False)
            table.add_column("severity")
            table.add_column("finding type")
            table.add_column("open", justify="right")
            order = {s: i for i, s in enumerate(SEVERITIES)}
            for title, (sev, count) in sorted(
                by_type.items(), key=lambda kv: (order.get(kv[1][0], 9), kv[0])
            ):
                table.add_row(sev, title, str(count))
            name = tenant.slug if tenant else str(run.tenant_id)
            totals = "  ".join(f"{s}: {by_sev[s]}" for s in SEVERITIES)
            errors = "; ".join(f"{e.get('resource')}: {e.get('kind')}" for e in run.errors)
            subtitle = f"scan {run.id} {run.status} in {run.counts.get('seconds', '?')}s"
            console.print(
                Panel(
                    table,
                    title=styled("[bold]{}[/] — {} open findings ({})", name, len(rows), totals),
                    subtitle=subtitle + (f" — errors: {errors}" if errors else ""),
                    expand=False,
                )
            )


def demo(
    tenants: int = typer.Option(3, "--tenants", min=1, max=10, help="Sample tenants."),
    seed: int = typer.Option(7, "--seed", help="Simulator seed (same seed, same findings)."),
    size: str = typer.Option("small", "--size", help="tiny, small or medium."),
    directory: Path = typer.Option(
        Path(".casb"), "--dir", help="Where the embedded demo keeps its SQLite database."
    ),
    embedded: bool = typer.Option(
        False, "--embedded", help="Use SQLite and in-process scans even if servers are set."
    ),
) -> None:
    """Run the whole pipeline against a simulated OpenAI and print the findings."""
    from core.settings import get_settings
    from simulator.server import start_in_thread
    from simulator.world import World
    from store.db import upgrade

    started = time.monotonic()
    fleet, why = (False, "--embedded") if embedded else _fleet_available()
    if fleet:
        console.print(f"[bold]fleet mode[/]: {why}; scanning through Redis with a real worker")
        _ensure_secret_key(None)
        prefix = "demo-"
    else:
        db = _embedded_env(directory.resolve())
        _ensure_secret_key(directory.resolve())
        console.print(f"[bold]embedded mode[/] ({why}): SQLite at {db}, scans in-process")
        prefix = ""
    with console.status("migrating the database…"):
        upgrade()
    _speed_up_rate_limits()
    world = World.generate(tenants=tenants, seed=seed, size=size, time_scale=DEMO_TIME_SCALE)
    with start_in_thread(world) as sim:
        console.print(f"simulated OpenAI with {tenants} tenants at {sim.url}")
        allow_simulator_storage(sim)
        ids = _register(sim, prefix)
        scan_ids = _run_fleet(ids) if fleet else _run_embedded(ids)
    _print_summary(scan_ids)
    elapsed = time.monotonic() - started
    console.print(f"demo finished in {elapsed:.1f}s. Next:")
    env = "" if fleet else f"CASB_DATABASE_URL={get_settings().database_url} "
    for line in (
        f"{env}casb findings --severity high",
        f"{env}casb health",
        f"{env}casb scans",
    ):
        # soft_wrap: a narrow terminal must not break the command a reader will copy
        console.print(f"  [bold]{line}[/]", soft_wrap=True)
    if not fleet and shutil.which("docker"):
        console.print("  run the real fleet: docker compose up (see README)")


DEMO_TIME_SCALE = 30.0


def _speed_up_rate_limits() -> None:
    """Run the simulator's rate-limit clock 30x faster and scale our budgets to match.

    The documented limits (50 list requests a minute) would make a demo wait on the budget
    for most of a minute; scaling both sides keeps the demo honest (the same token-bucket
    code paths, zero violations) and quick. Budgets an operator set explicitly are kept.
    """
    from connectors.ratelimit import DEFAULT_LIMITS, scale_limits

    for group, (count, period) in scale_limits(DEFAULT_LIMITS, 1 / DEMO_TIME_SCALE).items():
        os.environ.setdefault(f"CASB_RATE_LIMIT_{group.upper()}", f"{count}/{period:g}")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
