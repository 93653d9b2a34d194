"""Every list call asks for its endpoint's largest page size, as the APIs document it.

Fewer round trips means fewer draws from the tenant's rate budget: with 50 list calls a minute
on the Compliance API, a scan that used the default page size (20 for GPTs) would take five
times as long. The sizes are written out here from the reference, not read from the code.
"""

from __future__ import annotations

import httpx
from pydantic import SecretStr

from connectors.access import ClientOptions, TenantAccess
from connectors.admin import AdminClient
from connectors.compliance import ComplianceClient
from tests.unit.connectors.conftest import WORKSPACE, FakeApi, RecordingBudget, page

P = f"/compliance/workspaces/{WORKSPACE}"

# path -> the limit the client must send: Admin lists take 1..100; Compliance users default
# to 200, GPTs and projects document only a default of 20; conversations allow 500, but one
# conversation can be megabytes, so the client asks for 100 (and fewer on a byte overflow).
EXPECTED = {
    "/organization/users": 100,
    "/organization/invites": 100,
    "/organization/admin_api_keys": 100,
    "/organization/projects": 100,
    "/organization/projects/proj_1/api_keys": 100,
    "/organization/projects/proj_1/service_accounts": 100,
    "/organization/audit_logs": 100,
    f"{P}/users": 200,
    f"{P}/gpts": 100,
    f"{P}/projects": 100,
    f"{P}/conversations": 100,
}


def _empty(request: httpx.Request) -> httpx.Response:
    if request.url.path.endswith("/organization/projects"):
        project = {
            "object": "organization.project",
            "id": "proj_1",
            "name": "p",
            "created_at": 1,
            "status": "active",
        }
        return httpx.Response(200, json=page([project], has_more=False))
    return httpx.Response(200, json=page([], has_more=False))


def test_every_list_route_sends_its_largest_page_size() -> None:
    api = FakeApi(dict.fromkeys(EXPECTED, _empty))
    access = TenantAccess(
        tenant_key="acme",
        workspace_id=WORKSPACE,
        admin_api_base="https://admin.test/v1",
        admin_key=SecretStr("sk-admin-test"),
        compliance_api_base="https://compliance.test/v1",
        compliance_key=SecretStr("sk-proj-test"),
    )
    options = ClientOptions()  # the shipped defaults
    admin = AdminClient(access, RecordingBudget(), http=api.client(), options=options)
    comp = ComplianceClient(access, RecordingBudget(), http=api.client(), options=options)
    list(admin.users())
    list(admin.invites())
    list(admin.admin_api_keys())
    list(admin.all_project_api_keys())
    list(admin.service_accounts("proj_1"))
    assert admin.latest_logins().available
    list(comp.users())
    list(comp.gpts())
    list(comp.projects())
    list(comp.conversations(0))

    sent = {r.url.path.removeprefix("/v1"): int(r.url.params["limit"]) for r in api.requests}
    assert sent == EXPECTED
