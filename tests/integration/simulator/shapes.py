"""A small shape checker written from the published shapes of the Admin and Compliance APIs
(routes in docs/openai-api.md).

Deliberately independent of simulator/ (it imports nothing from it), so the simulator's output is
checked against the reference and not against itself.

Spec language: a dict maps field -> type; a field named "?x" may be absent. Types:
  "str" "int" "float" "num" "bool"   (suffix "?" = nullable)
  "ts"  Admin API timestamp: int (float accepted only when the checker allows admin float drift)
  "cts" Compliance timestamp: float (ints accepted, they are valid JSON numbers)
  ("enum", a, b, ...)                literal values
  ("array", spec)                    JSON array of spec
  ("listobj", spec)                  {"object":"list","data":[spec],"last_id":str?,"has_more":bool}
  ("either", spec1, spec2)           one of two shapes (documented drift)
  dict                               nested object
"""

from __future__ import annotations

from typing import Any

Spec = Any

ERROR_BODY: Spec = {"error": {"message": "str", "type": "str", "param": "str?", "code": "str?"}}

ADMIN_LIST: Spec = {
    "object": ("enum", "list"),
    "data": "array",
    "first_id": "str?",
    "last_id": "str?",
    "has_more": "bool",
}
COMPLIANCE_LIST: Spec = {
    "object": ("enum", "list"),
    "data": "array",
    "last_id": "str?",
    "has_more": "bool",
}

USER: Spec = {
    "object": ("enum", "organization.user"),
    "id": "str",
    "name": "str?",
    "email": "str?",
    "role": "str?",
    "added_at": "ts",
    "?is_default": "bool",
    "?created": "ts",
    "?user": {
        "object": ("enum", "user"),
        "id": "str",
        "?email": "str?",
        "?name": "str?",
        "?picture": "str?",
        "?enabled": "bool?",
        "?banned": "bool?",
        "?banned_at": "ts?",
    },
    "?is_service_account": "bool?",  # null is allowed by the official SDK's model
    "?is_scale_tier_authorized_purchaser": "bool?",
    "?is_scim_managed": "bool",
    "?api_key_last_used_at": "ts?",
    "?technical_level": "str?",
    "?developer_persona": "str?",
}

INVITE: Spec = {
    "object": ("enum", "organization.invite"),
    "id": "str",
    "email": "str",
    "role": ("enum", "owner", "reader"),
    "status": ("enum", "accepted", "expired", "pending"),
    "?created_at": "ts",
    "?invited_at": "ts",
    "expires_at": "ts?",
    "accepted_at": "ts?",
    "projects": ("array", {"id": "str", "role": ("enum", "member", "owner")}),
}

ADMIN_KEY: Spec = {
    "object": ("enum", "organization.admin_api_key"),
    "id": "str",
    "name": "str?",
    "redacted_value": "str",
    "created_at": "ts",
    "?expires_at": "ts?",
    "last_used_at": "ts?",
    "owner": {
        "type": ("enum", "user", "service_account"),
        "object": ("enum", "organization.user", "organization.service_account"),
        "id": "str",
        "name": "str",
        "created_at": "ts",
        "role": "str",
    },
}

PROJECT: Spec = {
    "id": "str",
    "object": ("enum", "organization.project"),
    "name": "str?",
    "created_at": "ts",
    "archived_at": "ts?",
    "status": ("enum", "active", "archived"),
    "?external_key_id": "str?",
    "?residency": "str",
}

PROJECT_USER: Spec = {
    "object": ("enum", "organization.project.user"),
    "id": "str",
    "name": "str?",
    "email": "str?",
    "role": ("enum", "owner", "member"),
    "added_at": "ts",
}

SERVICE_ACCOUNT: Spec = {
    "object": ("enum", "organization.project.service_account"),
    "id": "str",
    "name": "str",
    "role": ("enum", "owner", "member", "none"),
    "created_at": "ts",
}

PROJECT_KEY: Spec = {
    "object": ("enum", "organization.project.api_key"),
    "id": "str",
    "name": "str",
    "redacted_value": "str",
    "created_at": "ts",
    "last_used_at": "ts?",
    "?owner_project_access": ("enum", "active", "inactive"),
    "owner": {
        "type": ("enum", "user", "service_account"),
        "?user": {
            "id": "str",
            "email": "str?",
            "name": "str?",
            "role": "str",
            "?created_at": "ts",
            "?added_at": "ts",
            "?object": ("enum", "organization.project.user"),
        },
        "?service_account": {
            "id": "str",
            "name": "str",
            "role": "str",
            "created_at": "ts",
            "?object": ("enum", "organization.project.service_account"),
        },
    },
}

