"""DLP matcher benchmark: generate a seeded mixed-text corpus with planted positives and
decoys, stream it in 64 KiB chunks on one core, print throughput, recall, false positives
and peak RSS.

    .venv/bin/python bench/dlp_bench.py                 # 200 MB corpus, all rows
    .venv/bin/python bench/dlp_bench.py --size-mb 1024 --only full   # the 1 GB RSS check
    .venv/bin/python bench/dlp_bench.py --clock cpu     # on a shared machine: CPU time

Rows:
  full      compile_policy(all predefined profiles): engine + validators + context + masking
  secrets   the "Credentials and Secrets" profile alone
  raw       stage 1 of `full` alone: the same Hyperscan database (stream mode) and the same
            RE2 side pass over the class-led expressions kept out of it; events are
            collected and dropped (no validators, context or masking)
  secrets-raw  stage 1 of `secrets` alone, measured as `raw` is: the ceiling of that row
  (with a row and its engine row both asked for, a last line times them in back-to-back
  pairs and prints the median of the pairs' ratios: steadier than two rows timed apart)
  re        stdlib `re`, the same patterns one by one (on the first --re-mb MB only)
  extract   extract_text(".txt") + full policy (decode/encode cost included)

MB = 10^6 bytes. Recall counts a planted value as found when a confirmed match of the same
entry overlaps it; a false positive is a confirmed match that overlaps no planted value.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import random
import re
import resource
import statistics
import string
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detectors.dlp.extract import ExtractLimits, extract_text
from detectors.dlp.matcher import Policy, compile_policy
from detectors.dlp.profiles import CREDENTIALS, PREDEFINED
from tests.unit.dlp.samples import Gen, entry_samples

CHUNK = 64 * 1024
_WORD_TEXT = (
    "the of and to in is for on that with as are this be by from at or an was report quarter "
    "revenue customer service team project meeting update release budget forecast design review "
    "invoice order shipment account balance status pending approved total region north south "
    "east west analysis summary data model training inference prompt response latency request "
    "cluster node pod deploy rollback metric alert incident owner action item follow up draft "
    "caf\u00e9 na\u00efve r\u00e9sum\u00e9 stra\u00dfe \u00fcber \u6771\u4eac \u5927\u962a "
    "\u041c\u043e\u0441\u043a\u0432\u0430 \u0434\u0430\u043d\u043d\u044b\u0435"
)
WORDS = _WORD_TEXT.split()


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Corpus:
    """Writes the corpus file and remembers where each positive value was planted."""

    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)
        self.pos = 0
        self.planted: list[tuple[int, int, str]] = []  # (start, end, entry id)
        self.straddling = 0
        self.decoys = 0
        pools = [entry_samples(Gen(seed * 1000 + i)) for i in range(64)]
        self.positives = [(eid, t, v) for pool in pools for eid, (t, v, _) in pool.items()]
        self.misses = sorted({m for pool in pools for (_, _, m) in pool.values()})
        self.filler = self._filler_pool(20_000)

    def _filler_pool(self, n: int) -> list[str]:
        r = self.r
        b64 = string.ascii_letters + string.digits + "+/"
        out = []
        for _ in range(n):
            kind = r.random()
            words = " ".join(r.choices(WORDS, k=r.randint(6, 18)))
            w1, w2 = r.choice(WORDS), r.choice(WORDS)
            if kind < 0.35:  # prose / markdown
                pct, items = r.randint(1, 99), r.randint(1000, 99999)
                out.append(f"{words.capitalize()}. {pct}% of {items} items.\n")
            elif kind < 0.55:  # CSV with 9-digit ids, amounts and dates
                row_id, amount, cents = (
                    r.randint(100000, 999999999),
                    r.randint(0, 99999),
                    r.randint(0, 99),
                )
                day = f"2026-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"
                out.append(f"{row_id},{w1},{amount}.{cents:02d},{day},{w2}\n")
            elif kind < 0.75:  # JSON lines with hashes, uuids, base64 blobs
                sha = "".join(r.choices("0123456789abcdef", k=40))
                u = "".join(r.choices("0123456789abcdef", k=32))
                uuid = f"{u[:8]}-{u[8:12]}-{u[12:16]}-{u[16:20]}-{u[20:]}"
                blob = "".join(r.choices(b64, k=r.randint(20, 80)))
                n_val = r.randint(0, 10**9)
                out.append(
                    f'{{"id": "{uuid}", "sha1": "{sha}", "blob": "{blob}", "n": {n_val}, '
                    f'"note": "{words}"}}\n'
                )
            elif kind < 0.9:  # code
                default = r.randint(0, 999)
                out.append(f"    def {w1}_{w2}(self, x: int = {default}) -> str:  # {words}\n")
            else:  # logs
                ts = f"2026-11-26T12:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}Z"
                rid, lat = r.getrandbits(64), r.randint(1, 900)
                out.append(
                    f"{ts} INFO worker-{r.randint(1, 64)} request_id={rid:016x} "
                    f"latency_ms={lat} {words}\n"
                )
        return out

    def _write(self, out: list[str], text: str) -> None:
        out.append(text)
        self.pos += len(text.encode())

    def _plant(self, out: list[str], eid: str, text: str, value: str) -> None:
        line = "\n" + text + "\n"
        start = self.pos + len(line[: line.index(value)].encode())
        self.planted.append((start, start + len(value.encode()), eid))
        self._write(out, line)

    def generate(self, path: Path, size: int) -> None:
        r = self.r
        with path.open("w", encoding="utf-8", newline="") as fh:
            next_boundary = CHUNK
            while self.pos < size:
                out: list[str] = []
                block_end = self.pos + (1 << 20)
                while self.pos < block_end:
                    x = r.random()
                    if x < 0.0025:
                        eid, text, value = r.choice(self.positives)
                        self._plant(out, eid, text, value)
                    elif x < 0.0033:
                        self.decoys += 1
                        self._write(out, "\n" + r.choice(self.misses) + "\n" + "." * 400 + "\n")
                    else:
                        self._write(out, r.choice(self.filler))
                    if self.pos + 600 >= next_boundary:
                        if r.random() < 0.5:  # a positive that straddles this chunk boundary
                            eid, text, value = r.choice(self.positives)
                            line = "\n" + text + "\n"
                            lead = len(line[: line.index(value)].encode())
                            cut = r.randint(1, max(1, len(value.encode()) - 1))
                            pad = next_boundary - self.pos - lead - cut
                            if pad >= 2:
                                self._write(out, "." * (pad - 1) + "\n")
                                self._plant(out, eid, text, value)
                                self.straddling += 1
                        next_boundary += CHUNK
                        while next_boundary <= self.pos:
                            next_boundary += CHUNK
                fh.write("".join(out))


def chunks(path: Path, limit: int | None = None) -> Iterator[bytes]:
    read = 0
    with path.open("rb", buffering=0) as fh:
        while True:
            block = fh.read(CHUNK)
            if not block or (limit is not None and read >= limit):
                return
            read += len(block)
            yield block


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
CLOCK = [time.perf_counter]


def timed(fn: Callable[[], object], passes: int) -> tuple[float, list[float]]:
    clock = CLOCK[0]
    times = []
    for _ in range(passes):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return statistics.median(times), times


def score(
    spans: list[tuple[str, int, int]], planted: list[tuple[int, int, str]]
) -> dict[str, object]:
    starts = [p[0] for p in planted]
    found = [False] * len(planted)
    fp: Counter[str] = Counter()
    cross = 0
    for eid, s, e in spans:
        i = bisect.bisect_right(starts, e) - 1
        hit_same = hit_other = False
        while i >= 0 and planted[i][0] > s - 8192:
            ps, pe, pid = planted[i]
            if ps < e and s < pe:
                if pid == eid:
                    found[i] = True
                    hit_same = True
                else:
                    hit_other = True
            i -= 1
        if not hit_same:
            if hit_other:
                cross += 1
            else:
                fp[eid] += 1
    missed = Counter(planted[i][2] for i in range(len(planted)) if not found[i])
    return {
        "recall": sum(found) / max(1, len(planted)),
        "missed": dict(missed),
        "fp": sum(fp.values()),
        "fp_by_entry": dict(fp),
        "cross_type": cross,
    }


def run_policy(policy: Policy, path: Path, record: bool = False) -> list[tuple[str, int, int]]:
    stream = policy.open_stream(record_spans=record)
    for block in chunks(path):
        stream.feed(block)
    stream.close()
    return stream.spans or []


def run_raw(policy: Policy, path: Path) -> int:
    # Stage 1 alone, no stage 2: the Hyperscan stream (callback appends the event) plus the
    # RE2 side pass over the class-led expressions that are not in the Hyperscan database;
    # on the RE2 engine, its chunk+overlap driver and per-expression searches.
    return policy.engine_scan(chunks(path))


def timed_raw(policy: Policy, path: Path, passes: int) -> tuple[float, list[float], int]:
    """``timed`` over the engine alone: median, pass times and the engine's event count."""
    events = [0]

    def raw() -> None:
        events[0] = run_raw(policy, path)

    med, ts = timed(raw, passes)
    return med, ts, events[0]


