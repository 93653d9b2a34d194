"""The DLP stage's pure decisions: fingerprints, batches, cache steps, evidence, lifecycle."""

from __future__ import annotations

import json
from typing import Any

from detectors.dlp.decisions import (
    CLEAN,
    FINDING_TYPES,
    MATCHED,
    SKIPPED,
    WATERMARK_MARGIN,
    CacheState,
    FileRef,
    ListingState,
    Step,
    before_download,
    build_evidence,
    detected_finding,
    listing_fingerprint,
    make_batches,
    next_watermark,
    refs_from_listings,
    resolvable_keys,
    reusable_after_download,
    too_slow_result,
)
from detectors.dlp.matcher import compile_policy
from detectors.dlp.profiles import PREDEFINED

LISTED = {
    "kind": "conversation",
    "file_id": "file-abc",
    "name": "keys.txt",
    "created_at": 1700000000.0,
    "parent_id": "conv-1",
    "user_id": "user-1",
    "parent_name": "Deploy notes",
    "owner_email": "ada@example.com",
    "visibility": None,
}
CARD = "4487 1428 1251 1768"
AWS = "AKIAQWERTYUIOPASDFGH"


def ref(**changes: Any) -> FileRef:
    return FileRef.from_listing("conversation", {**LISTED, **changes})


def cached(outcome: str = CLEAN, **changes: Any) -> CacheState:
    base: dict[str, Any] = {
        "listing_fingerprint": ref().fingerprint,
        "content_sha256": "a" * 64,
        "profile_version": "v1",
        "outcome": outcome,
        "result": {},
    }
    return CacheState(**{**base, **changes})


# --------------------------------------------------------------------------- refs


def test_fingerprint_tracks_content_identity_not_context() -> None:
    fp = ref().fingerprint
    assert fp == listing_fingerprint(ref()) and fp.startswith("l1-")
    # Moving the file, renaming its conversation or changing its owner: same bytes.
    assert ref(parent_id="conv-2", parent_name="x", user_id="u9").fingerprint == fp
    # A new name (format!) or creation time: look at it again.
    assert ref(name="keys.pdf").fingerprint != fp
    assert ref(created_at=1700000001.0).fingerprint != fp
    assert FileRef.from_listing("gpt", LISTED).fingerprint != fp


def test_refs_round_trip_and_dedupe() -> None:
    r = ref()
    assert FileRef.from_dict(json.loads(json.dumps(r.to_dict()))) == r
    assert r.owner_id == "user-1" and r.parent_name == "Deploy notes"
    listings: dict[str, list[dict[str, Any]] | None] = {
        "conversation": [LISTED, LISTED, {"name": "no id"}],
        "gpt": [{**LISTED, "file_id": "file-g"}],
        "project": None,  # failed listing
    }
    refs = refs_from_listings(listings)
    assert [(x.kind, x.file_id) for x in refs] == [("conversation", "file-abc"), ("gpt", "file-g")]


def test_batches_are_small_and_cover_everything() -> None:
    refs = [ref(file_id=f"file-{i}") for i in range(7)]
    batches = make_batches(refs, 3)
    assert [len(b) for b in batches] == [3, 3, 1]
    assert [x for b in batches for x in b] == refs
    assert make_batches([], 3) == []
    assert len(make_batches(refs, 0)) == 7  # a nonsense size still makes progress


# --------------------------------------------------------------------------- cache


def test_unchanged_listing_and_profiles_skip_the_download() -> None:
    fp = ref().fingerprint
    assert before_download(cached(), fp, "v1") is Step.USE_CACHE
    assert before_download(cached(MATCHED), fp, "v1") is Step.USE_CACHE
    assert before_download(None, fp, "v1") is Step.DOWNLOAD
    assert before_download(cached(), fp, "v2") is Step.DOWNLOAD  # profiles changed
    assert before_download(cached(), ref(name="b.txt").fingerprint, "v1") is Step.DOWNLOAD


def test_skips_are_cached_only_when_they_come_from_the_file() -> None:
    fp = ref().fingerprint
    for reason in ("corrupt", "encrypted", "zip_bomb", "too_large", "expired", "not_found"):
        state = cached(SKIPPED, result={"reason": reason})
        assert before_download(state, fp, "v1") is Step.USE_CACHE, reason
    transient = cached(SKIPPED, result={"reason": "download_error"})
    assert before_download(transient, fp, "v1") is Step.DOWNLOAD


def test_a_slow_download_counts_its_attempts_then_holds_as_a_skip() -> None:
    fp = ref().fingerprint
    first = too_slow_result(None, fp, 3)
    assert (first["attempts"], first["given_up"]) == (1, False)
    state = cached(SKIPPED, result=first)
    assert before_download(state, fp, "v1") is Step.DOWNLOAD  # tried again next scan
    second = too_slow_result(state, fp, 3)
    third = too_slow_result(cached(SKIPPED, result=second), fp, 3)
    assert (second["attempts"], third["attempts"], third["given_up"]) == (2, 3, True)
    given_up = cached(SKIPPED, result=third)
    assert before_download(given_up, fp, "v1") is Step.USE_CACHE  # never clean, not retried
    assert before_download(given_up, fp, "v2") is Step.DOWNLOAD  # new profiles: once more
    # Another listing of the file (new content) starts counting again.
    other = ref(name="b.txt").fingerprint
    assert too_slow_result(given_up, other, 3)["attempts"] == 1


def test_same_bytes_same_profiles_reuse_the_verdict() -> None:
    sha = "a" * 64
    assert reusable_after_download(cached(MATCHED), sha, "v1")
    assert reusable_after_download(cached(CLEAN), sha, "v1")
    assert not reusable_after_download(cached(CLEAN), "b" * 64, "v1")
    assert not reusable_after_download(cached(CLEAN), sha, "v2")
    assert not reusable_after_download(cached(SKIPPED, result={"reason": "corrupt"}), sha, "v1")
    assert not reusable_after_download(None, sha, "v1")


