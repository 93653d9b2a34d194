"""The Celery canvas of one tenant's scan (signatures by task name; no task imports).

    chord( group(casb.fetch_<resource>(scan_id, dlp_fetches=0) for each planned fetch),
           casb.detect_posture(scan_id) | casb.finish_scan(scan_id) )
    errback on the body: casb.finish_scan(scan_id, failed=True)

and for a tenant whose scan lists files for DLP (a workspace and DLP profiles):

    chord( group(casb.fetch_<resource>(scan_id, dlp_fetches=<number of fetches>) ...)
             + casb.dlp_scan lanes and casb.detect_posture, added as the fetches end,
           casb.finish_scan(scan_id, dlp=True) )

Every signature is immutable and carries the scan id (a fetch also the count of fetches
that end before a DLP scan's detection starts): tenant, keys and data are looked up by the
worker. The chord needs Celery >= 5.7 with the Redis result backend
(atomic, duplicate-safe header counting, and ``add_to_chord``); fetch tasks return tiny
summaries.

DLP: ``fetch_gpts``/``fetch_files``/``fetch_conversations`` leave file listings under
``casb:scan:{scan_id}:{gpt_files|project_files|conversation_files}`` and, as each ends, plan
its files and add DLP lanes (``casb.dlp_scan`` tasks) to this chord (tasks/dlp.py), so
downloads start while the other fetches still run and the body waits for every batch; the
fetch that ends last adds ``casb.detect_posture``, so detection runs beside the batches.
The body of a DLP scan is one task: ``casb.finish_scan(scan_id, dlp=True)`` ends the DLP stage
(``pipeline.dlp.finalize_dlp``) and then the run, one message and one task fewer per scan
than a chain of the two (``casb.dlp_finalize`` stays for canvases built that way).
"""

from __future__ import annotations

from collections.abc import Sequence

from celery import Celery, chain, chord, group
from celery.canvas import Signature

from schemas.stages import FETCH_RESOURCES, fetch_task_name
from workers.celeryconfig import DETECT_POSTURE, FINISH_SCAN, ROUTES

FETCH_TASK_BY_RESOURCE: dict[str, str] = {r: fetch_task_name(r) for r in FETCH_RESOURCES}


def _sig(app: Celery, name: str, *args: object, **kwargs: object) -> Signature:
    return app.signature(name, args=args, kwargs=kwargs, immutable=True, queue=ROUTES[name])


def build_scan_canvas(app: Celery, scan_id: int, fetches: Sequence[str]) -> Signature:
    """The scan's canvas; raises KeyError for an unknown fetch resource."""
    if not fetches:
        raise ValueError("a scan needs at least one fetch")
    dlp = has_dlp_stage(fetches)
    # Each fetch is told the scan's shape (how many fetches end before detection joins a DLP
    # scan's chord, 0 without the DLP stage), so none has to read the run's plan back.
    dlp_fetches = len(fetches) if dlp else 0
    header = group(
        [
            _sig(app, FETCH_TASK_BY_RESOURCE[name], scan_id, dlp_fetches=dlp_fetches)
            for name in fetches
        ]
    )
    if dlp:
        # Detection joins the chord when the last fetch ends (tasks/dlp.py), so it runs
        # beside the DLP batches: the body is only what must wait for all of them, the DLP
        # stage's end and the run's, in one task.
        body: Signature = _sig(app, FINISH_SCAN, scan_id, dlp=True)
    else:
        body = chain(_sig(app, DETECT_POSTURE, scan_id), _sig(app, FINISH_SCAN, scan_id))
    body.on_error(_sig(app, FINISH_SCAN, scan_id, failed=True))
    return chord(header, body)


def has_dlp_stage(fetches: Sequence[str]) -> bool:
    """A scan with the DLP stage: planned only with the ``files`` or ``conversations`` fetch,
    i.e. for tenants with a workspace and DLP profiles."""
    return "files" in fetches or "conversations" in fetches
