"""Process settings, read from the environment (prefix ``CASB_``) by pydantic-settings.

Defaults work on a laptop: local PostgreSQL/Redis URLs for the fleet, and the embedded
demo falls back to SQLite plus in-process execution when nothing is configured.
"""

from __future__ import annotations

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
    storage_allowed_hosts: str = Field(
        default="",
        description=(
            "Comma list of `host` or `host:port` file-download destinations allowed whatever "
            "their scheme and address (the simulator's loopback storage); every other "
            "destination must be https to a public address."
        ),
    )
    max_deliveries: int = Field(
        default=3,
        ge=2,
        description=(
            "Deliveries of a task whose worker keeps dying on it (an OOM kill, a hard time "
            "limit): on the last one, the DLP file that was in flight at each death is "
            "skipped as `worker_lost` and the rest of its batch runs; any other task is "
            "given up as failed."
        ),
    )

    @field_validator("storage_allowed_hosts")
    @classmethod
    def _allowed_hosts(cls, value: str) -> str:
        for entry in filter(None, (e.strip() for e in value.split(","))):
            host, port = entry, ""
            if entry.startswith("["):  # [IPv6] or [IPv6]:port
                host, _, rest = entry[1:].partition("]")
                port = rest[1:] if rest.startswith(":") else ("bad" if rest else "")
            elif entry.count(":") == 1:
                host, port = entry.split(":")
            bad_host = not host or any(c.isspace() or c in "/?#@[]" for c in host)
            bad_port = bool(port) and not (port.isdigit() and 0 < int(port) < 65536)
            if bad_host or bad_port:
                raise ValueError("each entry must be a `host` or `host:port` (port 1-65535)")
        return value

    @property
    def effective_redis_url(self) -> str:
        return self.redis_url or self.broker_url

    def fernet(self) -> Fernet:
        """The Fernet that encrypts tenant credentials; a clear error if the key is unusable."""
        return make_fernet(self.secret_key)


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
