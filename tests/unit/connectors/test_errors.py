"""Errors and access objects never carry key material."""

from __future__ import annotations

import json
import pickle

import pytest
from pydantic import SecretStr

from connectors.access import TenantAccess
from connectors.errors import (
    AuthenticationError,
    ConnectorError,
    FileSkipped,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    UpstreamError,
    scrub,
)


def test_scrub_removes_keys_tokens_and_headers() -> None:
    text = (
        "Incorrect API key provided: sk-proj-abc123***XYZ. sent Bearer abc.def-ghi "
        "with {'Authorization': 'Bearer sk-admin-zzz'} and sk-admin...def"
    )
    out = scrub(text)
    for secret in ("abc123", "abc.def-ghi", "sk-admin-zzz", "sk-admin...def", "XYZ"):
        assert secret not in out
    assert "Incorrect API key provided" in out
    assert len(scrub("x" * 5000)) <= 501


@pytest.mark.parametrize(
    ("cls", "kind"),
    [
        (AuthenticationError, "credential_error"),
        (PermissionDeniedError, "permission_error"),
        (NotFoundError, "not_found"),
        (RateLimitedError, "rate_limited"),
        (UpstreamError, "api_error"),
        (MalformedResponseError, "malformed_response"),
    ],
)
def test_kinds_hints_and_roundtrips(cls: type[ConnectorError], kind: str) -> None:
    err = cls("upstream said sk-admin-LEAKEDKEY1234 is bad", status=418, route="/r")
    assert isinstance(err, ConnectorError)
    assert err.kind == kind
    assert err.hint  # every error says what to do next
    assert err.remedy and err.to_dict()["remedy"] == err.remedy  # and as a code
    assert err.api is None and err.to_dict()["api"] is None
    for text in (str(err), repr(err), json.dumps(err.to_dict()), str(err.args)):
        assert "LEAKEDKEY" not in text
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is cls and copy.to_dict() == err.to_dict()
    # Celery's JSON exception serialisation rebuilds errors as cls(*args)
    rebuilt = cls(*err.args)
    assert rebuilt.kind == kind and rebuilt.message == err.message


def test_hint_is_scrubbed_too() -> None:
    err = AuthenticationError("x", hint="try sk-admin-SHOULDNOTAPPEAR")
    assert "SHOULDNOTAPPEAR" not in err.hint


def test_file_skipped_is_not_a_connector_error() -> None:
    skip = FileSkipped("expired", "file-1")
    assert not isinstance(skip, ConnectorError)
    assert (skip.reason, skip.file_id) == ("expired", "file-1")
    assert pickle.loads(pickle.dumps(skip)).reason == "expired"


def test_tenant_access_never_renders_keys() -> None:
    access = TenantAccess(
        tenant_key="acme",
        admin_key=SecretStr("sk-admin-TOPSECRET"),
        compliance_key=SecretStr("sk-proj-TOPSECRET2"),
        admin_api_base="http://127.0.0.1:9/v1/",
    )
    for text in (repr(access), str(access), access.model_dump_json()):
        assert "TOPSECRET" not in text
    assert access.admin_api_base == "http://127.0.0.1:9/v1"
    assert access.compliance_api_base == "https://api.chatgpt.com/v1"
    with pytest.raises(ValueError):
        TenantAccess(tenant_key="x", admin_api_base="ftp://nope")
    with pytest.raises(ValueError):
        TenantAccess(tenant_key=" ")
