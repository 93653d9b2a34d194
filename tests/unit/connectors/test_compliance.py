"""ComplianceClient over MockTransport: drift variants, conversations, file downloads."""

from __future__ import annotations

import gzip
import hashlib
import io
import json

import httpx
import pytest

from connectors.access import ClientOptions, TenantAccess
from connectors.compliance import ComplianceClient, ConversationListing
from connectors.errors import (
    AuthenticationError,
    FileSkipped,
    MalformedResponseError,
    NotFoundError,
    UpstreamError,
)
from tests.unit.connectors.conftest import COMPLIANCE_KEY, WORKSPACE, FakeApi, page, paged

P = f"/compliance/workspaces/{WORKSPACE}"


def client(api: FakeApi, access, budget, options, sleeps) -> ComplianceClient:
    return ComplianceClient(access, budget, http=api.client(), options=options, sleep=sleeps.append)


def _gpt(gid: str, *, latest_config, recipients, visibility="invite-only") -> dict:
    return {
        "object": "compliance.workspace.gpt",
        "id": gid,
        "created_at": 1692158096.299021,
        "owner_id": "user-1",
        "owner_email": "o@x.io",
        "builder_name": "B",
        "sharing": {
            "object": "compliance.workspace.gpt.sharing",
            "visibility": visibility,
            "permissions": {"can_read": True},
            "recipients": recipients,
        },
        "latest_config": latest_config,
    }


def _config(tools: list[str], files: list[str]) -> dict:
    return {
        "object": "compliance.workspace.gpt.configuration",
        "id": "gzm_cnf_1",
        "name": "Helper",
        "created_at": 1.5,
        "tools": {
            "object": "list",
            "data": [{"type": t, "created_at": 1.0, "action_domain": "api.x.io"} for t in tools],
        },
        "files": {
            "object": "list",
            "has_more": False,
            "data": [
                {"object": "compliance.workspace.gpt.file_info", "id": f, "name": f"{f}.pdf"}
                for f in files
            ],
        },
    }


def test_gpts_accept_every_drift_variant(access, budget, options, sleeps) -> None:
    shared = {"object": "compliance.workspace.gpt.shared_user", "id": "user-9", "email": "s@x.io"}
    gpts = [
        # spec: latest_config list object, recipients array, canonical tool names
        _gpt(
            "g-1",
            latest_config={
                "object": "list",
                "data": [_config(["custom_action"], ["file-a"])],
                "last_id": "gzm_cnf_1",
                "has_more": False,
            },
            recipients=[shared],
            visibility="gpt-store",
        ),
        # GCI: recipients list object; psoxy: latest_config bare array; spelling drift
        _gpt(
            "g-2",
            latest_config=[_config(["custom-action", "web_browsing", "python"], [])],
            recipients={"object": "list", "data": [shared], "has_more": False},
            visibility="anyone-with-link",
        ),
        # third-party GPT: no config, no sharing recipients
        {"object": "compliance.workspace.gpt", "id": "g-3", "builder_name": "Community Builder"},
    ]
    api = FakeApi(
        {f"{P}/gpts": paged([page(gpts[:2], has_more=True), page(gpts[2:], has_more=False)])}
    )
    got = list(client(api, access, budget, options, sleeps).gpts())
    assert [g.id for g in got] == ["g-1", "g-2", "g-3"]
    assert got[0].tool_types == {"custom_action"}
    assert got[1].tool_types == {"custom_action", "browser", "code_interpreter"}
    for gpt in got[:2]:
        assert gpt.sharing is not None and gpt.sharing.recipients[0].email == "s@x.io"
    assert got[0].config is not None and got[0].config.files[0].id == "file-a"
    assert got[2].config is None and got[2].tool_types == set()
    assert got[0].created_at == 1692158096.299021
    assert all(r.url.params["file_format"] == "id" for r in api.requests)
    assert api.requests[0].url.params["limit"] == "100"
    assert {g for _, g in budget.acquired} == {"compliance_list:gpts"}
    assert api.requests[0].headers["authorization"] == f"Bearer {COMPLIANCE_KEY}"


