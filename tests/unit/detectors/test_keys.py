"""Admin and project API keys: not rotated and unused, on both sides of each threshold."""

from __future__ import annotations

import pytest

from detectors import (
    admin_key_not_rotated,
    admin_key_unused,
    project_key_not_rotated,
    project_key_unused,
)
from schemas.catalog import BY_KEY
from schemas.findings import Thresholds
from tests.unit.detectors.factories import (
    DAY,
    DEFAULTS,
    admin_key,
    project_key,
    snapshot,
)

ONE_SECOND = 1 / DAY


def admin_ids(detector, keys, thresholds: Thresholds = DEFAULTS) -> list[str]:
    return [f.resource_id for f in detector.DETECTOR.detect(snapshot(admin_keys=keys), thresholds)]


def project_ids(detector, keys, thresholds: Thresholds = DEFAULTS) -> list[str]:
    found = detector.DETECTOR.detect(snapshot(project_keys=keys), thresholds)
    return [f.resource_id for f in found]


# --------------------------------------------------------------------------- rotation


@pytest.mark.parametrize(
    ("created_days", "fires"),
    [(89, False), (90, False), (90 + ONE_SECOND, True), (91, True), (2000, True), (-1, False)],
)
def test_admin_key_rotation_boundary(created_days: float, fires: bool) -> None:
    keys = [admin_key("key_a", created_days=created_days, last_used_days=0)]
    assert admin_ids(admin_key_not_rotated, keys) == (["key_a"] if fires else [])


@pytest.mark.parametrize(
    ("created_days", "fires"), [(89, False), (90, False), (90 + ONE_SECOND, True), (91, True)]
)
def test_project_key_rotation_boundary(created_days: float, fires: bool) -> None:
    keys = [project_key("key_p", created_days=created_days, last_used_days=0)]
    assert project_ids(project_key_not_rotated, keys) == (["key_p"] if fires else [])


def test_rotation_custom_threshold_is_honoured() -> None:
    strict = Thresholds(key_rotation_days=30)
    keys = [admin_key("key_29", created_days=29), admin_key("key_31", created_days=31)]
    assert admin_ids(admin_key_not_rotated, keys, strict) == ["key_31"]
    pkeys = [project_key("key_29", created_days=29), project_key("key_31", created_days=31)]
    assert project_ids(project_key_not_rotated, pkeys, strict) == ["key_31"]
    # and with the default the same keys are fine
    assert admin_ids(admin_key_not_rotated, keys) == []


def test_key_without_created_at_is_not_aged() -> None:
    assert admin_ids(admin_key_not_rotated, [admin_key("k", created_days=None)]) == []
    assert (
        admin_ids(admin_key_unused, [admin_key("k", created_days=None, last_used_days=None)]) == []
    )


def test_admin_rotation_evidence() -> None:
    [f] = admin_key_not_rotated.DETECTOR.detect(
        snapshot(admin_keys=[admin_key("key_old", created_days=120, last_used_days=2)]), DEFAULTS
    )
    assert f.finding_type is BY_KEY["admin_key_not_rotated"]
    assert f.resource_name == "name of key_old"
    ev = f.evidence
    assert ev["redacted_value"] == "sk-admin...x1z"
    assert ev["owner"] == {
        "type": "user",
        "id": "user-owner1",
        "name": "Olga Owner",
        "role": "owner",
    }
    assert ev["age_days"] == 120.0
    assert ev["threshold_days"] == 90
    assert ev["created_at"].endswith("Z") and ev["last_used_at"].endswith("Z")
    assert ev["expires_at"] is None


def test_project_rotation_evidence_names_project_and_owner() -> None:
    archived = project_key(
        "key_old", created_days=200, project_id="proj_arch", project_archived=True
    )
    svc = project_key("key_svc", created_days=100, owner_user=None)
    found = list(
        project_key_not_rotated.DETECTOR.detect(snapshot(project_keys=[archived, svc]), DEFAULTS)
    )
    assert [f.resource_id for f in found] == ["key_old", "key_svc"]
    ev = found[0].evidence
    assert ev["project"] == {"id": "proj_arch", "name": "Project proj_arch", "archived": True}
    assert ev["owner"]["type"] == "user"
    assert ev["owner"]["email"] == "user-dev1@example.com"
    assert ev["redacted_value"] == "sk-proj-abc...def"
    assert found[1].evidence["owner"] == {
        "type": "service_account",
        "id": "svc_acct_ci",
        "name": "ci-bot",
        "role": "member",
    }


