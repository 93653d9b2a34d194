"""ApiSession: retries, Retry-After handling, typed errors, paging guards (MockTransport)."""

from __future__ import annotations

import email.utils
import json
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from connectors.access import ClientOptions
from connectors.errors import (
    AuthenticationError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    UpstreamError,
)
from connectors.http import (
    ApiSession,
    CallEvent,
    RateLimitHeaders,
    backoff_delay,
    parse_rate_limit_headers,
    parse_reset_header,
    parse_retry_after,
)
from connectors.ratelimit import LocalRateBudget
from tests.unit.connectors.conftest import ADMIN_KEY, FakeApi, RecordingBudget, page, paged

ROUTE = "/organization/users"


def make(
    api: FakeApi,
    budget: RecordingBudget,
    sleeps: list[float],
    options: ClientOptions | None = None,
    events: list[CallEvent] | None = None,
    api_name: str = "admin",
) -> ApiSession:
    return ApiSession(
        tenant_key="acme",
        api=api_name,  # type: ignore[arg-type]
        base_url="https://admin.test/v1",
        key=SecretStr(ADMIN_KEY),
        budget=budget,
        http=api.client(),
        options=options or ClientOptions(max_attempts=4, backoff_base=0.01, backoff_max=0.05),
        observer=events.append if events is not None else None,
        sleep=sleeps.append,
        rng=lambda: 1.0,
    )


def seq(*responses: httpx.Response):
    """Handler answering the given responses in order (the last one repeats)."""
    items = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        return items.pop(0) if len(items) > 1 else items[0]

    return handler


def ok(body: object | None = None) -> httpx.Response:
    return httpx.Response(200, json=body if body is not None else page([], has_more=False))


# ---------------------------------------------------------------- Retry-After parsing


def test_retry_after_seconds_ms_and_date() -> None:
    assert parse_retry_after(httpx.Headers({"retry-after": "7"})) == 7.0
    assert parse_retry_after(httpx.Headers({"retry-after": "1.5"})) == 1.5
    # retry-after-ms wins over Retry-After
    headers = httpx.Headers({"retry-after-ms": "250", "retry-after": "9"})
    assert parse_retry_after(headers) == 0.25
    date = email.utils.formatdate(1_000_030.0, usegmt=True)
    assert parse_retry_after(httpx.Headers({"retry-after": date}), now=1_000_000.0) == 30.0
    # a date in the past means "now", garbage means "not said"
    assert parse_retry_after(httpx.Headers({"retry-after": date}), now=2_000_000.0) == 0.0
    assert parse_retry_after(httpx.Headers({"retry-after": "soon"})) is None
    assert parse_retry_after(httpx.Headers({"retry-after": "-3"})) == 0.0
    assert parse_retry_after(httpx.Headers({})) is None


def test_backoff_is_exponential_and_capped() -> None:
    opts = ClientOptions(backoff_base=0.5, backoff_max=8.0)
    assert [backoff_delay(n, opts, lambda: 1.0) for n in (1, 2, 3, 4, 5, 6)] == [
        0.5,
        1.0,
        2.0,
        4.0,
        8.0,
        8.0,
    ]
    assert backoff_delay(3, opts, lambda: 0.0) == 0.0  # full jitter reaches zero


# ---------------------------------------------------------------- retries


def test_429_with_retry_after_cools_the_tenant_down_then_succeeds(budget, sleeps) -> None:
    api = FakeApi({ROUTE: seq(httpx.Response(429, headers={"Retry-After": "2"}), ok())})
    events: list[CallEvent] = []
    t = make(api, budget, sleeps, events=events)
    assert t.get_json(ROUTE, route=ROUTE, group="admin")["object"] == "list"
    assert budget.cooled == [("acme", "admin", 2.0)]
    # the wait happens in the shared budget, not in a private sleep
    assert sleeps == []
    assert budget.acquired == [("acme", "admin"), ("acme", "admin")]
    assert [(e.status, e.outcome) for e in events] == [(429, "retry"), (200, "ok")]
    assert events[0].retry_after == 2.0 and events[0].route == ROUTE


