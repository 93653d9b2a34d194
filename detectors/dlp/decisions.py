"""The DLP stage's decisions as pure functions: no I/O, no Celery, no database.

``pipeline/dlp.py`` feeds these with listings from the snapshot store and cache rows
from PostgreSQL, and carries out what they decide. Kept apart so every rule that decides
whether a file is downloaded, re-matched, reported or resolved is unit-tested on its own.

Vocabulary:

* A **file ref** is one listed file (conversation, GPT or project file) with the context an
  operator needs in the finding: parent id and name, owner, file name.
* The **listing fingerprint** hashes what the listing says about a file (kind, id, name,
  creation time). File ids are immutable uploads, so an unchanged fingerprint under an
  unchanged profile-set version means the cached verdict still holds: no download at all.
* The **content sha256** catches the rarer case of a changed listing over the same bytes:
  the file is downloaded, but the cached verdict is reused without matching again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from schemas.catalog import BY_KEY, FindingType
from schemas.findings import DetectedFinding

FILE_KINDS: tuple[str, ...] = ("conversation", "gpt", "project")
LISTING_PARTS: dict[str, str] = {
    "conversation": "conversation_files",
    "gpt": "gpt_files",
    "project": "project_files",
}
FINDING_TYPES: dict[str, FindingType] = {
    "conversation": BY_KEY["dlp_conversation_file"],
    "gpt": BY_KEY["dlp_gpt_file"],
    "project": BY_KEY["dlp_project_file"],
}
KIND_BY_TYPE_ID: dict[str, str] = {ft.finding_type_id: kind for kind, ft in FINDING_TYPES.items()}

MATCHED, CLEAN, SKIPPED = "matched", "clean", "skipped"
#: Skip reasons that come from the file itself (or its permanent absence): the same listing
#: fingerprint yields the same result, so they are cached like a verdict.
PERMANENT_SKIPS = frozenset(
    {
        "corrupt",
        "encrypted",
        "too_large",
        "zip_bomb",
        "unsupported_type",
        "timeout",
        "not_found",
        "expired",
        # The file killed the worker processing it on every delivery (memory, time):
        # the same fingerprint would again.
        "worker_lost",
    }
)
#: A download the storage host sent too slowly (past the download deadline). At first an
#: error, tried again next scan (the row only counts the attempts); once it happened on
#: ``limit`` attempts in a row for the same listing (``too_slow_result``), the file is
#: ``skipped: too_slow`` and that holds like a permanent skip: never clean, never retried
#: until the file or the profiles change.
TOO_SLOW = "too_slow"
#: Seconds subtracted from the new conversation watermark: conversations updated while the
#: listing was paged through are listed again next time rather than missed.
WATERMARK_MARGIN = 60.0

_PARENT_FIELDS = {
    "conversation": ("conversation_id", "conversation_title"),
    "gpt": ("gpt_id", "gpt_name"),
    "project": ("project_id", "project_name"),
}


@dataclass(frozen=True)
class FileRef:
    """One listed file, as the batch carries it (ids and names only, never content)."""

    kind: str
    file_id: str
    name: str | None = None
    created_at: float | None = None
    parent_id: str | None = None
    parent_name: str | None = None
    owner_id: str | None = None
    owner_email: str | None = None
    visibility: str | None = None

    @classmethod
    def from_listing(cls, kind: str, item: Mapping[str, Any]) -> FileRef:
        """Build from a listing entry of ``pipeline.fetchers`` (unknown keys are ignored)."""
        return cls(
            kind=kind,
            file_id=str(item["file_id"]),
            name=_opt_str(item.get("name")),
            created_at=_opt_float(item.get("created_at")),
            parent_id=_opt_str(item.get("parent_id")),
            parent_name=_opt_str(item.get("parent_name")),
            owner_id=_opt_str(item.get("user_id")),
            owner_email=_opt_str(item.get("owner_email")),
            visibility=_opt_str(item.get("visibility")),
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FileRef:
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in fields})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def fingerprint(self) -> str:
        return listing_fingerprint(self)

    @property
    def display_name(self) -> str:
        return self.name or self.file_id


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _opt_float(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def listing_fingerprint(ref: FileRef) -> str:
    """Hash of what the listing says about the file's content identity.

    Parent, owner and visibility are left out on purpose: moving a file or renaming its
    conversation changes the finding's context (refreshed from the listing) but not its bytes.
    """
    doc = [ref.kind, ref.file_id, ref.name, ref.created_at]
    blob = json.dumps(doc, separators=(",", ":")).encode()
    return "l1-" + hashlib.sha256(blob).hexdigest()[:40]


def refs_from_listings(listings: Mapping[str, list[dict[str, Any]] | None]) -> list[FileRef]:
    """Every listed file of the available listings, deduplicated by (kind, file id)."""
    out: dict[tuple[str, str], FileRef] = {}
    for kind in FILE_KINDS:
        for item in listings.get(kind) or []:
            if not isinstance(item, Mapping) or not item.get("file_id"):
                continue
            ref = FileRef.from_listing(kind, item)
            out.setdefault((kind, ref.file_id), ref)
    return list(out.values())


def make_batches(refs: Sequence[FileRef], size: int) -> list[list[FileRef]]:
    """Split into batches of at most ``size`` files (small: they spread over dlp workers)."""
    size = max(1, size)
    return [list(refs[i : i + size]) for i in range(0, len(refs), size)]


# --------------------------------------------------------------------------- cache decisions


@dataclass(frozen=True)
class CacheState:
    """The cached knowledge of one file (a ``dlp_file_cache`` row)."""

    listing_fingerprint: str | None
    content_sha256: str | None
    profile_version: str
    outcome: str
    result: Mapping[str, Any]

    @property
    def final(self) -> bool:
        """A verdict that holds until the file or the profiles change."""
        if self.outcome in (MATCHED, CLEAN):
            return True
        if self.outcome != SKIPPED:
            return False
        reason = self.result.get("reason")
        return reason in PERMANENT_SKIPS or (
            reason == TOO_SLOW and bool(self.result.get("given_up"))
        )


def too_slow_result(cached: CacheState | None, fingerprint: str, limit: int) -> dict[str, Any]:
    """The cache row's result after one more download that was too slow: the attempts in a
    row for this listing fingerprint, and ``given_up`` once they reach ``limit``."""
    before = 0
    if (
        cached is not None
        and cached.outcome == SKIPPED
        and cached.result.get("reason") == TOO_SLOW
        and cached.listing_fingerprint == fingerprint
    ):
        try:
            before = int(cached.result.get("attempts") or 0)
        except (TypeError, ValueError):
            before = 0
    attempts = before + 1
    given_up = attempts >= max(1, limit)
    return {
        "reason": TOO_SLOW,
        "attempts": attempts,
        "given_up": given_up,
        "detail": f"the download was too slow {attempts} time(s) in a row"
        + ("" if given_up else f"; tried again next scan (up to {max(1, limit)})"),
    }


class Step(StrEnum):
    USE_CACHE = "use_cache"  # nothing to download: the cached verdict holds
    DOWNLOAD = "download"


def before_download(cached: CacheState | None, fingerprint: str, version: str) -> Step:
    """Skip the file entirely when its listing and the profile set are both unchanged."""
    if (
        cached is not None
        and cached.final
        and cached.listing_fingerprint == fingerprint
        and cached.profile_version == version
    ):
        return Step.USE_CACHE
    return Step.DOWNLOAD


def reusable_after_download(cached: CacheState | None, sha256: str, version: str) -> bool:
    """Same bytes, same profiles: the cached verdict is reused without matching again."""
    return (
        cached is not None
        and cached.outcome in (MATCHED, CLEAN)
        and cached.content_sha256 == sha256
        and cached.profile_version == version
    )


# --------------------------------------------------------------------------- findings


def build_evidence(ref: FileRef, match_evidence: Mapping[str, Any]) -> dict[str, Any]:
    """The finding's evidence: where the file lives, who owns it, what matched (masked).

    ``match_evidence`` is ``FileMatch.to_evidence()`` (profiles, entries with counts and
    masked excerpts); nothing else of the match is copied, so no raw value can slip in.
    """
    parent_id_key, parent_name_key = _PARENT_FIELDS[ref.kind]
    evidence: dict[str, Any] = {
        "file_id": ref.file_id,
        "file_name": ref.name,
        "location": ref.kind,
        parent_id_key: ref.parent_id,
        parent_name_key: ref.parent_name,
        "owner_id": ref.owner_id,
        "owner_email": ref.owner_email,
    }
    if ref.kind in ("gpt", "project"):
        evidence["visibility"] = ref.visibility
    entries: list[dict[str, Any]] = [
        {
            "entry_id": str(e.get("entry_id")),
            "entry_name": str(e.get("entry_name")),
            "profile": str(e.get("profile")),
            "count": int(e.get("count", 0)),
            "excerpts": [str(x) for x in e.get("excerpts", [])],
            # matches read from an image by OCR (detectors.dlp.document)
            **({"ocr_count": int(e["ocr_count"])} if "ocr_count" in e else {}),
        }
        for e in match_evidence.get("entries", [])
    ]
    evidence |= {
        "profiles": [str(p) for p in match_evidence.get("profiles", [])],
        "entries": entries,
        "match_count": sum(int(e["count"]) for e in entries),
        "profile_version": match_evidence.get("policy_version"),
    }
    ocr = match_evidence.get("ocr")
    if isinstance(ocr, Mapping):
        evidence["ocr"] = {
            "images_read": int(ocr.get("images_read", 0)),
            "images_unread": int(ocr.get("images_unread", 0)),
            "unavailable": bool(ocr.get("unavailable")),
            "matches": int(ocr.get("matches", 0)),
        }
    if match_evidence.get("truncated"):  # part of the file was not read (a cap, a bad page)
        evidence["truncated"] = str(match_evidence["truncated"])[:200]
    return evidence


def detected_finding(ref: FileRef, match_evidence: Mapping[str, Any]) -> DetectedFinding:
    """The DLP finding of a matched file (resource id = file id, name = file name)."""
    return DetectedFinding(
        finding_type=FINDING_TYPES[ref.kind],
        resource_id=ref.file_id,
        resource_name=ref.display_name,
        evidence=build_evidence(ref, match_evidence),
    )


# --------------------------------------------------------------------------- lifecycle


@dataclass(frozen=True)
class ListingState:
    """What the scan knows about one kind's listing."""

    ok: bool  # the fetch that lists this kind succeeded
    file_ids: frozenset[str] = frozenset()
    complete: bool = True  # lists every file (False: conversations since a watermark)


