"""Alert destinations and deliveries: validation, planning after a scan, retry state.

A destination is a URL with filters (tenants, finding types, minimum severity, events) and
an optional signing secret, stored only as a Fernet token. After a scan, ``plan_scan_alerts``
writes one delivery row per destination with something to say (the findings the scan
opened or reopened, or its change records), its body rendered once. Delivery attempts and
their outcome (``record_attempt``) update that row: ``pending`` until delivered or given up.
"""

from __future__ import annotations

import email.utils
import ipaddress
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr
from sqlalchemy import func
from sqlmodel import Session, col, select

from core.errors import UserError
from core.settings import Cipher
from core.time import as_utc, iso_z
from exports.alerts import CHANGES_EVENT, FINDINGS_EVENT, envelope, render_body
from exports.findings import to_dicts
from schemas.catalog import BY_KEY, Severity
from schemas.tables import (
    AlertDelivery,
    AlertDestination,
    ChangeRecord,
    DeliveryStatus,
    Finding,
    FindingStatus,
    Tenant,
    utcnow,
)
from store.crypto import decrypt_secret, encrypt_secret

FORMATS = ("json", "slack")
EVENTS = {"findings": FINDINGS_EVENT, "changes": CHANGES_EVENT}
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_.")


class AlertInputError(UserError, ValueError):
    """Bad alert destination input: one line an operator can act on."""


@dataclass(frozen=True)
class DestinationInput:
    name: str
    url: str
    fmt: str = "json"
    min_severity: str | None = None
    tenants: Sequence[str] = ()
    types: Sequence[str] = ()
    events: Sequence[str] = ("findings",)
    secret_env: str | None = None
    secret_file: str | None = None


def is_loopback_url(url: str) -> bool:
    host = (urlsplit(url).hostname or "").strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_warning(url: str) -> str | None:
    """A warning for a non-loopback destination that is not https (it is still accepted)."""
    if urlsplit(url).scheme.lower() != "https" and not is_loopback_url(url):
        return "the URL is not https: alerts (findings, evidence) travel unencrypted"
    return None


