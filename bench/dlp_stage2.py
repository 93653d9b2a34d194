"""Stage 2 of the DLP matcher alone: the engine events of a corpus recorded once, then
replayed through ``MatchStream`` (history, absorption, start recovery, regions, confirmation)
with no engine running.

    .venv/bin/python bench/dlp_stage2.py --corpus /tmp/c50.txt --policy full --passes 5
    .venv/bin/python bench/dlp_stage2.py --corpus /tmp/c50.txt --policy full --profile
    .venv/bin/python bench/dlp_stage2.py --corpus /tmp/c50.txt --policy secrets --callgrind
    .venv/bin/python bench/dlp_stage2.py ... --python    # the pure-Python stage 2

``--callgrind`` runs itself under valgrind with instrumentation on for one warm replay only
and prints its instructions (load-independent). Times are CPU seconds per replay.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dlp_instructions import DirStore  # (the bench folder is first on sys.path)

from detectors.dlp import matcher
from detectors.dlp.engine_cache import use_database_store
from detectors.dlp.profiles import CREDENTIALS, PREDEFINED

CHUNK = 64 * 1024


class _Replay:
    """A finder that hands over recorded events: the ones after each chunk, then at close."""

    def __init__(self, real: Any, batches: list[list[tuple[int, int, int]]], events: list) -> None:
        self.exact_start = real.exact_start
        self.lag = real.lag
        self._batches = batches
        self._events = events
        self._n = 0
        self._pos = 0
        self._frontiers: list[int] = []

    @property
    def frontier(self) -> int:
        return self._frontiers[self._n - 1] if self._n else 0

    def feed(self, data: bytes) -> None:
        self._events.extend(self._batches[self._n])
        self._n += 1

    def close(self) -> None:
        self._events.extend(self._batches[self._n])

    abort = close


def record(policy: matcher.Policy, blocks: list[bytes]) -> tuple[list[list[Any]], list[int]]:
    events: list[tuple[int, int, int]] = []
    finder = policy._new_finder(events)
    batches, frontiers = [], []
    for block in blocks:
        finder.feed(block)
        batches.append(list(events))
        frontiers.append(finder.frontier)
        events.clear()
    finder.close()
    batches.append(list(events))
    return batches, frontiers


def replay(policy: matcher.Policy, blocks: list[bytes], batches: list, frontiers: list) -> Any:
    real_new = policy._new_finder

    def new_finder(events: list) -> Any:
        finder = _Replay(real_new([]), batches, events)
        finder._frontiers = frontiers
        return finder

    policy._new_finder = new_finder  # type: ignore[method-assign]
    try:
        stream = policy.open_stream(record_spans=True)
        for block in blocks:
            stream.feed(block)
        result = stream.close()
    finally:
        del policy._new_finder
    return result, stream.spans


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--policy", choices=["full", "secrets"], default="full")
    ap.add_argument("--engine", choices=["hyperscan", "re2"], default="hyperscan")
    ap.add_argument("--passes", type=int, default=5)
    ap.add_argument("--python", action="store_true", help="the pure-Python stage 2")
    ap.add_argument("--profile", action="store_true", help="cProfile one replay")
    ap.add_argument("--callgrind", action="store_true")
    ap.add_argument("--db-cache", type=Path, default=Path(tempfile.gettempdir()) / "dlp-db")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.callgrind and not args.child:
        out = Path(tempfile.mkdtemp(prefix="dlp-s2-")) / "callgrind.out"
        argv = [a for a in sys.argv[1:] if a != "--callgrind"]
        subprocess.run([sys.executable, __file__, *argv, "--child", "--passes", "0"], check=True)
        cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no"]
        cmd += [f"--callgrind-out-file={out}", sys.executable, __file__, *argv, "--child"]
        subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, "S2_CG": "1"})
        text = out.read_text(errors="replace")
        m = re.search(r"^totals:\s+(\d+)", text, re.M) or re.search(
            r"^summary:\s+(\d+)", text, re.M
        )
        assert m is not None
        print(f"{args.policy} stage 2 replay: {int(m.group(1)) / 1e6:.1f} M instructions ({out})")
        return
    use_database_store(DirStore(args.db_cache))
    if args.python:
        matcher._native_stream = None  # type: ignore[attr-defined]
    profiles = [CREDENTIALS] if args.policy == "secrets" else list(PREDEFINED.values())
    policy = matcher.compile_policy(profiles, engine=args.engine)
    data = args.corpus.read_bytes()
    blocks = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]
    batches, frontiers = record(policy, blocks)
    _result, spans = replay(policy, blocks, batches, frontiers)  # warm
    if args.child and os.environ.get("S2_CG") == "1":
        pid = str(os.getpid())
        subprocess.run(["callgrind_control", "-i", "on", pid], check=True, capture_output=True)
        replay(policy, blocks, batches, frontiers)
        subprocess.run(["callgrind_control", "-i", "off", pid], check=True, capture_output=True)
        return
    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        replay(policy, blocks, batches, frontiers)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        return
    times = []
    for _ in range(args.passes):
        t0 = time.process_time()
        replay(policy, blocks, batches, frontiers)
        times.append(time.process_time() - t0)
    n_events = sum(len(b) for b in batches)
    if times:
        each = " ".join(f"{t * 1000:.1f}" for t in times)
        print(
            f"{args.policy}: {len(spans)} spans, {n_events} events, replay median "
            f"{statistics.median(times) * 1000:.1f} ms ({each})"
        )


if __name__ == "__main__":
    main()
