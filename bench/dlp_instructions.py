"""Instruction counts of one matcher pass, for a shared machine where times are noise.

Runs itself under ``valgrind --tool=callgrind`` with instrumentation switched on for one warm
pass only (the policy compiled and run once before), and prints the millions of instructions
that pass took.

    .venv/bin/python bench/dlp_bench.py --size-mb 5 --only raw --passes 1 --corpus /tmp/c5.txt
    .venv/bin/python bench/dlp_instructions.py --corpus /tmp/c5.txt --policy secrets --mode pass

``--mode pass`` is a whole matcher pass (both stages); ``raw`` is stage 1 alone (the engines,
events dropped), as the bench's ``raw`` row. Compiled databases are kept in a directory
(``--db-cache``) so valgrind does not have to compile them.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

if TYPE_CHECKING:
    from detectors.dlp.matcher import Policy

CHUNK = 64 * 1024


class DirStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def load(self, key: str) -> bytes | None:
        p = self.root / key
        return p.read_bytes() if p.exists() else None

    def save(self, key: str, data: bytes) -> None:
        (self.root / key).write_bytes(data)


def _policy(name: str, engine: str | None) -> Policy:
    from detectors.dlp.matcher import compile_policy
    from detectors.dlp.profiles import CREDENTIALS, PREDEFINED

    profiles = [CREDENTIALS] if name == "secrets" else list(PREDEFINED.values())
    return compile_policy(profiles, engine=engine)


def _chunks(data: bytes) -> Iterator[bytes]:
    for i in range(0, len(data), CHUNK):
        yield data[i : i + CHUNK]


def _one_pass(policy: Policy, blocks: list[bytes], mode: str) -> None:
    if mode == "raw":
        policy.engine_scan(iter(blocks))
        return
    stream = policy.open_stream()
    for block in blocks:
        stream.feed(block)
    stream.close()


def child(args: argparse.Namespace) -> None:
    from detectors.dlp.engine_cache import use_database_store

    use_database_store(DirStore(args.db_cache))
    policy = _policy(args.policy, args.engine)
    # cut before the measured pass, as a file read would hand them over (no copy counted)
    blocks = list(_chunks(args.corpus.read_bytes()))
    _one_pass(policy, blocks, args.mode)
    if os.environ.get("DLP_INSTR_CHILD") == "1":
        subprocess.run(
            ["callgrind_control", "-i", "on", str(os.getpid())], check=True, capture_output=True
        )
    _one_pass(policy, blocks, args.mode)
    if os.environ.get("DLP_INSTR_CHILD") == "1":
        subprocess.run(
            ["callgrind_control", "-i", "off", str(os.getpid())], check=True, capture_output=True
        )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--policy", choices=["full", "secrets"], default="secrets")
    ap.add_argument("--mode", choices=["pass", "raw"], default="pass")
    ap.add_argument("--engine", choices=["auto", "hyperscan", "re2"], default=None)
    ap.add_argument("--db-cache", type=Path, default=Path(tempfile.gettempdir()) / "dlp-db")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help="keep the callgrind output file here")
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    # compile natively once, so the run under valgrind only deserializes
    subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            "--corpus",
            os.devnull,
            "--policy",
            args.policy,
            "--db-cache",
            str(args.db_cache),
        ]
        + (["--engine", args.engine] if args.engine else []),
        check=True,
    )
    out = args.out or Path(tempfile.mkdtemp(prefix="dlp-cg-")) / "callgrind.out"
    cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"]
    cmd += [
        sys.executable,
        __file__,
        "--child",
        "--corpus",
        str(args.corpus),
        "--policy",
        args.policy,
        "--mode",
        args.mode,
        "--db-cache",
        str(args.db_cache),
    ]
    if args.engine:
        cmd += ["--engine", args.engine]
    subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, "DLP_INSTR_CHILD": "1"})
    text = out.read_text(errors="replace")
    m = re.search(r"^totals:\s+(\d+)", text, re.M) or re.search(r"^summary:\s+(\d+)", text, re.M)
    total = int(m.group(1)) if m else 0
    print(f"{args.policy} {args.mode}: {total / 1e6:.1f} M instructions")


if __name__ == "__main__":
    main()
