"""Pydantic models of the OpenAI Admin API and ChatGPT Compliance API objects we read.

They follow the shapes of the published OpenAI API field by field but are deliberately tolerant:
unknown fields are ignored, optional fields default, and every documented drift is
accepted (``created_at``/``invited_at``, ``recipients`` as array or list object,
``latest_config`` as list object or bare array, float or int timestamps, tool type
spellings). A model that failed on drift would fail a whole tenant's scan.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class ApiModel(BaseModel):
    """Base: ignore unknown fields, keep models immutable."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


def _unwrap_list(value: Any) -> Any:
    """Accept a list object ``{"object": "list", "data": [...]}`` or a bare array."""
    if value is None:
        return []
    if isinstance(value, dict):
        data = value.get("data")
        return data if isinstance(data, list) else []
    return value


# --------------------------------------------------------------------------- Admin API


class AdminUser(ApiModel):
    """``organization.user``."""

    id: str
    name: str | None = None
    email: str | None = None
    role: str | None = None
    added_at: float | None = None
    is_service_account: bool | None = None
    """Null is allowed by the official SDK's model: read as "not known to be one"."""
    api_key_last_used_at: float | None = None


class InviteProject(ApiModel):
    id: str
    role: str | None = None


class Invite(ApiModel):
    """``organization.invite``; ``created_at`` (newer API versions) falls back to
    ``invited_at`` (older ones)."""

    id: str
    email: str | None = None
    role: str | None = None
    status: str | None = None
    created_at: float | None = None
    invited_at: float | None = None
    expires_at: float | None = None
    accepted_at: float | None = None
    projects: list[InviteProject] = Field(default_factory=list)

    @field_validator("projects", mode="before")
    @classmethod
    def _projects(cls, value: Any) -> Any:
        return _unwrap_list(value)

    @property
    def sent_at(self) -> float | None:
        return self.created_at if self.created_at is not None else self.invited_at


class KeyOwner(ApiModel):
    """Owner of an admin key: ``type`` is ``user`` or ``service_account``."""

    type: str | None = None
    id: str | None = None
    name: str | None = None
    email: str | None = None
    role: str | None = None


class AdminApiKey(ApiModel):
    """``organization.admin_api_key``; ``last_used_at`` null means never used."""

    id: str
    name: str | None = None
    redacted_value: str | None = None
    created_at: float | None = None
    expires_at: float | None = None
    last_used_at: float | None = None
    owner: KeyOwner | None = None


class Project(ApiModel):
    """``organization.project``."""

    id: str
    name: str | None = None
    created_at: float | None = None
    archived_at: float | None = None
    status: str | None = None


class ProjectKeyPrincipal(ApiModel):
    id: str | None = None
    name: str | None = None
    email: str | None = None
    role: str | None = None


class ProjectKeyOwner(ApiModel):
    """``owner`` of a project key: a user or a service account (older and newer API shapes)."""

    type: str | None = None
    user: ProjectKeyPrincipal | None = None
    service_account: ProjectKeyPrincipal | None = None

    @property
    def principal(self) -> ProjectKeyPrincipal | None:
        return self.user if self.type == "user" else self.service_account or self.user


class ProjectApiKey(ApiModel):
    """``organization.project.api_key``; ``project_id``/``project_name`` are added by the client."""

    id: str
    name: str | None = None
    redacted_value: str | None = None
    created_at: float | None = None
    last_used_at: float | None = None
    owner_project_access: str | None = None
    owner: ProjectKeyOwner | None = None
    project_id: str | None = None
    project_name: str | None = None
    project_archived: bool = False


class AuditLogin(ApiModel):
    """The only audit signal we keep: a user's latest ``login.succeeded``."""

    user_id: str
    effective_at: float


# --------------------------------------------------------------------------- Compliance API


class WorkspaceUser(ApiModel):
    """``compliance.workspace.user``."""

    id: str
    email: str | None = None
    name: str | None = None
    created_at: float | None = None
    role: str | None = None
    status: str | None = None


_TOOL_ALIASES = {
    "custom_action": "custom_action",
    "custom-action": "custom_action",
    "action": "custom_action",
    "actions": "custom_action",
    "code_interpreter": "code_interpreter",
    "code-interpreter": "code_interpreter",
    "python": "code_interpreter",
    "browser": "browser",
    "web_browsing": "browser",
    "browsing": "browser",
    "web-browsing": "browser",
    "web_search": "browser",
    "dall-e": "dalle",
    "dalle": "dalle",
    "memory": "memory",
}


def normalize_tool_type(raw: str | None) -> str:
    """Map the tool type spellings seen in the wild onto one canonical name."""
    if not raw:
        return "unknown"
    return _TOOL_ALIASES.get(raw.strip().lower(), raw.strip().lower())


class GptTool(ApiModel):
    type: str = "unknown"
    action_domain: str | None = None
    auth_type: str | None = None
    action_privacy_policy_url: str | None = None

    @field_validator("type", mode="before")
    @classmethod
    def _normalize(cls, value: Any) -> str:
        return normalize_tool_type(value if isinstance(value, str) else None)


