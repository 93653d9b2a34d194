"""The posture snapshot: everything the pure detectors read about one tenant.

Fetch tasks store each part in Redis under scan-scoped keys; the detect task rebuilds
this object from those parts. A part is `None` when its fetch failed, which tells the
detectors (and the lifecycle) that nothing may be concluded about it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from schemas.openai import (
    AdminApiKey,
    AdminUser,
    AuditLogin,
    ChatGptLogin,
    Gpt,
    Invite,
    ProjectApiKey,
)


class PostureSnapshot(BaseModel):
    model_config = ConfigDict(frozen=True)

    now: float
    users: list[AdminUser] | None = None
    logins: list[AuditLogin] | None = None  # None or [] when audit logs are unavailable
    invites: list[Invite] | None = None
    admin_keys: list[AdminApiKey] | None = None
    project_keys: list[ProjectApiKey] | None = None
    gpts: list[Gpt] | None = None
    # ChatGPT sign-ins (Logs Platform AUTH_LOG); None or [] when the Logs Platform is unavailable
    chatgpt_logins: list[ChatGptLogin] | None = None
