"""Fuzzing the API page parsers: whatever a server (or something in its place) answers, a
listing ends in items or in a typed ``ConnectorError``, never another exception, within a
memory budget per example (Python allocations, via tracemalloc)."""

from __future__ import annotations

import json
import os
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import httpx
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from connectors.access import ClientOptions, TenantAccess
from connectors.admin import AdminClient
from connectors.compliance import ComplianceClient
from connectors.errors import ConnectorError
from schemas import openai as models
from tests.unit.connectors.conftest import ADMIN_KEY, COMPLIANCE_KEY, WORKSPACE, RecordingBudget

MEMORY_BUDGET = 64 * 1024 * 1024
FUZZ = settings(
    max_examples=int(os.environ.get("CASB_FUZZ_EXAMPLES", "80")),  # raise for a campaign
    deadline=None,  # bounded by max_examples and input sizes, not by a timer
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

ACCESS = TenantAccess(
    tenant_key="acme",
    org_id="org-acme",
    workspace_id=WORKSPACE,
    admin_api_base="https://admin.test/v1",
    admin_key=SecretStr(ADMIN_KEY),
    compliance_api_base="https://compliance.test/v1",
    compliance_key=SecretStr(COMPLIANCE_KEY),
)
OPTIONS = ClientOptions(max_attempts=2, backoff_base=0.0, backoff_max=0.0, max_pages=5)

Listing = Callable[[httpx.Client], Any]


def _admin(http: httpx.Client) -> AdminClient:
    return AdminClient(ACCESS, RecordingBudget(), http=http, options=OPTIONS, sleep=lambda _: None)


def _compliance(http: httpx.Client) -> ComplianceClient:
    budget = RecordingBudget()
    return ComplianceClient(ACCESS, budget, http=http, options=OPTIONS, sleep=lambda _: None)


LISTINGS: dict[str, Listing] = {
    "admin.users": lambda h: list(_admin(h).users()),
    "admin.invites": lambda h: list(_admin(h).invites()),
    "admin.admin_api_keys": lambda h: list(_admin(h).admin_api_keys()),
    "admin.projects": lambda h: list(_admin(h).projects()),
    "admin.all_project_api_keys": lambda h: list(_admin(h).all_project_api_keys()),
    "admin.service_accounts": lambda h: list(_admin(h).service_accounts("proj_1")),
    "admin.latest_logins": lambda h: _admin(h).latest_logins(),
    "compliance.users": lambda h: list(_compliance(h).users()),
    "compliance.gpts": lambda h: list(_compliance(h).gpts()),
    "compliance.projects": lambda h: list(_compliance(h).projects()),
    "compliance.conversations": lambda h: list(_compliance(h).conversations()),
}

MODELS = [
    m
    for m in vars(models).values()
    if isinstance(m, type) and issubclass(m, models.ApiModel) and m is not models.ApiModel
]
FIELD_NAMES = sorted({name for m in MODELS for name in m.model_fields} | {"id", "object"})

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(["", "list", "user", "owner", "custom", "reader", "1e309", "-1"])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
items = st.dictionaries(st.sampled_from(FIELD_NAMES), json_values, max_size=8)
pages = st.fixed_dictionaries(
    {"data": st.lists(items, max_size=5) | json_values},
    optional={
        "object": st.just("list") | scalars,
        "has_more": st.booleans() | scalars,
        "last_id": st.text(max_size=10) | scalars,
        "first_id": scalars,
    },
)


def _encode(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """A response body: a fuzzed page, a mutation of one, random bytes or deep nesting."""
    kind = draw(st.sampled_from(["page", "truncated", "flipped", "bytes", "deep", "value"]))
    if kind == "bytes":
        return draw(st.binary(max_size=2048))
    if kind == "deep":
        depth = draw(st.integers(min_value=1, max_value=200_000))
        opener = draw(st.sampled_from(['{"data":', "[", '{"data":[{"id":']))
        closer = {"[": "]", '{"data":': "}", '{"data":[{"id":': "}]}"}[opener]
        return (opener * depth + "1" + closer * depth).encode()
    if kind == "value":
        return _encode(draw(json_values))
    raw = _encode(draw(pages))
    if kind == "truncated":
        return raw[: draw(st.integers(min_value=0, max_value=len(raw)))]
    if kind == "flipped":
        data = bytearray(raw)
        for _ in range(draw(st.integers(min_value=1, max_value=8))):
            pos = draw(st.integers(min_value=0, max_value=len(data) - 1))
            data[pos] = draw(st.integers(min_value=0, max_value=255))
        return bytes(data)
    return raw


def _serve(body: bytes, status: int) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"content-type": "application/json"})

    return httpx.Client(transport=httpx.MockTransport(handler), follow_redirects=False)


def _within_memory_budget(run: Callable[[], object]) -> Iterator[BaseException]:
    """Run, yielding the exception it raised (if any); fail if it allocated past the budget."""
    tracemalloc.start()
    try:
        run()
    except Exception as exc:  # judged by the caller
        yield exc
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < MEMORY_BUDGET, f"{peak} bytes allocated"


@FUZZ
@given(
    listing=st.sampled_from(sorted(LISTINGS)),
    body=bodies(),
    status=st.sampled_from([200, 200, 200, 400, 404, 409, 422, 500]),
)
@example(  # deeper than the json module recurses: a typed error, not RecursionError
    listing="compliance.conversations",
    body=b'{"data":' * 3000 + b"1" + b"}" * 3000,
    status=200,
)
def test_listings_end_in_items_or_typed_errors(listing: str, body: bytes, status: int) -> None:
    with _serve(body, status) as http:
        for exc in _within_memory_budget(lambda: LISTINGS[listing](http)):
            assert isinstance(exc, ConnectorError), f"{listing}: {type(exc).__name__}: {exc}"
            # a typed error never echoes the key it was sent with
            assert ADMIN_KEY not in str(exc) and COMPLIANCE_KEY not in str(exc)


@FUZZ
@given(
    model=st.sampled_from(MODELS),
    item=items | st.dictionaries(st.text(max_size=8), json_values, max_size=4),
)
def test_every_model_parses_or_reports_fields(model: type[models.ApiModel], item: Any) -> None:
    from connectors.client import parse_item

    for exc in _within_memory_budget(lambda: parse_item(model, item, "/fuzz")):
        assert isinstance(exc, ConnectorError), f"{model.__name__}: {type(exc).__name__}"