def test_429_with_retry_after_ms_and_http_date(budget, sleeps) -> None:
    future = email.utils.formatdate(__import__("time").time() + 20, usegmt=True)
    api = FakeApi(
        {
            ROUTE: seq(
                httpx.Response(429, headers={"retry-after-ms": "1500"}),
                httpx.Response(429, headers={"Retry-After": future}),
                ok(),
            )
        }
    )
    make(api, budget, sleeps).get_json(ROUTE, route=ROUTE, group="admin")
    assert budget.cooled[0] == ("acme", "admin", 1.5)
    assert 18.0 <= budget.cooled[1][2] <= 20.0


def test_429_without_retry_after_waits_out_the_window_and_shrinks_the_budget(
    budget, sleeps
) -> None:
    api = FakeApi({ROUTE: seq(httpx.Response(429), ok())})
    make(api, budget, sleeps).get_json(ROUTE, route=ROUTE, group="admin")
    # the rest of the group's window (what the shared budget says), not a private backoff
    assert budget.cooled == [("acme", "admin", 0.75)]
    assert budget.penalized == [("acme", "admin")]
    assert sleeps == []


def test_429_saying_nothing_remains_waits_for_the_stated_reset(budget, sleeps) -> None:
    limited = httpx.Response(
        429,
        headers={
            "x-ratelimit-limit-requests": "50",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": "2.5s",
        },
    )
    make(FakeApi({ROUTE: seq(limited, ok())}), budget, sleeps).get_json(
        ROUTE, route=ROUTE, group="admin"
    )
    assert budget.cooled == [("acme", "admin", 2.5)]
    assert budget.learned == [("acme", "admin", 50)]


def test_rate_limit_headers_teach_the_budget_once_per_value(budget, sleeps) -> None:
    def headers(limit: str, remaining: str) -> dict[str, str]:
        return {
            "x-ratelimit-limit-requests": limit,
            "x-ratelimit-remaining-requests": remaining,
            "x-ratelimit-reset-requests": "1m0s",
        }

    responses = [
        httpx.Response(200, json=page([], has_more=False), headers=headers("100", "99")),
        httpx.Response(200, json=page([], has_more=False), headers=headers("100", "98")),
        httpx.Response(200, json=page([], has_more=False), headers=headers("80", "3")),
        httpx.Response(200, json=page([], has_more=False), headers=headers("80", "0")),
    ]
    t = make(FakeApi({ROUTE: seq(*responses)}), budget, sleeps)
    for _ in responses:
        t.get_json(ROUTE, route=ROUTE, group="admin")
    assert budget.learned == [("acme", "admin", 100), ("acme", "admin", 80)]
    # the last answer said nothing remains: the group waits for the stated reset
    assert budget.cooled == [("acme", "admin", 60.0)]
    assert budget.penalized == []


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1s", 1.0), ("12ms", 0.012), ("6m0s", 360.0), ("1h2m3.5s", 3723.5), ("2.5", 2.5)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_reset_header(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "5x", "1s2", "-1"])
def test_parse_duration_refuses_nonsense(text: str) -> None:
    assert parse_reset_header(text) is None


def test_rate_limit_headers_tolerate_garbage() -> None:
    parsed = parse_rate_limit_headers(
        httpx.Headers(
            {
                "x-ratelimit-limit-requests": "lots",
                "x-ratelimit-remaining-requests": "-3",
                "x-ratelimit-reset-requests": "later",
            }
        )
    )
    assert parsed == RateLimitHeaders()


def test_retry_after_above_cap_raises_rate_limited_at_once(budget, sleeps) -> None:
    api = FakeApi({ROUTE: seq(httpx.Response(429, headers={"Retry-After": "600"}), ok())})
    t = make(api, budget, sleeps, ClientOptions(retry_after_cap=60))
    with pytest.raises(RateLimitedError) as info:
        t.get_json(ROUTE, route=ROUTE, group="admin")
    assert info.value.retry_after == 600.0
    assert info.value.kind == "rate_limited"
    assert len(api.requests) == 1
    assert budget.cooled == [("acme", "admin", 600.0)]


