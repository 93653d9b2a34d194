"""Instruction counts of one matcher pass, for a shared machine where times are noise.

Runs itself under ``valgrind --tool=callgrind`` with instrumentation switched on for one warm
pass only (the policy compiled and run once before), and prints the millions of instructions
that pass took.

    .venv/bin/python bench/dlp_bench.py --size-mb 5 --only raw --passes 1 --corpus /tmp/c5.txt
    .venv/bin/python bench/dlp_instructions.py --corpus /tmp/c5.txt --policy secrets --mode pass

``--mode pass`` is a whole matcher pass (both stages); ``raw`` is stage 1 alone (the engines,
events dropped), as the bench's ``raw`` row. ``--document FILE`` counts one ``scan_document``
of that file instead (extraction and matching, every predefined profile, as
``bench/dlp_formats.py`` times it); ``--src TREE`` imports the project from another source
tree (a worktree of main, for before/after counts of the same file).

    .venv/bin/python bench/dlp_instructions.py --document /tmp/docs/pptx-0.1mb.pptx --src ../main

Compiled databases are kept in a directory (``--db-cache``) so valgrind does not have to
compile them.
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
if "--src" in sys.argv[:-1]:  # the project imported from another tree (before/after counts)
    sys.path.insert(0, str(Path(sys.argv[sys.argv.index("--src") + 1]).resolve()))

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


def _instrument(on: bool) -> None:
    if os.environ.get("DLP_INSTR_CHILD") == "1":
        state = "on" if on else "off"
        subprocess.run(
            ["callgrind_control", "-i", state, str(os.getpid())], check=True, capture_output=True
        )


def _document_pass(policy: Policy, path: Path) -> None:
    import io

    from detectors.dlp.document import scan_document
    from detectors.dlp.extract import ExtractLimits

    data = path.read_bytes()
    scan_document(path.name, io.BytesIO(data), policy, ExtractLimits(), None)


def child(args: argparse.Namespace) -> None:
    from detectors.dlp.engine_cache import use_database_store

    use_database_store(DirStore(args.db_cache))
    policy = _policy(args.policy, args.engine)
    if args.document is not None:
        _document_pass(policy, args.document)
        _instrument(True)
        _document_pass(policy, args.document)
        _instrument(False)
        return
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
    ap.add_argument("--corpus", type=Path, default=Path(os.devnull))
    ap.add_argument("--document", type=Path, help="count one scan_document of this file")
    ap.add_argument("--src", type=Path, help="import the project from this source tree")
    ap.add_argument("--policy", choices=["full", "secrets"], default="secrets")
    ap.add_argument("--mode", choices=["pass", "raw"], default="pass")
    ap.add_argument("--engine", choices=["auto", "hyperscan", "re2"], default=None)
    ap.add_argument("--db-cache", type=Path, default=Path(tempfile.gettempdir()) / "dlp-db")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help="keep the callgrind output file here")
    args = ap.parse_args()
    if args.document is not None:
        args.policy = "full"  # every predefined profile, as the documents bench
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
    if args.document is not None:
        cmd += ["--document", str(args.document)]
    if args.src is not None:
        cmd += ["--src", str(args.src)]
    subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, "DLP_INSTR_CHILD": "1"})
    text = out.read_text(errors="replace")
    m = re.search(r"^totals:\s+(\d+)", text, re.M) or re.search(r"^summary:\s+(\d+)", text, re.M)
    total = int(m.group(1)) if m else 0
    what = f"scan_document {args.document.name}" if args.document else f"{args.policy} {args.mode}"
    print(f"{what}: {total / 1e6:.1f} M instructions")


if __name__ == "__main__":
    main()
