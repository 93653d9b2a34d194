"""What detectors produce and what the pipeline persists and exports.

`DetectedFinding` is the pure output of a detector (no timestamps, no status: those are
the lifecycle's job). `Thresholds` are per tenant, with the documented defaults.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from schemas.catalog import FindingType, ResourceType


class Thresholds(BaseModel):
    """Per-tenant ages, in days, behind the key, user and invite findings."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key_rotation_days: int = Field(default=90, ge=1, le=3650)
    unused_key_days: int = Field(default=90, ge=1, le=3650)
    inactive_user_days: int = Field(default=90, ge=1, le=3650)
    stale_invite_days: int = Field(default=14, ge=1, le=3650)


class DetectedFinding(BaseModel):
    """One instance of a finding type on one resource, as a detector sees it."""

    model_config = ConfigDict(frozen=True)

    finding_type: FindingType
    resource_id: str
    resource_name: str | None = None
    evidence: dict[str, Any] = Field(default_factory=dict)
    # A type whose resource can be of two kinds (a leaked admin or project key) names the
    # kind here; None means the catalog's resource type.
    resource_type: ResourceType | None = None

    @property
    def effective_resource_type(self) -> ResourceType:
        return self.resource_type or self.finding_type.resource_type

    @property
    def finding_type_id(self) -> str:
        return self.finding_type.finding_type_id

    @property
    def key(self) -> tuple[str, str]:
        """The natural key within a tenant: (finding_type_id, resource_id)."""
        return (self.finding_type.finding_type_id, self.resource_id)
