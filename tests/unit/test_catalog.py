"""The catalog must equal the seed page's table: ids, titles, severities, categories."""

from __future__ import annotations

import json

from schemas.catalog import BY_ID, CATALOG, FetchResource, lookup, types_for_sources
from tests.cli import run_cli

# Copied from the Cloudflare CASB OpenAI page (the seed): (id, title, severity, enterprise).
SEED = [
    ("5a2995f5-0cc1-4af3-9045-cdf7e6601f7b", "OpenAI: GPT with Custom Actions enabled", "high", True),
    ("d368036a-be90-49f0-b7da-5092a3f8beb4", "OpenAI: GPT with Code Interpreter enabled", "medium", True),
    ("3af14358-5ff2-4502-921e-7ffd9a310093", "OpenAI: GPT with web browsing enabled", "medium", True),
    ("c69adfa6-2362-4939-86ec-49ff34093cfd", "OpenAI: GPT publicly accessible via GPT Store", "high", True),
    ("de460c9f-55c0-4131-9cdf-e4c3b84f9549", "OpenAI: GPT publicly accessible via public link", "high", True),
    ("b72e971d-f5b9-4cf3-96f4-ef82bdf38453", "OpenAI: Admin API key not rotated", "high", False),
    ("2c079fe8-6188-43e1-a2e5-d0e2dd8c7686", "OpenAI: Project API key not rotated", "high", False),
    ("49c75a36-1e64-437b-98a1-e54ec35d0a64", "OpenAI: Unused admin API key", "medium", False),
    ("c8fd231b-de51-43cc-8c3f-e1e57114c5f5", "OpenAI: Unused project API key", "medium", False),
    ("776ceb93-fa9a-4ca0-83db-668a67c09936", "OpenAI: High-privilege invite", "high", False),
    ("20ab9ddb-fd48-46a8-9fdf-9bb9b9061f21", "OpenAI: Inactive user", "medium", False),
    ("18fd5b21-8489-485e-9c93-0bd4a696e724", "OpenAI: Stale pending invite", "low", False),
    ("9aca654d-b331-4052-a5b4-2ceecced8676", "OpenAI: File in ChatGPT Conversation with DLP Profile match", "high", True),
    ("520200f5-7dcc-42c9-bc3c-423019159d45", "OpenAI: File in ChatGPT GPT with DLP Profile match", "high", True),
    ("8e46ec69-e5c1-4f53-ab00-a92f2050ec33", "OpenAI: File in ChatGPT Project with DLP Profile match", "high", False),
]  # fmt: skip

CATEGORIES = {
    "Model and tool governance": 3,
    "Publishing and sharing": 2,
    "API key hygiene": 4,
    "Access security": 3,
    "Data Loss Prevention": 3,
}
# Types beyond the seed: (key, id, title, category, severity, resource type).
EXTENSIONS = [
    (
        "chatgpt_message_dlp",
        "61708e01-a35b-41b1-99ac-3dc53816a45f",
        "OpenAI: ChatGPT conversation message with DLP Profile match",
        "Data Loss Prevention",
        "high",
        "conversation_message",
    ),
    (
        "project_key_orphaned",
        "ecf9c5b4-2577-4742-9e73-29d5fff9b9bf",
        "OpenAI: Project API key whose owner lost project access",
        "API key hygiene",
        "high",
        "project_api_key",
    ),
    (
        "leaked_own_api_key",
        "42cdd0fc-9a27-4127-93d0-83c804c73424",
        "OpenAI API key of this organization exposed in ChatGPT content",
        "API key hygiene",
        "critical",
        "project_api_key",
    ),
]


def test_catalog_matches_the_seed_exactly() -> None:
    seed = [ft for ft in CATALOG if not ft.extension]
    assert len(seed) == 15
    assert [ft.finding_type_id for ft in seed] == [row[0] for row in SEED]
    for finding_id, title, severity, enterprise in SEED:
        ft = BY_ID[finding_id]
        assert ft.title == title
        assert ft.severity.value == severity
        assert ft.requires_chatgpt_enterprise is enterprise
        assert ft.remediation and len(ft.remediation) > 40


def test_extensions_have_their_own_stable_ids_and_are_marked() -> None:
    extensions = [ft for ft in CATALOG if ft.extension]
    assert [
        (ft.key, ft.finding_type_id, ft.title, ft.category.value, ft.severity.value,
         ft.resource_type.value)
        for ft in extensions
    ] == EXTENSIONS  # fmt: skip
    assert not {ft.finding_type_id for ft in extensions} & {row[0] for row in SEED}
    for ft in extensions:
        assert ft.as_dict()["extension"] is True and len(ft.remediation) > 40
    assert CATALOG[: len(SEED)] == tuple(ft for ft in CATALOG if not ft.extension)


def test_categories_group_the_types_as_the_seed_does() -> None:
    counts: dict[str, int] = {}
    for ft in CATALOG:
        if ft.extension:
            continue
        counts[ft.category.value] = counts.get(ft.category.value, 0) + 1
    assert counts == CATEGORIES


def test_lookup_by_id_or_key_and_unknown() -> None:
    assert lookup("inactive_user").finding_type_id == "20ab9ddb-fd48-46a8-9fdf-9bb9b9061f21"
    assert lookup("20ab9ddb-fd48-46a8-9fdf-9bb9b9061f21").key == "inactive_user"
    try:
        lookup("nope")
    except KeyError as exc:
        assert "nope" in str(exc)
    else:
        raise AssertionError("unknown finding type must raise")


def test_failed_fetch_makes_dependent_types_unresolvable() -> None:
    fetched = set(FetchResource) - {FetchResource.PROJECT_KEYS}
    keys = {ft.key for ft in types_for_sources(fetched)}
    assert "project_key_unused" not in keys
    assert "inactive_user" not in keys  # owned project keys are one of its activity signals
    assert "admin_key_unused" in keys


def test_catalog_cli_json_lists_all_types_in_lower_case() -> None:
    result = run_cli("catalog", "--format", "json")
    assert result.code == 0, result.output
    rows = json.loads(result.stdout)
    assert {r["finding_type_id"] for r in rows if not r["extension"]} == {row[0] for row in SEED}
    assert {r["key"] for r in rows if r["extension"]} == {row[0] for row in EXTENSIONS}
    table = run_cli("catalog")
    assert table.code == 0 and f"{len(EXTENSIONS)} extension" in table.stdout
    for row in rows:
        assert row["severity"] == row["severity"].lower()
        assert {"title", "category", "resource_type", "remediation"} <= set(row)


def test_catalog_cli_table_marks_extensions() -> None:
    result = run_cli("catalog")
    assert result.code == 0, result.output
    lines = result.stdout.splitlines()
    header = next(ln for ln in lines if "FindingT" in ln)
    assert [c.strip() for c in header.split("┃")][-2].startswith("Extensi")

    def last_cell(needle: str) -> str:
        row = next(ln for ln in lines if needle in ln)
        return [c.strip() for c in row.split("│")][-2]

    assert last_cell("ecf9c5b4") == "yes"
    assert last_cell("5a2995f5") == "no"
