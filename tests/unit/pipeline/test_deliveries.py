"""The delivery ledger's bookkeeping (in memory; the Redis one runs in the poison test)."""

from __future__ import annotations

from pipeline.deliveries import Delivery, MemoryDeliveryLedger


def test_a_finished_delivery_is_not_a_death() -> None:
    ledger = MemoryDeliveryLedger()
    first = ledger.begin("batch")
    ledger.working_on("batch", "conversation:f1")
    ledger.working_on("batch", None)
    ledger.end("batch")
    again = ledger.begin("batch")
    assert (first.number, again.number) == (1, 2)
    assert again.deaths == 0 and again.losses == {}


def test_deaths_are_pinned_on_the_item_in_flight() -> None:
    ledger = MemoryDeliveryLedger()
    ledger.begin("batch")
    ledger.working_on("batch", "gpt:f2")  # ... and the worker dies: no end()
    second = ledger.begin("batch")
    assert (second.deaths, second.losses) == (1, {"gpt:f2": 1})
    assert second.poisoned(3) == set()  # one death may be a coincidence
    ledger.working_on("batch", "gpt:f2")
    third = ledger.begin("batch")
    assert third.losses == {"gpt:f2": 2}
    assert third.poisoned(3) == {"gpt:f2"}
    assert third.exhausted(3)


def test_a_death_outside_any_item_exhausts_the_job_but_poisons_nothing() -> None:
    ledger = MemoryDeliveryLedger()
    ledger.begin("task")
    ledger.begin("task")
    third = ledger.begin("task")
    assert third.deaths == 2 and third.poisoned(3) == set()
    assert third.exhausted(3) and not third.exhausted(4)


def test_thresholds_never_drop_below_one_death() -> None:
    delivery = Delivery("job", number=1, deaths=0, losses={})
    assert not delivery.exhausted(2) and delivery.poisoned(2) == set()
    assert Delivery("job", 2, 1, {"x": 1}).poisoned(2) == {"x"}
