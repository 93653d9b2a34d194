"""Write a generated doc, or with ``--check`` only say whether the committed one is current.

Shared by the ``gen_*_doc.py`` scripts: exit code 1 when ``--check`` finds the doc stale.
"""

from __future__ import annotations

import sys
from pathlib import Path


def write_or_check(doc: Path, text: str, argv: list[str], script: str) -> int:
    if "--check" in argv:
        current = doc.read_text(encoding="utf-8") if doc.exists() else ""
        if current != text:
            print(f"{doc} is out of date: run python scripts/{script}", file=sys.stderr)
            return 1
        print(f"{doc} is up to date")
        return 0
    doc.write_text(text, encoding="utf-8")
    print(f"wrote {doc}")
    return 0
