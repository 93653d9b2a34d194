"""httpx clients of the OpenAI Admin API and the ChatGPT Compliance API.

Every call pages, retries and draws from the tenant's shared rate budget through
``connectors.http.ApiSession``; failures are typed ``connectors.errors.ConnectorError``s.
"""

from connectors.access import ClientOptions, TenantAccess
from connectors.admin import AdminClient, LoginSignal
from connectors.compliance import ComplianceClient, DownloadResult
from connectors.errors import (
    AuthenticationError,
    ConnectorError,
    FileSkipped,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    UpstreamError,
)
from connectors.http import CallEvent
from connectors.ratelimit import LocalRateBudget, RateBudget, RedisRateBudget

__all__ = [
    "AdminClient",
    "AuthenticationError",
    "CallEvent",
    "ClientOptions",
    "ComplianceClient",
    "ConnectorError",
    "DownloadResult",
    "FileSkipped",
    "LocalRateBudget",
    "LoginSignal",
    "MalformedResponseError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateBudget",
    "RateLimitedError",
    "RedisRateBudget",
    "TenantAccess",
    "UpstreamError",
]
