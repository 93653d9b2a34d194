"""Seeded generation: a ``TenantBuilder`` per tenant, planted boundary fixtures first, then bulk.

Pure (no I/O). ``populate_world`` fills a ``simulator.state.WorldState`` with tenants;
``TenantBuilder`` creates one of them, one method per group of planted fixtures (users, keys,
invites, GPTs, files, conversations, messages, sign-ins) and per kind of bulk data, over a few
primitives (``user``, ``project_key``, ``gpt``, ``file``...) and the public ``register_key``,
``add_file`` and ``label``. Planted fixtures carry a `label` (also in `Tenant.labels`) so tests
can name them; see PLANTED_LABELS for what each one is expected to trigger at default thresholds.

Every random draw comes from the tenant's own ``random.Random``, in the order ``build`` calls the
steps: the same seed always gives the same tenant.

Bulk ages are whole days plus half a day, so no bulk object sits within 12 hours of an
integer-day threshold: a scan a few minutes after generation sees the same ground truth.
Planted ages are threshold - 1 day and threshold + 1 day.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from simulator import files as simfiles
from simulator.logs import build_log_files
from simulator.model import (
    ALNUM,
    DAY,
    LOWER,
    SIZES,
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
    WorkspaceUser,
    default_drift,
    random_id,
    random_uuid,
)
from simulator.state import Tenant, WorldState

# label -> short description of what it must (or must not) trigger at default thresholds.
PLANTED_LABELS: dict[str, str] = {
    # users (inactive user rule)
    "user-owner": "active (recent api use and login)",
    "user-apikey-recent": "api_key_last_used_at T-1: active",
    "user-apikey-old": "api_key_last_used_at T+1: INACTIVE",
    "user-login-recent": "login.succeeded T-1 (no newer-version extras): active",
    "user-login-old": "login.succeeded T+1, recent login.failed only: INACTIVE",
    "user-projkey-recent": "owns project key (owner access inactive) used T-1: active",
    "user-projkey-old": "owns project key used T+1: INACTIVE",
    "user-added-recent": "added_at T-1, no other signal: active",
    "user-added-old": "added_at T+1, no other signal: INACTIVE",
    "user-mixed": "api use T+30 but login T-1: active",
    "user-archived-key": "owns key in archived project used 10d ago: active",
    # invites
    "invite-owner-pending": "pending org owner: HIGH-PRIVILEGE",
    "invite-project-owner": "pending reader with project owner role: HIGH-PRIVILEGE",
    "invite-project-member": "pending reader, project member: nothing",
    "invite-owner-accepted": "accepted owner: nothing",
    "invite-owner-expired": "status expired owner: nothing",
    "invite-young": "pending, age T-1: nothing",
    "invite-stale": "pending, age T+1: STALE",
    "invite-expires-past": "pending 3d, expires_at passed: STALE",
    "invite-expires-future": "pending 3d, expires_at future: nothing",
    "invite-owner-stale": "pending owner age T+6: HIGH-PRIVILEGE and STALE",
    # admin keys
    "admin-key-scanner": "the tenant's own admin key: nothing",
    "admin-key-rot-young": "created R-1, used 1d: nothing",
    "admin-key-rot-old": "created R+1, used 1d: NOT ROTATED",
    "admin-key-unused-young": "created 30d, never used: nothing",
    "admin-key-never-used-old": "created U+1, never used: UNUSED (+ NOT ROTATED at R=U)",
    "admin-key-never-used-young": "created U-1, never used: nothing",
    "admin-key-used-recent": "created 200d, used U-1: NOT ROTATED only",
    "admin-key-used-old": "created 200d, used U+1: NOT ROTATED and UNUSED",
    "admin-key-service-account": "service-account owner, 10d, used 1d: nothing",
    # project keys
    "project-key-rot-young": "created R-1: nothing",
    "project-key-rot-old": "created R+1: NOT ROTATED",
    "project-key-never-used-old": "created U+1 never used: UNUSED + NOT ROTATED",
    "project-key-never-used-young": "created U-1 never used: nothing",
    "project-key-used-recent": "created 200d used U-1: NOT ROTATED",
    "project-key-used-old": "created 200d used U+1: NOT ROTATED + UNUSED",
    "project-key-service-account": "service-account owner: nothing",
    "project-key-inactive-owner-recent": "owner_project_access inactive, used T-1: ORPHANED",
    "project-key-inactive-owner-old": "owner access inactive, 120d, used U+1: NOT ROTATED + UNUSED"
    " + ORPHANED",
    "project-key-archived": "in archived project, 200d: NOT ROTATED",
    "project-key-credential": "the optional project credential: nothing",
    # GPTs
    "gpt-custom-action": "custom_action: CUSTOM ACTIONS",
    "gpt-custom-action-dash": "custom-action spelling: CUSTOM ACTIONS",
    "gpt-action": "action spelling: CUSTOM ACTIONS",
    "gpt-code-interpreter": "CODE INTERPRETER",
    "gpt-browser": "WEB BROWSING",
    "gpt-dalle-memory": "dall-e + memory: nothing",
    "gpt-store": "visibility gpt-store: GPT STORE",
    "gpt-link": "visibility anyone-with-link: PUBLIC LINK",
    "gpt-everything": "all tools + gpt-store: four findings",
    "gpt-old-config-action": "older config had custom_action, latest has dall-e: nothing",
    "gpt-workspace-link": "workspace-with-link + memory: nothing",
    "gpt-with-files": "files: planted credentials pdf (GPT FILE DLP), clean, near miss",
    # with ComplianceEdges(message_dlp=True): message text in the first conversation
    "message-credentials": "message 2 of the first conversation: MESSAGE DLP (credentials)",
    "message-financial": "message 5: MESSAGE DLP (financial, PII)",
    "message-identifiers": "message 6: MESSAGE DLP (identifiers)",
    "message-near-miss": "message 7: near misses only: nothing",
    "signin-owner": "the owner signs in to ChatGPT 12h ago (always; already active)",
    # with ComplianceEdges(chatgpt_logins=True): AUTH_LOG sign-ins of workspace users
    "signin-added-old": "user-added-old signs in to ChatGPT at T-1: becomes active",
    "signin-apikey-old": "user-apikey-old signs in at T+5: still INACTIVE",
    "signin-login-old-failed": "user-login-old fails a sign-in 1d ago: still INACTIVE",
}


_DOC_KINDS = ("notes", "report", "export", "plan", "sheet")


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


def _days(rng: random.Random, lo: int, hi: int) -> float:
    """Whole days in [lo, hi) plus half a day (never near an integer threshold)."""
    return rng.randrange(lo, hi) + 0.5


def _person(rng: random.Random, slug: str, n: int) -> tuple[str, str]:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    return f"{first} {last}", f"{first.lower()}.{last.lower()}.{n}@{slug}.example.com"


def _key_secret(rng: random.Random, prefix: str) -> str:
    if prefix == "sk-proj-":
        return prefix + random_id(rng, 74) + "T3BlbkFJ" + random_id(rng, 74)
    return prefix + random_id(rng, 96, ALNUM + "-_")


@dataclass(frozen=True, slots=True)
class _PlantedFile:
    """A file planted in the first conversation (format, variant, profiles, expiry, label, name)."""

    fmt: str
    variant: str
    profiles: tuple[str, ...]
    expired: bool
    label: str
    name: str


_CRED, _FIN, _IDS = (
    simfiles.PROFILE_CREDENTIALS,
    simfiles.PROFILE_FINANCIAL,
    simfiles.PROFILE_IDENTIFIERS,
)
_CONVERSATION_FILES: tuple[_PlantedFile, ...] = (
    _PlantedFile("txt", "planted", (_CRED,), False, "conv-file-credentials-txt", "env_dump.txt"),
    _PlantedFile("csv", "planted", (_FIN,), False, "conv-file-financial-csv", "payments.csv"),
    _PlantedFile("json", "planted", (_IDS,), False, "conv-file-ids-json", "employees.json"),
    _PlantedFile("md", "clean", (), False, "conv-file-clean-md", "meeting_notes.md"),
    _PlantedFile(
        "docx",
        "planted",
        (_CRED, _IDS),
        False,
        "conv-file-credentials-ids-docx",
        "onboarding_pack.docx",
    ),
    _PlantedFile("xlsx", "planted", (_FIN,), False, "conv-file-financial-xlsx", "card_audit.xlsx"),
    _PlantedFile("pdf", "planted", (_IDS,), False, "conv-file-ids-pdf", "tax_forms.pdf"),
    _PlantedFile("txt", "near_miss", (), False, "conv-file-near-miss-txt", "reference_numbers.txt"),
    _PlantedFile("csv", "planted", (_FIN,), True, "conv-file-expired-csv", "old_payments.csv"),
    _PlantedFile("docx", "corrupt", (), False, "conv-file-corrupt-docx", "broken.docx"),
    _PlantedFile("pdf", "clean", (), False, "conv-file-clean-pdf", "brochure.pdf"),
    _PlantedFile("xlsx", "near_miss", (), False, "conv-file-near-miss-xlsx", "account_checks.xlsx"),
)
_BULK_VISIBILITY_WEIGHTS = (35, 20, 25, 10, 10)


class TenantBuilder:
    """Creates one tenant of a world: planted fixtures first, then bulk data sized by ``size``.

    ``build`` runs the steps in their fixed order (each draws from the tenant's ``rng``).
    The attributes below are set by the step that creates them and read by later steps.
    """

    owner: AdminUser
    main_project: Project
    staging_project: Project
    legacy_project: Project
    ci_bot: ServiceAccount
    people: list[AdminUser]  # the owner and the bulk users
    projects: list[Project]  # production, staging and the bulk projects
    workspace: list[WorkspaceUser]
    first_conversation: Conversation
    _gpt_ids: list[str]

    def __init__(
        self,
        world: WorldState,
        index: int,
        slug: str,
        rng: random.Random,
        thresholds: Thresholds,
        drift: Drift,
        size: SizeSpec,
    ) -> None:
        name = f"{_COMPANY[(index - 1) % len(_COMPANY)]} {rng.choice(_THINGS)}"
        if index > len(_COMPANY):
            name += f" {index}"
        org_id = "org-" + random_id(rng, 24)
        workspace_id = random_uuid(rng)
        self.tenant = Tenant(world, index, slug, name, org_id, workspace_id, thresholds, drift, rng)
        self.world = world
        self.rng = rng
        self.size = size
        self._persons = 0  # numbers the e-mail addresses of users and invites

    # ----------------------------------------------------------------- registry

    def register_key(self, secret: str, kind: str) -> None:
        """Make ``secret`` a valid credential of this tenant (kind admin/compliance/project)."""
        self.world.register_key(secret, self.tenant.slug, kind)

    def label(self, label: str, resource_id: str) -> None:
        """Name a planted fixture (no-op for bulk data, whose label is empty)."""
        if label:
            self.tenant.labels[label] = resource_id

    def add_file(self, f: SimFile) -> str:
        """Store a file (with its blob token) and label it; returns the file id."""
        self.world.register_file(self.tenant, f)
        self.label(f.label, f.id)
        return f.id

    # ----------------------------------------------------------------- primitives

    def ago(self, days: float) -> float:
        return self.tenant.ago(days)

    def ago_or_none(self, days: float | None) -> float | None:
        return None if days is None else self.tenant.ago(days)

    def _new_person(self) -> tuple[str, str]:
        self._persons += 1
        return _person(self.rng, self.tenant.slug, self._persons)

    def _user(self, label: str) -> AdminUser:
        user = self.tenant.users.get(self.tenant.id_of(label))
        assert user is not None
        return user

    def user(
        self,
        label: str,
        added_days: float,
        api_days: float | None,
        extras: bool = True,
        role: str = "reader",
    ) -> AdminUser:
        pname, email = self._new_person()
        if label:
            pname = f"{pname} ({label})"
        u = AdminUser(
            "user-" + random_id(self.rng, 24),
            pname,
            email,
            role,
            self.ago(added_days),
            self.ago(api_days) if (api_days is not None and extras) else None,
            extras,
            label,
        )
        self.tenant.users.add(u)
        self.label(label, u.id)
        return u

    def login(self, u: AdminUser, days: float, typ: str = "login.succeeded") -> None:
        event_id = "audit_log-" + random_id(self.rng, 24)
        self.tenant.audit_logs.add(AuditEvent(event_id, typ, self.ago(days), u.id, u.email))

    def add_project(self, p: Project) -> Project:
        """A project with its (empty) key, service account and member collections."""
        t = self.tenant
        t.projects.add(p)
        t.project_keys_by_project[p.id] = Collection(lambda k: (k.created_at, k.id))
        t.service_accounts[p.id] = Collection(lambda s: (s.created_at, s.id))
        t.project_members[p.id] = Collection(lambda m: (m.added_at, m.user_id))
        return p

    def project_key(
        self,
        label: str,
        proj: Project,
        created: float,
        used: float | None,
        owner_user: AdminUser | None = None,
        svc_acct: ServiceAccount | None = None,
        access: str = "active",
    ) -> ProjectKey:
        rng = self.rng
        if svc_acct is not None:
            otype, oid = "service_account", svc_acct.id
        else:
            otype, oid = "user", (owner_user or self.owner).id
        k = ProjectKey(
            "key_" + random_id(rng, 16),
            proj.id,
            label or f"key {rng.choice(_THINGS).lower()}",
            f"sk-proj-...{random_id(rng, 4, LOWER)}",
            self.ago(created),
            self.ago_or_none(used),
            otype,
            oid,
            access,
            label,
        )
        self.tenant.project_key_collection(proj.id).add(k)
        self.label(label, k.id)
        return k

    def invite(
        self,
        label: str,
        role: str,
        status: str,
        created: float,
        expires: float | None,
        projects: Sequence[tuple[str, str]] = (),
        accepted: float | None = None,
    ) -> None:
        _, email = self._new_person()
        inv = Invite(
            "invite-" + random_id(self.rng, 24),
            email,
            role,
            status,
            self.ago(created),
            self.ago_or_none(expires),
            self.ago_or_none(accepted),
            list(projects),
            label,
        )
        self.tenant.invites.add(inv)
        self.label(label, inv.id)

    def admin_key(
        self,
        label: str,
        created: float,
        used: float | None,
        svc_owner: bool = False,
        expires: float | None = None,
    ) -> AdminKey:
        rng, owner = self.rng, self.owner
        if svc_owner:
            svc_id = "svc_acct_" + random_id(rng, 24)
            ko = KeyOwner("service_account", svc_id, "automation", self.ago(300), "owner")
        else:
            ko = KeyOwner("user", owner.id, owner.name, owner.added_at, "owner", owner.email)
        k = AdminKey(
            "key_" + random_id(rng, 16),
            label or "admin key",
            f"sk-admin...{random_id(rng, 4, LOWER)}",
            self.ago(created),
            self.ago_or_none(expires),
            self.ago_or_none(used),
            ko,
            label,
        )
        self.tenant.admin_keys.add(k)
        self.label(label, k.id)
        return k

    def file(
        self,
        location: str,
        parent_id: str,
        owner_id: str,
        fmt: str,
        variant: str = "clean",
        profiles: Sequence[str] = (),
        expired: bool = False,
        label: str = "",
        created: float = 5,
        fname: str | None = None,
        size_hint: int = 0,
    ) -> str:
        """A new file record (bytes are rebuilt from the seed on download); returns its id."""
        rng = self.rng
        fid = "file-" + random_id(rng, 24)
        base = fname or self._bulk_file_name()
        return self.add_file(
            SimFile(
                fid,
                base if "." in base else f"{base}.{fmt}",
                fmt,
                location,
                parent_id,
                owner_id,
                self.ago(created),
                variant,
                tuple(profiles),
                expired,
                size_hint,
                label,
            )
        )

    def _bulk_file_name(self) -> str:
        thing, kind = self.rng.choice(_THINGS).lower(), self.rng.choice(_DOC_KINDS)
        return f"{thing}_{kind}_{len(self.tenant.files) % 1000}"

    def bulk_variant(self) -> tuple[str, tuple[str, ...]]:
        rng = self.rng
        r = rng.random()
        if r < 0.06:
            k = rng.choice((1, 1, 2))
            return "planted", tuple(sorted(rng.sample(simfiles.PLANTABLE_PROFILES, k)))
        if r < 0.10:
            return "near_miss", ()
        return "clean", ()

    def tool(self, typ: str, created: float) -> Tool:
        rng = self.rng
        tl = Tool(typ, self.ago(created))
        if typ in ("custom_action", "custom-action", "action"):
            dom = f"api.{rng.choice(_THINGS).lower()}.example.net"
            tl.action_domain, tl.auth_type, tl.privacy_policy_url = (
                dom,
                rng.choice(("none", "api_key", "oauth")),
                f"https://{dom}/privacy",
            )
        return tl

    def _configs(
        self,
        kind: str,
        owner: AdminUser,
        gname: str,
        tool_types: Sequence[str],
        created: float,
        older_tool_types: Sequence[str] | None,
    ) -> list[Config]:
        """A GPT's or project's configs, newest first (an older one when asked for)."""
        rng = self.rng
        prefix = "gzm_cnf_" if kind == "gpt" else "pr_cnf_"
        configs: list[Config] = []
        if older_tool_types is not None:
            configs.append(
                Config(
                    prefix + random_id(rng, 24),
                    gname,
                    "Earlier version.",
                    "Be helpful.",
                    self.ago(created),
                    [self.tool(x, created) for x in older_tool_types],
                    [],
                    owner.id,
                    owner.email,
                )
            )
        latest_created = created - 1 if older_tool_types is not None else created
        configs.insert(
            0,
            Config(
                prefix + random_id(rng, 24),
                gname,
                f"{gname} for the team.",
                "Answer questions about internal plans.",
                self.ago(latest_created),
                [self.tool(x, latest_created) for x in tool_types],
                [],
                owner.id,
                owner.email,
            ),
        )
        return configs

    def gpt(
        self,
        kind: str,
        label: str,
        visibility: str,
        tool_types: Sequence[str],
        created: float = 60,
        older_tool_types: Sequence[str] | None = None,
        owner_user: AdminUser | None = None,
    ) -> Gpt:
        """A GPT (kind "gpt") or a ChatGPT project (kind "project") with its configs."""
        rng, ws_users = self.rng, self.workspace
        ou = owner_user or (self.owner if label else rng.choice(self.people))
        gname = f"{rng.choice(_THINGS)} {rng.choice(_ROLES)}"
        if label:
            gname += f" [{label}]"
        configs = self._configs(kind, ou, gname, tool_types, created, older_tool_types)
        recipients: list[tuple[str, str]] = []
        if (
            ws_users and visibility in ("invite-only", "workspace-with-link")
        ) or rng.random() < 0.2:
            for r in rng.sample(ws_users, min(len(ws_users), rng.randrange(1, 4))):
                recipients.append((r.id, r.email))
        gid = ("g-" + random_id(rng, 9)) if kind == "gpt" else ("g-p-" + random_id(rng, 9))
        g = Gpt(
            kind,
            gid,
            self.ago(created),
            ou.id,
            ou.email,
            ou.name.split(" (")[0],
            visibility,
            recipients,
            configs,
            label,
        )
        (self.tenant.gpts if kind == "gpt" else self.tenant.cprojects).add(g)
        self.label(label, gid)
        return g

    def conversation(self, user: AdminUser, age: float, n_msgs: int, title: str) -> Conversation:
        rng = self.rng
        conv_id = random_uuid(rng)
        created = self.ago(age)
        msgs: list[Message] = []
        parent: str | None = None
        ts = created
        gpt_id = rng.choice(self._gpt_ids) if rng.random() < 0.2 else None
        for j in range(n_msgs):
            role = "user" if j % 2 == 0 else "assistant"
            tool_name = "python" if role == "assistant" and rng.random() < 0.1 else None
            m = Message(
                random_uuid(rng),
                parent,
                ts,
                role,
                tool_name,
                f"{rng.choice(_THINGS)} {rng.choice(simfiles.WORDS)} question {j}"
                if role == "user"
                else "Here is a summary of the plan.",
                [],
                gpt_id,
            )
            msgs.append(m)
            parent = m.id
            ts += rng.randrange(20, 600)
        conv = Conversation(
            conv_id,
            user.id,
            user.email,
            created,
            msgs[-1].created_at if msgs else created,
            title,
            msgs,
        )
        self.tenant.conversations.add(conv)
        return conv

    # ----------------------------------------------------------------- the steps, in order

    def build(
        self,
        *,
        fault_files: bool,
        large_file_bytes: int,
        zip_bomb_bytes: int,
        edges: ComplianceEdges | None = None,
    ) -> Tenant:
        """Run every step in its fixed order and return the finished tenant."""
        self.plant_credentials()
        self.plant_users()
        self.plant_projects()
        self.plant_project_keys()
        self.plant_invites()
        self.plant_admin_keys()
        self.bulk_users()
        self.bulk_projects()
        self.bulk_project_keys()
        self.bulk_admin_keys()
        self.bulk_invites()
        self.bulk_audit_events()
        self.workspace_users()
        self.plant_gpts()
        self.plant_gpt_files()
        self.bulk_gpts()
        self.bulk_gpt_files()
        self.plant_project_files()
        self.bulk_cprojects()
        self.bulk_project_files()
        self.plant_conversation_files()
        if fault_files:
            self.plant_fault_files(large_file_bytes, zip_bomb_bytes)
        conversations = self.bulk_conversations()
        self.bulk_conversation_files(conversations)
        t = self.tenant
        t.edges = edges or ComplianceEdges()
        if t.edges.message_dlp:
            self.plant_messages()
        self.plant_signins()
        t.conversations.resort()
        t.log_files = build_log_files(t)
        return t

    def plant_credentials(self) -> None:
        """The tenant's admin key (the scanner's) and compliance key."""
        t = self.tenant
        t.admin_key = _key_secret(self.rng, "sk-admin-")
        t.compliance_key = _key_secret(self.rng, "sk-proj-")
        self.register_key(t.admin_key, "admin")
        self.register_key(t.compliance_key, "compliance")

    def plant_users(self) -> None:
        """The owner and the users on both sides of the inactive-user threshold (user-*)."""
        ina = self.tenant.thresholds.inactive_user_days
        self.owner = self.user("user-owner", 500, 0.2, role="owner")
        self.login(self.owner, 0.5)
        self.user("user-apikey-recent", 400, ina - 1)
        self.user("user-apikey-old", 400, ina + 1)
        u = self.user("user-login-recent", 400, None, extras=False)
        self.login(u, ina - 1)
        u = self.user("user-login-old", 400, None, extras=False)
        self.login(u, ina + 1)
        self.login(u, 1, "login.failed")
        self.user("user-projkey-recent", 400, None, extras=False)
        self.user("user-projkey-old", 400, None, extras=False)
        self.user("user-added-recent", ina - 1, None, extras=False)
        self.user("user-added-old", ina + 1, None, extras=False)
        u = self.user("user-mixed", 400, ina + 30)
        self.login(u, ina - 1)
        self.user("user-archived-key", 400, None, extras=False)

    def plant_projects(self) -> None:
        """Production, staging and an archived legacy project, with a CI service account."""
        rng, name, ago = self.rng, self.tenant.name, self.ago
        main = Project("proj_" + random_id(rng, 24), f"{name} production", ago(450))
        second = Project("proj_" + random_id(rng, 24), f"{name} staging", ago(300))
        legacy = Project("proj_" + random_id(rng, 24), f"{name} legacy", ago(600), ago(100))
        for p in (main, second, legacy):
            self.add_project(p)
        self.main_project, self.staging_project, self.legacy_project = main, second, legacy
        self.ci_bot = ServiceAccount(
            "svc_acct_" + random_id(rng, 24), main.id, "ci-bot", "member", ago(120)
        )
        t = self.tenant
        t.service_accounts[main.id].add(self.ci_bot)
        for p in (main, second, legacy):
            t.project_members[p.id].add(ProjectMember(p.id, self.owner.id, "owner", ago(400)))
        u_pk_old, u_arch = self._user("user-projkey-old"), self._user("user-archived-key")
        t.project_members[main.id].add(ProjectMember(main.id, u_pk_old.id, "member", ago(380)))
        t.project_members[legacy.id].add(ProjectMember(legacy.id, u_arch.id, "member", ago(380)))

    def plant_project_keys(self) -> None:
        """Project keys on both sides of the rotation/unused thresholds, orphaned keys and the
        one project key whose secret the simulator holds (project-key-*)."""
        th = self.tenant.thresholds
        rot, unused, ina = th.key_rotation_days, th.unused_key_days, th.inactive_user_days
        main, key = self.main_project, self.project_key
        key("project-key-rot-young", main, rot - 1, 1)
        key("project-key-rot-old", main, rot + 1, 1)
        key("project-key-never-used-old", main, unused + 1, None)
        key("project-key-never-used-young", main, unused - 1, None)
        key("project-key-used-recent", main, 200, unused - 1)
        key("project-key-used-old", main, 200, unused + 1)
        key("project-key-service-account", main, 10, 1, svc_acct=self.ci_bot)
        key(
            "project-key-inactive-owner-recent",
            main,
            max(rot - 1, ina - 1),
            ina - 1,
            owner_user=self._user("user-projkey-recent"),
            access="inactive",
        )
        key(
            "project-key-inactive-owner-old",
            main,
            max(120, unused + 30),
            ina + 1,
            owner_user=self._user("user-projkey-old"),
            access="inactive",
        )
        key(
            "project-key-archived",
            self.legacy_project,
            200,
            10,
            owner_user=self._user("user-archived-key"),
        )
        cred = key("project-key-credential", self.staging_project, 5, 0.1)
        secret = _key_secret(self.rng, "sk-proj-")
        self.tenant.project_keys[secret] = cred.id
        cred.redacted_value = f"sk-proj-...{secret[-4:]}"
        self.register_key(secret, "project")

    def plant_invites(self) -> None:
        """High-privilege and stale invites and their near misses (invite-*)."""
        stale = self.tenant.thresholds.stale_invite_days
        main_id, inv = self.main_project.id, self.invite
        inv("invite-owner-pending", "owner", "pending", 1, -6)
        inv("invite-project-owner", "reader", "pending", 2, None, [(main_id, "owner")])
        inv("invite-project-member", "reader", "pending", 2, None, [(main_id, "member")])
        inv("invite-owner-accepted", "owner", "accepted", 30, None, accepted=29)
        inv("invite-owner-expired", "owner", "expired", stale + 30, stale + 23)
        inv("invite-young", "reader", "pending", stale - 1, None)
        inv("invite-stale", "reader", "pending", stale + 1, None)
        inv("invite-expires-past", "reader", "pending", 3, 1)
        inv("invite-expires-future", "reader", "pending", 3, -1)
        inv("invite-owner-stale", "owner", "pending", stale + 6, None)

    def plant_admin_keys(self) -> None:
        """The scanner's own admin key and keys on both sides of the rotation/unused
        thresholds (admin-key-*)."""
        th = self.tenant.thresholds
        rot, unused = th.key_rotation_days, th.unused_key_days
        scanner = self.admin_key("admin-key-scanner", 10, 0.01)
        self.tenant.scanner_admin_key_id = scanner.id
        scanner.redacted_value = f"sk-admin...{self.tenant.admin_key[-4:]}"
        self.admin_key("admin-key-rot-young", rot - 1, 1)
        self.admin_key("admin-key-rot-old", rot + 1, 1)
        self.admin_key("admin-key-unused-young", 30, None)
        self.admin_key("admin-key-never-used-old", unused + 1, None)
        self.admin_key("admin-key-never-used-young", unused - 1, None)
        self.admin_key("admin-key-used-recent", max(200, rot + 30), unused - 1)
        self.admin_key("admin-key-used-old", max(200, rot + 30, unused + 30), unused + 1)
        self.admin_key("admin-key-service-account", 10, 1, svc_owner=True, expires=-355)

    def bulk_users(self) -> None:
        rng = self.rng
        bulk: list[AdminUser] = []
        for _ in range(self.size.users):
            added = _days(rng, 1, 700)
            extras = rng.random() < 0.7
            api = None
            if extras and rng.random() < 0.6:
                api = min(added, rng.expovariate(1 / 40)) // 1 + 0.5
            role = "owner" if rng.random() < 0.03 else "reader"
            u = self.user("", added, api, extras=extras, role=role)
            if rng.random() < 0.6:
                self.login(u, min(added, rng.expovariate(1 / 35)) // 1 + 0.5)
            bulk.append(u)
        self.people = [self.owner, *bulk]

    def bulk_projects(self) -> None:
        rng, ago, t = self.rng, self.ago, self.tenant
        self.projects = [self.main_project, self.staging_project]
        for i in range(self.size.projects):
            created = _days(rng, 30, 800)
            archived = _days(rng, 1, int(created)) if rng.random() < 0.15 else None
            pid = "proj_" + random_id(rng, 24)
            p = self.add_project(
                Project(
                    pid,
                    f"{rng.choice(_THINGS)} project {i}",
                    ago(created),
                    None if archived is None else ago(archived),
                )
            )
            self.projects.append(p)
            members = rng.sample(self.people, min(len(self.people), rng.randrange(1, 5)))
            for m in members:
                t.project_members[p.id].add(
                    ProjectMember(
                        p.id, m.id, rng.choice(("owner", "member")), ago(_days(rng, 1, 30))
                    )
                )
            if rng.random() < 0.4:
                t.service_accounts[p.id].add(
                    ServiceAccount(
                        "svc_acct_" + random_id(rng, 24),
                        p.id,
                        "bot",
                        "member",
                        ago(_days(rng, 1, 30)),
                    )
                )

    def bulk_project_keys(self) -> None:
        rng, t = self.rng, self.tenant
        for p in self.projects[2:] if self.size.projects else []:
            for _ in range(self.size.keys_per_project):
                created = _days(rng, 1, 400)
                used = (
                    None if rng.random() < 0.2 else min(created, rng.expovariate(1 / 50)) // 1 + 0.5
                )
                pmembers = t.project_members[p.id].ordered()
                sas = t.service_accounts[p.id].ordered()
                if sas and rng.random() < 0.25:
                    self.project_key("", p, created, used, svc_acct=sas[0])
                else:
                    m_user = t.users.get(rng.choice(pmembers).user_id) if pmembers else self.owner
                    self.project_key(
                        "",
                        p,
                        created,
                        used,
                        owner_user=m_user,
                        access="inactive" if rng.random() < 0.1 else "active",
                    )

    def bulk_admin_keys(self) -> None:
        rng = self.rng
        for _ in range(self.size.admin_keys):
            created = _days(rng, 1, 400)
            used = None if rng.random() < 0.3 else min(created, rng.expovariate(1 / 60)) // 1 + 0.5
            self.admin_key("", created, used, svc_owner=rng.random() < 0.2)

    def bulk_invites(self) -> None:
        rng = self.rng
        for _ in range(self.size.invites):
            created = _days(rng, 0, 120)
            status = rng.choices(("accepted", "pending", "expired"), (6, 3, 1))[0]
            role = "owner" if rng.random() < 0.1 else "reader"
            expires = created - 7 if rng.random() < 0.7 else None
            projects = (
                [(rng.choice(self.projects).id, rng.choice(("member", "owner")))]
                if rng.random() < 0.2
                else []
            )
            self.invite(
                "",
                role,
                status,
                created,
                expires,
                projects,
                accepted=created - 0.25 if status == "accepted" else None,
            )

    def bulk_audit_events(self) -> None:
        """Audit events of other types (they must not count as logins)."""
        rng = self.rng
        for _ in range(max(3, self.size.users // 10)):
            actor = rng.choice(self.people)
            self.tenant.audit_logs.add(
                AuditEvent(
                    "audit_log-" + random_id(rng, 24),
                    rng.choice(("api_key.created", "project.updated", "user.added", "invite.sent")),
                    self.ago(_days(rng, 0, 200)),
                    actor.id,
                    actor.email,
                    self.main_project.id,
                )
            )

    def workspace_users(self) -> None:
        """Every Admin API user is also a user of the ChatGPT workspace."""
        t = self.tenant
        for i, u in enumerate(t.users.ordered()):
            if u is self.owner:
                role = "account-owner"
            else:
                role = "account-admin" if i % 17 == 0 else "standard-user"
            status = "inactive" if i % 23 == 5 else "active"
            t.workspace_users.add(
                WorkspaceUser(
                    u.id, u.email, u.name.split(" (")[0], u.added_at + 0.125, role, status
                )
            )
        self.workspace = t.workspace_users.ordered()

    def plant_gpts(self) -> None:
        """GPTs with each risky tool spelling and visibility, and their near misses (gpt-*)."""
        gpt = self.gpt
        gpt("gpt", "gpt-custom-action", "invite-only", ["custom_action"])
        gpt("gpt", "gpt-custom-action-dash", "workspace", ["custom-action"])
        gpt("gpt", "gpt-action", "workspace-with-link", ["action"])
        gpt("gpt", "gpt-code-interpreter", "workspace", ["code_interpreter"])
        gpt("gpt", "gpt-browser", "workspace", ["browser"])
        gpt("gpt", "gpt-dalle-memory", "invite-only", ["dall-e", "memory"])
        gpt("gpt", "gpt-store", "gpt-store", [])
        gpt("gpt", "gpt-link", "anyone-with-link", [])
        gpt(
            "gpt",
            "gpt-everything",
            "gpt-store",
            ["custom_action", "code_interpreter", "browser", "dall-e", "memory"],
        )
        gpt(
            "gpt",
            "gpt-old-config-action",
            "workspace",
            ["dall-e"],
            older_tool_types=["custom_action", "browser"],
        )
        gpt("gpt", "gpt-workspace-link", "workspace-with-link", ["memory"])

    def plant_gpt_files(self) -> None:
        """A GPT whose files hold planted credentials and financial data, a clean file and a
        near miss (gpt-with-files, gpt-file-*)."""
        g = self.gpt("gpt", "gpt-with-files", "invite-only", [])
        owner_id, ids = self.owner.id, g.configs[0].file_ids
        ids.append(
            self.file(
                "gpt",
                g.id,
                owner_id,
                "pdf",
                "planted",
                [_CRED],
                label="gpt-file-credentials-pdf",
                fname="deploy_runbook.pdf",
            )
        )
        ids.append(
            self.file(
                "gpt", g.id, owner_id, "md", label="gpt-file-clean-md", fname="style_guide.md"
            )
        )
        ids.append(
            self.file(
                "gpt",
                g.id,
                owner_id,
                "json",
                "near_miss",
                label="gpt-file-near-miss-json",
                fname="lookup_table.json",
            )
        )
        ids.append(
            self.file(
                "gpt",
                g.id,
                owner_id,
                "docx",
                "planted",
                [_FIN],
                label="gpt-file-financial-docx",
                fname="billing_faq.docx",
            )
        )

    def bulk_gpts(self) -> None:
        rng = self.rng
        for _ in range(self.size.gpts):
            vis = rng.choices(VISIBILITIES, _BULK_VISIBILITY_WEIGHTS)[0]
            n_tools = rng.choices((0, 1, 2, 3), (4, 3, 2, 1))[0]
            types = rng.sample(
                ("code_interpreter", "browser", "dall-e", "memory", "custom_action"), n_tools
            )
            types = [
                rng.choice(("custom_action", "custom_action", "custom-action", "action"))
                if x == "custom_action"
                else x
                for x in types
            ]
            self.gpt("gpt", "", vis, types, created=_days(rng, 1, 500))

    def bulk_gpt_files(self) -> None:
        rng = self.rng
        for i in range(self.size.gpt_files):
            g = rng.choice(self.tenant.gpts.ordered())
            var, profs = self.bulk_variant()
            fmt = simfiles.FORMATS[i % len(simfiles.FORMATS)]
            g.configs[0].file_ids.append(
                self.file("gpt", g.id, g.owner_id, fmt, var, profs, created=_days(rng, 1, 300))
            )

    def plant_project_files(self) -> None:
        """Two ChatGPT projects with planted, clean and near-miss files (cproject-*,
        project-file-*)."""
        owner_id = self.owner.id
        cp1 = self.gpt("project", "cproject-with-files", "invite-only", [])
        cp1.configs[0].file_ids += [
            self.file(
                "project",
                cp1.id,
                owner_id,
                "pdf",
                "planted",
                [_FIN],
                label="project-file-financial-pdf",
                fname="invoice_batch.pdf",
            ),
            self.file(
                "project",
                cp1.id,
                owner_id,
                "xlsx",
                "planted",
                [_IDS],
                label="project-file-ids-xlsx",
                fname="payroll_roster.xlsx",
            ),
            self.file(
                "project",
                cp1.id,
                owner_id,
                "txt",
                label="project-file-clean-txt",
                fname="readme.txt",
            ),
        ]
        cp2 = self.gpt("project", "cproject-near-miss", "workspace", ["code_interpreter"])
        cp2.configs[0].file_ids += [
            self.file(
                "project",
                cp2.id,
                owner_id,
                "md",
                "near_miss",
                label="project-file-near-miss-md",
                fname="ledger_notes.md",
            ),
            self.file(
                "project",
                cp2.id,
                owner_id,
                "csv",
                label="project-file-clean-csv",
                fname="tasks.csv",
            ),
        ]

    def bulk_cprojects(self) -> None:
        rng = self.rng
        for _ in range(self.size.cprojects):
            self.gpt(
                "project",
                "",
                rng.choices(VISIBILITIES, _BULK_VISIBILITY_WEIGHTS)[0],
                rng.sample(("code_interpreter", "browser"), rng.randrange(0, 2)),
                created=_days(rng, 1, 300),
            )

    def bulk_project_files(self) -> None:
        rng = self.rng
        cps = self.tenant.cprojects.ordered()
        for i in range(self.size.project_files):
            cp = rng.choice(cps)
            var, profs = self.bulk_variant()
            cp.configs[0].file_ids.append(
                self.file(
                    "project",
                    cp.id,
                    cp.owner_id,
                    simfiles.FORMATS[i % len(simfiles.FORMATS)],
                    var,
                    profs,
                    created=_days(rng, 1, 300),
                )
            )

    def plant_conversation_files(self) -> None:
        """The owner's first conversation, with a file of every format and variant
        (conversation-with-files, conv-file-*)."""
        self._gpt_ids = [g.id for g in self.tenant.gpts.ordered()]
        c1 = self.conversation(self.owner, 0.5, 4, "Quarterly planning with attachments")
        self.label("conversation-with-files", c1.id)
        self.first_conversation = c1
        for j, spec in enumerate(_CONVERSATION_FILES):
            fid = self.file(
                "conversation",
                c1.id,
                self.owner.id,
                spec.fmt,
                spec.variant,
                spec.profiles,
                spec.expired,
                spec.label,
                created=0.5,
                fname=spec.name,
            )
            c1.messages[(j % 2) * 2].file_ids.append(fid)

    def plant_fault_files(self, large_file_bytes: int, zip_bomb_bytes: int) -> None:
        """A zip-bomb .docx and an over-cap .txt in the first conversation (never findings)."""
        c1, owner_id = self.first_conversation, self.owner.id
        fid = self.file(
            "conversation",
            c1.id,
            owner_id,
            "docx",
            "zipbomb",
            label="conv-file-zipbomb-docx",
            created=0.5,
            fname="expanding.docx",
            size_hint=zip_bomb_bytes,
        )
        c1.messages[0].file_ids.append(fid)
        fid = self.file(
            "conversation",
            c1.id,
            owner_id,
            "txt",
            "large",
            label="conv-file-large-txt",
            created=0.5,
            fname="server_log.txt",
            size_hint=large_file_bytes,
        )
        c1.messages[0].file_ids.append(fid)

    def bulk_conversations(self) -> list[Conversation]:
        """The first conversation and the bulk ones (files are attached to the bulk ones)."""
        rng = self.rng
        convs = [self.first_conversation]
        for _ in range(self.size.conversations):
            user = rng.choice(self.people)
            convs.append(
                self.conversation(
                    user,
                    _days(rng, 0, 60),
                    rng.randrange(2, 6),
                    f"{rng.choice(_THINGS)} {rng.choice(simfiles.WORDS)}",
                )
            )
        return convs

    def bulk_conversation_files(self, convs: list[Conversation]) -> None:
        rng = self.rng
        for i in range(self.size.conversation_files):
            conv = rng.choice(convs[1:]) if len(convs) > 1 else convs[0]
            var, profs = self.bulk_variant()
            expired = rng.random() < 0.03
            fid = self.file(
                "conversation",
                conv.id,
                conv.user_id,
                simfiles.FORMATS[i % len(simfiles.FORMATS)],
                var,
                profs,
                expired,
                created=(self.tenant.now - conv.created_at) / DAY,
            )
            user_msgs = [m for m in conv.messages if m.role == "user"] or conv.messages
            rng.choice(user_msgs).file_ids.append(fid)

    def plant_messages(self) -> None:
        """Sensitive text in the first conversation's messages (labels message-*)."""
        rng, conv = self.rng, self.first_conversation
        plans = [
            (1, "message-credentials", "planted", (_CRED,)),
            (None, "message-financial", "planted", (_FIN,)),
            (None, "message-identifiers", "planted", (_IDS,)),
            (None, "message-near-miss", "near_miss", ()),
        ]
        for index, label, variant, profiles in plans:
            text, _ = simfiles.message_text(rng, variant, profiles)
            if index is not None and index < len(conv.messages):
                msg = conv.messages[index]
                msg.text, msg.profiles, msg.label = text, profiles, label
            else:
                last = conv.messages[-1]
                msg = Message(
                    random_uuid(rng),
                    last.id,
                    last.created_at + 30,
                    "user",
                    None,
                    text,
                    [],
                    profiles=profiles,
                    label=label,
                )
                conv.messages.append(msg)
                conv.last_update = max(conv.last_update, msg.created_at)
            self.label(label, msg.id)

    def plant_signins(self) -> None:
        """The owner always signs in to ChatGPT (already active: no ground truth changes);
        with ``edges.chatgpt_logins`` three more sign-ins decide inactive users (signin-*)."""
        self.signin("signin-owner", "user-owner", 0.5)
        if self.tenant.edges.chatgpt_logins:
            ina = self.tenant.thresholds.inactive_user_days
            self.signin("signin-added-old", "user-added-old", ina - 1)
            self.signin("signin-apikey-old", "user-apikey-old", ina + 5)
            self.signin("signin-login-old-failed", "user-login-old", 1, "failure")

    def signin(self, label: str, user_label: str, days: float, status: str = "success") -> None:
        user = self._user(user_label)
        s = SignIn("evt_" + random_id(self.rng, 24), user.id, user.email, self.ago(days), status)
        self.tenant.signins.append(s)
        self.label(label, s.id)


