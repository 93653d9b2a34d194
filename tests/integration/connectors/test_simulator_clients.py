"""AdminClient and ComplianceClient against the simulator over real HTTP.

Every endpoint, paging across many pages (tiny page sizes), every drift variant the world
generates, each fault the simulator injects, each typed error, and the file download path
(307, storage host without credentials, 404/410, size cap).
"""

from __future__ import annotations

import hashlib
import io
from typing import Any

import pytest

from connectors.access import ClientOptions
from connectors.admin import AdminClient
from connectors.compliance import ComplianceClient
from connectors.errors import (
    AuthenticationError,
    FileSkipped,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    UpstreamError,
)
from connectors.http import CallEvent
from schemas.openai import normalize_tool_type
from tests.integration.connectors.conftest import access_for, fast_options, scaled_budget

SLUGS = ["tenant-01", "tenant-02", "tenant-03", "tenant-04"]
TINY_PAGES = {
    "admin": 3,
    "audit_logs": 2,
    "compliance_users": 4,
    "compliance_gpts": 3,
    "compliance_projects": 2,
    "compliance_conversations": 3,
}


def admin(world: Any, server: Any, slug: str, **opts: Any) -> AdminClient:
    return AdminClient(
        access_for(world, server, slug), scaled_budget(), options=fast_options(**opts)
    )


def compliance(world: Any, server: Any, slug: str, **opts: Any) -> ComplianceClient:
    return ComplianceClient(
        access_for(world, server, slug), scaled_budget(), options=fast_options(**opts)
    )


def fault(world: Any, slug: str, kind: str, **kw: Any) -> Any:
    from simulator.faults import Fault

    return world.faults.add(slug, Fault(kind=kind, **kw))


# ---------------------------------------------------------------- every endpoint, many pages


@pytest.mark.parametrize("slug", SLUGS)
def test_admin_endpoints_match_the_world(world: Any, server: Any, slug: str) -> None:
    tenant = world.tenant(slug)
    events: list[CallEvent] = []
    client = AdminClient(
        access_for(world, server, slug),
        scaled_budget(),
        options=fast_options(page_limits=TINY_PAGES),
        observer=events.append,
    )
    users = list(client.users())
    assert [u.id for u in users] == [u.id for u in tenant.users.ordered()]
    assert len(users) > 3 * TINY_PAGES["admin"]  # really paged

    invites = list(client.invites())
    assert {i.id for i in invites} == {i.id for i in tenant.invites.ordered()}
    assert all(i.sent_at is not None for i in invites)  # created_at / invited_at drift

    keys = list(client.admin_api_keys())
    assert {k.id for k in keys} == {k.id for k in tenant.admin_keys.ordered()}
    assert all(k.owner is not None and k.owner.type in ("user", "service_account") for k in keys)

    projects = list(client.projects())
    assert {p.id for p in projects} == {p.id for p in tenant.projects.ordered()}
    live_only = {p.id for p in client.projects(include_archived=False)}
    assert live_only == {p.id for p in tenant.projects.ordered() if p.archived_at is None}

    project_keys = list(client.all_project_api_keys())
    expected = {k.id: k for k in tenant.all_project_keys()}
    assert {k.id for k in project_keys} == set(expected)
    for key in project_keys:
        assert key.project_id == expected[key.id].project_id
        assert key.owner is not None and key.owner.type == expected[key.id].owner_type
    archived = {p.id for p in tenant.projects.ordered() if p.archived_at is not None}
    assert {k.project_id for k in project_keys if k.project_archived} == {
        k.project_id for k in expected.values() if k.project_id in archived
    }

    accounts = [a for p in projects for a in client.service_accounts(p.id)]
    expected_accounts = {
        a.id
        for pid, coll in tenant.service_accounts.items()
        if pid not in archived
        for a in coll.ordered()
    }
    assert {a.id for a in accounts} == expected_accounts

    from simulator.render import admin_ts

    signal = client.latest_logins()
    assert signal.available
    expected_logins: dict[str, float] = {}
    for event in tenant.audit_logs.ordered():
        if event.type == "login.succeeded":
            previous = expected_logins.get(event.actor_user_id, float("-inf"))
            at = float(admin_ts(tenant, event.effective_at) or 0.0)
            expected_logins[event.actor_user_id] = max(previous, at)
    assert signal.logins == pytest.approx(expected_logins)

    assert events and all(e.tenant == slug and e.api == "admin" for e in events)
    assert all("{" in e.route or e.route.count("/") <= 3 for e in events)  # templates, no ids


