"""Every performance figure of the project in one run, each beside its baseline (by hand).

    .venv/bin/python bench/perf_report.py [--baseline-tree ../base] [--only latency,huge]
                                          [--huge-time-scale 20] [--json report.json]

Runs the benches as subprocesses (each writes ``--json``) and prints one table: figure,
baseline, now, ratio, target. Two kinds of baseline:

* **the code before**: ``--baseline-tree PATH`` is a checkout of the earlier commit with
  its own ``.venv`` (``git worktree add ../base <commit>`` then ``./scripts/test --co -q``
  there). The same bench runs there in the same invocation: the rescan-latency bench of
  this tree is run by that tree's interpreter against that tree's code (``--tree``), the
  fleet bench is that tree's own script (its printed figures are read). The limiter's
  baseline is the earlier pacing, run by ``bench_rate_budget.py`` in its own run.
* **a bound**: the huge tenant's scan against its file-route budget (files / limit x
  window), the matcher against the raw Hyperscan engine on the same database.

Figures (``--only`` picks some): ``limiter`` (3,000 file-route requests vs their bound),
``latency`` (tiny tenant rescan: in-process, ``casb scan --inline``, ``--wait``),
``fleet`` (50 small tenants: files/s, requests/s; the in-process comparison when the fleet
bench reports it), ``matcher`` (full set / raw engine, MB/s), ``huge`` (the huge tenant vs
its bound). The machine's load average is printed with the table: compare ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[1]
FIGURES = ("limiter", "latency", "fleet", "matcher", "huge")


class Table:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str, str]] = []

    def add(
        self,
        figure: str,
        baseline: float | None,
        now: float | None,
        target: str = "",
        unit: str = "s",
        fmt: str = "{:.2f}",
    ) -> None:
        def show(value: float | None) -> str:
            return "-" if value is None else fmt.format(value) + (f" {unit}" if unit else "")

        ratio = f"{now / baseline:.3f}" if baseline and now is not None else "-"
        self.rows.append((figure, show(baseline), show(now), ratio, target))

    def note(self, figure: str, text: str) -> None:
        self.rows.append((figure, "-", text, "-", ""))

    def print(self) -> None:
        header = ("figure", "baseline", "now", "now / baseline", "target")
        widths = [max(len(r[i]) for r in [header, *self.rows]) for i in range(5)]
        for row in [header, tuple("-" * w for w in widths), *self.rows]:
            print(" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))


def run_json(cmd: list[str], cwd: Path, timeout: float) -> dict[str, Any]:
    """Run a bench with ``--json FILE`` appended; its figures (its output is echoed)."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = Path(handle.name)
    try:
        print(f"$ {' '.join(cmd)}  (in {cwd})", flush=True)
        started = time.monotonic()
        subprocess.run([*cmd, "--json", str(out)], cwd=cwd, check=True, timeout=timeout)
        print(f"  ({time.monotonic() - started:.0f} s)", flush=True)
        return json.loads(out.read_text())
    finally:
        out.unlink(missing_ok=True)


def run_text(cmd: list[str], cwd: Path, timeout: float) -> str:
    """Run a bench that has no ``--json`` (an older tree's); its stdout."""
    print(f"$ {' '.join(cmd)}  (in {cwd})", flush=True)
    done = subprocess.run(cmd, cwd=cwd, check=True, timeout=timeout, capture_output=True, text=True)
    print(done.stdout, flush=True)
    return done.stdout


def python_of(tree: Path) -> str:
    return str(tree / ".venv" / "bin" / "python")


def fleet_from_text(text: str) -> dict[str, Any]:
    """The figures an older ``fleet_bench.py`` printed."""

    def number(pattern: str, group: int = 1) -> float | None:
        found = re.search(pattern, text)
        return float(found.group(group)) if found else None

    return {
        "wall": number(r"wall time \(dispatch -> last scan finished\): ([\d.]+) s"),
        "requests": number(r"API requests: (\d+)"),
        "files": number(r"files: (\d+) \([\d.]+/s\)"),
        "large_bound": number(r"large tenant budget bound: .* = ([\d.]+) s; scan"),
        "large_scan": number(r"large tenant budget bound: .*; scan ([\d.]+) s"),
    }


def limiter(args: argparse.Namespace, table: Table) -> None:
    data = run_json(
        [sys.executable, "bench/bench_rate_budget.py", "--requests", "3000"], HERE, 1200
    )
    bound = data["bound"]
    legacy, adaptive = data["seconds"]["legacy"], data["seconds"]["adaptive"]
    table.add(
        f"limiter: 3,000 file-route requests / their bound ({bound:.1f} s); baseline: the "
        "earlier pacing, same run",
        legacy / bound,
        adaptive / bound,
        "<= 1.05x",
        unit="x",
        fmt="{:.3f}",
    )


