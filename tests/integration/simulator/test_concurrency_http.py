"""Concurrent readers over HTTP while the test mutates the world: no errors, no torn pages."""

from __future__ import annotations

import threading
import time

from simulator import files as sf
from simulator.server import RunningSimulator
from simulator.world import World
from tests.integration.simulator.conftest import admin_api, compliance_api


def test_readers_and_mutations_interleave_safely(sim: RunningSimulator, world: World) -> None:
    slug = "tenant-03"
    t = world.tenant(slug)
    walks: list[str] = []  # list.append is atomic across threads
    errors: list[str] = []
    stop = threading.Event()

    def reader(kind: str) -> None:
        api = admin_api(sim, world, slug) if kind == "admin" else compliance_api(sim, world, slug)
        while not stop.is_set():
            try:
                if kind == "admin":
                    items = api.walk("/organization/invites", {"limit": 3})
                    assert len({i["id"] for i in items}) == len(items)
                else:
                    api.walk("/gpts", {"limit": 5})
                    api.walk(
                        "/conversations", {"since_timestamp": 0, "limit": 7, "file_format": "id"}
                    )
                walks.append(kind)
            except AssertionError as e:  # a non-200 page or a duplicate
                errors.append(str(e)[:200])
        api.close()

    threads = [
        threading.Thread(target=reader, args=(k,)) for k in ("admin", "compliance", "compliance")
    ]
    for th in threads:
        th.start()
    gid = t.id_of("gpt-browser")
    try:
        for i in range(3_000):
            if len(walks) >= 9 and set(walks) == {"admin", "compliance"}:
                break
            t.add_gpt_tool(gid, "code_interpreter")
            t.remove_gpt_tool(gid, "code_interpreter")
            fid = t.add_file(
                "conversation", fmt="txt", profiles=[sf.PROFILE_CREDENTIALS] if i % 2 else []
            )
            t.remove_file(fid)
            inv = t.add_invite(f"temp{i}@{slug}.example.com", "owner", created_days_ago=1)
            t.accept_invite(inv)
            t.delete_invite(inv)
            time.sleep(0.002)  # let the server thread have the GIL
    finally:
        stop.set()
        for th in threads:
            th.join(30)
    assert errors == []
    assert len(walks) >= 9 and set(walks) == {"admin", "compliance"}
    assert world.stats(slug)["violations"] >= 0  # stats stay readable under load
