"""Canvas construction, fetch planning and the Celery configuration contract."""

from __future__ import annotations

import json

import pytest
from celery import Celery
from celery.canvas import _chain, chord

from pipeline.fetchers import FETCHES, plan_fetches
from schemas.stages import FETCH_RESOURCES
from tasks.canvas import FETCH_TASK_BY_RESOURCE, build_scan_canvas
from workers import celeryconfig as cfg


@pytest.fixture
def app() -> Celery:
    return Celery("unit", set_as_current=False)


def test_canvas_is_a_chord_of_fetches_into_detect_then_finish(app: Celery) -> None:
    fetches = plan_fetches(has_workspace=True, dlp_enabled=False)
    canvas = build_scan_canvas(app, 42, fetches)
    assert isinstance(canvas, chord)
    header = list(canvas.tasks)
    assert [s.task for s in header] == [FETCH_TASK_BY_RESOURCE[f] for f in fetches]
    for sig in header:
        assert sig.args == (42,) and sig.immutable and sig.options["queue"] == "fetch"
        assert sig.kwargs == {"dlp_fetches": 0}  # no DLP stage: detection is in the body
    body = canvas.body
    assert isinstance(body, _chain)
    assert [s.task for s in body.tasks] == ["casb.detect_posture", "casb.finish_scan"]
    assert [s.options["queue"] for s in body.tasks] == ["detect", "scans"]
    errbacks = body.options["link_error"]
    assert errbacks[0]["task"] == "casb.finish_scan"
    assert errbacks[0]["kwargs"] == {"failed": True} and errbacks[0]["args"] == (42,)
    # Everything a message would carry is plain JSON holding ids only.
    encoded = json.dumps(canvas, default=str)
    assert "sk-" not in encoded


def test_a_dlp_tenants_canvas_ends_with_finalize_and_plans_nothing_up_front(
    app: Celery,
) -> None:
    """The DLP batches join the chord from the listing fetches as each ends, and detection
    from the last fetch (tasks/dlp.py): the body holds no planning step and no detection,
    only what waits for all of them."""
    fetches = plan_fetches(has_workspace=True, dlp_enabled=True)
    assert {"gpts", "files", "conversations"} <= set(fetches)
    canvas = build_scan_canvas(app, 42, fetches)
    assert [s.task for s in canvas.tasks] == [FETCH_TASK_BY_RESOURCE[f] for f in fetches]
    # Each fetch knows how many fetches end before detection joins (no read of the plan).
    assert {s.kwargs["dlp_fetches"] for s in canvas.tasks} == {len(fetches)}
    # The body is one task: the DLP stage's end, then the run's.
    body = canvas.body
    assert (body.task, body.options["queue"]) == ("casb.finish_scan", "scans")
    assert body.args == (42,) and body.kwargs == {"dlp": True} and body.immutable
    assert body.options["link_error"][0]["kwargs"] == {"failed": True}


def test_canvas_rejects_empty_or_unknown_fetches(app: Celery) -> None:
    with pytest.raises(ValueError):
        build_scan_canvas(app, 1, [])
    with pytest.raises(KeyError):
        build_scan_canvas(app, 1, ["nonsense"])


def test_fetch_plan_depends_on_workspace_and_dlp() -> None:
    admin_only = ["users", "invites", "admin_keys", "project_keys"]
    assert plan_fetches(has_workspace=False, dlp_enabled=False) == admin_only
    assert plan_fetches(has_workspace=False, dlp_enabled=True) == admin_only
    workspace = [*admin_only, "gpts", "chatgpt_logins"]
    assert plan_fetches(has_workspace=True, dlp_enabled=False) == workspace
    dlp = [*admin_only, "gpts", "files", "conversations", "chatgpt_logins"]
    assert plan_fetches(has_workspace=True, dlp_enabled=True) == dlp
    assert set(FETCHES) == set(FETCH_TASK_BY_RESOURCE)


