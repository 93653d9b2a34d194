"""Hostile-input benchmark: what an element bomb and an adversarial custom regex cost, each
beside an ordinary input of the same size measured in the same run.

    .venv/bin/python bench/hostile_bench.py              # 54 MB .docx files
    .venv/bin/python bench/hostile_bench.py --size-mb 10

Rows (each extraction runs in its own child process, so its peak RSS is its own):
  docx text        a .docx of ordinary paragraphs (the baseline)
  docx bomb        the same size of empty elements, 2 tags
  docx bomb attr   the same size of empty elements with an attribute
  regex simple     a custom profile `[a-z]{4,16}#` over the scan text (the baseline)
  regex stacked    `[a-z]{1,200}` x 4 then `#` (no start-of-match in Hyperscan: RE2 recovers
                   the start) over the same text

Extraction uses the default limits (120 s budget); a row that hits it says `truncated`.
MB = 10^6 bytes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

_CHILD = """
import json, resource, sys, time
from detectors.dlp.extract import ExtractReport, extract_text
report = ExtractReport()
start = time.monotonic()
out = 0
with open(sys.argv[1], "rb") as fh:
    for chunk in extract_text("f.docx", fh, None, report):
        out += len(chunk)
print(json.dumps({"seconds": time.monotonic() - start, "text": out,
    "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "truncated": report.truncated_reason}))
"""


def _docx(path: Path, unit: bytes, size: int) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        with zf.open("word/document.xml", "w", force_zip64=True) as fh:
            fh.write(b'<w:document xmlns:w="urn:w"><w:body><w:p>')
            block = unit * max(1, 1_000_000 // len(unit))
            written = 0
            while written < size:
                fh.write(block)
                written += len(block)
            fh.write(b"</w:p></w:body></w:document>")


def _extract(path: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path)], capture_output=True, check=True, cwd=ROOT
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def _scan(pattern: str, data: bytes) -> float:
    from detectors.dlp.matcher import compile_policy
    from detectors.dlp.profiles import custom_profile

    policy = compile_policy([custom_profile("bench", [{"name": "p", "pattern": pattern}])])
    start = time.monotonic()
    policy.scan_bytes(data)
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=float, default=54.0)
    args = parser.parse_args()
    size = int(args.size_mb * 1_000_000)
    rows = {
        "docx text": b"<w:r><w:t>ordinary words in an ordinary paragraph</w:t></w:r>",
        "docx bomb": b"<w:proofErr/>",
        "docx bomb attr": b'<w:proofErr w:type="spellStart"/>',
    }
    with tempfile.TemporaryDirectory() as tmp:
        base: dict[str, object] | None = None
        for name, unit in rows.items():
            path = Path(tmp) / f"{name.replace(' ', '_')}.docx"
            _docx(path, unit, size)
            r = _extract(path)
            base = base or r
            ratio = float(str(r["seconds"])) / float(str(base["seconds"]))
            print(
                f"{name:16} {r['seconds']:7.1f} s ({ratio:4.1f}x text)  peak RSS "
                f"{r['peak_mib']:6.0f} MiB  truncated: {r['truncated']}"
            )
    text = (b"a" * 1023 + b"#") * 256  # 256 KiB: one candidate per KiB
    simple = _scan("[a-z]{4,16}#", text)
    stacked = _scan("[a-z]{1,200}[a-z]{1,200}[a-z]{1,200}[a-z]{1,200}#", text)
    print(f"regex simple     {simple:7.3f} s over {len(text) // 1024} KiB")
    print(f"regex stacked    {stacked:7.3f} s ({stacked / simple:4.1f}x simple)")


if __name__ == "__main__":
    main()
