"""The world model and its ground truth: planted fixtures on both sides of every threshold,
determinism by seed, drift assignment, mutations that fix and reintroduce findings."""

from __future__ import annotations

import hashlib
import json
import re
import uuid

import pytest

from simulator import files as sf
from simulator import ground_truth as gt
from simulator import render
from simulator.world import DAY, SIZES, Drift, Thresholds, World

NOW = 1_790_000_000.0

CA, CI, WB = gt.GPT_CUSTOM_ACTIONS, gt.GPT_CODE_INTERPRETER, gt.GPT_WEB_BROWSING
STORE, LINK = gt.GPT_PUBLIC_STORE, gt.GPT_PUBLIC_LINK
AKR, PKR, AKU, PKU = (
    gt.ADMIN_KEY_NOT_ROTATED,
    gt.PROJECT_KEY_NOT_ROTATED,
    gt.ADMIN_KEY_UNUSED,
    gt.PROJECT_KEY_UNUSED,
)
HPI, INU, STALE = gt.HIGH_PRIVILEGE_INVITE, gt.INACTIVE_USER, gt.STALE_PENDING_INVITE
DC, DG, DP = gt.DLP_CONVERSATION_FILE, gt.DLP_GPT_FILE, gt.DLP_PROJECT_FILE
ORPHAN = gt.PROJECT_KEY_ORPHANED

# label -> finding types it must raise at the default thresholds (empty: must raise none)
EXPECTED: dict[str, set[str]] = {
    "user-owner": set(),
    "user-apikey-recent": set(),
    "user-apikey-old": {INU},
    "user-login-recent": set(),
    "user-login-old": {INU},
    "user-projkey-recent": set(),
    "user-projkey-old": {INU},
    "user-added-recent": set(),
    "user-added-old": {INU},
    "user-mixed": set(),
    "user-archived-key": set(),
    "admin-key-scanner": set(),
    "admin-key-rot-young": set(),
    "admin-key-rot-old": {AKR},
    "admin-key-unused-young": set(),
    "admin-key-never-used-old": {AKR, AKU},
    "admin-key-never-used-young": set(),
    "admin-key-used-recent": {AKR},
    "admin-key-used-old": {AKR, AKU},
    "admin-key-service-account": set(),
    "project-key-rot-young": set(),
    "project-key-rot-old": {PKR},
    "project-key-never-used-old": {PKR, PKU},
    "project-key-never-used-young": set(),
    "project-key-used-recent": {PKR},
    "project-key-used-old": {PKR, PKU},
    "project-key-service-account": set(),
    "project-key-inactive-owner-recent": {ORPHAN},
    "project-key-inactive-owner-old": {PKR, PKU, ORPHAN},
    "project-key-archived": {PKR},
    "project-key-credential": set(),
    "invite-owner-pending": {HPI},
    "invite-project-owner": {HPI},
    "invite-project-member": set(),
    "invite-owner-accepted": set(),
    "invite-owner-expired": set(),
    "invite-young": set(),
    "invite-stale": {STALE},
    "invite-expires-past": {STALE},
    "invite-expires-future": set(),
    "invite-owner-stale": {HPI, STALE},
    "gpt-custom-action": {CA},
    "gpt-custom-action-dash": {CA},
    "gpt-action": {CA},
    "gpt-code-interpreter": {CI},
    "gpt-browser": {WB},
    "gpt-dalle-memory": set(),
    "gpt-store": {STORE},
    "gpt-link": {LINK},
    "gpt-everything": {CA, CI, WB, STORE},
    "gpt-old-config-action": set(),
    "gpt-workspace-link": set(),
    "gpt-with-files": set(),
    "cproject-with-files": set(),
    "cproject-near-miss": set(),
    "conv-file-credentials-txt": {DC},
    "conv-file-financial-csv": {DC},
    "conv-file-ids-json": {DC},
    "conv-file-clean-md": set(),
    "conv-file-credentials-ids-docx": {DC},
    "conv-file-financial-xlsx": {DC},
    "conv-file-ids-pdf": {DC},
    "conv-file-near-miss-txt": set(),
    "conv-file-expired-csv": set(),
    "conv-file-corrupt-docx": set(),
    "conv-file-clean-pdf": set(),
    "conv-file-near-miss-xlsx": set(),
    "gpt-file-credentials-pdf": {DG},
    "gpt-file-clean-md": set(),
    "gpt-file-near-miss-json": set(),
    "gpt-file-financial-docx": {DG},
    "project-file-financial-pdf": {DP},
    "project-file-ids-xlsx": {DP},
    "project-file-clean-txt": set(),
    "project-file-near-miss-md": set(),
    "project-file-clean-csv": set(),
}


