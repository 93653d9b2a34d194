"""Leaked own keys in a scan: the key inventory for the DLP stage, findings, resolution.

The DLP batch compares OpenAI-key-shaped values with the inventory the same scan fetched
(``admin_keys``/``project_keys`` parts, still in the snapshot store) through a
``detectors.leaked_keys.KeyProbe``; only agreements (key id, counts, masked value) leave the
matcher. ``run_detect`` resolves the findings of keys the inventory no longer lists.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from detectors.dlp.decisions import FileRef
from detectors.leaked_keys import InventoryKey, inventory, leak_finding
from pipeline.runtime import get_runtime
from schemas.catalog import ResourceType
from schemas.findings import DetectedFinding
from store.leaks import resolve_gone_keys, with_stored_seen_in

KEY_PARTS = {"admin_keys": ResourceType.ADMIN_API_KEY, "project_keys": ResourceType.PROJECT_API_KEY}


def _key_parts(scan_id: int) -> dict[str, list[dict[str, Any]] | None]:
    store = get_runtime().snapshots
    out: dict[str, list[dict[str, Any]] | None] = {part: None for part in KEY_PARTS}
    for summary in store.summaries(scan_id).values():
        if not summary.get("ok"):
            continue
        for part, key in (summary.get("keys") or {}).items():
            if part in KEY_PARTS:
                out[part] = store.get(key)
    return out


def scan_inventory(scan_id: int) -> list[InventoryKey]:
    """The tenant's comparable keys as this scan fetched them (empty when both fetches failed)."""
    parts = _key_parts(scan_id)
    return inventory(parts["admin_keys"], parts["project_keys"])


def findings_for_content(
    where: dict[str, Any],
    content_created_at: float | None,
    agreements: list[dict[str, Any]],
    keys: list[InventoryKey],
    dlp_finding_type_id: str | None,
) -> list[DetectedFinding]:
    """Leak findings for one piece of content (a file, or a message: ``where`` says which,
    with ``file_id`` or ``message_id`` and its parent and owner)."""
    by_id = {k.key_id: k for k in keys}
    return [
        leak_finding(a, by_id[a["key_id"]], where, dlp_finding_type_id, content_created_at)
        for a in agreements
        if a.get("key_id") in by_id
    ]


def findings_for_file(
    ref: FileRef,
    agreements: list[dict[str, Any]],
    keys: list[InventoryKey],
    dlp_finding_type_id: str | None,
) -> list[DetectedFinding]:
    where = {
        "file_id": ref.file_id,
        "file_name": ref.name,
        "location": ref.kind,
        "parent_id": ref.parent_id,
        "parent_name": ref.parent_name,
        "owner_id": ref.owner_id,
        "owner_email": ref.owner_email,
    }
    return findings_for_content(where, ref.created_at, agreements, keys, dlp_finding_type_id)


def leak_refs(agreements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the file's DLP finding says about the leaked-key findings it caused."""
    return [
        {
            "finding_type_key": "leaked_own_api_key",
            "resource_type": a["resource_type"],
            "resource_id": a["key_id"],
        }
        for a in agreements
    ]


def merged(
    session: Session, tenant_id: int, detected: list[DetectedFinding]
) -> list[DetectedFinding]:
    return with_stored_seen_in(session, tenant_id, detected)


def resolve_revoked(session: Session, tenant_id: int, scan_id: int, now: Any) -> int:
    parts = _key_parts(scan_id)
    listed: dict[str, set[str] | None] = {
        rtype.value: None if parts[part] is None else {str(k.get("id")) for k in parts[part] or []}
        for part, rtype in KEY_PARTS.items()
    }
    return resolve_gone_keys(session, tenant_id=tenant_id, scan_id=scan_id, listed=listed, now=now)
