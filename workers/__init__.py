"""Celery app, settings and CLI of the fleet.

``app``/``celery`` are resolved lazily (PEP 562) so that ``celery -A workers`` finds the
application while ``import core.settings`` or the CLI do not import Celery at all.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name in ("app", "celery"):
        from workers.celery_app import app

        return app
    raise AttributeError(f"module 'workers' has no attribute {name!r}")
