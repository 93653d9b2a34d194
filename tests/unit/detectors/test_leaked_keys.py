"""Leaked own keys: redacted values, comparison, the matcher probe (pure)."""

from __future__ import annotations

from detectors.dlp.matcher import compile_policy
from detectors.dlp.profiles import CREDENTIALS
from detectors.leaked_keys import KeyProbe, compare, inventory, is_openai_key_entry, parse_redacted

# The shape of a minted project key: body with the T3BlbkFJ marker (not a real key).
SECRET = "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z" + "T3BlbkFJ" + "Gh7jK2mN4pQ6sV8xZ1bC3dQ7rT"


def _inventory() -> list:
    return inventory(
        [{"id": "key_admin", "redacted_value": "sk-admin...Zz99", "name": "ops"}],
        [
            {"id": "key_a", "redacted_value": "sk-proj-Ab3...Q7rT", "project_id": "proj_1"},
            {"id": "key_b", "redacted_value": "sk-proj...Q7rX", "project_id": "proj_1"},
            {"id": "key_c", "redacted_value": "hidden"},
        ],
    )


def test_parse_redacted() -> None:
    assert parse_redacted("sk-proj-abc...wxyz") == ("sk-proj-abc", "wxyz")
    assert parse_redacted("sk-admin…def") == ("sk-admin", "def")
    assert parse_redacted("sk-proj...") is None
    assert parse_redacted(None) is None
    assert parse_redacted("nothing") is None


def test_compare_needs_start_and_end_and_a_unique_best() -> None:
    keys = _inventory()
    assert [k.key_id for k in keys] == ["key_admin", "key_a", "key_b"]
    hit = compare(SECRET, keys)
    assert hit is not None and hit.key_id == "key_a"
    assert compare(SECRET[:-1] + "X", keys) is not None  # ends like key_b
    assert compare("sk-proj-" + "x" * 30 + "0000", keys) is None
    twins = inventory(
        [],
        [
            {"id": "k1", "redacted_value": "sk-...Q7rT"},
            {"id": "k2", "redacted_value": "sk-...Q7rT"},
        ],
    )
    assert compare(SECRET, twins) is None  # two equally good candidates prove nothing


def test_probe_in_the_matcher_keeps_only_the_agreement() -> None:
    entries = [e for e in CREDENTIALS.entries if is_openai_key_entry(e)]
    assert entries, "the Credentials profile has an entry of the OpenAI key family"
    policy = compile_policy([CREDENTIALS])
    probe = KeyProbe(_inventory())
    stream = policy.open_stream(probe=probe)
    stream.feed(f"config:\nOPENAI_API_KEY={SECRET}\n".encode())
    result = stream.close()
    assert result.matched
    [found] = probe.results()
    assert found["key_id"] == "key_a" and found["resource_type"] == "project_api_key"
    assert (found["prefix_chars"], found["suffix_chars"]) == (11, 4)
    assert SECRET not in repr(found) and SECRET[10:-4] not in repr(found)
    assert found["masked_value"].startswith("sk-proj-")
