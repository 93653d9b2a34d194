"""docs/findings.md is generated from the catalog and detectors, and committed up to date."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from detectors.findings_doc import render
from detectors.registry import POSTURE_DETECTORS
from schemas.catalog import CATALOG
from schemas.findings import Thresholds

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "findings.md"


def test_committed_doc_is_up_to_date() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/findings.md is stale: run python scripts/gen_findings_doc.py"
    )


def test_doc_lists_every_type_with_its_catalog_severity() -> None:
    text = render()
    for ft in CATALOG:
        row = next(
            line for line in text.splitlines() if line.startswith(f"| `{ft.finding_type_id}`")
        )
        assert f"| {ft.severity.value} |" in row
        assert f"`{ft.resource_type.value}`" in row
        assert ft.remediation.split()[0] in text
    for detector in POSTURE_DETECTORS:
        assert " ".join(detector.description.split()) in text
        for name in detector.evidence_fields:
            assert f"`{name}`" in text


def test_doc_reflects_threshold_defaults() -> None:
    text = render(Thresholds(stale_invite_days=7))
    assert "| `stale_invite_days` | 7 |" in text
    assert "`stale_invite_days` = 7 d" in text


def test_script_check_mode_agrees() -> None:
    script = ROOT / "scripts" / "gen_findings_doc.py"
    done = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