# --------------------------------------------------------------------------- the world


def populate_tenant(
    world: WorldState,
    index: int,
    slug: str,
    rng: random.Random,
    th: Thresholds,
    drift: Drift,
    size: SizeSpec,
    *,
    fault_files: bool,
    large_file_bytes: int,
    zip_bomb_bytes: int,
    edges: ComplianceEdges | None = None,
) -> Tenant:
    """One tenant, built by a ``TenantBuilder`` (not yet added to ``world.tenants``)."""
    builder = TenantBuilder(world, index, slug, rng, th, drift, size)
    return builder.build(
        fault_files=fault_files,
        large_file_bytes=large_file_bytes,
        zip_bomb_bytes=zip_bomb_bytes,
        edges=edges,
    )


def populate_world(
    world: WorldState,
    tenants: int,
    *,
    thresholds: Thresholds | Mapping[str, Thresholds] | None = None,
    drift: Drift | Mapping[str, Drift] | None = None,
    edges: ComplianceEdges | Mapping[str, ComplianceEdges] | None = None,
    fault_files: bool = False,
    large_file_bytes: int = 101 * 1024 * 1024,
    zip_bomb_bytes: int = 256 * 1024 * 1024,
) -> None:
    """Add ``tenant-01`` .. ``tenant-NN`` to an empty world, each from its own seeded rng.

    ``thresholds``/``drift``/``edges`` apply to all tenants or map slug -> value (drift defaults
    to ``default_drift``); ``fault_files`` plants the zip bomb and the over-cap file in
    tenant-01 only.
    """
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
        rng = random.Random(f"openai-casb-sim:{world.seed}:{index}")
        ed = (
            edges.get(slug, ComplianceEdges())
            if isinstance(edges, Mapping)
            else replace(edges)
            if edges is not None
            else ComplianceEdges()
        )
        world.tenants[slug] = populate_tenant(
            world,
            index,
            slug,
            rng,
            th,
            dr,
            SIZES[world.size],
            fault_files=fault_files and index == 1,
            large_file_bytes=large_file_bytes,
            zip_bomb_bytes=zip_bomb_bytes,
            edges=ed,
        )