@pytest.mark.parametrize("slug", SLUGS)
def test_compliance_endpoints_match_the_world(world: Any, server: Any, slug: str) -> None:
    tenant = world.tenant(slug)
    client = compliance(world, server, slug, page_limits=TINY_PAGES)

    users = list(client.users())
    assert {u.id for u in users} == {u.id for u in tenant.workspace_users.ordered()}

    gpts = list(client.gpts())
    expected = {g.id: g for g in tenant.gpts.ordered()}
    assert {g.id for g in gpts} == set(expected)
    for gpt in gpts:
        sim = expected[gpt.id]
        assert gpt.visibility == sim.visibility
        assert gpt.config is not None and gpt.config.id == sim.configs[0].id
        assert {f.id for f in gpt.config.files} == {
            fid for fid in sim.configs[0].file_ids if fid in tenant.files
        }
        assert gpt.tool_types == {normalize_tool_type(t.type) for t in sim.configs[0].tools}
        assert {r.id for r in gpt.sharing.recipients} == {r[0] for r in sim.recipients}  # type: ignore[union-attr]

    projects = list(client.projects())
    assert {p.id for p in projects} == {p.id for p in tenant.cprojects.ordered()}

    conversations = list(client.conversations(0))
    assert {c.id for c in conversations} == {c.id for c in tenant.conversations.ordered()}
    files = {f.id for c in conversations for f in c.files}
    assert files == {
        fid
        for c in tenant.conversations.ordered()
        for m in c.messages
        for fid in m.file_ids
        if fid in tenant.files
    }


