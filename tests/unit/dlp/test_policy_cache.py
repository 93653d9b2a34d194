"""compile_policy: one compile per profile set and process, however many threads ask at once;
profile_set_version: the same answer whether computed or remembered."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from detectors.dlp import matcher
from detectors.dlp.profiles import (
    CREDENTIALS,
    FINANCIAL,
    Profile,
    _profile_set_version,
    profile_set_version,
)


def test_threads_that_miss_together_compile_once(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[tuple[Profile, ...]] = []
    real = matcher.Policy

    def slow_policy(profiles: tuple[Profile, ...], engine: str) -> Any:
        built.append(profiles)
        time.sleep(0.2)  # long enough that every thread arrives while it compiles
        return real(profiles, engine)

    monkeypatch.setattr(matcher, "Policy", slow_policy)
    monkeypatch.setattr(matcher, "_CACHE", {})
    barrier = threading.Barrier(8)
    got: list[Any] = []

    def ask() -> None:
        barrier.wait()
        got.append(matcher.compile_policy([CREDENTIALS]))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(built) == 1
    assert len(got) == 8 and all(p is got[0] for p in got)


def test_a_remembered_version_equals_a_computed_one() -> None:
    computed = _profile_set_version((CREDENTIALS, FINANCIAL))
    assert profile_set_version([CREDENTIALS, FINANCIAL]) == computed
    assert profile_set_version([FINANCIAL, CREDENTIALS]) == computed  # order-independent
    assert profile_set_version([CREDENTIALS]) != computed
