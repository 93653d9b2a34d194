"""Every simulator response checked against the reference shapes (tests/.../shapes.py)."""

from __future__ import annotations

import pytest

from simulator.server import RunningSimulator
from simulator.world import World
from tests.integration.simulator import shapes
from tests.integration.simulator.conftest import admin_api, compliance_api

SLUGS = ["tenant-01", "tenant-02", "tenant-03", "tenant-04"]


def ok(errors: list[str]) -> None:
    assert errors == [], "\n".join(errors[:20])


@pytest.mark.parametrize("slug", SLUGS)
def test_admin_api_shapes(sim: RunningSimulator, world: World, slug: str) -> None:
    api = admin_api(sim, world, slug)
    flt = world.tenant(slug).drift.admin_timestamps == "float"
    users = api.json("/organization/users", {"limit": 100})
    ok(shapes.check_list(users, shapes.USER, admin=True, admin_float=flt))
    assert any("api_key_last_used_at" in u for u in users["data"])
    assert any("api_key_last_used_at" not in u for u in users["data"])
    ok(
        shapes.ShapeChecker(flt).check(
            api.json(f"/organization/users/{users['data'][0]['id']}"), shapes.USER
        )
    )

    invites = api.json("/organization/invites", {"limit": 100})
    ok(shapes.check_list(invites, shapes.INVITE, admin=True, admin_float=flt))
    for inv in invites["data"]:
        assert "created_at" in inv or "invited_at" in inv
    assert {i["status"] for i in invites["data"]} == {"pending", "accepted", "expired"}

    keys = api.json("/organization/admin_api_keys", {"limit": 100})
    ok(shapes.check_list(keys, shapes.ADMIN_KEY, admin=True, admin_float=flt))
    assert {k["owner"]["type"] for k in keys["data"]} == {"user", "service_account"}
    ok(
        shapes.ShapeChecker(flt).check(
            api.json(f"/organization/admin_api_keys/{keys['data'][0]['id']}"), shapes.ADMIN_KEY
        )
    )

    projects = api.json("/organization/projects", {"limit": 100, "include_archived": "true"})
    ok(shapes.check_list(projects, shapes.PROJECT, admin=True, admin_float=flt))
    owners: set[str] = set()
    for p in projects["data"]:
        pkeys = api.json(
            f"/organization/projects/{p['id']}/api_keys",
            {"limit": 100, "owner_project_access": "any"},
        )
        ok(shapes.check_list(pkeys, shapes.PROJECT_KEY, admin=True, admin_float=flt))
        owners |= {k["owner"]["type"] for k in pkeys["data"]}
        for k in pkeys["data"]:
            assert k["owner"]["type"] in k["owner"]  # the owner detail sits under its type
        if p["status"] == "active":
            ok(
                shapes.check_list(
                    api.json(f"/organization/projects/{p['id']}/users"),
                    shapes.PROJECT_USER,
                    admin=True,
                    admin_float=flt,
                )
            )
            ok(
                shapes.check_list(
                    api.json(f"/organization/projects/{p['id']}/service_accounts"),
                    shapes.SERVICE_ACCOUNT,
                    admin=True,
                    admin_float=flt,
                )
            )
    assert owners == {"user", "service_account"}

    logs = api.json("/organization/audit_logs", {"limit": 100})
    ok(shapes.check_list(logs, shapes.AUDIT_LOG, admin=True, admin_float=flt))
    for ev in logs["data"]:
        assert ev["type"] in ev  # details under a key named like the event type
    api.close()


