"""DLP in the database: custom profiles, the per-file cache, DLP finding lifecycle, watermark.

Predefined profiles live in code (``detectors.dlp.profiles.PREDEFINED``); custom ones are
``dlp_profiles`` rows holding the *spec* they were built from (regex entries, keywords).
A spec is vetted by ``custom_profile`` when it is added, so a pattern the engine cannot
compile, or one that could run away, is refused then, never at scan time.

The file cache (``dlp_file_cache``) keeps, per (tenant, file id), the listing fingerprint,
the content sha256, the profile-set version and the verdict with its masked evidence. It
never holds file content or a raw matched value.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from core.errors import UserError
from core.time import as_utc
from detectors.dlp.decisions import KIND_BY_TYPE_ID, CacheState
from detectors.dlp.messages import FINDING_TYPE as MESSAGE_FINDING_TYPE
from detectors.dlp.profiles import (
    PREDEFINED,
    Profile,
    ProfileError,
    custom_profile,
    profile_set_version,
)
from detectors.lifecycle import Action, Stored, plan_lifecycle
from schemas.tables import DlpFileCache, DlpProfileRow, Finding, FindingStatus, ScanRun, Tenant


class DlpProfileError(UserError):
    """A custom profile cannot be added, found or removed; the message says why."""


# --------------------------------------------------------------------------- profiles


@dataclass(frozen=True)
class ProfileInfo:
    """A profile as the CLI shows it (predefined or custom)."""

    name: str
    predefined: bool
    description: str
    profile: Profile
    spec: Mapping[str, Any] | None = None
    used_by: tuple[str, ...] = ()


def _build(name: str, spec: Mapping[str, Any], description: str) -> Profile:
    include_test_values = bool(spec.get("include_test_values", False))
    base = spec.get("base")
    if base:  # a predefined profile's entries under this name, with this profile's switches
        if base not in PREDEFINED:
            raise ProfileError(f"unknown predefined profile {base!r} to build on")
        return dataclasses.replace(
            PREDEFINED[base],
            name=name,
            description=description or PREDEFINED[base].description,
            predefined=False,
            ocr=bool(spec.get("ocr")),
            include_test_values=include_test_values,
        )
    return custom_profile(
        name,
        list(spec.get("regex_entries") or []),
        list(spec.get("keywords") or []),
        description,
        ocr=bool(spec.get("ocr")),
        include_test_values=include_test_values,
    )


def add_profile(
    session: Session,
    name: str,
    regex_entries: Sequence[Mapping[str, Any]],
    keywords: Sequence[str] = (),
    description: str = "",
    ocr: bool = False,
    *,
    include_test_values: bool = False,
    base: str | None = None,
) -> ProfileInfo:
    """Vet and store a custom profile; ``DlpProfileError`` (nothing written) if it is bad.

    ``regex_entries`` items are ``{"name", "pattern", "min_count"?}`` as ``custom_profile``
    takes them. ``ocr`` is kept in the spec (``"ocr": true``): no column needed. ``base``
    names a predefined profile whose entries this one reuses (then no regexes or keywords).
    ``include_test_values`` makes the profile report published test values (network test
    cards, documentation keys), skipped otherwise; it is stored in the spec, so it travels
    with the profile.
    """
    if base is not None and (regex_entries or keywords):
        raise DlpProfileError("a profile built on a predefined one takes no regexes or keywords")
    name = name.strip()
    spec = {
        "regex_entries": [
            {
                "name": str(e.get("name", "")).strip(),
                "pattern": e.get("pattern"),
                "min_count": e.get("min_count", 1),
            }
            for e in regex_entries
        ],
        "keywords": [k.strip() for k in keywords if k.strip()],
    }
    if ocr:
        spec["ocr"] = True
    if include_test_values:
        spec["include_test_values"] = True
    if base is not None:
        spec = {"base": base, "include_test_values": include_test_values, "ocr": ocr}
    try:
        profile = _build(name, spec, description)
    except ProfileError as exc:
        raise DlpProfileError(f"profile {name!r} was not added: {exc}") from None
    existing = session.exec(select(DlpProfileRow).where(DlpProfileRow.name == name)).first()
    if existing is not None:
        raise DlpProfileError(
            f"a custom profile named {name!r} already exists: remove it first "
            f"(`casb dlp profile remove {name!r}`) or choose another name"
        )
    now = datetime.now(UTC)
    session.add(
        DlpProfileRow(
            name=name, description=description or None, spec=spec, created_at=now, updated_at=now
        )
    )
    session.flush()
    return ProfileInfo(name, False, description, profile, spec)


def _tenants_using(session: Session) -> dict[str, list[str]]:
    users: dict[str, list[str]] = {}
    for slug, names in session.exec(select(Tenant.slug, Tenant.dlp_profiles)).all():
        for name in names or []:
            users.setdefault(name, []).append(slug)
    return users


def list_profiles(session: Session) -> list[ProfileInfo]:
    """Predefined profiles first (code order), then custom ones by name."""
    users = _tenants_using(session)
    out = [
        ProfileInfo(p.name, True, p.description, p, None, tuple(sorted(users.get(p.name, []))))
        for p in PREDEFINED.values()
    ]
    rows = session.exec(select(DlpProfileRow).order_by(col(DlpProfileRow.name))).all()
    for row in rows:
        out.append(_info(row, users))
    return out


def _info(row: DlpProfileRow, users: Mapping[str, list[str]]) -> ProfileInfo:
    description = row.description or ""
    try:
        profile = _build(row.name, row.spec, description)
    except ProfileError as exc:  # a row written by hand or by an older, laxer version
        raise DlpProfileError(
            f"stored custom profile {row.name!r} is no longer valid ({exc}): "
            f"remove it and add it again"
        ) from None
    return ProfileInfo(
        row.name,
        False,
        description,
        profile,
        dict(row.spec),
        tuple(sorted(users.get(row.name, []))),
    )


def get_profile(session: Session, name: str) -> ProfileInfo:
    """A predefined or custom profile by exact name; ``DlpProfileError`` if unknown."""
    users = _tenants_using(session)
    if name in PREDEFINED:
        p = PREDEFINED[name]
        return ProfileInfo(p.name, True, p.description, p, None, tuple(sorted(users.get(name, []))))
    row = session.exec(select(DlpProfileRow).where(DlpProfileRow.name == name)).first()
    if row is None:
        raise DlpProfileError(f"unknown DLP profile {name!r}: see `casb dlp profile list`")
    return _info(row, users)


def remove_profile(session: Session, name: str) -> None:
    """Delete a custom profile; refused for predefined ones and while any tenant uses it."""
    if name in PREDEFINED:
        raise DlpProfileError(f"{name!r} is a predefined profile and cannot be removed")
    row = session.exec(select(DlpProfileRow).where(DlpProfileRow.name == name)).first()
    if row is None:
        raise DlpProfileError(f"unknown custom DLP profile {name!r}: see `casb dlp profile list`")
    users = sorted(_tenants_using(session).get(name, []))
    if users:
        raise DlpProfileError(
            f"profile {name!r} is used by tenant(s) {', '.join(users)}: detach it first "
            "(`casb tenant update TENANT --dlp-profile ...` or --clear-dlp-profiles)"
        )
    session.delete(row)
    session.flush()


def resolve_profiles(session: Session, names: Iterable[str]) -> list[Profile]:
    """The profiles behind a tenant's profile names: predefined from code, custom from rows."""
    wanted = list(dict.fromkeys(names))
    custom_names = [n for n in wanted if n not in PREDEFINED]
    rows: dict[str, DlpProfileRow] = {}
    if custom_names:
        found = session.exec(
            select(DlpProfileRow).where(col(DlpProfileRow.name).in_(custom_names))
        ).all()
        rows = {r.name: r for r in found}
    missing = [n for n in custom_names if n not in rows]
    if missing:
        raise DlpProfileError(
            f"unknown DLP profile(s) {', '.join(map(repr, missing))}: add them with "
            "`casb dlp profile add` or detach them from the tenant"
        )
    out: list[Profile] = []
    for name in wanted:
        if name in PREDEFINED:
            out.append(PREDEFINED[name])
        else:
            out.append(_info(rows[name], {}).profile)
    return out


