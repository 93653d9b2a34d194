"""The simulator's plain data: configuration, records and ordered collections.

Nothing here knows a tenant or a world: these are the values ``simulator.state`` holds,
``simulator.generate`` creates, ``simulator.render`` turns into JSON and
``simulator.ground_truth`` judges. No I/O, no other simulator module.
"""

from __future__ import annotations

import bisect
import random
import string
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

DAY = 86400.0
ALNUM = string.ascii_letters + string.digits
LOWER = string.ascii_lowercase + string.digits

Visibility = Literal[
    "invite-only", "workspace-with-link", "workspace", "anyone-with-link", "gpt-store"
]
VISIBILITIES: tuple[str, ...] = (
    "invite-only",
    "workspace-with-link",
    "workspace",
    "anyone-with-link",
    "gpt-store",
)
TOOL_TYPES: tuple[str, ...] = ("code_interpreter", "browser", "dall-e", "memory", "custom_action")
CUSTOM_ACTION_SPELLINGS: tuple[str, ...] = ("custom_action", "custom-action", "action")


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Detection thresholds in days (the documented defaults)."""

    key_rotation_days: int = 90
    unused_key_days: int = 90
    inactive_user_days: int = 90
    stale_invite_days: int = 14


@dataclass(frozen=True, slots=True)
class Drift:
    """Per-tenant switches for the documented shape drift between API versions."""

    recipients: Literal["array", "list"] = "array"
    latest_config: Literal["list", "array"] = "list"
    invite_timestamp: Literal["both", "created_at", "invited_at"] = "both"
    admin_timestamps: Literal["int", "float"] = "int"
    extra_fields: bool = False
    service_account_flag: Literal["bool", "null"] = "bool"
    """``is_service_account`` of users as a boolean, or null (the official SDK allows it)."""


def default_drift(index: int) -> Drift:
    """tenant-01 is canonical; later tenants cycle through every drift variant."""
    if index == 1:
        return Drift()
    return Drift(
        recipients="list" if index % 2 == 0 else "array",
        latest_config="array" if index % 3 == 0 else "list",
        invite_timestamp=("both", "created_at", "invited_at")[(index - 1) % 3],
        admin_timestamps="float" if index % 4 == 0 else "int",
        extra_fields=index % 2 == 0,
        service_account_flag="null" if index % 3 == 0 else "bool",
    )


@dataclass(slots=True)
class ComplianceEdges:
    """Per-tenant switches for the Compliance API as live probes found it in 2026.

    All off (the defaults) is the v1.1 API every other test relies on. Mutable: a test may
    retire a tenant's ``/conversations`` between two scans (hold ``world.lock``).
    """

    conversations: Literal["list", "retired"] = "list"
    """``retired``: ``GET /conversations`` answers ``retired_status`` (the Logs Platform
    carries the conversations)."""
    retired_status: int = 410
    logs_scope: Literal["both", "workspaces", "organizations"] = "both"
    """Which scope of the Logs Platform answers; the other one is a 404."""
    conversation_page: int | None = None
    """Most conversations the server puts on one page (whatever ``limit`` says)."""
    nested_messages: int | None = None
    """Messages rendered per listed conversation; the rest is behind ``messages.has_more``."""
    relist: bool = False
    """Every page's last conversation is updated right after it is served (once per
    listing), so it is listed again at the end: the documented re-listing."""
    concatenated_json: bool = False
    """Log files put several JSON documents on one line."""
    message_dlp: bool = False
    """Plant DLP values in message text (``chatgpt_message_dlp`` ground truth)."""
    chatgpt_logins: bool = False
    """Plant AUTH_LOG sign-ins that decide inactive users (see generate.PLANTED_LABELS)."""


@dataclass(frozen=True, slots=True)
class SizeSpec:
    """Bulk counts added on top of the planted fixtures."""

    users: int
    invites: int
    admin_keys: int
    projects: int
    keys_per_project: int
    gpts: int
    cprojects: int
    conversations: int
    conversation_files: int
    gpt_files: int
    project_files: int


SIZES: dict[str, SizeSpec] = {
    "tiny": SizeSpec(3, 2, 1, 1, 1, 2, 1, 3, 1, 1, 1),
    "small": SizeSpec(40, 10, 4, 3, 3, 20, 4, 30, 20, 10, 5),
    "medium": SizeSpec(1000, 100, 20, 30, 4, 300, 50, 1000, 1200, 400, 200),
    "large": SizeSpec(10000, 500, 50, 200, 4, 1500, 200, 5000, 5000, 1500, 800),
    "huge": SizeSpec(50000, 2000, 100, 1000, 4, 5000, 500, 12000, 14000, 4000, 2000),
}


# --------------------------------------------------------------------------- records


@dataclass(slots=True)
class AdminUser:
    id: str
    name: str
    email: str
    role: str
    added_at: float
    api_key_last_used_at: float | None = None
    extras: bool = True  # emit newer API versions' optional fields (api_key_last_used_at too)
    label: str = ""


@dataclass(slots=True)
class Invite:
    id: str
    email: str
    role: str
    status: str
    created_at: float
    expires_at: float | None
    accepted_at: float | None
    projects: list[tuple[str, str]] = field(default_factory=list)
    label: str = ""


@dataclass(slots=True)
class KeyOwner:
    type: str  # "user" | "service_account"
    id: str
    name: str
    created_at: float
    role: str
    email: str | None = None


@dataclass(slots=True)
class AdminKey:
    id: str
    name: str
    redacted_value: str
    created_at: float
    expires_at: float | None
    last_used_at: float | None
    owner: KeyOwner
    label: str = ""


@dataclass(slots=True)
class Project:
    id: str
    name: str
    created_at: float
    archived_at: float | None = None


@dataclass(slots=True)
class ServiceAccount:
    id: str
    project_id: str
    name: str
    role: str
    created_at: float


@dataclass(slots=True)
class ProjectMember:
    project_id: str
    user_id: str
    role: str
    added_at: float

    @property
    def id(self) -> str:
        return self.user_id


@dataclass(slots=True)
class ProjectKey:
    id: str
    project_id: str
    name: str
    redacted_value: str
    created_at: float
    last_used_at: float | None
    owner_type: str  # "user" | "service_account"
    owner_id: str
    owner_project_access: str = "active"
    label: str = ""


@dataclass(slots=True)
class AuditEvent:
    id: str
    type: str
    effective_at: float
    actor_user_id: str
    actor_email: str
    project_id: str | None = None
    ip_address: str = "198.51.100.7"


@dataclass(slots=True)
class WorkspaceUser:
    id: str
    email: str
    name: str
    created_at: float
    role: str
    status: str


@dataclass(slots=True)
class Tool:
    type: str
    created_at: float
    action_domain: str | None = None
    auth_type: str | None = None
    privacy_policy_url: str | None = None


@dataclass(slots=True)
class Config:
    id: str
    name: str
    description: str
    instructions: str
    created_at: float
    tools: list[Tool]
    file_ids: list[str]
    author_id: str
    author_email: str


@dataclass(slots=True)
class Gpt:
    """A Compliance API GPT or (kind="project") a ChatGPT project: both share one shape."""

    kind: str  # "gpt" | "project"
    id: str
    created_at: float
    owner_id: str
    owner_email: str
    builder_name: str
    visibility: str
    recipients: list[tuple[str, str]]
    configs: list[Config]  # newest first
    label: str = ""

    @property
    def name(self) -> str:
        return self.configs[0].name if self.configs else ""


@dataclass(slots=True)
class Message:
    id: str
    parent_id: str | None
    created_at: float
    role: str
    tool_name: str | None
    text: str
    file_ids: list[str]
    gpt_id: str | None = None
    project_id: str | None = None
    profiles: tuple[str, ...] = ()  # DLP profiles planted in ``text``
    label: str = ""


@dataclass(slots=True)
class SignIn:
    """A ChatGPT sign-in of a workspace user (an AUTH_LOG record)."""

    id: str
    user_id: str  # workspace user id
    email: str
    at: float
    status: str = "success"


@dataclass(slots=True)
class LogFile:
    """One Compliance Logs Platform file: records are JSON objects, or a raw broken line."""

    id: str
    event_type: str
    end_time: float
    records: list[dict[str, Any] | str]


@dataclass(slots=True)
class Conversation:
    id: str
    user_id: str
    user_email: str
    created_at: float
    last_update: float
    title: str
    messages: list[Message]


@dataclass(slots=True)
class SimFile:
    """A file referenced from a conversation message, a GPT config or a project config."""

    id: str
    name: str
    fmt: str
    location: str  # "conversation" | "gpt" | "project"
    parent_id: str  # conversation / GPT / project id
    owner_user_id: str
    created_at: float
    variant: str = "clean"  # see simulator.files.VARIANTS
    profiles: tuple[str, ...] = ()
    expired: bool = False
    size_hint: int = 0  # for "large" (bytes) and "zipbomb" (inflated bytes)
    label: str = ""
    leaked_key_id: str = ""  # a project key of the tenant whose secret the text file carries


# --------------------------------------------------------------------------- ordered collections

T = TypeVar("T")


class Collection(Generic[T]):
    """Items by id with a cached sort order, and cursor positions that survive deletion."""

    def __init__(self, sort_key: Callable[[T], tuple[Any, ...]]) -> None:
        self._items: dict[str, T] = {}
        self._sort_key = sort_key
        self._ordered: list[T] | None = None
        self._keys: list[tuple[Any, ...]] = []
        self._ever: dict[str, tuple[Any, ...]] = {}

    def add(self, item: T) -> T:
        item_id: str = item.id  # type: ignore[attr-defined]
        self._items[item_id] = item
        self._ever[item_id] = self._sort_key(item)
        self._ordered = None
        return item

    def remove(self, item_id: str) -> T | None:
        self._ordered = None
        return self._items.pop(item_id, None)

    def resort(self) -> None:
        """Call after changing a field that the sort key reads."""
        for item_id, item in self._items.items():
            self._ever[item_id] = self._sort_key(item)
        self._ordered = None

    def get(self, item_id: str) -> T | None:
        return self._items.get(item_id)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[T]:
        return iter(self.ordered())

    def ordered(self) -> list[T]:
        if self._ordered is None:
            self._ordered = sorted(self._items.values(), key=self._sort_key)
            self._keys = [self._sort_key(i) for i in self._ordered]
        return self._ordered

    def touched(self, item_id: str) -> None:
        """An item's sort field changed but cursors handed out for it keep their place
        (until ``served`` renders the item again)."""
        self._ordered = None

    def served(self, item_ids: Iterable[str]) -> None:
        """Cursors of these items now point at their current place in the order."""
        for item_id in item_ids:
            item = self._items.get(item_id)
            if item is not None:
                self._ever[item_id] = self._sort_key(item)

    def known_cursor(self, item_id: str) -> bool:
        return item_id in self._ever

    def start_after(self, item_id: str | None) -> int:
        """Index of the first item strictly after `item_id` (0 when None)."""
        ordered = self.ordered()
        if item_id is None:
            return 0
        key = self._ever[item_id]
        return bisect.bisect_right(self._keys, key, 0, len(ordered))


# --------------------------------------------------------------------------- ids and tool names


def random_id(rng: random.Random, n: int, alphabet: str = ALNUM) -> str:
    """``n`` characters of ``alphabet`` drawn from ``rng``."""
    return "".join(rng.choices(alphabet, k=n))


def random_uuid(rng: random.Random) -> str:
    """A version-4 UUID drawn from ``rng``."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def normalise_tool_type(raw: str) -> str:
    """Map the spelling variants seen in the wild onto the documented tool types."""
    t = raw.strip().lower().replace(" ", "_")
    if t in ("custom_action", "custom-action", "action", "actions"):
        return "custom_action"
    if t in ("browser", "web_browsing", "web_search", "browsing"):
        return "browser"
    if t in ("code_interpreter", "code-interpreter", "python"):
        return "code_interpreter"
    return t