def test_5xx_then_success_sleeps_with_backoff(budget, sleeps) -> None:
    api = FakeApi({ROUTE: seq(httpx.Response(500), httpx.Response(503), httpx.Response(502), ok())})
    make(api, budget, sleeps).get_json(ROUTE, route=ROUTE, group="admin")
    assert len(api.requests) == 4
    assert sleeps == [0.01, 0.02, 0.04]
    assert budget.cooled == []


def test_5xx_honours_retry_after(budget, sleeps) -> None:
    api = FakeApi({ROUTE: seq(httpx.Response(503, headers={"Retry-After": "3"}), ok())})
    make(api, budget, sleeps).get_json(ROUTE, route=ROUTE, group="admin")
    assert sleeps == [3.0]


@pytest.mark.parametrize("status", [408, 409, 500, 502, 503, 504])
def test_retryable_statuses_are_bounded(budget, sleeps, status) -> None:
    api = FakeApi({ROUTE: seq(httpx.Response(status))})
    with pytest.raises(UpstreamError) as info:
        make(api, budget, sleeps).get_json(ROUTE, route=ROUTE, group="admin")
    assert len(api.requests) == 4
    assert info.value.status == status
    assert info.value.kind == "api_error"
    assert "4 attempts" in info.value.message


def _endless_429s(
    headers: dict[str, str], options: ClientOptions
) -> tuple[FakeApi, ApiSession, LocalRateBudget]:
    """A route answering 429 with ``headers`` forever, a session on a fake clock, its budget."""
    clock = FakeClock()
    budget = LocalRateBudget({"admin": (1000, 60.0)}, sleep=clock.sleep, monotonic=clock.monotonic)
    api = FakeApi({ROUTE: seq(httpx.Response(429, headers=headers))})
    return api, clocked_transport(api, budget, clock, options), budget


def test_429_storm_beyond_patience_is_rate_limited() -> None:
    api, t, budget = _endless_429s({"Retry-After": "1"}, ClientOptions(rate_limit_patience=5))
    with pytest.raises(RateLimitedError) as info:
        t.get_json(ROUTE, route=ROUTE, group="admin")
    # 429s are retried for the patience (5 s of 1 s waits), not for max_attempts (5)
    assert len(api.requests) == 6
    assert info.value.retry_after == 1.0 and "patience" in info.value.message
    assert budget.effective_limit("acme", "admin") == 500  # halved once, not six times


def test_429s_with_zero_waits_stop_at_the_per_call_attempt_cap() -> None:
    from connectors.http import MAX_ATTEMPTS_PER_CALL

    api, t, _ = _endless_429s({"retry-after-ms": "0"}, ClientOptions(max_attempts=3))
    with pytest.raises(RateLimitedError) as info:
        t.get_json(ROUTE, route=ROUTE, group="admin")
    # patience (150 s) is never used up by zero-length waits: the hard stop ends the call
    assert len(api.requests) == MAX_ATTEMPTS_PER_CALL
    assert info.value.status == 429 and f"{MAX_ATTEMPTS_PER_CALL} attempts" in info.value.message


def test_a_ten_second_storm_without_headers_is_ridden_out() -> None:
    clock = FakeClock()
    budget = LocalRateBudget({"admin": (50, 1.0)}, sleep=clock.sleep, monotonic=clock.monotonic)
    storm_ends = clock.now + 10.0

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429) if clock.now < storm_ends else ok()

    api = FakeApi({ROUTE: handler})
    t = clocked_transport(api, budget, clock, ClientOptions(max_attempts=3))
    assert t.get_json(ROUTE, route=ROUTE, group="admin")["object"] == "list"
    assert clock.now >= storm_ends
    # far fewer tries than a fixed short backoff would make: the window is waited out and
    # the shrinking budget spaces the rest
    assert len(api.requests) < 40
    assert budget.effective_limit("acme", "admin") < 50


