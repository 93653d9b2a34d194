"""What a scan stage writes before its work: the probe that also beats, and change history
written for all of a scan's watched parts at once (real PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from detectors.changes import WATCHED
from pipeline.common import keep_alive, load_scan, scan_is_active
from schemas.tables import ChangeRecord, PartFingerprint, ScanRun, ScanStatus, utcnow
from store.changes import record_parts
from store.db import session_scope
from tests.integration.pipeline.rows import insert_run, insert_tenant

LONG_AGO = timedelta(hours=2)


def _tenant(slug: str = "acme") -> int:
    return insert_tenant(slug)


def _run(tenant_id: int, status: str) -> int:
    return insert_run(tenant_id, status, LONG_AGO)


def _beat_age(scan_id: int) -> timedelta:
    with session_scope() as session:
        run = session.get(ScanRun, scan_id)
        assert run is not None and run.heartbeat_at is not None
        beat = run.heartbeat_at
    return utcnow() - (beat if beat.tzinfo else beat.replace(tzinfo=utcnow().tzinfo))


def test_the_stage_probe_refreshes_a_running_runs_heartbeat(db: str) -> None:
    running = _run(_tenant("one"), ScanStatus.RUNNING.value)
    queued = _run(_tenant("two"), ScanStatus.QUEUED.value)
    finished = _run(_tenant("three"), ScanStatus.SUCCEEDED.value)

    assert scan_is_active(running) and _beat_age(running) < timedelta(minutes=1)
    assert scan_is_active(queued) and _beat_age(queued) > LONG_AGO / 2  # only running beats
    assert not scan_is_active(finished) and _beat_age(finished) > LONG_AGO / 2
    assert not scan_is_active(finished + 1000)  # no such run


def test_load_scan_leaves_the_heartbeat_to_keep_alive(db: str) -> None:
    tid = _tenant()
    kept, other = _run(tid, ScanStatus.RUNNING.value), _run(_tenant("other"), "running")

    with keep_alive(kept, every=3600):
        run, tenant = load_scan(kept)
        assert run.id == kept and tenant.id == tid
        assert _beat_age(kept) > LONG_AGO / 2  # the block's heartbeat is keep_alive's
        load_scan(other)  # another scan loaded in the block still gets its heartbeat
        assert _beat_age(other) < timedelta(minutes=1)
    load_scan(kept)  # outside the block load_scan beats itself
    assert _beat_age(kept) < timedelta(minutes=1)


def test_the_probes_read_serves_the_stages_first_load_only(db: str) -> None:
    """The probe that starts a stage reads the run and tenant with its heartbeat: the stage's
    first ``load_scan`` under ``keep_alive`` uses that read (no statement of its own); a
    later load, another scan, or a stage after the block ends reads afresh."""
    from sqlalchemy import event

    from schemas.tables import Tenant
    from store.db import get_engine

    tid = _tenant()
    scan, other = _run(tid, ScanStatus.RUNNING.value), _run(_tenant("other"), "running")
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    def rename(name: str) -> None:
        with session_scope() as session:
            tenant = session.get(Tenant, tid)
            assert tenant is not None
            tenant.name = name

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert scan_is_active(scan)
        probed = len(statements)
        with keep_alive(scan, every=3600):
            run, tenant = load_scan(scan)
            assert len(statements) == probed  # the probe's read, no statement
            assert (run.id, run.status, tenant.id) == (scan, "running", tid)
            rename("Second")
            assert load_scan(scan)[1].name == "Second"  # read afresh
            assert load_scan(other)[0].id == other
        assert scan_is_active(scan)
        with keep_alive(other, every=3600):
            assert load_scan(other)[0].id == other  # not the probe's read of another scan
        rename("Third")
        with keep_alive(scan, every=3600):
            assert load_scan(scan)[1].name == "Third"  # the block ended: read afresh
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def _user(uid: str, role: str) -> dict[str, object]:
    return {"id": uid, "email": f"{uid}@acme.test", "role": role}


def _changes() -> list[tuple[int, str, str, str]]:
    with session_scope() as session:
        rows = session.exec(select(ChangeRecord).order_by(ChangeRecord.id)).all()  # type: ignore[arg-type]
        return [(r.scan_id, r.resource_type, r.resource_id, r.field) for r in rows]


def _fingerprint_scans() -> dict[str, int]:
    with session_scope() as session:
        return {row.part: row.scan_id for row in session.exec(select(PartFingerprint))}


def _record(
    tid: int, scan_id: int, users: list[dict[str, object]], invites: list[dict[str, object]]
) -> int:
    with session_scope() as session:
        records = record_parts(
            session,
            tenant_id=tid,
            scan_id=scan_id,
            parts=[(WATCHED["users"], users), (WATCHED["invites"], invites)],
            now=utcnow(),
        )
        return len(records)


def test_record_parts_compares_every_watched_part_of_a_scan_once(db: str) -> None:
    tid = _tenant()
    users = [_user("u1", "reader"), _user("u2", "owner")]
    invites = [{"id": "i1", "email": "new@acme.test", "role": "reader"}]

    assert _record(tid, 1, users, invites) == 0  # the first fetch only sets the baselines
    assert _fingerprint_scans() == {"users": 1, "invites": 1}

    users_later = [_user("u1", "owner")]  # u1 promoted, u2 gone
    assert _record(tid, 2, users_later, []) == 3  # and the invite gone
    assert _fingerprint_scans() == {"users": 2, "invites": 2}
    assert sorted(c[1:] for c in _changes()) == [
        ("invite", "i1", "removed"),
        ("user", "u1", "role"),
        ("user", "u2", "removed"),
    ]
    assert {c[0] for c in _changes()} == {2}

    # A redelivered finish of scan 2, or a late one of scan 1, records nothing and keeps the
    # newest fingerprints.
    assert _record(tid, 2, users_later, []) == 0
    assert _record(tid, 1, users, invites) == 0
    assert _fingerprint_scans() == {"users": 2, "invites": 2} and len(_changes()) == 3
