"""The command an operator runs for an error's remedy.

Connector and pipeline errors carry a ``remedy`` code (``schemas.stages.Remedy``) and the
``api`` they concern; their ``hint`` is prose naming no command. This module is the one
place that knows which ``casb`` command each code stands for, and every CLI view that shows
an error (``casb health``, ``casb scan``, ``casb scans``, ``casb tenant show``) appends it.
Errors stored before remedies existed have no code and are shown without a command.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from schemas.stages import Remedy

#: The compliance key reads the Compliance API, the Logs Platform and file storage.
_COMPLIANCE_APIS = ("compliance", "logs", "storage")


def _key_flag(api: str | None) -> str:
    return "--compliance-key-env" if api in _COMPLIANCE_APIS else "--admin-key-env"


def _base_flag(api: str | None) -> str:
    return "--compliance-api-base" if api in _COMPLIANCE_APIS else "--admin-api-base"


def remedy_command(remedy: str | None, api: str | None, tenant_slug: str) -> str | None:
    """The exact command for ``remedy`` on ``api`` of tenant ``tenant_slug``; None when the
    remedy has no command (``report``) or is unknown (an old or foreign error)."""
    update = f"casb tenant update {tenant_slug}"
    match remedy:
        case Remedy.SET_KEY | Remedy.GRANT_SCOPE:
            return f"{update} {_key_flag(api)} VAR"
        case Remedy.CHECK_BASE_URL:
            return f"{update} {_base_flag(api)} URL"
        case Remedy.CHECK_WORKSPACE if api == "logs":
            return f"{update} --workspace-id ID --org-id ID"
        case Remedy.CHECK_WORKSPACE:
            return f"{update} --workspace-id ID --compliance-api-base URL"
        case Remedy.SET_WORKSPACE_ID:
            return f"{update} --workspace-id ID"
        case Remedy.SET_ORG_ID:
            return f"{update} --org-id ID"
        case Remedy.RETRY | Remedy.RETRY_LATER:
            return f"casb rescan {tenant_slug}"
    return None


def remedy_text(remedy: str | None, api: str | None, tenant_slug: str) -> str:
    """What to run, as one phrase for a human (empty when there is no command)."""
    command = remedy_command(remedy, api, tenant_slug)
    if command is None:
        return ""
    if remedy == Remedy.GRANT_SCOPE:
        return f"grant the scope, or use a key that has it: `{command}`"
    if remedy == Remedy.RETRY_LATER:
        return f"the next scheduled scan retries, or later: `{command}`"
    return f"run `{command}`"


def error_remedy(error: Mapping[str, Any] | None, tenant_slug: str) -> dict[str, Any]:
    """``{"remedy": code, "command": str}`` for a stored error summary (None values when the
    error has no remedy), for JSON views."""
    code = error.get("remedy") if error else None
    api = error.get("api") if error else None
    return {"remedy": code, "command": remedy_command(code, api, tenant_slug)}