def test_x_should_retry_overrides_status(budget, sleeps) -> None:
    api = FakeApi({ROUTE: seq(httpx.Response(500, headers={"x-should-retry": "false"}), ok())})
    with pytest.raises(UpstreamError):
        make(api, budget, sleeps).get_json(ROUTE, route=ROUTE, group="admin")
    assert len(api.requests) == 1

    api = FakeApi({ROUTE: seq(httpx.Response(400, headers={"x-should-retry": "true"}), ok())})
    make(api, budget, sleeps).get_json(ROUTE, route=ROUTE, group="admin")
    assert len(api.requests) == 2


def test_transport_errors_and_timeouts_retry_then_fail(budget, sleeps) -> None:
    calls = {"n": 0}

    def flaky(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            raise httpx.ConnectError("connection refused", request=request)
        if calls["n"] == 2:
            raise httpx.ReadTimeout("read timed out", request=request)
        return ok()

    make(FakeApi({ROUTE: flaky}), budget, sleeps).get_json(ROUTE, route=ROUTE, group="admin")
    assert calls["n"] == 3

    def dead(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("read timed out", request=request)

    with pytest.raises(UpstreamError) as info:
        make(FakeApi({ROUTE: dead}), budget, sleeps).get_json(ROUTE, route=ROUTE, group="admin")
    assert info.value.status is None
    assert "timed out" in info.value.message
    assert "could not get an answer from https://admin.test/v1" in info.value.hint
    assert (info.value.remedy, info.value.api) == ("check_base_url", "admin")


def test_timeouts_are_set_on_every_request(budget, sleeps) -> None:
    seen: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return ok()

    opts = ClientOptions(connect_timeout=3.0, read_timeout=11.0)
    make(FakeApi({ROUTE: handler}), budget, sleeps, opts).get_json(
        ROUTE, route=ROUTE, group="admin"
    )
    assert seen[0]["connect"] == 3.0 and seen[0]["read"] == 11.0


@pytest.mark.parametrize(
    "params",
    [
        [("after", "user-1"), ("limit", 20)],
        [("a", "x y"), ("a", 2), ("b", "\u00e9/?&=#%"), ("t", 1.5), ("u", True)],
        {"effective_at[gte]": 1700000000, "event_types[]": "login.succeeded"},
    ],
)
def test_query_parameters_are_encoded_as_httpx_encodes_them(budget, sleeps, params) -> None:
    """The query is written into the URL directly; it must be the one httpx's own
    ``params=`` merge produces (repeated keys kept, the same escapes)."""
    api = FakeApi({ROUTE: lambda request: ok()})
    make(api, budget, sleeps).get_json(ROUTE, route=ROUTE, group="admin", params=params)
    expected = httpx.Request("GET", "https://admin.test/v1" + ROUTE, params=params).url
    assert api.requests[0].url == expected
    assert api.requests[0].url.params.multi_items() == expected.params.multi_items()


def test_bad_json_is_retried_then_malformed(budget, sleeps) -> None:
    truncated = httpx.Response(200, content=b'{"object": "list", "data": [{"id"')
    api = FakeApi({ROUTE: seq(truncated, ok())})
    make(api, budget, sleeps).get_json(ROUTE, route=ROUTE, group="admin")
    assert len(api.requests) == 2

    api = FakeApi({ROUTE: seq(httpx.Response(200, content=b"<html>oops</html>"))})
    with pytest.raises(MalformedResponseError) as info:
        make(api, budget, sleeps).get_json(ROUTE, route=ROUTE, group="admin")
    assert info.value.kind == "malformed_response"
    assert len(api.requests) == 4


# ---------------------------------------------------------------- typed errors


def _error(status: int, message: str) -> httpx.Response:
    return httpx.Response(
        status,
        json={
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_api_key" if status == 401 else None,
            }
        },
    )


@pytest.mark.parametrize(
    ("status", "cls", "kind", "hint_part", "remedy"),
    [
        (401, AuthenticationError, "credential_error", "admin key was revoked", "set_key"),
        (403, PermissionDeniedError, "permission_error", "organization owner", "grant_scope"),
        (404, NotFoundError, "not_found", "route not found", "check_base_url"),
        (400, UpstreamError, "api_error", "retry the scan", "retry"),
    ],
)
def test_typed_errors_are_not_retried_and_carry_hints(
    budget, sleeps, status, cls, kind, hint_part, remedy
) -> None:
    leaked = "Incorrect API key provided: sk-admin-SECRETadm*****cdef. Bearer sk-admin-abc"
    api = FakeApi({ROUTE: seq(_error(status, leaked))})
    with pytest.raises(cls) as info:
        make(api, budget, sleeps).get_json(ROUTE, route=ROUTE, group="admin")
    err = info.value
    assert len(api.requests) == 1
    assert (err.kind, err.status, err.route) == (kind, status, ROUTE)
    assert hint_part in err.hint
    assert (err.remedy, err.api) == (remedy, "admin")
    assert err.to_dict()["remedy"] == remedy and err.to_dict()["api"] == "admin"
    assert "casb" not in err.hint  # the command is the CLI's to write
    rendered = " ".join([str(err), repr(err), json.dumps(err.to_dict()), *map(str, err.args)])
    assert "SECRET" not in rendered and "sk-admin-abc" not in rendered
    assert "Incorrect API key provided" in err.message


def test_errors_carry_the_upstream_request_id(budget, sleeps) -> None:
    response = _error(403, "Missing scope api.read")
    response.headers["x-request-id"] = "req_abc123"
    api = FakeApi({ROUTE: seq(response)})
    with pytest.raises(PermissionDeniedError) as info:
        make(api, budget, sleeps).get_json(ROUTE, route=ROUTE, group="admin")
    assert info.value.message == (
        "Missing scope api.read (invalid_request_error) [x-request-id req_abc123]"
    )


def test_compliance_errors_name_the_compliance_api(budget, sleeps) -> None:
    api = FakeApi({ROUTE: seq(_error(401, "bad key"))})
    with pytest.raises(AuthenticationError) as info:
        make(api, budget, sleeps, api_name="compliance").get_json(
            ROUTE, route=ROUTE, group="compliance_list"
        )
    assert (info.value.remedy, info.value.api) == ("set_key", "compliance")
    assert "compliance key" in info.value.hint
    api = FakeApi({ROUTE: seq(_error(404, "workspace not found"))})
    with pytest.raises(NotFoundError) as info2:
        make(api, budget, sleeps, api_name="compliance").get_json(
            ROUTE, route=ROUTE, group="compliance_list"
        )
    assert "workspace id" in info2.value.hint
    assert (info2.value.remedy, info2.value.api) == ("check_workspace", "compliance")


def test_key_is_sent_only_in_authorization_header(budget, sleeps) -> None:
    api = FakeApi({ROUTE: seq(ok())})
    t = make(api, budget, sleeps)
    t.get_json(ROUTE, route=ROUTE, group="admin", params=[("limit", 5)])
    request = api.requests[0]
    assert request.headers["authorization"] == f"Bearer {ADMIN_KEY}"
    assert ADMIN_KEY not in str(request.url)
    assert ADMIN_KEY not in repr(t)


# ---------------------------------------------------------------- paging


def items(prefix: str, n: int, start: int = 0) -> list[dict]:
    return [{"id": f"{prefix}{i:04d}"} for i in range(start, start + n)]


def test_paging_follows_last_id_across_short_pages(budget, sleeps) -> None:
    pages = [
        page(items("u", 3), has_more=True),
        page(items("u", 1, 3), has_more=True),  # short page: more remain anyway
        page([], has_more=True, last_id="u0003x"),  # empty page with a cursor
        page(items("u", 2, 4), has_more=False),
    ]
    # the empty page's cursor must be the one the next page is keyed on
    handler_pages = {None: pages[0], "u0002": pages[1], "u0003": pages[2], "u0003x": pages[3]}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=handler_pages[request.url.params.get("after")])

    api = FakeApi({ROUTE: handler})
    got = list(make(api, budget, sleeps).paginate(ROUTE, route=ROUTE, group="admin", limit=100))
    assert [i["id"] for i in got] == [f"u{i:04d}" for i in range(6)]
    assert [r.url.params.get("after") for r in api.requests] == [None, "u0002", "u0003", "u0003x"]
    assert all(r.url.params["limit"] == "100" for r in api.requests)


