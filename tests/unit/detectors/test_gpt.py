"""The five GPT detectors: tool types and public sharing, including API drift."""

from __future__ import annotations

import pytest

from detectors import (
    gpt_code_interpreter,
    gpt_custom_actions,
    gpt_public_link,
    gpt_public_store,
    gpt_web_browsing,
)
from schemas.catalog import BY_KEY
from tests.unit.detectors.factories import DEFAULTS, gpt, snapshot, tool


def ids(detector, gpts) -> list[str]:
    return [f.resource_id for f in detector.DETECTOR.detect(snapshot(gpts=gpts), DEFAULTS)]


ACTION = tool(
    "custom_action",
    action_domain="api.vendor.example",
    auth_type="oauth",
    action_privacy_policy_url="https://vendor.example/privacy",
    action_openapi_raw="openapi: 3.1.0",
)


def test_custom_action_fires_with_domain_and_auth_in_evidence() -> None:
    second = tool("custom_action", action_domain="hooks.other.example", auth_type="none")
    found = list(
        gpt_custom_actions.DETECTOR.detect(
            snapshot(gpts=[gpt("g-act", tools=[ACTION, second, tool("browser")])]), DEFAULTS
        )
    )
    assert len(found) == 1
    f = found[0]
    assert f.finding_type is BY_KEY["gpt_custom_actions"]
    assert (f.resource_id, f.resource_name) == ("g-act", "Sales helper")
    ev = f.evidence
    assert ev["action_domains"] == ["api.vendor.example", "hooks.other.example"]
    assert ev["actions"][0] == {
        "domain": "api.vendor.example",
        "auth_type": "oauth",
        "privacy_policy_url": "https://vendor.example/privacy",
    }
    assert ev["owner_email"] == "gptowner@example.com"
    assert ev["visibility"] == "workspace"
    assert ev["tool_types"] == ["browser", "custom_action"]
    # the action's OpenAPI text and the GPT's instructions are not evidence
    assert "openapi" not in repr(ev) and "be helpful" not in repr(ev)


@pytest.mark.parametrize("spelling", ["custom-action", "action", "Custom_Action"])
def test_custom_action_drift_spellings_fire(spelling: str) -> None:
    assert ids(gpt_custom_actions, [gpt("g-1", tools=[tool(spelling)])]) == ["g-1"]


def test_custom_action_silent_without_action_tools_or_config() -> None:
    gpts = [
        gpt("g-none"),
        gpt("g-other", tools=[tool("code_interpreter"), tool("dall-e"), tool("memory")]),
    ]
    bare = gpt("g-noconfig").model_copy(update={"config": None})
    assert ids(gpt_custom_actions, [*gpts, bare]) == []


def test_custom_action_from_bare_latest_config_array() -> None:
    assert ids(gpt_custom_actions, [gpt("g-bare", tools=[ACTION], bare_config_array=True)]) == [
        "g-bare"
    ]


@pytest.mark.parametrize("spelling", ["code_interpreter", "code-interpreter", "python"])
def test_code_interpreter_fires(spelling: str) -> None:
    assert ids(gpt_code_interpreter, [gpt("g-ci", tools=[tool(spelling)])]) == ["g-ci"]


def test_code_interpreter_silent_for_other_tools() -> None:
    gpts = [gpt("g-a", tools=[tool("browser"), ACTION]), gpt("g-b")]
    assert ids(gpt_code_interpreter, gpts) == []


@pytest.mark.parametrize("spelling", ["browser", "web_browsing", "web_search"])
def test_web_browsing_fires(spelling: str) -> None:
    assert ids(gpt_web_browsing, [gpt("g-web", tools=[tool(spelling)])]) == ["g-web"]


def test_web_browsing_silent_for_other_tools() -> None:
    gpts = [gpt("g-a", tools=[tool("code_interpreter"), tool("dall-e")]), gpt("g-b")]
    assert ids(gpt_web_browsing, gpts) == []


def test_tool_detectors_fire_once_per_gpt_even_with_duplicate_tools() -> None:
    gpts = [gpt("g-dup", tools=[tool("browser"), tool("web_search"), tool("browser")])]
    assert ids(gpt_web_browsing, gpts) == ["g-dup"]


ALL_VISIBILITIES = [
    "invite-only",
    "workspace-with-link",
    "workspace",
    "anyone-with-link",
    "gpt-store",
]


def test_public_store_only_for_gpt_store() -> None:
    gpts = [gpt(f"g-{v}", visibility=v) for v in ALL_VISIBILITIES]
    assert ids(gpt_public_store, gpts) == ["g-gpt-store"]


def test_public_link_only_for_anyone_with_link() -> None:
    gpts = [gpt(f"g-{v}", visibility=v) for v in ALL_VISIBILITIES]
    assert ids(gpt_public_link, gpts) == ["g-anyone-with-link"]


def test_public_link_evidence_and_recipients_list_object_drift() -> None:
    g = gpt("g-link", visibility="anyone-with-link", recipients_list_object=True)
    assert [r.email for r in g.sharing.recipients] == ["r1@example.com"]  # type: ignore[union-attr]
    found = list(gpt_public_link.DETECTOR.detect(snapshot(gpts=[g]), DEFAULTS))
    assert len(found) == 1
    assert found[0].evidence["visibility"] == "anyone-with-link"
    assert found[0].evidence["gpt_name"] == "Sales helper"
    assert found[0].finding_type is BY_KEY["gpt_public_link"]


def test_visibility_spelling_drift_is_tolerated() -> None:
    assert ids(gpt_public_store, [gpt("g-s", visibility="GPT_Store")]) == ["g-s"]


def test_gpt_without_sharing_is_not_public() -> None:
    g = gpt("g-nosharing", visibility="gpt-store").model_copy(update={"sharing": None})
    assert ids(gpt_public_store, [g]) == [] and ids(gpt_public_link, [g]) == []
