"""The shape every posture detector shares, and the small pure helpers they use.

A detector pairs one catalog entry (its metadata: id, title, severity, remediation) with
one rule. The rule is a pure function of a `PostureSnapshot` and the tenant's
`Thresholds`: no clock (the snapshot carries `now`, so a scan is reproducible), no I/O,
no logging. The rule's docstring is the human statement of the rule; `docs/findings.md`
is rendered from it, so the documentation cannot drift from the code that owns it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from core.time import unix_iso_z
from schemas.catalog import FindingType
from schemas.findings import DetectedFinding, Thresholds
from schemas.snapshot import PostureSnapshot

SECONDS_PER_DAY = 86_400

#: Snapshot parts a detector may declare in ``needs`` (the list fields of PostureSnapshot).
SNAPSHOT_PARTS: frozenset[str] = frozenset(
    name for name in PostureSnapshot.model_fields if name != "now"
)

Rule = Callable[[PostureSnapshot, Thresholds], Iterable[DetectedFinding]]


class MissingInput(Exception):
    """A detector was asked to run although one of the snapshot parts it needs is absent.

    Absent (None) means the fetch failed; concluding "no finding" from it would let the
    lifecycle resolve findings that may still be true, so this is an error, not silence.
    """

    def __init__(self, finding_key: str, missing: tuple[str, ...]) -> None:
        super().__init__(f"{finding_key}: snapshot parts not fetched: {', '.join(missing)}")
        self.missing = missing


@dataclass(frozen=True, slots=True)
class Detector:
    """One finding type: its catalog metadata beside the rule that finds instances of it.

    ``needs`` names the snapshot parts whose fetch must have succeeded for the rule's
    silence to mean "no finding". ``optional`` names parts the rule reads when present
    but can do without (one fewer signal, not a wrong answer). ``thresholds`` names the
    `Thresholds` fields the rule reads; ``evidence_fields`` lists the keys every finding's
    evidence carries (tests hold the rule to it, the docs print it).
    """

    finding_type: FindingType
    needs: tuple[str, ...]
    rule: Rule
    evidence_fields: tuple[str, ...]
    thresholds: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = set(self.needs + self.optional) - SNAPSHOT_PARTS
        if unknown:
            raise ValueError(f"{self.finding_type.key}: unknown snapshot parts {sorted(unknown)}")
        bad = set(self.thresholds) - set(Thresholds.model_fields)
        if bad:
            raise ValueError(f"{self.finding_type.key}: unknown thresholds {sorted(bad)}")

    @property
    def key(self) -> str:
        return self.finding_type.key

    @property
    def finding_type_id(self) -> str:
        return self.finding_type.finding_type_id

    @property
    def description(self) -> str:
        """The rule's docstring, dedented: the operator-facing statement of the rule."""
        return inspect.cleandoc(self.rule.__doc__ or "")

    def missing(self, snapshot: PostureSnapshot) -> tuple[str, ...]:
        """The needed snapshot parts that are None (their fetch failed)."""
        return tuple(part for part in self.needs if getattr(snapshot, part) is None)

    def detect(
        self, snapshot: PostureSnapshot, thresholds: Thresholds
    ) -> Iterator[DetectedFinding]:
        """This type's findings; raises `MissingInput` at once if a needed part is absent."""
        missing = self.missing(snapshot)
        if missing:
            raise MissingInput(self.key, missing)
        return iter(self.rule(snapshot, thresholds))


# --------------------------------------------------------------------------- time helpers


def age_seconds(now: float, ts: float | None) -> float | None:
    """Seconds from ``ts`` to ``now``; None when the timestamp is unknown."""
    return None if ts is None else now - ts


def age_days(now: float, ts: float | None) -> float | None:
    """Age in days, rounded to 0.1 for evidence (the rules compare exact seconds)."""
    seconds = age_seconds(now, ts)
    return None if seconds is None else round(seconds / SECONDS_PER_DAY, 1)


def older_than(now: float, ts: float | None, days: int) -> bool:
    """True when ``ts`` is known and strictly more than ``days`` days before ``now``.

    Strict, so a threshold of 90 days flags day 90 plus one second, not day 90 itself;
    an unknown or future timestamp is never "older".
    """
    seconds = age_seconds(now, ts)
    return seconds is not None and seconds > days * SECONDS_PER_DAY


def iso(ts: float | None) -> str | None:
    """A Unix timestamp (int or float seconds) as ISO 8601 UTC with a ``Z``, to the second."""
    return unix_iso_z(ts)


# --------------------------------------------------------------------------- evidence helpers


def mask_redacted(value: str | None) -> str | None:
    """Pass an API ``redacted_value`` through, re-masking it if it does not look redacted.

    The API returns keys already redacted (``sk-abc...def``). Should a drifted or faulty
    response ever put a full key there, evidence must still never carry it, so anything
    without a redaction mark and longer than a redacted value keeps only its ends.
    """
    if value is None:
        return None
    if ("..." in value or "*" in value) and len(value) <= 32:
        return value
    if len(value) <= 12:
        return value[:3] + "..."
    return f"{value[:6]}...{value[-3:]}"


def compact(mapping: dict[str, Any]) -> dict[str, Any]:
    """Drop None values from a nested evidence fragment (owner, project)."""
    return {k: v for k, v in mapping.items() if v is not None}


def finding(
    finding_type: FindingType,
    resource_id: str,
    resource_name: str | None,
    evidence: dict[str, Any],
) -> DetectedFinding:
    return DetectedFinding(
        finding_type=finding_type,
        resource_id=resource_id,
        resource_name=resource_name,
        evidence=evidence,
    )
