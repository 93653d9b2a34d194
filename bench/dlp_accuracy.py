"""DLP accuracy on the project's own corpus: per-entry recall and false positives.

    .venv/bin/python bench/dlp_accuracy.py                 # seeds 1-5, Hyperscan (or auto)
    .venv/bin/python bench/dlp_accuracy.py --seeds 20 --engine re2 --only-misses

The corpus (tests/unit/dlp/corpus.py) is generated from each vendor's / issuer's published
format: positives in realistic lines, negatives that break the format (too short, placeholder,
wrong check digit, no keyword nearby). Each case is scanned on its own with the full
predefined policy (all profiles at once), so a negative of one entry that another entry
reports counts against that other entry.

Per entry: recall = positives whose value is reported by that entry / positives;
FP = reports of that entry that overlap no positive of it (on negatives and on other
entries' cases). Cross-type reports (another entry reporting a positive's value, e.g. the
email inside ``postgres://user:pw@host``) are counted separately. The last line is the
summary.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detectors.dlp.matcher import Policy, compile_policy
from detectors.dlp.profiles import PREDEFINED
from tests.unit.dlp.corpus import build_corpus


def spans(policy: Policy, text: str) -> list[tuple[str, int, int]]:
    stream = policy.open_stream(record_spans=True)
    stream.feed(text.encode())
    stream.close()
    return stream.spans or []


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seeds", type=int, default=5, help="corpora generated (seeds 1..N)")
    ap.add_argument("--engine", choices=["auto", "hyperscan", "re2"], default=None)
    ap.add_argument("--only-misses", action="store_true", help="print only imperfect entries")
    args = ap.parse_args()

    policy = compile_policy(PREDEFINED.values(), engine=args.engine)
    entries = sorted({e.id for p in PREDEFINED.values() for e in p.entries})
    pos, found, fp, negs, cross = Counter[str](), Counter[str](), Counter[str](), 0, 0
    for seed in range(1, args.seeds + 1):
        for eid, cases in build_corpus(seed).items():
            for text, value in cases.positives:
                start = text.encode().index(value.encode())
                end = start + len(value.encode())
                pos[eid] += 1
                hit = False
                for sid, s, e in spans(policy, text):
                    if not (s < end and start < e):
                        fp[sid] += 1
                    elif sid == eid:
                        hit = True
                    else:
                        cross += 1
                found[eid] += hit
            for text in cases.negatives:
                negs += 1
                for sid, _, _ in spans(policy, text):
                    fp[sid] += 1

    print(f"{'entry':<36} {'recall':>8} {'positives':>10} {'FP':>5}")
    for eid in entries:
        recall = found[eid] / pos[eid] if pos[eid] else 0.0
        if args.only_misses and recall == 1.0 and not fp[eid]:
            continue
        print(f"{eid:<36} {recall:>8.3f} {pos[eid]:>10} {fp[eid]:>5}")
    total_pos, total_found = sum(pos.values()), sum(found.values())
    perfect = sum(1 for e in entries if found[e] == pos[e] and not fp[e])
    print(
        f"summary: engine {policy.engine}, {len(entries)} entries, {args.seeds} seed(s): "
        f"recall {total_found / max(1, total_pos):.4f} ({total_found}/{total_pos}), "
        f"false positives {sum(fp.values())} on {negs} negatives and all other cases, "
        f"cross-type {cross}, entries with recall 1 and 0 FP: {perfect}/{len(entries)}"
    )


if __name__ == "__main__":
    main()