@pytest.fixture()
def world() -> World:
    return World.generate(tenants=2, seed=42, now=NOW, size="tiny")


def types_for(truth: set[tuple[str, str]], resource_id: str) -> set[str]:
    return {ftype for ftype, rid in truth if rid == resource_id}


@pytest.mark.parametrize("slug", ["tenant-01", "tenant-02"])
def test_every_planted_fixture_raises_exactly_its_findings(world: World, slug: str) -> None:
    tenant = world.tenant(slug)
    truth = world.ground_truth(slug, now=NOW)
    assert set(EXPECTED) <= set(tenant.labels)
    for label, expected in EXPECTED.items():
        assert types_for(truth, tenant.id_of(label)) == expected, label


def test_each_finding_type_fires(world: World) -> None:
    truth = world.ground_truth("tenant-01", now=NOW)
    # Message DLP fires only for tenants whose edges plant sensitive message text.
    assert {ftype for ftype, _ in truth} == set(gt.ALL_FINDING_TYPES) - set(
        gt.MESSAGE_FINDING_TYPES
    )
    assert len(gt.SEED_FINDING_TYPES) == 15
    assert set(gt.ALL_FINDING_TYPES) - set(gt.SEED_FINDING_TYPES) == {
        gt.CHATGPT_MESSAGE_DLP,
        gt.PROJECT_KEY_ORPHANED,
    }
    assert all(uuid.UUID(x) for x in gt.ALL_FINDING_TYPES)
    assert gt.FINDING_TYPE_NAMES[gt.GPT_CUSTOM_ACTIONS] == "OpenAI: GPT with Custom Actions enabled"


def test_manifest_carries_resource_types_and_names(world: World) -> None:
    manifest = world.manifest("tenant-01", now=NOW)
    by_id = {(f.finding_type_id, f.resource_id): f for f in manifest}
    assert set(by_id) == world.ground_truth("tenant-01", now=NOW)
    tenant = world.tenant("tenant-01")
    f = by_id[(DG, tenant.id_of("gpt-file-credentials-pdf"))]
    assert (f.resource_type, f.resource_name) == ("gpt_file", "deploy_runbook.pdf")
    assert f.detail["profiles"] == [sf.PROFILE_CREDENTIALS]
    assert {m.resource_type for m in manifest} == {
        "gpt",
        "admin_api_key",
        "project_api_key",
        "invite",
        "user",
        "conversation_file",
        "gpt_file",
        "project_file",
    }


def test_moving_time_crosses_the_boundaries(world: World) -> None:
    tenant = world.tenant("tenant-01")
    later = world.ground_truth("tenant-01", now=NOW + 2 * DAY)
    assert types_for(later, tenant.id_of("invite-young")) == {STALE}
    assert types_for(later, tenant.id_of("admin-key-rot-young")) == {AKR}
    assert types_for(later, tenant.id_of("admin-key-never-used-young")) == {AKR, AKU}
    assert types_for(later, tenant.id_of("user-added-recent")) == {INU}
    assert types_for(later, tenant.id_of("user-apikey-recent")) == {INU}


def test_thresholds_override(world: World) -> None:
    tenant = world.tenant("tenant-01")
    lax = world.ground_truth("tenant-01", now=NOW, thresholds=Thresholds(100, 100, 100, 30))
    assert types_for(lax, tenant.id_of("admin-key-rot-old")) == set()
    assert types_for(lax, tenant.id_of("invite-stale")) == set()
    assert types_for(lax, tenant.id_of("invite-expires-past")) == {STALE}  # expiry still counts
    assert types_for(lax, tenant.id_of("user-apikey-old")) == set()


def test_planting_follows_the_tenant_thresholds() -> None:
    w = World.generate(
        tenants=1, seed=1, now=NOW, size="tiny", thresholds=Thresholds(45, 30, 60, 7)
    )
    t = w.tenant("tenant-01")
    truth = w.ground_truth("tenant-01", now=NOW)
    assert types_for(truth, t.id_of("invite-young")) == set()
    assert types_for(truth, t.id_of("invite-stale")) == {STALE}
    assert AKR in types_for(truth, t.id_of("admin-key-rot-old"))
    assert types_for(truth, t.id_of("admin-key-rot-young")) == set()
    assert INU in types_for(truth, t.id_of("user-apikey-old"))
    assert types_for(truth, t.id_of("user-apikey-recent")) == set()
    assert t.users.get(t.id_of("user-added-old")).added_at == NOW - 61 * DAY  # type: ignore[union-attr]


