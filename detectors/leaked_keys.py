"""Leaked own keys, as pure functions: is an OpenAI key found in content one of the tenant's?

The Admin API lists every admin and project key with a ``redacted_value`` showing the key's
start and its last characters (``sk-proj-abc...wxyz``). A key-shaped value found by DLP whose
start and end both agree with one inventory key *is* that key. ``KeyProbe`` is handed to the
DLP matcher for the entries of the OpenAI key family: it sees each matched value once,
compares only its prefix and suffix with the inventory, and keeps nothing but the masked
value, the key id and how many characters agreed. The raw value never leaves the call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from detectors.base import iso
from detectors.dlp.masking import mask_value
from schemas.catalog import BY_KEY, ResourceType
from schemas.findings import DetectedFinding

LEAKED_OWN_API_KEY = BY_KEY["leaked_own_api_key"]
OPENAI_KEY_VALIDATOR = "openai_key"
# Characters of a redacted value that carry no identity: the key family's prefix.
FAMILY_PREFIXES = ("sk-admin-", "sk-proj-", "sk-svcacct-", "sk-service-", "sk-None-", "sk-")
MIN_SUFFIX = 3
MAX_SEEN_IN = 20
_SEPARATORS = ("...", "…", "***")


def is_openai_key_entry(entry: Any) -> bool:
    """Entries of the OpenAI API key family (by their validator, never by a list position)."""
    return getattr(entry, "validator", None) == OPENAI_KEY_VALIDATOR


@dataclass(frozen=True)
class InventoryKey:
    key_id: str
    resource_type: ResourceType
    prefix: str
    suffix: str
    name: str | None = None
    project_id: str | None = None
    project_name: str | None = None
    last_used_at: float | None = None
    owner: str | None = None


def parse_redacted(redacted: str | None) -> tuple[str, str] | None:
    """``sk-proj-abc...wxyz`` -> (``sk-proj-abc``, ``wxyz``); None when it shows no end."""
    if not redacted:
        return None
    for sep in _SEPARATORS:
        if sep in redacted:
            head, _, tail = redacted.partition(sep)
            tail = tail.lstrip(".*…")
            if len(tail) >= MIN_SUFFIX and head.startswith("sk-"):
                return head, tail
            return None
    return None


def _owner(raw: Mapping[str, Any]) -> str | None:
    owner = raw.get("owner") or {}
    if not isinstance(owner, Mapping):
        return None
    for who in (owner, owner.get("user") or {}, owner.get("service_account") or {}):
        if isinstance(who, Mapping) and (who.get("email") or who.get("name") or who.get("id")):
            return str(who.get("email") or who.get("name") or who.get("id"))
    return None


def inventory(
    admin_keys: Iterable[Mapping[str, Any]] | None,
    project_keys: Iterable[Mapping[str, Any]] | None,
) -> list[InventoryKey]:
    """The comparable keys of the tenant (keys whose redacted value shows an end)."""
    out: list[InventoryKey] = []
    for items, rtype in (
        (admin_keys or [], ResourceType.ADMIN_API_KEY),
        (project_keys or [], ResourceType.PROJECT_API_KEY),
    ):
        for raw in items:
            parsed = parse_redacted(raw.get("redacted_value"))
            if parsed is None or not raw.get("id"):
                continue
            out.append(
                InventoryKey(
                    key_id=str(raw["id"]),
                    resource_type=rtype,
                    prefix=parsed[0],
                    suffix=parsed[1],
                    name=raw.get("name"),
                    project_id=raw.get("project_id"),
                    project_name=raw.get("project_name"),
                    last_used_at=raw.get("last_used_at"),
                    owner=_owner(raw),
                )
            )
    return out


@dataclass(frozen=True)
class KeyAgreement:
    """One inventory key a matched value agrees with; no raw value, only counts and a mask."""

    key_id: str
    resource_type: str
    masked_value: str
    prefix_chars: int
    suffix_chars: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "resource_type": self.resource_type,
            "masked_value": self.masked_value,
            "prefix_chars": self.prefix_chars,
            "suffix_chars": self.suffix_chars,
        }


def compare(value: str, keys: Sequence[InventoryKey]) -> InventoryKey | None:
    """The one inventory key whose visible start and end agree with ``value``, if any.

    Two keys agreeing equally well prove nothing about which one leaked: no answer then.
    """
    best: list[tuple[int, InventoryKey]] = []
    for key in keys:
        if len(value) <= len(key.prefix) + len(key.suffix):
            continue
        if value.startswith(key.prefix) and value.endswith(key.suffix):
            best.append((len(key.prefix) + len(key.suffix), key))
    if not best:
        return None
    best.sort(key=lambda item: -item[0])
    if len(best) > 1 and best[0][0] == best[1][0]:
        return None
    return best[0][1]


@dataclass
class KeyProbe:
    """Given to the matcher: sees each OpenAI-key-shaped value, keeps only agreements.

    Inventory keys are indexed by the last ``MIN_SUFFIX`` characters of their visible end, so
    a value is compared with the few keys that can agree, not with the whole inventory.
    """

    keys: Sequence[InventoryKey]
    found: dict[str, KeyAgreement] = field(default_factory=dict)
    _by_tail: dict[str, list[InventoryKey]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for key in self.keys:
            self._by_tail.setdefault(key.suffix[-MIN_SUFFIX:], []).append(key)

    def wants(self, entry: Any) -> bool:
        return bool(self.keys) and is_openai_key_entry(entry)

    def observe(self, entry: Any, value: str) -> None:
        candidates = self._by_tail.get(value[-MIN_SUFFIX:])
        if not candidates:
            return
        key = compare(value, candidates)
        if key is None or key.key_id in self.found:
            return
        self.found[key.key_id] = KeyAgreement(
            key_id=key.key_id,
            resource_type=key.resource_type.value,
            masked_value=mask_value(value, getattr(entry, "mask", "secret"), 0),
            prefix_chars=len(key.prefix),
            suffix_chars=len(key.suffix),
        )

    def results(self) -> list[dict[str, Any]]:
        return [a.to_dict() for a in self.found.values()]


def leak_finding(
    agreement: Mapping[str, Any],
    key: InventoryKey,
    where: Mapping[str, Any],
    dlp_finding_type_id: str | None,
    content_created_at: float | None,
) -> DetectedFinding:
    """The ``leaked_own_api_key`` finding of one key seen in one place (``where``)."""
    prefix, suffix = int(agreement["prefix_chars"]), int(agreement["suffix_chars"])
    family = next((p for p in FAMILY_PREFIXES if key.prefix.startswith(p)), "")
    used_after: bool | None = None
    if key.last_used_at is not None and content_created_at is not None:
        used_after = float(key.last_used_at) > float(content_created_at)
    seen = {**where, "dlp_finding_type_id": dlp_finding_type_id}
    return DetectedFinding(
        finding_type=LEAKED_OWN_API_KEY,
        resource_id=key.key_id,
        resource_name=key.name,
        resource_type=key.resource_type,
        evidence={
            "key_id": key.key_id,
            "key_name": key.name,
            "key_owner": key.owner,
            "masked_value": agreement["masked_value"],
            "project_id": key.project_id,
            "project_name": key.project_name,
            "chars_agreed": {
                "prefix": prefix,
                "suffix": suffix,
                "total": prefix + suffix,
                "beyond_family_prefix": prefix - len(family) + suffix,
            },
            "last_used_at": iso(key.last_used_at),
            "content_created_at": iso(content_created_at),
            "used_after_content_appeared": used_after,
            "seen_in": [seen],
        },
    )


def merge_seen_in(old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]) -> list:
    """Places a key was seen, newest first, one per file/message id, at most MAX_SEEN_IN."""
    out: list[Mapping[str, Any]] = []
    ids: set[str] = set()
    for item in [*new, *old]:
        ident = str(item.get("file_id") or item.get("message_id") or "")
        if ident in ids:
            continue
        ids.add(ident)
        out.append(dict(item))
    return out[:MAX_SEEN_IN]
