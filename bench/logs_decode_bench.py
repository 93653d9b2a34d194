"""Logs Platform body decoding: the streaming multi-document decoder against a line splitter.

Builds a JSONL body of CONVERSATION_MESSAGE-like records (seeded), then decodes it three ways,
on one core, each the median of --repeat runs:

  baseline   bytes.splitlines() + json.loads per line (needs the whole body in memory and
             cannot read several documents on one line)
  stream     connectors.logs.iter_documents over a file object, 64 KiB chunks (memory: one
             document plus one chunk), one document per line
  concat     the same decoder on the same records with three documents per line

Prints MB/s and the ratio to the baseline measured in the same run, plus the records read by
``read_record``. MB = 10^6 bytes.

    .venv/bin/python bench/logs_decode_bench.py --records 200000
"""

from __future__ import annotations

import argparse
import io
import json
import random
import statistics
import string
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.logs import iter_documents, read_record


def build(records: int, seed: int) -> tuple[bytes, bytes]:
    rng = random.Random(seed)
    words = ["roadmap", "quarterly", "review", "summary", "draft", "budget", "plan", "notes"]
    docs = []
    for n in range(records):
        text = " ".join(rng.choice(words) for _ in range(rng.randrange(8, 60)))
        docs.append(
            json.dumps(
                {
                    "event_id": f"evt_{n:08d}",
                    "event_type": "CONVERSATION_MESSAGE",
                    "timestamp": "2026-11-16T12:36:04.029865Z",
                    "actor": {
                        "user_id": "user-" + "".join(rng.choices(string.ascii_letters, k=24))
                    },
                    "conversation": {"id": f"conv-{n // 7}", "title": "Plans"},
                    "message": {"id": f"msg-{n}", "content": {"parts": [text]}, "attachments": []},
                },
                separators=(",", ":"),
            )
        )
    lines = "\n".join(docs) + "\n"
    grouped = "\n".join("".join(docs[i : i + 3]) for i in range(0, len(docs), 3)) + "\n"
    return lines.encode(), grouped.encode()


def timed(fn: Callable[[], int], repeat: int) -> tuple[float, int]:
    runs = []
    count = 0
    for _ in range(repeat):
        started = time.perf_counter()
        count = fn()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs), count


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    lines, grouped = build(args.records, args.seed)
    mb = len(lines) / 1e6

    def baseline() -> int:
        return sum(1 for line in lines.splitlines() if json.loads(line))

    def stream(body: bytes) -> Callable[[], int]:
        return lambda: sum(1 for _ in iter_documents(io.BytesIO(body)))

    base_s, base_n = timed(baseline, args.repeat)
    rows = [("baseline", base_s, base_n)]
    for name, body in (("stream", lines), ("concat", grouped)):
        seconds, n = timed(stream(body), args.repeat)
        rows.append((name, seconds, n))
    print(f"{args.records} records, {mb:.1f} MB, median of {args.repeat}")
    for name, seconds, n in rows:
        print(f"{name:9s} {mb / seconds:8.1f} MB/s  x{base_s / seconds:5.2f} of baseline  docs={n}")
    started = time.perf_counter()
    understood = sum(
        1
        for doc in iter_documents(io.BytesIO(lines))
        if (record := read_record(doc)) is not None and record.understood_as_message
    )
    seconds = time.perf_counter() - started
    print(f"decode+read_record {mb / seconds:8.1f} MB/s  records understood={understood}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
