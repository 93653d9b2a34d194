"""The prefork child's memory cap: set by the worker_process_init hook from the setting.

Each case runs in a fresh child process, since an address-space limit cannot be lifted once
it is lowered."""

from __future__ import annotations

import json
import os
import subprocess
import sys

_CHILD = """
import io, json, resource
from workers.celery_app import cap_child_memory

cap_child_memory()
soft, _ = resource.getrlimit(resource.RLIMIT_AS)
out = {"soft": soft, "infinity": soft == resource.RLIM_INFINITY}
try:
    big = bytearray(600 * 1024 * 1024)
    out["allocated"] = True
except MemoryError:
    out["allocated"] = False
# after a failed allocation the process goes on: extraction still works under the cap
from detectors.dlp.extract import ExtractReport, extract_text
report = ExtractReport()
text = b"".join(extract_text("a.txt", io.BytesIO(b"SSN 536-22-7789\\n" * 1000), None, report))
out["extracted"] = len(text)
print(json.dumps(out))
"""


def _run(limit_mb: str) -> dict[str, object]:
    env = {**os.environ, "CASB_WORKER_MEMORY_LIMIT_MB": limit_mb}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD], env=env, capture_output=True, check=True, timeout=120
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_cap_turns_a_runaway_allocation_into_memory_error() -> None:
    result = _run("400")
    assert result["soft"] == 400 * 1024 * 1024
    assert result["allocated"] is False
    assert result["extracted"] == 16_000


def test_zero_disables_the_cap() -> None:
    result = _run("0")
    assert result["infinity"] is True
    assert result["allocated"] is True
