"""The simulated OpenAI world: seeded tenants with Admin API and Compliance API data.

Pure data and mutations (no sockets, no files). `World.generate(...)` is deterministic from the
seed (and `now`, which only shifts timestamps). Every tenant carries a fixed set of planted
fixtures on both sides of each detection threshold, plus seeded bulk data sized by `size`.
File bytes are not stored: simulator.files rebuilds them on demand from the seed.

Thread-safety: the HTTP server reads the world from its own thread while tests mutate it, so all
mutations and every request's reads hold `World.lock`.
"""

from __future__ import annotations

import bisect
import hashlib
import random
import string
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Generic, Literal, TypeVar

from simulator import files as simfiles
from simulator.faults import FaultBook
from simulator.ratelimit import RateLimitConfig, RateLimiter

DAY = 86400.0
_ALNUM = string.ascii_letters + string.digits
_LOWER = string.ascii_lowercase + string.digits

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
    extras: bool = True  # emit the optional OAS26 fields (api_key_last_used_at only when extras)
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


# --------------------------------------------------------------------------- tenant


def _rid(rng: random.Random, n: int, alphabet: str = _ALNUM) -> str:
    return "".join(rng.choices(alphabet, k=n))


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


_FIRST = [
    "Ada",
    "Grace",
    "Alan",
    "Linus",
    "Barbara",
    "Edsger",
    "Ken",
    "Dennis",
    "Margaret",
    "Radia",
    "Frances",
    "Donald",
    "Leslie",
    "Niklaus",
    "John",
    "Sophie",
    "Tim",
    "Katherine",
    "Hedy",
    "Annie",
]
_LAST = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Torvalds",
    "Liskov",
    "Dijkstra",
    "Thompson",
    "Ritchie",
    "Hamilton",
    "Perlman",
    "Allen",
    "Knuth",
    "Lamport",
    "Wirth",
    "Backus",
    "Wilson",
    "Berners",
    "Johnson",
    "Lamarr",
    "Easley",
]
_COMPANY = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Vandelay",
    "Stark",
    "Wayne",
    "Tyrell",
    "Soylent",
    "Cyberdyne",
    "Wonka",
]
_THINGS = [
    "Harbor",
    "Orchard",
    "Lantern",
    "Meadow",
    "Copper",
    "Summit",
    "Beacon",
    "Compass",
    "Atlas",
    "Falcon",
    "Maple",
    "Cedar",
]
_ROLES = ["Helper", "Assistant", "Analyst", "Writer", "Reviewer", "Planner", "Coach", "Tutor"]