def profile_sets_in_use(session: Session, limit: int) -> list[list[Profile]]:
    """The distinct profile sets of enabled tenants (at most ``limit``, the most used first);
    a set naming a profile that no longer resolves is left out."""
    counts: dict[tuple[str, ...], int] = {}
    rows = session.exec(select(Tenant.dlp_profiles).where(col(Tenant.enabled).is_(True)))
    for names in rows.all():
        if names:
            wanted = tuple(dict.fromkeys(names))
            counts[wanted] = counts.get(wanted, 0) + 1
    sets: list[list[Profile]] = []
    for names in sorted(counts, key=lambda n: -counts[n])[:limit]:
        try:
            sets.append(resolve_profiles(session, names))
        except DlpProfileError:
            continue
    return sets


def tenant_profile_version(session: Session, tenant: Tenant) -> str | None:
    """The tenant's profile-set version, or None when it has no DLP profiles."""
    if not tenant.dlp_profiles:
        return None
    return profile_set_version(resolve_profiles(session, tenant.dlp_profiles))


# --------------------------------------------------------------------------- file cache


def load_cache(session: Session, tenant_id: int, file_ids: Iterable[str]) -> dict[str, CacheState]:
    ids = sorted(set(file_ids))
    if not ids:
        return {}
    rows = session.exec(
        select(DlpFileCache).where(
            DlpFileCache.tenant_id == tenant_id, col(DlpFileCache.file_id).in_(ids)
        )
    ).all()
    return {
        r.file_id: CacheState(
            r.listing_fingerprint, r.content_sha256, r.profile_version, r.outcome, dict(r.result)
        )
        for r in rows
    }


