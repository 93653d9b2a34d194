"""AdminClient over MockTransport: routes, params, drift parsing, login signal."""

from __future__ import annotations

import httpx
import pytest

from connectors.access import TenantAccess
from connectors.admin import AdminClient
from connectors.errors import AuthenticationError, MalformedResponseError, NotFoundError
from tests.unit.connectors.conftest import FakeApi, page, paged


def client(api: FakeApi, access, budget, options, sleeps) -> AdminClient:
    return AdminClient(access, budget, http=api.client(), options=options, sleep=sleeps.append)


def test_users_parse_optional_fields(access, budget, options, sleeps) -> None:
    users = [
        {
            "object": "organization.user",
            "id": "user-1",
            "name": "A",
            "email": "a@x.io",
            "role": "owner",
            "added_at": 1700000000,
            "api_key_last_used_at": 1710000000,
            "projects": {
                "object": "list",
                "data": [{"id": "proj_1", "name": "p", "role": "owner"}],
            },
            "brand_new_field": {"nested": True},
        },
        {"object": "organization.user", "id": "user-2", "role": "reader", "added_at": 1.7e9},
    ]
    api = FakeApi(
        {
            "/organization/users": paged(
                [page(users[:1], has_more=True), page(users[1:], has_more=False)]
            )
        }
    )
    got = list(client(api, access, budget, options, sleeps).users())
    assert [u.id for u in got] == ["user-1", "user-2"]
    assert got[0].api_key_last_used_at == 1710000000
    assert got[1].api_key_last_used_at is None and got[1].added_at == 1.7e9
    assert api.requests[0].url.params["limit"] == "100"
    assert budget.acquired == [("acme", "admin"), ("acme", "admin")]


def test_invites_accept_created_at_and_invited_at(access, budget, options, sleeps) -> None:
    invites = [
        {
            "id": "invite-1",
            "email": "a@x.io",
            "role": "owner",
            "status": "pending",
            "created_at": 100,
            "expires_at": None,
            "projects": [{"id": "proj_1", "role": "owner"}],
        },
        {
            "id": "invite-2",
            "email": "b@x.io",
            "role": "reader",
            "status": "expired",
            "invited_at": 200,
            "expires_at": 300,
        },
        {
            "id": "invite-3",
            "email": "c@x.io",
            "role": "reader",
            "status": "accepted",
            "created_at": 400,
            "invited_at": 400,
            "accepted_at": 500,
        },
    ]
    api = FakeApi({"/organization/invites": paged([page(invites, has_more=False)])})
    got = list(client(api, access, budget, options, sleeps).invites())
    assert [i.sent_at for i in got] == [100, 200, 400]
    assert got[0].projects[0].role == "owner"
    assert got[1].projects == []


def test_admin_api_keys_page_by_last_item_and_parse_both_owner_shapes(
    access, budget, options, sleeps
) -> None:
    keys = [
        {
            "object": "organization.admin_api_key",
            "id": "key_a",
            "name": "ci",
            "redacted_value": "sk-admin...abc",
            "created_at": 1,
            "last_used_at": None,
            "owner": {
                "type": "user",
                "object": "organization.user",
                "id": "user-1",
                "name": "A",
                "created_at": 1,
                "role": "owner",
            },
        },
        {
            "object": "organization.admin_api_key",
            "id": "key_b",
            "created_at": 2,
            "last_used_at": 5,
            "expires_at": 99,
            "owner": {
                "type": "service_account",
                "object": "organization.service_account",
                "id": "svc_acct_1",
                "name": "bot",
            },
        },
    ]
    pages = [
        page(keys[:1], has_more=True, last_id=False),
        page(keys[1:], has_more=False, last_id=False),
    ]
    api = FakeApi({"/organization/admin_api_keys": paged(pages)})
    got = list(client(api, access, budget, options, sleeps).admin_api_keys())
    assert [k.id for k in got] == ["key_a", "key_b"]
    assert [k.owner.type if k.owner else None for k in got] == ["user", "service_account"]
    assert got[0].last_used_at is None and got[1].expires_at == 99
    assert api.requests[0].url.params["order"] == "asc"
    assert api.requests[1].url.params["after"] == "key_a"


def test_project_keys_of_every_project_including_archived(access, budget, options, sleeps):
    projects = [
        {"id": "proj_a", "name": "Live", "created_at": 1, "status": "active"},
        {"id": "proj_b", "name": "Old", "created_at": 2, "status": "archived", "archived_at": 9},
    ]
    key_user = {
        "id": "key_1",
        "name": "k1",
        "created_at": 10,
        "last_used_at": None,
        "owner": {
            "type": "user",
            "user": {
                "id": "user-1",
                "email": "a@x.io",
                "added_at": 3,
                "object": "organization.project.user",
            },
        },
    }
    key_sa = {
        "id": "key_2",
        "name": "k2",
        "created_at": 11,
        "owner_project_access": "inactive",
        "owner": {
            "type": "service_account",
            "service_account": {"id": "svc_acct_1", "name": "bot", "role": "member"},
        },
    }
    api = FakeApi(
        {
            "/organization/projects": paged([page(projects, has_more=False)]),
            "/organization/projects/proj_a/api_keys": paged([page([key_user], has_more=False)]),
            "/organization/projects/proj_b/api_keys": paged([page([key_sa], has_more=False)]),
        }
    )
    got = list(client(api, access, budget, options, sleeps).all_project_api_keys())
    assert [(k.id, k.project_id, k.project_name, k.project_archived) for k in got] == [
        ("key_1", "proj_a", "Live", False),
        ("key_2", "proj_b", "Old", True),
    ]
    principals = [k.owner.principal if k.owner else None for k in got]
    assert principals[0] is not None and principals[0].email == "a@x.io"
    assert principals[1] is not None and principals[1].name == "bot"
    assert api.requests[0].url.params["include_archived"] == "true"
    for request in api.requests[1:]:
        assert request.url.params["owner_project_access"] == "any"


