"""The finding-type catalog: the single source of truth for the OpenAI finding types.

The first 15 types are those of the Cloudflare CASB OpenAI integration (identifiers, titles,
categories and severities), so those findings map 1:1 onto it. Types after them are
extensions of this scanner (``extension=True``), with FindingTypeIDs of their own. Detectors,
exports, the CLI and the docs all read this module; nothing else may restate an id or a
severity.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """Higher is worse; used to sort and to gate (`--fail-on`)."""
        return {"low": 1, "medium": 2, "high": 3, "critical": 4}[self.value]


class Category(StrEnum):
    MODEL_AND_TOOL_GOVERNANCE = "Model and tool governance"
    PUBLISHING_AND_SHARING = "Publishing and sharing"
    API_KEY_HYGIENE = "API key hygiene"
    ACCESS_SECURITY = "Access security"
    DATA_LOSS_PREVENTION = "Data Loss Prevention"


class ResourceType(StrEnum):
    GPT = "gpt"
    ADMIN_API_KEY = "admin_api_key"
    PROJECT_API_KEY = "project_api_key"
    INVITE = "invite"
    USER = "user"
    CONVERSATION_FILE = "conversation_file"
    GPT_FILE = "gpt_file"
    PROJECT_FILE = "project_file"
    CONVERSATION_MESSAGE = "conversation_message"


class FetchResource(StrEnum):
    """The parts a scan fetches, each succeeding or failing on its own.

    A finding type is resolvable only if every part in its ``sources`` succeeded.
    """

    USERS = "users"
    LOGINS = "logins"
    INVITES = "invites"
    ADMIN_KEYS = "admin_keys"
    PROJECT_KEYS = "project_keys"
    SERVICE_ACCOUNTS = "service_accounts"
    PROJECT_MEMBERS = "project_members"
    GPTS = "gpts"
    WORKSPACE_USERS = "workspace_users"
    CONVERSATION_FILES = "conversation_files"
    GPT_FILES = "gpt_files"
    PROJECT_FILES = "project_files"
    CONVERSATION_MESSAGES = "conversation_messages"


@dataclass(frozen=True, slots=True, kw_only=True)
class FindingType:
    """Metadata of one finding type. `key` is a stable, readable alias of the UUID."""

    finding_type_id: str
    key: str
    title: str
    category: Category
    severity: Severity
    requires_chatgpt_enterprise: bool
    resource_type: ResourceType
    sources: tuple[FetchResource, ...]
    description: str
    remediation: str
    extension: bool = False
    """Not one of the seed's types: an addition of this scanner (own FindingTypeID)."""

    def as_dict(self) -> dict[str, object]:
        return {
            "finding_type_id": self.finding_type_id,
            "key": self.key,
            "title": self.title,
            "category": self.category.value,
            "severity": self.severity.value,
            "requires_chatgpt_enterprise": self.requires_chatgpt_enterprise,
            "resource_type": self.resource_type.value,
            "sources": [s.value for s in self.sources],
            "description": self.description,
            "remediation": self.remediation,
            "extension": self.extension,
        }


_GPTS = (FetchResource.GPTS,)
_KEYS_ADMIN = (FetchResource.ADMIN_KEYS,)
_KEYS_PROJECT = (FetchResource.PROJECT_KEYS,)
_INVITES = (FetchResource.INVITES,)

