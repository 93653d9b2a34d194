"""The finding lifecycle as a pure decision: what one scan does to a tenant's findings.

Inputs are the tenant's stored findings of the types this scan could judge, what the
detectors found, and which types the scan may resolve. The output says, per finding,
whether it is inserted, kept open, reopened, kept ignored or resolved. ``store.findings``
applies the plan inside one transaction. Rules:

* first_seen is kept; last_seen moves to this scan.
* A stored finding not found again is resolved only if its type is *resolvable* (its
  detector ran on complete inputs and every source fetch succeeded). A failed fetch
  resolves nothing.
* A resolved finding found again reopens (reopened_count + 1).
* An ignored finding stays ignored while its ``ignored_until`` is unset or in the future;
  an expired ignore behaves like an open finding.
* A finding last written by a *newer* scan is left alone (a redelivered old task must not
  undo a newer scan's work).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from schemas.findings import DetectedFinding
from schemas.tables import FindingStatus

Key = tuple[str, str]  # (finding_type_id, resource_id)


class Action(StrEnum):
    INSERT = "insert"
    KEEP_OPEN = "keep_open"
    REOPEN = "reopen"
    KEEP_IGNORED = "keep_ignored"
    RESOLVE = "resolve"
    UNIGNORE_RESOLVE = "unignore_resolve"


@dataclass(frozen=True, slots=True)
class Stored:
    """The lifecycle-relevant columns of one stored finding."""

    finding_type_id: str
    resource_id: str
    status: str
    ignored_until: datetime | None = None
    last_scan_id: int | None = None

    @property
    def key(self) -> Key:
        return (self.finding_type_id, self.resource_id)


@dataclass
class Plan:
    seen: dict[Key, tuple[Action, DetectedFinding]] = field(default_factory=dict)
    resolve: dict[Key, Action] = field(default_factory=dict)

    def count(self, action: Action) -> int:
        return sum(1 for a, _ in self.seen.values() if a is action) + sum(
            1 for a in self.resolve.values() if a is action
        )

    def summary(self) -> dict[str, int]:
        return {a.value: self.count(a) for a in Action if self.count(a)}


def ignore_active(stored: Stored, now: datetime) -> bool:
    return stored.status == FindingStatus.IGNORED.value and (
        stored.ignored_until is None or stored.ignored_until > now
    )


def plan_lifecycle(
    stored: Iterable[Stored],
    detected: Iterable[DetectedFinding],
    resolvable: set[str],
    *,
    scan_id: int,
    now: datetime,
) -> Plan:
    """Decide the fate of every finding touched by one scan (see the module docstring)."""
    by_key: Mapping[Key, Stored] = {s.key: s for s in stored}
    plan = Plan()
    for item in detected:
        if item.key in plan.seen:
            continue
        old = by_key.get(item.key)
        if old is not None and old.last_scan_id is not None and old.last_scan_id > scan_id:
            continue
        if old is None:
            action = Action.INSERT
        elif ignore_active(old, now):
            action = Action.KEEP_IGNORED
        elif old.status == FindingStatus.RESOLVED.value:
            action = Action.REOPEN
        else:
            action = Action.KEEP_OPEN  # open, or an ignore that has expired
        plan.seen[item.key] = (action, item)
    for key, old in by_key.items():
        if key in plan.seen or key[0] not in resolvable:
            continue
        if old.last_scan_id is not None and old.last_scan_id > scan_id:
            continue
        if old.status == FindingStatus.OPEN.value:
            plan.resolve[key] = Action.RESOLVE
        elif old.status == FindingStatus.IGNORED.value and not ignore_active(old, now):
            plan.resolve[key] = Action.UNIGNORE_RESOLVE
    return plan
