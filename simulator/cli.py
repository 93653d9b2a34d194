"""`casb simulator serve`: run the fake OpenAI on its own and print how to reach it.

Prints tenant keys on purpose: this is a local development tool and the keys are fake.
"""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from simulator.model import SIZES
from simulator.server import start_in_thread, start_tls_in_thread
from simulator.world import World

simulator_app = typer.Typer(
    help="Run the OpenAI Admin + Compliance API simulator.", no_args_is_help=True
)


@simulator_app.callback()
def _root() -> None:
    """Fake OpenAI Admin and Compliance APIs with seeded tenants, planted risks and faults."""


@simulator_app.command("serve")
def serve(
    port: Annotated[int, typer.Option(help="TCP port on 127.0.0.1 (0 = pick a free one).")] = 8765,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    tenants: Annotated[int, typer.Option(min=1, max=99, help="How many tenants to generate.")] = 3,
    seed: Annotated[int, typer.Option(help="Seed: the same seed always gives the same data.")] = 0,
    size: Annotated[
        str, typer.Option(help=f"Data volume per tenant: {', '.join(SIZES)}.")
    ] = "small",
    time_scale: Annotated[
        float, typer.Option(help="Rate-limit windows run this many times faster.")
    ] = 1.0,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the tenant table as JSON.")
    ] = False,
    tls: Annotated[
        Path | None,
        typer.Option(
            help="Serve over TLS (HTTP/2 and HTTP/1.1 by ALPN, needs hypercorn) with a CA and "
            "certificate written to this directory; trust its ca.pem (CASB_CA_BUNDLE)."
        ),
    ] = None,
) -> None:
    """Start the simulator, print base URLs and each tenant's ids, keys; block until Ctrl-C."""
    if size not in SIZES:
        typer.echo(f"error: unknown --size {size!r}; choose one of {', '.join(SIZES)}", err=True)
        raise typer.Exit(2)
    if time_scale <= 0:
        typer.echo("error: --time-scale must be positive", err=True)
        raise typer.Exit(2)
    world = World.generate(tenants=tenants, seed=seed, size=size, time_scale=time_scale)
    try:
        if tls is None:
            sim = start_in_thread(world, host=host, port=port)
        else:
            sim = start_tls_in_thread(world, tls, host=host, port=port)
    except ImportError:
        typer.echo("error: --tls needs hypercorn (pip install -e '.[dev]')", err=True)
        raise typer.Exit(2) from None
    except OSError as e:
        typer.echo(
            f"error: cannot listen on {host}:{port} ({e.strerror}); "
            "pick another --port or use --port 0",
            err=True,
        )
        raise typer.Exit(2) from None
    rows = [t.credentials() for t in world.tenants.values()]
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "url": sim.url,
                    "admin_api_base": sim.admin_base,
                    "compliance_api_base": sim.compliance_base,
                    "ca_cert": str(sim.tls.ca_cert) if sim.tls else None,
                    "tenants": rows,
                },
                indent=2,
            )
        )
    else:
        typer.echo(f"Simulator listening on {sim.url}")
        typer.echo(f"  admin_api_base      = {sim.admin_base}")
        typer.echo(f"  compliance_api_base = {sim.compliance_base}")
        typer.echo(f"  stats               = {sim.url}/_sim/stats")
        if sim.tls is not None:
            typer.echo(f"  CA to trust         = {sim.tls.ca_cert}")
        typer.echo(f"  size={size} seed={seed} time_scale={time_scale:g}")
        for row in rows:
            typer.echo("")
            typer.echo(f"[{row['slug']}] {row['name']}")
            typer.echo(f"  org_id         = {row['org_id']}")
            typer.echo(f"  workspace_id   = {row['workspace_id']}")
            typer.echo(f"  admin_key      = {row['admin_key']}")
            typer.echo(f"  compliance_key = {row['compliance_key']}")
            for key in row["project_keys"]:
                typer.echo(f"  project_key    = {key}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
        typer.echo("simulator stopped")


def main() -> None:
    simulator_app()


if __name__ == "__main__":
    main()
