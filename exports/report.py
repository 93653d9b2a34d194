"""The HTML report: one self-contained page for a tenant or the whole fleet.

Pure rendering: rows in, a string out. No external assets, no JavaScript; inline CSS and
small inline SVG bars. Every value that came from a tenant or an API is HTML-escaped
(names, resource ids and evidence are attacker-influenced: a GPT can be named
``<script>``). Evidence is already masked; it is still escaped and truncated here.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

from core.time import as_utc, iso_z
from schemas.catalog import BY_ID, CATALOG, Category, Severity
from schemas.tables import Finding, ScanRun, Tenant

SEVERITIES: tuple[str, ...] = tuple(s.value for s in sorted(Severity, key=lambda s: -s.rank))
SEVERITY_COLORS = {
    "critical": "#7f1d1d",
    "high": "#dc2626",
    "medium": "#f59e0b",
    "low": "#3b82f6",
}
MAX_SCANS_PER_TENANT = 30
EVIDENCE_CHARS = 400

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#111827;
background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid
#e5e7eb;padding-bottom:4px}h3{font-size:14px;margin:14px 0 4px}
.meta{color:#6b7280;font-size:13px}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin-top:12px}
.card{border:1px solid #e5e7eb;border-radius:8px;padding:10px 16px;min-width:110px}
.card .n{font-size:26px;font-weight:600}.card .l{font-size:12px;color:#6b7280;
text-transform:uppercase}
table{border-collapse:collapse;font-size:13px;margin-top:6px}
th,td{border:1px solid #e5e7eb;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f9fafb}td.num{text-align:right}
.sev{display:inline-block;padding:1px 6px;border-radius:4px;color:#fff;font-size:12px}
.sev-critical{background:#7f1d1d}.sev-high{background:#dc2626}.sev-medium{background:#b45309}
.sev-low{background:#2563eb}
.health-healthy{color:#15803d}.health-unknown{color:#6b7280}
.bad{color:#b91c1c}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}
pre{white-space:pre-wrap;word-break:break-all;margin:0;max-width:520px}
.legend span{margin-right:12px;font-size:12px}
.note{color:#6b7280;font-size:12px}
"""


def _e(value: Any) -> str:
    """HTML-escape anything (None renders as an empty string)."""
    return "" if value is None else escape(str(value), quote=True)


def _sev_badge(severity: str) -> str:
    css = severity if severity in SEVERITY_COLORS else "low"
    return f'<span class="sev sev-{_e(css)}">{_e(severity)}</span>'


def open_at(findings: Iterable[Finding], moment: datetime) -> Counter[str]:
    """Findings open at ``moment`` (first seen before it, not resolved by then), by severity.

    Trends are derived from the findings' own lifecycle, so the report does not depend on
    what a scan run chose to store in its ``counts``.
    """
    counts: Counter[str] = Counter()
    for f in findings:
        first = as_utc(f.first_seen)
        resolved = as_utc(f.resolved_at)
        if first is None or first > moment:
            continue
        if f.status == "resolved" and resolved is not None and resolved <= moment:
            continue
        counts[(f.severity or "").lower()] += 1
    return counts