def paired_ratios(policy: Policy, path: Path, passes: int) -> list[float]:
    """Engine time / matcher time of back-to-back pass pairs: a ratio that a drifting
    machine speed (shared cores, frequency changes) moves far less than rows timed apart."""
    clock = CLOCK[0]
    ratios = []
    for _ in range(passes):
        t0 = clock()
        run_policy(policy, path)
        t1 = clock()
        run_raw(policy, path)
        t2 = clock()
        ratios.append((t2 - t1) / (t1 - t0))
    return ratios


def run_re(policy: Policy, path: Path, limit: int) -> int:
    pats = []
    for p in policy.profiles:
        for e in p.entries:
            if e.pattern:
                pats.append(re.compile(e.pattern.encode(), re.IGNORECASE if e.caseless else 0))
    pats = list({p.pattern: p for p in pats}.values())
    hits = 0
    for block in chunks(path, limit):
        for rx in pats:
            for _ in rx.finditer(block):
                hits += 1
    return hits


def row(name: str, mbps: float, times: list[float], note: str) -> None:
    passes = " ".join(f"{t:.2f}" for t in times)
    print(f"{name:<11} {mbps:>12.1f} {passes:>24}  {note}")
    BEST[name] = min(times)


BEST: dict[str, float] = {}


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--size-mb", type=float, default=200)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--re-mb", type=float, default=4)
    ap.add_argument("--cpu", type=int, default=1, help="core to pin to (-1: no pinning)")
    ap.add_argument(
        "--only",
        choices=["full", "secrets", "raw", "secrets-raw", "re", "extract"],
        action="append",
    )
    ap.add_argument("--corpus", type=Path, help="reuse/keep the corpus at this path")
    ap.add_argument(
        "--engine",
        choices=["auto", "hyperscan", "re2"],
        default=None,
        help="stage-1 engine (default: auto)",
    )
    ap.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="wall",
        help="wall: elapsed time; cpu: this process's CPU time (less sensitive to other jobs "
        "on a shared machine; the summary then also prints the fastest pass)",
    )
    ap.add_argument("--json", type=Path, help="also write the MB/s figures to this file")
    args = ap.parse_args()
    rows = args.only or ["full", "secrets", "raw", "secrets-raw", "re", "extract"]
    CLOCK[0] = CLOCKS[args.clock]

    if args.cpu >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    size = int(args.size_mb * 1e6)
    tmpdir = tempfile.TemporaryDirectory(prefix="dlp-bench-")
    path = args.corpus or Path(tmpdir.name) / "corpus.txt"

    t0 = time.perf_counter()
    corpus = Corpus(args.seed)
    corpus.generate(path, size)
    actual = path.stat().st_size
    mb = actual / 1e6
    types = len({p[2] for p in corpus.planted})
    print(
        f"corpus: {mb:.1f} MB, seed {args.seed}, {len(corpus.planted)} planted positives of "
        f"{types} entry types ({corpus.straddling} placed across a 64 KiB boundary), "
        f"{corpus.decoys} decoy lines; generated in {time.perf_counter() - t0:.1f} s; "
        f"RSS {rss_mib():.0f} MiB"
    )

    t0 = time.perf_counter()
    full = compile_policy(PREDEFINED.values(), engine=args.engine)
    compile_s = time.perf_counter() - t0
    secrets = compile_policy([CREDENTIALS], engine=args.engine)
    n_entries = sum(len(p.entries) for p in PREDEFINED.values())
    print(
        f"compile: full policy {compile_s:.2f} s ({n_entries} profile entries), "
        f"engine {full.engine}"
    )
    print(f"{'row':<11} {'MB/s median':>12} {'passes (s)':>24}  notes")

    results: dict[str, float] = {}
    if "full" in rows:
        med, ts = timed(lambda: run_policy(full, path), args.passes)
        results["full"] = mb / med
        spans = run_policy(full, path, record=True)
        sc = score(spans, corpus.planted)
        straddle_planted = [p for p in corpus.planted if (p[0] // CHUNK) != ((p[1] - 1) // CHUNK)]
        st = score(spans, straddle_planted)
        row(
            "full",
            mb / med,
            ts,
            f"recall {sc['recall']:.4f}, straddling recall {st['recall']:.4f} "
            f"({len(straddle_planted)}), FP {sc['fp']} {sc['fp_by_entry'] or ''}, "
            f"cross-type {sc['cross_type']}, missed {sc['missed'] or 0}",
        )
    if "secrets" in rows:
        med, ts = timed(lambda: run_policy(secrets, path), args.passes)
        results["secrets"] = mb / med
        row("secrets", mb / med, ts, "Credentials and Secrets only")
    for name, policy, note in (
        ("raw", full, "same engine(s) as full, {} engine events"),
        ("secrets-raw", secrets, "same engine as secrets, {} events"),
    ):
        if name in rows:
            med, ts, events = timed_raw(policy, path, args.passes)
            results[name] = mb / med
            row(name, mb / med, ts, note.format(events))
    if "re" in rows:
        limit = int(args.re_mb * 1e6)
        med, ts = timed(lambda: run_re(full, path, limit), 1)
        re_mb = min(limit, actual) / 1e6
        results["re"] = re_mb / med
        row("re", re_mb / med, ts, f"stdlib re, same patterns, first {re_mb:.0f} MB")
    if "extract" in rows:

        def ext() -> None:
            with path.open("rb") as fh:
                full.scan(extract_text("corpus.txt", fh, ExtractLimits(max_input_bytes=10**12)))

        med, ts = timed(ext, 1)
        results["extract"] = mb / med
        row("extract", mb / med, ts, "extract_text(txt) + full policy")
    if "full" in results and "raw" in results:
        print(f"full / raw engine: {results['full'] / results['raw']:.2f}")
    if "secrets" in results and "secrets-raw" in results:
        print(f"secrets / secrets-raw engine: {results['secrets'] / results['secrets-raw']:.2f}")
    for name, policy, engine_row in (("full", full, "raw"), ("secrets", secrets, "secrets-raw")):
        if name in results and engine_row in results:
            ratios = paired_ratios(policy, path, args.passes)
            print(
                f"{name} / its engine, paired passes: median {statistics.median(ratios):.2f} "
                f"({' '.join(f'{r:.2f}' for r in ratios)})"
            )
    if CLOCK[0] is time.process_time:
        fastest = ", ".join(f"{k} {mb / t:.1f}" for k, t in BEST.items() if k != "re")
        print(f"fastest pass, MB/s of CPU time: {fastest}")
        if "full" in BEST and "raw" in BEST:
            print(f"fastest full / fastest raw: {BEST['raw'] / BEST['full']:.2f}")
    print(f"peak RSS: {rss_mib():.0f} MiB")
    if args.json:
        args.json.write_text(json.dumps({"mb_per_s": results, "mb": mb}))
    tmpdir.cleanup()


if __name__ == "__main__":
    main()
