"""Typed connector errors: what went wrong, where, and what the operator should do next.

A scan records ``kind``, ``api``, ``remedy`` and ``hint`` on the scan run and on the tenant's
health. ``hint`` is prose an operator can read verbatim but names no command: the connectors
do not know the CLI. ``remedy`` (a ``schemas.stages.Remedy`` code) and ``api`` are what the
presenting layer turns into the command to run. Upstream error messages are kept
(they often say which scope is missing) but scrubbed of anything that looks like a key,
because OpenAI echoes a prefix of a wrong key in its 401 body ("Incorrect API key provided:
sk-abc***def") and the connectors must never carry key material out of the call.

``FileSkipped`` is not a ``ConnectorError``: a missing or expired file is an expected outcome
of a DLP download, not a failure of the tenant's scan.
"""

from __future__ import annotations

from typing import Any

from core.logs import redact
from schemas.stages import ErrorSummary, Remedy


def scrub(text: str | None, *, limit: int = 500) -> str:
    """Remove key-like substrings (``core.logs.redact``) and bound a message from upstream."""
    if not text:
        return ""
    out = redact(text)
    if len(out) > limit:
        out = out[:limit] + "…"
    return out


class ConnectorError(Exception):
    """Base of every error a connector raises for a failed call.

    Attributes are safe to log and to store: ``kind`` (a stable machine-readable string),
    ``message`` (scrubbed), ``status`` (HTTP status or None for transport failures),
    ``route`` (a route template such as ``/organization/projects/{project_id}/api_keys``,
    never a URL with ids or query values), ``api`` (which API failed: ``admin``,
    ``compliance``, ``logs``, ``storage``; None when not known), ``remedy`` (a stable
    ``Remedy`` code) and ``hint`` (the operator's next step in words, no command syntax).
    """

    default_kind = "api_error"
    default_hint = "check the upstream service status and retry the scan"
    default_remedy = Remedy.RETRY

    def __init__(
        self,
        message: str,
        *,
        kind: str | None = None,
        status: int | None = None,
        route: str | None = None,
        hint: str | None = None,
        retry_after: float | None = None,
        param: str | None = None,
        api: str | None = None,
        remedy: str | None = None,
    ) -> None:
        self.message = scrub(message)
        self.kind = kind or self.default_kind
        self.status = status
        self.route = route
        self.hint = scrub(hint) if hint else self.default_hint
        self.api = api
        self.remedy = str(remedy or self.default_remedy)
        self.retry_after = retry_after
        self.param = scrub(param, limit=80) if param else None
        """The request parameter the API blamed (``error.param``, or a 422's ``loc``)."""
        # args holds only the scrubbed message so Celery's JSON exception serialisation
        # (type, module, args) can rebuild the error and never sees anything else.
        super().__init__(self.message)

    def __str__(self) -> str:
        where = f" [{self.route}]" if self.route else ""
        status = f" (HTTP {self.status})" if self.status is not None else ""
        return f"{self.kind}{status}{where}: {self.message} -- {self.hint}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(kind={self.kind!r}, status={self.status!r}, "
            f"route={self.route!r}, message={self.message!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.message,), self.__dict__.copy())

    def to_dict(self) -> ErrorSummary:
        """A JSON-safe summary for scan runs, tenant health and task results."""
        return {
            "kind": self.kind,
            "error": type(self).__name__,
            "message": self.message,
            "status": self.status,
            "route": self.route,
            "hint": self.hint,
            "api": self.api,
            "remedy": self.remedy,
            "retry_after": self.retry_after,
        }


class AuthenticationError(ConnectorError):
    """401: the key is wrong, revoked, or not a key for this API."""

    default_kind = "credential_error"
    default_hint = "the API key was revoked or is wrong: update the tenant's key"
    default_remedy = Remedy.SET_KEY


class PermissionDeniedError(ConnectorError):
    """403: the key is valid but lacks a scope, a role or access to the workspace."""

    default_kind = "permission_error"
    default_hint = "the key lacks the permission this route needs: grant it or use another key"
    default_remedy = Remedy.GRANT_SCOPE


class NotFoundError(ConnectorError):
    """404 on a tenant-level route: the workspace or organization does not exist for this key."""

    default_kind = "not_found"
    default_hint = "check the tenant's workspace id / org id and API base URL"
    default_remedy = Remedy.CHECK_BASE_URL


class RateLimitedError(ConnectorError):
    """Rate limited beyond what the client may wait for; ``retry_after`` says when to retry.

    A Celery task should re-queue itself (``self.retry(countdown=retry_after)``) or defer the
    part, rather than sleeping.
    """

    default_kind = "rate_limited"
    default_hint = "the tenant's rate budget is exhausted: the scan part should be retried later"
    default_remedy = Remedy.RETRY_LATER


class UpstreamError(ConnectorError):
    """5xx, timeouts, transport failures after every retry, or an unexpected status."""

    default_kind = "api_error"
    default_hint = "the OpenAI API failed repeatedly: check status.openai.com and retry the scan"


class DownloadTooSlow(UpstreamError):
    """A file download did not finish within its deadline: the host sent too slowly (a
    trickled body) or not at all. Retried on later scans, a bounded number of times."""

    default_kind = "too_slow"
    default_hint = "the storage host sent the file too slowly: the next scan tries again"


class MalformedResponseError(ConnectorError):
    """The response is not what the API documents: bad JSON, wrong shape, a paging loop."""

    default_kind = "malformed_response"
    default_hint = (
        "the API returned an unexpected response: retry the scan; if it persists, "
        "report the route and upstream request id to the maintainers"
    )
    default_remedy = Remedy.RETRY


class FileSkipped(Exception):
    """A file could not be downloaded for an expected reason and is skipped, not failed.

    ``reason`` is ``not_found`` (404), ``expired`` (410, or the download URL expired) or
    ``too_large`` (over the size cap).
    """

    def __init__(self, reason: str, file_id: str, *, size: int | None = None) -> None:
        self.reason = reason
        self.file_id = file_id
        self.size = size
        super().__init__(reason, file_id)

    def __str__(self) -> str:
        return f"file {self.file_id} skipped: {self.reason}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.reason, self.file_id), {"size": self.size})