def test_paging_falls_back_to_last_item_id(budget, sleeps) -> None:
    pages = [
        page(items("k", 2), has_more=True, last_id=False),  # no last_id key (CursorPage)
        page(items("k", 2, 2), has_more=True, last_id=None),  # null last_id
        page(items("k", 1, 4), has_more=False, last_id=False),
    ]
    api = FakeApi({ROUTE: paged(pages)})
    got = list(make(api, budget, sleeps).paginate(ROUTE, route=ROUTE, group="admin", limit=2))
    assert [i["id"] for i in got] == ["k0000", "k0001", "k0002", "k0003", "k0004"]


def test_repeated_cursor_is_malformed(budget, sleeps) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        after = request.url.params.get("after")
        if after is None:
            return httpx.Response(200, json=page(items("a", 2), has_more=True))
        return httpx.Response(200, json=page([{"id": "a0001"}], has_more=True))

    api = FakeApi({ROUTE: handler})
    with pytest.raises(MalformedResponseError) as info:
        list(make(api, budget, sleeps).paginate(ROUTE, route=ROUTE, group="admin", limit=2))
    assert "cursor" in info.value.message
    assert len(api.requests) == 2


@pytest.mark.parametrize(
    "body",
    [
        {"object": "list", "has_more": False},  # no data
        {"object": "list", "data": {"id": "x"}, "has_more": False},  # data not a list
        {"object": "list", "data": [{"id": "x"}]},  # no has_more
        {"object": "list", "data": ["x"], "has_more": False},  # items not objects
        [{"id": "x"}],  # not an envelope
        {"object": "list", "data": [], "has_more": True},  # has_more without any cursor
    ],
)
def test_wrong_page_shapes_are_malformed(budget, sleeps, body) -> None:
    api = FakeApi({ROUTE: seq(httpx.Response(200, json=body))})
    with pytest.raises(MalformedResponseError):
        list(make(api, budget, sleeps).paginate(ROUTE, route=ROUTE, group="admin", limit=10))


