"""Rate limits (429 + Retry-After, violation accounting) and every fault kind over HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from simulator.server import RunningSimulator, start_in_thread
from simulator.world import World
from tests.integration.simulator import shapes
from tests.integration.simulator.conftest import admin_api, compliance_api


@pytest.fixture(scope="module")
def world() -> World:
    return World.generate(tenants=2, seed=21, size="small", time_scale=60.0)  # 1 s windows


@pytest.fixture(scope="module")
def sim(world: World) -> Iterator[RunningSimulator]:
    handle = start_in_thread(world, port=0)
    yield handle
    handle.stop()


@pytest.fixture
def burst_world() -> World:
    # 5 s windows: 70 requests fit in one window even on a busy machine (no timing assumed).
    return World.generate(tenants=2, seed=21, size="small", time_scale=12.0)


@pytest.fixture
def burst_sim(burst_world: World) -> Iterator[RunningSimulator]:
    handle = start_in_thread(burst_world, port=0)
    yield handle
    handle.stop()


def test_burst_gets_429_with_retry_after_and_is_counted(
    burst_sim: RunningSimulator, burst_world: World
) -> None:
    sim, world = burst_sim, burst_world
    api = compliance_api(sim, world, "tenant-01")
    codes = []
    limited: list[httpx.Response] = []
    for _ in range(70):
        r = api.get("/gpts", {"limit": 1}, retry_429=False)
        codes.append(r.status_code)
        if r.status_code == 429:
            limited.append(r)
    assert codes[:50] == [200] * 50
    assert limited
    r = limited[0]
    err = r.json()["error"]
    assert shapes.ShapeChecker(allow_unknown=False).check(r.json(), shapes.ERROR_BODY) == []
    assert (err["type"], err["code"]) == ("requests", "rate_limit_exceeded")
    assert int(r.headers["retry-after"]) >= 1
    assert 1 <= int(r.headers["retry-after-ms"]) <= 5000
    assert r.headers["x-ratelimit-limit-requests"] == "50"
    group = world.stats("tenant-01")["groups"]["compliance:list:gpts"]
    assert group["violations"] == len(limited)
    assert group["requests"] == 70
    assert group["limit"] == 50 and group["window_s"] == 5.0
    # other route groups and tenants keep their own budgets
    assert api.get("/users", retry_429=False).status_code == 200
    assert compliance_api(sim, world, "tenant-02").get("/gpts", retry_429=False).status_code == 200


def test_a_paced_client_has_no_violations(sim: RunningSimulator, world: World) -> None:
    api = compliance_api(sim, world, "tenant-02")
    for _ in range(60):  # 40 per second against a 50 per second budget
        assert api.get("/projects", retry_429=False).status_code == 200
        time.sleep(0.025)
    group = world.stats("tenant-02")["groups"]["compliance:list:projects"]
    assert (group["requests"], group["violations"]) == (60, 0)


def test_the_three_file_routes_share_one_budget(sim: RunningSimulator, world: World) -> None:
    t = world.tenant("tenant-01")
    api = compliance_api(sim, world, "tenant-01")
    api.get(f"/gpt_files/{t.id_of('gpt-file-clean-md')}", retry_429=False)
    api.get(f"/project_files/{t.id_of('project-file-clean-txt')}", retry_429=False)
    api.get(
        f"/users/{t.id_of('user-owner')}/files/{t.id_of('conv-file-clean-md')}", retry_429=False
    )
    group = world.stats("tenant-01")["groups"]["compliance:files"]
    assert group["requests"] == 3 and group["limit"] == 100


def test_stats_endpoint_and_reset(sim: RunningSimulator, world: World) -> None:
    admin_api(sim, world, "tenant-02").get("/organization/users")
    stats = httpx.get(sim.url + "/_sim/stats").json()
    assert stats["time_scale"] == 60.0 and stats["window_s"] == 1.0
    assert stats["tenants"]["tenant-02"]["groups"]["admin:users"]["key"] == "admin"
    assert stats == world.stats()
    assert httpx.post(sim.url + "/_sim/stats/reset").status_code == 200
    assert world.stats()["tenants"] == {}
    tenants = httpx.get(sim.url + "/_sim/tenants").json()["tenants"]
    assert [t["slug"] for t in tenants] == ["tenant-01", "tenant-02"]
    assert "admin_key" not in json.dumps(tenants)


def add_fault(sim: RunningSimulator, slug: str, **fault: object) -> None:
    r = httpx.post(f"{sim.url}/_sim/tenants/{slug}/faults", json=fault)
    assert r.status_code == 200, r.text


def test_fault_control_endpoint(sim: RunningSimulator, world: World) -> None:
    add_fault(sim, "tenant-01", kind="slow", delay=0.01, count=1)
    listed = httpx.get(f"{sim.url}/_sim/tenants/tenant-01/faults").json()["faults"]
    assert [f["kind"] for f in listed] == ["slow"]
    assert (
        httpx.post(f"{sim.url}/_sim/tenants/tenant-01/faults", json={"kind": "meteor"}).status_code
        == 400
    )
    assert (
        httpx.post(f"{sim.url}/_sim/tenants/nobody/faults", json={"kind": "slow"}).status_code
        == 404
    )
    assert httpx.delete(f"{sim.url}/_sim/tenants/tenant-01/faults").json()["faults"] == []
    # a fault with a value of the wrong type is refused, and the tenant keeps being served
    for bad in ({"kind": "slow", "delay": "forever"}, {"kind": "server_error", "status": "x"}):
        r = httpx.post(f"{sim.url}/_sim/tenants/tenant-01/faults", json=bad)
        assert r.status_code == 400 and "fault '" in r.json()["error"]["message"]
    assert httpx.get(f"{sim.url}/_sim/tenants/tenant-01/faults").json()["faults"] == []
    assert admin_api(sim, world, "tenant-01").get("/organization/users").status_code == 200


def test_rate_limit_storm_then_recovery(sim: RunningSimulator, world: World) -> None:
    add_fault(sim, "tenant-01", kind="rate_limit_storm", api="admin", count=3, retry_after=2)
    api = admin_api(sim, world, "tenant-01")
    rs = [api.get("/organization/invites", retry_429=False) for _ in range(4)]
    assert [r.status_code for r in rs] == [429, 429, 429, 200]
    assert rs[0].headers["retry-after"] == "2" and rs[0].headers["retry-after-ms"] == "2000"
    counters = world.stats("tenant-01")["counters"]
    assert counters["fault:rate_limit_storm"] == 3
    assert world.stats("tenant-01")["groups"]["admin:invites"]["violations"] == 0


def test_rate_limit_without_headers(sim: RunningSimulator, world: World) -> None:
    add_fault(sim, "tenant-01", kind="rate_limit_no_headers", api="admin", count=1)
    api = admin_api(sim, world, "tenant-01")
    bare = api.get("/organization/invites", retry_429=False)
    assert bare.status_code == 429 and bare.json()["error"]["code"] == "rate_limit_exceeded"
    assert not [h for h in bare.headers if h.startswith(("retry-after", "x-ratelimit"))]
    assert api.get("/organization/invites", retry_429=False).status_code == 200
    assert world.stats("tenant-01")["counters"]["fault:rate_limit_no_headers"] == 1


def test_server_error_burst_and_scoping(sim: RunningSimulator, world: World) -> None:
    world.faults.clear()
    add_fault(sim, "tenant-01", kind="server_error", status=502, count=2, api="compliance")
    c1 = compliance_api(sim, world, "tenant-01")
    assert (
        admin_api(sim, world, "tenant-01").get("/organization/users").status_code == 200
    )  # admin untouched
    assert (
        compliance_api(sim, world, "tenant-02").get("/users").status_code == 200
    )  # other tenant untouched
    codes = [c1.get("/users").status_code for _ in range(3)]
    assert codes == [502, 502, 200]


def test_slow_responses(sim: RunningSimulator, world: World) -> None:
    add_fault(
        sim, "tenant-02", kind="slow", delay=0.3, count=1, path_contains="/organization/projects"
    )
    api = admin_api(sim, world, "tenant-02")
    fired = world.stats("tenant-02")["counters"].get("fault:slow", 0)
    assert api.get("/organization/projects").status_code == 200  # slow, then a normal answer
    assert world.stats("tenant-02")["counters"]["fault:slow"] == fired + 1
    with pytest.raises(httpx.ReadTimeout):
        add_fault(sim, "tenant-02", kind="slow", delay=1.0, count=1)
        httpx.get(
            f"{sim.admin_base}/organization/users",
            timeout=0.2,
            headers={"Authorization": f"Bearer {world.tenant('tenant-02').admin_key}"},
        )


@pytest.mark.parametrize("kind", ["truncated_json", "malformed_json"])
def test_broken_json(sim: RunningSimulator, world: World, kind: str) -> None:
    world.faults.clear("tenant-02")
    add_fault(sim, "tenant-02", kind=kind, count=1)
    api = admin_api(sim, world, "tenant-02")
    r = api.get("/organization/users")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.text)
    good = api.get("/organization/users")
    if kind == "truncated_json":
        assert good.text.startswith(r.text) and len(r.text) < len(good.text)
    good.json()


def test_wrong_shape(sim: RunningSimulator, world: World) -> None:
    add_fault(sim, "tenant-01", kind="wrong_shape", count=2)
    api = compliance_api(sim, world, "tenant-01")
    body = api.json("/gpts")
    assert isinstance(body["data"], dict)
    t = world.tenant("tenant-01")
    single = api.json(f"/gpts/{t.id_of('gpt-store')}")
    assert isinstance(single, list)


def test_repeated_cursor(sim: RunningSimulator, world: World) -> None:
    api = compliance_api(sim, world, "tenant-01")
    first = api.json("/gpts", {"limit": 3})
    add_fault(sim, "tenant-01", kind="repeated_cursor", count=5)
    again = api.json("/gpts", {"limit": 3, "after": first["last_id"]})
    assert again["last_id"] == first["last_id"] and again["has_more"] is True
    admin = admin_api(sim, world, "tenant-01")
    page = admin.json("/organization/users", {"limit": 2})
    repeat = admin.json("/organization/users", {"limit": 2, "after": page["last_id"]})
    assert repeat["data"] == page["data"] and repeat["has_more"] is True


def test_huge_page_and_unknown_fields(sim: RunningSimulator, world: World) -> None:
    add_fault(sim, "tenant-02", kind="huge_page", count=1, api="admin", path_contains="/users")
    body = admin_api(sim, world, "tenant-02").json("/organization/users", {"limit": 5})
    assert len(body["data"]) == 10_000 and len({u["id"] for u in body["data"]}) == 10_000
    assert body["has_more"] is False and body["last_id"] == body["data"][-1]["id"]
    add_fault(sim, "tenant-02", kind="unknown_fields", count=1)
    body = compliance_api(sim, world, "tenant-02").json("/users")
    assert "x_sim_future_field" in body and all("x_sim_flag" in u for u in body["data"])


def test_revoked_key_mid_scan(sim: RunningSimulator, world: World) -> None:
    world.faults.clear("tenant-01")
    add_fault(sim, "tenant-01", kind="revoked_key", api="admin", after=2)
    api = admin_api(sim, world, "tenant-01")
    codes = [api.get("/organization/users").status_code for _ in range(4)]
    assert codes == [200, 200, 401, 401]
    assert api.get("/organization/users").json()["error"]["code"] == "invalid_api_key"
    assert compliance_api(sim, world, "tenant-01").get("/users").status_code == 200
    world.faults.clear("tenant-01")
    assert api.get("/organization/users").status_code == 200


def test_workspace_gone(sim: RunningSimulator, world: World) -> None:
    add_fault(sim, "tenant-02", kind="workspace_gone")
    r = compliance_api(sim, world, "tenant-02").get("/gpts")
    assert r.status_code == 404 and r.json()["error"]["code"] == "workspace_not_found"
    assert admin_api(sim, world, "tenant-02").get("/organization/users").status_code == 200


def test_blob_faults_only_when_asked(sim: RunningSimulator, world: World) -> None:
    t = world.tenant("tenant-01")
    api = compliance_api(sim, world, "tenant-01")
    loc = api.get(f"/gpt_files/{t.id_of('gpt-file-clean-md')}").headers["location"]
    add_fault(sim, "tenant-01", kind="server_error", count=1)  # api "any" spares the storage host
    assert httpx.get(loc).status_code == 200
    world.faults.clear("tenant-01")
    add_fault(sim, "tenant-01", kind="server_error", api="blob", status=500, count=1)
    assert httpx.get(loc).status_code == 500
    assert httpx.get(loc).status_code == 200


def test_time_scale_control_endpoint(sim: RunningSimulator, world: World) -> None:
    try:
        r = httpx.post(f"{sim.url}/_sim/time_scale", json={"time_scale": 120})
        assert r.status_code == 200 and r.json() == {"time_scale": 120.0}
        assert httpx.get(f"{sim.url}/_sim/stats").json()["window_s"] == 0.5
        for bad in ({"time_scale": 0}, {"time_scale": -1}, {"time_scale": "fast"}, {}, [60]):
            r = httpx.post(f"{sim.url}/_sim/time_scale", json=bad)
            assert r.status_code == 400, bad
            assert shapes.ShapeChecker(allow_unknown=False).check(r.json(), shapes.ERROR_BODY) == []
        r = httpx.post(f"{sim.url}/_sim/time_scale", content=b"{not json")
        assert r.status_code == 400
        # the bad requests changed nothing, and the simulator still serves
        assert httpx.get(f"{sim.url}/_sim/stats").json()["window_s"] == 0.5
        assert compliance_api(sim, world, "tenant-02").get("/users").status_code == 200
    finally:
        world.set_time_scale(60.0)
