"""The in-memory snapshot store and rebuilding a posture snapshot from fetch summaries."""

from __future__ import annotations

from pipeline.common import error_summary
from pipeline.posture import build_snapshot, succeeded_sources
from pipeline.snapshots import MemorySnapshotStore, part_key, parts_key
from schemas.catalog import FetchResource


def test_memory_store_round_trip_and_drop() -> None:
    store = MemorySnapshotStore()
    key = store.put(7, "users", [{"id": "user-1"}])
    assert key == part_key(7, "users") == "casb:scan:7:users"
    assert parts_key(7) == "casb:scan:7:parts"
    assert store.get(key) == [{"id": "user-1"}]
    store.record(7, "users", {"ok": True, "keys": {"users": key}})
    store.put(8, "users", [])
    assert store.summaries(7) == {"users": {"ok": True, "keys": {"users": key}}}
    store.drop(7)
    assert store.get(key) is None and store.summaries(7) == {}
    assert store.get(part_key(8, "users")) == []


def test_snapshot_keeps_failed_parts_as_none() -> None:
    store = MemorySnapshotStore()
    summaries = {
        "users": {
            "ok": True,
            "keys": {
                "users": store.put(1, "users", [{"id": "user-1", "added_at": 1.0}]),
                "logins": store.put(1, "logins", [{"user_id": "user-1", "effective_at": 5.0}]),
            },
        },
        "invites": {"ok": False, "keys": {}, "error": {"kind": "api_error"}},
        "admin_keys": {"ok": True, "keys": {"admin_keys": "casb:scan:1:expired"}},
        "project_keys": {"ok": True, "keys": {"project_keys": store.put(1, "project_keys", [])}},
    }
    snap = build_snapshot(summaries, store.get, 100.0)
    assert snap.users is not None and snap.users[0].id == "user-1"
    assert snap.logins is not None and snap.logins[0].effective_at == 5.0
    assert snap.invites is None  # failed fetch
    assert snap.admin_keys is None  # expired key: treated as not fetched
    assert snap.project_keys == []
    assert snap.gpts is None  # not planned
    assert succeeded_sources(summaries) == {
        FetchResource.USERS,
        FetchResource.LOGINS,
        FetchResource.ADMIN_KEYS,
        FetchResource.PROJECT_KEYS,
    }


def test_error_summary_is_typed_and_never_quotes_unknown_exceptions() -> None:
    from connectors.errors import AuthenticationError

    typed = error_summary(AuthenticationError("Incorrect API key provided: sk-abc123456789xyz"))
    assert typed["kind"] == "credential_error" and "sk-abc123456789xyz" not in str(typed)
    other = error_summary(RuntimeError("secret sk-proj-abcdefabcdefabcdef in a bug"))
    assert other["kind"] == "task_error" and "sk-proj" not in str(other)
