"""Helpers of detectors.base: strict ages, ISO timestamps, masking, detector validation."""

from __future__ import annotations

import pytest

from detectors.base import Detector, age_days, iso, mask_redacted, older_than
from detectors.gpt_public_link import rule
from schemas.catalog import BY_KEY


def test_older_than_is_strict_and_ignores_unknown_or_future() -> None:
    now = 1_000_000_000
    assert not older_than(now, now - 90 * 86_400, 90)
    assert older_than(now, now - 90 * 86_400 - 1, 90)
    assert not older_than(now, None, 90)
    assert not older_than(now, now + 5, 0 + 1)


def test_age_days_rounds_for_evidence() -> None:
    assert age_days(10 * 86_400, 0) == 10.0
    assert age_days(86_400 * 1.26, 0) == 1.3
    assert age_days(5, None) is None


def test_iso_handles_int_and_float_seconds() -> None:
    assert iso(0) == "1970-01-01T00:00:00Z"
    assert iso(1692158096.299021) == "2023-08-16T03:54:56Z"
    assert iso(None) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("sk-admin...def", "sk-admin...def"),
        ("sk-abc...def", "sk-abc...def"),
        ("sk-proj-********wxyz", "sk-proj-********wxyz"),
        ("sk-proj-" + "A" * 60, "sk-pro...AAA"),
        ("sk-admin-" + "B" * 20 + "...zz" + "C" * 30, "sk-adm...CCC"),
        (None, None),
    ],
)
def test_mask_redacted(raw: str | None, expected: str | None) -> None:
    assert mask_redacted(raw) == expected


def test_detector_rejects_unknown_snapshot_parts_and_thresholds() -> None:
    with pytest.raises(ValueError, match="snapshot parts"):
        Detector(BY_KEY["gpt_public_link"], needs=("gpt",), rule=rule, evidence_fields=())
    with pytest.raises(ValueError, match="thresholds"):
        Detector(
            BY_KEY["gpt_public_link"],
            needs=("gpts",),
            rule=rule,
            evidence_fields=(),
            thresholds=("rotation",),
        )
