"""Database tables (SQLModel). PostgreSQL in the fleet; SQLite only for the embedded demo.

Credentials are stored only as Fernet tokens (``*_enc`` columns); the readable
``*_hint`` columns hold a redacted form (prefix and last four characters), as OpenAI's
own ``redacted_value`` does, so an operator can tell keys apart without the secret.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Dialect, Index, Text, UniqueConstraint, text
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always read back as an aware UTC datetime.

    PostgreSQL's ``timestamptz`` already returns aware values; SQLite (the embedded demo)
    returns naive ones, which hold UTC because every value is written as UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def _ts(nullable: bool = True, index: bool = False) -> Any:
    return Field(
        default=None,
        sa_column=Column(UTCDateTime(), nullable=nullable, index=index),
    )


class TenantHealth(StrEnum):
    UNKNOWN = "unknown"
    HEALTHY = "healthy"
    CREDENTIAL_ERROR = "credential_error"
    PERMISSION_ERROR = "permission_error"
    NOT_FOUND = "not_found"
    API_ERROR = "api_error"


class ScanStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    FAILED = "failed"

    @classmethod
    def active(cls) -> tuple[str, str]:
        return (cls.QUEUED.value, cls.RUNNING.value)


class ScanTrigger(StrEnum):
    """Why a scan ran: a public value of ``casb.scan_tenant``'s ``trigger`` keyword."""

    MANUAL = "manual"
    SCHEDULE = "schedule"
    API = "api"

    @classmethod
    def parse(cls, value: object) -> ScanTrigger:
        """A producer's value; anything unknown counts as ``api`` (a message from outside)."""
        try:
            return cls(str(value))
        except ValueError:
            return cls.API


class FindingStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    IGNORED = "ignored"


class Tenant(SQLModel, table=True):
    __tablename__ = "tenants"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(max_length=200)
    org_id: str | None = Field(default=None, max_length=100)
    workspace_id: str | None = Field(default=None, max_length=100)
    admin_api_base: str = Field(default="https://api.openai.com/v1", max_length=500)
    compliance_api_base: str = Field(default="https://api.chatgpt.com/v1", max_length=500)
    admin_key_enc: str = Field(sa_column=Column(Text, nullable=False))
    admin_key_hint: str = Field(default="", max_length=40)
    compliance_key_enc: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    compliance_key_hint: str | None = Field(default=None, max_length=40)
    thresholds: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    dlp_profiles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # finding_type_id -> severity, set by the admin per tenant (store/tenants.py validates);
    # the server default lets rows written before this column existed migrate as "none".
    severity_overrides: dict[str, str] = Field(
        default_factory=dict,
        sa_column=Column(JSON, nullable=False, server_default=text("'{}'")),
    )
    schedule_seconds: int = Field(default=24 * 3600)
    enabled: bool = Field(default=True)
    next_scan_at: datetime | None = _ts(index=True)
    health: str = Field(default=TenantHealth.UNKNOWN.value, max_length=32)
    health_detail: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    health_changed_at: datetime | None = _ts()
    last_scan_at: datetime | None = _ts()
    conversation_watermark: float = Field(default=0.0)
    # The Compliance Logs Platform's ``last_end_time`` (ISO-8601) up to which this tenant's
    # CONVERSATION_MESSAGE log files were fully processed; None: read from the beginning.
    logs_watermark: str | None = Field(default=None, max_length=64)
    created_at: datetime | None = _ts()
    updated_at: datetime | None = _ts()


class ScanRun(SQLModel, table=True):
    __tablename__ = "scan_runs"
    __table_args__ = (
        Index(
            "uq_scan_runs_one_active_per_tenant",
            "tenant_id",
            unique=True,
            postgresql_where=text("status IN ('queued', 'running')"),
            sqlite_where=text("status IN ('queued', 'running')"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id", index=True, ondelete="CASCADE")
    trigger: str = Field(default=ScanTrigger.SCHEDULE.value, max_length=32)
    status: str = Field(default=ScanStatus.QUEUED.value, max_length=16, index=True)
    attempt: int = Field(default=0)
    coalesced_requests: int = Field(default=0)
    requested_at: datetime | None = _ts()
    started_at: datetime | None = _ts()
    finished_at: datetime | None = _ts()
    heartbeat_at: datetime | None = _ts()
    parts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    counts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    errors: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )


class Finding(SQLModel, table=True):
    __tablename__ = "findings"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id", "finding_type_id", "resource_id", name="uq_findings_natural_key"
        ),
        Index("ix_findings_tenant_status", "tenant_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id", ondelete="CASCADE")
    finding_type_id: str = Field(max_length=36, index=True)
    resource_type: str = Field(max_length=32)
    resource_id: str = Field(max_length=300)
    resource_name: str | None = Field(default=None, max_length=500)
    severity: str = Field(max_length=16, index=True)
    status: str = Field(default=FindingStatus.OPEN.value, max_length=16)
    evidence: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    first_seen: datetime | None = _ts(nullable=False)
    last_seen: datetime | None = _ts(nullable=False)
    resolved_at: datetime | None = _ts()
    reopened_count: int = Field(default=0)
    last_scan_id: int | None = Field(default=None)
    ignored_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    ignored_until: datetime | None = _ts()
    suppression_id: int | None = Field(default=None)
    # The scan that last opened (inserted or reopened) this finding: alerts announce the
    # findings whose opened_scan_id is the scan that just finished, once per opening.
    opened_scan_id: int | None = Field(default=None, index=True)


class DlpProfileRow(SQLModel, table=True):
    """A custom DLP profile (predefined profiles live in code, detectors/dlp/profiles.py)."""

    __tablename__ = "dlp_profiles"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True, index=True)
    description: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    spec: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime | None = _ts()
    updated_at: datetime | None = _ts()


