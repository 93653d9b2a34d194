"""The delivery guard of tasks that can exhaust a worker (pipeline.deliveries).

``guarded_delivery(task)`` counts the task's deliveries by task id in the ledger (Redis in
the fleet) and tells whether earlier ones died in their worker ``max_deliveries - 1``
times; the task then records a ``worker_lost`` failure instead of running again. DLP
batches use the ledger per file instead (``pipeline.dlp.run_dlp_batch``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from celery import Task

from core.settings import get_settings
from pipeline.deliveries import Delivery, WorkerLost
from pipeline.runtime import get_runtime


@contextmanager
def guarded_delivery(task: Task) -> Iterator[Delivery | None]:
    """The task's ``Delivery`` while it runs (None when it has no id: called directly)."""
    task_id = getattr(task.request, "id", None)
    if not task_id:
        yield None
        return
    ledger = get_runtime().deliveries
    job = f"task:{task.name}:{task_id}"
    delivery = ledger.begin(job)
    try:
        yield delivery
    finally:
        ledger.end(job)


def worker_lost(delivery: Delivery | None, what: str) -> WorkerLost | None:
    """The error to record when this delivery must not run the task again, else None."""
    if delivery is None or not delivery.exhausted(get_settings().max_deliveries):
        return None
    return WorkerLost(f"{what}: its worker died {delivery.deaths} times running it")