def test_dlp_profiles_select_findings(world: World) -> None:
    t = world.tenant("tenant-01")
    fin = world.ground_truth("tenant-01", now=NOW, dlp_profiles=[sf.PROFILE_FINANCIAL])
    assert types_for(fin, t.id_of("conv-file-financial-csv")) == {DC}
    assert types_for(fin, t.id_of("conv-file-credentials-txt")) == set()
    assert types_for(fin, t.id_of("project-file-ids-xlsx")) == set()
    none = world.ground_truth("tenant-01", now=NOW, dlp_profiles=[])
    assert not {ftype for ftype, _ in none} & set(gt.DLP_FINDING_TYPES)
    for ftype, rid in fin:
        if ftype in gt.DLP_FINDING_TYPES:
            assert sf.PROFILE_FINANCIAL in t.files[rid].profiles


def test_pii_profile_is_derived_from_two_card_brands(world: World) -> None:
    t = world.tenant("tenant-01")
    pii = world.ground_truth("tenant-01", now=NOW, dlp_profiles=[sf.PROFILE_PII])
    dlp = {rid for ftype, rid in pii if ftype in gt.DLP_FINDING_TYPES}
    assert t.id_of("conv-file-financial-csv") in dlp
    assert t.id_of("conv-file-ids-json") not in dlp
    for rid in dlp:
        entries = {e.entry for e in world.planted_entries("tenant-01", rid)}
        assert {"Visa Card Number", "Mastercard Card Number"} <= entries


def test_dlp_ground_truth_matches_the_planted_content(world: World) -> None:
    """A DLP finding exists iff the served file really contains validated planted values."""
    t = world.tenant("tenant-01")
    truth = world.ground_truth("tenant-01", now=NOW)
    dlp_ids = {rid for ftype, rid in truth if ftype in gt.DLP_FINDING_TYPES}
    for f in t.files.values():
        entries = world.planted_entries("tenant-01", f.id)
        if f.id in dlp_ids:
            assert entries and not f.expired and f.variant == "planted"
            assert {e.profile for e in entries} == set(f.profiles)
        else:
            assert f.expired or not entries or f.variant != "planted"


def test_bulk_ages_keep_half_a_day_from_integer_thresholds() -> None:
    w = World.generate(tenants=1, seed=9, now=NOW, size="small")
    t = w.tenant("tenant-01")
    bulk = [u for u in t.users if not u.label]
    assert len(bulk) == SIZES["small"].users
    for u in bulk:
        for ts in (u.added_at, u.api_key_last_used_at):
            if ts is not None:
                assert ((NOW - ts) / DAY) % 1 == pytest.approx(0.5)


def snapshot(w: World) -> str:
    h = hashlib.sha256()
    for t in w.tenants.values():
        rows = [t.credentials()]
        rows += [render.user(t, u) for u in t.users]
        rows += [render.invite(t, i) for i in t.invites]
        rows += [render.admin_key(t, k) for k in t.admin_keys]
        rows += [render.project_key(t, k) for k in t.all_project_keys()]
        rows += [render.audit_log(t, e) for e in t.audit_logs]
        rows += [render.gpt(t, g, "id", "http://x/_blob") for g in t.gpts]
        rows += [render.gpt(t, g, "url", "http://x/_blob") for g in t.cprojects]
        rows += [render.conversation(t, c, "id", "http://x/_blob") for c in t.conversations]
        h.update(json.dumps(rows, sort_keys=True).encode())
        for f in list(t.files.values())[:10]:
            h.update(w.file_bytes(t, f))
    return h.hexdigest()


def test_generation_is_deterministic_by_seed() -> None:
    a = World.generate(tenants=3, seed=5, now=NOW, size="small")
    b = World.generate(tenants=3, seed=5, now=NOW, size="small")
    c = World.generate(tenants=3, seed=6, now=NOW, size="small")
    assert snapshot(a) == snapshot(b)
    assert snapshot(a) != snapshot(c)
    assert a.ground_truth("tenant-02", now=NOW) == b.ground_truth("tenant-02", now=NOW)


