"""Seeded generation of one tenant: planted boundary fixtures first, then bulk data.

Pure (no I/O). Planted fixtures carry a `label` (also in `Tenant.labels`) so tests can name
them; see PLANTED_LABELS for what each one is expected to trigger at default thresholds.

Bulk ages are whole days plus half a day, so no bulk object sits within 12 hours of an
integer-day threshold: a scan a few minutes after generation sees the same ground truth.
Planted ages are threshold - 1 day and threshold + 1 day.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from simulator import files as simfiles
from simulator.world import (
    _ALNUM,
    _COMPANY,
    _FIRST,
    _LAST,
    _LOWER,
    _ROLES,
    _THINGS,
    DAY,
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
    Tenant,
    Thresholds,
    Tool,
    WorkspaceUser,
    World,
    _rid,
    _uuid,
)

# label -> short description of what it must (or must not) trigger at default thresholds.
PLANTED_LABELS: dict[str, str] = {
    # users (inactive user rule)
    "user-owner": "active (recent api use and login)",
    "user-apikey-recent": "api_key_last_used_at T-1: active",
    "user-apikey-old": "api_key_last_used_at T+1: INACTIVE",
    "user-login-recent": "login.succeeded T-1 (no OAS26 extras): active",
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
    "project-key-inactive-owner-recent": "owner_project_access inactive, used T-1: nothing",
    "project-key-inactive-owner-old": "owner access inactive, 120d, used U+1: NOT ROTATED + UNUSED",
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


def _days(rng: random.Random, lo: int, hi: int) -> float:
    """Whole days in [lo, hi) plus half a day (never near an integer threshold)."""
    return rng.randrange(lo, hi) + 0.5


def _person(rng: random.Random, slug: str, n: int) -> tuple[str, str]:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    return f"{first} {last}", f"{first.lower()}.{last.lower()}.{n}@{slug}.example.com"


def _key_secret(rng: random.Random, prefix: str) -> str:
    if prefix == "sk-proj-":
        return prefix + _rid(rng, 74) + "T3BlbkFJ" + _rid(rng, 74)
    return prefix + _rid(rng, 96, _ALNUM + "-_")


def populate_tenant(
    world: World,
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
    name = f"{_COMPANY[(index - 1) % len(_COMPANY)]} {rng.choice(_THINGS)}"
    if index > len(_COMPANY):
        name += f" {index}"
    t = Tenant(world, index, slug, name, "org-" + _rid(rng, 24), _uuid(rng), th, drift, rng)
    now = world.now

    def ago(days: float) -> float:
        return now - days * DAY

    R, U, INA, ST = (
        th.key_rotation_days,
        th.unused_key_days,
        th.inactive_user_days,
        th.stale_invite_days,
    )

    # ------------------------------------------------------------ credentials
    t.admin_key = _key_secret(rng, "sk-admin-")
    t.compliance_key = _key_secret(rng, "sk-proj-")
    world._register_key(t.admin_key, slug, "admin")
    world._register_key(t.compliance_key, slug, "compliance")

    counter = [0]

    def uid() -> str:
        return "user-" + _rid(rng, 24)

    def add_user(
        label: str,
        added_days: float,
        api_days: float | None,
        extras: bool = True,
        role: str = "reader",
    ) -> AdminUser:
        counter[0] += 1
        pname, email = _person(rng, slug, counter[0])
        if label:
            pname = f"{pname} ({label})"
        u = AdminUser(
            uid(),
            pname,
            email,
            role,
            ago(added_days),
            ago(api_days) if (api_days is not None and extras) else None,
            extras,
            label,
        )
        t.users.add(u)
        t._label(label, u.id)
        return u

    def login(u: AdminUser, days: float, typ: str = "login.succeeded") -> None:
        t.audit_logs.add(AuditEvent("audit_log-" + _rid(rng, 24), typ, ago(days), u.id, u.email))

    # ------------------------------------------------------------ planted users
    owner = add_user("user-owner", 500, 0.2, role="owner")
    login(owner, 0.5)
    u = add_user("user-apikey-recent", 400, INA - 1)
    u = add_user("user-apikey-old", 400, INA + 1)
    u = add_user("user-login-recent", 400, None, extras=False)
    login(u, INA - 1)
    u = add_user("user-login-old", 400, None, extras=False)
    login(u, INA + 1)
    login(u, 1, "login.failed")
    u_pk_recent = add_user("user-projkey-recent", 400, None, extras=False)
    u_pk_old = add_user("user-projkey-old", 400, None, extras=False)
    add_user("user-added-recent", INA - 1, None, extras=False)
    add_user("user-added-old", INA + 1, None, extras=False)
    u = add_user("user-mixed", 400, INA + 30)
    login(u, INA - 1)
    u_arch = add_user("user-archived-key", 400, None, extras=False)

    # ------------------------------------------------------------ projects
    p_main = t.projects.add(Project("proj_" + _rid(rng, 24), f"{name} production", ago(450)))
    p_second = t.projects.add(Project("proj_" + _rid(rng, 24), f"{name} staging", ago(300)))
    p_arch = t.projects.add(Project("proj_" + _rid(rng, 24), f"{name} legacy", ago(600), ago(100)))
    for p in (p_main, p_second, p_arch):
        t.project_keys_by_project[p.id] = Collection(lambda k: (k.created_at, k.id))
        t.service_accounts[p.id] = Collection(lambda s: (s.created_at, s.id))
        t.project_members[p.id] = Collection(lambda m: (m.added_at, m.user_id))
    svc = ServiceAccount("svc_acct_" + _rid(rng, 24), p_main.id, "ci-bot", "member", ago(120))
    t.service_accounts[p_main.id].add(svc)
    for p in (p_main, p_second, p_arch):
        t.project_members[p.id].add(ProjectMember(p.id, owner.id, "owner", ago(400)))
    t.project_members[p_main.id].add(ProjectMember(p_main.id, u_pk_old.id, "member", ago(380)))
    t.project_members[p_arch.id].add(ProjectMember(p_arch.id, u_arch.id, "member", ago(380)))

    def add_pkey(
        label: str,
        proj: Project,
        created: float,
        used: float | None,
        owner_user: AdminUser | None = None,
        svc_acct: ServiceAccount | None = None,
        access: str = "active",
    ) -> ProjectKey:
        if svc_acct is not None:
            otype, oid = "service_account", svc_acct.id
        else:
            otype, oid = "user", (owner_user or owner).id
        k = ProjectKey(
            "key_" + _rid(rng, 16),
            proj.id,
            label or f"key {rng.choice(_THINGS).lower()}",
            f"sk-proj-...{_rid(rng, 4, _LOWER)}",
            ago(created),
            None if used is None else ago(used),
            otype,
            oid,
            access,
            label,
        )
        t.project_key_collection(proj.id).add(k)
        t._label(label, k.id)
        return k

    add_pkey("project-key-rot-young", p_main, R - 1, 1)
    add_pkey("project-key-rot-old", p_main, R + 1, 1)
    add_pkey("project-key-never-used-old", p_main, U + 1, None)
    add_pkey("project-key-never-used-young", p_main, U - 1, None)
    add_pkey("project-key-used-recent", p_main, 200, U - 1)
    add_pkey("project-key-used-old", p_main, 200, U + 1)
    add_pkey("project-key-service-account", p_main, 10, 1, svc_acct=svc)
    add_pkey(
        "project-key-inactive-owner-recent",
        p_main,
        max(R - 1, INA - 1),
        INA - 1,
        owner_user=u_pk_recent,
        access="inactive",
    )
    add_pkey(
        "project-key-inactive-owner-old",
        p_main,
        max(120, U + 30),
        INA + 1,
        owner_user=u_pk_old,
        access="inactive",
    )
    add_pkey("project-key-archived", p_arch, 200, 10, owner_user=u_arch)
    cred = add_pkey("project-key-credential", p_second, 5, 0.1)
    pkey_secret = _key_secret(rng, "sk-proj-")
    t.project_keys[pkey_secret] = cred.id
    cred.redacted_value = f"sk-proj-...{pkey_secret[-4:]}"
    world._register_key(pkey_secret, slug, "project")

    # ------------------------------------------------------------ invites
    def add_inv(
        label: str,
        role: str,
        status: str,
        created: float,
        expires: float | None,
        projects: Sequence[tuple[str, str]] = (),
        accepted: float | None = None,
    ) -> None:
        counter[0] += 1
        _, email = _person(rng, slug, counter[0])
        inv = Invite(
            "invite-" + _rid(rng, 24),
            email,
            role,
            status,
            ago(created),
            None if expires is None else ago(expires),
            None if accepted is None else ago(accepted),
            list(projects),
            label,
        )
        t.invites.add(inv)
        t._label(label, inv.id)

    add_inv("invite-owner-pending", "owner", "pending", 1, -6)
    add_inv("invite-project-owner", "reader", "pending", 2, None, [(p_main.id, "owner")])
    add_inv("invite-project-member", "reader", "pending", 2, None, [(p_main.id, "member")])
    add_inv("invite-owner-accepted", "owner", "accepted", 30, None, accepted=29)
    add_inv("invite-owner-expired", "owner", "expired", ST + 30, ST + 23)
    add_inv("invite-young", "reader", "pending", ST - 1, None)
    add_inv("invite-stale", "reader", "pending", ST + 1, None)
    add_inv("invite-expires-past", "reader", "pending", 3, 1)
    add_inv("invite-expires-future", "reader", "pending", 3, -1)
    add_inv("invite-owner-stale", "owner", "pending", ST + 6, None)

    # ------------------------------------------------------------ admin keys
    def add_akey(
        label: str,
        created: float,
        used: float | None,
        svc_owner: bool = False,
        expires: float | None = None,
    ) -> AdminKey:
        if svc_owner:
            ko = KeyOwner(
                "service_account", "svc_acct_" + _rid(rng, 24), "automation", ago(300), "owner"
            )
        else:
            ko = KeyOwner("user", owner.id, owner.name, owner.added_at, "owner", owner.email)
        k = AdminKey(
            "key_" + _rid(rng, 16),
            label or "admin key",
            f"sk-admin...{_rid(rng, 4, _LOWER)}",
            ago(created),
            None if expires is None else ago(expires),
            None if used is None else ago(used),
            ko,
            label,
        )
        t.admin_keys.add(k)
        t._label(label, k.id)
        return k

    scanner = add_akey("admin-key-scanner", 10, 0.01)
    t.scanner_admin_key_id = scanner.id
    scanner.redacted_value = f"sk-admin...{t.admin_key[-4:]}"
    add_akey("admin-key-rot-young", R - 1, 1)
    add_akey("admin-key-rot-old", R + 1, 1)
    add_akey("admin-key-unused-young", 30, None)
    add_akey("admin-key-never-used-old", U + 1, None)
    add_akey("admin-key-never-used-young", U - 1, None)
    add_akey("admin-key-used-recent", max(200, R + 30), U - 1)
    add_akey("admin-key-used-old", max(200, R + 30, U + 30), U + 1)
    add_akey("admin-key-service-account", 10, 1, svc_owner=True, expires=-355)

    # ------------------------------------------------------------ bulk admin data
    bulk_users: list[AdminUser] = []
    for _ in range(size.users):
        added = _days(rng, 1, 700)
        extras = rng.random() < 0.7
        api = None
        if extras and rng.random() < 0.6:
            api = min(added, rng.expovariate(1 / 40)) // 1 + 0.5
        u = add_user(
            "", added, api, extras=extras, role="owner" if rng.random() < 0.03 else "reader"
        )
        if rng.random() < 0.6:
            login(u, min(added, rng.expovariate(1 / 35)) // 1 + 0.5)
        bulk_users.append(u)
    people = [owner, *bulk_users]

    bulk_projects = [p_main, p_second]
    for i in range(size.projects):
        created = _days(rng, 30, 800)
        archived = _days(rng, 1, int(created)) if rng.random() < 0.15 else None
        p = t.projects.add(
            Project(
                "proj_" + _rid(rng, 24),
                f"{rng.choice(_THINGS)} project {i}",
                ago(created),
                None if archived is None else ago(archived),
            )
        )
        t.project_keys_by_project[p.id] = Collection(lambda k: (k.created_at, k.id))
        t.service_accounts[p.id] = Collection(lambda s: (s.created_at, s.id))
        t.project_members[p.id] = Collection(lambda m: (m.added_at, m.user_id))
        bulk_projects.append(p)
        members = rng.sample(people, min(len(people), rng.randrange(1, 5)))
        for m in members:
            t.project_members[p.id].add(
                ProjectMember(p.id, m.id, rng.choice(("owner", "member")), ago(_days(rng, 1, 30)))
            )
        if rng.random() < 0.4:
            t.service_accounts[p.id].add(
                ServiceAccount(
                    "svc_acct_" + _rid(rng, 24), p.id, "bot", "member", ago(_days(rng, 1, 30))
                )
            )
    for p in bulk_projects[2:] if size.projects else []:
        for _ in range(size.keys_per_project):
            created = _days(rng, 1, 400)
            used = None if rng.random() < 0.2 else min(created, rng.expovariate(1 / 50)) // 1 + 0.5
            pmembers = t.project_members[p.id].ordered()
            sas = t.service_accounts[p.id].ordered()
            if sas and rng.random() < 0.25:
                add_pkey("", p, created, used, svc_acct=sas[0])
            else:
                m_user = t.users.get(rng.choice(pmembers).user_id) if pmembers else owner
                add_pkey(
                    "",
                    p,
                    created,
                    used,
                    owner_user=m_user,
                    access="inactive" if rng.random() < 0.1 else "active",
                )
    for _ in range(size.admin_keys):
        created = _days(rng, 1, 400)
        used = None if rng.random() < 0.3 else min(created, rng.expovariate(1 / 60)) // 1 + 0.5
        add_akey("", created, used, svc_owner=rng.random() < 0.2)
    for _ in range(size.invites):
        created = _days(rng, 0, 120)
        status = rng.choices(("accepted", "pending", "expired"), (6, 3, 1))[0]
        role = "owner" if rng.random() < 0.1 else "reader"
        expires = created - 7 if rng.random() < 0.7 else None
        projects = (
            [(rng.choice(bulk_projects).id, rng.choice(("member", "owner")))]
            if rng.random() < 0.2
            else []
        )
        add_inv(
            "",
            role,
            status,
            created,
            expires,
            projects,
            accepted=created - 0.25 if status == "accepted" else None,
        )
    # other audit event types (must not count as logins)
    for _ in range(max(3, size.users // 10)):
        actor = rng.choice(people)
        t.audit_logs.add(
            AuditEvent(
                "audit_log-" + _rid(rng, 24),
                rng.choice(("api_key.created", "project.updated", "user.added", "invite.sent")),
                ago(_days(rng, 0, 200)),
                actor.id,
                actor.email,
                p_main.id,
            )
        )

    # ------------------------------------------------------------ workspace users
    all_users = t.users.ordered()
    for i, u in enumerate(all_users):
        role = (
            "account-owner" if u is owner else ("account-admin" if i % 17 == 0 else "standard-user")
        )
        status = "inactive" if i % 23 == 5 else "active"
        t.workspace_users.add(
            WorkspaceUser(u.id, u.email, u.name.split(" (")[0], u.added_at + 0.125, role, status)
        )
    ws_users = t.workspace_users.ordered()

    # ------------------------------------------------------------ files helper
    fmt_cycle = list(simfiles.FORMATS)

    def new_file(
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
        fid = "file-" + _rid(rng, 24)
        base = (
            fname or f"{rng.choice(_THINGS).lower()}_{rng.choice(_DOC_KINDS)}_{len(t.files) % 1000}"
        )
        f = SimFile(
            fid,
            base if "." in base else f"{base}.{fmt}",
            fmt,
            location,
            parent_id,
            owner_id,
            ago(created),
            variant,
            tuple(profiles),
            expired,
            size_hint,
            label,
        )
        world._add_file(t, f)
        t._label(label, fid)
        return fid

    def bulk_variant() -> tuple[str, tuple[str, ...]]:
        r = rng.random()
        if r < 0.06:
            k = rng.choice((1, 1, 2))
            return "planted", tuple(sorted(rng.sample(simfiles.PLANTABLE_PROFILES, k)))
        if r < 0.10:
            return "near_miss", ()
        return "clean", ()

    # ------------------------------------------------------------ GPTs
    def tool(typ: str, created: float) -> Tool:
        tl = Tool(typ, ago(created))
        if typ in ("custom_action", "custom-action", "action"):
            dom = f"api.{rng.choice(_THINGS).lower()}.example.net"
            tl.action_domain, tl.auth_type, tl.privacy_policy_url = (
                dom,
                rng.choice(("none", "api_key", "oauth")),
                f"https://{dom}/privacy",
            )
        return tl

    def add_gpt(
        kind: str,
        label: str,
        visibility: str,
        tool_types: Sequence[str],
        created: float = 60,
        older_tool_types: Sequence[str] | None = None,
        owner_user: AdminUser | None = None,
    ) -> Gpt:
        ou = owner_user or (owner if label else rng.choice(people))
        gname = f"{rng.choice(_THINGS)} {rng.choice(_ROLES)}"
        if label:
            gname += f" [{label}]"
        cfg_prefix = "gzm_cnf_" if kind == "gpt" else "pr_cnf_"
        configs: list[Config] = []
        if older_tool_types is not None:
            configs.append(
                Config(
                    cfg_prefix + _rid(rng, 24),
                    gname,
                    "Earlier version.",
                    "Be helpful.",
                    ago(created),
                    [tool(x, created) for x in older_tool_types],
                    [],
                    ou.id,
                    ou.email,
                )
            )
        latest_created = created - 1 if older_tool_types is not None else created
        configs.insert(
            0,
            Config(
                cfg_prefix + _rid(rng, 24),
                gname,
                f"{gname} for the team.",
                "Answer questions about internal plans.",
                ago(latest_created),
                [tool(x, latest_created) for x in tool_types],
                [],
                ou.id,
                ou.email,
            ),
        )
        recipients: list[tuple[str, str]] = []
        if (
            ws_users and visibility in ("invite-only", "workspace-with-link")
        ) or rng.random() < 0.2:
            for r in rng.sample(ws_users, min(len(ws_users), rng.randrange(1, 4))):
                recipients.append((r.id, r.email))
        gid = ("g-" + _rid(rng, 9)) if kind == "gpt" else ("g-p-" + _rid(rng, 9))
        g = Gpt(
            kind,
            gid,
            ago(created),
            ou.id,
            ou.email,
            ou.name.split(" (")[0],
            visibility,
            recipients,
            configs,
            label,
        )
        (t.gpts if kind == "gpt" else t.cprojects).add(g)
        t._label(label, gid)
        return g

    add_gpt("gpt", "gpt-custom-action", "invite-only", ["custom_action"])
    add_gpt("gpt", "gpt-custom-action-dash", "workspace", ["custom-action"])
    add_gpt("gpt", "gpt-action", "workspace-with-link", ["action"])
    add_gpt("gpt", "gpt-code-interpreter", "workspace", ["code_interpreter"])
    add_gpt("gpt", "gpt-browser", "workspace", ["browser"])
    add_gpt("gpt", "gpt-dalle-memory", "invite-only", ["dall-e", "memory"])
    add_gpt("gpt", "gpt-store", "gpt-store", [])
    add_gpt("gpt", "gpt-link", "anyone-with-link", [])
    add_gpt(
        "gpt",
        "gpt-everything",
        "gpt-store",
        ["custom_action", "code_interpreter", "browser", "dall-e", "memory"],
    )
    add_gpt(
        "gpt",
        "gpt-old-config-action",
        "workspace",
        ["dall-e"],
        older_tool_types=["custom_action", "browser"],
    )
    add_gpt("gpt", "gpt-workspace-link", "workspace-with-link", ["memory"])
    g_files = add_gpt("gpt", "gpt-with-files", "invite-only", [])
    cfg = g_files.configs[0]
    cfg.file_ids.append(
        new_file(
            "gpt",
            g_files.id,
            owner.id,
            "pdf",
            "planted",
            [simfiles.PROFILE_CREDENTIALS],
            label="gpt-file-credentials-pdf",
            fname="deploy_runbook.pdf",
        )
    )
    cfg.file_ids.append(
        new_file(
            "gpt", g_files.id, owner.id, "md", label="gpt-file-clean-md", fname="style_guide.md"
        )
    )
    cfg.file_ids.append(
        new_file(
            "gpt",
            g_files.id,
            owner.id,
            "json",
            "near_miss",
            label="gpt-file-near-miss-json",
            fname="lookup_table.json",
        )
    )
    cfg.file_ids.append(
        new_file(
            "gpt",
            g_files.id,
            owner.id,
            "docx",
            "planted",
            [simfiles.PROFILE_FINANCIAL],
            label="gpt-file-financial-docx",
            fname="billing_faq.docx",
        )
    )

    weights = (35, 20, 25, 10, 10)
    for _ in range(size.gpts):
        vis = rng.choices(VISIBILITIES, weights)[0]
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
        add_gpt("gpt", "", vis, types, created=_days(rng, 1, 500))
    for i in range(size.gpt_files):
        g = rng.choice(t.gpts.ordered())
        var, profs = bulk_variant()
        fmt = fmt_cycle[i % len(fmt_cycle)]
        g.configs[0].file_ids.append(
            new_file("gpt", g.id, g.owner_id, fmt, var, profs, created=_days(rng, 1, 300))
        )

    # ------------------------------------------------------------ compliance projects
    cp1 = add_gpt("project", "cproject-with-files", "invite-only", [])
    cp1.configs[0].file_ids += [
        new_file(
            "project",
            cp1.id,
            owner.id,
            "pdf",
            "planted",
            [simfiles.PROFILE_FINANCIAL],
            label="project-file-financial-pdf",
            fname="invoice_batch.pdf",
        ),
        new_file(
            "project",
            cp1.id,
            owner.id,
            "xlsx",
            "planted",
            [simfiles.PROFILE_IDENTIFIERS],
            label="project-file-ids-xlsx",
            fname="payroll_roster.xlsx",
        ),
        new_file(
            "project", cp1.id, owner.id, "txt", label="project-file-clean-txt", fname="readme.txt"
        ),
    ]
    cp2 = add_gpt("project", "cproject-near-miss", "workspace", ["code_interpreter"])
    cp2.configs[0].file_ids += [
        new_file(
            "project",
            cp2.id,
            owner.id,
            "md",
            "near_miss",
            label="project-file-near-miss-md",
            fname="ledger_notes.md",
        ),
        new_file(
            "project", cp2.id, owner.id, "csv", label="project-file-clean-csv", fname="tasks.csv"
        ),
    ]
    for _ in range(size.cprojects):
        add_gpt(
            "project",
            "",
            rng.choices(VISIBILITIES, weights)[0],
            rng.sample(("code_interpreter", "browser"), rng.randrange(0, 2)),
            created=_days(rng, 1, 300),
        )
    cps = t.cprojects.ordered()
    for i in range(size.project_files):
        cp = rng.choice(cps)
        var, profs = bulk_variant()
        cp.configs[0].file_ids.append(
            new_file(
                "project",
                cp.id,
                cp.owner_id,
                fmt_cycle[i % 7],
                var,
                profs,
                created=_days(rng, 1, 300),
            )
        )

    # ------------------------------------------------------------ conversations
    gpt_ids = [g.id for g in t.gpts.ordered()]

    def add_conv(user: AdminUser, age: float, n_msgs: int, title: str) -> Conversation:
        conv_id = _uuid(rng)
        created = ago(age)
        msgs: list[Message] = []
        parent: str | None = None
        ts = created
        gpt_id = rng.choice(gpt_ids) if rng.random() < 0.2 else None
        for j in range(n_msgs):
            role = "user" if j % 2 == 0 else "assistant"
            tool_name = "python" if role == "assistant" and rng.random() < 0.1 else None
            m = Message(
                _uuid(rng),
                parent,
                ts,
                role,
                tool_name,
                f"{rng.choice(_THINGS)} {rng.choice(simfiles._WORDS)} question {j}"
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
        t.conversations.add(conv)
        return conv

    c1 = add_conv(owner, 0.5, 4, "Quarterly planning with attachments")
    t._label("conversation-with-files", c1.id)
    planted_conv = [
        (
            "txt",
            "planted",
            [simfiles.PROFILE_CREDENTIALS],
            False,
            "conv-file-credentials-txt",
            "env_dump.txt",
        ),
        (
            "csv",
            "planted",
            [simfiles.PROFILE_FINANCIAL],
            False,
            "conv-file-financial-csv",
            "payments.csv",
        ),
        (
            "json",
            "planted",
            [simfiles.PROFILE_IDENTIFIERS],
            False,
            "conv-file-ids-json",
            "employees.json",
        ),
        ("md", "clean", [], False, "conv-file-clean-md", "meeting_notes.md"),
        (
            "docx",
            "planted",
            [simfiles.PROFILE_CREDENTIALS, simfiles.PROFILE_IDENTIFIERS],
            False,
            "conv-file-credentials-ids-docx",
            "onboarding_pack.docx",
        ),
        (
            "xlsx",
            "planted",
            [simfiles.PROFILE_FINANCIAL],
            False,
            "conv-file-financial-xlsx",
            "card_audit.xlsx",
        ),
        (
            "pdf",
            "planted",
            [simfiles.PROFILE_IDENTIFIERS],
            False,
            "conv-file-ids-pdf",
            "tax_forms.pdf",
        ),
        ("txt", "near_miss", [], False, "conv-file-near-miss-txt", "reference_numbers.txt"),
        (
            "csv",
            "planted",
            [simfiles.PROFILE_FINANCIAL],
            True,
            "conv-file-expired-csv",
            "old_payments.csv",
        ),
        ("docx", "corrupt", [], False, "conv-file-corrupt-docx", "broken.docx"),
        ("pdf", "clean", [], False, "conv-file-clean-pdf", "brochure.pdf"),
        ("xlsx", "near_miss", [], False, "conv-file-near-miss-xlsx", "account_checks.xlsx"),
    ]
    for j, (fmt, var, pprofs, expired, label, fname) in enumerate(planted_conv):
        fid = new_file(
            "conversation",
            c1.id,
            owner.id,
            fmt,
            var,
            pprofs,
            expired,
            label,
            created=0.5,
            fname=fname,
        )
        c1.messages[(j % 2) * 2].file_ids.append(fid)
    if fault_files:
        fid = new_file(
            "conversation",
            c1.id,
            owner.id,
            "docx",
            "zipbomb",
            label="conv-file-zipbomb-docx",
            created=0.5,
            fname="expanding.docx",
            size_hint=zip_bomb_bytes,
        )
        c1.messages[0].file_ids.append(fid)
        fid = new_file(
            "conversation",
            c1.id,
            owner.id,
            "txt",
            "large",
            label="conv-file-large-txt",
            created=0.5,
            fname="server_log.txt",
            size_hint=large_file_bytes,
        )
        c1.messages[0].file_ids.append(fid)

    convs = [c1]
    for _ in range(size.conversations):
        user = rng.choice(people)
        convs.append(
            add_conv(
                user,
                _days(rng, 0, 60),
                rng.randrange(2, 6),
                f"{rng.choice(_THINGS)} {rng.choice(simfiles._WORDS)}",
            )
        )
    for i in range(size.conversation_files):
        conv = rng.choice(convs[1:]) if len(convs) > 1 else c1
        var, profs = bulk_variant()
        expired = rng.random() < 0.03
        fid = new_file(
            "conversation",
            conv.id,
            conv.user_id,
            fmt_cycle[i % 7],
            var,
            profs,
            expired,
            created=(now - conv.created_at) / DAY,
        )
        user_msgs = [m for m in conv.messages if m.role == "user"] or conv.messages
        rng.choice(user_msgs).file_ids.append(fid)

    # ------------------------------------------------------------ the 2026 Compliance API
    t.edges = edges or ComplianceEdges()
    if t.edges.message_dlp:
        _plant_messages(t, c1, rng)
    _plant_signins(t, rng, INA)
    t.conversations.resort()
    from simulator.logs import build_log_files

    build_log_files(t)
    return t


def _plant_messages(t: Tenant, conv: Conversation, rng: random.Random) -> None:
    """Sensitive text in the first conversation's messages (labels message-*)."""
    plans = [
        (1, "message-credentials", "planted", (simfiles.PROFILE_CREDENTIALS,)),
        (None, "message-financial", "planted", (simfiles.PROFILE_FINANCIAL,)),
        (None, "message-identifiers", "planted", (simfiles.PROFILE_IDENTIFIERS,)),
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
                _uuid(rng),
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
        t._label(label, msg.id)


def _plant_signins(t: Tenant, rng: random.Random, inactive_days: int) -> None:
    """The owner always signs in to ChatGPT (already active: no ground truth changes);
    with ``edges.chatgpt_logins`` three more sign-ins decide inactive users."""
    now = t.world.now

    def signin(label: str, user_label: str, days: float, status: str = "success") -> None:
        user = t.users.get(t.id_of(user_label))
        assert user is not None
        s = SignIn("evt_" + _rid(rng, 24), user.id, user.email, now - days * DAY, status)
        t.signins.append(s)
        t._label(label, s.id)

    signin("signin-owner", "user-owner", 0.5)
    if t.edges.chatgpt_logins:
        signin("signin-added-old", "user-added-old", inactive_days - 1)
        signin("signin-apikey-old", "user-apikey-old", inactive_days + 5)
        signin("signin-login-old-failed", "user-login-old", 1, "failure")