class ConfigFile(ApiModel):
    """A knowledge file of a GPT or project config (``file`` or ``file_info`` shapes)."""

    id: str
    name: str | None = None
    created_at: float | None = None
    download_url: str | None = None


class GptConfig(ApiModel):
    """``compliance.workspace.gpt.configuration`` (also used for project configurations)."""

    id: str | None = None
    name: str | None = None
    description: str | None = None
    tools: list[GptTool] = Field(default_factory=list)
    files: list[ConfigFile] = Field(default_factory=list)

    @field_validator("tools", "files", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _unwrap_list(value)


class SharedUser(ApiModel):
    id: str | None = None
    email: str | None = None


class Sharing(ApiModel):
    visibility: str | None = None
    recipients: list[SharedUser] = Field(default_factory=list)

    @field_validator("recipients", mode="before")
    @classmethod
    def _recipients(cls, value: Any) -> Any:
        return _unwrap_list(value)


class Gpt(ApiModel):
    """``compliance.workspace.gpt``; ``config`` is ``latest_config.data[0]`` (or ``[0]``)."""

    id: str
    created_at: float | None = None
    owner_id: str | None = None
    owner_email: str | None = None
    builder_name: str | None = None
    sharing: Sharing | None = None
    config: GptConfig | None = None

    @model_validator(mode="before")
    @classmethod
    def _latest_config(cls, data: Any) -> Any:
        if isinstance(data, dict) and "config" not in data:
            configs = _unwrap_list(data.get("latest_config"))
            if configs:
                data = {**data, "config": configs[0]}
        return data

    @property
    def name(self) -> str | None:
        return self.config.name if self.config else None

    @property
    def visibility(self) -> str | None:
        return self.sharing.visibility if self.sharing else None

    @property
    def tool_types(self) -> set[str]:
        return {t.type for t in self.config.tools} if self.config else set()


class ComplianceProject(Gpt):
    """``compliance.workspace.project``: the same shape as a GPT."""


class ConversationFile(ApiModel):
    """A file attached to a conversation message (``file_info`` carries ``user_id``)."""

    id: str
    name: str | None = None
    user_id: str | None = None
    created_at: float | None = None


class ConversationMessage(ApiModel):
    """One message of a listed conversation: its id and its text (kept in memory only, for
    the message-text DLP match; never stored or dumped)."""

    id: str | None = None
    text: str = ""


class Conversation(ApiModel):
    """``compliance.workspace.conversation``, flattened to what DLP needs.

    ``messages_truncated`` is the nested ``messages.has_more``: the listing holds only the
    first messages of the conversation, so files and text on later messages are not seen.
    """

    id: str
    user_id: str | None = None
    user_email: str | None = None
    title: str | None = None
    created_at: float | None = None
    last_active_at: float | None = None
    files: list[ConversationFile] = Field(default_factory=list)
    messages: list[ConversationMessage] = Field(default_factory=list, repr=False)
    messages_truncated: bool = False

    @model_validator(mode="before")
    @classmethod
    def _message_files(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "files" in data:
            return data
        files: list[dict[str, Any]] = []
        messages: list[dict[str, Any]] = []
        seen: set[str] = set()
        raw_messages = data.get("messages")
        truncated = isinstance(raw_messages, dict) and raw_messages.get("has_more") is True
        for message in _unwrap_list(raw_messages):
            if not isinstance(message, dict):
                continue
            messages.append({"id": message.get("id"), "text": _message_text(message)})
            for item in _unwrap_list(message.get("files")):
                if isinstance(item, dict) and item.get("id") and item["id"] not in seen:
                    seen.add(item["id"])
                    files.append({**item, "user_id": item.get("user_id") or data.get("user_id")})
        return {**data, "files": files, "messages": messages, "messages_truncated": truncated}


def _message_text(message: dict[str, Any]) -> str:
    """The text of a message's ``content`` (``value``, or ``parts`` in other renderings)."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if not isinstance(content, dict):
        return ""
    pieces: list[str] = []
    for key in ("value", "text"):
        if isinstance(content.get(key), str):
            pieces.append(content[key])
    parts = content.get("parts")
    if isinstance(parts, list):
        pieces += [p for p in parts if isinstance(p, str)]
    return "\n".join(pieces)


class ChatGptLogin(ApiModel):
    """A workspace user's newest ChatGPT sign-in, from the Logs Platform's AUTH_LOG records.

    ``email`` is how a workspace user maps onto an organization user (the two APIs share no
    user id); ``user_id`` is the ChatGPT workspace user id when the record names one.
    """

    email: str | None = None
    user_id: str | None = None
    last_login_at: float


class ProjectServiceAccount(ApiModel):
    """``organization.project.service_account``; ``project_id`` is added by the client."""

    id: str
    name: str | None = None
    role: str | None = None
    created_at: float | None = None
    project_id: str | None = None


class ProjectMember(ApiModel):
    """``organization.project.user``; ``project_id`` is added by the client."""

    id: str
    name: str | None = None
    email: str | None = None
    role: str | None = None
    added_at: float | None = None
    project_id: str | None = None
