"""Write docs/findings.md from the catalog and the posture detectors.

Usage: python scripts/gen_findings_doc.py [--check]
With --check nothing is written; the exit code is 1 when the committed doc is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from detectors.findings_doc import render

DOC = Path(__file__).resolve().parent.parent / "docs" / "findings.md"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        current = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
        if current != text:
            print(f"{DOC} is out of date: run python scripts/gen_findings_doc.py", file=sys.stderr)
            return 1
        print(f"{DOC} is up to date")
        return 0
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