def _trend_svg(runs: Sequence[ScanRun], findings: Sequence[Finding]) -> str:
    """Stacked bars, one per finished scan: findings open when the scan finished."""
    points: list[tuple[ScanRun, Counter[str]]] = []
    for run in runs:
        moment = as_utc(run.finished_at or run.started_at or run.requested_at)
        if moment is None:
            continue
        points.append((run, open_at(findings, moment)))
    if not points:
        return '<p class="note">No finished scans yet.</p>'
    bar_w, gap, height = 16, 6, 90
    top = max(1, *(sum(c.values()) for _, c in points))
    width = len(points) * (bar_w + gap) + gap
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 16}" '
        f'role="img" aria-label="open findings per scan">'
    ]
    for i, (run, counts) in enumerate(points):
        x = gap + i * (bar_w + gap)
        y = float(height)
        for sev in reversed(SEVERITIES):
            n = counts.get(sev, 0)
            if not n:
                continue
            h = n / top * (height - 4)
            y -= h
            parts.append(
                f'<rect x="{x}" y="{y:.1f}" width="{bar_w}" height="{h:.1f}" '
                f'fill="{SEVERITY_COLORS[sev]}"><title>scan {_e(run.id)}: {n} {sev}</title></rect>'
            )
        total = sum(counts.values())
        label = f"scan {run.id} ({run.status}, {iso_z(run.finished_at) or 'unfinished'}): {total}"
        parts.append(
            f'<rect x="{x}" y="0" width="{bar_w}" height="{height}" fill="transparent">'
            f"<title>{_e(label)}</title></rect>"
        )
        if run.status == "failed":
            parts.append(
                f'<text x="{x + bar_w / 2}" y="{height + 12}" font-size="10" '
                f'text-anchor="middle" fill="#b91c1c">x</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _cards(counts: Counter[str], ignored: int, resolved: int) -> str:
    cells = [
        f'<div class="card"><div class="n">{counts.get(sev, 0)}</div>'
        f'<div class="l">{_sev_badge(sev)} open</div></div>'
        for sev in SEVERITIES
    ]
    cells.append(
        f'<div class="card"><div class="n">{ignored}</div><div class="l">ignored</div></div>'
    )
    cells.append(
        f'<div class="card"><div class="n">{resolved}</div><div class="l">resolved</div></div>'
    )
    return '<div class="cards">' + "".join(cells) + "</div>"


def _by_category(open_findings: Sequence[Finding]) -> str:
    grid: dict[str, Counter[str]] = defaultdict(Counter)
    for f in open_findings:
        ft = BY_ID.get(f.finding_type_id)
        grid[ft.category.value if ft else "Other"][(f.severity or "").lower()] += 1
    rows = []
    for category in [c.value for c in Category] + ["Other"]:
        if category == "Other" and category not in grid:
            continue
        counts = grid.get(category, Counter())
        cells = "".join(f'<td class="num">{counts.get(s, 0)}</td>' for s in SEVERITIES)
        rows.append(
            f"<tr><td>{_e(category)}</td>{cells}"
            f'<td class="num"><b>{sum(counts.values())}</b></td></tr>'
        )
    head = "".join(f"<th>{_sev_badge(s)}</th>" for s in SEVERITIES)
    return f"<table><tr><th>Category</th>{head}<th>Total</th></tr>{''.join(rows)}</table>"


def _top_types(open_findings: Sequence[Finding], limit: int = 10) -> str:
    counts = Counter(f.finding_type_id for f in open_findings)
    if not counts:
        return '<p class="note">No open findings.</p>'
    rows = []
    for type_id, n in counts.most_common(limit):
        ft = BY_ID.get(type_id)
        title = ft.title if ft else type_id
        severity = ft.severity.value if ft else ""
        rows.append(
            f"<tr><td>{_e(title)}</td><td>{_sev_badge(severity)}</td>"
            f'<td class="num">{n}</td><td><code>{_e(type_id)}</code></td></tr>'
        )
    return (
        "<table><tr><th>Finding type</th><th>Severity</th><th>Open</th><th>FindingTypeID</th>"
        f"</tr>{''.join(rows)}</table>"
    )


def _tenant_health(
    tenants: Sequence[Tenant], by_tenant: dict[int, list[Finding]], runs: dict[int, list[ScanRun]]
) -> str:
    head = "".join(f"<th>{_sev_badge(s)}</th>" for s in SEVERITIES)
    rows = []
    for t in tenants:
        assert t.id is not None
        counts = Counter(
            (f.severity or "").lower() for f in by_tenant.get(t.id, []) if f.status == "open"
        )
        tenant_runs = runs.get(t.id, [])
        run = tenant_runs[-1] if tenant_runs else None
        scan = f"{_e(run.status)} ({_e(iso_z(run.finished_at) or 'running')})" if run else "none"
        health_css = "health-" + t.health if t.health in ("healthy", "unknown") else "bad"
        detail = f'<div class="note">{_e(t.health_detail)}</div>' if t.health_detail else ""
        cells = "".join(f'<td class="num">{counts.get(s, 0)}</td>' for s in SEVERITIES)
        rows.append(
            f"<tr><td><b>{_e(t.slug)}</b><div class='note'>{_e(t.name)}</div></td>"
            f'<td class="{_e(health_css)}">{_e(t.health)}{detail}</td>'
            f"<td>{scan}</td>{cells}</tr>"
        )
    return (
        f"<table><tr><th>Tenant</th><th>Health</th><th>Last scan</th>{head}</tr>"
        f"{''.join(rows)}</table>"
    )


def _evidence(evidence: dict[str, Any] | None) -> str:
    text = json.dumps(evidence or {}, sort_keys=True, ensure_ascii=False, default=str)
    if len(text) > EVIDENCE_CHARS:
        text = text[:EVIDENCE_CHARS] + " …"
    return f"<pre>{_e(text)}</pre>"


def _findings_table(open_findings: Sequence[Finding], slugs: dict[int, str], max_rows: int) -> str:
    if not open_findings:
        return '<p class="note">No open findings.</p>'
    ordered = sorted(
        open_findings,
        key=lambda f: (
            -Severity((f.severity or "low").lower()).rank
            if (f.severity or "").lower() in SEVERITIES
            else 0,
            slugs.get(f.tenant_id, ""),
            f.finding_type_id,
            f.resource_id,
        ),
    )
    rows = []
    for f in ordered[:max_rows]:
        ft = BY_ID.get(f.finding_type_id)
        resource = f.resource_name or f.resource_id
        rows.append(
            f'<tr class="finding" data-finding-id="{_e(f.id)}">'
            f"<td>{_sev_badge((f.severity or '').lower())}</td>"
            f"<td>{_e(slugs.get(f.tenant_id, f.tenant_id))}</td>"
            f"<td>{_e(ft.title if ft else f.finding_type_id)}</td>"
            f"<td>{_e(resource)}<div class='note'>{_e(f.resource_type)} "
            f"<code>{_e(f.resource_id)}</code></div></td>"
            f"<td>{_e(iso_z(f.first_seen))}</td><td>{_e(iso_z(f.last_seen))}</td>"
            f"<td>{_evidence(f.evidence)}</td>"
            f"<td>{_e(ft.remediation if ft else '')}</td></tr>"
        )
    more = ""
    if len(ordered) > max_rows:
        more = (
            f'<p class="note">{len(ordered) - max_rows} more open findings are not shown; '
            "export them all with <code>casb findings --format csv</code>.</p>"
        )
    return (
        "<table><tr><th>Severity</th><th>Tenant</th><th>Finding</th><th>Resource</th>"
        "<th>First seen</th><th>Last seen</th><th>Evidence (masked)</th><th>Remediation</th>"
        f"</tr>{''.join(rows)}</table>{more}"
    )


def render_html(
    tenants: Sequence[Tenant],
    findings: Sequence[Finding],
    scan_runs: Sequence[ScanRun],
    *,
    title: str | None = None,
    generated_at: datetime | None = None,
    max_rows: int = 2000,
) -> str:
    """One self-contained HTML page for the given tenants (one tenant or the fleet).

    ``findings`` and ``scan_runs`` should belong to ``tenants``; rows of other tenants are
    ignored. The open-findings table is capped at ``max_rows`` (huge reports hang
    browsers); the summary counts always cover everything.
    """
    generated_at = generated_at or datetime.now(UTC)
    tenants = sorted(tenants, key=lambda t: t.slug)
    slugs = {t.id: t.slug for t in tenants if t.id is not None}
    findings = [f for f in findings if f.tenant_id in slugs]
    by_tenant: dict[int, list[Finding]] = defaultdict(list)
    for f in findings:
        by_tenant[f.tenant_id].append(f)
    runs: dict[int, list[ScanRun]] = defaultdict(list)
    for run in sorted(
        scan_runs, key=lambda r: (r.requested_at or r.started_at or generated_at, r.id or 0)
    ):
        if run.tenant_id in slugs:
            runs[run.tenant_id].append(run)
    open_findings = [f for f in findings if f.status == "open"]
    counts = Counter((f.severity or "").lower() for f in open_findings)
    ignored = sum(1 for f in findings if f.status == "ignored")
    resolved = sum(1 for f in findings if f.status == "resolved")
    scope = tenants[0].slug if len(tenants) == 1 else f"fleet of {len(tenants)} tenants"
    page_title = title or f"openai-casb report: {scope}"

    trends = []
    for t in tenants:
        assert t.id is not None
        recent = runs.get(t.id, [])[-MAX_SCANS_PER_TENANT:]
        trends.append(f"<h3>{_e(t.slug)}</h3>{_trend_svg(recent, by_tenant.get(t.id, []))}")
    legend = "".join(
        f'<span><svg width="10" height="10"><rect width="10" height="10" '
        f'fill="{SEVERITY_COLORS[s]}"/></svg> {s}</span>'
        for s in SEVERITIES
    )
    known_types = len(CATALOG)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(page_title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{_e(page_title)}</h1>"
        f'<div class="meta">Generated {_e(iso_z(generated_at))} · {len(tenants)} tenant(s) · '
        f"{len(findings)} finding(s) · {known_types} finding types known</div>"
        f'<h2 id="summary">Open findings by severity</h2>{_cards(counts, ignored, resolved)}'
        f'<h2 id="categories">By category</h2>{_by_category(open_findings)}'
        f'<h2 id="top-types">Top finding types</h2>{_top_types(open_findings)}'
        f'<h2 id="tenants">Tenant health</h2>{_tenant_health(tenants, by_tenant, runs)}'
        f'<h2 id="trends">Trend per scan</h2>'
        f'<p class="note">Findings open when each scan finished (last {MAX_SCANS_PER_TENANT} '
        f'scans per tenant; x marks a failed scan).</p><div class="legend">{legend}</div>'
        f"{''.join(trends)}"
        f'<h2 id="open-findings">Open findings ({len(open_findings)})</h2>'
        f"{_findings_table(open_findings, slugs, max_rows)}"
        "</body></html>\n"
    )