def test_conversations_since_timestamp_filters(world: Any, server: Any) -> None:
    tenant = world.tenant("tenant-01")
    ordered = tenant.conversations.ordered()
    cut = ordered[len(ordered) // 2].last_update
    got = {c.id for c in compliance(world, server, "tenant-01").conversations(cut)}
    assert got == {c.id for c in ordered if c.last_update >= int(cut)}
    assert 0 < len(got) < len(ordered)


# ---------------------------------------------------------------- files


def _files(world: Any, slug: str, location: str, *, expired: bool = False) -> list[Any]:
    return [
        f
        for f in world.tenant(slug).files.values()
        if f.location == location and f.expired == expired and f.variant in ("clean", "planted")
    ]


@pytest.mark.parametrize("location", ["conversation", "gpt", "project"])
def test_download_via_307_without_auth(world: Any, server: Any, location: str) -> None:
    tenant = world.tenant("tenant-01")
    sim_file = _files(world, "tenant-01", location)[0]
    dest = io.BytesIO()
    result = compliance(world, server, "tenant-01").download_file(
        location,  # type: ignore[arg-type]
        sim_file.id,
        dest,
        user_id=sim_file.owner_user_id if location == "conversation" else None,
        conversation_id=sim_file.parent_id if location == "conversation" else None,
    )
    want = world.file_bytes(tenant, sim_file)
    assert dest.getvalue() == want
    assert result.size == len(want) and result.sha256 == hashlib.sha256(want).hexdigest()
    assert result.content_type
    counters = world.stats("tenant-01")["counters"]
    assert not any("auth" in name and count for name, count in counters.items()), counters


def test_expired_and_unknown_files_are_skipped(world: Any, server: Any) -> None:
    client = compliance(world, server, "tenant-01")
    expired = [f for f in world.tenant("tenant-01").files.values() if f.expired]
    assert expired, "the world plants expired files"
    f = expired[0]
    with pytest.raises(FileSkipped) as info:
        client.download_file(
            f.location,
            f.id,
            io.BytesIO(),
            user_id=f.owner_user_id if f.location == "conversation" else None,
        )
    assert info.value.reason == "expired"
    with pytest.raises(FileSkipped) as info2:
        client.download_file("gpt", "file-doesnotexist000000000", io.BytesIO())
    assert info2.value.reason == "not_found"


def test_size_cap_skips_large_files(world: Any, server: Any) -> None:
    f = _files(world, "tenant-01", "gpt")[0]
    dest = io.BytesIO()
    with pytest.raises(FileSkipped) as info:
        compliance(world, server, "tenant-01").download_file("gpt", f.id, dest, max_bytes=10)
    assert info.value.reason == "too_large" and dest.getvalue() == b""


# ---------------------------------------------------------------- faults


def test_rate_limit_storm_is_ridden_out(world: Any, server: Any) -> None:
    fault(world, "tenant-02", "rate_limit_storm", api="admin", count=3, retry_after=0.05)
    events: list[CallEvent] = []
    client = AdminClient(
        access_for(world, server, "tenant-02"),
        scaled_budget(),
        options=fast_options(),
        observer=events.append,
    )
    assert len(list(client.users())) == len(world.tenant("tenant-02").users)
    assert [e.status for e in events].count(429) == 3


def test_rate_limit_storm_beyond_patience(world: Any, server: Any) -> None:
    # 429s are retried for rate_limit_patience, not max_attempts (the per-call hard stop
    # for zero-length waits is a unit test)
    fault(world, "tenant-02", "rate_limit_storm", api="compliance", retry_after=0.05)
    client = compliance(world, server, "tenant-02", max_attempts=3, rate_limit_patience=1.0)
    with pytest.raises(RateLimitedError) as info:
        list(client.gpts())
    assert info.value.status == 429 and "tenant-02" in info.value.hint
    assert "patience" in info.value.message


def test_long_retry_after_defers(world: Any, server: Any) -> None:
    fault(world, "tenant-02", "rate_limit_storm", api="compliance", retry_after=120)
    with pytest.raises(RateLimitedError) as info:
        list(compliance(world, server, "tenant-02", retry_after_cap=5).users())
    assert info.value.retry_after is not None and info.value.retry_after > 5


def test_5xx_burst_then_success(world: Any, server: Any) -> None:
    fault(world, "tenant-03", "server_error", api="compliance", count=2, status=502)
    assert len(list(compliance(world, server, "tenant-03").users())) == len(
        world.tenant("tenant-03").workspace_users
    )


def test_5xx_forever_is_upstream_error(world: Any, server: Any) -> None:
    fault(world, "tenant-03", "server_error", api="admin", status=503)
    with pytest.raises(UpstreamError) as info:
        list(admin(world, server, "tenant-03", max_attempts=3).invites())
    assert info.value.status == 503 and info.value.kind == "api_error"


def test_slow_responses_time_out(world: Any, server: Any) -> None:
    fault(world, "tenant-03", "slow", api="admin", delay=1.0)
    with pytest.raises(UpstreamError) as info:
        list(admin(world, server, "tenant-03", read_timeout=0.2, max_attempts=2).users())
    assert "timed out" in info.value.message


def test_slow_once_is_retried(world: Any, server: Any) -> None:
    fault(world, "tenant-03", "slow", api="admin", delay=1.0, count=1)
    users = list(admin(world, server, "tenant-03", read_timeout=0.3).users())
    assert len(users) == len(world.tenant("tenant-03").users)


@pytest.mark.parametrize("kind", ["truncated_json", "malformed_json"])
def test_bad_json_once_is_retried_forever_is_malformed(world: Any, server: Any, kind: str) -> None:
    fault(world, "tenant-04", kind, api="admin", count=1)
    assert len(list(admin(world, server, "tenant-04").invites())) == len(
        world.tenant("tenant-04").invites
    )
    fault(world, "tenant-04", kind, api="admin")
    with pytest.raises(MalformedResponseError):
        list(admin(world, server, "tenant-04", max_attempts=2).invites())


def test_wrong_shape_is_malformed(world: Any, server: Any) -> None:
    fault(world, "tenant-04", "wrong_shape", api="compliance", count=1)
    with pytest.raises(MalformedResponseError):
        list(compliance(world, server, "tenant-04").gpts())


def test_repeated_cursor_is_malformed(world: Any, server: Any) -> None:
    fault(world, "tenant-04", "repeated_cursor", api="admin")
    with pytest.raises(MalformedResponseError) as info:
        list(admin(world, server, "tenant-04", page_limits={"admin": 2}).users())
    assert "cursor" in info.value.message


def test_unknown_fields_are_ignored(world: Any, server: Any) -> None:
    fault(world, "tenant-01", "unknown_fields")
    assert len(list(compliance(world, server, "tenant-01").gpts())) == len(
        world.tenant("tenant-01").gpts
    )


def test_huge_page_is_consumed(world: Any, server: Any) -> None:
    fault(world, "tenant-01", "huge_page", api="admin", count=1, items=2500)
    assert len(list(admin(world, server, "tenant-01").users())) >= 2500


def test_revoked_key_mid_scan(world: Any, server: Any) -> None:
    fault(world, "tenant-02", "revoked_key", api="admin", after=2)
    client = admin(world, server, "tenant-02", page_limits={"admin": 2})
    seen = 0
    with pytest.raises(AuthenticationError) as info:
        for _ in client.users():
            seen += 1
    assert seen == 4  # two pages came through before the key was revoked
    err = info.value
    assert err.status == 401 and err.kind == "credential_error"
    assert (err.remedy, err.api) == ("set_key", "admin") and "revoked" in err.hint
    key = world.tenant("tenant-02").admin_key
    assert key not in str(err) and key not in repr(err) and key[:12] not in err.message


def test_wrong_key_and_wrong_workspace(world: Any, server: Any) -> None:
    from pydantic import SecretStr

    base = access_for(world, server, "tenant-01")
    bad_key = base.model_copy(update={"admin_key": SecretStr("sk-admin-wrongwrongwrong")})
    with pytest.raises(AuthenticationError):
        list(AdminClient(bad_key, scaled_budget(), options=fast_options()).users())

    other = access_for(world, server, "tenant-02")
    foreign = base.model_copy(update={"workspace_id": other.workspace_id})
    with pytest.raises(PermissionDeniedError) as info:
        list(ComplianceClient(foreign, scaled_budget(), options=fast_options()).users())
    assert info.value.status == 403 and "compliance" in info.value.hint

    unknown = base.model_copy(update={"workspace_id": "00000000-0000-4000-8000-000000000000"})
    with pytest.raises(NotFoundError) as info2:
        list(ComplianceClient(unknown, scaled_budget(), options=fast_options()).users())
    assert info2.value.status == 404


def test_workspace_gone(world: Any, server: Any) -> None:
    fault(world, "tenant-03", "workspace_gone", api="compliance")
    with pytest.raises(NotFoundError) as info:
        list(compliance(world, server, "tenant-03").conversations(0))
    assert info.value.kind == "not_found" and "workspace id" in info.value.hint
    assert (info.value.remedy, info.value.api) == ("check_workspace", "compliance")


def test_options_default_page_limits_are_accepted(world: Any, server: Any) -> None:
    # the largest documented page sizes must not be rejected by the server
    client = compliance(world, server, "tenant-01", page_limits=ClientOptions().page_limits)
    assert len(list(client.conversations(0))) == len(world.tenant("tenant-01").conversations)
    assert len(list(client.users())) == len(world.tenant("tenant-01").workspace_users)
    assert len(list(client.gpts())) == len(world.tenant("tenant-01").gpts)
    admin_client = admin(world, server, "tenant-01", page_limits=ClientOptions().page_limits)
    assert len(list(admin_client.users())) == len(world.tenant("tenant-01").users)


# ---------------------------------------------------------------- more file-route faults


def test_file_route_429_and_storage_5xx_are_retried(world: Any, server: Any) -> None:
    f = _files(world, "tenant-01", "gpt")[0]
    fault(world, "tenant-01", "rate_limit_storm", api="files", count=1, retry_after=0.05)
    fault(world, "tenant-01", "server_error", api="blob", count=2, status=503)
    events: list[CallEvent] = []
    client = ComplianceClient(
        access_for(world, server, "tenant-01"),
        scaled_budget(),
        options=fast_options(),
        observer=events.append,
    )
    dest = io.BytesIO()
    result = client.download_file("gpt", f.id, dest)
    assert dest.getvalue() == world.file_bytes(world.tenant("tenant-01"), f)
    assert result.size == len(dest.getvalue())
    assert [e.status for e in events] == [429, 307]
    counters = world.stats("tenant-01")["counters"]
    assert counters.get("fault:server_error", 0) >= 2
    assert counters.get("blob_auth_rejected", 0) == 0


def test_storage_down_is_an_upstream_error(world: Any, server: Any) -> None:
    f = _files(world, "tenant-01", "project")[0]
    fault(world, "tenant-01", "server_error", api="blob", status=500)
    with pytest.raises(UpstreamError) as info:
        compliance(world, server, "tenant-01", max_attempts=2).download_file(
            "project", f.id, io.BytesIO()
        )
    assert info.value.status == 500 and "storage" in info.value.hint


@pytest.mark.parametrize("status", [403, 404])
def test_audit_log_refused_degrades_to_no_login_signal(
    world: Any, server: Any, status: int
) -> None:
    # Audit logging off or not readable by the key: no login signal, and no failure.
    fault(
        world,
        "tenant-01",
        "server_error",
        api="admin",
        path_contains="/organization/audit_logs",
        status=status,
    )
    fired_before = world.stats("tenant-01")["counters"].get("fault:server_error", 0)
    client = admin(world, server, "tenant-01")
    signal = client.latest_logins()
    assert signal.available is False and signal.logins == {}
    kind = {403: "permission_error", 404: "not_found"}[status]
    assert signal.reason is not None and signal.reason.startswith(kind)
    assert world.tenant("tenant-01").admin_key not in signal.reason
    # not retried: one refused request
    assert world.stats("tenant-01")["counters"]["fault:server_error"] == fired_before + 1
    # every other Admin route of the same tenant still answers
    assert len(list(client.users())) == len(world.tenant("tenant-01").users)


def test_audit_log_401_is_still_a_credential_error(world: Any, server: Any) -> None:
    fault(world, "tenant-01", "revoked_key", api="admin", path_contains="/audit_logs")
    with pytest.raises(AuthenticationError):
        admin(world, server, "tenant-01").latest_logins()


def test_download_timeout_bounds_a_slow_storage_host(world: Any, server: Any) -> None:
    # The storage host takes 2 s to answer; the whole download may take 0.5 s (read timeout
    # 10 s would not stop it): the download fails as an upstream error, it does not hang.
    f = _files(world, "tenant-01", "gpt")[0]
    fault(world, "tenant-01", "slow", api="blob", delay=2.0)
    dest = io.BytesIO()
    client = compliance(world, server, "tenant-01", download_timeout=0.5, read_timeout=10.0)
    with pytest.raises(UpstreamError) as info:
        client.download_file("gpt", f.id, dest)
    assert "storage" in info.value.hint and dest.getvalue() == b""
    assert world.stats("tenant-01")["counters"].get("blob_auth_rejected", 0) == 0