def test_projects_and_users(access, budget, options, sleeps) -> None:
    project = _gpt(
        "g-p-1", latest_config={"object": "list", "data": [_config([], ["file-p"])]}, recipients=[]
    )
    users = [
        {
            "object": "compliance.workspace.user",
            "id": f"user-{i}",
            "email": f"{i}@x.io",
            "role": "standard-user",
            "status": "active",
            "created_at": 1.25,
        }
        for i in range(3)
    ]
    api = FakeApi(
        {
            f"{P}/projects": paged([page([project], has_more=False)]),
            f"{P}/users": paged([page(users[:2], has_more=True), page(users[2:], has_more=False)]),
        }
    )
    c = client(api, access, budget, options, sleeps)
    assert [p.config.files[0].id for p in c.projects() if p.config] == ["file-p"]
    assert [u.id for u in c.users()] == ["user-0", "user-1", "user-2"]
    assert api.requests[1].url.params["limit"] == "200"


def _conversation(cid: str, files: list[str]) -> dict:
    msg_files = {
        "object": "list",
        "data": [
            {
                "object": "compliance.workspace.conversation.message.file_info",
                "id": f,
                "name": f"{f}.csv",
                "user_id": "user-7",
            }
            for f in files
        ],
    }
    return {
        "object": "compliance.workspace.conversation",
        "id": cid,
        "workspace_id": WORKSPACE,
        "user_id": "user-7",
        "user_email": "u@x.io",
        "created_at": 1.0,
        "last_active_at": 2.0,
        "title": "t",
        "messages": {
            "object": "list",
            "has_more": False,
            "last_id": "m2",
            "data": [
                {
                    "id": "m1",
                    "author": {"role": "user"},
                    "content": {"type": "text", "value": "hi"},
                    "files": msg_files,
                },
                {"id": "m2", "author": {"role": "assistant"}, "content": None, "files": None},
            ],
        },
    }


def test_conversations_since_floor_relisted_and_files(access, budget, options, sleeps) -> None:
    pages = [
        page([_conversation("c1", ["file-1"]), _conversation("c2", [])], has_more=True),
        # c1 updated mid-sync reappears on a later page: yielded again, counted, not an error
        page(
            [_conversation("c1", ["file-1", "file-9"]), _conversation("c3", ["file-3"])],
            has_more=False,
        ),
    ]
    api = FakeApi({f"{P}/conversations": paged(pages)})
    stats = ConversationListing()
    got = list(client(api, access, budget, options, sleeps).conversations(1700000000.9, stats))
    assert [c.id for c in got] == ["c1", "c2", "c1", "c3"]
    assert [(f.id, f.user_id) for f in got[0].files] == [("file-1", "user-7")]
    assert [f.id for f in got[2].files] == ["file-1", "file-9"]
    assert (stats.conversations, stats.relisted, stats.pages) == (3, 1, 2)
    params = api.requests[0].url.params
    assert params["since_timestamp"] == "1700000000"
    assert params["file_format"] == "id" and params["limit"] == "100"


def _relisting_server(pages: list[dict]) -> tuple[list[str | None], object]:
    """Serves ``pages`` in order whatever the cursor; records the cursors it was sent."""
    cursors: list[str | None] = []
    served = iter(pages)

    def handler(request: httpx.Request) -> httpx.Response:
        cursors.append(request.url.params.get("after"))
        return httpx.Response(200, json=next(served))

    return cursors, handler


