"""The detectors agree with the simulator's independent ground truth, in process.

The simulator's world is rendered to the raw API JSON it would serve, parsed through the
same models the connectors use, and judged by `run_posture`; the posture findings must
equal `simulator.ground_truth` exactly (both sides of every threshold, every drift
variant). No sockets: the HTTP path is the pipeline's integration tests' job.
"""

from __future__ import annotations

from dataclasses import asdict

import pytest

from detectors.registry import run_posture
from schemas.findings import Thresholds
from schemas.openai import AdminApiKey, AdminUser, AuditLogin, Gpt, Invite, ProjectApiKey
from schemas.snapshot import PostureSnapshot
from simulator import render
from simulator.ground_truth import POSTURE_FINDING_TYPES, expected_findings
from simulator.world import Tenant, World
from simulator.world import Thresholds as SimThresholds

NOW = 1_790_000_000.0


def snapshot_of(tenant: Tenant) -> PostureSnapshot:
    latest_login: dict[str, float] = {}
    for event in tenant.audit_logs:
        raw = render.audit_log(tenant, event)
        if raw["type"] != "login.succeeded":
            continue
        user_id = raw["actor"]["session"]["user"]["id"]
        latest_login[user_id] = max(latest_login.get(user_id, 0.0), float(raw["effective_at"]))
    project_keys = []
    for key in tenant.all_project_keys():
        project = tenant.projects.get(key.project_id)
        raw = render.project_key(tenant, key) | {
            "project_id": key.project_id,
            "project_name": project.name if project else None,
            "project_archived": bool(project and project.archived_at is not None),
        }
        project_keys.append(ProjectApiKey.model_validate(raw))
    return PostureSnapshot(
        now=NOW,
        users=[AdminUser.model_validate(render.user(tenant, u)) for u in tenant.users],
        logins=[AuditLogin(user_id=u, effective_at=t) for u, t in latest_login.items()],
        invites=[Invite.model_validate(render.invite(tenant, i)) for i in tenant.invites],
        admin_keys=[
            AdminApiKey.model_validate(render.admin_key(tenant, k)) for k in tenant.admin_keys
        ],
        project_keys=project_keys,
        gpts=[
            Gpt.model_validate(render.gpt(tenant, g, "id", "http://127.0.0.1:1/_blob"))
            for g in tenant.gpts
        ],
    )


@pytest.fixture(scope="module")
def world() -> World:
    custom = SimThresholds(
        key_rotation_days=30, unused_key_days=45, inactive_user_days=30, stale_invite_days=7
    )
    return World.generate(
        tenants=4, seed=11, now=NOW, size="small", thresholds={"tenant-04": custom}
    )


@pytest.mark.parametrize("slug", ["tenant-01", "tenant-02", "tenant-03", "tenant-04"])
def test_posture_findings_equal_the_simulator_ground_truth(world: World, slug: str) -> None:
    tenant = world.tenant(slug)
    thresholds = Thresholds(**asdict(tenant.thresholds))
    expected = {
        (f.finding_type_id, f.resource_id)
        for f in expected_findings(world, slug, now=NOW, dlp_profiles=())
        if f.finding_type_id in POSTURE_FINDING_TYPES
    }
    result = run_posture(snapshot_of(tenant), thresholds)
    got = {f.key for f in result.findings}
    assert result.skipped == {}
    assert got - expected == set(), "detected but not in ground truth"
    assert expected - got == set(), "in ground truth but not detected"
    assert {ft for ft, _ in expected} == set(POSTURE_FINDING_TYPES)  # every type planted
