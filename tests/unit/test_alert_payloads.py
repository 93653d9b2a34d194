"""Alert payloads and the retry policy (pure code)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from exports.alerts import envelope, json_body, render_body, signature, slack_message
from store.alerts import AttemptOutcome, next_delay, retry_after_seconds, url_warning

NOW = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)

# Slack's incoming-webhook message, as its public Block Kit reference describes it:
# a message has `text` (the notification fallback) and at most 50 `blocks`; a header block
# holds one plain_text object of at most 150 characters; a section block has `text` (at most
# 3000 characters) and/or `fields` (at most 10 text objects of at most 2000 characters each);
# a text object is {"type": "plain_text" | "mrkdwn", "text": ...}.
TEXT_TYPES = {"plain_text", "mrkdwn"}


def _check_text(obj: Any, limit: int, types: set[str] = TEXT_TYPES) -> None:
    assert isinstance(obj, dict), obj
    assert set(obj) <= {"type", "text", "emoji", "verbatim"}, obj
    assert obj["type"] in types, obj
    assert isinstance(obj["text"], str) and 0 < len(obj["text"]) <= limit, obj


def validate_incoming_webhook(message: dict[str, Any]) -> None:
    assert set(message) <= {"text", "blocks", "unfurl_links", "unfurl_media", "mrkdwn"}
    assert isinstance(message["text"], str) and message["text"]
    blocks = message["blocks"]
    assert isinstance(blocks, list) and 0 < len(blocks) <= 50
    for block in blocks:
        kind = block["type"]
        if kind == "header":
            assert set(block) <= {"type", "text", "block_id"}
            _check_text(block["text"], 150, {"plain_text"})
        elif kind == "section":
            assert set(block) <= {"type", "text", "fields", "block_id"}
            assert "text" in block or "fields" in block
            if "text" in block:
                _check_text(block["text"], 3000)
            if "fields" in block:
                assert 0 < len(block["fields"]) <= 10
                for field in block["fields"]:
                    _check_text(field, 2000)
        else:
            raise AssertionError(f"unexpected block type {kind!r}")


def _finding(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "tenant": "acme",
        "finding_type_id": "c69adfa6-2362-4939-86ec-49ff34093cfd",
        "finding_type": "OpenAI: GPT publicly accessible via GPT Store",
        "category": "Publishing and sharing",
        "severity": "high",
        "resource_type": "gpt",
        "resource_id": f"g-{i}",
        "resource_name": f"Helper {i}",
        "status": "open",
        "evidence": {},
        **extra,
    }


def test_slack_message_follows_the_incoming_webhook_schema() -> None:
    payload = envelope("findings.opened", "acme", 7, [_finding(1)])
    message = slack_message(payload)
    validate_incoming_webhook(message)
    section = message["blocks"][1]
    texts = " ".join(f["text"] for f in section["fields"])
    for part in ("HIGH", "acme", "GPT Store", "gpt g-1", "Helper 1"):
        assert part in texts
    assert message["unfurl_links"] is False


def test_slack_message_stays_within_limits_and_link_free() -> None:
    hostile = _finding(0, resource_name="<https://evil.example|click> " + "x" * 5000)
    many = [hostile] + [_finding(i) for i in range(1, 120)]
    message = slack_message(envelope("findings.opened", "acme", 7, many))
    validate_incoming_webhook(message)
    dumped = json.dumps(message)
    assert "<https://" not in dumped  # escaped: Slack renders text, not a link
    assert "and 73 more" in message["blocks"][-1]["text"]["text"]


def test_slack_change_message_follows_the_schema() -> None:
    change = {
        "resource_type": "gpt",
        "resource_id": "g-1",
        "field": "sharing.visibility",
        "before": "invite-only",
        "after": "gpt-store",
    }
    message = slack_message(envelope("changes", "acme", 3, [change]))
    validate_incoming_webhook(message)
    assert "sharing.visibility" in json.dumps(message)


def test_json_body_is_the_envelope_and_signature_is_hmac_of_it() -> None:
    payload = envelope("findings.opened", "acme", 7, [_finding(1)])
    body = render_body("json", payload)
    assert json.loads(body) == {
        "event": "findings.opened",
        "tenant": "acme",
        "scan_id": 7,
        "findings": [_finding(1)],
    }
    assert body == json_body(payload)
    raw = body.encode()
    assert (
        signature("s3cret", raw) == "sha256=" + hmac.new(b"s3cret", raw, hashlib.sha256).hexdigest()
    )
    changes = envelope("changes", "acme", 7, [{"field": "role"}])
    assert changes["event"] == "changes" and changes["changes"] == [{"field": "role"}]


@pytest.mark.parametrize(
    ("outcome", "attempts", "expected"),
    [
        (AttemptOutcome(error="timeout"), 1, 30.0),
        (AttemptOutcome(error="timeout"), 3, 120.0),
        (AttemptOutcome(status_code=503), 2, 60.0),
        (AttemptOutcome(status_code=503), 20, 3600.0),  # capped
        (AttemptOutcome(status_code=429, retry_after="90"), 1, 90.0),
        (AttemptOutcome(status_code=429), 2, 60.0),
        (AttemptOutcome(status_code=404), 1, None),
        (AttemptOutcome(status_code=400), 1, None),
        (AttemptOutcome(status_code=301), 1, None),
    ],
)
def test_retry_policy(outcome: AttemptOutcome, attempts: int, expected: float | None) -> None:
    assert next_delay(outcome, attempts, base=30.0, cap=3600.0, now=NOW) == expected


def test_retry_after_as_http_date() -> None:
    later = (NOW + timedelta(seconds=120)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert retry_after_seconds(later, NOW) == 120.0
    assert retry_after_seconds("soon", NOW) is None


def test_plain_http_warning_only_off_loopback() -> None:
    assert url_warning("http://127.0.0.1:9000/hook") is None
    assert url_warning("http://[::1]:9000/hook") is None
    assert url_warning("https://hooks.example.com/x") is None
    assert url_warning("http://hooks.example.com/x") is not None
