"""Rewrite the predefined-entry tables in docs/dlp.md from detectors/dlp (profiles, catalogue).

Usage: python scripts/gen_dlp_doc.py [--check]
With --check nothing is written; the exit code is 1 when the committed doc is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from detectors.dlp.entries_doc import splice

DOC = Path(__file__).resolve().parent.parent / "docs" / "dlp.md"


def main(argv: list[str]) -> int:
    current = DOC.read_text(encoding="utf-8")
    text = splice(current)
    if "--check" in argv:
        if current != text:
            print(f"{DOC} is out of date: run python scripts/gen_dlp_doc.py", file=sys.stderr)
            return 1
        print(f"{DOC} is up to date")
        return 0
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
