"""project_key_orphaned (extension) and inactive_user's account of its signals."""

from __future__ import annotations

from detectors import inactive_user, project_key_orphaned
from tests.unit.detectors.factories import DEFAULTS, project_key, snapshot, user


def test_only_keys_whose_owner_lost_access_are_flagged() -> None:
    keys = [
        project_key("key_gone", owner_project_access="inactive"),
        project_key("key_gone_sa", owner_user=None, owner_project_access="inactive"),
        project_key("key_ok", owner_project_access="active"),
        project_key("key_old_api", owner_project_access=None),
    ]
    found = list(project_key_orphaned.rule(snapshot(project_keys=keys), DEFAULTS))
    assert [f.resource_id for f in found] == ["key_gone", "key_gone_sa"]
    evidence = found[0].evidence
    assert set(evidence) == set(project_key_orphaned.DETECTOR.evidence_fields)
    assert evidence["owner_project_access"] == "inactive"
    assert evidence["owner"]["id"] == "user-dev1"
    assert evidence["project"]["id"] == "proj_a"
    assert found[0].finding_type.extension


def test_inactive_user_evidence_names_the_signals_the_scan_had() -> None:
    idle = [user("user-idle", added_days=400)]
    with_logins = snapshot(users=idle, project_keys=[], logins=[], chatgpt_logins=[])
    without = snapshot(users=idle, project_keys=[], logins=None)
    [a] = inactive_user.rule(with_logins, DEFAULTS)
    [b] = inactive_user.rule(without, DEFAULTS)
    assert a.evidence["signals_available"] == list(inactive_user.SIGNALS)
    assert a.evidence["audit_logins_available"] is True  # audit logs read, no login found
    assert "audit_login" not in b.evidence["signals_available"]
    assert "chatgpt_login" not in b.evidence["signals_available"]  # no Logs Platform read
    assert b.evidence["audit_logins_available"] is False
