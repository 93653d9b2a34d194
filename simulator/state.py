"""The simulated OpenAI world as state: tenants, their data, credentials and blob tokens.

Plain data and mutations (no sockets, no files, no generation, no ground truth): the
records live in ``simulator.model``; ``simulator.generate`` fills a ``WorldState`` and
``simulator.ground_truth`` judges it; ``simulator.world.World`` puts the three together.
File bytes are not stored: ``simulator.files`` rebuilds them on demand from the seed.

Thread-safety: the HTTP server reads the world from its own thread while tests mutate it, so
all mutations and every request's reads hold ``WorldState.lock``.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any, Literal

from simulator import files as simfiles
from simulator.faults import FaultBook
from simulator.logs import message_record
from simulator.model import (
    ALNUM,
    DAY,
    LOWER,
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
    LogFile,
    Message,
    Project,
    ProjectKey,
    ProjectMember,
    ServiceAccount,
    SignIn,
    SimFile,
    Thresholds,
    Tool,
    WorkspaceUser,
    normalise_tool_type,
    random_id,
    random_uuid,
)
from simulator.ratelimit import RateLimitConfig, RateLimiter


class Tenant:
    """One OpenAI organization with its ChatGPT Enterprise workspace, credentials and data."""

    def __init__(
        self,
        world: WorldState,
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

    def new_id(self, prefix: str, n: int = 24, alphabet: str = ALNUM) -> str:
        return prefix + random_id(self.rng, n, alphabet)

    def redacted(self, prefix: str) -> str:
        return f"{prefix}...{random_id(self.rng, 4, LOWER)}"

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
                self.world.forget_key(self.admin_key)
                self.admin_key = "sk-admin-" + random_id(self.rng, 96, ALNUM + "-_")
                self.world.register_key(self.admin_key, self.slug, "admin")
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
            _set_key_times(key, self.admin_keys, created_at, last_used_at)

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
            _set_key_times(
                key, self.project_key_collection(key.project_id), created_at, last_used_at
            )

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
        """Record API activity for a user (sets `api_key_last_used_at`, of newer API versions)."""
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
                self.world.register_file(self, f)
                msg = Message(
                    random_uuid(self.rng),
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
                self.world.register_file(self, f)
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
                random_uuid(self.rng),
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


class WorldState:
    """All tenants plus the server-side runtime state (rate limiter, faults, stats).

    Empty when built: ``simulator.generate.populate_world`` adds the tenants.
    """

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

    def register_key(self, key: str, slug: str, kind: str) -> None:
        """Make a credential valid: it authenticates as ``kind`` of tenant ``slug``."""
        self._keys[key] = (slug, kind)

    def forget_key(self, key: str) -> None:
        """Revoke a credential (unknown keys are ignored)."""
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

    def register_file(self, tenant: Tenant, f: SimFile) -> None:
        """Store a file of ``tenant`` and give it a blob token on the storage host."""
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

    # ----------------------------------------------------------------- stats

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
        name = type(self).__name__
        return f"{name}(seed={self.seed}, size={self.size!r}, tenants={list(self.tenants)})"


_BOMB_CACHE: dict[int, bytes] = {}
_BOMB_LOCK = threading.Lock()


def _zip_bomb_cached(size: int) -> bytes:
    with _BOMB_LOCK:
        if size not in _BOMB_CACHE:
            _BOMB_CACHE[size] = simfiles.zip_bomb(size)
        return _BOMB_CACHE[size]


def _set_key_times(
    key: AdminKey | ProjectKey,
    collection: Collection[Any],
    created_at: float | None,
    last_used_at: float | Literal["keep"] | None,
) -> None:
    """A key's new creation time (its list re-sorted) and last use (``"keep"``: unchanged)."""
    if created_at is not None:
        key.created_at = created_at
        collection.resort()
    if last_used_at != "keep":
        key.last_used_at = last_used_at