AUDIT_LOG: Spec = {
    "id": "str",
    "type": "str",
    "effective_at": "ts",
    "?project": {"id": "str", "name": "str?"},
    "?actor": {
        "type": ("enum", "session", "api_key"),
        "?session": {
            "user": {"id": "str", "email": "str"},
            "ip_address": "str",
            "?user_agent": "str",
        },
        "?api_key": {"id": "str", "type": ("enum", "user", "service_account")},
    },
}

WS_USER: Spec = {
    "object": ("enum", "compliance.workspace.user"),
    "id": "str",
    "email": "str",
    "name": "str",
    "created_at": "cts",
    "role": ("enum", "account-owner", "account-admin", "standard-user"),
    "status": ("enum", "active", "inactive"),
}


def _permissions(kind: str) -> Spec:
    return {
        "object": ("enum", f"compliance.workspace.{kind}.permissions"),
        "can_read": "bool",
        "can_view_config": "bool",
        "can_write": "bool",
    }


def _tool(kind: str) -> Spec:
    spec: Spec = {
        "type": "str",  # code_interpreter | browser | dall-e | memory | custom_action (+ spelling variants)
        "created_at": "cts",
        "?action_domain": "str?",
        "?action_openapi_raw": "str?",
        "?action_privacy_policy_url": "str?",
    }
    if kind == "gpt":
        spec["?auth_type"] = "str?"
    return spec


def _file(kind: str, file_format: str) -> Spec:
    if file_format == "id":
        return {
            "object": ("enum", f"compliance.workspace.{kind}.file_info"),
            "id": "str",
            "name": "str",
        }
    return {
        "object": ("enum", f"compliance.workspace.{kind}.file"),
        "id": "str",
        "name": "str",
        "created_at": "cts?",
        "download_url": "str?",
    }


def config(kind: str, file_format: str) -> Spec:
    return {
        "object": ("enum", f"compliance.workspace.{kind}.configuration"),
        "id": "str",
        "name": "str",
        "description": "str",
        "categories": ("array", "str"),
        "conversation_starters": ("array", "str"),
        "created_at": "cts",
        "instructions": "str",
        "?version_author": {
            "object": ("enum", f"compliance.workspace.{kind}.version_author"),
            "id": "str",
            "email": "str",
        },
        "files": ("listobj", _file(kind, file_format)),
        "tools": ("listobj", _tool(kind)),
    }


def shared_user(kind: str) -> Spec:
    return {
        "object": ("enum", f"compliance.workspace.{kind}.shared_user"),
        "id": "str",
        "email": "str",
        "permissions": _permissions(kind),
    }


def gpt(kind: str, file_format: str) -> Spec:
    return {
        "object": ("enum", f"compliance.workspace.{kind}"),
        "id": "str",
        "created_at": "cts",
        "owner_id": "str",
        "owner_email": "str",
        "builder_name": "str",
        "sharing": {
            "object": ("enum", f"compliance.workspace.{kind}.sharing"),
            "visibility": (
                "enum",
                "invite-only",
                "workspace-with-link",
                "workspace",
                "anyone-with-link",
                "gpt-store",
            ),
            "permissions": _permissions(kind),
            "recipients": ("either", ("array", shared_user(kind)), ("listobj", shared_user(kind))),
        },
        "latest_config": (
            "either",
            ("listobj", config(kind, file_format)),
            ("array", config(kind, file_format)),
        ),
    }


def conversation(file_format: str) -> Spec:
    if file_format == "id":
        file_spec: Spec = {
            "object": ("enum", "compliance.workspace.conversation.message.file_info"),
            "id": "str",
            "name": "str",
            "user_id": "str",
        }
    else:
        file_spec = {
            "object": ("enum", "compliance.workspace.conversation.message.file"),
            "id": "str",
            "name": "str",
            "created_at": "cts?",
            "download_url": "str?",
        }
    message = {
        "?object": "str",
        "id": "str",
        "parent_id": "str?",
        "?created_at": "cts?",
        "?gpt_id": "str?",
        "?project_id": "str?",
        "author": {
            "object": "str",
            "role": ("enum", "user", "assistant", "system", "tool"),
            "tool_name": ("enum", "python", "browser", "dalle", None),
        },
        "content": (
            "either",
            {"object": "str", "type": "str", "value": "str", "annotations": "array"},
            "null",
        ),
        "files": ("listobj", file_spec),
    }
    return {
        "object": ("enum", "compliance.workspace.conversation"),
        "id": "str",
        "workspace_id": "str",
        "user_id": "str",
        "user_email": "str",
        "created_at": "cts",
        "last_active_at": "cts",
        "title": "str",
        "messages": ("listobj", message),
    }