def test_a_conversation_relisted_at_a_page_end_repeats_the_cursor_without_error(
    access, budget, options, sleeps
) -> None:
    first = _conversation("c1", [])
    updated = {**_conversation("c1", ["file-2"]), "last_active_at": 1700009999.0}
    cursors, handler = _relisting_server(
        [
            page([_conversation("c0", []), first], has_more=True),
            page([_conversation("c2", []), updated], has_more=True),  # cursor c1 again
            page([_conversation("c3", [])], has_more=False),
        ]
    )
    api = FakeApi({f"{P}/conversations": handler})
    stats = ConversationListing()
    got = list(client(api, access, budget, options, sleeps).conversations(0, stats))
    assert [c.id for c in got] == ["c0", "c1", "c2", "c1", "c3"]
    assert cursors == [None, "c1", "c1"]
    assert stats.relisted == 1


def test_the_same_page_and_cursor_twice_is_a_loop(access, budget, options, sleeps) -> None:
    same = page([_conversation("c0", []), _conversation("c1", [])], has_more=True)
    _, handler = _relisting_server([same, same, same])
    api = FakeApi({f"{P}/conversations": handler})
    with pytest.raises(MalformedResponseError, match="loop"):
        list(client(api, access, budget, options, sleeps).conversations(0))


def test_nested_messages_has_more_is_counted(access, budget, options, sleeps) -> None:
    conv = _conversation("c1", ["file-1"])
    conv["messages"]["has_more"] = True
    api = FakeApi({f"{P}/conversations": paged([page([conv], has_more=False)])})
    stats = ConversationListing()
    got = list(client(api, access, budget, options, sleeps).conversations(0, stats))
    assert got[0].messages_truncated
    assert stats.to_dict()["truncated_conversations"] == 1
    assert [m.text for m in got[0].messages] == ["hi", ""]


def test_a_page_over_the_byte_cap_is_asked_for_again_with_half_the_limit(
    access, budget, sleeps
) -> None:
    big = "x" * 3000
    convs = [{**_conversation(f"c{i}", []), "title": big} for i in range(4)]

    def handler(request: httpx.Request) -> httpx.Response:
        limit = int(request.url.params["limit"])
        after = request.url.params.get("after")
        start = 0 if after is None else int(after[1:]) + 1
        chunk = convs[start : start + limit]
        return httpx.Response(200, json=page(chunk, has_more=start + limit < len(convs)))

    api = FakeApi({f"{P}/conversations": handler})
    options = ClientOptions(conversation_page_limit=4, conversation_page_max_bytes=8000)
    stats = ConversationListing()
    got = list(client(api, access, budget, options, sleeps).conversations(0, stats))
    assert [c.id for c in got] == ["c0", "c1", "c2", "c3"]
    limits = [r.url.params["limit"] for r in api.requests]
    assert limits == ["4", "2", "2"]  # 4 overflowed unread; then two pages of 2
    assert stats.pages_shrunk == 1

    tiny = ClientOptions(conversation_page_limit=4, conversation_page_max_bytes=1000)
    with pytest.raises(MalformedResponseError, match="larger than 1000 bytes"):
        list(client(api, access, budget, tiny, sleeps).conversations(0))


def test_a_compressed_page_counts_against_the_cap_once_decoded(access, budget, sleeps) -> None:
    # A few hundred compressed bytes that decode to over 12 KB: the cap is on what the page
    # decodes to, read through the bounded decoder, not on what crossed the network.
    convs = [{**_conversation(f"c{i}", []), "title": "x" * 3000} for i in range(4)]

    def handler(request: httpx.Request) -> httpx.Response:
        limit = int(request.url.params["limit"])
        after = request.url.params.get("after")
        start = 0 if after is None else int(after[1:]) + 1
        body = json.dumps(page(convs[start : start + limit], has_more=start + limit < 4))
        packed = gzip.compress(body.encode())
        assert len(packed) < 8000
        return httpx.Response(
            200, headers={"content-encoding": "gzip"}, content=iter([packed[:100], packed[100:]])
        )

    api = FakeApi({f"{P}/conversations": handler})
    options = ClientOptions(conversation_page_limit=4, conversation_page_max_bytes=8000)
    stats = ConversationListing()
    got = list(client(api, access, budget, options, sleeps).conversations(0, stats))
    assert [c.id for c in got] == ["c0", "c1", "c2", "c3"]
    assert [r.url.params["limit"] for r in api.requests] == ["4", "2", "2"]
    assert stats.pages_shrunk == 1