CATALOG: tuple[FindingType, ...] = (
    FindingType(
        finding_type_id="5a2995f5-0cc1-4af3-9045-cdf7e6601f7b",
        key="gpt_custom_actions",
        title="OpenAI: GPT with Custom Actions enabled",
        category=Category.MODEL_AND_TOOL_GOVERNANCE,
        severity=Severity.HIGH,
        requires_chatgpt_enterprise=True,
        resource_type=ResourceType.GPT,
        sources=_GPTS,
        description=(
            "A custom GPT calls an external API through a Custom Action; conversation content can "
            "leave the workspace to the action's domain."
        ),
        remediation=(
            "Review the action's domain, auth type and privacy policy in the GPT editor. Remove "
            "the "
            "action or restrict the GPT's sharing if the domain is not an approved vendor."
        ),
    ),
    FindingType(
        finding_type_id="d368036a-be90-49f0-b7da-5092a3f8beb4",
        key="gpt_code_interpreter",
        title="OpenAI: GPT with Code Interpreter enabled",
        category=Category.MODEL_AND_TOOL_GOVERNANCE,
        severity=Severity.MEDIUM,
        requires_chatgpt_enterprise=True,
        resource_type=ResourceType.GPT,
        sources=_GPTS,
        description=(
            "A custom GPT can run code on uploaded data (Code Interpreter & Data Analysis)."
        ),
        remediation=(
            "Disable 'Code Interpreter & Data Analysis' in the GPT's capabilities unless the GPT's "
            "purpose needs it, and confirm the knowledge files it can process."
        ),
    ),
    FindingType(
        finding_type_id="3af14358-5ff2-4502-921e-7ffd9a310093",
        key="gpt_web_browsing",
        title="OpenAI: GPT with web browsing enabled",
        category=Category.MODEL_AND_TOOL_GOVERNANCE,
        severity=Severity.MEDIUM,
        requires_chatgpt_enterprise=True,
        resource_type=ResourceType.GPT,
        sources=_GPTS,
        description=(
            "A custom GPT can browse the web, which can pull untrusted content into conversations."
        ),
        remediation=(
            "Disable 'Web Search' in the GPT's capabilities unless required; document the "
            "exception."
        ),
    ),
    FindingType(
        finding_type_id="c69adfa6-2362-4939-86ec-49ff34093cfd",
        key="gpt_public_store",
        title="OpenAI: GPT publicly accessible via GPT Store",
        category=Category.PUBLISHING_AND_SHARING,
        severity=Severity.HIGH,
        requires_chatgpt_enterprise=True,
        resource_type=ResourceType.GPT,
        sources=_GPTS,
        description="A workspace GPT is published to the GPT Store and usable by anyone.",
        remediation=(
            "Change the GPT's sharing to 'Only people in your workspace' (or invite-only), or set "
            "a "
            "workspace policy that blocks publishing GPTs to the GPT Store."
        ),
    ),
    FindingType(
        finding_type_id="de460c9f-55c0-4131-9cdf-e4c3b84f9549",
        key="gpt_public_link",
        title="OpenAI: GPT publicly accessible via public link",
        category=Category.PUBLISHING_AND_SHARING,
        severity=Severity.HIGH,
        requires_chatgpt_enterprise=True,
        resource_type=ResourceType.GPT,
        sources=_GPTS,
        description="A workspace GPT is shared with 'Anyone with the link', outside the workspace.",
        remediation=(
            "Change the GPT's sharing to workspace-only or invite-only; rotate any secrets in its "
            "instructions or knowledge files, since the link may have been forwarded."
        ),
    ),
    FindingType(
        finding_type_id="b72e971d-f5b9-4cf3-96f4-ef82bdf38453",
        key="admin_key_not_rotated",
        title="OpenAI: Admin API key not rotated",
        category=Category.API_KEY_HYGIENE,
        severity=Severity.HIGH,
        requires_chatgpt_enterprise=False,
        resource_type=ResourceType.ADMIN_API_KEY,
        sources=_KEYS_ADMIN,
        description=(
            "An organization Admin API key is older than the rotation threshold "
            "(key_rotation_days)."
        ),
        remediation=(
            "Create a new Admin API key (Settings > Organization > Admin keys), move its "
            "consumers to "
            "it, then delete the old key. Prefer keys created with an expiry."
        ),
    ),
    FindingType(
        finding_type_id="2c079fe8-6188-43e1-a2e5-d0e2dd8c7686",
        key="project_key_not_rotated",
        title="OpenAI: Project API key not rotated",
        category=Category.API_KEY_HYGIENE,
        severity=Severity.HIGH,
        requires_chatgpt_enterprise=False,
        resource_type=ResourceType.PROJECT_API_KEY,
        sources=_KEYS_PROJECT,
        description="A project API key is older than the rotation threshold (key_rotation_days).",
        remediation=(
            "Create a replacement key in the project (or for its service account), deploy it, then "
            "revoke the old key from the project's API keys page."
        ),
    ),
    FindingType(
        finding_type_id="49c75a36-1e64-437b-98a1-e54ec35d0a64",
        key="admin_key_unused",
        title="OpenAI: Unused admin API key",
        category=Category.API_KEY_HYGIENE,
        severity=Severity.MEDIUM,
        requires_chatgpt_enterprise=False,
        resource_type=ResourceType.ADMIN_API_KEY,
        sources=_KEYS_ADMIN,
        description=(
            "An Admin API key has not been used within unused_key_days (or was never used and is "
            "older than that)."
        ),
        remediation=(
            "Delete the Admin API key if nothing depends on it; unused admin keys are pure "
            "exposure."
        ),
    ),
    FindingType(
        finding_type_id="c8fd231b-de51-43cc-8c3f-e1e57114c5f5",
        key="project_key_unused",
        title="OpenAI: Unused project API key",
        category=Category.API_KEY_HYGIENE,
        severity=Severity.MEDIUM,
        requires_chatgpt_enterprise=False,
        resource_type=ResourceType.PROJECT_API_KEY,
        sources=_KEYS_PROJECT,
        description=(
            "A project API key has not been used within unused_key_days (or was never used and is "
            "older than that)."
        ),
        remediation=(
            "Revoke the key from the project's API keys page; recreate it when a workload needs it."
        ),
    ),
    FindingType(
        finding_type_id="776ceb93-fa9a-4ca0-83db-668a67c09936",
        key="high_privilege_invite",
        title="OpenAI: High-privilege invite",
        category=Category.ACCESS_SECURITY,
        severity=Severity.HIGH,
        requires_chatgpt_enterprise=False,
        resource_type=ResourceType.INVITE,
        sources=_INVITES,
        description="A pending invite grants the Owner role on the organization or on a project.",
        remediation=(
            "Confirm the invitee should become an owner; otherwise delete the invite and re-invite "
            "with the Reader/Member role."
        ),
    ),
    FindingType(
        finding_type_id="20ab9ddb-fd48-46a8-9fdf-9bb9b9061f21",
        key="inactive_user",
        title="OpenAI: Inactive user",
        category=Category.ACCESS_SECURITY,
        severity=Severity.MEDIUM,
        requires_chatgpt_enterprise=False,
        resource_type=ResourceType.USER,
        sources=(FetchResource.USERS, FetchResource.PROJECT_KEYS),
        description=(
            "A member shows no activity (API key use, audit-log login, owned project key use, "
            "ChatGPT sign-in) within inactive_user_days."
        ),
        remediation=(
            "Confirm with the user's manager; remove the user from the organization (and its "
            "projects) if access is no longer needed."
        ),
    ),
    FindingType(
        finding_type_id="18fd5b21-8489-485e-9c93-0bd4a696e724",
        key="stale_pending_invite",
        title="OpenAI: Stale pending invite",
        category=Category.ACCESS_SECURITY,
        severity=Severity.LOW,
        requires_chatgpt_enterprise=False,
        resource_type=ResourceType.INVITE,
        sources=_INVITES,
        description="An invite is still pending after stale_invite_days, or its expiry has passed.",
        remediation="Delete the invite; send a fresh one if the person still needs access.",
    ),
    FindingType(
        finding_type_id="9aca654d-b331-4052-a5b4-2ceecced8676",
        key="dlp_conversation_file",
        title="OpenAI: File in ChatGPT Conversation with DLP Profile match",
        category=Category.DATA_LOSS_PREVENTION,
        severity=Severity.HIGH,
        requires_chatgpt_enterprise=True,
        resource_type=ResourceType.CONVERSATION_FILE,
        sources=(FetchResource.CONVERSATION_FILES,),
        description=(
            "A file uploaded to or generated in a ChatGPT conversation matches a DLP profile."
        ),
        remediation=(
            "Review the file with its owner; delete it through the Compliance API if it must not "
            "be "
            "retained, and rotate any credential it contains."
        ),
    ),
    FindingType(
        finding_type_id="520200f5-7dcc-42c9-bc3c-423019159d45",
        key="dlp_gpt_file",
        title="OpenAI: File in ChatGPT GPT with DLP Profile match",
        category=Category.DATA_LOSS_PREVENTION,
        severity=Severity.HIGH,
        requires_chatgpt_enterprise=True,
        resource_type=ResourceType.GPT_FILE,
        sources=(FetchResource.GPT_FILES,),
        description=(
            "A knowledge file of a custom GPT matches a DLP profile; anyone who can use the GPT "
            "may "
            "be able to extract it."
        ),
        remediation=(
            "Remove the file from the GPT's knowledge, restrict the GPT's sharing, and rotate any "
            "credential it contains."
        ),
    ),
    FindingType(
        finding_type_id="8e46ec69-e5c1-4f53-ab00-a92f2050ec33",
        key="dlp_project_file",
        title="OpenAI: File in ChatGPT Project with DLP Profile match",
        category=Category.DATA_LOSS_PREVENTION,
        severity=Severity.HIGH,
        requires_chatgpt_enterprise=False,
        resource_type=ResourceType.PROJECT_FILE,
        sources=(FetchResource.PROJECT_FILES,),
        description="A file attached to a ChatGPT project matches a DLP profile.",
        remediation=(
            "Remove the file from the project, review who the project is shared with, and rotate "
            "any credential it contains."
        ),
    ),
    # ------------------------------------------------------------------ extensions
    FindingType(
        finding_type_id="61708e01-a35b-41b1-99ac-3dc53816a45f",
        key="chatgpt_message_dlp",
        title="OpenAI: ChatGPT conversation message with DLP Profile match",
        category=Category.DATA_LOSS_PREVENTION,
        severity=Severity.HIGH,
        requires_chatgpt_enterprise=True,
        resource_type=ResourceType.CONVERSATION_MESSAGE,
        sources=(FetchResource.CONVERSATION_MESSAGES,),
        description=(
            "The text of a ChatGPT conversation message (as exported by the Compliance API or the "
            "Compliance Logs Platform) matches a DLP profile."
        ),
        remediation=(
            "Review the conversation with the user; delete it through the Compliance API if it "
            "must not be retained, and rotate any credential it contains."
        ),
        extension=True,
    ),
    FindingType(
        finding_type_id="ecf9c5b4-2577-4742-9e73-29d5fff9b9bf",
        key="project_key_orphaned",
        title="OpenAI: Project API key whose owner lost project access",
        category=Category.API_KEY_HYGIENE,
        severity=Severity.HIGH,
        requires_chatgpt_enterprise=False,
        resource_type=ResourceType.PROJECT_API_KEY,
        sources=_KEYS_PROJECT,
        description=(
            "A project API key is still listed and enabled although its owner no longer has access "
            "to the project (owner_project_access is inactive): nobody accountable holds it."
        ),
        remediation=(
            "Revoke the key from the project's API keys page, or hand the workload a key owned by "
            "a current project member or a service account."
        ),
        extension=True,
    ),
    FindingType(
        finding_type_id="42cdd0fc-9a27-4127-93d0-83c804c73424",
        key="leaked_own_api_key",
        title="OpenAI API key of this organization exposed in ChatGPT content",
        category=Category.API_KEY_HYGIENE,
        severity=Severity.CRITICAL,
        requires_chatgpt_enterprise=True,
        resource_type=ResourceType.PROJECT_API_KEY,
        sources=(FetchResource.ADMIN_KEYS, FetchResource.PROJECT_KEYS),
        description=(
            "DLP found an OpenAI API key in scanned ChatGPT content (a conversation, GPT or "
            "project "
            "file) whose visible start and end agree with a key in this organization's own "
            "inventory: the key itself is exposed to whoever can read that content."
        ),
        remediation=(
            "Rotate the key now (revoke it and issue a new one), check its usage since the content "
            "appeared, then remove the content (see the DLP finding on the file)."
        ),
        extension=True,
    ),
)

BY_ID: dict[str, FindingType] = {ft.finding_type_id: ft for ft in CATALOG}
BY_KEY: dict[str, FindingType] = {ft.key: ft for ft in CATALOG}


def lookup(id_or_key: str) -> FindingType:
    """Find a finding type by its UUID or its readable key; KeyError names both forms."""
    found = BY_ID.get(id_or_key) or BY_KEY.get(id_or_key)
    if found is None:
        raise KeyError(f"unknown finding type {id_or_key!r}: use a FindingTypeID or a key")
    return found


def types_for_sources(fetched: set[FetchResource]) -> list[FindingType]:
    """Finding types whose every source was fetched successfully in a scan.

    Only these may be resolved when a finding is not seen again: a failed fetch
    must never resolve findings that depend on it.
    """
    return [ft for ft in CATALOG if set(ft.sources) <= fetched]
