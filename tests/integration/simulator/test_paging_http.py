"""Paging and query parameters over HTTP: limits, exclusive cursors, filters, variable pages."""

from __future__ import annotations

from simulator.server import RunningSimulator
from simulator.world import World
from tests.integration.simulator.conftest import admin_api, compliance_api


def test_admin_users_walk_many_pages_in_order(sim: RunningSimulator, world: World) -> None:
    api = admin_api(sim, world, "tenant-01")
    t = world.tenant("tenant-01")
    seen: list[str] = []
    params: dict[str, object] = {"limit": 3}
    pages = 0
    while True:
        body = api.json("/organization/users", params)
        pages += 1
        assert len(body["data"]) <= 3
        assert (
            body["first_id"] == body["data"][0]["id"] and body["last_id"] == body["data"][-1]["id"]
        )
        seen += [u["id"] for u in body["data"]]
        if not body["has_more"]:
            break
        assert len(body["data"]) == 3  # Admin pages are full while more remain
        params["after"] = body["last_id"]
    assert pages > 10
    assert seen == [u.id for u in t.users.ordered()]
    assert len(set(seen)) == len(seen)


def test_admin_limit_bounds_and_cursor_errors(sim: RunningSimulator, world: World) -> None:
    api = admin_api(sim, world, "tenant-01")
    assert len(api.json("/organization/users")["data"]) == 20  # default
    assert len(api.json("/organization/users", {"limit": 100})["data"]) == 51
    for bad in (0, 101, "x"):
        r = api.get("/organization/users", {"limit": bad})
        assert r.status_code == 400 and r.json()["error"]["param"] == "limit"
    r = api.get("/organization/users", {"after": "user-does-not-exist"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "after"
    last = api.json("/organization/users", {"limit": 100})["data"][-1]["id"]
    end = api.json("/organization/users", {"after": last})
    assert end == {
        "object": "list",
        "data": [],
        "first_id": None,
        "last_id": None,
        "has_more": False,
    }


def test_cursor_of_a_deleted_item_still_pages(sim: RunningSimulator, world: World) -> None:
    api = admin_api(sim, world, "tenant-02")
    t = world.tenant("tenant-02")
    first = api.json("/organization/invites", {"limit": 5})
    cursor = first["last_id"]
    expected_next = [i.id for i in t.invites.ordered()][5:8]
    t.delete_invite(cursor)
    nxt = api.json("/organization/invites", {"limit": 3, "after": cursor})
    assert [i["id"] for i in nxt["data"]] == expected_next


def test_admin_keys_order_desc(sim: RunningSimulator, world: World) -> None:
    api = admin_api(sim, world, "tenant-01")
    asc = [k["id"] for k in api.walk("/organization/admin_api_keys", {"limit": 4})]
    desc = [
        k["id"] for k in api.walk("/organization/admin_api_keys", {"limit": 4, "order": "desc"})
    ]
    assert desc == asc[::-1] and len(asc) > 8
    assert api.get("/organization/admin_api_keys", {"order": "sideways"}).status_code == 400


def test_projects_archived_and_project_key_visibility(sim: RunningSimulator, world: World) -> None:
    api = admin_api(sim, world, "tenant-01")
    t = world.tenant("tenant-01")
    visible = {p["id"] for p in api.walk("/organization/projects")}
    everything = {p["id"] for p in api.walk("/organization/projects", {"include_archived": "true"})}
    archived = {p.id for p in t.projects if p.archived_at is not None}
    assert archived and visible == everything - archived
    arch = next(iter(archived))
    for sub in ("users", "service_accounts"):
        r = api.get(f"/organization/projects/{arch}/{sub}")
        assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    assert api.json(f"/organization/projects/{arch}/api_keys", {"owner_project_access": "any"})[
        "data"
    ]

    inactive_key = t.id_of("project-key-inactive-owner-old")
    key = t.find_project_key(inactive_key)
    assert key is not None
    path = f"/organization/projects/{key.project_id}/api_keys"
    default = {k["id"] for k in api.walk(path)}
    anyk = {k["id"] for k in api.walk(path, {"owner_project_access": "any"})}
    inactive = {k["id"] for k in api.walk(path, {"owner_project_access": "inactive"})}
    active = {k["id"] for k in api.walk(path, {"owner_project_access": "active"})}
    assert inactive_key in anyk and inactive_key in inactive
    assert inactive_key not in default and default == active
    assert anyk == active | inactive
    assert api.get(path, {"owner_project_access": "all"}).status_code == 400


def test_audit_log_filters_accept_both_array_styles(sim: RunningSimulator, world: World) -> None:
    api = admin_api(sim, world, "tenant-01")
    bracket = api.walk("/organization/audit_logs", {"event_types[]": "login.succeeded", "limit": 7})
    plain = api.walk("/organization/audit_logs", {"event_types": "login.succeeded", "limit": 100})
    assert bracket == plain and bracket
    assert {e["type"] for e in bracket} == {"login.succeeded"}
    both = api.walk(
        "/organization/audit_logs",
        [("event_types[]", "login.succeeded"), ("event_types[]", "login.failed")],
    )
    assert {e["type"] for e in both} == {"login.succeeded", "login.failed"}
    everything = api.walk("/organization/audit_logs", {"limit": 100})
    assert len(everything) > len(both)
    cut = bracket[len(bracket) // 2]["effective_at"]
    later = api.walk(
        "/organization/audit_logs", {"event_types[]": "login.succeeded", "effective_at[gte]": cut}
    )
    assert later and all(e["effective_at"] >= cut for e in later)
    uid = bracket[0]["actor"]["session"]["user"]["id"]
    mine = api.walk("/organization/audit_logs", {"actor_ids[]": uid})
    assert mine and all(e["actor"]["session"]["user"]["id"] == uid for e in mine)


def test_users_email_filter(sim: RunningSimulator, world: World) -> None:
    api = admin_api(sim, world, "tenant-01")
    users = world.tenant("tenant-01").users.ordered()
    got = api.json(
        "/organization/users", [("emails[]", users[0].email), ("emails", users[3].email)]
    )
    assert {u["id"] for u in got["data"]} == {users[0].id, users[3].id}


def test_compliance_pages_vary_but_walk_everything(sim: RunningSimulator, world: World) -> None:
    api = compliance_api(sim, world, "tenant-01")
    t = world.tenant("tenant-01")
    sizes: list[tuple[int, bool]] = []
    ids: list[str] = []
    params: dict[str, object] = {"limit": 8}
    while True:
        body = api.json("/gpts", params)
        assert "first_id" not in body
        sizes.append((len(body["data"]), body["has_more"]))
        ids += [g["id"] for g in body["data"]]
        if not body["has_more"]:
            break
        params["after"] = body["last_id"]
    assert ids == [g.id for g in t.gpts.ordered()]
    assert any(n < 8 and more for n, more in sizes), sizes  # a short page that is not the last
    users = api.walk("/users", {"limit": 10})
    assert [u["id"] for u in users] == sorted(u["id"] for u in users)
    assert len(api.json("/users")["data"]) <= 200
    assert len(api.json("/gpts", {"limit": 5000})["data"]) <= 100  # clamped to the max
    assert api.get("/gpts", {"limit": 0}).status_code == 400


def test_conversations_since_timestamp_and_after(sim: RunningSimulator, world: World) -> None:
    api = compliance_api(sim, world, "tenant-03")
    t = world.tenant("tenant-03")
    r = api.get("/conversations")
    assert r.status_code == 400 and r.json()["error"]["param"] == "since_timestamp"
    everything = api.walk("/conversations", {"since_timestamp": 0, "limit": 4})
    assert [c["id"] for c in everything] == [c.id for c in t.conversations.ordered()]
    ordered = t.conversations.ordered()
    cut = ordered[len(ordered) // 2].last_update
    recent = api.walk("/conversations", {"since_timestamp": int(cut), "limit": 500})
    assert {c["id"] for c in recent} == {c.id for c in ordered if c.last_update >= int(cut)}
    # with `after`, since_timestamp is ignored
    first = api.json("/conversations", {"since_timestamp": 0, "limit": 2})
    rest = api.walk("/conversations", {"after": first["last_id"], "since_timestamp": 4_000_000_000})
    assert len(first["data"]) + len(rest) == len(ordered)
    uid = ordered[0].user_id
    mine = api.walk("/conversations", [("since_timestamp", 0), ("users", uid)])
    assert mine and {c["user_id"] for c in mine} == {uid}
    assert (
        api.get("/conversations", {"since_timestamp": 0, "file_format": "pdf"}).status_code == 400
    )


def test_gpt_configs_newest_first(sim: RunningSimulator, world: World) -> None:
    api = compliance_api(sim, world, "tenant-01")
    t = world.tenant("tenant-01")
    gid = t.id_of("gpt-old-config-action")
    configs = api.walk(f"/gpts/{gid}/configs", {"limit": 1})
    assert len(configs) == 2
    assert configs[0]["created_at"] > configs[1]["created_at"]
    assert {x["type"] for x in configs[1]["tools"]["data"]} == {"custom_action", "browser"}
    gpt = api.json(f"/gpts/{gid}")
    assert gpt["latest_config"]["data"][0]["id"] == configs[0]["id"]
