"""Write docs/findings.md from the catalog and the posture detectors.

Usage: python scripts/gen_findings_doc.py [--check]
With --check nothing is written; the exit code is 1 when the committed doc is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from docgen import write_or_check  # this script's folder is on the path

from detectors.findings_doc import render

DOC = Path(__file__).resolve().parent.parent / "docs" / "findings.md"


def main(argv: list[str]) -> int:
    return write_or_check(DOC, render(), argv, "gen_findings_doc.py")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