class Tenant:
    """One OpenAI organization with its ChatGPT Enterprise workspace, credentials and data."""

    def __init__(
        self,
        world: World,
        index: int,
        slug: str,
        name: str,
        org_id: str,
        workspace_id: str,
        thresholds: Thresholds,
        drift: Drift,
        rng: random.Random,
    ) -> None:
        self.world = world
        self.index = index
        self.slug = slug
        self.name = name
        self.org_id = org_id
        self.workspace_id = workspace_id
        self.thresholds = thresholds
        self.drift = drift
        self.rng = rng  # used by mutations after generation (deterministic per call order)
        self.admin_key = ""
        self.compliance_key = ""
        self.project_keys: dict[str, str] = {}  # credential value -> project key record id
        self.scanner_admin_key_id = ""
        self.users: Collection[AdminUser] = Collection(lambda u: (u.added_at, u.id))
        self.invites: Collection[Invite] = Collection(lambda i: (i.created_at, i.id))
        self.admin_keys: Collection[AdminKey] = Collection(lambda k: (k.created_at, k.id))
        self.projects: Collection[Project] = Collection(lambda p: (p.created_at, p.id))
        self.project_keys_by_project: dict[str, Collection[ProjectKey]] = {}
        self.service_accounts: dict[str, Collection[ServiceAccount]] = {}
        self.project_members: dict[str, Collection[ProjectMember]] = {}
        self.audit_logs: Collection[AuditEvent] = Collection(lambda e: (e.effective_at, e.id))
        self.workspace_users: Collection[WorkspaceUser] = Collection(lambda u: (u.id,))
        self.gpts: Collection[Gpt] = Collection(lambda g: (g.created_at, g.id))
        self.cprojects: Collection[Gpt] = Collection(lambda g: (g.created_at, g.id))
        self.conversations: Collection[Conversation] = Collection(lambda c: (c.last_update, c.id))
        self.files: dict[str, SimFile] = {}
        self.labels: dict[str, str] = {}  # planted fixture label -> resource id
        self.edges = ComplianceEdges()
        self.signins: list[SignIn] = []
        self.log_files: list[LogFile] = []
        self.relist_bumped: set[str] = set()  # conversations re-listed in the current listing

    # ----------------------------------------------------------------- helpers

    @property
    def now(self) -> float:
        return self.world.now

    def ago(self, days: float) -> float:
        return self.world.now - days * DAY

    def _label(self, label: str, resource_id: str) -> None:
        if label:
            self.labels[label] = resource_id

    def id_of(self, label: str) -> str:
        """The id of a planted fixture by its label (see docs in ground_truth / README)."""
        return self.labels[label]

    def project_key_collection(self, project_id: str) -> Collection[ProjectKey]:
        if project_id not in self.project_keys_by_project:
            self.project_keys_by_project[project_id] = Collection(lambda k: (k.created_at, k.id))
        return self.project_keys_by_project[project_id]

    def all_project_keys(self) -> Iterator[ProjectKey]:
        for coll in self.project_keys_by_project.values():
            yield from coll.ordered()

    def find_project_key(self, key_id: str) -> ProjectKey | None:
        for coll in self.project_keys_by_project.values():
            key = coll.get(key_id)
            if key is not None:
                return key
        return None

    def new_id(self, prefix: str, n: int = 24, alphabet: str = _ALNUM) -> str:
        return prefix + _rid(self.rng, n, alphabet)

    def redacted(self, prefix: str) -> str:
        return f"{prefix}...{_rid(self.rng, 4, _LOWER)}"

    # ----------------------------------------------------------------- mutations
    # Each takes the world lock so a running server never sees a half-applied change.

    def set_gpt_visibility(self, gpt_id: str, visibility: str) -> None:
        if visibility not in VISIBILITIES:
            raise ValueError(f"unknown visibility {visibility!r}")
        with self.world.lock:
            self._gpt(gpt_id).visibility = visibility

    def _gpt(self, gpt_id: str) -> Gpt:
        gpt = self.gpts.get(gpt_id) or self.cprojects.get(gpt_id)
        if gpt is None:
            raise KeyError(gpt_id)
        return gpt

    def _new_config_version(self, gpt: Gpt, tools: list[Tool]) -> Config:
        cur = gpt.configs[0]
        prefix = "gzm_cnf_" if gpt.kind == "gpt" else "pr_cnf_"
        cfg = replace(
            cur,
            id=self.new_id(prefix),
            created_at=self.world.clock(),
            tools=tools,
            file_ids=list(cur.file_ids),
        )
        gpt.configs.insert(0, cfg)
        return cfg

    def remove_gpt_tool(self, gpt_id: str, tool_type: str) -> None:
        """Publish a new config without any tool of this (normalised) type."""
        with self.world.lock:
            gpt = self._gpt(gpt_id)
            want = normalise_tool_type(tool_type)
            tools = [t for t in gpt.configs[0].tools if normalise_tool_type(t.type) != want]
            self._new_config_version(gpt, tools)

    def add_gpt_tool(
        self, gpt_id: str, tool_type: str, action_domain: str = "api.example.net"
    ) -> None:
        """Publish a new config that adds a tool (tool_type spelled as given)."""
        with self.world.lock:
            gpt = self._gpt(gpt_id)
            tool = Tool(tool_type, self.world.clock())
            if normalise_tool_type(tool_type) == "custom_action":
                tool.action_domain, tool.auth_type = action_domain, "oauth"
                tool.privacy_policy_url = f"https://{action_domain}/privacy"
            self._new_config_version(gpt, [*gpt.configs[0].tools, tool])

    def rotate_admin_key(self, key_id: str) -> str:
        """Replace an admin key by a fresh one (new id, created now, never used); returns the id.

        Rotating the scanner's own key also changes `admin_key` (the old value stops working).
        """
        with self.world.lock:
            old = self.admin_keys.remove(key_id)
            if old is None:
                raise KeyError(key_id)
            new = AdminKey(
                self.new_id("key_", 16),
                old.name,
                self.redacted("sk-admin"),
                self.world.clock(),
                None,
                None,
                old.owner,
                old.label,
            )
            self.admin_keys.add(new)
            if key_id == self.scanner_admin_key_id:
                self.world._forget_key(self.admin_key)
                self.admin_key = "sk-admin-" + _rid(self.rng, 96, _ALNUM + "-_")
                self.world._register_key(self.admin_key, self.slug, "admin")
                self.scanner_admin_key_id = new.id
                new.last_used_at = self.world.clock()
                new.redacted_value = f"sk-admin...{self.admin_key[-4:]}"
            return new.id

    def rotate_project_key(self, key_id: str) -> str:
        with self.world.lock:
            old = self.find_project_key(key_id)
            if old is None:
                raise KeyError(key_id)
            coll = self.project_key_collection(old.project_id)
            coll.remove(key_id)
            new = replace(
                old,
                id=self.new_id("key_", 16),
                created_at=self.world.clock(),
                last_used_at=None,
                redacted_value=self.redacted("sk-proj"),
            )
            coll.add(new)
            return new.id

    def update_admin_key(
        self,
        key_id: str,
        *,
        created_at: float | None = None,
        last_used_at: float | Literal["keep"] | None = "keep",
    ) -> None:
        with self.world.lock:
            key = self.admin_keys.get(key_id)
            if key is None:
                raise KeyError(key_id)
            if created_at is not None:
                key.created_at = created_at
                self.admin_keys.resort()
            if last_used_at != "keep":
                key.last_used_at = last_used_at

    def update_project_key(
        self,
        key_id: str,
        *,
        created_at: float | None = None,
        last_used_at: float | Literal["keep"] | None = "keep",
    ) -> None:
        with self.world.lock:
            key = self.find_project_key(key_id)
            if key is None:
                raise KeyError(key_id)
            if created_at is not None:
                key.created_at = created_at
                self.project_key_collection(key.project_id).resort()
            if last_used_at != "keep":
                key.last_used_at = last_used_at

    def delete_admin_key(self, key_id: str) -> None:
        with self.world.lock:
            if self.admin_keys.remove(key_id) is None:
                raise KeyError(key_id)

    def delete_project_key(self, key_id: str) -> None:
        with self.world.lock:
            key = self.find_project_key(key_id)
            if key is None:
                raise KeyError(key_id)
            self.project_key_collection(key.project_id).remove(key_id)

    def accept_invite(self, invite_id: str) -> None:
        with self.world.lock:
            inv = self.invites.get(invite_id)
            if inv is None:
                raise KeyError(invite_id)
            inv.status, inv.accepted_at = "accepted", self.world.clock()

    def delete_invite(self, invite_id: str) -> None:
        with self.world.lock:
            if self.invites.remove(invite_id) is None:
                raise KeyError(invite_id)

    def add_invite(
        self,
        email: str,
        role: str = "reader",
        *,
        created_days_ago: float = 0.0,
        expires_at: float | None = None,
        projects: Iterable[tuple[str, str]] = (),
    ) -> str:
        with self.world.lock:
            inv = Invite(
                self.new_id("invite-"),
                email,
                role,
                "pending",
                self.ago(created_days_ago),
                expires_at,
                None,
                list(projects),
            )
            self.invites.add(inv)
            return inv.id

    def delete_user(self, user_id: str) -> None:
        with self.world.lock:
            if self.users.remove(user_id) is None:
                raise KeyError(user_id)
            for members in self.project_members.values():
                members.remove(user_id)

    def touch_user_activity(self, user_id: str, at: float | None = None) -> None:
        """Record API activity for a user (sets the OAS26 `api_key_last_used_at`)."""
        with self.world.lock:
            user = self.users.get(user_id)
            if user is None:
                raise KeyError(user_id)
            user.extras = True
            user.api_key_last_used_at = self.world.clock() if at is None else at

    def set_user_activity(self, user_id: str, api_key_last_used_at: float | None) -> None:
        with self.world.lock:
            user = self.users.get(user_id)
            if user is None:
                raise KeyError(user_id)
            user.api_key_last_used_at = api_key_last_used_at

    def add_login(
        self, user_id: str, at: float | None = None, event_type: str = "login.succeeded"
    ) -> str:
        with self.world.lock:
            user = self.users.get(user_id)
            if user is None:
                raise KeyError(user_id)
            ev = AuditEvent(
                self.new_id("audit_log-"),
                event_type,
                self.world.clock() if at is None else at,
                user.id,
                user.email,
            )
            self.audit_logs.add(ev)
            return ev.id

    def add_file(
        self,
        location: str,
        parent_id: str | None = None,
        *,
        fmt: str = "txt",
        profiles: Iterable[str] = (),
        variant: str | None = None,
        name: str | None = None,
        expired: bool = False,
    ) -> str:
        """Attach a new file to a conversation (new message), GPT or project (new config).

        `profiles` plants data for those DLP profiles (variant "planted"); otherwise clean.
        """
        profs = tuple(profiles)
        var = variant or ("planted" if profs else "clean")
        with self.world.lock:
            fid = self.new_id("file-", 24)
            fname = name or f"added_{len(self.files)}.{fmt}"
            if location == "conversation":
                conv = (
                    self.conversations.get(parent_id)
                    if parent_id
                    else self.conversations.ordered()[0]
                )
                if conv is None:
                    raise KeyError(parent_id)
                f = SimFile(
                    fid,
                    fname,
                    fmt,
                    "conversation",
                    conv.id,
                    conv.user_id,
                    self.world.clock(),
                    var,
                    profs,
                    expired,
                )
                self.world._add_file(self, f)
                msg = Message(
                    _uuid(self.rng),
                    conv.messages[-1].id if conv.messages else None,
                    self.world.clock(),
                    "user",
                    None,
                    "Please review the attached file.",
                    [fid],
                )
                conv.messages.append(msg)
                conv.last_update = max(conv.last_update, msg.created_at)
                self.conversations.resort()
                self.log_messages([(conv, msg)])
            elif location in ("gpt", "project"):
                coll = self.gpts if location == "gpt" else self.cprojects
                gpt = coll.get(parent_id) if parent_id else coll.ordered()[0]
                if gpt is None:
                    raise KeyError(parent_id)
                f = SimFile(
                    fid,
                    fname,
                    fmt,
                    location,
                    gpt.id,
                    gpt.owner_id,
                    self.world.clock(),
                    var,
                    profs,
                    expired,
                )
                self.world._add_file(self, f)
                cfg = self._new_config_version(gpt, list(gpt.configs[0].tools))
                cfg.file_ids.append(fid)
            else:
                raise ValueError(f"unknown location {location!r}")
            return fid

    def add_message(
        self,
        conversation_id: str | None = None,
        *,
        profiles: Iterable[str] = (),
        text: str | None = None,
    ) -> str:
        """A new user message (planted for ``profiles``), delivered in a new log file."""
        profs = tuple(profiles)
        with self.world.lock:
            conv = (
                self.conversations.get(conversation_id)
                if conversation_id
                else self.conversations.ordered()[0]
            )
            if conv is None:
                raise KeyError(conversation_id)
            if text is None:
                text, _ = simfiles.message_text(self.rng, "planted" if profs else "clean", profs)
            msg = Message(
                _uuid(self.rng),
                conv.messages[-1].id if conv.messages else None,
                self.world.clock(),
                "user",
                None,
                text,
                [],
                profiles=profs,
            )
            conv.messages.append(msg)
            conv.last_update = max(conv.last_update, msg.created_at)
            self.conversations.resort()
            self.log_messages([(conv, msg)])
            return msg.id

    def log_messages(self, items: list[tuple[Conversation, Message]]) -> None:
        """Deliver messages in one new CONVERSATION_MESSAGE log file (ends now)."""
        from simulator.logs import message_record

        with self.world.lock:
            records: list[dict[str, Any] | str] = [
                message_record(self, conv, msg, n) for n, (conv, msg) in enumerate(items)
            ]
            self.log_files.append(
                LogFile(
                    self.new_id("log_", 20),
                    "CONVERSATION_MESSAGE",
                    round(max(self.world.clock(), *(m.created_at for _, m in items)), 6),
                    records,
                )
            )

    def remove_file(self, file_id: str) -> None:
        """Detach a file: from its conversation message, or via a new GPT/project config."""
        with self.world.lock:
            f = self.files.get(file_id)
            if f is None:
                raise KeyError(file_id)
            if f.location == "conversation":
                conv = self.conversations.get(f.parent_id)
                if conv is not None:
                    for msg in conv.messages:
                        if file_id in msg.file_ids:
                            msg.file_ids.remove(file_id)
            else:
                gpt = self._gpt(f.parent_id)
                cfg = self._new_config_version(gpt, list(gpt.configs[0].tools))
                cfg.file_ids = [x for x in cfg.file_ids if x != file_id]
            del self.files[file_id]

    def key_secret(self, key_id: str) -> str:
        """The secret of one of the tenant's project keys whose value the simulator holds."""
        for secret, record_id in self.project_keys.items():
            if record_id == key_id:
                return secret
        raise KeyError(f"no known secret for key {key_id}")

    def leak_key_in_file(self, location: str, parent_id: str, key_id: str) -> str:
        """A new text file on a GPT/project/conversation whose text carries the key's secret."""
        self.key_secret(key_id)  # fail before any change when the secret is unknown
        fid = self.add_file(location, parent_id, fmt="txt", name="deploy_notes.txt")
        with self.world.lock:
            self.files[fid].leaked_key_id = key_id
        return fid

    def expire_file(self, file_id: str) -> None:
        with self.world.lock:
            self.files[file_id].expired = True

    def archive_project(self, project_id: str) -> None:
        with self.world.lock:
            proj = self.projects.get(project_id)
            if proj is None:
                raise KeyError(project_id)
            proj.archived_at = self.world.clock()

    def credentials(self) -> dict[str, Any]:
        """What an operator would register for this tenant (keys included: dev tool only)."""
        return {
            "slug": self.slug,
            "name": self.name,
            "org_id": self.org_id,
            "workspace_id": self.workspace_id,
            "admin_key": self.admin_key,
            "compliance_key": self.compliance_key,
            "project_keys": sorted(self.project_keys),
        }

    def __repr__(self) -> str:  # never print keys
        return (
            f"Tenant(slug={self.slug!r}, org_id={self.org_id!r}, workspace={self.workspace_id!r})"
        )


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


