"""The tenant registry: validation, encrypted credentials, create/update/remove/import.

Validation happens entirely before anything is written, and each command runs in one
transaction, so bad input (a duplicate slug, an unreadable key file, a bad URL, an
unknown DLP profile) leaves the database exactly as it was.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr
from sqlmodel import Session, select

from core.durations import parse_duration
from core.errors import UserError
from core.settings import Cipher
from core.time import iso_z
from schemas.catalog import BY_ID, FindingType, Severity, lookup
from schemas.findings import Thresholds
from schemas.tables import Tenant, utcnow
from store.crypto import decrypt_secret, encrypt_secret, redact_key

DEFAULT_ADMIN_API_BASE = "https://api.openai.com/v1"
DEFAULT_COMPLIANCE_API_BASE = "https://api.chatgpt.com/v1"
#: Whole-string pattern (used with ``fullmatch``): ``$`` would let a trailing newline in.
SLUG_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
THRESHOLD_NAMES = tuple(Thresholds.model_fields)


class TenantInputError(UserError, ValueError):
    """Bad tenant input; the message is one line an operator can act on."""


@dataclass(frozen=True)
class KeySource:
    """Where a credential comes from: an environment variable or a file, never argv.

    Programs that already hold a key (the demo, tests) pass it as ``value``; the CLI never
    does, so a key still cannot reach a command line.
    """

    env: str | None = None
    file: str | None = None
    value: SecretStr | None = None

    def describe(self) -> str:
        if self.value is not None:
            return "key given by the caller"
        return f"environment variable {self.env}" if self.env else f"file {self.file}"

    def read(self, label: str) -> SecretStr:
        if self.value is not None:
            value = self.value.get_secret_value()
        elif self.env:
            from_env = os.environ.get(self.env)
            if from_env is None:
                raise TenantInputError(f"{label}: environment variable {self.env} is not set")
            value = from_env
        elif self.file:
            try:
                value = Path(self.file).expanduser().read_text(encoding="utf-8")
            except OSError as exc:
                raise TenantInputError(
                    f"{label}: cannot read key file {self.file}: {exc.strerror or exc}"
                ) from None
            except UnicodeDecodeError:
                raise TenantInputError(f"{label}: key file {self.file} is not text") from None
        else:
            raise TenantInputError(f"{label}: give an environment variable or a file")
        value = value.strip()
        if not value:
            raise TenantInputError(f"{label}: the {self.describe()} is empty")
        if any(ch.isspace() for ch in value) or len(value) > 400:
            raise TenantInputError(f"{label}: the {self.describe()} does not hold a single key")
        # Imported here: the connectors (httpx) are needed to register a tenant, not to look
        # one up, and `casb scan` starts faster without them.
        from connectors.destinations import printable_key_problem

        problem = printable_key_problem(value)
        if problem:
            # Never the key, nor the character: only where it came from.
            raise TenantInputError(f"{label}: the {self.describe()} is not a key ({problem})")
        return SecretStr(value)


@dataclass
class TenantInput:
    """Everything `tenant add`/`import` may set. Keys are sources, read at validation."""

    slug: str
    name: str | None = None
    org_id: str | None = None
    workspace_id: str | None = None
    admin_key: KeySource | None = None
    compliance_key: KeySource | None = None
    admin_api_base: str | None = None
    compliance_api_base: str | None = None
    dlp_profiles: Sequence[str] | None = None
    thresholds: dict[str, int] | None = None
    schedule: str | None = None
    enabled: bool | None = None
    # TYPE (FindingTypeID or catalog key) -> severity. Merged into the tenant's overrides;
    # with clear_severity_overrides the old ones are dropped first.
    severity_overrides: Mapping[str, Any] | None = None
    clear_severity_overrides: bool = False


def parse_schedule(text: str) -> int:
    """``24h``, ``30m``, ``2d``, ``1w`` or ``3600`` (plain seconds) -> seconds; at least 5
    minutes (the grammar of ``core.durations``)."""
    try:
        seconds = int(parse_duration(text, option="schedule", bare_seconds=True).total_seconds())
    except UserError as exc:
        raise TenantInputError(str(exc)) from None
    if seconds < 300:
        raise TenantInputError(f"schedule {text!r} is too frequent: the minimum is 5m")
    return seconds


def format_schedule(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def parse_threshold_pairs(pairs: Iterable[str]) -> dict[str, int]:
    result: dict[str, int] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise TenantInputError(
                f"bad threshold {pair!r}: use NAME=DAYS, e.g. unused_key_days=45"
            )
        try:
            result[name.strip()] = int(value)
        except ValueError:
            raise TenantInputError(f"bad threshold {pair!r}: DAYS must be a whole number") from None
    return result


def validate_thresholds(values: dict[str, Any]) -> dict[str, int]:
    unknown = sorted(set(values) - set(THRESHOLD_NAMES))
    if unknown:
        raise TenantInputError(
            f"unknown threshold {', '.join(unknown)}: known are {', '.join(THRESHOLD_NAMES)}"
        )
    try:
        Thresholds(**values)
    except ValueError:
        raise TenantInputError("thresholds must be whole days between 1 and 3650") from None
    return {k: int(v) for k, v in values.items()}


SEVERITY_NAMES = tuple(s.value for s in Severity)


def parse_severity_pairs(pairs: Iterable[str]) -> dict[str, str]:
    """``TYPE=SEVERITY`` strings (CLI ``--severity``) -> {TYPE: SEVERITY}, not yet validated."""
    result: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise TenantInputError(
                f"bad severity override {pair!r}: use TYPE=SEVERITY, e.g. inactive_user=high"
            )
        result[name.strip()] = value.strip()
    return result


def validate_severity_overrides(values: Mapping[str, Any]) -> dict[str, str]:
    """{TYPE: SEVERITY} -> {finding_type_id: severity}; TYPE is a FindingTypeID or key.

    Stored by id (the stable identifier findings carry), so a renamed key cannot orphan an
    override. Two spellings of one type in the same input must agree.
    """
    result: dict[str, str] = {}
    for name, severity in values.items():
        try:
            finding_type = lookup(str(name).strip())
        except KeyError:
            raise TenantInputError(
                f"unknown finding type {name!r} in severity overrides: "
                "use a FindingTypeID or a key from `casb catalog`"
            ) from None
        text = severity.strip().lower() if isinstance(severity, str) else None
        if text not in SEVERITY_NAMES:
            raise TenantInputError(
                f"bad severity for {finding_type.key}: use one of {', '.join(SEVERITY_NAMES)}"
            )
        previous = result.get(finding_type.finding_type_id)
        if previous is not None and previous != text:
            raise TenantInputError(
                f"finding type {finding_type.key} is given two severities ({previous}, {text})"
            )
        result[finding_type.finding_type_id] = text
    return result


def effective_severity(tenant: Tenant | None, finding_type: FindingType) -> Severity:
    """The severity findings of this type get for this tenant: its override, else the catalog's.

    The one place overrides apply (store/findings.py calls it for posture and DLP upserts);
    a stored value that is no longer a severity falls back to the catalog's default.
    """
    overrides = tenant.severity_overrides if tenant is not None else None
    value = (overrides or {}).get(finding_type.finding_type_id)
    try:
        return Severity(value) if value is not None else finding_type.severity
    except ValueError:
        return finding_type.severity


def severity_overrides_by_key(tenant: Tenant) -> dict[str, str]:
    """The tenant's overrides keyed by readable finding type key (what `show` prints)."""
    out: dict[str, str] = {}
    for type_id, severity in (tenant.severity_overrides or {}).items():
        found = BY_ID.get(type_id)
        out[found.key if found else type_id] = severity
    return dict(sorted(out.items()))