@dataclass(frozen=True)
class CacheWrite:
    file_id: str
    listing_fingerprint: str | None
    content_sha256: str | None
    profile_version: str
    outcome: str
    result: dict[str, Any]


#: The table itself: a Core insert of many rows, without the ORM's bulk-insert bookkeeping.
DLP_CACHE_TABLE: Any = DlpFileCache.__table__  # type: ignore[attr-defined]


@cache
def _cache_upsert(dialect: str) -> Any:
    """The cache rows' upsert of ``dialect``, built once (not its ``excluded`` columns and
    conflict clause again for every write)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(DLP_CACHE_TABLE)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(DLP_CACHE_TABLE)
    return stmt.on_conflict_do_update(
        index_elements=["tenant_id", "file_id"],
        set_={
            name: getattr(stmt.excluded, name)
            for name in (
                "listing_fingerprint",
                "content_sha256",
                "profile_version",
                "outcome",
                "result",
                "scanned_at",
            )
        },
    )


def save_cache(session: Session, tenant_id: int, writes: Sequence[CacheWrite]) -> None:
    """Upsert cache rows by (tenant, file id): a redelivered batch overwrites, never duplicates."""
    if not writes:
        return
    now = datetime.now(UTC)
    values = [
        {
            "tenant_id": tenant_id,
            "file_id": w.file_id,
            "listing_fingerprint": w.listing_fingerprint,
            "content_sha256": w.content_sha256,
            "profile_version": w.profile_version,
            "outcome": w.outcome,
            "result": w.result,
            "scanned_at": now,
        }
        for w in writes
    ]
    session.execute(_cache_upsert(session.get_bind().dialect.name), values)
    session.flush()


# --------------------------------------------------------------------------- lifecycle


def resolve_dlp_findings(
    session: Session,
    *,
    tenant_id: int,
    scan_id: int,
    keys: set[tuple[str, str]],
    now: datetime,
) -> dict[str, int]:
    """Resolve the given DLP findings (type id, file id) under the lifecycle's rules.

    Rows are locked; an active ignore stays, an expired one is lifted with the resolution,
    and a row already written by a newer scan is left alone (``detectors.lifecycle``).
    Message findings (``chatgpt_message_dlp``) are resolved by the same rules.
    """
    keys = {k for k in keys if k[0] in DLP_TYPE_IDS}
    if not keys:
        return {}
    rows = session.exec(
        select(Finding)
        .where(
            Finding.tenant_id == tenant_id,
            col(Finding.finding_type_id).in_(sorted({k[0] for k in keys})),
            col(Finding.resource_id).in_(sorted({k[1] for k in keys})),
        )
        .with_for_update()
    ).all()
    by_key = {
        (r.finding_type_id, r.resource_id): r
        for r in rows
        if (r.finding_type_id, r.resource_id) in keys
    }
    stored = [
        Stored(r.finding_type_id, r.resource_id, r.status, as_utc(r.ignored_until), r.last_scan_id)
        for r in by_key.values()
    ]
    plan = plan_lifecycle(stored, [], set(DLP_TYPE_IDS), scan_id=scan_id, now=now)
    for key, action in plan.resolve.items():
        row = by_key[key]
        values: dict[str, Any] = {
            "status": FindingStatus.RESOLVED.value,
            "resolved_at": now,
            "last_scan_id": scan_id,
        }
        if action is Action.UNIGNORE_RESOLVE:
            values |= {"ignored_reason": None, "ignored_until": None, "suppression_id": None}
        session.execute(update(Finding).where(col(Finding.id) == row.id).values(**values))
    session.flush()
    return plan.summary()


DLP_TYPE_IDS = frozenset({*KIND_BY_TYPE_ID, MESSAGE_FINDING_TYPE.finding_type_id})


def open_message_ids(session: Session, tenant_id: int) -> frozenset[str]:
    """Resource ids (message ids) of the tenant's message findings that are not resolved."""
    rows = session.exec(
        select(Finding.resource_id).where(
            Finding.tenant_id == tenant_id,
            Finding.finding_type_id == MESSAGE_FINDING_TYPE.finding_type_id,
            Finding.status != FindingStatus.RESOLVED.value,
        )
    ).all()
    return frozenset(rows)


