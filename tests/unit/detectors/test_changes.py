"""Change history diffing (pure)."""

from __future__ import annotations

from typing import Any

from detectors.changes import CREATED, REMOVED, WATCHED, diff, fingerprint_gpts


def _gpt(visibility: str, *, tools: list[dict[str, Any]] | None = None, **extra: Any) -> dict:
    return {
        "id": "g-1",
        "sharing": {"visibility": visibility, "recipients": [{"email": "b@x"}, {"email": "a@x"}]},
        "config": {
            "name": "Helper",
            "tools": tools or [],
            "files": [{"id": "file-2"}, {"id": "file-1"}],
        },
        **extra,
    }


def test_visibility_flip_is_one_change_with_before_and_after() -> None:
    before = fingerprint_gpts([_gpt("invite-only")])
    after = fingerprint_gpts([_gpt("gpt-store")])
    [change] = diff("gpt", before, after)
    assert (change.resource_id, change.field) == ("g-1", "sharing.visibility")
    assert (change.before, change.after) == ("invite-only", "gpt-store")
    assert change.resource_name == "Helper" and change.kind == "gpt.sharing.visibility"


def test_order_of_lists_is_not_a_change_but_content_is() -> None:
    one = _gpt("workspace")
    two = _gpt("workspace")
    two["sharing"]["recipients"].reverse()
    two["config"]["files"].reverse()
    assert diff("gpt", fingerprint_gpts([one]), fingerprint_gpts([two])) == []
    three = _gpt("workspace")
    three["config"]["files"].append({"id": "file-3"})
    [change] = diff("gpt", fingerprint_gpts([one]), fingerprint_gpts([three]))
    assert change.field == "files"
    assert change.before == ["file-1", "file-2"] and change.after == ["file-1", "file-2", "file-3"]


def test_custom_action_domains_and_auth_types() -> None:
    action = {"type": "custom_action", "action_domain": "a.example", "auth_type": "none"}
    before = fingerprint_gpts([_gpt("workspace", tools=[action])])
    moved = {**action, "action_domain": "b.example", "auth_type": "oauth"}
    after = fingerprint_gpts([_gpt("workspace", tools=[moved])])
    fields = {c.field: (c.before, c.after) for c in diff("gpt", before, after)}
    assert fields == {
        "tools.custom_action.domains": (["a.example"], ["b.example"]),
        "tools.custom_action.auth_types": (["none"], ["oauth"]),
    }


def test_created_and_removed_resources() -> None:
    users = WATCHED["users"]
    before = users.fingerprint([{"id": "u-1", "email": "a@x", "role": "owner"}])
    after = users.fingerprint(
        [{"id": "u-1", "email": "a@x", "role": "reader"}, {"id": "u-2", "role": "owner"}]
    )
    changes = diff("user", before, after)
    assert [(c.resource_id, c.field, c.before, c.after) for c in changes] == [
        ("u-1", "role", "owner", "reader"),
        ("u-2", CREATED, None, {"role": "owner"}),
    ]
    keys = WATCHED["project_keys"]
    gone = diff(
        "project_api_key",
        keys.fingerprint([{"id": "key_1", "name": "ci", "project_id": "proj_1"}]),
        keys.fingerprint([]),
    )
    assert [(c.resource_id, c.field, c.before) for c in gone] == [
        ("key_1", REMOVED, {"project": "proj_1"})
    ]


def test_unchanged_is_nothing() -> None:
    for watched in WATCHED.values():
        assert diff(watched.resource_type, {}, {}) == []
    same = fingerprint_gpts([_gpt("invite-only")])
    assert diff("gpt", same, same) == []
