"""``casb.deliver_alert(delivery_row_id)`` and ``casb.retry_alerts()`` (queue ``notify``).

Thin wrappers over pipeline/notify.py. A delivery task carries the delivery row's id only:
URL, secret and body are read by the worker. The beat sweep sends one delivery task per
pending delivery whose next attempt is due.
"""

from __future__ import annotations

from typing import Any

from pipeline.notify import deliver, retry_due
from workers.celery_app import app
from workers.celeryconfig import DELIVER_ALERT, NOTIFY, RETRY_ALERTS


@app.task(name=DELIVER_ALERT, acks_late=True)
def deliver_alert(delivery_row_id: int, **_: Any) -> dict[str, Any]:
    return deliver(int(delivery_row_id))


@app.task(name=RETRY_ALERTS, acks_late=False, reject_on_worker_lost=False)
def retry_alerts(**_: Any) -> dict[str, Any]:
    due = retry_due()
    for delivery in due:
        app.send_task(DELIVER_ALERT, args=[delivery], queue=NOTIFY)
    return {"due": len(due)}
