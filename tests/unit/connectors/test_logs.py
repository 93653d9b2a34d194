"""The Logs Platform client over MockTransport, the streaming decoder and the record reader."""

from __future__ import annotations

import hashlib
import io
import json

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.compliance import ComplianceClient
from connectors.errors import FileSkipped, MalformedResponseError, NotFoundError
from connectors.logs import UNDECODABLE, LogsClient, iter_documents, parse_time, read_record
from tests.unit.connectors.conftest import WORKSPACE, FakeApi

SCOPE = f"/compliance/workspaces/{WORKSPACE}"


def logs_client(api: FakeApi, access, budget, options, sleeps, scope="workspaces") -> LogsClient:
    compliance = ComplianceClient(
        access, budget, http=api.client(), options=options, sleep=sleeps.append
    )
    return LogsClient(compliance, scope)


# ---------------------------------------------------------------- decoding


def _docs(data: bytes, chunk: int = 5) -> list:
    return list(iter_documents(io.BytesIO(data), chunk_size=chunk))


def test_several_documents_on_one_line_are_all_read() -> None:
    body = b'{"a":1}{"b":2} {"c":[1,2]}\n{"d":"x"}\n\n  {"e":null}'
    for chunk in (1, 3, 7, 1000):
        assert _docs(body, chunk) == [{"a": 1}, {"b": 2}, {"c": [1, 2]}, {"d": "x"}, {"e": None}]


def test_a_broken_line_is_reported_once_and_reading_resumes_on_the_next_line() -> None:
    body = b'{"a":1}\n{"broken": "cut\n{"b":2}{"c":3}\nnot json at all\n{"d":4}\n'
    for chunk in (1, 4, 64, 10_000):
        docs = _docs(body, chunk)
        assert docs == [{"a": 1}, UNDECODABLE, {"b": 2}, {"c": 3}, UNDECODABLE, {"d": 4}]


def test_a_truncated_last_document_and_an_over_long_one_are_undecodable() -> None:
    assert _docs(b'{"a":1}\n{"b":', 3) == [{"a": 1}, UNDECODABLE]
    long = b'{"x":"' + b"y" * 500 + b'"}\n{"ok":1}\n'
    docs = list(iter_documents(io.BytesIO(long), chunk_size=16, max_chars=100))
    assert docs == [UNDECODABLE, {"ok": 1}]


def test_a_line_nested_deeper_than_json_recurses_is_one_undecodable_span() -> None:
    deep = b"[" * 5000 + b"]" * 5000
    for chunk in (4096, 1_000_000):
        docs = _docs(b'{"a":1}\n' + deep + b'\n{"b":2}\n', chunk)
        assert docs == [{"a": 1}, UNDECODABLE, {"b": 2}]


def test_multibyte_characters_split_across_chunks() -> None:
    body = json.dumps({"t": "héllo wörld ✓"}, ensure_ascii=False).encode() * 3
    assert _docs(body, 1) == [{"t": "héllo wörld ✓"}] * 3


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.dictionaries(st.text(max_size=5), st.one_of(st.integers(), st.text(max_size=8))),
        max_size=8,
    ),
    st.lists(st.sampled_from(["", " ", "\n", "\r\n", "\t"]), min_size=8, max_size=8),
    st.integers(min_value=1, max_value=40),
)
def test_any_whitespace_between_documents_any_chunking(docs, seps, chunk) -> None:
    body = "".join(json.dumps(d) + seps[i] for i, d in enumerate(docs)).encode()
    assert _docs(body, chunk) == docs


# ---------------------------------------------------------------- records


def test_nested_record_shape() -> None:
    record = read_record(
        {
            "event_id": "evt_1",
            "event_type": "CONVERSATION_MESSAGE",
            "timestamp": "2026-03-01T10:00:00.5Z",
            "actor": {"user_id": "user-1", "email": "Ann@X.io"},
            "conversation": {"id": "conv-1", "title": "Plans"},
            "message": {
                "id": "msg-1",
                "author": {"role": "user"},
                "content": {"content_type": "text", "parts": ["card 4111 1111 1111 1111"]},
                "attachments": [{"id": "file-abc", "name": "a.csv"}, {"id": "not-a-file"}],
            },
        }
    )
    assert record is not None
    assert (record.event_id, record.conversation_id, record.message_id) == (
        "evt_1",
        "conv-1",
        "msg-1",
    )
    assert (record.user_id, record.user_email) == ("user-1", "ann@x.io")
    assert record.timestamp == parse_time("2026-03-01T10:00:00.5+00:00")
    assert [f.id for f in record.files] == ["file-abc"]
    assert "card 4111 1111 1111 1111" in record.text and "Plans" in record.text
    # identifiers, emails, types and timestamps are not text
    for meta in ("ann@x.io", "Ann@X.io", "user-1", "msg-1", "CONVERSATION_MESSAGE", "2026-03"):
        assert meta not in record.text
    assert record.understood_as_message


def test_flat_record_shape_and_unusable_records() -> None:
    record = read_record(
        {
            "id": "evt_2",
            "type": "CONVERSATION_MESSAGE",
            "created_at": 1700000000.25,
            "conversation_id": "conv-2",
            "message_id": "msg-2",
            "user_id": "user-2",
            "user_email": "bo@x.io",
            "text": "hello",
            "files": [{"file_id": "file-xyz", "filename": "b.pdf"}],
        }
    )
    assert record is not None
    assert (record.event_id, record.message_id, record.timestamp) == (
        "evt_2",
        "msg-2",
        1700000000.25,
    )
    assert [(f.id, f.name) for f in record.files] == [("file-xyz", "b.pdf")]
    opaque = read_record({"event_id": "evt_3", "payload": {"encrypted": True, "bytes": 12}})
    assert opaque is not None and not opaque.understood_as_message
    assert not opaque.understood_as_login
    assert read_record(["not", "an", "object"]) is None


