"""Suppressions: ignore one finding, or rules by tenant, finding type and resource glob.

Semantics (documented in docs/operations.md):

- A rule matches a finding when its tenant is the finding's (or the rule has no tenant),
  its finding type is the finding's (or none), its resource glob matches the resource id
  (case-sensitive), and, when it has one, its name glob matches the resource name
  (case-insensitive, so ``--name '*@contractor.com'`` matches user e-mails). Names are
  never matched by the resource glob: GPT and file names are written by the tenant's
  users, who must not be able to name a resource into someone's rule. A rule is active
  until its ``until`` passes (``None``: forever).
- ``apply`` is retroactive and repeatable: every *open* finding of the tenant matched by an
  active rule becomes ``ignored`` with the rule's reason, expiry and id; the pipeline calls
  it after each scan's upserts, so findings that appear or reopen later are caught too.
- When an ignore expires (``ignored_until`` passed), or its rule is removed, the finding
  goes back to ``open`` if the tenant's latest successful scan still saw it (``last_seen``
  at or after that scan's start, or no successful scan yet: never hide by guessing), else
  to ``resolved`` (``resolved_at`` = now), as if the scan had resolved it.
- Resolved findings are never touched by rules: there is nothing to hide.
- Only an ignored finding carries ``suppression_id``: ``apply`` clears it from findings the
  scan lifecycle opened or resolved after their ignore expired, so no export shows an open
  or resolved finding "held" by a rule.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from core.errors import UserError
from core.time import as_utc
from schemas.catalog import lookup
from schemas.tables import Finding, FindingStatus, ScanRun, ScanStatus, Suppression, Tenant
from store.tenants import find_by_slug

MAX_REASON_CHARS = 2000


class SuppressionError(UserError, ValueError):
    """Bad suppression input; the message says what to fix."""


def _now(now: datetime | None) -> datetime:
    now = now or datetime.now(UTC)
    return now if now.tzinfo else now.replace(tzinfo=UTC)


def _clean_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise SuppressionError("a reason is required: say why this is accepted (--reason)")
    if len(reason) > MAX_REASON_CHARS:
        raise SuppressionError(f"the reason is longer than {MAX_REASON_CHARS} characters")
    return reason


def _check_until(until: datetime | None, now: datetime) -> datetime | None:
    until = as_utc(until)
    if until is not None and until <= now:
        raise SuppressionError(
            f"--until {until.isoformat()} is already past: give a future date or none"
        )
    return until


def tenant_by_slug(session: Session, slug: str) -> Tenant:
    tenant = find_by_slug(session, slug)
    if tenant is None:
        raise SuppressionError(f"unknown tenant {slug!r}: see `casb tenant list`")
    return tenant


def add_rule(
    session: Session,
    tenant_slug: str | None,
    finding_type: str | None,
    resource_pattern: str = "*",
    reason: str = "",
    until: datetime | None = None,
    created_by: str | None = None,
    *,
    name_pattern: str | None = None,
    now: datetime | None = None,
) -> Suppression:
    """Create a rule (validated before anything is written). Call ``apply`` to enforce it.

    ``finding_type`` is a FindingTypeID or a catalog key; ``None`` means every type, and
    ``tenant_slug`` ``None`` every tenant. A rule with neither and pattern ``*`` would hide
    everything, so it is refused.
    """
    moment = _now(now)
    reason = _clean_reason(reason)
    pattern = (resource_pattern or "").strip()
    if not pattern or len(pattern) > 300:
        raise SuppressionError("--resource must be a glob of 1-300 characters (e.g. 'g-*')")
    names = None if name_pattern is None else name_pattern.strip()
    if names is not None and (not names or len(names) > 300):
        raise SuppressionError("--name must be a glob of 1-300 characters (e.g. '*@corp.com')")
    type_id = None
    if finding_type:
        try:
            type_id = lookup(finding_type).finding_type_id
        except KeyError:
            raise SuppressionError(
                f"unknown finding type {finding_type!r}: see `casb catalog`"
            ) from None
    tenant_id = tenant_by_slug(session, tenant_slug).id if tenant_slug else None
    if tenant_id is None and type_id is None and pattern == "*" and names in (None, "*"):
        raise SuppressionError(
            "this rule would ignore every finding of every tenant: "
            "narrow it with --tenant, --type or --resource"
        )
    rule = Suppression(
        tenant_id=tenant_id,
        finding_type_id=type_id,
        resource_pattern=pattern,
        name_pattern=names,
        reason=reason,
        until=_check_until(until, moment),
        created_by=(created_by or None),
        created_at=moment,
    )
    session.add(rule)
    session.flush()
    return rule


def list_rules(
    session: Session,
    tenant_slug: str | None = None,
    *,
    include_expired: bool = False,
    now: datetime | None = None,
) -> list[Suppression]:
    """Rules, oldest first; with a tenant, its own rules and the fleet-wide ones."""
    query = select(Suppression).order_by(col(Suppression.id))
    if tenant_slug:
        tenant = tenant_by_slug(session, tenant_slug)
        query = query.where(
            or_(col(Suppression.tenant_id) == tenant.id, col(Suppression.tenant_id).is_(None))
        )
    rules = list(session.exec(query))
    if not include_expired:
        moment = _now(now)
        rules = [r for r in rules if is_active(r, moment)]
    return rules


def is_active(rule: Suppression, now: datetime) -> bool:
    until = as_utc(rule.until)
    return until is None or until > now


def matches(rule: Suppression, finding: Finding) -> bool:
    """Whether the rule covers the finding (tenant, type, resource glob); expiry aside."""
    if rule.tenant_id is not None and rule.tenant_id != finding.tenant_id:
        return False
    if rule.finding_type_id is not None and rule.finding_type_id != finding.finding_type_id:
        return False
    if not fnmatch.fnmatchcase(finding.resource_id, rule.resource_pattern or "*"):
        return False
    if rule.name_pattern is None:
        return True
    name = finding.resource_name
    return name is not None and fnmatch.fnmatchcase(name.lower(), rule.name_pattern.lower())


def remove_rule(session: Session, rule_id: int, *, now: datetime | None = None) -> int:
    """Delete a rule; findings it had ignored are released at once. Returns how many."""
    rule = session.get(Suppression, rule_id)
    if rule is None:
        raise SuppressionError(f"no suppression rule {rule_id}: see `casb suppress list`")
    moment = _now(now)
    held = list(session.exec(select(Finding).where(Finding.suppression_id == rule_id)))
    released = 0
    for finding in held:
        if finding.status == FindingStatus.IGNORED.value:
            _release(session, finding, moment, _seen_since_cache(session))
            released += 1
        else:
            finding.suppression_id = None
        session.add(finding)
    session.delete(rule)
    session.flush()
    # Another active rule may still cover some of them.
    for tenant_id in {f.tenant_id for f in held}:
        apply(session, tenant_id, moment)
    return released


def ignore_finding(
    session: Session,
    finding_id: int,
    reason: str,
    until: datetime | None = None,
    *,
    now: datetime | None = None,
) -> Finding:
    """Ignore one finding by id, with a reason and an optional expiry."""
    moment = _now(now)
    reason = _clean_reason(reason)
    until = _check_until(until, moment)
    finding = session.get(Finding, finding_id)
    if finding is None:
        raise SuppressionError(f"no finding {finding_id}: see `casb findings --status all`")
    finding.status = FindingStatus.IGNORED.value
    finding.ignored_reason = reason
    finding.ignored_until = until
    finding.suppression_id = None
    session.add(finding)
    session.flush()
    return finding


def unignore_finding(session: Session, finding_id: int, *, now: datetime | None = None) -> Finding:
    """Stop ignoring one finding (open if still seen, else resolved).

    A finding held by an active rule cannot be released alone (the next scan would ignore
    it again); the error names the rule to remove instead.
    """
    moment = _now(now)
    finding = session.get(Finding, finding_id)
    if finding is None:
        raise SuppressionError(f"no finding {finding_id}: see `casb findings --status all`")
    if finding.status != FindingStatus.IGNORED.value:
        raise SuppressionError(f"finding {finding_id} is {finding.status}, not ignored")
    if finding.suppression_id is not None:
        rule = session.get(Suppression, finding.suppression_id)
        if rule is not None and is_active(rule, moment):
            raise SuppressionError(
                f"finding {finding_id} is ignored by suppression rule {rule.id}: "
                f"remove it with `casb suppress remove {rule.id}`"
            )
    _release(session, finding, moment, _seen_since_cache(session))
    session.add(finding)
    session.flush()
    return finding


class _SeenSince:
    """Start of each tenant's latest successful scan, looked up once per tenant."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.cache: dict[int, datetime | None] = {}

    def __call__(self, tenant_id: int) -> datetime | None:
        if tenant_id not in self.cache:
            run = self.session.exec(
                select(ScanRun)
                .where(ScanRun.tenant_id == tenant_id)
                .where(ScanRun.status == ScanStatus.SUCCEEDED.value)
                .order_by(col(ScanRun.finished_at).desc().nulls_last(), col(ScanRun.id).desc())
                .limit(1)
            ).first()
            self.cache[tenant_id] = as_utc(run.started_at or run.requested_at) if run else None
        return self.cache[tenant_id]


