"""Auth errors, base-URL separation, file routes (307 -> blob without auth), 404/410."""

from __future__ import annotations

import io
import zipfile

import httpx
import pypdf

from simulator import files as sf
from simulator.server import RunningSimulator
from simulator.world import World
from tests.integration.simulator import shapes
from tests.integration.simulator.conftest import Api, compliance_api


def error_of(r: httpx.Response) -> dict[str, object]:
    assert shapes.ShapeChecker(allow_unknown=False).check(r.json(), shapes.ERROR_BODY) == []
    error: dict[str, object] = r.json()["error"]
    return error


def test_admin_auth(sim: RunningSimulator, world: World) -> None:
    t = world.tenant("tenant-01")
    r = Api(sim.admin_base, None).get("/organization/users")
    assert r.status_code == 401 and error_of(r)["code"] == "missing_api_key"
    r = Api(sim.admin_base, "sk-admin-wrong").get("/organization/users")
    assert r.status_code == 401 and error_of(r)["code"] == "invalid_api_key"
    assert "sk-admin-wrong" not in r.text  # the key is never echoed
    r = Api(sim.admin_base, t.compliance_key).get("/organization/users")
    assert r.status_code == 403 and error_of(r)["code"] == "insufficient_permissions"
    r = Api(sim.admin_base, next(iter(t.project_keys))).get("/organization/users")
    assert r.status_code == 403
    r = Api(sim.admin_base, t.admin_key).get("/organization/users")
    assert r.status_code == 200 and r.headers["openai-organization"] == t.org_id
    assert r.headers["x-request-id"].startswith("req_")


def test_compliance_auth_and_workspaces(sim: RunningSimulator, world: World) -> None:
    t1, t2 = world.tenant("tenant-01"), world.tenant("tenant-02")
    ws1 = f"/compliance/workspaces/{t1.workspace_id}/users"
    assert Api(sim.compliance_base, None).get(ws1).status_code == 401
    assert Api(sim.compliance_base, "sk-proj-nope").get(ws1).status_code == 401
    r = Api(sim.compliance_base, t1.admin_key).get(ws1)
    assert r.status_code == 403 and error_of(r)["code"] == "insufficient_permissions"
    r = Api(sim.compliance_base, t2.compliance_key).get(ws1)
    assert r.status_code == 403 and error_of(r)["code"] == "workspace_access_denied"
    r = Api(sim.compliance_base, t1.compliance_key).get(
        "/compliance/workspaces/00000000-0000-4000-8000-000000000000/users"
    )
    assert r.status_code == 404 and error_of(r)["code"] == "workspace_not_found"
    assert Api(sim.compliance_base, t1.compliance_key).get(ws1).status_code == 200


def test_each_api_lives_only_under_its_own_base(sim: RunningSimulator, world: World) -> None:
    t = world.tenant("tenant-01")
    r = httpx.get(
        f"{sim.compliance_base}/organization/users",
        headers={"Authorization": f"Bearer {t.admin_key}"},
    )
    assert r.status_code == 404 and error_of(r)["type"] == "invalid_request_error"
    r = httpx.get(
        f"{sim.admin_base}/compliance/workspaces/{t.workspace_id}/users",
        headers={"Authorization": f"Bearer {t.compliance_key}"},
    )
    assert r.status_code == 404
    assert (
        httpx.post(
            f"{sim.admin_base}/organization/users",
            headers={"Authorization": f"Bearer {t.admin_key}"},
        ).status_code
        == 405
    )


def _download(sim: RunningSimulator, world: World, slug: str, route: str) -> httpx.Response:
    api = compliance_api(sim, world, slug)
    r = api.get(route)
    assert r.status_code == 307, (route, r.status_code, r.text)
    location = r.headers["location"]
    assert location.startswith(sim.url + "/_blob/")
    return httpx.get(location)