class DlpFileCache(SQLModel, table=True):
    """What we already know about one file: skip downloads and re-matching of unchanged files."""

    __tablename__ = "dlp_file_cache"
    __table_args__ = (UniqueConstraint("tenant_id", "file_id", name="uq_dlp_cache_file"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id", ondelete="CASCADE")
    file_id: str = Field(max_length=200)
    listing_fingerprint: str | None = Field(default=None, max_length=128)
    content_sha256: str | None = Field(default=None, max_length=64)
    profile_version: str = Field(max_length=64)
    outcome: str = Field(max_length=32)  # matched | clean | skipped
    result: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    scanned_at: datetime | None = _ts()


class Suppression(SQLModel, table=True):
    """An ignore rule: by tenant (or all), finding type (or all), resource-id glob and an
    optional resource-name glob."""

    __tablename__ = "suppressions"

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int | None = Field(default=None, foreign_key="tenants.id", ondelete="CASCADE")
    finding_type_id: str | None = Field(default=None, max_length=36)
    resource_pattern: str = Field(default="*", max_length=300)
    """Glob on the resource id (case-sensitive): ids are the API's, not the users'."""
    name_pattern: str | None = Field(default=None, max_length=300)
    """Optional glob on the resource name (case-insensitive), matched as well when set."""
    reason: str = Field(sa_column=Column(Text, nullable=False))
    until: datetime | None = _ts()
    created_by: str | None = Field(default=None, max_length=200)
    created_at: datetime | None = _ts()


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class AlertDestination(SQLModel, table=True):
    """Where opened findings (and change records) are pushed: a webhook URL and its filters.

    The optional signing secret is stored only as a Fernet token (``secret_enc``).
    """

    __tablename__ = "alert_destinations"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True, index=True)
    url: str = Field(sa_column=Column(Text, nullable=False))
    format: str = Field(default="json", max_length=16)
    min_severity: str | None = Field(default=None, max_length=16)
    tenants: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    types: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    events: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    secret_enc: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime | None = _ts()


class AlertDelivery(SQLModel, table=True):
    """One POST of one scan's event to one destination, with its retry state.

    The body is rendered once when the delivery is planned, so every retry sends the same
    bytes under the same ``delivery_id`` (and so the same signature).
    """

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        UniqueConstraint("destination_id", "scan_id", "event", name="uq_alert_delivery_scan"),
        Index("ix_alert_deliveries_due", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    destination_id: int = Field(foreign_key="alert_destinations.id", ondelete="CASCADE")
    tenant_id: int | None = Field(default=None, foreign_key="tenants.id", ondelete="CASCADE")
    scan_id: int
    event: str = Field(max_length=32)
    delivery_id: str = Field(max_length=36, unique=True)
    body: str = Field(sa_column=Column(Text, nullable=False))
    items: int = Field(default=0)
    status: str = Field(default=DeliveryStatus.PENDING.value, max_length=16)
    attempts: int = Field(default=0)
    next_attempt_at: datetime | None = _ts()
    last_status_code: int | None = Field(default=None)
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime | None = _ts()
    finished_at: datetime | None = _ts()


class PartFingerprint(SQLModel, table=True):
    """What the newest successful fetch of one part saw, reduced to the watched fields.

    ``fingerprint`` maps resource id to ``{dotted field: value}``; the next successful fetch
    of the same part is compared against it (detectors/changes.py) and then replaces it.
    """

    __tablename__ = "part_fingerprints"
    __table_args__ = (UniqueConstraint("tenant_id", "part", name="uq_part_fingerprint"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id", ondelete="CASCADE")
    part: str = Field(max_length=32)
    scan_id: int
    fingerprint: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    seen_at: datetime | None = _ts()


class ChangeRecord(SQLModel, table=True):
    """One difference between two successful fetches of a part: field, before, after."""

    __tablename__ = "change_records"
    __table_args__ = (Index("ix_change_records_tenant_seen", "tenant_id", "seen_at"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id", ondelete="CASCADE")
    scan_id: int = Field(index=True)
    resource_type: str = Field(max_length=32)
    resource_id: str = Field(max_length=300, index=True)
    resource_name: str | None = Field(default=None, max_length=500)
    field: str = Field(max_length=100)
    before: Any = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: Any = Field(default=None, sa_column=Column(JSON, nullable=True))
    seen_at: datetime | None = _ts(nullable=False)
