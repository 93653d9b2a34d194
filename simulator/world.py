"""The simulated OpenAI world: seeded tenants with Admin API and Compliance API data.

``World`` is the state of ``simulator.state.WorldState`` plus three conveniences:
``World.generate(...)`` (``simulator.generate.populate_world``), ``world.ground_truth(...)`` and
``world.manifest(...)`` (``simulator.ground_truth.expected_findings``). Generation is
deterministic from the seed (and ``now``, which only shifts timestamps). Every tenant carries a
fixed set of planted fixtures on both sides of each detection threshold, plus seeded bulk data
sized by ``size``.

The records, configuration and ``SIZES`` are defined in ``simulator.model`` and importable from
here as well.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from simulator.generate import populate_world
from simulator.ground_truth import ExpectedFinding, expected_findings
from simulator.model import (
    CUSTOM_ACTION_SPELLINGS,
    DAY,
    SIZES,
    TOOL_TYPES,
    VISIBILITIES,
    AdminKey,
    AdminUser,
    AuditEvent,
    Collection,
    ComplianceEdges,
    Config,
    Conversation,
    Drift,
    Gpt,
    Invite,
    KeyOwner,
    LogFile,
    Message,
    Project,
    ProjectKey,
    ProjectMember,
    ServiceAccount,
    SignIn,
    SimFile,
    SizeSpec,
    Thresholds,
    Tool,
    Visibility,
    WorkspaceUser,
    default_drift,
    normalise_tool_type,
)
from simulator.ratelimit import RateLimitConfig
from simulator.state import Tenant, WorldState

__all__ = [
    "CUSTOM_ACTION_SPELLINGS",
    "DAY",
    "SIZES",
    "TOOL_TYPES",
    "VISIBILITIES",
    "AdminKey",
    "AdminUser",
    "AuditEvent",
    "Collection",
    "ComplianceEdges",
    "Config",
    "Conversation",
    "Drift",
    "Gpt",
    "Invite",
    "KeyOwner",
    "LogFile",
    "Message",
    "Project",
    "ProjectKey",
    "ProjectMember",
    "ServiceAccount",
    "SignIn",
    "SimFile",
    "SizeSpec",
    "Tenant",
    "Thresholds",
    "Tool",
    "Visibility",
    "WorkspaceUser",
    "World",
    "default_drift",
    "normalise_tool_type",
]


class World(WorldState):
    """All tenants plus the server-side runtime state, with generation and ground truth."""

    @classmethod
    def generate(
        cls,
        tenants: int = 3,
        seed: int = 0,
        now: float | None = None,
        size: str = "small",
        *,
        thresholds: Thresholds | Mapping[str, Thresholds] | None = None,
        drift: Drift | Mapping[str, Drift] | None = None,
        edges: ComplianceEdges | Mapping[str, ComplianceEdges] | None = None,
        fault_files: bool = False,
        time_scale: float = 1.0,
        large_file_bytes: int = 101 * 1024 * 1024,
        zip_bomb_bytes: int = 256 * 1024 * 1024,
        rate_limits: RateLimitConfig | None = None,
    ) -> World:
        """Build `tenants` tenants deterministically from `seed`.

        `now` (default: wall clock) anchors every timestamp; ages are relative to it.
        `thresholds`/`drift`/`edges` apply to all tenants or map slug -> value. `fault_files` adds a
        zip-bomb .docx and an over-cap .txt to tenant-01's first conversation (never findings).
        `rate_limits` is a simulator.ratelimit.RateLimitConfig (per-minute limits, enabled flag).
        """
        if size not in SIZES:
            raise ValueError(f"unknown size {size!r}; choose one of {', '.join(SIZES)}")
        world = cls(seed, time.time() if now is None else float(now), size, time_scale)
        if rate_limits is not None:
            world.limiter.config = rate_limits
        populate_world(
            world,
            tenants,
            thresholds=thresholds,
            drift=drift,
            edges=edges,
            fault_files=fault_files,
            large_file_bytes=large_file_bytes,
            zip_bomb_bytes=zip_bomb_bytes,
        )
        return world

    def ground_truth(
        self,
        slug: str,
        now: float | None = None,
        thresholds: Thresholds | None = None,
        dlp_profiles: Iterable[str] | None = None,
    ) -> set[tuple[str, str]]:
        """{(finding_type_id, resource_id)} a correct scanner reports (simulator.ground_truth)."""
        return {
            (f.finding_type_id, f.resource_id)
            for f in expected_findings(self, slug, now, thresholds, dlp_profiles)
        }

    def manifest(
        self,
        slug: str,
        now: float | None = None,
        thresholds: Thresholds | None = None,
        dlp_profiles: Iterable[str] | None = None,
    ) -> list[ExpectedFinding]:
        """The same findings with resource type, name and detail (list of ExpectedFinding)."""
        return expected_findings(self, slug, now, thresholds, dlp_profiles)