# --------------------------------------------------------------------------- world


class World:
    """All tenants plus the server-side runtime state (rate limiter, faults, stats)."""

    def __init__(self, seed: int, now: float, size: str, time_scale: float = 1.0) -> None:
        self.seed = seed
        self.now = now
        self.size = size
        self.lock = threading.RLock()
        self.tenants: dict[str, Tenant] = {}
        self._keys: dict[str, tuple[str, str]] = {}  # key value -> (slug, kind)
        self._blobs: dict[str, tuple[str, str]] = {}  # token -> (slug, file_id)
        self.limiter = RateLimiter(RateLimitConfig(), time_scale=time_scale)
        self.faults = FaultBook()
        self._clock_offset = time.time() - now  # wall-clock time maps onto world time

    # ----------------------------------------------------------------- construction

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
        from simulator.generate import populate_tenant

        for index in range(1, tenants + 1):
            slug = f"tenant-{index:02d}"
            th = (
                thresholds.get(slug, Thresholds())
                if isinstance(thresholds, Mapping)
                else (thresholds or Thresholds())
            )
            dr = (
                drift.get(slug, default_drift(index))
                if isinstance(drift, Mapping)
                else (drift or default_drift(index))
            )
            rng = random.Random(f"openai-casb-sim:{seed}:{index}")
            ed = (
                edges.get(slug, ComplianceEdges())
                if isinstance(edges, Mapping)
                else replace(edges)
                if edges is not None
                else ComplianceEdges()
            )
            tenant = populate_tenant(
                world,
                index,
                slug,
                rng,
                th,
                dr,
                SIZES[size],
                fault_files=fault_files and index == 1,
                large_file_bytes=large_file_bytes,
                zip_bomb_bytes=zip_bomb_bytes,
                edges=ed,
            )
            world.tenants[slug] = tenant
        return world

    # ----------------------------------------------------------------- registry

    def clock(self) -> float:
        """World time now: generation `now` plus wall-clock seconds elapsed since."""
        return time.time() - self._clock_offset

    def tenant(self, slug: str) -> Tenant:
        return self.tenants[slug]

    def tenant_by_workspace(self, workspace_id: str) -> Tenant | None:
        for t in self.tenants.values():
            if t.workspace_id == workspace_id:
                return t
        return None

    def lookup_key(self, key: str) -> tuple[Tenant, str] | None:
        """(tenant, kind) for a credential; kind is "admin", "compliance" or "project"."""
        hit = self._keys.get(key)
        if hit is None:
            return None
        return self.tenants[hit[0]], hit[1]

    def _register_key(self, key: str, slug: str, kind: str) -> None:
        self._keys[key] = (slug, kind)

    def _forget_key(self, key: str) -> None:
        self._keys.pop(key, None)

    def tenant_by_org(self, org_id: str) -> Tenant | None:
        for t in self.tenants.values():
            if t.org_id == org_id:
                return t
        return None

    def log_token(self, slug: str, log_id: str) -> str:
        return hashlib.sha256(f"log:{self.seed}:{slug}:{log_id}".encode()).hexdigest()[:40]

    def resolve_log_blob(self, token: str) -> tuple[Tenant, LogFile] | None:
        for tenant in self.tenants.values():
            for log in tenant.log_files:
                if self.log_token(tenant.slug, log.id) == token:
                    return tenant, log
        return None

    def blob_token(self, slug: str, file_id: str) -> str:
        return hashlib.sha256(f"blob:{self.seed}:{slug}:{file_id}".encode()).hexdigest()[:40]

    def _add_file(self, tenant: Tenant, f: SimFile) -> None:
        tenant.files[f.id] = f
        self._blobs[self.blob_token(tenant.slug, f.id)] = (tenant.slug, f.id)

    def resolve_blob(self, token: str) -> tuple[Tenant, SimFile] | None:
        hit = self._blobs.get(token)
        if hit is None:
            return None
        tenant = self.tenants[hit[0]]
        f = tenant.files.get(hit[1])
        return (tenant, f) if f is not None else None

    def file_bytes(self, tenant: Tenant, f: SimFile) -> bytes:
        """Content of a small file (for variant 'large' use simulator.files.large_text_stream)."""
        if f.variant == "zipbomb":
            return _zip_bomb_cached(f.size_hint)
        data, _ = simfiles.generate_content(self.seed, f.id, f.name, f.fmt, f.variant, f.profiles)
        if f.leaked_key_id:
            secret = tenant.key_secret(f.leaked_key_id)
            data += f"\n\nDeployment notes: export OPENAI_API_KEY={secret}\n".encode()
        return data

    def planted_entries(self, slug: str, file_id: str) -> list[simfiles.PlantedEntry]:
        """The sensitive values planted in a file (ground truth for matcher evidence tests)."""
        tenant = self.tenants[slug]
        f = tenant.files[file_id]
        if f.variant != "planted":
            return []
        _, entries = simfiles.generate_content(
            self.seed, f.id, f.name, f.fmt, f.variant, f.profiles
        )
        return entries

    # ----------------------------------------------------------------- ground truth & stats

    def ground_truth(
        self,
        slug: str,
        now: float | None = None,
        thresholds: Thresholds | None = None,
        dlp_profiles: Iterable[str] | None = None,
    ) -> set[tuple[str, str]]:
        """{(finding_type_id, resource_id)} a correct scanner reports (simulator.ground_truth)."""
        from simulator.ground_truth import expected_findings

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
    ) -> list[Any]:
        """The same findings with resource type, name and detail (list of ExpectedFinding)."""
        from simulator.ground_truth import expected_findings

        return expected_findings(self, slug, now, thresholds, dlp_profiles)

    def stats(self, slug: str | None = None) -> dict[str, Any]:
        """Request counts, 429s and budget violations per tenant and route group."""
        full = self.limiter.snapshot()
        if slug is None:
            return full
        return full["tenants"].get(
            slug, {"requests": 0, "violations": 0, "groups": {}, "counters": {}}
        )

    def reset_stats(self) -> None:
        self.limiter.reset_stats()

    def set_time_scale(self, time_scale: float) -> None:
        self.limiter.set_time_scale(time_scale)

    def __repr__(self) -> str:
        return f"World(seed={self.seed}, size={self.size!r}, tenants={list(self.tenants)})"


_BOMB_CACHE: dict[int, bytes] = {}
_BOMB_LOCK = threading.Lock()


def _zip_bomb_cached(size: int) -> bytes:
    with _BOMB_LOCK:
        if size not in _BOMB_CACHE:
            _BOMB_CACHE[size] = simfiles.zip_bomb(size)
        return _BOMB_CACHE[size]
