"""The CLI's one presenter of remedies: every code an error carries maps to a command."""

from __future__ import annotations

import pytest

from schemas.stages import Remedy
from workers.cli.remedies import error_remedy, remedy_command, remedy_text


@pytest.mark.parametrize(
    ("remedy", "api", "command"),
    [
        ("set_key", "admin", "casb tenant update acme --admin-key-env VAR"),
        ("set_key", "compliance", "casb tenant update acme --compliance-key-env VAR"),
        ("set_key", "logs", "casb tenant update acme --compliance-key-env VAR"),
        ("grant_scope", "admin", "casb tenant update acme --admin-key-env VAR"),
        ("grant_scope", "compliance", "casb tenant update acme --compliance-key-env VAR"),
        ("check_base_url", "admin", "casb tenant update acme --admin-api-base URL"),
        ("check_base_url", "compliance", "casb tenant update acme --compliance-api-base URL"),
        (
            "check_workspace",
            "compliance",
            "casb tenant update acme --workspace-id ID --compliance-api-base URL",
        ),
        ("check_workspace", "logs", "casb tenant update acme --workspace-id ID --org-id ID"),
        ("set_workspace_id", "compliance", "casb tenant update acme --workspace-id ID"),
        ("set_org_id", "logs", "casb tenant update acme --org-id ID"),
        ("retry", "admin", "casb rescan acme"),
        ("retry_later", None, "casb rescan acme"),
        ("report", "admin", None),
        (None, None, None),  # stored before errors had remedies
        ("no_such_code", "admin", None),
    ],
)
def test_each_remedy_is_one_command(
    remedy: str | None, api: str | None, command: str | None
) -> None:
    assert remedy_command(remedy, api, "acme") == command
    text = remedy_text(remedy, api, "acme")
    assert (f"`{command}`" in text) if command else text == ""


def test_every_code_is_presented() -> None:
    no_command = {Remedy.REPORT}
    for remedy in Remedy:
        assert (remedy_command(remedy.value, "admin", "t") is None) == (remedy in no_command)


def test_error_remedy_for_json_views() -> None:
    error = {"kind": "credential_error", "remedy": "set_key", "api": "compliance"}
    assert error_remedy(error, "acme") == {
        "remedy": "set_key",
        "command": "casb tenant update acme --compliance-key-env VAR",
    }
    assert error_remedy({"kind": "credential_error", "hint": "old"}, "acme") == {
        "remedy": None,
        "command": None,
    }
    assert error_remedy(None, "acme") == {"remedy": None, "command": None}