def _seen_since_cache(session: Session) -> _SeenSince:
    return _SeenSince(session)


def _release(session: Session, finding: Finding, now: datetime, seen_since: _SeenSince) -> None:
    """Ignored -> open (still seen) or resolved (the latest successful scan missed it)."""
    since = seen_since(finding.tenant_id)
    last_seen = as_utc(finding.last_seen)
    still_seen = since is None or (last_seen is not None and last_seen >= since)
    if still_seen:
        finding.status = FindingStatus.OPEN.value
    else:
        finding.status = FindingStatus.RESOLVED.value
        finding.resolved_at = finding.resolved_at or now
    finding.ignored_reason = None
    finding.ignored_until = None
    finding.suppression_id = None


def release_expired(
    session: Session, tenant_ids: Sequence[int] | None = None, now: datetime | None = None
) -> int:
    """Release ignores whose ``ignored_until`` passed (all tenants, or these); how many.

    Read paths (``casb findings``, the report) call it first, so an expired ignore never
    hides a finding from a listing or from the ``--fail-on`` gate while waiting for a scan.
    """
    moment = _now(now)
    query = (
        select(Finding)
        .where(Finding.status == FindingStatus.IGNORED.value)
        .where(col(Finding.ignored_until).is_not(None))
        .where(col(Finding.ignored_until) <= moment)
    )
    if tenant_ids is not None:
        query = query.where(col(Finding.tenant_id).in_(list(tenant_ids)))
    seen_since = _SeenSince(session)
    expired = list(session.exec(query))
    for finding in expired:
        _release(session, finding, moment, seen_since)
        session.add(finding)
    session.flush()
    return len(expired)


