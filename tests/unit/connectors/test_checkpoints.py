"""Listing checkpoints in ApiSession.paginate: a retried listing resumes where it stopped."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from connectors.access import ClientOptions
from connectors.checkpoints import MemoryListingCheckpoints, listing_id
from connectors.errors import UpstreamError
from connectors.http import ApiSession
from tests.unit.connectors.conftest import ADMIN_KEY, FakeApi, RecordingBudget, page

ROUTE = "/organization/users"
PAGES = [[{"id": f"user-{p}{i}"} for i in range(3)] for p in range(5)]


def serve(fail_after: int | None) -> tuple[FakeApi, list[int]]:
    """Five pages of three users keyed by cursor; page index ``fail_after`` answers 500."""
    served: list[int] = []
    by_cursor = {None: 0, **{PAGES[i][-1]["id"]: i + 1 for i in range(4)}}

    def handler(request: httpx.Request) -> httpx.Response:
        index = by_cursor[request.url.params.get("after")]
        served.append(index)
        if fail_after is not None and index == fail_after:
            return httpx.Response(500, json={"error": {"message": "boom"}})
        return httpx.Response(200, json=page(PAGES[index], has_more=index < 4))

    return FakeApi({ROUTE: handler}), served


def transport(api: FakeApi, checkpoints: MemoryListingCheckpoints) -> ApiSession:
    return ApiSession(
        tenant_key="acme",
        api="admin",
        base_url="https://admin.test/v1",
        key=SecretStr(ADMIN_KEY),
        budget=RecordingBudget(),
        http=api.client(),
        options=ClientOptions(max_attempts=2),
        sleep=lambda _: None,
        checkpoints=checkpoints,
    )


def test_an_interrupted_listing_resumes_from_its_last_saved_page() -> None:
    checkpoints = MemoryListingCheckpoints()
    api, served = serve(fail_after=3)
    got: list[dict] = []
    with pytest.raises(UpstreamError):
        for item in transport(api, checkpoints).paginate(
            ROUTE, route=ROUTE, group="admin", limit=3
        ):
            got.append(item)
    assert served == [0, 1, 2, 3, 3]  # page 3 failed twice
    assert len(got) == 9

    # The retry (a new transport, as in a retried task) asks only for what is missing.
    api, served = serve(fail_after=None)
    items = list(transport(api, checkpoints).paginate(ROUTE, route=ROUTE, group="admin", limit=3))
    assert served == [3, 4]
    assert items == [item for p in PAGES for item in p]

    # A finished listing is replayed whole, without a request.
    api, served = serve(fail_after=None)
    again = list(transport(api, checkpoints).paginate(ROUTE, route=ROUTE, group="admin", limit=3))
    assert served == [] and again == items


def test_listings_are_told_apart_by_path_and_query_not_by_paging() -> None:
    a = listing_id("/x", [("file_format", "id"), ("limit", 20)])
    assert a == listing_id("/x", [("limit", 100), ("after", "c"), ("file_format", "id")])
    assert a != listing_id("/x", [("file_format", "url")])
    assert a != listing_id("/y", [("file_format", "id")])


def test_a_second_writer_never_interleaves_pages() -> None:
    checkpoints = MemoryListingCheckpoints()
    assert checkpoints.save_page("l", 0, [{"id": "a"}], "a", done=False)
    assert not checkpoints.save_page("l", 0, [{"id": "a"}], "a", done=False)  # a duplicate
    assert checkpoints.save_page("l", 1, [{"id": "b"}], None, done=True)
    assert not checkpoints.save_page("l", 2, [{"id": "c"}], None, done=True)  # after done
    saved = checkpoints.load("l")
    assert saved is not None and saved.done and saved.pages == [[{"id": "a"}], [{"id": "b"}]]