# ---------------------------------------------------------------- downloads


class Storage:
    """The fake storage host: refuses any request that carries credentials."""

    def __init__(self, body: bytes, *, content_type="text/csv; charset=utf-8", length=True):
        self.body = body
        self.content_type = content_type
        self.length = length
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if "authorization" in request.headers or "cookie" in request.headers:
            return httpx.Response(400, text="credentials sent to storage")
        headers = {
            "content-type": self.content_type,
            "content-disposition": 'attachment; filename="report.csv"',
        }
        if self.length:
            return httpx.Response(200, headers=headers, content=self.body)
        chunks = [self.body[i : i + 1000] for i in range(0, len(self.body), 1000)]
        return httpx.Response(200, headers=headers, content=iter(chunks))


def _redirect(location: str):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(307, headers={"location": location, "set-cookie": "s=1; Path=/"})

    return handler


def test_download_follows_307_without_authorization(access, budget, options, sleeps) -> None:
    body = b"name,card\nann,4111111111111111\n" * 50
    storage = Storage(body)
    api = FakeApi(
        {
            f"{P}/users/user-7/files/file-1": _redirect("https://blob.test/_blob/file-1?sig=abc"),
            "/_blob/file-1": storage,
        }
    )
    dest = io.BytesIO()
    result = client(api, access, budget, options, sleeps).download_file(
        "conversation", "file-1", dest, user_id="user-7", conversation_id="c1"
    )
    assert dest.getvalue() == body
    assert result.size == len(body)
    assert result.sha256 == hashlib.sha256(body).hexdigest()
    assert result.content_type == "text/csv" and result.filename == "report.csv"
    api_request = api.requests[0]
    assert api_request.headers["authorization"] == f"Bearer {COMPLIANCE_KEY}"
    assert api_request.url.params["conversation_id"] == "c1"
    assert storage.requests[0].url.host == "blob.test"
    assert "authorization" not in storage.requests[0].headers
    assert budget.acquired == [("acme", "compliance_file")]  # storage is not budgeted


def test_download_relative_location_gpt_and_project(access, budget, options, sleeps) -> None:
    storage = Storage(b"%PDF-1.4 ...", content_type="application/pdf")
    api = FakeApi(
        {
            f"{P}/gpt_files/file-g": _redirect("/_blob/file-g"),
            f"{P}/project_files/file-p": _redirect("/_blob/file-g"),
            "/_blob/file-g": storage,
        }
    )
    c = client(api, access, budget, options, sleeps)
    assert c.download_file("gpt", "file-g", io.BytesIO()).content_type == "application/pdf"
    assert c.download_file("project", "file-p", io.BytesIO()).size == len(storage.body)
    assert [r.url.host for r in storage.requests] == ["compliance.test", "compliance.test"]
    assert all("authorization" not in r.headers for r in storage.requests)


@pytest.mark.parametrize(("status", "reason"), [(404, "not_found"), (410, "expired")])
def test_download_404_410_are_skipped(access, budget, options, sleeps, status, reason) -> None:
    api = FakeApi({f"{P}/gpt_files/file-x": lambda r: httpx.Response(status, json={})})
    with pytest.raises(FileSkipped) as info:
        client(api, access, budget, options, sleeps).download_file("gpt", "file-x", io.BytesIO())
    assert (info.value.reason, info.value.file_id) == (reason, "file-x")
    assert len(api.requests) == 1


