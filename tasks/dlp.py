"""DLP tasks: scan the batches (queue ``dlp``) as the listings arrive, finalize the stage.

The scan canvas (tasks/canvas.py) is ``chord(fetches, finish_scan(dlp=True))``; the fetch
that ends last adds ``casb.detect_posture`` to the chord (``start_detect_when_fetched``).
Each listing fetch (``gpts``, ``files``, ``conversations``) plans its own files as soon as
its listing is stored (``start_dlp_lanes``): the batches go on the scan's DLP queue
(``pipeline.dlp_lanes``) and up to ``settings.dlp_max_in_flight_per_tenant`` lanes start,
each a ``casb.dlp_scan(scan_id, batch_key, lane=True)`` added to the scan's chord. A lane
scans its batch, takes the next key off the queue and adds that as the next task of the
chord, or ends when the queue is empty (a later listing starts lanes again). So the first
downloads begin while the other fetches are still listing, one tenant never has more than
its lanes of DLP tasks queued or running, a small tenant's batches wait behind those few
instead of behind the whole backlog, detection runs beside the lanes, and the chord's body
(``casb.finish_scan``: the stage's finalization, then the run's) runs only after every fetch,
detection and every batch.

Arguments are the scan id and a snapshot key: no file list, no content, no credential ever
rides in a message. ``casb.dlp_scan`` records a failing file or batch in its result instead
of raising, so the chord body always runs and the stage reports a partial result; a file
its worker keeps dying on is skipped as ``worker_lost`` after ``CASB_MAX_DELIVERIES``
deliveries (``pipeline.deliveries``), and the other tasks here give up the same way.
``casb.dlp_plan`` (plan everything after detection, then a chord of lanes) stays for a
scan whose canvas was built that way, as does ``casb.dlp_finalize`` (the body before
``casb.finish_scan`` finalized the stage itself); both are cheap bookkeeping on the
``detect`` queue.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from celery import Task, chain, chord, group
from celery.canvas import Signature

from core.settings import get_settings
from pipeline.dlp import (
    dlp_scan_fetches,
    finalize_dlp,
    plan_dlp,
    plan_dlp_fetch,
    run_dlp_batch,
)
from pipeline.dlp_lanes import DETECT, Claim
from pipeline.runtime import get_runtime
from schemas.stages import DlpPlanResult, DlpStageResult
from schemas.tables import ScanRun, Tenant
from tasks.guard import guarded_delivery, worker_lost
from workers.celery_app import app
from workers.celeryconfig import DETECT_POSTURE, DLP_FINALIZE, DLP_PLAN, DLP_SCAN, ROUTES


def _sig(name: str, *args: object, **kwargs: object) -> Signature:
    return app.signature(name, args=args, kwargs=kwargs, immutable=True, queue=ROUTES[name])


def start_dlp_lanes(
    task: Task, scan_id: int, resource: str, scan: tuple[ScanRun, Tenant] | None = None
) -> int:
    """After listing fetch ``resource`` (a task of the scan's chord): plan its files and
    start lanes on them. Returns the number of lanes started (0 outside a chord).
    ``scan``: the run and tenant the fetch loaded, if it did."""
    if not task.request.chord:
        return 0
    planned = plan_dlp_fetch(scan_id, resource, scan)
    keys = planned.get("batches") or []
    if planned["status"] != "planned" or not keys:
        return 0
    claim_id = f"plan:{resource}"
    lanes = get_settings().dlp_max_in_flight_per_tenant
    claim = get_runtime().lanes.enqueue(scan_id, keys, claim_id, max(1, lanes))
    return _send_lanes(task, scan_id, claim, claim_id)


def start_detect_when_fetched(
    task: Task, scan_id: int, resource: str, dlp_fetches: int | None = None
) -> bool:
    """In a DLP scan, the fetch that ends last adds ``casb.detect_posture`` to the chord
    (its body finalizes the DLP stage and the run): detection runs beside the DLP lanes, so posture
    findings do not wait for every download. True when this call sent it.

    ``dlp_fetches``: the scan's number of fetches as its canvas planned them (0: no DLP
    stage); None reads it from the run's plan."""
    if not task.request.chord:
        return False
    if dlp_fetches is None:
        dlp_fetches = len(dlp_scan_fetches(scan_id) or ())
    if not dlp_fetches:
        return False
    lanes = get_runtime().lanes
    claim = lanes.fetched(scan_id, resource, dlp_fetches)
    if claim.sent or not claim.keys:
        return False
    task.add_to_chord(_sig(DETECT_POSTURE, scan_id))
    lanes.mark_sent(scan_id, DETECT)
    return True


def _send_lanes(task: Task, scan_id: int, claim: Claim, claim_id: str) -> int:
    """Each claimed batch as a lane task of the chord ``task`` belongs to (once per claim)."""
    if claim.sent or not claim.keys:
        return 0
    for key in claim.keys:
        task.add_to_chord(_sig(DLP_SCAN, scan_id, key, lane=True))
    get_runtime().lanes.mark_sent(scan_id, claim_id)
    return len(claim.keys)


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


@app.task(name=DLP_SCAN, bind=True, acks_late=True, ignore_result=False, scan_stage=True)
def dlp_scan(
    self: Task, scan_id: int, batch_key: str, lane: bool = False, **_: Any
) -> DlpStageResult:
    """Scan one batch of files (a chord header task: its small summary is its result).

    A lane (``lane=True``) then hands its place to the next queued batch of the scan, or
    gives it up when the queue is empty. The hand-over is claimed under this task's id, so a
    redelivered lane scans its (cached) batch again but never takes a second one."""
    result = run_dlp_batch(int(scan_id), str(batch_key))
    if lane and self.request.chord:
        claim_id = f"lane:{self.request.id}"
        claim = get_runtime().lanes.next_batch(int(scan_id), claim_id)
        _send_lanes(self, int(scan_id), claim, claim_id)
    return result


@app.task(name=DLP_FINALIZE, bind=True, acks_late=True, scan_stage=True)
def dlp_finalize(self: Task, scan_id: int, **_: Any) -> DlpStageResult:
    with guarded_delivery(self) as delivery:
        lost = worker_lost(delivery, "DLP finalize")
        if lost is not None:
            raise lost
        return finalize_dlp(int(scan_id))
