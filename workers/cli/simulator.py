"""`casb simulator serve`: run the fake OpenAI APIs on their own (see simulator/README.md)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from simulator.cli import simulator_app

    app.add_typer(simulator_app, name="simulator", help="Run the OpenAI API simulator.")