def test_fetch_specs_tasks_and_routes_derive_from_the_one_resource_list() -> None:
    from tasks.fetch import FETCH_TASKS
    from workers.celery_app import app

    assert list(FETCHES) == list(FETCH_RESOURCES)
    assert list(FETCH_TASKS) == list(FETCH_RESOURCES)
    for resource in FETCH_RESOURCES:
        name = f"casb.fetch_{resource}"
        assert FETCH_TASK_BY_RESOURCE[resource] == name
        assert FETCH_TASKS[resource].name == name and app.tasks[name].name == name
        assert cfg.ROUTES[name] == "fetch" and name in cfg.TIME_LIMITS


def test_every_task_is_routed_to_a_declared_queue_with_limits() -> None:
    declared = {q.name for q in cfg.task_queues}
    assert declared == {"scans", "fetch", "detect", "dlp", "notify"}
    assert cfg.task_create_missing_queues is False
    names = {
        "casb.dispatch_due_scans", "casb.scan_tenant", "casb.fetch_users", "casb.fetch_invites",
        "casb.fetch_admin_keys", "casb.fetch_project_keys", "casb.fetch_gpts",
        "casb.fetch_files", "casb.fetch_conversations", "casb.fetch_chatgpt_logins",
        "casb.detect_posture", "casb.finish_scan", "casb.dlp_scan",
        "casb.dlp_plan", "casb.dlp_finalize", "casb.reap_stale_scans", "casb.prune_retention",
        "casb.deliver_alert", "casb.retry_alerts",
    }  # fmt: skip
    assert set(cfg.task_routes) == names
    assert {r["queue"] for r in cfg.task_routes.values()} <= declared
    assert "*" not in cfg.task_annotations and set(cfg.task_annotations) == names
    for limits in cfg.task_annotations.values():
        assert 0 < limits["soft_time_limit"] < limits["time_limit"]
    assert cfg.broker_transport_options["visibility_timeout"] > cfg.LONGEST_TASK_SECONDS
    assert cfg.accept_content == ["json"] and cfg.task_serializer == "json"
    assert cfg.task_acks_late and cfg.task_reject_on_worker_lost
    assert cfg.worker_prefetch_multiplier == 1
    assert cfg.worker_cancel_long_running_tasks_on_connection_loss is True
    for entry in cfg.beat_schedule.values():
        assert entry["options"]["expires"] < entry["schedule"]
    assert {e["task"] for e in cfg.beat_schedule.values()} == {
        "casb.dispatch_due_scans",
        "casb.reap_stale_scans",
        "casb.prune_retention",
        "casb.retry_alerts",
    }


def test_registered_tasks_match_the_routes() -> None:
    from workers.celery_app import app, load_tasks

    load_tasks()
    registered = {name for name in app.tasks if name.startswith("casb.")}
    assert registered == set(cfg.task_routes)
    assert all(app.tasks[n].trail is False for n in registered)
    assert app.tasks["casb.fetch_users"].ignore_result is False  # chord header
    assert app.tasks["casb.dispatch_due_scans"].acks_late is False
    # The per-kind limits reach the registered tasks (annotations are applied by name).
    for name in registered:
        soft, hard = cfg.TIME_LIMITS[name]
        assert (app.tasks[name].soft_time_limit, app.tasks[name].time_limit) == (soft, hard)
    assert app.tasks["casb.dlp_scan"].time_limit > app.tasks["casb.fetch_users"].time_limit
    assert app.tasks["casb.fetch_users"].time_limit > app.tasks["casb.scan_tenant"].time_limit


def test_a_route_to_an_undeclared_queue_fails_instead_of_creating_it() -> None:
    from celery.exceptions import QueueNotFound

    from workers.celery_app import app

    assert app.conf.task_create_missing_queues is False
    with pytest.raises(QueueNotFound):
        app.amqp.router.route({"queue": "fecth"}, "casb.fetch_users")
    routed = app.amqp.router.route({}, "casb.dlp_scan")
    assert routed["queue"].name == "dlp"


def test_app_is_found_the_way_the_celery_command_finds_it() -> None:
    from celery.app.utils import find_app

    found = find_app("workers")
    from workers.celery_app import app

    assert found is app
