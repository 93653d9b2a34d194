"""What a connector needs to reach one tenant, and how patiently it should try.

``TenantAccess`` is built inside the worker from the decrypted tenant row and lives only for
the duration of the connector call; the keys are ``SecretStr`` so that its repr, str, and any
accidental log line show ``**********`` instead of the key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, SecretStr, field_validator

from connectors.destinations import api_base_problem, parse_allowed_hosts, printable_key_problem
from core.settings import get_settings

DEFAULT_ADMIN_API_BASE = "https://api.openai.com/v1"
DEFAULT_COMPLIANCE_API_BASE = "https://api.chatgpt.com/v1"


def allowed_hosts() -> frozenset[tuple[str, int | None]]:
    """``CASB_STORAGE_ALLOWED_HOSTS``, parsed."""
    return parse_allowed_hosts(get_settings().storage_allowed_hosts)


class TenantAccess(BaseModel):
    """Endpoints and credentials of one tenant (immutable; keys never rendered)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant_key: str
    """Slug or id: names the tenant in rate budgets, logs, metrics and error hints."""
    org_id: str | None = None
    workspace_id: str | None = None
    admin_api_base: str = DEFAULT_ADMIN_API_BASE
    admin_key: SecretStr | None = None
    compliance_api_base: str = DEFAULT_COMPLIANCE_API_BASE
    compliance_key: SecretStr | None = None

    @field_validator("admin_api_base", "compliance_api_base")
    @classmethod
    def _base(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        problem = api_base_problem(value, allowed_hosts())
        if problem:
            raise ValueError(f"unusable API base URL: {problem}")
        return value

    @field_validator("admin_key", "compliance_key")
    @classmethod
    def _key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value():
            problem = printable_key_problem(value.get_secret_value())
            if problem:
                raise ValueError(f"unusable API key: {problem}")
        return value

    @field_validator("tenant_key")
    @classmethod
    def _tenant_key(cls, value: str) -> str:
        if not value or not value.strip():
            raise ValueError("tenant_key must not be empty")
        return value.strip()


# Largest page size each list route accepts, as the APIs document it: Admin lists take
# 1..100; Compliance users default 200, conversations max 500; GPTs and projects document
# only a default of 20 and no maximum, so 100 is asked for and a 400/422 blaming `limit`
# makes the session list that route without it (remembered per tenant).
DEFAULT_PAGE_LIMITS: dict[str, int] = {
    "admin": 100,
    "audit_logs": 100,
    "compliance_users": 200,
    "compliance_gpts": 100,
    "compliance_projects": 100,
    "compliance_conversations": 500,
}


@dataclass(frozen=True)
class ClientOptions:
    """Timeouts, retry policy and guards shared by both clients.

    The defaults mirror the official SDK's policy (retry 408/409/429/5xx, honour
    ``retry-after-ms``/``Retry-After``) with more attempts, because a scanner can afford
    to wait a little and cannot afford to fail a whole tenant on one blip.
    """

    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    write_timeout: float = 30.0
    pool_timeout: float = 30.0
    max_attempts: int = 5
    """Total attempts per request (first try included)."""
    retry_after_cap: float = 60.0
    """A server-requested wait above this raises RateLimitedError so the task can defer."""
    rate_limit_patience: float = 150.0
    """How long one call keeps retrying 429s (waiting out windows) before it defers."""
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    budget_max_wait: float = 30.0
    """How long a call may block waiting for the tenant's shared rate budget."""
    retry_malformed_json: bool = True
    """Retry a body that is not valid JSON (a truncated response is usually transient)."""
    page_limits: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PAGE_LIMITS))
    max_pages: int = 10_000
    """Guard against a server that never stops saying ``has_more``."""
    max_file_bytes: int = 100 * 1024 * 1024
    download_timeout: float = 300.0
    """Wall-clock limit for one file download (redirect + streamed body)."""
    chunk_size: int = 64 * 1024
    conversation_page_limit: int = 100
    """Conversations asked for per page (the API allows 500, but one conversation can be
    megabytes: small pages keep memory bounded)."""
    conversation_page_max_bytes: int = 16 * 1024 * 1024
    """A conversation page larger than this is dropped unread and asked for with half the
    limit."""
    max_log_file_bytes: int = 512 * 1024 * 1024
    """Largest Compliance Logs Platform file downloaded (spooled to disk, read as a stream)."""
    user_agent: str = "openai-casb/0.1"
    limitless_routes: frozenset[str] = frozenset()
    """Route templates this tenant's API answered 400/422 for ``limit``: list them without it."""
    on_limit_rejected: Callable[[str], None] | None = field(default=None, compare=False)
    """Told the route template when a listing had to drop ``limit`` (to remember it)."""
    max_json_bytes: int = 64 * 1024 * 1024
    """Cap on one decoded JSON answer (a list page): a larger one is a malformed response."""
    max_error_bytes: int = 64 * 1024
    """How much of an error answer is read (its message is shown, the rest dropped)."""
    max_redirects: int = 3
    """Redirect hops a file download may follow in all (the API's own 307 included)."""
    storage_allowed_hosts: tuple[str, ...] | None = None
    """Download destinations allowed whatever their scheme and address (``host`` or
    ``host:port``); None reads ``CASB_STORAGE_ALLOWED_HOSTS``."""

    def page_limit(self, name: str) -> int:
        return self.page_limits.get(name, DEFAULT_PAGE_LIMITS.get(name, 100))
