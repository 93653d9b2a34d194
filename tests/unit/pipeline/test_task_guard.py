"""tasks.guard: a task whose worker died on it N-1 times is given up on delivery N."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from pipeline.deliveries import WorkerLost
from tasks.guard import guarded_delivery, worker_lost


@pytest.fixture
def embedded() -> Iterator[None]:
    from pipeline.runtime import use_embedded

    use_embedded(True)
    yield
    use_embedded(False)


def task(task_id: str | None) -> Any:
    return SimpleNamespace(name="casb.fetch_users", request=SimpleNamespace(id=task_id))


def test_a_task_dying_twice_is_given_up_on_its_third_delivery(embedded: None) -> None:
    from pipeline.runtime import get_runtime

    ledger = get_runtime().deliveries
    job = "task:casb.fetch_users:abc"
    ledger.begin(job)  # delivery 1: the worker died (never ended)
    ledger.begin(job)  # delivery 2: died too
    with guarded_delivery(task("abc")) as delivery:
        assert delivery is not None and delivery.number == 3
        lost = worker_lost(delivery, "fetch of users")
    assert isinstance(lost, WorkerLost)
    assert "died 2 times" in str(lost)


def test_finished_deliveries_and_retries_never_count(embedded: None) -> None:
    for _ in range(5):  # e.g. rate-limit retries: same task id, each delivery ends
        with guarded_delivery(task("xyz")) as delivery:
            assert worker_lost(delivery, "fetch") is None
    with pytest.raises(RuntimeError), guarded_delivery(task("xyz")):
        raise RuntimeError("a task error is not a worker death")
    with guarded_delivery(task("xyz")) as delivery:
        assert delivery is not None and delivery.deaths == 0


def test_a_direct_call_without_a_task_id_is_not_guarded(embedded: None) -> None:
    with guarded_delivery(task(None)) as delivery:
        assert delivery is None and worker_lost(delivery, "x") is None


def test_a_dlp_scans_finish_gives_up_a_finalization_its_worker_keeps_dying_on(
    embedded: None,
) -> None:
    """``casb.finish_scan(scan_id, dlp=True)`` ends the DLP stage under the same guard the
    separate finalize task had: on the delivery after N-1 deaths it raises ``WorkerLost``
    without finalizing (and the canvas's errback finishes the run as failed)."""
    from pipeline.runtime import get_runtime
    from tasks.finish import finish_scan

    ledger = get_runtime().deliveries
    ledger.begin("task:casb.finish_scan:fin-1")
    ledger.begin("task:casb.finish_scan:fin-1")
    outcome = finish_scan.apply(args=[7], kwargs={"dlp": True}, task_id="fin-1")
    assert isinstance(outcome.result, WorkerLost)
    assert "DLP finalize: its worker died 2 times" in str(outcome.result)
