"""The simulator's 2026 Compliance API over real HTTP: the Logs Platform and its switches."""

from __future__ import annotations

import hashlib
import json

import httpx

from simulator.logs import iso
from simulator.server import RunningSimulator
from simulator.world import World
from tests.integration.simulator.conftest import Api, compliance_api

SLUG = "tenant-03"


def org_api(sim: RunningSimulator, world: World, slug: str) -> Api:
    t = world.tenant(slug)
    return Api(f"{sim.compliance_base}/compliance/organizations/{t.org_id}", t.compliance_key)


def test_listing_pages_by_last_end_time_and_validates_parameters(
    sim: RunningSimulator, world: World
) -> None:
    api = compliance_api(sim, world, SLUG)
    tenant = world.tenant(SLUG)
    files = sorted(
        (f for f in tenant.log_files if f.event_type == "CONVERSATION_MESSAGE"),
        key=lambda f: f.end_time,
    )
    seen: list[str] = []
    after: str | None = None
    for _ in range(100):
        params = {"event_type": "CONVERSATION_MESSAGE", "limit": 2}
        if after:
            params["after"] = after
        body = api.json("/logs", params)
        seen += [item["id"] for item in body["data"]]
        if not body["has_more"]:
            break
        after = body["last_end_time"]
    assert seen == [f.id for f in files]
    assert api.get("/logs", {"event_type": "CONVERSATION_MESSAGE", "limit": 101}).status_code == 422
    assert api.get("/logs", {"event_type": "NOPE"}).status_code == 400
    naive = {"event_type": "AUTH_LOG", "after": "2026-01-01T00:00:00"}
    assert api.get("/logs", naive).status_code == 400
    # after is exclusive on end_time
    last = files[-1]
    tail = api.json("/logs", {"event_type": "CONVERSATION_MESSAGE", "after": iso(last.end_time)})
    assert tail["data"] == [] and tail["has_more"] is False


def test_log_file_redirects_to_storage_that_refuses_the_bearer_token(
    sim: RunningSimulator, world: World
) -> None:
    api = compliance_api(sim, world, SLUG)
    item = api.json("/logs", {"event_type": "CONVERSATION_MESSAGE", "limit": 1})["data"][0]
    r = api.get(f"/logs/{item['id']}")
    assert r.status_code == 307
    location = r.headers["location"]
    key = world.tenant(SLUG).compliance_key
    assert httpx.get(location, headers={"Authorization": f"Bearer {key}"}).status_code == 400
    body = httpx.get(location).content
    assert hashlib.sha256(body).hexdigest() == item["file_sha256"]
    assert len(body) == item["file_size"]
    assert api.get("/logs/log_unknown").status_code == 404


def test_switches_retire_conversations_and_move_the_logs_scope(
    sim: RunningSimulator, world: World
) -> None:
    api = compliance_api(sim, world, SLUG)
    control = f"{sim.compliance_base.rsplit('/chatgpt', 1)[0]}/_sim/tenants/{SLUG}/edges"
    try:
        r = httpx.post(
            control,
            json={"conversations": "retired", "retired_status": 410, "logs_scope": "organizations"},
        )
        assert r.status_code == 200 and r.json()["edges"]["conversations"] == "retired"
        gone = api.get("/conversations", {"since_timestamp": 0})
        assert gone.status_code == 410 and gone.json()["error"]["code"] == "endpoint_retired"
        assert api.get("/logs", {"event_type": "AUTH_LOG"}).status_code == 404
        body = org_api(sim, world, SLUG).json("/logs", {"event_type": "AUTH_LOG"})
        assert body["data"] and all(i["event_type"] == "AUTH_LOG" for i in body["data"])
        assert httpx.post(control, json={"nope": 1}).status_code == 400
    finally:
        httpx.post(
            control, json={"conversations": "list", "logs_scope": "both", "nested_messages": None}
        )


def test_nested_has_more_and_concatenated_bodies(sim: RunningSimulator, world: World) -> None:
    api = compliance_api(sim, world, SLUG)
    tenant = world.tenant(SLUG)
    with world.lock:
        tenant.edges.nested_messages = 1
        tenant.edges.concatenated_json = True
    try:
        convs = api.walk("/conversations", {"since_timestamp": 0, "file_format": "id"})
        longer = {c.id for c in tenant.conversations if len(c.messages) > 1}
        assert longer
        for conv in convs:
            assert len(conv["messages"]["data"]) <= 1
            assert conv["messages"]["has_more"] is (conv["id"] in longer)
        item = api.json("/logs", {"event_type": "CONVERSATION_MESSAGE", "limit": 1})["data"][0]
        body = httpx.get(api.get(f"/logs/{item['id']}").headers["location"]).text
        lines = [line for line in body.splitlines() if line]
        assert any(line.count('"event') > 1 for line in lines)  # several documents on one line
        with_docs = [line for line in lines if line.startswith("{") and line.endswith("}")]
        assert any(_not_one_document(line) for line in with_docs)
    finally:
        with world.lock:
            tenant.edges.nested_messages = None
            tenant.edges.concatenated_json = False


def _not_one_document(line: str) -> bool:
    try:
        json.loads(line)
    except json.JSONDecodeError:
        return True
    return False
