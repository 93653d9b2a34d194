"""The documented API edges the simulator switches on per tenant, over real HTTP."""

from __future__ import annotations

from simulator.faults import Fault
from simulator.server import RunningSimulator
from simulator.world import World
from tests.integration.simulator import shapes
from tests.integration.simulator.conftest import admin_api, compliance_api


def test_audit_logging_off_answers_400_on_the_audit_log_only(
    sim: RunningSimulator, world: World
) -> None:
    world.faults.add("tenant-01", Fault(kind="audit_logging_off", api="admin"))
    api = admin_api(sim, world, "tenant-01")
    other = admin_api(sim, world, "tenant-02")
    try:
        r = api.get("/organization/audit_logs", {"event_types[]": "login.succeeded"})
        assert r.status_code == 400
        assert shapes.ShapeChecker(allow_unknown=False).check(r.json(), shapes.ERROR_BODY) == []
        assert "audit logging" in r.json()["error"]["message"].lower()
        assert api.get("/organization/users").status_code == 200
        assert other.get("/organization/audit_logs").status_code == 200
    finally:
        api.close()
        other.close()


def test_limit_rejected_only_when_limit_is_sent(sim: RunningSimulator, world: World) -> None:
    world.faults.add(
        "tenant-02", Fault(kind="limit_rejected", api="compliance", path_contains="/gpts")
    )
    world.faults.add(
        "tenant-02",
        Fault(kind="limit_rejected", api="admin", path_contains="/projects", status=400),
    )
    comp = compliance_api(sim, world, "tenant-02")
    admin = admin_api(sim, world, "tenant-02")
    try:
        refused = comp.get("/gpts", {"limit": 100})
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["loc"] == ["query", "limit"]
        plain = comp.get("/gpts")
        assert plain.status_code == 200 and len(plain.json()["data"]) <= 20  # documented default
        assert comp.get("/projects", {"limit": 100}).status_code == 200  # other route untouched
        admin_refused = admin.get("/organization/projects", {"limit": 100})
        assert admin_refused.status_code == 400
        assert admin_refused.json()["error"]["param"] == "limit"
        assert admin.get("/organization/projects").status_code == 200
    finally:
        comp.close()
        admin.close()
