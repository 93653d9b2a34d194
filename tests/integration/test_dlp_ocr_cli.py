"""`casb dlp profile add --ocr` (stored with the profile, part of its version) and
`casb dlp scan-file` on images and partly readable PDFs, against the real PostgreSQL."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from core.settings import reset_settings_cache
from detectors.dlp.profiles import profile_set_version
from store.db import session_scope
from store.dlp import resolve_profiles
from tests.cli import run_cli
from tests.unit.dlp import fixtures, images

OPENAI_KEY = (
    "sk-proj-q7XvR2mTz9LpW4kNc8HyB3sJd6FgQ1aE5uVx0oYiKtZrT3BlbkFJa9Wm2Qx7Lp4Rz8Nc3Vb6Hy1Kd5Gf0Ts"
)
TOKEN = "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"  # CRC32-valid


def _needs_tesseract() -> None:
    if shutil.which("tesseract") is None:
        message = "tesseract is not installed: run scripts/ensure-tesseract.sh"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def _screenshot(tmp_path: Path) -> Path:
    shot = images.screenshot(
        ["$ export OPENAI_API_KEY=" + OPENAI_KEY, "$ python app.py"],
        font_name="DejaVuSans",
        size=16,
    )
    path = tmp_path / "Screenshot.png"
    path.write_bytes(images.encode(shot))
    return path


def test_ocr_flag_is_stored_with_the_profile_and_changes_its_version(db: str) -> None:
    plain = run_cli("dlp", "profile", "add", "Plain", "--keyword", "internal only")
    assert plain.code == 0, plain.output
    added = run_cli("dlp", "profile", "add", "Screens", "--keyword", "internal only", "--ocr")
    assert added.code == 0 and "OCR" in added.stdout, added.output

    listed = {
        r["name"]: r for r in json.loads(run_cli("dlp", "profile", "list", "-f", "json").stdout)
    }
    assert listed["Screens"]["ocr"] is True and listed["Plain"]["ocr"] is False
    assert listed["Credentials and Secrets"]["ocr"] is False
    shown = json.loads(run_cli("dlp", "profile", "show", "Screens", "-f", "json").stdout)
    assert shown["ocr"] is True
    assert "OCR" in run_cli("dlp", "profile", "show", "Screens").stdout

    with session_scope() as session:
        screens, plain_p = resolve_profiles(session, ["Screens", "Plain"])
    assert screens.ocr and not plain_p.ocr
    # same entries, OCR on: a different profile-set version, so cached verdicts are redone
    assert screens.entries == plain_p.entries
    assert profile_set_version([screens]) != profile_set_version(
        [type(screens)("Screens", screens.entries, screens.description)]
    )


def test_scan_file_reads_a_screenshot_with_an_ocr_profile(db: str, tmp_path: Path) -> None:
    _needs_tesseract()
    path = _screenshot(tmp_path)
    off = json.loads(run_cli("dlp", "scan-file", str(path), "-f", "json").stdout)
    assert (off["outcome"], off["reason"]) == ("skipped", "unsupported_type")
    assert off["ocr_enabled"] is False

    run_cli("dlp", "profile", "add", "Screens", "--keyword", "internal only", "--ocr")
    args = ["dlp", "scan-file", str(path), "-p", "Credentials and Secrets", "-p", "Screens"]
    on = json.loads(run_cli(*args, "-f", "json").stdout)
    assert on["outcome"] == "matched" and on["ocr_enabled"] is True
    assert on["ocr"]["images_read"] == 1
    entry = next(e for e in on["entries"] if e["entry_id"] == "openai_api_key")
    assert entry["ocr_count"] >= 1 and OPENAI_KEY not in json.dumps(on)
    table = run_cli(*args)
    assert table.code == 0 and "matched" in table.stdout and "From OCR" in table.stdout


def test_scan_file_without_tesseract_says_ocr_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pytesseract

    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/bin/tesseract")
    path = _screenshot(tmp_path)
    out = json.loads(run_cli("dlp", "scan-file", str(path), "--ocr", "-f", "json").stdout)
    assert (out["outcome"], out["reason"]) == ("skipped", "ocr_unavailable")
    table = run_cli("dlp", "scan-file", str(path), "--ocr")
    assert "skipped (ocr_unavailable)" in table.stdout


def test_scan_file_never_calls_a_partly_read_pdf_clean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    padded = tmp_path / "padded.pdf"
    padded.write_bytes(fixtures.pdf([f"token {TOKEN}"], padding=2_100_000))
    found = json.loads(run_cli("dlp", "scan-file", str(padded), "-f", "json").stdout)
    assert found["outcome"] == "matched"

    from pypdf import PageObject

    def broken(self, *a, **k):  # type: ignore[no-untyped-def]
        raise ValueError("damaged page")

    monkeypatch.setenv("CASB_PDF_ENGINE", "pypdf")  # read by the CLI's settings
    monkeypatch.setattr(PageObject, "extract_text", broken)
    reset_settings_cache()
    try:
        lost = json.loads(run_cli("dlp", "scan-file", str(padded), "-f", "json").stdout)
    finally:
        monkeypatch.delenv("CASB_PDF_ENGINE")
        reset_settings_cache()
    assert (lost["outcome"], lost["reason"]) == ("skipped", "truncated")
    assert lost["truncated"] == "page 1 could not be read"