def resolvable_keys(
    stored: Iterable[tuple[str, str]],
    listings: Mapping[str, ListingState],
    outcomes: Mapping[tuple[str, str], str],
) -> set[tuple[str, str]]:
    """Stored DLP findings (type id, file id) this scan proves gone.

    A finding resolves only when its kind's listing succeeded and either the file was listed
    and came back clean this scan, or the listing is complete and no longer lists the file.
    A file that was skipped, failed, or (conversation files since a watermark) not listed at
    all keeps its finding as it is.
    """
    out: set[tuple[str, str]] = set()
    for type_id, file_id in stored:
        kind = KIND_BY_TYPE_ID.get(type_id)
        if kind is None:
            continue
        listing = listings.get(kind)
        if listing is None or not listing.ok:
            continue
        if file_id in listing.file_ids:
            if outcomes.get((kind, file_id)) == CLEAN:
                out.add((type_id, file_id))
        elif listing.complete:
            out.add((type_id, file_id))
    return out


def next_watermark(
    current: float,
    *,
    listing_ok: bool,
    stage_ok: bool,
    newest_update: float | None,
    scan_started: float,
) -> float:
    """The conversation watermark after this scan (never moves back, moves only on success).

    The new value is the newest conversation update the API reported, capped by the scan's
    start (in case the API's clock runs ahead), minus a margin for conversations updated
    while the listing was paged. Nothing listed, a failed listing or any failed DLP batch
    leaves it where it was, so those conversations are listed again next scan.
    """
    if not (listing_ok and stage_ok) or newest_update is None:
        return current
    candidate = min(newest_update, scan_started) - WATERMARK_MARGIN
    return max(current, candidate)
