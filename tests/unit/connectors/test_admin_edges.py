"""AdminClient on the documented edges: a refused `limit`, audit logging off, null flags,
and payloads built from the official SDK's own models."""

from __future__ import annotations

import dataclasses

import httpx
import pytest
from openai.types.admin.organization.admin_api_key import AdminAPIKey
from openai.types.admin.organization.audit_log_list_response import AuditLogListResponse
from openai.types.admin.organization.invite import Invite
from openai.types.admin.organization.organization_user import OrganizationUser
from openai.types.admin.organization.project import Project
from openai.types.admin.organization.projects.project_api_key import ProjectAPIKey
from openai.types.admin.organization.projects.project_service_account import (
    ProjectServiceAccount,
)
from openai.types.admin.organization.projects.project_user import ProjectUser

from connectors.access import ClientOptions
from connectors.admin import AdminClient
from connectors.compliance import ComplianceClient
from connectors.errors import AuthenticationError, UpstreamError
from tests.unit.connectors.conftest import FakeApi, Handler, page

USERS = "/organization/users"


def admin(api: FakeApi, access, budget, options, sleeps) -> AdminClient:
    return AdminClient(access, budget, http=api.client(), options=options, sleep=sleeps.append)


def refusing_limit(body: dict, *, status: int = 422, fastapi: bool = False) -> Handler:
    """Serve ``body`` only to requests without ``limit``; refuse the others like an API
    that does not take a page size."""

    def handler(request: httpx.Request) -> httpx.Response:
        if "limit" in request.url.params:
            if fastapi:
                detail = [{"loc": ["query", "limit"], "msg": "extra", "type": "extra_forbidden"}]
                return httpx.Response(status, json={"detail": detail})
            err = {"message": "bad limit", "type": "invalid_request_error", "param": "limit"}
            return httpx.Response(status, json={"error": {**err, "code": None}})
        return httpx.Response(200, json=body)

    return handler


USER = {"object": "organization.user", "id": "user-1", "added_at": 1, "role": "reader"}


@pytest.mark.parametrize("status", [400, 422])
def test_a_refused_limit_is_dropped_once_and_remembered(
    access, budget, options, sleeps, status: int
) -> None:
    remembered: list[str] = []
    opts = dataclasses.replace(options, on_limit_rejected=remembered.append)
    api = FakeApi({USERS: refusing_limit(page([USER], has_more=False), status=status)})
    got = list(admin(api, access, budget, opts, sleeps).users())
    assert [u.id for u in got] == ["user-1"]
    assert [("limit" in r.url.params) for r in api.requests] == [True, False]
    assert remembered == [USERS]
    # Next scan: the tenant's memory lists the route without limit from the start.
    again = FakeApi({USERS: refusing_limit(page([USER], has_more=False))})
    remembering = dataclasses.replace(options, limitless_routes=frozenset(remembered))
    assert [u.id for u in admin(again, access, budget, remembering, sleeps).users()] == ["user-1"]
    assert [("limit" in r.url.params) for r in again.requests] == [False]


def test_a_422_loc_naming_limit_on_compliance_gpts_is_dropped(
    access, budget, options, sleeps
) -> None:
    gpt = {"object": "compliance.workspace.gpt", "id": "g-1", "latest_config": {"data": []}}
    path = f"/compliance/workspaces/{access.workspace_id}/gpts"
    api = FakeApi({path: refusing_limit(page([gpt], has_more=False), fastapi=True)})
    client = ComplianceClient(
        access, budget, http=api.client(), options=options, sleep=sleeps.append
    )
    assert [g.id for g in client.gpts()] == ["g-1"]
    assert len(api.requests) == 2


def test_a_400_about_another_parameter_is_not_retried(access, budget, options, sleeps) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        err = {"message": "bad after", "type": "invalid_request_error", "param": "after"}
        return httpx.Response(400, json={"error": {**err, "code": None}})

    api = FakeApi({USERS: handler})
    with pytest.raises(UpstreamError) as info:
        list(admin(api, access, budget, options, sleeps).users())
    assert info.value.param == "after" and len(api.requests) == 1


def audit(status: int, body: dict | None = None) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body or {"error": {"message": "no", "type": "x"}})

    return handler


@pytest.mark.parametrize("status", [400, 403, 404, 422])
def test_logins_unavailable_on_any_4xx_that_is_not_the_key(
    access, budget, options, sleeps, status: int
) -> None:
    api = FakeApi({"/organization/audit_logs": audit(status)})
    signal = admin(api, access, budget, options, sleeps).latest_logins(since=1_700_000_000)
    assert not signal.available and signal.status == status
    assert api.requests[0].url.params["effective_at[gte]"] == "1700000000"


@pytest.mark.parametrize(("status", "error"), [(401, AuthenticationError), (500, UpstreamError)])
def test_a_bad_key_or_a_server_failure_is_not_unavailability(
    access, budget, options, sleeps, status: int, error: type[Exception]
) -> None:
    api = FakeApi({"/organization/audit_logs": audit(status)})
    with pytest.raises(error):
        admin(api, access, budget, options, sleeps).latest_logins()