def latency(args: argparse.Namespace, table: Table) -> None:
    cmd = ["bench/bench_rescan_latency.py", "--repeat", str(args.repeat)]
    now = run_json([sys.executable, *cmd], HERE, 1800)
    before = None
    if args.baseline_tree:
        tree = args.baseline_tree
        before = run_json(
            [python_of(tree), str(HERE / cmd[0]), *cmd[1:], "--tree", str(tree)], HERE, 1800
        )
    fixed = now["fixed_waits"]
    targets = {
        "in-process": "-",
        "inline": f"<= 1 s + waits ({fixed:g} s) + start",
        "worker": f"<= 2 s + waits ({fixed:g} s)",
    }
    names = {
        "in-process": "tiny tenant rescan in process (run_inline), median",
        "inline": "tiny tenant rescan, casb scan --inline, median",
        "worker": "tiny tenant rescan through a worker, casb scan --wait, median",
    }
    for mode in ("in-process", "inline", "worker"):
        old = before["modes"][mode] if before else None
        new = now["modes"][mode]
        table.add(names[mode], old and old["median"], new["median"], targets[mode])
        label = "  same, minus the fixed waits" + (" and process start" if mode == "inline" else "")
        table.add(
            label,
            old and old["beyond_fixed_waits"],
            new["beyond_fixed_waits"],
            {"inline": "<= 1 s", "worker": "<= 2 s"}.get(mode, ""),
        )
        if mode != "in-process":
            table.add(
                "  same, CPU seconds of the CLI process",
                old and old["cpu_median"],
                new["cpu_median"],
            )
    table.add(
        "CLI process start (casb scan --help), median",
        before and before["process_start"],
        now["process_start"],
    )
    for key, label, target in (
        ("worker", "--wait: CPU of the CLI + the worker per rescan", "<= 2 s"),
        ("inline_less_start", "--inline: CPU less process start's", "<= 1 s"),
    ):
        old_estimate = (before or {}).get("idle_estimate", {}).get(key)
        table.add(
            f"  {label} (idle-machine time less fixed waits)",
            old_estimate,
            now.get("idle_estimate", {}).get(key),
            target,
        )


def fleet(args: argparse.Namespace, table: Table) -> None:
    cmd = ["bench/fleet_bench.py", "--small", "50", "--small-size", "small", "--large", "0"]
    # This tree's bench also scans the same tenants in one process (the fleet / inline ratio);
    # the baseline tree's older script knows only the fleet.
    now = run_json([sys.executable, *cmd, "--modes", "fleet,inline"], HERE, 3600)
    before = None
    if args.baseline_tree:
        text = run_text([python_of(args.baseline_tree), *cmd], args.baseline_tree, 3600)
        before = fleet_from_text(text)
    for key, label in (("files", "files/s"), ("requests", "API requests/s")):
        rate_now = now[key] / now["wall"]
        rate_before = before[key] / before["wall"] if before and before.get(key) else None
        table.add(
            f"fleet, 50 small tenants: {label}", rate_before, rate_now, "", unit="/s", fmt="{:.1f}"
        )
    table.add("fleet, 50 small tenants: wall", before and before["wall"], now["wall"])
    cpu = now.get("cpu_per_item_ms")
    if cpu is not None:
        table.add("fleet: CPU per file or request (fleet only)", None, cpu, "<= 6 ms", unit="ms")
    inline = now.get("inline_wall")
    if inline:
        table.add(
            "same tenants scanned inline in one process (wall); fleet / inline",
            inline,
            now["wall"],
            "fleet <= 1.3x inline",
        )
    else:
        table.note("fleet vs the same tenants inline", "not reported by this fleet_bench")


def matcher(args: argparse.Namespace, table: Table) -> None:
    cmd = [sys.executable, "bench/dlp_bench.py", "--size-mb", str(args.dlp_mb), "--passes", "3"]
    cmd += ["--clock", "cpu"]  # this process's CPU time: less sensitive to other jobs
    for row in ("full", "raw", "secrets", "extract"):
        cmd += ["--only", row]
    data = run_json(cmd, HERE, 3600)["mb_per_s"]
    table.add(
        "matcher, full predefined set vs the raw engine (same database), MB/s",
        data["raw"],
        data["full"],
        ">= 0.85x",
        unit="MB/s",
        fmt="{:.1f}",
    )
    table.add(
        "matcher, Credentials and Secrets alone, MB/s", None, data["secrets"], "", "MB/s", "{:.1f}"
    )
    table.add("extraction + match of .txt, MB/s", None, data["extract"], "", "MB/s", "{:.1f}")


def huge(args: argparse.Namespace, table: Table) -> None:
    cmd = [
        sys.executable,
        "bench/fleet_bench.py",
        "--small",
        "1",
        "--small-size",
        "tiny",
        "--large",
        "1",
        "--large-size",
        "huge",
        "--time-scale",
        str(args.huge_time_scale),
        "--timeout",
        "7200",
    ]
    data = run_json(cmd, HERE, 7500)
    table.add(
        f"huge tenant ({data['large_files']} files), whole scan vs its file-route bound "
        f"(time scale {args.huge_time_scale:g})",
        data["large_bound"],
        data["large_scan"],
        "<= 1.05x",
    )


STEPS: dict[str, Callable[[argparse.Namespace, Table], None]] = {
    "limiter": limiter,
    "latency": latency,
    "fleet": fleet,
    "matcher": matcher,
    "huge": huge,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline-tree", type=Path, default=None)
    parser.add_argument("--only", default=",".join(FIGURES), help=f"some of {FIGURES}")
    parser.add_argument("--repeat", type=int, default=3, help="rescans timed per mode")
    parser.add_argument("--huge-time-scale", type=float, default=20.0)
    parser.add_argument("--dlp-mb", type=float, default=100.0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.baseline_tree is not None:
        args.baseline_tree = args.baseline_tree.resolve()
        if not Path(python_of(args.baseline_tree)).exists():
            raise SystemExit(f"{args.baseline_tree} has no .venv: run ./scripts/test --co -q there")
    table = Table()
    loads = [os.getloadavg()[0]]
    for name in args.only.split(","):
        try:
            STEPS[name.strip()](args, table)
        except Exception as exc:  # one failing bench must not hide the others' figures
            table.note(name, f"failed: {type(exc).__name__}: {exc}"[:120])
        loads.append(os.getloadavg()[0])
    print()
    print(
        f"{os.cpu_count()} cores; load average (1 min) {min(loads):.1f}-{max(loads):.1f} during "
        "the run: compare ratios, not absolute times"
    )
    table.print()
    if args.json:
        args.json.write_text(json.dumps({"rows": table.rows, "load": loads}, indent=2))


if __name__ == "__main__":
    main()
