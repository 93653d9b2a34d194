"""The HTML report: self-contained, escaped, counts by severity/category, trends per scan."""

from __future__ import annotations

import re
from datetime import timedelta

from exports.report import open_at, render_html
from schemas.catalog import BY_KEY
from tests.unit.ops.factories import T0, finding, scan_run, tenant


def _fleet() -> tuple[list, list, list]:
    tenants = [tenant(1, "acme"), tenant(2, "beta", health="credential_error", health_detail="401")]
    findings = [
        finding(id=1, resource_name="<script>alert(1)</script>", evidence={"x": "<img src=x>"}),
        finding(
            "stale_pending_invite", id=2, resource_id="invite-9", resource_name="bob@example.com"
        ),
        finding(
            "admin_key_unused",
            id=3,
            tenant_id=2,
            resource_id="key_1",
            status="resolved",
            resolved_at=T0 + timedelta(days=3),
        ),
        finding("gpt_web_browsing", id=4, status="ignored", ignored_reason="ok"),
        finding("gpt_public_link", id=5, tenant_id=99),  # unknown tenant: not in this report
    ]
    runs = [
        scan_run(1, 1, T0 + timedelta(hours=1)),
        scan_run(2, 1, T0 + timedelta(days=2)),
        scan_run(3, 2, T0 + timedelta(days=4), status="failed"),
    ]
    return tenants, findings, runs


def test_report_is_self_contained_and_escaped() -> None:
    html = render_html(*_fleet(), generated_at=T0)
    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img" not in html
    # No external assets: nothing is fetched from anywhere.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "@import" not in html and "url(" not in html


def test_report_shows_counts_types_tenants_and_remediation() -> None:
    html = render_html(*_fleet(), generated_at=T0)
    assert "fleet of 2 tenants" in html
    assert html.count('class="finding"') == 2  # open findings only, known tenants only
    assert BY_KEY["gpt_custom_actions"].title in html
    assert BY_KEY["stale_pending_invite"].remediation in html
    assert BY_KEY["gpt_public_link"].title not in html
    assert "credential_error" in html and "401" in html
    assert "Open findings (2)" in html
    assert html.count("<svg") >= 3  # legend swatches and the per-tenant trend bars


def test_open_at_follows_the_lifecycle() -> None:
    _, findings, _ = _fleet()
    beta = [f for f in findings if f.tenant_id == 2]
    assert open_at(beta, T0 + timedelta(days=2))["medium"] == 1
    assert open_at(beta, T0 + timedelta(days=5))["medium"] == 0
    assert sum(open_at(beta, T0 - timedelta(days=1)).values()) == 0


def test_single_tenant_report_and_row_cap() -> None:
    tenants, findings, runs = _fleet()
    many = [finding(id=100 + i, resource_id=f"g-{i}") for i in range(30)]
    html = render_html(tenants[:1], findings + many, runs, max_rows=10)
    assert "openai-casb report: acme" in html
    assert html.count('class="finding"') == 10
    assert "22 more open findings are not shown" in html
