"""Change history as pure functions: fingerprint what a fetch saw, diff two fingerprints.

A fingerprint maps resource id to ``{"name": ..., "fields": {dotted field: value}}`` holding
only the watched fields (list values sorted, so order never reads as a change). Diffing the
fingerprints of two successful fetches of the same part yields change records: a changed
field (``sharing.visibility``: ``invite-only`` -> ``gpt-store``), or a resource that
appeared (field ``created``) or went away (field ``removed``). No I/O here: the pipeline
loads the snapshot parts and stores the records (store/changes.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from schemas.openai import AdminApiKey, AdminUser, ComplianceProject, Gpt, Invite, ProjectApiKey

Fingerprint = dict[str, dict[str, Any]]
M = TypeVar("M", bound=BaseModel)

CREATED = "created"
REMOVED = "removed"


@dataclass(frozen=True, slots=True)
class Change:
    resource_type: str
    resource_id: str
    resource_name: str | None
    field: str
    before: Any
    after: Any

    @property
    def kind(self) -> str:
        """``gpt.sharing.visibility``: the label the metrics count changes by."""
        return f"{self.resource_type}.{self.field}"


def _sorted(values: Iterable[Any]) -> list[Any]:
    return sorted({v for v in values if v is not None}, key=str)


def _entry(name: str | None, fields: Mapping[str, Any]) -> dict[str, Any]:
    return {"name": name, "fields": dict(fields)}


def _sharing_fields(item: Gpt) -> dict[str, Any]:
    sharing = item.sharing
    return {
        "sharing.visibility": sharing.visibility if sharing else None,
        "sharing.recipients": _sorted(
            (r.email or r.id) for r in (sharing.recipients if sharing else [])
        ),
    }


def _files(item: Gpt) -> list[str]:
    return _sorted(f.id for f in item.config.files) if item.config else []


#: One resource's fingerprint entry: its id, its display name and its watched fields.
Entry = tuple[str, str | None, Mapping[str, Any]]


def _fingerprint(
    model: type[M], items: Iterable[Mapping[str, Any]], entry: Callable[[M], Entry]
) -> Fingerprint:
    """Validate every item as ``model`` and keep its entry, by resource id."""
    out: Fingerprint = {}
    for raw in items:
        resource_id, name, fields = entry(model.model_validate(raw))
        out[resource_id] = _entry(name, fields)
    return out


def _gpt_entry(gpt: Gpt) -> Entry:
    tools = gpt.config.tools if gpt.config else []
    actions = [t for t in tools if t.type == "custom_action" or t.action_domain]
    return (
        gpt.id,
        gpt.name,
        {
            **_sharing_fields(gpt),
            "tools.types": _sorted(t.type for t in tools),
            "tools.custom_action.domains": _sorted(t.action_domain for t in actions),
            "tools.custom_action.auth_types": _sorted(t.auth_type for t in actions),
            "files": _files(gpt),
        },
    )


def fingerprint_gpts(items: Iterable[Mapping[str, Any]]) -> Fingerprint:
    return _fingerprint(Gpt, items, _gpt_entry)


def fingerprint_projects(items: Iterable[Mapping[str, Any]]) -> Fingerprint:
    return _fingerprint(
        ComplianceProject,
        items,
        lambda p: (p.id, p.name, {**_sharing_fields(p), "files": _files(p)}),
    )


def fingerprint_users(items: Iterable[Mapping[str, Any]]) -> Fingerprint:
    return _fingerprint(AdminUser, items, lambda u: (u.id, u.email or u.name, {"role": u.role}))


def fingerprint_invites(items: Iterable[Mapping[str, Any]]) -> Fingerprint:
    return _fingerprint(Invite, items, lambda i: (i.id, i.email, {"role": i.role}))


def fingerprint_admin_keys(items: Iterable[Mapping[str, Any]]) -> Fingerprint:
    return _fingerprint(AdminApiKey, items, lambda k: (k.id, k.name, {}))


def fingerprint_project_keys(items: Iterable[Mapping[str, Any]]) -> Fingerprint:
    return _fingerprint(ProjectApiKey, items, lambda k: (k.id, k.name, {"project": k.project_id}))


@dataclass(frozen=True)
class WatchedPart:
    """A snapshot part whose changes are recorded: its resource type and fingerprint."""

    part: str
    resource_type: str
    fingerprint: Callable[[Iterable[Mapping[str, Any]]], Fingerprint]


WATCHED: dict[str, WatchedPart] = {
    w.part: w
    for w in (
        WatchedPart("gpts", "gpt", fingerprint_gpts),
        WatchedPart("projects", "chatgpt_project", fingerprint_projects),
        WatchedPart("users", "user", fingerprint_users),
        WatchedPart("invites", "invite", fingerprint_invites),
        WatchedPart("admin_keys", "admin_api_key", fingerprint_admin_keys),
        WatchedPart("project_keys", "project_api_key", fingerprint_project_keys),
    )
}


def diff(resource_type: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Change]:
    """The changes from one fingerprint of a part to the next, in a stable order."""
    changes: list[Change] = []
    for resource_id in sorted(set(before) | set(after)):
        old, new = before.get(resource_id), after.get(resource_id)
        if old is None and new is not None:
            changes.append(
                Change(resource_type, resource_id, new.get("name"), CREATED, None, new["fields"])
            )
            continue
        if new is None and old is not None:
            changes.append(
                Change(resource_type, resource_id, old.get("name"), REMOVED, old["fields"], None)
            )
            continue
        assert old is not None and new is not None
        old_fields, new_fields = old.get("fields", {}), new.get("fields", {})
        for field in sorted(set(old_fields) | set(new_fields)):
            if field not in old_fields:  # a field added to the fingerprint in a newer release
                continue
            if old_fields.get(field) != new_fields.get(field):
                changes.append(
                    Change(
                        resource_type,
                        resource_id,
                        new.get("name"),
                        field,
                        old_fields.get(field),
                        new_fields.get(field),
                    )
                )
    return changes