def apply(session: Session, tenant_id: int, now: datetime | None = None) -> int:
    """Enforce suppressions on one tenant's findings; returns how many changed status.

    Stable hook for the pipeline (called after each scan's upserts, in its transaction):
    first releases ignores whose ``ignored_until`` passed, then ignores every open finding
    an active rule matches. Idempotent: a second call with the same ``now`` changes nothing.
    """
    moment = _now(now)
    changed = release_expired(session, [tenant_id], moment)
    _clear_stale_rule_ids(session, tenant_id)

    rules = [
        r
        for r in session.exec(
            select(Suppression)
            .where(
                or_(col(Suppression.tenant_id) == tenant_id, col(Suppression.tenant_id).is_(None))
            )
            .order_by(col(Suppression.id))
        )
        if is_active(r, moment)
    ]
    if rules:
        # Longest-lasting rule first (None = forever), so a finding gets the widest cover.
        far = datetime.max.replace(tzinfo=UTC)
        rules.sort(key=lambda r: (-(as_utc(r.until) or far).timestamp(), r.id or 0))
        type_ids = {r.finding_type_id for r in rules}
        query = (
            select(Finding)
            .where(Finding.tenant_id == tenant_id)
            .where(Finding.status == FindingStatus.OPEN.value)
        )
        if None not in type_ids:
            query = query.where(col(Finding.finding_type_id).in_(type_ids))
        for finding in list(session.exec(query)):
            rule = next((r for r in rules if matches(r, finding)), None)
            if rule is None:
                continue
            finding.status = FindingStatus.IGNORED.value
            finding.ignored_reason = rule.reason
            finding.ignored_until = as_utc(rule.until)
            finding.suppression_id = rule.id
            session.add(finding)
            changed += 1
    session.flush()
    return changed


def _clear_stale_rule_ids(session: Session, tenant_id: int) -> None:
    """Drop ``suppression_id`` from findings that are no longer ignored.

    The scan lifecycle reopens (still seen) or resolves (gone) a finding whose ignore has
    expired and clears the ignore's reason and expiry, but not the rule id, which only
    this module owns.
    """
    session.execute(
        update(Finding)
        .where(col(Finding.tenant_id) == tenant_id)
        .where(col(Finding.status) != FindingStatus.IGNORED.value)
        .where(col(Finding.suppression_id).is_not(None))
        .values(suppression_id=None)
        .execution_options(synchronize_session="fetch")
    )


def apply_all(session: Session, now: datetime | None = None) -> int:
    """``apply`` for every tenant (after adding or removing a fleet-wide rule)."""
    ids = [t for t in session.exec(select(Tenant.id)) if t is not None]
    return sum(apply(session, tenant_id, now) for tenant_id in ids)