def test_tenant_identity_and_key_formats() -> None:
    w = World.generate(tenants=12, seed=1, now=NOW, size="tiny")
    slugs = list(w.tenants)
    assert slugs[0] == "tenant-01" and slugs[-1] == "tenant-12"
    seen_keys: set[str] = set()
    for t in w.tenants.values():
        assert re.fullmatch(r"org-[A-Za-z0-9]{24}", t.org_id)
        assert uuid.UUID(t.workspace_id).version == 4
        assert t.admin_key.startswith("sk-admin-") and t.compliance_key.startswith("sk-proj-")
        assert w.lookup_key(t.admin_key) == (t, "admin")
        assert w.lookup_key(t.compliance_key) == (t, "compliance")
        for key in t.project_keys:
            assert w.lookup_key(key) == (t, "project")
        assert t.admin_key not in repr(t) and t.compliance_key not in repr(w)
        seen_keys |= {t.admin_key, t.compliance_key}
    assert len(seen_keys) == 24
    assert len({t.name for t in w.tenants.values()}) == 12


def test_default_drift_covers_every_variant() -> None:
    w = World.generate(tenants=4, seed=1, now=NOW, size="tiny")
    drifts = [t.drift for t in w.tenants.values()]
    assert drifts[0] == Drift()
    assert {d.recipients for d in drifts} == {"array", "list"}
    assert {d.latest_config for d in drifts} == {"list", "array"}
    assert {d.invite_timestamp for d in drifts} == {"both", "created_at", "invited_at"}
    assert {d.admin_timestamps for d in drifts} == {"int", "float"}
    assert {d.extra_fields for d in drifts} == {True, False}
    forced = World.generate(tenants=2, seed=1, now=NOW, size="tiny", drift=Drift(recipients="list"))
    assert all(t.drift.recipients == "list" for t in forced.tenants.values())


def test_drift_changes_the_rendered_shapes() -> None:
    w = World.generate(tenants=4, seed=1, now=NOW, size="tiny")
    t1, t2, t3, t4 = w.tenants.values()
    inv = lambda t: render.invite(t, t.invites.ordered()[0])  # noqa: E731
    assert {"created_at", "invited_at"} <= set(inv(t1))
    assert "created_at" in inv(t2) and "invited_at" not in inv(t2)
    assert "invited_at" in inv(t3) and "created_at" not in inv(t3)
    g = lambda t: render.gpt(t, t.gpts.get(t.id_of("gpt-custom-action")), "id", "b")  # noqa: E731
    assert isinstance(g(t1)["sharing"]["recipients"], list)
    assert g(t2)["sharing"]["recipients"]["object"] == "list"
    assert g(t1)["latest_config"]["object"] == "list"
    assert isinstance(g(t3)["latest_config"], list)
    assert isinstance(render.user(t1, t1.users.ordered()[0])["added_at"], int)
    assert isinstance(render.user(t4, t4.users.ordered()[0])["added_at"], float)
    assert "x_sim_future_field" in g(t2) and "x_sim_future_field" not in g(t1)


def test_float_drift_timestamps_always_carry_a_fraction() -> None:
    """A clock on a whole second must not turn the float drift into integers."""
    w = World.generate(tenants=4, seed=1, now=float(int(NOW)), size="tiny")
    drifted = [t for t in w.tenants.values() if t.drift.admin_timestamps == "float"]
    assert drifted
    for t in drifted:
        stamps = [render.user(t, u)["added_at"] for u in t.users.ordered()]
        assert stamps and all(isinstance(s, float) and s % 1 for s in stamps)
        assert all(
            abs(s - u.added_at) < 0.002 for s, u in zip(stamps, t.users.ordered(), strict=True)
        )


def test_huge_world_has_the_advertised_volume() -> None:
    w = World.generate(tenants=1, seed=1, now=NOW, size="huge")
    t = w.tenant("tenant-01")
    assert len(t.users) >= 50_000
    assert len(t.gpts) >= 5_000
    assert len(t.files) >= 20_000
    truth = w.ground_truth("tenant-01", now=NOW)
    assert types_for(truth, t.id_of("invite-stale")) == {STALE}


# --------------------------------------------------------------------------- mutations


