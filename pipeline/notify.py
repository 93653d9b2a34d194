"""Alert delivery: plan a finished scan's deliveries, POST them, retry the due ones.

``plan_alerts`` runs when the scan's findings are committed (``run_finish``); ``deliver``
makes one attempt of one delivery row (the ``casb.deliver_alert`` task on the ``notify``
queue, or in-process for ``--inline`` scans); ``retry_due`` re-sends the deliveries whose
``next_attempt_at`` has come (beat's ``casb.retry_alerts``). docs/operations.md, "Alert
destinations", tells the retry story.

Neither the signing secret nor the URL (a Slack webhook URL is itself a credential) is
logged: log lines name the destination and the delivery id only.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import httpx

from core.settings import get_settings
from exports.alerts import signature
from schemas.tables import AlertDestination, Tenant, utcnow
from store.alerts import (
    AttemptOutcome,
    claim_delivery,
    destination_secret,
    due_deliveries,
    plan_scan_alerts,
    record_attempt,
)
from store.db import session_scope

log = logging.getLogger("casb.notify")

USER_AGENT = "openai-casb-alerts/1"


def plan_alerts(session: Any, tenant_id: int, scan_id: int) -> list[int]:
    """The delivery rows a finished scan owes (in the caller's transaction)."""
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        return []
    return plan_scan_alerts(session, tenant, scan_id)


def _post(url: str, body: bytes, headers: dict[str, str]) -> AttemptOutcome:
    timeout = get_settings().alert_timeout_seconds
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
            response = client.post(url, content=body, headers=headers)
    except httpx.TimeoutException:
        return AttemptOutcome(error="timeout")
    except httpx.TransportError as exc:
        return AttemptOutcome(error=f"transport error ({type(exc).__name__})")
    return AttemptOutcome(
        status_code=response.status_code,
        error=None if response.is_success else f"HTTP {response.status_code}",
        retry_after=response.headers.get("retry-after"),
    )


def deliver(delivery_row_id: int) -> dict[str, Any]:
    """One attempt of one delivery, if it is still pending and due; returns its new state.

    The row stays locked (``FOR UPDATE SKIP LOCKED``) during the POST, so the task and the
    retry sweep never send the same delivery at the same time.
    """
    settings = get_settings()
    with session_scope() as session:
        now = utcnow()
        row = claim_delivery(session, delivery_row_id, now)
        if row is None:
            return {"delivery": delivery_row_id, "status": "not_due"}
        destination = session.get(AlertDestination, row.destination_id)
        if destination is None:
            return {"delivery": delivery_row_id, "status": "no_destination"}
        body = row.body.encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Casb-Delivery": row.delivery_id,
        }
        secret = destination_secret(destination, settings.fernet())
        if secret is not None:
            headers["X-Casb-Signature"] = signature(secret.get_secret_value(), body)
        outcome = _post(destination.url, body, headers)
        status = record_attempt(
            session,
            row,
            outcome,
            base=settings.alert_retry_base_seconds,
            cap=settings.alert_retry_max_delay_seconds,
            window=timedelta(hours=settings.alert_retry_window_hours),
            now=utcnow(),
        )
        log.info(
            "alert %s to destination %s (attempt %d): %s",
            row.delivery_id,
            destination.name,
            row.attempts,
            outcome.error or f"HTTP {outcome.status_code}",
        )
        return {"delivery": delivery_row_id, "status": status, "attempts": row.attempts}


def retry_due(limit: int = 500) -> list[int]:
    """The delivery rows due for another attempt (the beat sweep sends one task each)."""
    with session_scope() as session:
        return due_deliveries(session, utcnow(), limit)