def test_download_storage_expired_url_is_skipped(access, budget, options, sleeps) -> None:
    api = FakeApi(
        {
            f"{P}/gpt_files/file-x": _redirect("https://blob.test/_blob/file-x"),
            "/_blob/file-x": lambda r: httpx.Response(403, text="Request has expired"),
        }
    )
    with pytest.raises(FileSkipped) as info:
        client(api, access, budget, options, sleeps).download_file("gpt", "file-x", io.BytesIO())
    assert info.value.reason == "expired"


@pytest.mark.parametrize("declared", [True, False])
def test_download_over_cap_is_skipped_and_rewound(access, budget, options, sleeps, declared):
    storage = Storage(b"x" * 10_000, length=declared)
    api = FakeApi({f"{P}/gpt_files/f": _redirect("https://blob.test/_blob/f"), "/_blob/f": storage})
    dest = io.BytesIO(b"keep")
    dest.seek(4)
    with pytest.raises(FileSkipped) as info:
        client(api, access, budget, options, sleeps).download_file("gpt", "f", dest, max_bytes=4096)
    assert info.value.reason == "too_large"
    assert dest.getvalue() == b"keep"


def test_download_storage_5xx_is_retried(access, budget, options, sleeps) -> None:
    calls = {"n": 0}
    good = Storage(b"hello")

    def flaky(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        return httpx.Response(503) if calls["n"] == 1 else good(request)

    api = FakeApi({f"{P}/gpt_files/f": _redirect("https://blob.test/_blob/f"), "/_blob/f": flaky})
    dest = io.BytesIO()
    assert client(api, access, budget, options, sleeps).download_file("gpt", "f", dest).size == 5
    assert dest.getvalue() == b"hello" and len(sleeps) == 1

    api = FakeApi(
        {
            f"{P}/gpt_files/f": _redirect("https://blob.test/_blob/f"),
            "/_blob/f": lambda r: httpx.Response(500),
        }
    )
    with pytest.raises(UpstreamError):
        client(api, access, budget, options, sleeps).download_file("gpt", "f", io.BytesIO())


def test_download_api_429_is_retried_through_the_budget(access, budget, options, sleeps) -> None:
    calls = {"n": 0}

    def limited(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return httpx.Response(429, headers={"retry-after": "1"})
        return httpx.Response(307, headers={"location": "https://blob.test/_blob/f"})

    api = FakeApi({f"{P}/gpt_files/f": limited, "/_blob/f": Storage(b"ok")})
    client(api, access, budget, options, sleeps).download_file("gpt", "f", io.BytesIO())
    assert budget.cooled == [("acme", "compliance_file", 1.0)]


def test_download_conversation_file_needs_user(access, budget, options, sleeps) -> None:
    with pytest.raises(ValueError):
        client(FakeApi(), access, budget, options, sleeps).download_file(
            "conversation", "f", io.BytesIO()
        )


def test_missing_compliance_config(budget) -> None:
    with pytest.raises(AuthenticationError) as info:
        ComplianceClient(TenantAccess(tenant_key="acme", workspace_id="w"), budget)
    assert (info.value.remedy, info.value.api) == ("set_key", "compliance")
    from pydantic import SecretStr

    with pytest.raises(NotFoundError) as missing:
        ComplianceClient(TenantAccess(tenant_key="acme", compliance_key=SecretStr("sk-x")), budget)
    assert missing.value.remedy == "set_workspace_id"


def test_default_options_cap_is_100_mb() -> None:
    assert ClientOptions().max_file_bytes == 100 * 1024 * 1024


def test_download_served_inline_by_the_api(access, budget, options, sleeps) -> None:
    api = FakeApi(
        {f"{P}/gpt_files/f": lambda r: httpx.Response(200, content=b"inline", headers={})}
    )
    dest = io.BytesIO()
    result = client(api, access, budget, options, sleeps).download_file("gpt", "f", dest)
    assert (dest.getvalue(), result.size, result.content_type) == (b"inline", 6, None)
    assert len(api.requests) == 1
