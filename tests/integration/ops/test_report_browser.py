"""`casb report --format html` rendered by headless Chromium: the page shows the findings.

Chromium comes from scripts/ensure-chromium.sh (called by scripts/test); the test itself
installs nothing. Under CI a missing browser is a failure, elsewhere a skip that says how
to get one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import timedelta
from html import unescape
from pathlib import Path

import pytest

from schemas.catalog import BY_KEY
from tests.cli import run_cli
from tests.integration.ops.seed import T0, add_finding, add_scan, add_tenant


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(
                "chromium is not installed: scripts/ensure-chromium.sh should have installed it"
            )
        pytest.skip("chromium is not installed: run scripts/ensure-chromium.sh")
    return found


def _dump_dom(browser: str, page: Path, profile: Path) -> str:
    result = subprocess.run(
        [
            browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-extensions", "--no-first-run", f"--user-data-dir={profile}",
            "--dump-dom", page.as_uri(),
        ],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_html_report_renders_in_chromium(db: str, tmp_path: Path) -> None:
    browser = _chromium()
    acme = add_tenant(db, "acme", health="healthy")
    beta = add_tenant(
        db, "beta", health="credential_error", health_detail="401 from /organization/users"
    )
    add_finding(db, acme, "gpt_custom_actions", "g-sales", resource_name="Sales <b>helper</b>")
    add_finding(db, acme, "stale_pending_invite", "invite-42", resource_name="new.hire@example.com")
    add_finding(db, beta, "dlp_gpt_file", "file-9", resource_name="payroll.xlsx",
                evidence={"profiles": ["Financial Information"], "matches": 3, "excerpt": "4111 **** **** 1111"})  # fmt: skip
    add_finding(
        db,
        beta,
        "admin_key_unused",
        "key_old",
        status="resolved",
        resolved_at=T0 + timedelta(days=2),
    )
    add_scan(db, acme, T0 + timedelta(hours=2))
    add_scan(db, acme, T0 + timedelta(days=3))
    add_scan(db, beta, T0 + timedelta(days=3), status="failed")

    page = tmp_path / "fleet.html"
    result = run_cli("report", "--format", "html", "--output", str(page))
    assert result.code == 0, result.output
    assert "3 open finding(s)" in result.stdout

    dom = _dump_dom(browser, page, tmp_path / "profile")
    rows = re.findall(r'<tr class="finding"[^>]*>(.*?)</tr>', dom, re.S)
    assert len(rows) == 3
    text = unescape(re.sub(r"<[^>]+>", " ", dom))
    for ft in ("gpt_custom_actions", "stale_pending_invite", "dlp_gpt_file"):
        assert BY_KEY[ft].title in text
        assert BY_KEY[ft].remediation in text
    assert "new.hire@example.com" in text and "payroll.xlsx" in text
    assert "Sales <b>helper</b>" in text  # shown as text: the name's markup was escaped
    assert "<b>helper</b>" not in dom.replace("&lt;b&gt;helper&lt;/b&gt;", "")
    assert "Financial Information" in text and "credential_error" in text
    assert "fleet of 2 tenants" in text
    assert dom.count("<svg") >= 2  # trend bars rendered inline

    single = tmp_path / "beta.html"
    assert run_cli("report", "--tenant", "beta", "--output", str(single)).code == 0
    beta_dom = _dump_dom(browser, single, tmp_path / "profile2")
    assert len(re.findall(r'<tr class="finding"', beta_dom)) == 1
    assert "openai-casb report: beta" in beta_dom


def test_report_errors(db: str, tmp_path: Path) -> None:
    add_tenant(db, "acme")
    bad = run_cli("report", "--tenant", "nope", "--output", str(tmp_path / "x.html"))
    assert bad.code == 2 and "unknown tenant 'nope'" in bad.output
    unwritable = run_cli("report", "--output", str(tmp_path / "missing-dir" / "x.html"))
    assert unwritable.code == 2 and "cannot write" in unwritable.output