@pytest.mark.parametrize("slug", SLUGS)
@pytest.mark.parametrize("file_format", ["url", "id"])
def test_compliance_api_shapes(
    sim: RunningSimulator, world: World, slug: str, file_format: str
) -> None:
    api = compliance_api(sim, world, slug)
    ok(shapes.check_list(api.json("/users", {"limit": 200}), shapes.WS_USER, admin=False))
    gpts = api.walk("/gpts", {"limit": 100, "file_format": file_format})
    body = {"object": "list", "data": gpts, "last_id": gpts[-1]["id"], "has_more": False}
    ok(shapes.check_list(body, shapes.gpt("gpt", file_format), admin=False))
    tool_types = set()
    visibilities = set()
    for g in gpts:
        lc = g["latest_config"]
        cfgs = lc["data"] if isinstance(lc, dict) else lc
        tool_types |= {t["type"] for t in cfgs[0]["tools"]["data"]}
        visibilities.add(g["sharing"]["visibility"])
    assert tool_types == {
        "code_interpreter",
        "browser",
        "dall-e",
        "memory",
        "custom_action",
        "custom-action",
        "action",
    }
    assert len(visibilities) == 5
    gid = gpts[0]["id"]
    ok(
        shapes.ShapeChecker().check(
            api.json(f"/gpts/{gid}", {"file_format": file_format}), shapes.gpt("gpt", file_format)
        )
    )
    ok(
        shapes.check_list(
            api.json(f"/gpts/{gid}/configs", {"file_format": file_format}),
            shapes.config("gpt", file_format),
            admin=False,
        )
    )
    ok(
        shapes.check_list(
            api.json(f"/gpts/{gid}/shared_users"), shapes.shared_user("gpt"), admin=False
        )
    )

    projects = api.json("/projects", {"limit": 100, "file_format": file_format})
    ok(shapes.check_list(projects, shapes.gpt("project", file_format), admin=False))
    pid = projects["data"][0]["id"]
    ok(shapes.ShapeChecker().check(api.json(f"/projects/{pid}"), shapes.gpt("project", "url")))
    ok(
        shapes.check_list(
            api.json(f"/projects/{pid}/configs"), shapes.config("project", "url"), admin=False
        )
    )
    ok(
        shapes.check_list(
            api.json(f"/projects/{pid}/shared_users"), shapes.shared_user("project"), admin=False
        )
    )

    convs = api.json("/conversations", {"since_timestamp": 0, "file_format": file_format})
    ok(shapes.check_list(convs, shapes.conversation(file_format), admin=False))
    assert any(m["files"]["data"] for c in convs["data"] for m in c["messages"]["data"])
    ok(shapes.check_list(api.json("/memories"), shapes.MEMORY, admin=False))
    api.close()


def test_drift_variants_are_served(sim: RunningSimulator, world: World) -> None:
    t2 = compliance_api(sim, world, "tenant-02").json("/gpts", {"limit": 5})
    t3 = compliance_api(sim, world, "tenant-03").json("/gpts", {"limit": 5})
    assert t2["data"][0]["sharing"]["recipients"]["object"] == "list"
    assert isinstance(t3["data"][0]["latest_config"], list)
    assert "x_sim_future_field" in t2["data"][0]
    inv2 = admin_api(sim, world, "tenant-02").json("/organization/invites")["data"][0]
    inv3 = admin_api(sim, world, "tenant-03").json("/organization/invites")["data"][0]
    assert "invited_at" not in inv2 and "created_at" in inv2
    assert "created_at" not in inv3 and "invited_at" in inv3
    u4 = admin_api(sim, world, "tenant-04").json("/organization/users")["data"][0]
    assert isinstance(u4["added_at"], float)
    ok(shapes.ShapeChecker(admin_float=False).check(u4, shapes.USER)[:0])  # float drift is opt-in
    assert shapes.ShapeChecker(admin_float=False).check(u4, shapes.USER)


def test_error_bodies(sim: RunningSimulator, world: World) -> None:
    api = admin_api(sim, world, "tenant-01")
    for path, params in [
        ("/organization/users", {"limit": 0}),
        ("/organization/users/user-nope", None),
        ("/organization/nothing", None),
    ]:
        r = api.get(path, params)
        assert r.status_code in (400, 404)
        ok(shapes.ShapeChecker(allow_unknown=False).check(r.json(), shapes.ERROR_BODY))


def test_the_checker_itself_rejects_off_reference_objects() -> None:
    good = {
        "object": "organization.invite",
        "id": "invite-1",
        "email": "a@b.c",
        "role": "reader",
        "status": "pending",
        "created_at": 1_700_000_000,
        "expires_at": None,
        "accepted_at": None,
        "projects": [],
    }
    assert shapes.ShapeChecker().check(good, shapes.INVITE) == []
    assert shapes.ShapeChecker().check({**good, "role": "admin"}, shapes.INVITE)
    assert shapes.ShapeChecker().check({**good, "created_at": "yesterday"}, shapes.INVITE)
    missing = dict(good)
    del missing["projects"]
    assert shapes.ShapeChecker().check(missing, shapes.INVITE)
    assert shapes.check_list(
        {
            "object": "list",
            "data": [good],
            "last_id": "invite-1",
            "has_more": False,
            "first_id": "invite-1",
        },
        shapes.INVITE,
        admin=False,
    )
    assert shapes.ShapeChecker().check({"error": {"message": "x", "type": "t"}}, shapes.ERROR_BODY)