def test_conversation_gpt_and_project_files_redirect_to_the_blob(
    sim: RunningSimulator, world: World
) -> None:
    t = world.tenant("tenant-01")
    owner = t.id_of("user-owner")
    blob = _download(
        sim, world, "tenant-01", f"/users/{owner}/files/{t.id_of('conv-file-credentials-txt')}"
    )
    assert blob.status_code == 200 and blob.headers["content-type"].startswith("text/plain")
    assert 'filename="env_dump.txt"' in blob.headers["content-disposition"]
    for entry in world.planted_entries("tenant-01", t.id_of("conv-file-credentials-txt")):
        assert entry.value.split("\n")[0] in blob.text

    blob = _download(sim, world, "tenant-01", f"/gpt_files/{t.id_of('gpt-file-credentials-pdf')}")
    assert blob.headers["content-type"] == "application/pdf"
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(blob.content)).pages)
    assert "AKIA" in text

    blob = _download(sim, world, "tenant-01", f"/project_files/{t.id_of('project-file-ids-xlsx')}")
    assert blob.headers["content-type"] == sf.CONTENT_TYPES["xlsx"]
    assert "xl/sharedStrings.xml" in zipfile.ZipFile(io.BytesIO(blob.content)).namelist()
    assert blob.content == world.file_bytes(t, t.files[t.id_of("project-file-ids-xlsx")])


def test_blob_rejects_authorization_and_counts_it(sim: RunningSimulator, world: World) -> None:
    t = world.tenant("tenant-02")
    api = compliance_api(sim, world, "tenant-02")
    loc = api.get(f"/gpt_files/{t.id_of('gpt-file-clean-md')}").headers["location"]
    before = world.stats("tenant-02")["counters"].get("blob_auth_rejected", 0)
    r = httpx.get(loc, headers={"Authorization": f"Bearer {t.compliance_key}"})
    assert r.status_code == 400
    assert world.stats("tenant-02")["counters"]["blob_auth_rejected"] == before + 1
    assert httpx.get(loc).status_code == 200
    assert httpx.get(sim.url + "/_blob/0123456789abcdef").status_code == 404


def test_file_errors_404_and_410(sim: RunningSimulator, world: World) -> None:
    t = world.tenant("tenant-01")
    api = compliance_api(sim, world, "tenant-01")
    owner = t.id_of("user-owner")
    r = api.get(f"/users/{owner}/files/{t.id_of('conv-file-expired-csv')}")
    assert r.status_code == 410 and error_of(r)["code"] == "file_expired"
    assert api.get(f"/users/{owner}/files/file-unknown").status_code == 404
    other = t.id_of("user-apikey-old")
    assert (
        api.get(f"/users/{other}/files/{t.id_of('conv-file-credentials-txt')}").status_code == 404
    )
    # a conversation file is not a GPT file
    assert api.get(f"/gpt_files/{t.id_of('conv-file-credentials-txt')}").status_code == 404
    # the expired file's blob URL is gone too
    assert (
        httpx.get(
            f"{sim.url}/_blob/{world.blob_token('tenant-01', t.id_of('conv-file-expired-csv'))}"
        ).status_code
        == 410
    )


def test_url_format_download_urls_work_without_auth(sim: RunningSimulator, world: World) -> None:
    api = compliance_api(sim, world, "tenant-01")
    convs = api.walk("/conversations", {"since_timestamp": 0, "file_format": "url"})
    urls = [
        f["download_url"] for c in convs for m in c["messages"]["data"] for f in m["files"]["data"]
    ]
    assert None in urls  # expired files have no URL
    live = [u for u in urls if u][:3]
    assert live and all(httpx.get(u).status_code == 200 for u in live)


def test_fault_files_are_served(sim: RunningSimulator, world: World) -> None:
    t = world.tenant("tenant-01")
    owner = t.id_of("user-owner")
    bomb = _download(
        sim, world, "tenant-01", f"/users/{owner}/files/{t.id_of('conv-file-zipbomb-docx')}"
    )
    info = zipfile.ZipFile(io.BytesIO(bomb.content)).getinfo("word/document.xml")
    assert info.file_size > 4 * 1024 * 1024 > len(bomb.content)
    api = compliance_api(sim, world, "tenant-01")
    loc = api.get(f"/users/{owner}/files/{t.id_of('conv-file-large-txt')}").headers["location"]
    with httpx.stream("GET", loc) as r:
        assert int(r.headers["content-length"]) == 3 * 1024 * 1024
        assert sum(len(c) for c in r.iter_bytes()) == 3 * 1024 * 1024
