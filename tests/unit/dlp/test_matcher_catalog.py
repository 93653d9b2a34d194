"""Every predefined entry against the project's accuracy corpus (tests/unit/dlp/corpus.py),
on both engines (the module name starts with ``test_matcher``: conftest runs it per engine).

Positives are built from each vendor's / issuer's published format, negatives are the same
shape too short, a placeholder, a wrong check digit, or the bare value with no keyword."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from detectors.dlp.entries_doc import splice
from detectors.dlp.matcher import compile_policy
from detectors.dlp.profiles import (
    CREDENTIALS,
    FINANCIAL,
    NATIONAL_IDS,
    PREDEFINED,
    Profile,
    custom_profile,
    entry_rows,
)
from tests.unit.dlp.corpus import VARIANT_LINES, VARIANTS, Rand, build_corpus

CORPUS = build_corpus(31)
ALL_ENTRIES = {e.id: e for p in PREDEFINED.values() for e in p.entries}
ROOT = Path(__file__).resolve().parents[3]


def _hits(entry_id: str, text: str) -> dict[str, int]:
    policy = compile_policy([Profile(f"only {entry_id}", (ALL_ENTRIES[entry_id],))])
    result = policy.scan_bytes(text.encode())
    return {m.entry_id: m.count for m in result.entries}


def test_breadth() -> None:
    assert len(CREDENTIALS.entries) >= 180
    identifiers = {e.id for p in (FINANCIAL, NATIONAL_IDS) for e in p.entries}
    assert len(identifiers) >= 40
    assert set(CORPUS) == set(ALL_ENTRIES)


@pytest.mark.parametrize("entry_id", sorted(ALL_ENTRIES))
def test_entry_positives(entry_id: str) -> None:
    cases = CORPUS[entry_id]
    assert cases.positives
    policy = compile_policy([Profile(f"only {entry_id}", (ALL_ENTRIES[entry_id],))])
    for text, value in cases.positives:
        result = policy.scan_bytes(("filler line\n" * 3 + text + "more\n").encode())
        assert {m.entry_id: m.count for m in result.entries} == {entry_id: 1}, text
        assert value not in repr(result.to_evidence())  # masked excerpts only


@pytest.mark.parametrize("entry_id", sorted(ALL_ENTRIES))
def test_entry_negatives(entry_id: str) -> None:
    cases = CORPUS[entry_id]
    assert cases.negatives
    for text in cases.negatives:
        assert _hits(entry_id, "filler\n" + text) == {}, text


@pytest.mark.parametrize(
    ("entry_id", "label"),
    [(eid, label) for eid, variants in VARIANTS.items() for label, _ in variants],
)
def test_format_variants(entry_id: str, label: str) -> None:
    make = dict(VARIANTS[entry_id])[label]
    value = make(Rand(5))
    line = VARIANT_LINES[entry_id].replace("{v}", value)
    assert _hits(entry_id, line) == {entry_id: 1}, (label, value)


def test_context_entries_are_keyword_led_and_need_their_keyword() -> None:
    policy = compile_policy(PREDEFINED.values())
    led = [e for e in policy._exprs.values() if e.search is not None]
    assert led and all(all(m.keywords for m in e.entries) for e in led)
    value = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"
    assert _hits("datadog_api_key", f"DD_API_KEY={value}\n") == {"datadog_api_key": 1}
    assert _hits("datadog_api_key", f"checksum {value}\n") == {}


def test_stripe_test_mode_keys_are_reported_with_low_severity() -> None:
    key = "sk_test_" + "Q1w2E3r4T5y6U7i8O9p0AsDf"
    result = compile_policy([CREDENTIALS]).scan_bytes(f"STRIPE_KEY={key}\n".encode())
    (row,) = result.entries
    assert row.entry_id == "stripe_test_secret_key" and row.severity == "low"
    assert row.to_dict()["severity"] == "low"
    live = compile_policy([CREDENTIALS]).scan_bytes(f"k={key.replace('test', 'live')}\n".encode())
    assert "severity" not in live.entries[0].to_dict()


def test_published_test_values_are_skipped_unless_the_profile_asks() -> None:
    text = b"card 4012 8888 8888 1881\nstripe sk_test_4eC39HqLyjWDarjtT1zdp7dc\n"
    assert compile_policy([FINANCIAL, CREDENTIALS]).scan_bytes(text).entries == ()
    with_tests = [FINANCIAL.with_test_values(), CREDENTIALS.with_test_values()]
    counts = {m.entry_id: m.count for m in compile_policy(with_tests).scan_bytes(text).entries}
    assert counts == {"card_visa": 1, "stripe_test_secret_key": 1}
    assert FINANCIAL.with_test_values().include_test_values
    assert FINANCIAL.with_test_values().signature() != FINANCIAL.signature()
    custom = custom_profile("cards", [{"name": "c", "pattern": r"\b4012[0-9 ]{15}\b"}], [])
    assert not custom.include_test_values


def test_entry_rows_list_every_entry() -> None:
    rows = entry_rows()
    assert len(rows) == sum(len(p.entries) for p in PREDEFINED.values())
    by_id = {r["id"]: r for r in rows}
    assert by_id["github_pat_classic"]["validator"] == "base62_crc32"
    assert by_id["datadog_api_key"]["context"] is True
    assert by_id["groq_api_key"]["context"] is False
    assert by_id["stripe_test_secret_key"]["severity"] == "low"


def test_committed_doc_tables_are_current() -> None:
    doc = (ROOT / "docs" / "dlp.md").read_text(encoding="utf-8")
    assert doc == splice(doc), "docs/dlp.md is stale: run python scripts/gen_dlp_doc.py"
    for entry_id in ALL_ENTRIES:
        assert f"| `{entry_id}` |" in doc
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_dlp_doc.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