def test_max_pages_guard(budget, sleeps) -> None:
    counter = {"n": 0}

    def endless(request: httpx.Request) -> httpx.Response:
        counter["n"] += 1
        return httpx.Response(200, json=page([{"id": f"e{counter['n']}"}], has_more=True))

    api = FakeApi({ROUTE: endless})
    with pytest.raises(MalformedResponseError) as info:
        list(
            make(api, budget, sleeps, ClientOptions(max_pages=5)).paginate(
                ROUTE, route=ROUTE, group="admin", limit=1
            )
        )
    assert counter["n"] == 5
    assert "max_pages" in info.value.message


def test_observer_errors_do_not_fail_calls(budget, sleeps) -> None:
    def broken(event: CallEvent) -> None:
        raise RuntimeError("metrics down")

    api = FakeApi({ROUTE: seq(ok())})
    t = make(api, budget, sleeps)
    t.observer = broken
    assert t.get_json(ROUTE, route=ROUTE, group="admin")["has_more"] is False


def test_the_observer_sees_every_attempt_with_its_outcome(budget, sleeps) -> None:
    events: list[CallEvent] = []
    api = FakeApi({ROUTE: seq(httpx.Response(429), httpx.Response(500), ok())})
    t = make(api, budget, sleeps)
    t.observer = events.append
    t.get_json(ROUTE, route=ROUTE, group="admin")
    assert [(e.status, e.outcome) for e in events] == [(429, "retry"), (500, "retry"), (200, "ok")]
    assert {(e.tenant, e.group) for e in events} == {("acme", "admin")}