def test_login_record() -> None:
    record = read_record(
        {"event_id": "e", "timestamp": "2026-01-02T03:04:05+01:00", "actor": {"email": "A@x.io"}}
    )
    assert record is not None and record.understood_as_login
    assert record.user_email == "a@x.io"
    assert parse_time("2026-01-02T02:04:05Z") == record.timestamp


# ---------------------------------------------------------------- client


def _listing(pages: dict[str | None, dict]):
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params["event_type"] == "CONVERSATION_MESSAGE"
        assert int(request.url.params["limit"]) <= 100
        return httpx.Response(200, json=pages[request.url.params.get("after")])

    return handler


def test_listing_pages_by_last_end_time(access, budget, options, sleeps) -> None:
    t1, t2 = "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"
    pages = {
        "2025-12-31T00:00:00Z": {
            "data": [{"id": "log_1", "event_type": "CONVERSATION_MESSAGE", "end_time": t1}],
            "has_more": True,
            "last_end_time": t1,
        },
        t1: {
            "data": [{"id": "log_2", "event_type": "CONVERSATION_MESSAGE", "end_time": t2}],
            "has_more": False,
            "last_end_time": t2,
        },
    }
    api = FakeApi({f"{SCOPE}/logs": _listing(pages)})
    logs = logs_client(api, access, budget, options, sleeps)
    got = list(logs.files("CONVERSATION_MESSAGE", "2025-12-31T00:00:00Z"))
    assert [(f.id, end) for f, end in got] == [("log_1", t1), ("log_2", t2)]
    assert [r.url.params["after"] for r in api.requests] == ["2025-12-31T00:00:00Z", t1]


def test_a_listing_whose_last_end_time_does_not_advance_is_a_loop(
    access, budget, options, sleeps
) -> None:
    t1 = "2026-01-01T00:00:00Z"
    same = {"data": [{"id": "log_1", "end_time": t1}], "has_more": True, "last_end_time": t1}
    api = FakeApi({f"{SCOPE}/logs": _listing({None: same, t1: same})})
    with pytest.raises(MalformedResponseError, match="does not advance"):
        list(logs_client(api, access, budget, options, sleeps).files("CONVERSATION_MESSAGE", None))


def test_organization_scope_and_missing_org_id(access, budget, options, sleeps) -> None:
    api = FakeApi({})
    logs = logs_client(api, access, budget, options, sleeps, scope="organizations")
    assert logs.prefix == "/compliance/organizations/org-acme"
    with pytest.raises(NotFoundError):
        logs.page("AUTH_LOG", None)
    compliance = ComplianceClient(
        access.model_copy(update={"org_id": None}), budget, http=api.client(), options=options
    )
    with pytest.raises(NotFoundError, match="organization id") as info:
        LogsClient(compliance, "organizations")
    assert (info.value.remedy, info.value.api) == ("set_org_id", "logs")


def test_download_follows_307_without_the_bearer_token_and_checks_sha256(
    access, budget, options, sleeps
) -> None:
    body = b'{"event_id":"e1","text":"hi"}{"event_id":"e2","text":"yo"}\n'
    seen: list[httpx.Request] = []

    def storage(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if "authorization" in request.headers:
            return httpx.Response(400, text="credentials sent to storage")
        return httpx.Response(200, content=body)

    api = FakeApi(
        {
            f"{SCOPE}/logs/log_1": lambda r: httpx.Response(
                307, headers={"location": "https://blob.test/_blob/logs/tok"}
            ),
            "/_blob/logs/tok": storage,
        }
    )
    logs = logs_client(api, access, budget, options, sleeps)
    from connectors.logs import LogFile

    good = LogFile("log_1", "CONVERSATION_MESSAGE", None, hashlib.sha256(body).hexdigest())
    docs = list(logs.documents(good))
    assert [d["event_id"] for d in docs] == ["e1", "e2"]
    assert seen and all("authorization" not in r.headers for r in seen)

    bad = LogFile("log_1", "CONVERSATION_MESSAGE", None, "0" * 64)
    with pytest.raises(FileSkipped) as info:
        list(logs.documents(bad))
    assert info.value.reason == "checksum_mismatch"
    assert len(seen) == 3  # one good download, then the bad checksum downloaded twice

    gone = FakeApi({f"{SCOPE}/logs/log_9": lambda r: httpx.Response(410)})
    with pytest.raises(FileSkipped, match="expired"):
        list(
            logs_client(gone, access, budget, options, sleeps).documents(
                LogFile("log_9", None, None)
            )
        )


def test_a_log_redirect_to_a_refused_destination_is_skipped_unfetched(
    access, budget, options, sleeps
) -> None:
    # The Logs Platform's 307 passes the same destination policy as a file's: plain http to
    # a loopback port that is not allowed is refused before anything is sent there.
    internal: list[httpx.Request] = []

    def trap(request: httpx.Request) -> httpx.Response:
        internal.append(request)
        return httpx.Response(200, content=b'{"event_id":"e1"}')

    api = FakeApi(
        {
            f"{SCOPE}/logs/log_1": lambda r: httpx.Response(
                307, headers={"location": "http://127.0.0.1:9/internal/logs"}
            ),
            "/internal/logs": trap,
        }
    )
    from connectors.logs import LogFile

    logs = logs_client(api, access, budget, options, sleeps)
    with pytest.raises(FileSkipped) as info:
        list(logs.documents(LogFile("log_1", "CONVERSATION_MESSAGE", None)))
    assert info.value.reason == "redirect_refused"
    assert internal == []
