"""Let the product download from a simulator's loopback storage (``/_blob`` on its port).

Downloads follow the destination policy: only ``https`` to public addresses, plus the
``host:port`` entries of ``CASB_STORAGE_ALLOWED_HOSTS``. A test that serves files from a
simulator adds that simulator's exact ``host:port`` for as long as it runs, never a bare
host (another loopback port must stay refused).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

VARIABLE = "CASB_STORAGE_ALLOWED_HOSTS"


def storage_host(sim: Any) -> str:
    """``127.0.0.1:<port>`` of a running simulator (its storage is on the same port)."""
    return f"{sim.host}:{sim.port}"


def with_storage_of(env: dict[str, str], *sims: Any) -> dict[str, str]:
    """``env`` (a worker subprocess's) with the simulators' storage allowed."""
    entries = [e for e in env.get(VARIABLE, "").split(",") if e.strip()]
    entries += [storage_host(s) for s in sims]
    return {**env, VARIABLE: ",".join(dict.fromkeys(entries))}


@contextmanager
def storage_allowed(*sims: Any) -> Iterator[None]:
    """Allow the simulators' storage in this process (settings re-read) while inside."""
    from core.settings import reset_settings_cache

    old = os.environ.get(VARIABLE)
    os.environ[VARIABLE] = with_storage_of({VARIABLE: old or ""}, *sims)[VARIABLE]
    reset_settings_cache()
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(VARIABLE, None)
        else:
            os.environ[VARIABLE] = old
        reset_settings_cache()