def test_null_is_service_account_does_not_fail_the_listing(access, budget, options, sleeps) -> None:
    users = [{**USER, "is_service_account": None}, {**USER, "id": "u2", "is_service_account": True}]
    api = FakeApi({USERS: lambda r: httpx.Response(200, json=page(users, has_more=False))})
    got = list(admin(api, access, budget, options, sleeps).users())
    assert [u.is_service_account for u in got] == [None, True]


def test_members_and_service_accounts_of_an_archived_project_are_skipped(
    access, budget, options, sleeps
) -> None:
    archived = audit(400, {"error": {"message": "archived", "type": "x", "param": "project_id"}})
    api = FakeApi(
        {
            "/organization/projects/p1/users": archived,
            "/organization/projects/p1/service_accounts": archived,
        }
    )
    client = admin(api, access, budget, options, sleeps)
    assert list(client.project_members("p1")) == []
    assert list(client.service_accounts("p1")) == []


# --------------------------------------------------------------------------- SDK-built payloads

T = 1_700_000_000


def sdk_payloads() -> dict[str, list[dict]]:
    """Objects built with the official SDK's models, dumped as the API would send them."""
    user = OrganizationUser(
        id="user-1",
        added_at=T,
        object="organization.user",
        email="a@x.io",
        name="A",
        role="owner",
        is_service_account=None,
        api_key_last_used_at=T + 5,
    )
    invite = Invite(
        id="invite-1",
        created_at=T,
        email="b@x.io",
        object="organization.invite",
        projects=[{"id": "proj_1", "role": "owner"}],
        role="reader",
        status="pending",
        expires_at=None,
    )
    admin_key = AdminAPIKey(
        id="key_a",
        created_at=T,
        object="organization.admin_api_key",
        owner={"id": "user-1", "type": "user", "object": "organization.user", "role": "owner"},
        redacted_value="sk-admin...abcd",
        last_used_at=None,
    )
    project = Project(id="proj_1", created_at=T, object="organization.project", status="active")
    project_key = ProjectAPIKey(
        id="key_p",
        created_at=T,
        name="svc",
        object="organization.project.api_key",
        owner={
            "type": "user",
            "user": {"id": "user-1", "created_at": T, "email": "a@x.io", "name": "A", "role": "m"},
        },
        owner_project_access="inactive",
        redacted_value="sk-proj...wxyz",
    )
    account = ProjectServiceAccount(
        id="svc_acct_1",
        created_at=T,
        name="bot",
        object="organization.project.service_account",
        role="member",
    )
    member = ProjectUser(id="user-1", added_at=T, object="organization.project.user", role="owner")
    login = AuditLogListResponse.model_validate(
        {
            "id": "audit_log-1",
            "effective_at": T + 9,
            "type": "login.succeeded",
            "actor": {"type": "session", "session": {"user": {"id": "user-1", "email": "a@x.io"}}},
        }
    )

    def dump(*models: object) -> list[dict]:
        return [m.model_dump(mode="json", by_alias=True) for m in models]  # type: ignore[attr-defined]

    return {
        "/organization/users": dump(user),
        "/organization/invites": dump(invite),
        "/organization/admin_api_keys": dump(admin_key),
        "/organization/projects": dump(project),
        "/organization/projects/proj_1/api_keys": dump(project_key),
        "/organization/projects/proj_1/service_accounts": dump(account),
        "/organization/projects/proj_1/users": dump(member),
        "/organization/audit_logs": dump(login),
    }


def test_the_client_parses_payloads_built_from_the_sdk_models(
    access, budget, options, sleeps
) -> None:
    payloads = sdk_payloads()

    def serve(request: httpx.Request) -> httpx.Response:
        items = payloads[request.url.path.removeprefix("/v1")]
        return httpx.Response(200, json=page(items, has_more=False))

    api = FakeApi(dict.fromkeys(payloads, serve))
    client = admin(api, access, budget, ClientOptions(), sleeps)
    [user] = client.users()
    assert (user.id, user.email, user.is_service_account, user.api_key_last_used_at) == (
        "user-1",
        "a@x.io",
        None,
        T + 5,
    )
    [invite] = client.invites()
    assert invite.sent_at == T and invite.projects[0].role == "owner"
    [key] = client.admin_api_keys()
    assert key.owner is not None and key.owner.id == "user-1" and key.owner.email is None
    [project] = client.projects()
    [pkey] = client.project_api_keys(project)
    assert pkey.owner_project_access == "inactive" and pkey.project_id == "proj_1"
    assert pkey.owner is not None and pkey.owner.principal is not None
    assert pkey.owner.principal.email == "a@x.io"
    [account] = client.service_accounts("proj_1")
    assert (account.role, account.project_id) == ("member", "proj_1")
    [member] = client.project_members("proj_1")
    assert (member.id, member.role, member.project_id) == ("user-1", "owner", "proj_1")
    signal = client.latest_logins()
    assert signal.available and signal.logins == {"user-1": float(T + 9)}
