"""Render docs/findings.md from the catalog and the posture detectors (pure: returns text).

The doc is generated so that ids, severities, rules and evidence fields are never restated
by hand: the catalog owns metadata, each detector's rule docstring owns its rule, and its
``evidence_fields`` own the evidence list. `scripts/gen_findings_doc.py` writes the file;
a unit test fails when the committed file is stale.
"""

from __future__ import annotations

from detectors.base import Detector
from detectors.registry import BY_TYPE_ID
from schemas.catalog import CATALOG, Category, FindingType, ResourceType
from schemas.findings import Thresholds

#: DLP findings are produced by detectors/dlp (a different pipeline stage); their rule and
#: evidence are stated here in prose because they have no posture `Detector`.
DLP_RULE = (
    "The extracted text of the file matches at least one entry of a DLP profile attached to "
    "the tenant (text-based files only; see detectors/dlp/). Produced by the DLP stage, not "
    "by the posture pass."
)
DLP_EVIDENCE = (
    "file id and name",
    "where the file lives (conversation / GPT / project id and name, owner)",
    "matched profiles and entries with match counts",
    "masked excerpts only (never the matched value)",
)

#: Types beyond the seed with neither a posture `Detector` nor a DLP file rule: in prose.
PROSE_RULES: dict[str, tuple[str, tuple[str, ...]]] = {
    "leaked_own_api_key": (
        "During DLP matching, an OpenAI key-shaped value (entry of the OpenAI API key family) "
        "is compared with the tenant's own admin and project keys as the same scan fetched "
        "them: when the visible start and end of exactly one key's `redacted_value` agree with "
        "it, that key leaked (needs a DLP profile with the OpenAI key entry, e.g. Credentials "
        "and Secrets). Only the prefix and suffix are compared; the value is not kept. The "
        "finding resolves when a successful fetch no longer lists the key (revoked or "
        "rotated), not when the content disappears; the DLP finding on the file stays and "
        "names the key's finding in `leaked_own_keys`.",
        (
            "key id, name, owner, project",
            "the masked value",
            "characters that agreed (prefix, suffix, beyond the family prefix)",
            "where it was seen (`seen_in`: file id and name, GPT / project / conversation, "
            "owner, the DLP finding type)",
            "`last_used_at` and whether the key was used after the content appeared",
        ),
    ),
}

#: Message-text DLP (an extension type) is produced by the conversation fetch and the DLP
#: stage together; its rule, evidence and resolution are stated here in prose.
MESSAGE_RULE = (
    "The text of a conversation message matches at least one entry of a DLP profile attached "
    "to the tenant. Messages come from `/conversations` (message `content`) or, where that "
    "route is retired, from the Compliance Logs Platform's CONVERSATION_MESSAGE records (every "
    "string value except ids, emails, timestamps and types). The text is matched in memory "
    "during the fetch and never stored. Resolution: messages are delivered once, so a message "
    "not seen again proves nothing and never resolves its finding; it resolves only when the "
    "same message is read again (after a profile change, or its conversation listed again) "
    "and no longer matches. See docs/conversation-sources.md."
)
MESSAGE_EVIDENCE = (
    "message id (else log file id and record index)",
    "conversation id, user id and email, source (conversations or logs) and log file id",
    "matched profiles and entries with match counts",
    "masked excerpts only (never the message text or a matched value)",
)

THRESHOLD_NOTES = {
    "key_rotation_days": "API key rotation age",
    "unused_key_days": "API key unused age",
    "inactive_user_days": "user inactivity age",
    "stale_invite_days": "pending invite age",
}


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _cell(text: str) -> str:
    return _one_line(text).replace("|", "\\|")


def _thresholds(detector: Detector | None, defaults: Thresholds) -> str:
    if detector is None or not detector.thresholds:
        return "none"
    return ", ".join(f"`{name}` = {getattr(defaults, name)} d" for name in detector.thresholds)