def test_shared_client_is_per_process_and_stateless() -> None:
    from connectors.http import close_shared_client, shared_client

    close_shared_client()
    first = shared_client()
    assert shared_client() is first
    assert first.follow_redirects is False
    assert "authorization" not in first.headers
    first.cookies.extract_cookies(
        httpx.Response(
            200,
            headers={"set-cookie": "session=abc; Domain=admin.test; Path=/"},
            request=httpx.Request("GET", "https://admin.test/v1/x"),
        )
    )
    assert len(first.cookies.jar) == 0  # the shared jar keeps nothing
    close_shared_client()
    second = shared_client()
    assert second is not first and first.is_closed
    close_shared_client()


class FakeClock:
    """A monotonic clock that only moves when something sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.mark.parametrize("retry_after", ["45", "60"])
def test_retry_after_within_the_cap_is_waited_even_beyond_budget_max_wait(
    retry_after: str,
) -> None:

    # A real budget (fake clock): the 429's Retry-After (<= retry_after_cap) turns into a
    # shared cool-down, and this call waits it out although it exceeds budget_max_wait.
    clock = FakeClock()
    budget = LocalRateBudget({"admin": (1000, 60.0)}, sleep=clock.sleep, monotonic=clock.monotonic)
    api = FakeApi({ROUTE: seq(httpx.Response(429, headers={"Retry-After": retry_after}), ok())})
    t = ApiSession(
        tenant_key="acme",
        api="admin",
        base_url="https://admin.test/v1",
        key=SecretStr(ADMIN_KEY),
        budget=budget,
        http=api.client(),
        options=ClientOptions(retry_after_cap=60, budget_max_wait=30),
        sleep=clock.sleep,
    )
    assert t.get_json(ROUTE, route=ROUTE, group="admin")["object"] == "list"
    assert len(api.requests) == 2
    assert sum(clock.slept) == pytest.approx(float(retry_after))

    # Above the cap the same call defers at once, without waiting at all.
    clock.slept.clear()
    api = FakeApi({ROUTE: seq(httpx.Response(429, headers={"Retry-After": "61"}), ok())})
    t.http = api.client()
    with pytest.raises(RateLimitedError) as info:
        t.get_json(ROUTE, route=ROUTE, group="admin")
    assert info.value.retry_after == 61.0 and len(api.requests) == 1
    assert sum(clock.slept) < 1  # at most one budget spacing, never the 61 s


def clocked_transport(
    api: FakeApi, budget: object, clock: FakeClock, options: ClientOptions
) -> ApiSession:
    return ApiSession(
        tenant_key="acme",
        api="admin",
        base_url="https://admin.test/v1",
        key=SecretStr(ADMIN_KEY),
        budget=budget,  # type: ignore[arg-type]
        http=api.client(),
        options=options,
        sleep=clock.sleep,
        monotonic=clock.monotonic,
    )


def test_tls_verify_trusts_the_ca_bundle_or_the_bundled_set(tmp_path: Path) -> None:
    import ssl

    from connectors.http import tls_verify
    from core.settings import ConfigurationError, Settings
    from simulator.tls import make_loopback_tls

    assert tls_verify(Settings(ca_bundle="")) is True
    ca = make_loopback_tls(tmp_path).ca_cert
    context = tls_verify(Settings(ca_bundle=str(ca)))
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert len(context.get_ca_certs()) == 1
    assert tls_verify(Settings(ca_bundle=str(ca))) is not context  # one per client
    junk = tmp_path / "junk.pem"
    junk.write_text("no certificate here")
    with pytest.raises(ConfigurationError) as info:
        tls_verify(Settings(ca_bundle=str(junk)))
    assert "CASB_CA_BUNDLE" in str(info.value) and str(junk) not in str(info.value)