def _read_secret(data: DestinationInput) -> SecretStr | None:
    if data.secret_env and data.secret_file:
        raise AlertInputError("give --secret-env or --secret-file, not both")
    if data.secret_env:
        value = os.environ.get(data.secret_env)
        if not value:
            raise AlertInputError(f"environment variable {data.secret_env} is not set or empty")
        return SecretStr(value)
    if data.secret_file:
        try:
            value = Path(data.secret_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise AlertInputError(
                f"cannot read secret file {data.secret_file}: {exc.strerror or exc}"
            ) from None
        if not value:
            raise AlertInputError(f"secret file {data.secret_file} is empty")
        return SecretStr(value)
    return None


def add_destination(session: Session, data: DestinationInput, fernet: Cipher) -> AlertDestination:
    """Validate everything first, then insert (bad input writes nothing)."""
    name = data.name.strip()
    if not name or len(name) > 64 or not set(name) <= NAME_CHARS:
        raise AlertInputError(
            "an alert name is 1-64 characters of a-z, 0-9, '-', '_' and '.' (e.g. secops-slack)"
        )
    parts = urlsplit(data.url)
    if not parts.scheme or not parts.hostname:
        raise AlertInputError(f"--url needs a scheme and a host (got {data.url[:200]!r})")
    if parts.scheme.lower() not in ("http", "https"):
        raise AlertInputError("--url must be an http or https URL")
    if data.fmt not in FORMATS:
        raise AlertInputError(f"--format is one of {', '.join(FORMATS)}")
    if data.min_severity is not None:
        try:
            Severity(data.min_severity.lower())
        except ValueError:
            known = ", ".join(s.value for s in Severity)
            raise AlertInputError(f"--min-severity is one of {known}") from None
    unknown_types = [t for t in data.types if t not in BY_KEY]
    if unknown_types:
        raise AlertInputError(f"unknown finding type {unknown_types[0]!r}: see `casb catalog`")
    events = list(dict.fromkeys(data.events or ("findings",)))
    bad_events = [e for e in events if e not in EVENTS]
    if bad_events:
        raise AlertInputError(f"--events is one of {', '.join(EVENTS)}")
    known_slugs = set(session.exec(select(Tenant.slug)).all())
    missing = [s for s in data.tenants if s not in known_slugs]
    if missing:
        raise AlertInputError(f"unknown tenant {missing[0]!r}: see `casb tenant list`")
    if session.exec(select(AlertDestination).where(AlertDestination.name == name)).first():
        raise AlertInputError(f"an alert destination named {name!r} already exists")
    secret = _read_secret(data)
    row = AlertDestination(
        name=name,
        url=data.url,
        format=data.fmt,
        min_severity=data.min_severity.lower() if data.min_severity else None,
        tenants=list(dict.fromkeys(data.tenants)),
        types=list(dict.fromkeys(data.types)),
        events=events,
        secret_enc=encrypt_secret(fernet, secret) if secret is not None else None,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def get_destination(session: Session, name: str) -> AlertDestination:
    row = session.exec(select(AlertDestination).where(AlertDestination.name == name)).first()
    if row is None:
        raise AlertInputError(f"no alert destination named {name!r}: see `casb alert list`")
    return row


def list_destinations(session: Session) -> list[AlertDestination]:
    return list(session.exec(select(AlertDestination).order_by(col(AlertDestination.name))))


def remove_destination(session: Session, name: str) -> None:
    session.delete(get_destination(session, name))


def destination_secret(row: AlertDestination, fernet: Cipher) -> SecretStr | None:
    return decrypt_secret(fernet, row.secret_enc) if row.secret_enc else None


# --------------------------------------------------------------------------- filters


def finding_passes(destination: AlertDestination, finding: dict[str, Any]) -> bool:
    """Does one finding (public JSON) pass the destination's type and severity filters?"""
    if destination.types and finding.get("finding_type_key") not in destination.types:
        return False
    if destination.min_severity:
        floor = Severity(destination.min_severity).rank
        try:
            rank = Severity(str(finding.get("severity", "")).lower()).rank
        except ValueError:
            return False
        return rank >= floor
    return True


def _wants(destination: AlertDestination, tenant_slug: str, event: str) -> bool:
    if destination.tenants and tenant_slug not in destination.tenants:
        return False
    wanted = destination.events or ["findings"]
    return any(EVENTS.get(name) == event for name in wanted)


# --------------------------------------------------------------------------- planning


def opened_in_scan(session: Session, tenant_id: int, scan_id: int) -> list[Finding]:
    """Findings this scan opened or reopened and that are still open (not ignored)."""
    return list(
        session.exec(
            select(Finding)
            .where(
                Finding.tenant_id == tenant_id,
                Finding.opened_scan_id == scan_id,
                Finding.status == FindingStatus.OPEN.value,
            )
            .order_by(col(Finding.id))
        )
    )


def change_to_dict(row: ChangeRecord, tenant_slug: str) -> dict[str, Any]:
    return {
        "tenant": tenant_slug,
        "resource_type": row.resource_type,
        "resource_id": row.resource_id,
        "resource_name": row.resource_name,
        "field": row.field,
        "before": row.before,
        "after": row.after,
        "scan_id": row.scan_id,
        "seen_at": iso_z(row.seen_at),
    }


def plan_scan_alerts(session: Session, tenant: Tenant, scan_id: int) -> list[int]:
    """Write the deliveries one finished scan owes; returns the new delivery row ids.

    Idempotent: a destination gets at most one delivery per scan and event (unique key), so
    a redelivered finish plans nothing twice.
    """
    assert tenant.id is not None
    destinations = list_destinations(session)
    if not destinations:
        return []
    findings = to_dicts(opened_in_scan(session, tenant.id, scan_id), {tenant.id: tenant.slug})
    changes = [
        change_to_dict(c, tenant.slug)
        for c in session.exec(
            select(ChangeRecord)
            .where(ChangeRecord.tenant_id == tenant.id, ChangeRecord.scan_id == scan_id)
            .order_by(col(ChangeRecord.id))
        )
    ]
    already = {
        (d, e)
        for d, e in session.exec(
            select(AlertDelivery.destination_id, AlertDelivery.event).where(
                AlertDelivery.scan_id == scan_id
            )
        )
    }
    now = utcnow()
    created: list[AlertDelivery] = []
    for destination in destinations:
        assert destination.id is not None
        for event, items in (
            (FINDINGS_EVENT, [f for f in findings if finding_passes(destination, f)]),
            (CHANGES_EVENT, changes),
        ):
            if not items or (destination.id, event) in already:
                continue
            if not _wants(destination, tenant.slug, event):
                continue
            body = render_body(destination.format, envelope(event, tenant.slug, scan_id, items))
            row = AlertDelivery(
                destination_id=destination.id,
                tenant_id=tenant.id,
                scan_id=scan_id,
                event=event,
                delivery_id=str(uuid.uuid4()),
                body=body,
                items=len(items),
                status=DeliveryStatus.PENDING.value,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
            session.add(row)
            created.append(row)
    session.flush()
    return [int(row.id) for row in created if row.id is not None]


def plan_test_delivery(session: Session, destination: AlertDestination) -> int:
    """A delivery of a sample event (``casb alert test``): scan id 0, no real finding."""
    assert destination.id is not None
    sample: dict[str, Any] = {
        "tenant": "casb-test",
        "finding_type_id": "00000000-0000-0000-0000-000000000000",
        "finding_type": "openai-casb test alert",
        "category": None,
        "severity": "info",
        "resource_type": "test",
        "resource_id": "test",
        "resource_name": "a test alert from `casb alert test`",
        "status": "open",
        "first_seen": None,
        "last_seen": None,
        "resolved_at": None,
        "evidence": {},
    }
    now = utcnow()
    row = AlertDelivery(
        destination_id=destination.id,
        tenant_id=None,
        scan_id=0,
        event=f"test:{uuid.uuid4().hex[:24]}",
        delivery_id=str(uuid.uuid4()),
        body=render_body(destination.format, envelope(FINDINGS_EVENT, "casb-test", 0, [sample])),
        items=1,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    return row.id


# --------------------------------------------------------------------------- retry policy


@dataclass(frozen=True)
class AttemptOutcome:
    """What one POST came to: an HTTP status, or a transport error kind (timeout, connect)."""

    status_code: int | None = None
    error: str | None = None
    retry_after: str | None = None


def take_test_result(session: Session, delivery_row_id: int) -> tuple[int | None, str | None]:
    """The answer to a test delivery (status code, error) and the row deleted: a test is one
    attempt, neither retried nor counted among the real deliveries."""
    row = session.get(AlertDelivery, delivery_row_id)
    if row is None:
        return None, "the test delivery row is gone"
    code, error = row.last_status_code, row.last_error
    session.delete(row)
    return code, error


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date; None when unparseable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    aware = as_utc(when)
    return max(0.0, (aware - now).total_seconds()) if aware is not None else None


def next_delay(
    outcome: AttemptOutcome,
    attempts: int,
    *,
    base: float,
    cap: float,
    now: datetime,
) -> float | None:
    """Seconds until the next attempt, or None when this outcome is not retried.

    Timeouts, transport errors and 5xx back off exponentially (base * 2^(attempts-1), capped);
    429 waits for its Retry-After (or backs off); any other 4xx (or 3xx) is final.
    """
    backoff = min(cap, base * (2 ** max(0, attempts - 1)))
    if outcome.status_code is None:
        return backoff
    code = outcome.status_code
    if code == 429:
        wanted = retry_after_seconds(outcome.retry_after, now)
        return backoff if wanted is None else wanted
    if code >= 500:
        return backoff
    return None


def record_attempt(
    session: Session,
    row: AlertDelivery,
    outcome: AttemptOutcome,
    *,
    base: float,
    cap: float,
    window: timedelta,
    now: datetime,
) -> str:
    """Apply one attempt's outcome to the row; returns the new status."""
    row.attempts += 1
    row.last_status_code = outcome.status_code
    row.last_error = outcome.error
    if outcome.status_code is not None and 200 <= outcome.status_code < 300:
        row.status = DeliveryStatus.DELIVERED.value
        row.finished_at = now
        row.next_attempt_at = None
    else:
        delay = next_delay(outcome, row.attempts, base=base, cap=cap, now=now)
        created = as_utc(row.created_at) or now
        retry_at = now + timedelta(seconds=delay) if delay is not None else None
        if retry_at is None or retry_at > created + window:
            row.status = DeliveryStatus.FAILED.value
            row.finished_at = now
            row.next_attempt_at = None
        else:
            row.next_attempt_at = retry_at
    session.add(row)
    return row.status


def claim_delivery(session: Session, delivery_row_id: int, now: datetime) -> AlertDelivery | None:
    """Lock a pending, due delivery for one attempt (None: delivered, failed, not due, busy)."""
    return session.exec(
        select(AlertDelivery)
        .where(
            AlertDelivery.id == delivery_row_id,
            AlertDelivery.status == DeliveryStatus.PENDING.value,
            col(AlertDelivery.next_attempt_at) <= now,
        )
        .with_for_update(skip_locked=True)
    ).first()


def due_deliveries(session: Session, now: datetime, limit: int = 500) -> list[int]:
    return [
        int(i)
        for i in session.exec(
            select(AlertDelivery.id)
            .where(
                AlertDelivery.status == DeliveryStatus.PENDING.value,
                col(AlertDelivery.next_attempt_at) <= now,
            )
            .order_by(col(AlertDelivery.next_attempt_at))
            .limit(limit)
        )
        if i is not None
    ]


def delivery_counts(session: Session) -> dict[int, dict[str, int]]:
    """{destination id: {status: deliveries}} (``casb alert list``)."""
    out: dict[int, dict[str, int]] = {}
    for dest, status, count in session.exec(
        select(AlertDelivery.destination_id, AlertDelivery.status, func.count()).group_by(
            col(AlertDelivery.destination_id), col(AlertDelivery.status)
        )
    ):
        out.setdefault(dest, {})[status] = int(count)
    return out


def failed_by_tenant(session: Session) -> dict[int, int]:
    """{tenant id: failed deliveries} (``casb health``)."""
    rows = session.exec(
        select(AlertDelivery.tenant_id, func.count())
        .where(AlertDelivery.status == DeliveryStatus.FAILED.value)
        .group_by(col(AlertDelivery.tenant_id))
    )
    return {int(t): int(n) for t, n in rows if t is not None}