def test_service_accounts_of_archived_project_yield_nothing(access, budget, options, sleeps):
    def archived(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            400, json={"error": {"message": "Project is archived", "type": "invalid_request_error"}}
        )

    sa = {
        "object": "organization.project.service_account",
        "id": "svc_acct_1",
        "name": "bot",
        "role": "member",
        "created_at": 1,
    }
    api = FakeApi(
        {
            "/organization/projects/proj_b/service_accounts": archived,
            "/organization/projects/proj_a/service_accounts": paged([page([sa], has_more=False)]),
        }
    )
    c = client(api, access, budget, options, sleeps)
    assert list(c.service_accounts("proj_b")) == []
    got = list(c.service_accounts("proj_a"))
    assert got[0].id == "svc_acct_1" and got[0].project_id == "proj_a"


def _login(i: int, user: str | None, at: int, actor_type: str = "session") -> dict:
    actor: dict = {"type": actor_type}
    if actor_type == "session":
        actor["session"] = {"user": {"id": user, "email": f"{user}@x.io"}, "ip_address": "1.2.3.4"}
    else:
        actor["api_key"] = {"id": "key_x", "type": "user", "user": {"id": user}}
    return {"id": f"audit_log-{i}", "type": "login.succeeded", "effective_at": at, "actor": actor}


def test_latest_logins_keeps_newest_per_session_user(access, budget, options, sleeps) -> None:
    logs = [
        _login(1, "user-1", 100),
        _login(2, "user-2", 150),
        _login(3, "user-1", 300),
        _login(4, "user-1", 200),
        _login(5, "user-3", 999, actor_type="api_key"),
    ]
    api = FakeApi(
        {
            "/organization/audit_logs": paged(
                [page(logs[:2], has_more=True), page(logs[2:], has_more=False)]
            )
        }
    )
    signal = client(api, access, budget, options, sleeps).latest_logins(since=50.7)
    assert signal.available and signal.events == 5
    assert signal.logins == {"user-1": 300.0, "user-2": 150.0}
    assert [e.user_id for e in signal.entries] == ["user-1", "user-2"]
    params = api.requests[0].url.params
    assert params.get_list("event_types[]") == ["login.succeeded"]
    assert params["effective_at[gte]"] == "50"
    assert {g for _, g in budget.acquired} == {"audit"}


@pytest.mark.parametrize("status", [403, 404])
def test_audit_log_403_404_degrade(access, budget, options, sleeps, status) -> None:
    def denied(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"error": {"message": "Audit logging is disabled"}})

    api = FakeApi({"/organization/audit_logs": denied})
    signal = client(api, access, budget, options, sleeps).latest_logins()
    assert not signal.available and signal.logins == {}
    assert "Audit logging is disabled" in (signal.reason or "")


def test_audit_log_401_still_fails(access, budget, options, sleeps) -> None:
    api = FakeApi({"/organization/audit_logs": lambda r: httpx.Response(401, json={})})
    with pytest.raises(AuthenticationError):
        client(api, access, budget, options, sleeps).latest_logins()


def test_invalid_item_is_malformed_without_values(access, budget, options, sleeps) -> None:
    bad = [{"id": None, "email": "secret-person@x.io"}]
    api = FakeApi({"/organization/users": paged([page(bad, has_more=False, last_id="x")])})
    with pytest.raises(MalformedResponseError) as info:
        list(client(api, access, budget, options, sleeps).users())
    assert "id" in info.value.message
    assert "secret-person" not in str(info.value)


def test_missing_admin_key_is_a_credential_error(budget) -> None:
    with pytest.raises(AuthenticationError) as info:
        AdminClient(TenantAccess(tenant_key="acme"), budget)
    assert (info.value.remedy, info.value.api) == ("set_key", "admin")
    assert "Admin API key" in info.value.hint


def test_ids_are_quoted_in_paths(access, budget, options, sleeps) -> None:
    api = FakeApi()
    c = client(api, access, budget, options, sleeps)
    with pytest.raises(NotFoundError):
        list(c.project_api_keys("proj/../x?y"))
    assert api.requests[0].url.raw_path.startswith(b"/v1/organization/projects/proj%2F..%2Fx%3Fy/")