# --------------------------------------------------------------------------- evidence


def _match_evidence() -> dict[str, Any]:
    policy = compile_policy(
        [PREDEFINED["Credentials and Secrets"], PREDEFINED["Financial Information"]]
    )
    text = f"aws {AWS} and card {CARD} and again {CARD}\n".encode()
    result = policy.scan_bytes(text)
    assert result.matched
    return result.to_evidence()


def test_evidence_names_the_place_owner_and_masked_matches_only() -> None:
    evidence = build_evidence(ref(), _match_evidence())
    assert evidence["conversation_id"] == "conv-1"
    assert evidence["conversation_title"] == "Deploy notes"
    assert evidence["owner_id"] == "user-1" and evidence["owner_email"] == "ada@example.com"
    assert evidence["file_name"] == "keys.txt" and evidence["file_id"] == "file-abc"
    assert set(evidence["profiles"]) == {"Credentials and Secrets", "Financial Information"}
    counts = {e["entry_id"]: e["count"] for e in evidence["entries"]}
    assert counts == {"aws_access_key_id": 1, "card_visa": 2}
    assert evidence["match_count"] == 3
    assert all(e["excerpts"] for e in evidence["entries"])
    blob = json.dumps(evidence)
    for secret in (AWS, CARD, CARD.replace(" ", ""), AWS[4:16]):
        assert secret not in blob
    assert "visibility" not in evidence  # conversations have none


def test_gpt_and_project_evidence_and_finding_types() -> None:
    match = _match_evidence()
    gpt = FileRef.from_listing(
        "gpt", {**LISTED, "parent_name": "Sales bot", "visibility": "gpt-store"}
    )
    ev = build_evidence(gpt, match)
    assert ev["gpt_id"] == "conv-1" and ev["gpt_name"] == "Sales bot"
    assert ev["visibility"] == "gpt-store" and "conversation_id" not in ev
    project = FileRef.from_listing("project", {**LISTED, "parent_name": "Q3"})
    assert build_evidence(project, match)["project_name"] == "Q3"
    for r, key in (
        (ref(), "dlp_conversation_file"),
        (gpt, "dlp_gpt_file"),
        (project, "dlp_project_file"),
    ):
        finding = detected_finding(r, match)
        assert finding.finding_type.key == key
        assert finding.resource_id == "file-abc" and finding.resource_name == "keys.txt"
        assert finding.finding_type.resource_type.value == FINDING_TYPES[r.kind].resource_type.value
    nameless = detected_finding(ref(name=None), match)
    assert nameless.resource_name == "file-abc"


# --------------------------------------------------------------------------- lifecycle


CONV = FINDING_TYPES["conversation"].finding_type_id
GPT = FINDING_TYPES["gpt"].finding_type_id


def test_resolution_needs_a_clean_rescan_or_absence_from_a_complete_listing() -> None:
    stored = {
        (CONV, "c-clean"),
        (CONV, "c-skipped"),
        (CONV, "c-unlisted"),
        (GPT, "g-clean"),
        (GPT, "g-gone"),
        (GPT, "g-matched"),
        ("some-posture-type", "x"),
    }
    listings = {
        "conversation": ListingState(True, frozenset({"c-clean", "c-skipped"}), complete=False),
        "gpt": ListingState(True, frozenset({"g-clean", "g-matched"})),
    }
    outcomes = {
        ("conversation", "c-clean"): CLEAN,
        ("conversation", "c-skipped"): SKIPPED,
        ("gpt", "g-clean"): CLEAN,
        ("gpt", "g-matched"): MATCHED,
    }
    assert resolvable_keys(stored, listings, outcomes) == {
        (CONV, "c-clean"),
        (GPT, "g-clean"),
        (GPT, "g-gone"),
    }
    # A full conversation listing (watermark 0) proves absence too.
    full = {**listings, "conversation": ListingState(True, frozenset({"c-clean"}), complete=True)}
    assert (CONV, "c-unlisted") in resolvable_keys(stored, full, outcomes)
    # A failed listing resolves nothing of its kind, whatever the outcomes say.
    failed = {**listings, "gpt": ListingState(False)}
    assert {k for k in resolvable_keys(stored, failed, outcomes) if k[0] == GPT} == set()
    # An error outcome (download failed) is not clean.
    errored = {**outcomes, ("gpt", "g-clean"): "error"}
    assert (GPT, "g-clean") not in resolvable_keys(stored, listings, errored)


def test_watermark_moves_forward_only_after_success() -> None:
    kw: dict[str, Any] = {"newest_update": 5000.0, "scan_started": 9000.0}
    assert next_watermark(0.0, listing_ok=True, stage_ok=True, **kw) == 5000.0 - WATERMARK_MARGIN
    assert next_watermark(0.0, listing_ok=True, stage_ok=False, **kw) == 0.0
    assert next_watermark(0.0, listing_ok=False, stage_ok=True, **kw) == 0.0
    # Never backwards; an API clock ahead of ours is capped by the scan's start.
    assert next_watermark(7000.0, listing_ok=True, stage_ok=True, **kw) == 7000.0
    ahead = next_watermark(
        0.0, listing_ok=True, stage_ok=True, newest_update=99999.0, scan_started=9000.0
    )
    assert ahead == 9000.0 - WATERMARK_MARGIN
    nothing = next_watermark(
        100.0, listing_ok=True, stage_ok=True, newest_update=None, scan_started=9000.0
    )
    assert nothing == 100.0
