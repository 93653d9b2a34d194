"""run_posture: coverage of the catalog, skipping on failed fetches, uniqueness, no secrets."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from detectors.base import Detector, MissingInput
from detectors.registry import BY_TYPE_ID, POSTURE_DETECTORS, PostureResult, run_posture
from schemas.catalog import BY_KEY, CATALOG, Category
from schemas.findings import DetectedFinding, Thresholds
from schemas.openai import AdminApiKey, ProjectApiKey
from schemas.snapshot import PostureSnapshot
from tests.unit.detectors.factories import (
    DEFAULTS,
    NOW,
    admin_key,
    ago,
    gpt,
    invite,
    login,
    project_key,
    snapshot,
    tool,
    user,
)

# Types produced by the DLP stage, not by a posture detector: the DLP category, and the
# leaked own key (found while matching content, though its category is API key hygiene).
DLP_STAGE_KEYS = {"leaked_own_api_key"}
POSTURE_IDS = {
    ft.finding_type_id
    for ft in CATALOG
    if ft.category is not Category.DATA_LOSS_PREVENTION and ft.key not in DLP_STAGE_KEYS
}
SECRET = "sk-admin-ThisIsTheFullSecretValue0123456789abcdef"
PROJECT_SECRET = "sk-proj-AnotherFullSecretValue0123456789abcdefXYZ"


def rich_parts() -> dict[str, Any]:
    """A tenant where every posture type fires at least once, and some resources are clean."""
    leaky_admin = AdminApiKey.model_validate(
        {
            "id": "key_leaky",
            "name": "ops",
            "redacted_value": "sk-admin...cdef",
            "value": SECRET,  # only in create responses; must never reach evidence
            "created_at": ago(200),
            "last_used_at": ago(150),
            "owner": {"type": "service_account", "id": "svc_acct_1", "name": "ops-bot"},
        }
    )
    leaky_project = ProjectApiKey.model_validate(
        {
            "id": "key_pleaky",
            "name": "batch",
            "redacted_value": "sk-proj-An...XYZ",
            "value": PROJECT_SECRET,
            "created_at": ago(200),
            "last_used_at": None,
            "owner": {"type": "user", "user": {"id": "user-idle", "email": "idle@example.com"}},
            "project_id": "proj_z",
        }
    )
    return {
        "gpts": [
            gpt(
                "g-all",
                tools=[
                    tool("custom_action", action_domain="x.example"),
                    tool("python"),
                    tool("browser"),
                ],
                visibility="gpt-store",
            ),
            gpt("g-link", visibility="anyone-with-link"),
            gpt("g-clean", visibility="workspace"),
        ],
        "admin_keys": [leaky_admin, admin_key("key_fresh", created_days=5, last_used_days=0)],
        "project_keys": [
            leaky_project,
            project_key("key_pfresh", created_days=5, last_used_days=0),
            project_key(
                "key_orphan",
                created_days=5,
                last_used_days=0,
                owner_user="user-gone",
                owner_project_access="inactive",
            ),
        ],
        "invites": [
            invite("invite-owner", role="owner", sent_days=30),
            invite("invite-ok", role="reader", sent_days=1),
        ],
        "users": [user("user-idle", added_days=400), user("user-dev1", added_days=400)],
        "logins": [login("user-other", 1)],
    }


def test_registry_covers_exactly_the_posture_types_of_the_catalog() -> None:
    ids = [d.finding_type_id for d in POSTURE_DETECTORS]
    assert len(ids) == 13 == len(set(ids))
    assert set(ids) == POSTURE_IDS
    assert set(BY_TYPE_ID) == POSTURE_IDS
    for detector in POSTURE_DETECTORS:
        # metadata is the catalog's own object, never a restated copy
        assert detector.finding_type is BY_KEY[detector.key]
        # needs match the catalog's fetch sources, so the lifecycle and run_posture agree
        assert set(detector.needs) == {s.value for s in detector.finding_type.sources}
        assert detector.description, f"{detector.key} has no rule docstring"


def test_every_type_fires_on_the_rich_tenant_and_clean_resources_stay_clean() -> None:
    result = run_posture(snapshot(**rich_parts()), DEFAULTS)
    assert result.evaluated == POSTURE_IDS and result.skipped == {}
    fired = {(f.finding_type.key, f.resource_id) for f in result.findings}
    assert fired == {
        ("gpt_custom_actions", "g-all"),
        ("gpt_code_interpreter", "g-all"),
        ("gpt_web_browsing", "g-all"),
        ("gpt_public_store", "g-all"),
        ("gpt_public_link", "g-link"),
        ("admin_key_not_rotated", "key_leaky"),
        ("admin_key_unused", "key_leaky"),
        ("project_key_not_rotated", "key_pleaky"),
        ("project_key_unused", "key_pleaky"),
        ("high_privilege_invite", "invite-owner"),
        ("stale_pending_invite", "invite-owner"),
        ("inactive_user", "user-idle"),
        ("project_key_orphaned", "key_orphan"),
    }
    # user-dev1 owns key_pfresh, used today: active
    assert result.counts()["inactive_user"] == 1


def test_evidence_keys_are_exactly_the_declared_fields() -> None:
    result = run_posture(snapshot(**rich_parts()), DEFAULTS)
    for f in result.findings:
        declared = BY_TYPE_ID[f.finding_type_id].evidence_fields
        assert set(f.evidence) == set(declared), f.finding_type.key
        json.dumps(f.evidence)  # evidence is JSON-serialisable as stored


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


def test_evidence_never_carries_a_secret() -> None:
    result = run_posture(snapshot(**rich_parts()), DEFAULTS)
    blob = json.dumps([f.evidence for f in result.findings]) + repr(result)
    assert SECRET not in blob and PROJECT_SECRET not in blob
    assert "FullSecretValue" not in blob
    sk_values = {s for f in result.findings for s in _strings(f.evidence) if "sk-" in s}
    assert sk_values == {"sk-admin...cdef", "sk-proj-An...XYZ", "sk-proj-abc...def"}
    for s in sk_values:
        assert re.fullmatch(r"sk-[\w-]*\.\.\.\w+", s)


@pytest.mark.parametrize(
    ("failed", "skipped_keys"),
    [
        ("admin_keys", {"admin_key_not_rotated", "admin_key_unused"}),
        (
            "project_keys",
            {
                "project_key_not_rotated",
                "project_key_unused",
                "inactive_user",
                "project_key_orphaned",
            },
        ),
        ("users", {"inactive_user"}),
        ("invites", {"high_privilege_invite", "stale_pending_invite"}),
        (
            "gpts",
            {
                "gpt_custom_actions",
                "gpt_code_interpreter",
                "gpt_web_browsing",
                "gpt_public_store",
                "gpt_public_link",
            },
        ),
    ],
)
def test_failed_fetch_skips_exactly_the_dependent_types(
    failed: str, skipped_keys: set[str]
) -> None:
    parts = rich_parts()
    parts[failed] = None
    result = run_posture(snapshot(**parts), DEFAULTS)
    skipped_ids = {BY_KEY[k].finding_type_id for k in skipped_keys}
    assert set(result.skipped) == skipped_ids
    assert result.evaluated == POSTURE_IDS - skipped_ids
    assert all(
        failed in reason and reason.startswith("fetch failed") for reason in result.skipped.values()
    )
    assert not {f.finding_type_id for f in result.findings} & skipped_ids
    # the other types still produce their findings
    assert {f.finding_type_id for f in result.findings} == result.evaluated


def test_missing_audit_logs_do_not_skip_inactive_user() -> None:
    parts = rich_parts()
    parts["logins"] = None
    result = run_posture(snapshot(**parts), DEFAULTS)
    assert BY_KEY["inactive_user"].finding_type_id in result.evaluated
    assert result.skipped == {}


def test_empty_snapshot_evaluates_nothing() -> None:
    result = run_posture(PostureSnapshot(now=NOW), DEFAULTS)
    assert result.evaluated == set() and result.findings == []
    assert set(result.skipped) == POSTURE_IDS


def test_findings_are_unique_per_type_and_resource() -> None:
    dup = project_key("key_dup", created_days=300, last_used_days=None)
    parts = {
        "project_keys": [dup, dup, project_key("key_dup", created_days=300, project_id="proj_b")]
    }
    result = run_posture(snapshot(**parts), DEFAULTS)
    keys = [f.key for f in result.findings]
    assert len(keys) == len(set(keys)) == 2  # not rotated + unused, once each
    # the first listing wins
    assert all(f.evidence["project"]["id"] == "proj_a" for f in result.findings)


def _exploding_rule(snapshot: PostureSnapshot, thresholds: Thresholds) -> Iterator[DetectedFinding]:
    """Always fails."""
    raise RuntimeError("tenant data sk-should-not-leak")
    yield  # pragma: no cover


def test_a_failing_detector_is_skipped_without_its_message() -> None:
    broken = Detector(
        BY_KEY["gpt_public_link"], needs=("gpts",), rule=_exploding_rule, evidence_fields=()
    )
    others = [d for d in POSTURE_DETECTORS if d.key != "gpt_public_link"]
    result = run_posture(snapshot(**rich_parts()), DEFAULTS, detectors=[broken, *others])
    assert result.skipped == {broken.finding_type_id: "detector error: RuntimeError"}
    assert broken.finding_type_id not in result.evaluated
    assert len(result.evaluated) == 12
    assert "sk-should" not in repr(result)


def test_detect_refuses_missing_inputs() -> None:
    detector = BY_TYPE_ID[BY_KEY["inactive_user"].finding_type_id]
    with pytest.raises(MissingInput) as info:
        detector.detect(snapshot(users=[user()]), DEFAULTS)  # eager: no iteration needed
    assert info.value.missing == ("project_keys",)


def test_result_type() -> None:
    assert isinstance(run_posture(snapshot(gpts=[]), DEFAULTS), PostureResult)


def test_summary_is_json_safe_and_has_no_evidence() -> None:
    parts = rich_parts()
    parts["invites"] = None
    summary = run_posture(snapshot(**parts), DEFAULTS).summary()
    text = json.dumps(summary)
    assert summary["findings"] == 11
    assert summary["counts"]["inactive_user"] == 1  # type: ignore[index]
    assert BY_KEY["stale_pending_invite"].finding_type_id in summary["skipped"]  # type: ignore[operator]
    assert len(summary["evaluated"]) == 11  # type: ignore[arg-type]
    assert "sk-" not in text and "example.com" not in text
