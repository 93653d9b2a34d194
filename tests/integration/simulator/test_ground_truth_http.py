"""The ground truth equals what an independent scanner sees over HTTP.

A minimal scanner written here from the rules in docs/findings.md (every drift variant
accepted) reads only the served JSON and files, and must reproduce world.ground_truth()
exactly for each tenant. This keeps the ground truth honest about what is observable.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
import zipfile
from typing import Any

import httpx
import pypdf
import pytest

from simulator import ground_truth as gt
from simulator.server import RunningSimulator
from simulator.world import World
from tests.integration.simulator.conftest import Api, admin_api, compliance_api

DAY = 86400
TH = {"rotation": 90, "unused": 90, "inactive": 90, "stale": 14}


def _data(obj: Any) -> list[Any]:
    return obj["data"] if isinstance(obj, dict) else obj


def _tool_kind(raw: str) -> str | None:
    t = raw.lower()
    if t in ("custom_action", "custom-action", "action"):
        return gt.GPT_CUSTOM_ACTIONS
    if t == "code_interpreter":
        return gt.GPT_CODE_INTERPRETER
    if t in ("browser", "web_browsing", "web_search"):
        return gt.GPT_WEB_BROWSING
    return None


def scan_posture(admin: Api, comp: Api, now: float) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()

    def old(ts: float | None, days: int) -> bool:
        return ts is not None and now - ts > days * DAY

    for g in comp.walk("/gpts", {"limit": 100}):
        cfg = _data(g["latest_config"])[0]
        for tool in _data(cfg["tools"]):
            kind = _tool_kind(tool["type"])
            if kind:
                out.add((kind, g["id"]))
        vis = g["sharing"]["visibility"]
        if vis == "gpt-store":
            out.add((gt.GPT_PUBLIC_STORE, g["id"]))
        elif vis == "anyone-with-link":
            out.add((gt.GPT_PUBLIC_LINK, g["id"]))

    def keys(items: list[dict[str, Any]], rot: str, unused: str) -> None:
        for k in items:
            if old(k["created_at"], TH["rotation"]):
                out.add((rot, k["id"]))
            basis = k["last_used_at"] if k["last_used_at"] is not None else k["created_at"]
            if old(basis, TH["unused"]):
                out.add((unused, k["id"]))

    keys(
        admin.walk("/organization/admin_api_keys", {"limit": 100}),
        gt.ADMIN_KEY_NOT_ROTATED,
        gt.ADMIN_KEY_UNUSED,
    )
    activity: dict[str, float] = {}

    def seen(uid: str, ts: float | None) -> None:
        if ts is not None:
            activity[uid] = max(activity.get(uid, 0), ts)

    for p in admin.walk("/organization/projects", {"limit": 100, "include_archived": "true"}):
        pkeys = admin.walk(
            f"/organization/projects/{p['id']}/api_keys",
            {"limit": 100, "owner_project_access": "any"},
        )
        keys(pkeys, gt.PROJECT_KEY_NOT_ROTATED, gt.PROJECT_KEY_UNUSED)
        for k in pkeys:
            if k.get("owner_project_access") == "inactive":
                out.add((gt.PROJECT_KEY_ORPHANED, k["id"]))
            if k["owner"]["type"] == "user":
                seen(k["owner"]["user"]["id"], k["last_used_at"])

    for inv in admin.walk("/organization/invites", {"limit": 100}):
        if inv["status"] != "pending":
            continue
        if inv["role"] == "owner" or any(p["role"] == "owner" for p in inv.get("projects") or []):
            out.add((gt.HIGH_PRIVILEGE_INVITE, inv["id"]))
        created = inv.get("created_at", inv.get("invited_at"))
        expired = inv.get("expires_at") is not None and inv["expires_at"] < now
        if old(created, TH["stale"]) or expired:
            out.add((gt.STALE_PENDING_INVITE, inv["id"]))

    for ev in admin.walk(
        "/organization/audit_logs", {"event_types[]": "login.succeeded", "limit": 100}
    ):
        seen(ev["actor"]["session"]["user"]["id"], ev["effective_at"])
    for u in admin.walk("/organization/users", {"limit": 100}):
        seen(u["id"], u["added_at"])
        seen(u["id"], u.get("api_key_last_used_at"))
        if old(activity[u["id"]], TH["inactive"]):
            out.add((gt.INACTIVE_USER, u["id"]))
    return out


# ----------------------------------------------------------------- a tiny independent DLP check


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _iban(s: str) -> bool:
    moved = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def profiles_in(text: str) -> set[str]:
    found = set()
    if (
        re.search(r"\bAKIA[A-Z2-7]{16}\b", text)
        or re.search(r"\bghp_[A-Za-z0-9]{36}\b", text)
        or "-----BEGIN RSA PRIVATE KEY-----" in text
        or re.search(r"sk-proj-[A-Za-z0-9_-]{40,}", text)
    ):
        found.add("Credentials and Secrets")
    cards = [re.sub(r"\D", "", c) for c in re.findall(r"\b[45]\d{3}(?:[ -]?\d{4}){3}\b", text)]
    if any(_luhn(c) for c in cards) or any(
        _iban(i) for i in re.findall(r"\bGB\d{2}[A-Z]{4}\d{14}\b", text)
    ):
        found.add("Financial Information")
    for area, group, serial in re.findall(r"\b(\d{3})-(\d{2})-(\d{4})\b", text):
        if (
            area not in ("000", "666")
            and not area.startswith("9")
            and group != "00"
            and serial != "0000"
        ):
            found.add("Social Security, Insurance, Tax, and Identifier Numbers")
    return found


def extract(name: str, data: bytes) -> str | None:
    ext = name.rsplit(".", 1)[-1]
    try:
        if ext in ("txt", "md", "csv"):
            text = data.decode()
            return (
                " ".join(" ".join(r) for r in csv.reader(io.StringIO(text))) + text
                if ext == "csv"
                else text
            )
        if ext == "json":
            return json.dumps(json.loads(data))
        if ext == "pdf":
            return "\n".join(
                p.extract_text() for p in pypdf.PdfReader(io.BytesIO(data), strict=True).pages
            )
        if ext in ("docx", "xlsx"):
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                parts = [n for n in zf.namelist() if n.endswith(".xml")]
                if sum(zf.getinfo(n).file_size for n in parts) > 50 * 1024 * 1024:
                    return None  # zip bomb
                return re.sub(r"<[^>]+>", "\n", "".join(zf.read(n).decode() for n in parts))
    except (ValueError, zipfile.BadZipFile, pypdf.errors.PdfReadError, UnicodeDecodeError):
        return None
    return None


def scan_dlp(comp: Api, now: float) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    targets: list[tuple[str, str, str]] = []  # (finding type, route, name)
    for c in comp.walk("/conversations", {"since_timestamp": 0, "file_format": "id"}):
        for m in c["messages"]["data"]:
            for f in m["files"]["data"]:
                targets.append(
                    (gt.DLP_CONVERSATION_FILE, f"/users/{f['user_id']}/files/{f['id']}", f["name"])
                )
    for kind, route, ftype in (
        ("gpts", "gpt_files", gt.DLP_GPT_FILE),
        ("projects", "project_files", gt.DLP_PROJECT_FILE),
    ):
        for g in comp.walk(f"/{kind}", {"limit": 100, "file_format": "id"}):
            for f in _data(_data(g["latest_config"])[0]["files"]):
                targets.append((ftype, f"/{route}/{f['id']}", f["name"]))
    with httpx.Client(timeout=30) as storage:
        for ftype, route, name in targets:
            r = comp.get(route)
            if r.status_code != 307:
                assert r.status_code in (404, 410)
                continue
            with storage.stream("GET", r.headers["location"]) as blob:
                size = int(blob.headers["content-length"])
                if size > 2 * 1024 * 1024:
                    continue  # over this scanner's cap
                data = blob.read()
            text = extract(name, data)
            if text is not None and profiles_in(text):
                out.add((ftype, route.rsplit("/", 1)[-1]))
    return out


@pytest.mark.parametrize("slug", ["tenant-01", "tenant-02", "tenant-03", "tenant-04"])
def test_independent_scan_over_http_equals_ground_truth(
    sim: RunningSimulator, world: World, slug: str
) -> None:
    admin, comp = admin_api(sim, world, slug), compliance_api(sim, world, slug)
    now = time.time()
    posture = scan_posture(admin, comp, now)
    dlp = scan_dlp(comp, now)
    truth = world.ground_truth(slug)
    posture_truth = {x for x in truth if x[0] in gt.POSTURE_FINDING_TYPES}
    assert posture == posture_truth
    assert dlp == truth - posture_truth
    # every seed type; message DLP text is planted only with ComplianceEdges(message_dlp=True)
    assert {ftype for ftype, _ in truth} == set(gt.ALL_FINDING_TYPES) - set(
        gt.MESSAGE_FINDING_TYPES
    )


def test_scan_sees_mutations(sim: RunningSimulator, world: World) -> None:
    slug = "tenant-04"
    t = world.tenant(slug)
    admin, comp = admin_api(sim, world, slug), compliance_api(sim, world, slug)
    t.set_gpt_visibility(t.id_of("gpt-link"), "invite-only")
    t.accept_invite(t.id_of("invite-owner-pending"))
    t.touch_user_activity(t.id_of("user-apikey-old"))
    t.add_gpt_tool(t.id_of("gpt-dalle-memory"), "custom-action")
    posture = scan_posture(admin, comp, time.time())
    assert (gt.GPT_PUBLIC_LINK, t.id_of("gpt-link")) not in posture
    assert (gt.HIGH_PRIVILEGE_INVITE, t.id_of("invite-owner-pending")) not in posture
    assert (gt.INACTIVE_USER, t.id_of("user-apikey-old")) not in posture
    assert (gt.GPT_CUSTOM_ACTIONS, t.id_of("gpt-dalle-memory")) in posture
    assert posture == {x for x in world.ground_truth(slug) if x[0] in gt.POSTURE_FINDING_TYPES}


def test_ground_truth_manifest_over_http(sim: RunningSimulator, world: World) -> None:
    # A scanner run against a standalone `casb simulator serve` checks itself with this.
    url = f"{sim.url}/_sim/tenants/tenant-02/ground_truth"
    at = time.time() + 30 * 86400  # a month later: more keys, users and invites are stale
    body = httpx.get(url, params={"now": at}).json()
    assert body["tenant"] == "tenant-02" and body["now"] == at
    got = {(f["finding_type_id"], f["resource_id"]) for f in body["findings"]}
    assert got == world.ground_truth("tenant-02", now=at)
    assert got != world.ground_truth("tenant-02")  # "at a given time" really moves
    expected = {(m.finding_type_id, m.resource_id): m for m in world.manifest("tenant-02", now=at)}
    for f in body["findings"]:
        m = expected[(f["finding_type_id"], f["resource_id"])]
        assert (f["resource_type"], f["resource_name"]) == (m.resource_type, m.resource_name)
        assert f["finding_type"] == m.finding_type
    # no DLP profile attached: no DLP findings; one profile: only its files
    none = httpx.get(url, params={"now": at, "dlp_profiles": ""}).json()["findings"]
    assert {(f["finding_type_id"], f["resource_id"]) for f in none} == (
        got & {x for x in got if x[0] in gt.POSTURE_FINDING_TYPES}
    )
    profile = "Credentials and Secrets"
    one = httpx.get(url, params={"now": at, "dlp_profiles": profile}).json()["findings"]
    dlp = [f for f in one if f["finding_type_id"] not in gt.POSTURE_FINDING_TYPES]
    assert dlp and all(f["profiles"] == [profile] for f in dlp)
    # errors
    assert httpx.get(url, params={"now": "soon"}).status_code == 400
    assert httpx.get(f"{sim.url}/_sim/tenants/nobody/ground_truth").status_code == 404
