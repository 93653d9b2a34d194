"""What comparing found OpenAI keys with a key inventory costs the matcher (run by hand).

    .venv/bin/python bench/bench_key_probe.py [--mb 8] [--keys 200] [--rounds 5]

Matches the same text with the Credentials profile, once without a probe (the baseline) and
once with a ``KeyProbe`` over an inventory of ``--keys`` redacted keys (rounds alternate which
goes first),
and prints the median MB/s of each and their ratio. The text is prose with one key-shaped
value per ~2 KB (a key-dense worst case; real files hold far fewer).
"""

from __future__ import annotations

import argparse
import random
import statistics
import string
import time


def _key(rng: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits
    body = "".join(rng.choice(alphabet) for _ in range(74))
    return "sk-proj-" + body + "T3BlbkFJ" + "".join(rng.choice(alphabet) for _ in range(74))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=8.0)
    parser.add_argument("--keys", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from detectors.dlp.matcher import compile_policy
    from detectors.dlp.profiles import CREDENTIALS
    from detectors.leaked_keys import KeyProbe, inventory

    rng = random.Random(7)
    words = [
        "the",
        "quarterly",
        "report",
        "lists",
        "vendors",
        "budgets",
        "owners",
        "and",
        "the",
        "deployment",
        "notes",
    ]
    parts: list[str] = []
    size = 0
    while size < args.mb * 1e6:
        prose = " ".join(rng.choice(words) for _ in range(300))
        line = f"{prose}\nOPENAI_API_KEY={_key(rng)}\n"
        parts.append(line)
        size += len(line)
    data = "".join(parts).encode()
    secrets = [_key(rng) for _ in range(args.keys)]
    keys = inventory(
        [],
        [
            {"id": f"key_{i}", "redacted_value": f"{s[:11]}...{s[-4:]}"}
            for i, s in enumerate(secrets)
        ],
    )
    policy = compile_policy([CREDENTIALS])

    def run(with_probe: bool) -> float:
        probe = KeyProbe(keys) if with_probe else None
        stream = policy.open_stream(probe=probe)
        started = time.perf_counter()
        for i in range(0, len(data), 1 << 16):
            stream.feed(data[i : i + (1 << 16)])
        stream.close()
        return len(data) / 1e6 / (time.perf_counter() - started)

    base, probed = [], []
    for i in range(args.rounds):  # alternate which goes first, so order effects cancel out
        if i % 2:
            probed.append(run(True))
            base.append(run(False))
        else:
            base.append(run(False))
            probed.append(run(True))
    b, p = statistics.median(base), statistics.median(probed)
    print(f"{len(data) / 1e6:.1f} MB, {len(parts)} key-shaped values, {args.keys} inventory keys")
    print(f"baseline (no probe): {b:.1f} MB/s   with probe: {p:.1f} MB/s   ratio {p / b:.3f}")


if __name__ == "__main__":
    main()