def test_mutations_fix_and_reintroduce_one_finding_of_each_kind(world: World) -> None:
    slug = "tenant-01"
    t = world.tenant(slug)

    def truth() -> set[tuple[str, str]]:
        return world.ground_truth(slug, now=NOW + 60)

    gid = t.id_of("gpt-store")
    t.set_gpt_visibility(gid, "workspace")
    assert types_for(truth(), gid) == set()
    t.set_gpt_visibility(gid, "anyone-with-link")
    assert types_for(truth(), gid) == {LINK}

    gid = t.id_of("gpt-custom-action-dash")
    before = len(t.gpts.get(gid).configs)  # type: ignore[union-attr]
    t.remove_gpt_tool(gid, "custom_action")
    assert types_for(truth(), gid) == set()
    assert len(t.gpts.get(gid).configs) == before + 1  # type: ignore[union-attr]
    t.add_gpt_tool(gid, "action")
    t.add_gpt_tool(gid, "code_interpreter")
    assert types_for(truth(), gid) == {CA, CI}

    kid = t.id_of("admin-key-rot-old")
    new_kid = t.rotate_admin_key(kid)
    assert kid not in t.admin_keys and types_for(truth(), new_kid) == set()
    t.update_admin_key(new_kid, created_at=NOW - 200 * DAY)
    assert types_for(truth(), new_kid) == {AKR, AKU}

    kid = t.id_of("admin-key-never-used-old")
    t.update_admin_key(kid, last_used_at=NOW)
    assert types_for(truth(), kid) == {AKR}

    pk = t.id_of("project-key-used-old")
    new_pk = t.rotate_project_key(pk)
    assert types_for(truth(), pk) == set() and types_for(truth(), new_pk) == set()
    t.update_project_key(new_pk, last_used_at=None, created_at=NOW - 95 * DAY)
    assert types_for(truth(), new_pk) == {PKR, PKU}
    t.delete_project_key(new_pk)
    assert types_for(truth(), new_pk) == set()

    inv = t.id_of("invite-owner-pending")
    t.accept_invite(inv)
    assert types_for(truth(), inv) == set()
    new_inv = t.add_invite("new.owner@tenant-01.example.com", "owner", created_days_ago=20)
    assert types_for(truth(), new_inv) == {HPI, STALE}
    t.delete_invite(new_inv)
    assert types_for(truth(), new_inv) == set()

    uid = t.id_of("user-apikey-old")
    t.touch_user_activity(uid)
    assert types_for(truth(), uid) == set()
    t.set_user_activity(uid, NOW - 100 * DAY)
    assert types_for(truth(), uid) == {INU}
    uid = t.id_of("user-login-old")
    t.add_login(uid, at=NOW - DAY)
    assert types_for(truth(), uid) == set()
    uid = t.id_of("user-added-old")
    t.delete_user(uid)
    assert types_for(truth(), uid) == set()

    fid = t.id_of("conv-file-credentials-txt")
    t.remove_file(fid)
    assert types_for(truth(), fid) == set()
    new_fid = t.add_file(
        "gpt", t.id_of("gpt-with-files"), fmt="xlsx", profiles=[sf.PROFILE_FINANCIAL]
    )
    assert types_for(truth(), new_fid) == {DG}
    t.expire_file(new_fid)
    assert types_for(truth(), new_fid) == set()
    conv_fid = t.add_file("conversation", fmt="pdf", profiles=[sf.PROFILE_IDENTIFIERS])
    assert types_for(truth(), conv_fid) == {DC}
    proj_fid = t.add_file(
        "project", t.id_of("cproject-near-miss"), fmt="docx", profiles=[sf.PROFILE_CREDENTIALS]
    )
    assert types_for(truth(), proj_fid) == {DP}
    gfid = t.id_of("gpt-file-credentials-pdf")
    t.remove_file(gfid)
    assert types_for(truth(), gfid) == set()
    assert gfid not in t.gpts.get(t.id_of("gpt-with-files")).configs[0].file_ids  # type: ignore[union-attr]


def test_rotating_the_scanner_key_revokes_the_old_credential(world: World) -> None:
    t = world.tenant("tenant-01")
    old = t.admin_key
    new_id = t.rotate_admin_key(t.scanner_admin_key_id)
    assert world.lookup_key(old) is None
    assert world.lookup_key(t.admin_key) == (t, "admin")
    assert t.scanner_admin_key_id == new_id


def test_mutations_reject_unknown_ids(world: World) -> None:
    t = world.tenant("tenant-01")
    with pytest.raises(KeyError):
        t.rotate_admin_key("key_nope")
    with pytest.raises(KeyError):
        t.accept_invite("invite-nope")
    with pytest.raises(ValueError):
        t.set_gpt_visibility(t.id_of("gpt-store"), "public")
    with pytest.raises(ValueError):
        World.generate(tenants=1, size="gigantic")
