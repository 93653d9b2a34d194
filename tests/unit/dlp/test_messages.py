"""Message-text DLP decisions: resource ids, evidence built from masked data, resolution."""

from __future__ import annotations

import random

from detectors.dlp.matcher import compile_policy
from detectors.dlp.messages import (
    FINDING_TYPE,
    MessageMatch,
    merge_matches,
    message_finding,
    message_resource_id,
    resolvable_messages,
)
from detectors.dlp.profiles import PREDEFINED
from simulator.files import PROFILE_FINANCIAL, message_text


def test_resource_id_is_the_message_id_else_log_and_index() -> None:
    assert message_resource_id("msg-1", "log_1", 4) == "msg-1"
    assert message_resource_id(None, "log_1", 4) == "log_1#4"
    assert message_resource_id("", None, 0) == "listing#0"


def test_finding_evidence_holds_masked_excerpts_only() -> None:
    policy = compile_policy([PREDEFINED[PROFILE_FINANCIAL]])
    text, planted = message_text(random.Random(3), "planted", [PROFILE_FINANCIAL])
    stream = policy.open_stream()
    stream.feed(text.encode())
    result = stream.close()
    assert result.matched
    item = MessageMatch(
        "msg-1", "conv-1", "user-1", "a@x.io", "logs", "log_1", result.to_evidence()
    )
    again = MessageMatch.from_dict(item.to_dict())
    assert again == item
    finding = message_finding(item)
    assert finding.finding_type is FINDING_TYPE
    assert finding.resource_id == "msg-1"
    ev = finding.evidence
    assert ev["conversation_id"] == "conv-1" and ev["user_email"] == "a@x.io"
    assert ev["profiles"] == [PROFILE_FINANCIAL] and ev["match_count"] >= 2
    assert all(e["excerpts"] for e in ev["entries"])
    shown = repr(ev)
    for entry in planted:
        assert entry.value not in shown
        assert entry.value.replace(" ", "").replace("-", "") not in shown


def test_merge_keeps_one_match_per_message() -> None:
    a = MessageMatch("m", None, None, None, "logs", "log_1", {"profiles": ["P"]})
    b = MessageMatch("m", None, None, None, "logs", "log_2", {"profiles": ["P"]})
    assert merge_matches([a, b]) == [a]


def test_only_a_clean_reread_resolves_never_absence() -> None:
    open_ids = {"m1", "m2", "m3"}
    # m1 read again and clean; m2 not seen this scan; m3 read again and still matching
    assert resolvable_messages(open_ids, clean_ids={"m1", "m9"}, matched_ids={"m3"}) == {"m1"}
    assert resolvable_messages(open_ids, clean_ids=set(), matched_ids=set()) == set()
