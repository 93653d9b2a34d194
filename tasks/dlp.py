"""DLP tasks: plan the batches, scan each batch (queue ``dlp``), finalize the stage.

``casb.dlp_plan`` and ``casb.dlp_finalize`` are cheap bookkeeping routed to the ``detect``
queue, so they never wait behind other tenants' DLP backlog; only ``casb.dlp_scan`` runs on
``dlp``.

The scan canvas runs ``casb.dlp_plan(scan_id)`` between detect and finish. It cuts the
file listings into small batches (``settings.dlp_batch_size``) and replaces itself with

    chord( group(chain(casb.dlp_scan(scan_id, batch_key), ...) per lane),
           casb.dlp_finalize(scan_id) )

(at most ``settings.dlp_max_in_flight_per_tenant`` lanes, see ``dlp_chord``), followed by
the rest of the scan's chain (``casb.finish_scan``), so the batches spread over the dlp
workers, one tenant never floods the queue, and the scan finishes only after all of them.
Arguments are the scan id and a snapshot key: no file list, no content, no credential ever
rides in a message. ``casb.dlp_scan`` records a failing file or batch in its result instead
of raising, so the chord body always runs and the stage reports a partial result; a file
its worker keeps dying on is skipped as ``worker_lost`` after ``CASB_MAX_DELIVERIES``
deliveries (``pipeline.deliveries``), and the other tasks here give up the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from celery import Task, chain, chord, group
from celery.canvas import Signature

from core.settings import get_settings
from pipeline.dlp import finalize_dlp, plan_dlp, run_dlp_batch
from schemas.stages import DlpPlanResult, DlpStageResult
from tasks.guard import guarded_delivery, worker_lost
from workers.celery_app import app
from workers.celeryconfig import DLP_FINALIZE, DLP_PLAN, DLP_SCAN, ROUTES


def _sig(name: str, *args: object) -> Signature:
    return app.signature(name, args=args, immutable=True, queue=ROUTES[name])


@app.task(name=DLP_PLAN, bind=True, acks_late=True, scan_stage=True)
def dlp_plan(self: Task, scan_id: int, **_: Any) -> DlpPlanResult | DlpStageResult:
    with guarded_delivery(self) as delivery:
        lost = worker_lost(delivery, "DLP planning")
        if lost is not None:
            raise lost
        return _plan(self, scan_id)


def _plan(self: Task, scan_id: int) -> DlpPlanResult | DlpStageResult:
    planned = plan_dlp(int(scan_id))
    keys = planned.get("batches", [])
    if planned["status"] != "planned":
        return planned
    if not keys:  # nothing listed: still resolve files gone from the listings
        return finalize_dlp(int(scan_id))
    lanes = get_settings().dlp_max_in_flight_per_tenant
    return self.replace(dlp_chord(int(scan_id), keys, lanes))


def dlp_chord(scan_id: int, batch_keys: Sequence[str], lanes: int) -> Signature:
    """The batches in at most ``lanes`` chains under one chord, then ``casb.dlp_finalize``.

    Fairness: a chain sends its next batch only when the previous one is done, so a tenant
    with 800 batches has at most ``lanes`` of them queued or running at any time, and a
    small tenant's batches wait behind those few instead of behind the whole backlog. Each
    batch is still its own short task (time limit, redelivery and cache per batch).
    """
    if not batch_keys:
        raise ValueError("a DLP chord needs at least one batch")
    n = max(1, min(lanes, len(batch_keys)))
    header: list[Signature] = []
    for lane in range(n):
        steps = [_sig(DLP_SCAN, scan_id, key) for key in batch_keys[lane::n]]
        header.append(steps[0] if len(steps) == 1 else chain(*steps))
    return chord(group(header), _sig(DLP_FINALIZE, scan_id))


@app.task(name=DLP_SCAN, acks_late=True, ignore_result=False, scan_stage=True)
def dlp_scan(scan_id: int, batch_key: str, **_: Any) -> DlpStageResult:
    """Scan one batch of files (a chord header task: its small summary is its result)."""
    return run_dlp_batch(int(scan_id), str(batch_key))


@app.task(name=DLP_FINALIZE, bind=True, acks_late=True, scan_stage=True)
def dlp_finalize(self: Task, scan_id: int, **_: Any) -> DlpStageResult:
    with guarded_delivery(self) as delivery:
        lost = worker_lost(delivery, "DLP finalize")
        if lost is not None:
            raise lost
        return finalize_dlp(int(scan_id))
