"""DLP on ChatGPT conversation message text: pure decisions (no I/O).

The fetch stage matches each message's text against the tenant's profiles while the text is
in memory, and keeps only what this module builds from the result: a ``MessageMatch`` with
masked evidence (never the text, never a raw match). The DLP stage's finalize turns those
into ``chatgpt_message_dlp`` findings.

Resolution. Messages reach the scanner once: through a conversation listing since the
tenant's watermark, or through the Logs Platform's CONVERSATION_MESSAGE files after the
tenant's ``last_end_time``. A message that a later scan does not see again was not deleted,
it simply was not delivered again, so absence proves nothing and never resolves a finding.
A finding resolves only when the same message is read again (a full re-read after the
tenant's DLP profiles changed, or a conversation listed again) and its text no longer
matches the tenant's current profiles. Otherwise it stays open until an operator resolves
or ignores it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from schemas.catalog import BY_KEY
from schemas.findings import DetectedFinding

FINDING_TYPE = BY_KEY["chatgpt_message_dlp"]
MESSAGE_PARTS = ("message_matches", "message_clean")


def message_resource_id(message_id: str | None, log_id: str | None, index: int) -> str:
    """The finding's resource id: the message id, else ``<log id>#<record index>``."""
    if message_id:
        return message_id
    return f"{log_id or 'listing'}#{index}"


@dataclass(frozen=True)
class MessageMatch:
    """A message whose text matched: where it is, who wrote it, the masked evidence."""

    resource_id: str
    conversation_id: str | None
    user_id: str | None
    user_email: str | None
    source: str  # "conversations" (listing) or "logs" (Logs Platform)
    log_id: str | None
    match: Mapping[str, Any]  # FileMatch.to_evidence(): profiles, entries, masked excerpts

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["match"] = dict(self.match)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MessageMatch:
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in fields})


def message_evidence(item: MessageMatch) -> dict[str, Any]:
    """Conversation, user and masked excerpts: copied field by field from the match
    evidence, so no raw value can slip in."""
    entries = [
        {
            "entry_id": str(e.get("entry_id")),
            "entry_name": str(e.get("entry_name")),
            "profile": str(e.get("profile")),
            "count": int(e.get("count", 0)),
            "excerpts": [str(x) for x in e.get("excerpts", [])],
        }
        for e in item.match.get("entries", [])
    ]
    return {
        "message_id": item.resource_id,
        "conversation_id": item.conversation_id,
        "user_id": item.user_id,
        "user_email": item.user_email,
        "source": item.source,
        "log_id": item.log_id,
        "profiles": [str(p) for p in item.match.get("profiles", [])],
        "entries": entries,
        "match_count": sum(int(str(e["count"])) for e in entries),
        "profile_version": item.match.get("policy_version"),
    }


def message_finding(item: MessageMatch) -> DetectedFinding:
    name = f"message in conversation {item.conversation_id}" if item.conversation_id else None
    return DetectedFinding(
        finding_type=FINDING_TYPE,
        resource_id=item.resource_id,
        resource_name=name,
        evidence=message_evidence(item),
    )


def merge_matches(items: Iterable[MessageMatch]) -> list[MessageMatch]:
    """One match per message (a message delivered twice is one finding: the first wins)."""
    out: dict[str, MessageMatch] = {}
    for item in items:
        out.setdefault(item.resource_id, item)
    return list(out.values())


def resolvable_messages(
    open_ids: Iterable[str], clean_ids: Iterable[str], matched_ids: Iterable[str]
) -> set[str]:
    """Open message findings this scan proves gone: read again and clean, not matched."""
    return (set(open_ids) & set(clean_ids)) - set(matched_ids)
