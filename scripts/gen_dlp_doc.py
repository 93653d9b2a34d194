"""Rewrite the predefined-entry tables in docs/dlp.md from detectors/dlp (profiles, catalogue).

Usage: python scripts/gen_dlp_doc.py [--check]
With --check nothing is written; the exit code is 1 when the committed doc is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from docgen import write_or_check  # this script's folder is on the path

from detectors.dlp.entries_doc import splice

DOC = Path(__file__).resolve().parent.parent / "docs" / "dlp.md"


def main(argv: list[str]) -> int:
    return write_or_check(DOC, splice(DOC.read_text(encoding="utf-8")), argv, "gen_dlp_doc.py")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
