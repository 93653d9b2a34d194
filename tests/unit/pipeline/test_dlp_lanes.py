"""``tasks.dlp.dlp_chord``: a scan's DLP batches in at most N lanes (per-tenant fairness)."""

from __future__ import annotations

from typing import Any

import pytest

from workers.celeryconfig import DLP_FINALIZE, DLP_SCAN


def _lanes(sig: Any) -> list[list[tuple[str, tuple[Any, ...]]]]:
    """Each header element as the list of (task, args) it runs in order."""
    out = []
    for element in sig.tasks:
        steps = element.tasks if hasattr(element, "tasks") else [element]
        out.append([(step.task, tuple(step.args)) for step in steps])
    return out


def test_batches_are_split_round_robin_over_at_most_n_lanes() -> None:
    from tasks.dlp import dlp_chord

    keys = [f"casb:scan:7:dlp_batch_{i}" for i in range(10)]
    sig = dlp_chord(7, keys, lanes=4)
    assert sig.body.task == DLP_FINALIZE and tuple(sig.body.args) == (7,)
    lanes = _lanes(sig)
    assert len(lanes) == 4
    assert [len(lane) for lane in lanes] == [3, 3, 2, 2]
    assert all(task == DLP_SCAN for lane in lanes for task, _ in lane)
    seen = [args[1] for lane in lanes for _, args in lane]
    assert sorted(seen) == sorted(keys)  # every batch once, none twice
    assert lanes[0] == [
        (DLP_SCAN, (7, keys[0])),
        (DLP_SCAN, (7, keys[4])),
        (DLP_SCAN, (7, keys[8])),
    ]
    # Immutable steps: a batch never receives the previous batch's result as an argument.
    assert all(
        step.immutable for element in sig.tasks for step in getattr(element, "tasks", [element])
    )


def test_fewer_batches_than_lanes_and_bad_input() -> None:
    from tasks.dlp import dlp_chord

    sig = dlp_chord(3, ["a", "b"], lanes=8)
    assert _lanes(sig) == [[(DLP_SCAN, (3, "a"))], [(DLP_SCAN, (3, "b"))]]
    assert len(_lanes(dlp_chord(3, ["a", "b", "c"], lanes=1))[0]) == 3
    with pytest.raises(ValueError):
        dlp_chord(3, [], lanes=4)


def test_the_work_queue_keeps_at_most_n_lanes_and_strands_no_batch() -> None:
    from pipeline.dlp_lanes import MemoryDlpLanes

    check_lanes_contract(MemoryDlpLanes())


def check_lanes_contract(lanes: Any) -> None:
    """``pipeline.dlp_lanes``: listings queue batches as they end; lanes take them one at
    a time and end on an empty queue; a redelivered claim gets the same answer (also run
    on Redis by tests/integration/pipeline/test_snapshot_store.py)."""
    first = lanes.enqueue(7, ["p0", "p1", "p2"], "plan:files", 2)
    assert first.keys == ("p0", "p1") and not first.sent  # two lanes start
    assert lanes.enqueue(7, ["x"], "plan:files", 2) == first  # a redelivered plan
    lanes.mark_sent(7, "plan:files")
    assert lanes.enqueue(7, [], "plan:files", 2).sent
    assert lanes.enqueue(7, ["g0"], "plan:gpts", 2).keys == ()  # both lanes busy: queued
    assert lanes.next_batch(7, "lane:a").keys == ("p2",)
    assert lanes.next_batch(7, "lane:a").keys == ("p2",)  # redelivered lane: same batch
    assert lanes.next_batch(7, "lane:b").keys == ("g0",)
    assert lanes.next_batch(7, "lane:c").keys == ()  # queue empty: this lane ends
    # A listing that ends now finds a free lane and starts it; nothing waits in the queue.
    assert lanes.enqueue(7, ["c0", "c1"], "plan:conversations", 2).keys == ("c0",)
    assert lanes.next_batch(7, "lane:d").keys == ("c1",)
    assert lanes.next_batch(7, "lane:e").keys == ()
    assert lanes.next_batch(7, "lane:f").keys == ()
    # Another scan's queue is its own.
    assert lanes.enqueue(8, ["z"], "plan:files", 1).keys == ("z",)
    # Detection is claimed once, by the fetch that completes the scan's set of fetches;
    # a redelivered fetch sees the claim (sent or not), never a second one.
    assert lanes.fetched(7, "users", 3).keys == ()
    assert lanes.fetched(7, "users", 3).keys == ()  # the same fetch again
    assert lanes.fetched(7, "gpts", 3).keys == ()
    assert lanes.fetched(7, "files", 3).keys == ("detect",)
    lanes.mark_sent(7, "detect")
    assert lanes.fetched(7, "files", 3).sent
    assert lanes.fetched(8, "users", 1).keys == ("detect",)