# --------------------------------------------------------------------------- unused


@pytest.mark.parametrize(
    ("created_days", "last_used_days", "fires"),
    [
        (400, 89, False),
        (400, 90, False),
        (400, 90 + ONE_SECOND, True),
        (400, 91, True),
        (89, None, False),  # never used, but young
        (90, None, False),
        (91, None, True),  # never used and created more than 90 days ago
        (400, 0, False),
    ],
)
def test_admin_key_unused_boundary(
    created_days: float, last_used_days: float | None, fires: bool
) -> None:
    keys = [admin_key("key_u", created_days=created_days, last_used_days=last_used_days)]
    assert admin_ids(admin_key_unused, keys) == (["key_u"] if fires else [])


@pytest.mark.parametrize(
    ("created_days", "last_used_days", "fires"),
    [(400, 89, False), (400, 91, True), (89, None, False), (91, None, True)],
)
def test_project_key_unused_boundary(
    created_days: float, last_used_days: float | None, fires: bool
) -> None:
    keys = [project_key("key_u", created_days=created_days, last_used_days=last_used_days)]
    assert project_ids(project_key_unused, keys) == (["key_u"] if fires else [])


def test_unused_custom_threshold_is_honoured() -> None:
    strict = Thresholds(unused_key_days=45)
    keys = [
        admin_key("used_44", created_days=400, last_used_days=44),
        admin_key("used_46", created_days=400, last_used_days=46),
        admin_key("never_46", created_days=46, last_used_days=None),
    ]
    assert admin_ids(admin_key_unused, keys, strict) == ["used_46", "never_46"]
    assert admin_ids(admin_key_unused, keys) == []
    pkeys = [project_key("used_46", created_days=400, last_used_days=46)]
    assert project_ids(project_key_unused, pkeys, strict) == ["used_46"]


def test_unused_evidence_says_never_used() -> None:
    [f] = admin_key_unused.DETECTOR.detect(
        snapshot(admin_keys=[admin_key("key_n", created_days=100, last_used_days=None)]), DEFAULTS
    )
    assert f.finding_type is BY_KEY["admin_key_unused"]
    assert f.evidence["never_used"] is True
    assert f.evidence["last_used_at"] is None
    assert f.evidence["days_since_last_use"] is None
    assert f.evidence["age_days"] == 100.0
    [p] = project_key_unused.DETECTOR.detect(
        snapshot(project_keys=[project_key("key_p", created_days=300, last_used_days=120)]),
        DEFAULTS,
    )
    assert p.evidence["never_used"] is False
    assert p.evidence["days_since_last_use"] == 120.0
    assert p.evidence["project"]["id"] == "proj_a"


def test_rotation_and_unused_are_independent() -> None:
    """An old key in daily use is not unused; a young key never used is not unrotated."""
    old_busy = admin_key("old_busy", created_days=500, last_used_days=0)
    young_idle = admin_key("young_idle", created_days=95, last_used_days=None)
    keys = [old_busy, young_idle]
    assert admin_ids(admin_key_not_rotated, keys, Thresholds(key_rotation_days=100)) == ["old_busy"]
    assert admin_ids(admin_key_unused, keys) == ["young_idle"]


def test_full_key_in_redacted_value_is_masked() -> None:
    """A faulty response putting a whole key in redacted_value must not reach evidence."""
    secret = "sk-admin-" + "Q" * 40 + "Zz9"
    key = admin_key("key_leak", created_days=200, redacted_value=secret)
    [f] = admin_key_not_rotated.DETECTOR.detect(snapshot(admin_keys=[key]), DEFAULTS)
    assert secret not in repr(f.evidence)
    assert "Q" * 10 not in repr(f.evidence)
    assert f.evidence["redacted_value"].startswith("sk-adm")