MEMORY: Spec = {
    "object": ("enum", "compliance.workspace.user.memory"),
    "id": "str",
    "memory_contexts": (
        "array",
        {
            "object": ("enum", "compliance.workspace.user.memory.context"),
            "id": "str",
            "memory_entries": (
                "array",
                {
                    "object": ("enum", "compliance.workspace.user.memory.context.entry"),
                    "id": "str",
                    "content": "str",
                    "updated_at": "cts",
                },
            ),
        },
    ),
}


class ShapeChecker:
    """Collects violations; `admin_float` allows the documented float-timestamp drift."""

    def __init__(self, admin_float: bool = False, allow_unknown: bool = True) -> None:
        self.admin_float = admin_float
        self.allow_unknown = allow_unknown
        self.errors: list[str] = []

    def check(self, value: Any, spec: Spec, path: str = "$") -> list[str]:
        self._check(value, spec, path)
        return self.errors

    def _err(self, path: str, msg: str) -> None:
        self.errors.append(f"{path}: {msg}")

    def _scalar(self, value: Any, token: str, path: str) -> None:
        nullable = token.endswith("?")
        base = token.rstrip("?")
        if value is None:
            if not nullable and base != "null":
                self._err(path, f"null but {token} required")
            return
        ok = {
            "str": isinstance(value, str),
            "bool": isinstance(value, bool),
            "int": isinstance(value, int) and not isinstance(value, bool),
            "float": isinstance(value, float),
            "num": isinstance(value, int | float) and not isinstance(value, bool),
            "ts": (isinstance(value, int) and not isinstance(value, bool))
            or (self.admin_float and isinstance(value, float)),
            "cts": isinstance(value, int | float) and not isinstance(value, bool),
            "array": isinstance(value, list),
            "null": False,
        }.get(base)
        if ok is None:
            raise ValueError(f"bad spec token {token!r}")
        if not ok:
            self._err(path, f"expected {token}, got {type(value).__name__} {value!r:.60}")
        elif base in ("ts", "cts") and not 1_000_000_000 <= value <= 4_000_000_000:
            self._err(path, f"timestamp out of range: {value}")

    def _check(self, value: Any, spec: Spec, path: str) -> None:
        if isinstance(spec, str):
            self._scalar(value, spec, path)
        elif isinstance(spec, dict):
            if not isinstance(value, dict):
                self._err(path, f"expected object, got {type(value).__name__}")
                return
            known = set()
            for key, sub in spec.items():
                optional = key.startswith("?")
                name = key[1:] if optional else key
                known.add(name)
                if name not in value:
                    if not optional:
                        self._err(path, f"missing required field {name!r}")
                    continue
                self._check(value[name], sub, f"{path}.{name}")
            if not self.allow_unknown and set(value) - known:
                self._err(path, f"unknown fields {sorted(set(value) - known)}")
        elif isinstance(spec, tuple):
            kind = spec[0]
            if kind == "enum":
                if value not in spec[1:]:
                    self._err(path, f"{value!r} not in {spec[1:]}")
            elif kind == "array":
                if not isinstance(value, list):
                    self._err(path, f"expected array, got {type(value).__name__}")
                    return
                for i, item in enumerate(value):
                    self._check(item, spec[1], f"{path}[{i}]")
            elif kind == "listobj":
                self._check(value, COMPLIANCE_LIST, path)
                if isinstance(value, dict) and isinstance(value.get("data"), list):
                    for i, item in enumerate(value["data"]):
                        self._check(item, spec[1], f"{path}.data[{i}]")
            elif kind == "either":
                for option in spec[1:]:
                    probe = ShapeChecker(self.admin_float, self.allow_unknown)
                    if not probe.check(value, option, path):
                        return
                self._err(path, f"matches none of the {len(spec) - 1} documented variants")
            else:
                raise ValueError(f"bad spec {spec!r}")
        else:
            raise ValueError(f"bad spec {spec!r}")


def check_list(body: Any, item_spec: Spec, admin: bool, admin_float: bool = False) -> list[str]:
    """Envelope + every item; Admin envelopes carry first_id, Compliance ones must not."""
    checker = ShapeChecker(admin_float=admin_float)
    checker.check(body, ADMIN_LIST if admin else COMPLIANCE_LIST)
    if isinstance(body, dict):
        if not admin and "first_id" in body:
            checker.errors.append("$: compliance envelopes have no first_id")
        data = body.get("data")
        if isinstance(data, list):
            for i, item in enumerate(data):
                checker.check(item, item_spec, f"$.data[{i}]")
            if data and body.get("last_id") != data[-1].get("id") and admin:
                checker.errors.append("$.last_id is not the last item's id")
            if admin and data and body.get("first_id") != data[0].get("id"):
                checker.errors.append("$.first_id is not the first item's id")
    return checker.errors