def _section(ft: FindingType, detector: Detector | None, defaults: Thresholds) -> list[str]:
    lines = [
        f"### {ft.title}",
        "",
        f"- **FindingTypeID**: `{ft.finding_type_id}` (key `{ft.key}`)"
        + ("; *extension* beyond the Cloudflare catalogue" if ft.extension else ""),
        f"- **Category**: {ft.category.value}; **severity**: {ft.severity.value}; "
        f"**resource type**: `{ft.resource_type.value}`",
        f"- **Requires ChatGPT Enterprise**: {'yes' if ft.requires_chatgpt_enterprise else 'no'}",
        f"- **Data fetched**: {', '.join(f'`{s.value}`' for s in ft.sources)}",
    ]
    if detector is not None:
        lines.append(f"- **Detector**: `detectors/{ft.key}.py`")
        if detector.optional:
            lines.append(
                f"- **Optional inputs**: {', '.join(f'`{p}`' for p in detector.optional)} "
                "(used when fetched; their absence does not skip the rule)"
            )
        lines.append(f"- **Thresholds (defaults)**: {_thresholds(detector, defaults)}")
        rule = _one_line(detector.description)
        evidence = ", ".join(f"`{name}`" for name in detector.evidence_fields)
    elif ft.key in PROSE_RULES:
        rule = PROSE_RULES[ft.key][0]
        evidence = "; ".join(PROSE_RULES[ft.key][1])
    elif ft.resource_type is ResourceType.CONVERSATION_MESSAGE:
        rule = MESSAGE_RULE
        evidence = "; ".join(MESSAGE_EVIDENCE)
    else:
        rule = DLP_RULE
        evidence = "; ".join(DLP_EVIDENCE)
    lines += [
        "",
        f"**What it means.** {_one_line(ft.description)}",
        "",
        f"**Rule.** {rule}",
        "",
        f"**Evidence.** {evidence}",
        "",
        f"**Remediation.** {_one_line(ft.remediation)}",
        "",
    ]
    return lines


def _extensions(n: int) -> str:
    return "1 is an extension" if n == 1 else f"{n} are extensions"


def render(defaults: Thresholds | None = None) -> str:
    """The full Markdown text of docs/findings.md."""
    defaults = defaults or Thresholds()
    lines = [
        "# Finding types",
        "",
        "<!-- Generated by scripts/gen_findings_doc.py from schemas/catalog.py and the",
        "     detectors' rule docstrings. Do not edit by hand: run the script. -->",
        "",
        f"The scanner knows {len(CATALOG)} finding types. "
        f"{sum(not ft.extension for ft in CATALOG)} carry the FindingTypeIDs, titles and "
        "severities of Cloudflare CASB's OpenAI integration; "
        f"{_extensions(sum(ft.extension for ft in CATALOG))} of this scanner with ids of "
        "their own (marked *extension* below and in `casb catalog`). "
        f"{len(BY_TYPE_ID)} are posture findings, judged by one pure detector each "
        "(`detectors/<key>.py`) on a snapshot of the tenant; the other "
        f"{len(CATALOG) - len(BY_TYPE_ID)} are DLP findings from the file and message "
        "scanning stage.",
        "",
        "Ages are compared strictly (`age > threshold`): with a 90-day threshold a key created "
        "exactly 90 days ago is not flagged, one created 90 days and one second ago is. A "
        "finding type is evaluated only when every part it needs was fetched; parts (users, "
        "logins, invites, admin keys, project keys, service accounts, project members, GPTs, "
        "file listings, ...) succeed or fail on their own, and if one fails, the types that "
        "need it are neither added nor resolved in that scan while every other type is.",
        "",
        "## Thresholds",
        "",
        "Per tenant; the defaults are:",
        "",
        "| threshold | default (days) | used for |",
        "| --- | --- | --- |",
    ]
    for name in Thresholds.model_fields:
        lines.append(f"| `{name}` | {getattr(defaults, name)} | {THRESHOLD_NOTES.get(name, '')} |")
    lines += [
        "",
        "## Summary",
        "",
        "| FindingTypeID | title | category | severity | resource type | thresholds |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for ft in CATALOG:
        detector = BY_TYPE_ID.get(ft.finding_type_id)
        thresholds = _thresholds(detector, defaults)
        marker = " *(extension)*" if ft.extension else ""
        lines.append(
            f"| `{ft.finding_type_id}` | {_cell(ft.title)}{marker} | {ft.category.value} | "
            f"{ft.severity.value} | `{ft.resource_type.value}` | {thresholds} |"
        )
    lines.append("")
    for category in Category:
        types = [ft for ft in CATALOG if ft.category is category]
        if not types:
            continue
        lines += [f"## {category.value}", ""]
        for ft in types:
            lines += _section(ft, BY_TYPE_ID.get(ft.finding_type_id), defaults)
    return "\n".join(lines).rstrip("\n") + "\n"
