"""Process settings, read from the environment (prefix ``CASB_``) by pydantic-settings.

Defaults work on a laptop: local PostgreSQL/Redis URLs for the fleet, and the embedded
demo falls back to SQLite plus in-process execution when nothing is configured.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import UserError


class ConfigurationError(UserError):
    """A setting is missing or malformed. The message is one line that says what to do."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CASB_", env_file=None, extra="ignore")

    database_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/casb"
    broker_url: str = "redis://127.0.0.1:6379/0"
    result_backend: str = "redis://127.0.0.1:6379/1"
    redis_url: str | None = Field(
        default=None,
        description="Redis for rate budgets, snapshots and locks; defaults to the broker URL.",
    )
    secret_key: SecretStr | None = None
    log_format: Literal["json", "console"] = "console"
    log_level: str = "INFO"

    snapshot_ttl_seconds: int = 6 * 3600
    dispatch_batch_size: int = 200
    max_file_bytes: int = 100 * 1024 * 1024
    dlp_batch_size: int = 25
    dlp_max_in_flight_per_tenant: int = Field(
        default=4,
        ge=1,
        description="DLP batches of one scan queued or running at once (fairness across tenants).",
    )
    scan_stale_after_seconds: int = 3 * 3600
    metrics_port: int = 9808

    # Per-tenant API budgets as REQUESTS/SECONDS, shared by every worker through Redis (the
    # documented limits of each route group; connectors.ratelimit explains the groups).
    rate_limit_admin: str = "300/60"
    rate_limit_audit: str = "60/60"
    rate_limit_compliance_list: str = Field(
        default="50/60", description="Per Compliance list endpoint (users, gpts, ...)."
    )
    rate_limit_compliance_file: str = Field(
        default="100/60", description="The three Compliance file-content routes together."
    )
    rate_burst_share: float = Field(
        default=1 / 6, ge=0, le=1, description="Share of a limit granted at once (0 = paced)."
    )
    rate_headroom: float = Field(
        default=1.0, gt=0, le=1, description="Share of each limit the budgets use."
    )
    rate_decrease_factor: float = Field(
        default=0.5, gt=0, lt=1, description="A 429 multiplies the tenant's limit by this."
    )
    rate_recovery_share: float = Field(
        default=0.1, gt=0, le=1, description="Share of the limit recovered per period after."
    )
    rate_window_margin: float = Field(
        default=0.01, ge=0, le=1, description="Sliding windows this share longer (jitter)."
    )

    @field_validator(
        "rate_limit_admin",
        "rate_limit_audit",
        "rate_limit_compliance_list",
        "rate_limit_compliance_file",
    )
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        parse_rate_limit(value)
        return value.strip()

    def rate_limits(self) -> dict[str, tuple[int, float]]:
        """Route group -> (requests, period seconds) for the connectors' rate budgets."""
        return {
            "admin": parse_rate_limit(self.rate_limit_admin),
            "audit": parse_rate_limit(self.rate_limit_audit),
            "compliance_list": parse_rate_limit(self.rate_limit_compliance_list),
            "compliance_file": parse_rate_limit(self.rate_limit_compliance_file),
        }

    @property
    def effective_redis_url(self) -> str:
        return self.redis_url or self.broker_url

    def fernet(self) -> Fernet:
        """The Fernet that encrypts tenant credentials; a clear error if the key is unusable."""
        return make_fernet(self.secret_key)


_RATE_LIMIT_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*$")


def parse_rate_limit(text: str) -> tuple[int, float]:
    """Parse ``"50/60"`` (requests per seconds) into ``(50, 60.0)``."""
    match = _RATE_LIMIT_RE.match(text)
    if not match:
        raise ValueError("rate limit must look like REQUESTS/SECONDS, e.g. 50/60")
    requests, period = int(match.group(1)), float(match.group(2))
    if requests <= 0 or period <= 0:
        raise ValueError("rate limit requests and seconds must be positive, e.g. 50/60")
    return requests, period


KEYGEN_HINT = "generate one with `casb keygen` and export it as CASB_SECRET_KEY"


def make_fernet(secret_key: SecretStr | None) -> Fernet:
    if secret_key is None or not secret_key.get_secret_value().strip():
        raise ConfigurationError(f"CASB_SECRET_KEY is not set: {KEYGEN_HINT}")
    try:
        return Fernet(secret_key.get_secret_value().strip().encode())
    except (ValueError, TypeError):
        raise ConfigurationError(
            f"CASB_SECRET_KEY is not a valid Fernet key (32 url-safe base64 bytes): {KEYGEN_HINT}"
        ) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process settings; a malformed ``CASB_*`` variable is one ConfigurationError line.

    pydantic's own error is a multi-line block (and the CLI would show a traceback); the
    message here names each variable and what it should hold, never the value given.
    """
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigurationError(describe_settings_error(exc)) from None


def describe_settings_error(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        field = str(error["loc"][0]) if error["loc"] else "settings"
        problems.append(f"CASB_{field.upper()}: {error['msg']}")
    return "; ".join(problems) + ": fix the environment variable(s) and retry"


def reset_settings_cache() -> None:
    """For tests and the demo, which change the environment at run time."""
    get_settings.cache_clear()