def open_dlp_keys(session: Session, tenant_id: int) -> set[tuple[str, str]]:
    """(type id, file id) of the tenant's stored DLP findings that are not resolved."""
    rows = session.exec(
        select(Finding.finding_type_id, Finding.resource_id).where(
            Finding.tenant_id == tenant_id,
            col(Finding.finding_type_id).in_(sorted(KIND_BY_TYPE_ID)),
            Finding.status != FindingStatus.RESOLVED.value,
        )
    ).all()
    return {(t, r) for t, r in rows}


# --------------------------------------------------------------------------- watermark


def _confirmed_version(session: Session, tenant: Tenant) -> str | None:
    """The profile-set version of the tenant's newest scan that confirmed a watermark."""
    runs = session.exec(
        select(ScanRun)
        .where(ScanRun.tenant_id == tenant.id)
        .order_by(col(ScanRun.id).desc())
        .limit(50)
    ).all()
    for run in runs:
        dlp = (run.parts or {}).get("dlp") or {}
        if dlp.get("watermark_confirmed"):
            version = dlp.get("profile_version")
            return str(version) if version is not None else None
    return None


def listing_watermark(session: Session, tenant: Tenant, version: str | None) -> float:
    """The ``since_timestamp`` for this scan's conversation listing.

    The stored watermark only holds for the profile set it was earned with (recorded on the
    scan run that last confirmed it). When the profiles changed since, every conversation is listed
    again (0), so changed profiles rescan conversation files too: under the new profile-set
    version every listed file is downloaded and matched again.
    """
    if tenant.conversation_watermark <= 0 or version is None or tenant.id is None:
        return 0.0
    return tenant.conversation_watermark if _confirmed_version(session, tenant) == version else 0.0


def logs_watermark(session: Session, tenant: Tenant, version: str | None) -> str | None:
    """The Logs Platform ``after`` for this scan's CONVERSATION_MESSAGE files.

    Same rule as ``listing_watermark``: it holds only for the profile set it was earned with;
    otherwise every file still kept is read again (None).
    """
    if not tenant.logs_watermark or version is None or tenant.id is None:
        return None
    return tenant.logs_watermark if _confirmed_version(session, tenant) == version else None