def validate_url(label: str, url: str) -> str:
    """An API base URL: ``https``, or ``http`` to a loopback address only (the key is sent
    to it in a header, never in cleartext over a network)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TenantInputError(f"bad {label} {url!r}: use an http(s) URL such as {_default(label)}")
    from connectors.access import allowed_hosts
    from connectors.destinations import api_base_problem

    problem = api_base_problem(url, allowed_hosts())
    if problem:
        raise TenantInputError(f"bad {label} {url!r}: {problem} (e.g. {_default(label)})")
    return url.rstrip("/")


def _default(label: str) -> str:
    return DEFAULT_COMPLIANCE_API_BASE if "compliance" in label else DEFAULT_ADMIN_API_BASE


def known_profile_names(session: Session) -> set[str]:
    """Predefined DLP profiles (in code) plus custom ones (in the database)."""
    from schemas.tables import DlpProfileRow

    names = set(predefined_profile_names())
    names.update(session.exec(select(DlpProfileRow.name)).all())
    return names


def predefined_profile_names() -> list[str]:
    from detectors.dlp.profiles import PREDEFINED

    return list(PREDEFINED)


def validate_profiles(session: Session, names: Sequence[str]) -> list[str]:
    known = known_profile_names(session)
    unknown = [n for n in names if n not in known]
    if unknown:
        listed = "; ".join(sorted(known)) or "none"
        raise TenantInputError(
            f"unknown DLP profile {', '.join(map(repr, unknown))}: known profiles are {listed} "
            "(add custom ones with `casb dlp profile add`)"
        )
    return list(dict.fromkeys(names))


def get_tenant(session: Session, slug_or_id: str | int) -> Tenant:
    tenant = find_tenant(session, slug_or_id)
    if tenant is None:
        raise TenantInputError(f"unknown tenant {slug_or_id!r}: see `casb tenant list`")
    return tenant


def find_tenant(session: Session, slug_or_id: str | int) -> Tenant | None:
    """The tenant with this slug, else (for a number) this id.

    The slug is tried first: slugs may be all digits, and `casb tenant remove 7` must never
    delete the tenant with id 7 when another tenant's slug is "7". Tasks pass ints (ids).
    """
    if isinstance(slug_or_id, str):
        found = find_by_slug(session, slug_or_id)
        if found is not None or not slug_or_id.isdigit():
            return found
    return session.get(Tenant, int(slug_or_id))


def find_by_slug(session: Session, slug: str) -> Tenant | None:
    return session.exec(select(Tenant).where(Tenant.slug == slug)).first()


def list_tenants(session: Session) -> list[Tenant]:
    return list(session.exec(select(Tenant).order_by(Tenant.slug)).all())


def tenant_slugs(session: Session) -> dict[int, str]:
    """Tenant id -> slug, for every tenant."""
    return {t.id: t.slug for t in list_tenants(session) if t.id is not None}


def tenants_by_slug(session: Session, slugs: Sequence[str]) -> list[Tenant]:
    """The tenants of ``slugs`` in that order, each once (every tenant by slug when none
    is given); an unknown slug is a ``UserError``."""
    tenants = list_tenants(session)
    if not slugs:
        return tenants
    known = {t.slug: t for t in tenants}
    missing = [s for s in slugs if s not in known]
    if missing:
        raise UserError(f"unknown tenant {missing[0]!r}: see `casb tenant list`")
    return [known[s] for s in dict.fromkeys(slugs)]


def _apply(session: Session, tenant: Tenant, data: TenantInput, fernet: Cipher) -> None:
    """Validate `data` and set it on `tenant` (not yet flushed); raises TenantInputError."""
    if data.name is not None:
        if not data.name.strip():
            raise TenantInputError("the tenant name must not be empty")
        tenant.name = data.name.strip()
    if data.org_id is not None:
        tenant.org_id = data.org_id.strip() or None
    if data.workspace_id is not None:
        tenant.workspace_id = data.workspace_id.strip() or None
    if data.admin_api_base is not None:
        tenant.admin_api_base = validate_url("admin API base", data.admin_api_base)
    if data.compliance_api_base is not None:
        tenant.compliance_api_base = validate_url("compliance API base", data.compliance_api_base)
    if data.admin_key is not None:
        secret = data.admin_key.read("admin key")
        tenant.admin_key_enc = encrypt_secret(fernet, secret)
        tenant.admin_key_hint = redact_key(secret)
    if data.compliance_key is not None:
        secret = data.compliance_key.read("compliance key")
        tenant.compliance_key_enc = encrypt_secret(fernet, secret)
        tenant.compliance_key_hint = redact_key(secret)
    if data.dlp_profiles is not None:
        tenant.dlp_profiles = validate_profiles(session, data.dlp_profiles)
    if data.thresholds is not None:
        tenant.thresholds = {**tenant.thresholds, **validate_thresholds(data.thresholds)}
    if data.schedule is not None:
        tenant.schedule_seconds = parse_schedule(data.schedule)
    if data.severity_overrides is not None or data.clear_severity_overrides:
        base = {} if data.clear_severity_overrides else dict(tenant.severity_overrides or {})
        given = validate_severity_overrides(data.severity_overrides or {})
        # A new dict (not an in-place change) so the JSON column is seen as modified.
        tenant.severity_overrides = {**base, **given}
    if data.enabled is not None:
        tenant.enabled = data.enabled


def add_tenant(session: Session, data: TenantInput, fernet: Cipher) -> Tenant:
    if not SLUG_RE.fullmatch(data.slug or ""):
        raise TenantInputError(
            f"bad slug {data.slug!r}: use 1-63 lower-case letters, digits and dashes"
        )
    if find_by_slug(session, data.slug) is not None:
        raise TenantInputError(f"tenant {data.slug!r} already exists: use `casb tenant update`")
    if data.admin_key is None:
        raise TenantInputError(
            f"tenant {data.slug!r}: an admin key is required (--admin-key-env or --admin-key-file)"
        )
    now = utcnow()
    tenant = Tenant(
        slug=data.slug,
        name=data.name or data.slug,
        admin_key_enc="",
        created_at=now,
        updated_at=now,
        next_scan_at=now,
        thresholds={},
        dlp_profiles=[],
        severity_overrides={},
    )
    _apply(session, tenant, data, fernet)
    if data.compliance_key is None:
        # The compliance key defaults to the admin key (Cloudflare's one-key setup).
        tenant.compliance_key_enc = None
        tenant.compliance_key_hint = None
    session.add(tenant)
    session.flush()
    return tenant


def update_tenant(session: Session, data: TenantInput, fernet: Cipher) -> Tenant:
    tenant = get_tenant(session, data.slug)
    _apply(session, tenant, data, fernet)
    tenant.updated_at = utcnow()
    session.add(tenant)
    session.flush()
    return tenant


def remove_tenant(session: Session, slug: str) -> None:
    tenant = get_tenant(session, slug)
    session.delete(tenant)
    session.flush()


def schedule_now(tenant: Tenant) -> None:
    tenant.next_scan_at = utcnow() - timedelta(seconds=1)


@dataclass(frozen=True)
class TenantKeys:
    """Decrypted credentials, held only inside the worker that calls the API."""

    admin_key: SecretStr
    compliance_key: SecretStr

    def __repr__(self) -> str:
        return "TenantKeys(<redacted>)"


def decrypt_keys(tenant: Tenant, fernet: Cipher) -> TenantKeys:
    admin = decrypt_secret(fernet, tenant.admin_key_enc)
    compliance = (
        decrypt_secret(fernet, tenant.compliance_key_enc) if tenant.compliance_key_enc else admin
    )
    return TenantKeys(admin_key=admin, compliance_key=compliance)


def effective_thresholds(tenant: Tenant) -> Thresholds:
    return Thresholds(**tenant.thresholds)


def tenant_summary(tenant: Tenant) -> dict[str, Any]:
    """A JSON-safe view of a tenant; never the keys, only their redacted hints."""

    iso = iso_z

    return {
        "id": tenant.id,
        "slug": tenant.slug,
        "name": tenant.name,
        "org_id": tenant.org_id,
        "workspace_id": tenant.workspace_id,
        "admin_api_base": tenant.admin_api_base,
        "compliance_api_base": tenant.compliance_api_base,
        "admin_key": tenant.admin_key_hint,
        "compliance_key": tenant.compliance_key_hint or "(same as admin key)",
        "thresholds": effective_thresholds(tenant).model_dump(),
        "dlp_profiles": list(tenant.dlp_profiles),
        "severity_overrides": severity_overrides_by_key(tenant),
        "schedule": format_schedule(tenant.schedule_seconds),
        "enabled": tenant.enabled,
        "health": tenant.health,
        "health_detail": tenant.health_detail,
        "next_scan_at": iso(tenant.next_scan_at),
        "last_scan_at": iso(tenant.last_scan_at),
    }


# --------------------------------------------------------------------------- import


def load_import_file(path: str) -> list[TenantInput]:
    """Read many tenants from TOML (``[[tenants]]``) or JSON (a list, or {"tenants": [...]})."""
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise TenantInputError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        if file.suffix.lower() == ".toml":
            doc: Any = tomllib.loads(raw.decode("utf-8"))
        else:
            doc = json.loads(raw)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TenantInputError(
            f"{path} is not valid {file.suffix.lstrip('.') or 'JSON'}: {exc}"
        ) from None
    items = doc.get("tenants") if isinstance(doc, dict) else doc
    if not isinstance(items, list) or not items:
        raise TenantInputError(f"{path}: expected a non-empty list of tenants (key 'tenants')")
    return [_import_item(path, i, item) for i, item in enumerate(items, start=1)]


_IMPORT_FIELDS = {
    "slug", "name", "org_id", "workspace_id", "admin_key_env", "admin_key_file",
    "compliance_key_env", "compliance_key_file", "admin_api_base", "compliance_api_base",
    "dlp_profiles", "thresholds", "schedule", "enabled", "severity_overrides",
}  # fmt: skip


def _import_item(path: str, index: int, item: Any) -> TenantInput:
    where = f"{path}: tenant #{index}"
    if not isinstance(item, dict):
        raise TenantInputError(f"{where}: expected a table/object")
    inline = [k for k in ("admin_key", "compliance_key", "api_key", "key") if k in item]
    if inline:
        raise TenantInputError(
            f"{where}: inline keys ({', '.join(inline)}) are refused; "
            "use admin_key_env / admin_key_file"
        )
    unknown = sorted(set(item) - _IMPORT_FIELDS)
    if unknown:
        raise TenantInputError(f"{where}: unknown field(s) {', '.join(unknown)}")
    if item.get("slug") is None:
        raise TenantInputError(f"{where}: missing 'slug'")
    # Types are checked here, field by field: a file is hand-written, and a number where a
    # string belongs must be one clear line (exit 2), not a traceback from deep in the store.
    slug = _typed(item, "slug", str, "a string", where)
    where = f"{path}: tenant {slug!r}"
    profiles = _typed(item, "dlp_profiles", list, "a list of profile names", where)
    if profiles is not None and not all(isinstance(p, str) for p in profiles):
        raise TenantInputError(f"{where}: 'dlp_profiles' must be a list of profile names")
    thresholds = _typed(item, "thresholds", dict, "a table of NAME = DAYS", where)
    schedule = _typed(item, "schedule", (str, int), 'a duration such as "24h"', where)
    overrides = _typed(item, "severity_overrides", dict, 'a table of TYPE = "SEVERITY"', where)
    if overrides is not None and not all(isinstance(v, str) for v in overrides.values()):
        raise TenantInputError(
            f"{where}: 'severity_overrides' values must be severity names "
            f"({', '.join(SEVERITY_NAMES)})"
        )
    return TenantInput(
        slug=slug,
        name=_typed(item, "name", str, "a string", where),
        org_id=_typed(item, "org_id", str, "a string", where),
        workspace_id=_typed(item, "workspace_id", str, "a string", where),
        admin_key=_source(item, "admin_key", where),
        compliance_key=_source(item, "compliance_key", where),
        admin_api_base=_typed(item, "admin_api_base", str, "a URL string", where),
        compliance_api_base=_typed(item, "compliance_api_base", str, "a URL string", where),
        dlp_profiles=profiles,
        thresholds=thresholds,
        schedule=None if schedule is None else str(schedule),
        enabled=_typed(item, "enabled", bool, "true or false", where),
        severity_overrides=overrides,
    )


def _typed(
    item: dict[str, Any], name: str, kind: type | tuple[type, ...], what: str, where: str
) -> Any:
    """``item[name]`` if absent/None or of ``kind``; else a one-line TenantInputError.

    ``bool`` is refused where a number is expected (JSON ``true`` is not a schedule).
    """
    value = item.get(name)
    if value is None:
        return None
    kinds = kind if isinstance(kind, tuple) else (kind,)
    is_bool_misfit = isinstance(value, bool) and bool not in kinds
    if is_bool_misfit or not isinstance(value, kinds):
        raise TenantInputError(f"{where}: '{name}' must be {what}, not {_kind_name(value)}")
    return value


def _kind_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table/object"
    if isinstance(value, str):
        return "a string"
    return f"a {type(value).__name__}"


def _source(item: dict[str, Any], name: str, where: str) -> KeySource | None:
    env = _typed(item, f"{name}_env", str, "the name of an environment variable", where)
    file = _typed(item, f"{name}_file", str, "a file path", where)
    if env and file:
        raise TenantInputError(f"{where}: give {name}_env or {name}_file, not both")
    if env or file:
        return KeySource(env=env, file=file)
    return None


def import_tenants(
    session: Session, items: Sequence[TenantInput], fernet: Cipher, *, update: bool = False
) -> tuple[list[str], list[str]]:
    """Create (or, with update=True, update) all tenants, or none: (created, updated)."""
    slugs = [i.slug for i in items]
    duplicates = sorted({s for s in slugs if slugs.count(s) > 1})
    if duplicates:
        raise TenantInputError(f"the import file repeats slug(s) {', '.join(duplicates)}")
    created: list[str] = []
    updated: list[str] = []
    for item in items:
        try:
            if update and find_by_slug(session, item.slug) is not None:
                update_tenant(session, item, fernet)
                updated.append(item.slug)
            else:
                if find_tenant(session, item.slug) is not None:
                    raise TenantInputError(
                        "already exists: add --update to update existing tenants"
                    )
                add_tenant(session, item, fernet)
                created.append(item.slug)
        except TenantInputError as exc:
            raise TenantInputError(f"tenant {item.slug!r}: {exc}") from None
    return created, updated
