"""Process settings, read from the environment (prefix ``CASB_``) by pydantic-settings.

Defaults work on a laptop: local PostgreSQL/Redis URLs for the fleet, and the embedded
demo falls back to SQLite plus in-process execution when nothing is configured.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from cryptography.fernet import Fernet, MultiFernet
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import UserError

if TYPE_CHECKING:
    import redis

# What encrypts and decrypts stored secrets: one key, or the current key plus rotated-out ones.
Cipher = Fernet | MultiFernet


class ConfigurationError(UserError):
    """A setting is missing or malformed. The message is one line that says what to do."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CASB_", env_file=None, extra="ignore")

    database_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/casb"
    database_pooler: Literal["none", "transaction"] = Field(
        default="none",
        description="`transaction` behind PgBouncer in transaction mode: no server-side "
        "prepared statements, nothing kept in the server session.",
    )
    database_pool_size: int = Field(default=5, ge=1, description="Connections kept per process.")
    database_max_overflow: int = Field(
        default=10, ge=0, description="Extra connections a process may open under load."
    )
    broker_url: str = "redis://127.0.0.1:6379/0"
    result_backend: str = "redis://127.0.0.1:6379/1"
    redis_url: str | None = Field(
        default=None,
        description="Redis for rate budgets, snapshots and locks; defaults to the broker URL.",
    )
    redis_sentinel_master: str = Field(
        default="mymaster", description="Master name when the Redis URLs are sentinel:// ones."
    )
    secret_key: SecretStr | None = None
    secret_key_previous: SecretStr | None = Field(
        default=None,
        description="Keys being rotated out (comma-separated): still decrypt, never encrypt.",
    )
    log_format: Literal["json", "console"] = "console"
    log_level: str = "INFO"

    snapshot_ttl_seconds: int = 6 * 3600
    dispatch_batch_size: int = 200
    max_file_bytes: int = 100 * 1024 * 1024
    dlp_batch_size: int = Field(
        default=100,
        ge=1,
        description="Files per DLP batch task (casb.dlp_scan): its task, cache lookup and "
        "bookkeeping are paid once per batch.",
    )
    dlp_commit_every: int = Field(
        default=25,
        ge=1,
        description="A DLP batch writes its cache rows and findings in one transaction per "
        "this many scanned files (and at its end): a worker killed mid-batch loses at most "
        "these files' verdicts.",
    )
    dlp_max_in_flight_per_tenant: int = Field(
        default=4,
        ge=1,
        description="DLP batches of one scan queued or running at once (fairness across tenants).",
    )
    dlp_engine_cache_dir: str = Field(
        default="",
        description="Where compiled Hyperscan databases are kept between processes (empty: "
        "$XDG_CACHE_HOME/openai-casb/hyperscan, else ~/.cache/...); `off`: compile in every "
        "process.",
    )
    # Which DLP engine and readers: read here only, and passed down to the matcher and the
    # extractors as parameters (``compile_policy(engine=)``, ``ExtractLimits`` fields).
    dlp_engine: Literal["auto", "hyperscan", "re2"] = Field(
        default="auto",
        description="Stage-1 DLP engine: `auto` is Hyperscan where its module imports, else RE2.",
    )
    pdf_engine: Literal["pdfium", "pypdf"] = Field(
        default="pdfium",
        description="`pypdf` forces the pure-Python PDF reader (PDFium is used where it has a "
        "wheel).",
    )
    pdf_fast: bool = Field(
        default=True,
        description="Read simple PDF pages from their content streams (`0`: every page "
        "through PDFium's text page).",
    )
    ooxml_scanner: Literal["bulk", "expat"] = Field(
        default="bulk",
        description="`expat` reads every OOXML part with expat through zipfile.",
    )
    zip_inflate: Literal["", "isal", "zlib-ng", "zlib"] = Field(
        default="",
        description="Inflater of OOXML parts (empty: the fastest one installed).",
    )
    worker_memory_limit_mb: int = Field(
        default=2048,
        ge=0,
        description="Address-space cap (RLIMIT_AS) of each prefork worker child; 0 = none.",
    )
    scan_stale_after_seconds: int = Field(
        default=180,
        ge=1,
        description="An active scan without a heartbeat for this long is failed and re-queued.",
    )
    scan_heartbeat_seconds: int = Field(
        default=30, ge=1, description="How often a running stage task refreshes its scan."
    )
    reap_every_seconds: int = Field(
        default=60, ge=10, description="How often beat runs the stale-scan reaper."
    )
    metrics_port: int = 9808
    storage_allowed_hosts: str = Field(
        default="",
        description=(
            "Comma list of `host` or `host:port` file-download destinations allowed whatever "
            "their scheme and address (the simulator's loopback storage); every other "
            "destination must be https to a public address."
        ),
    )
    http2: Literal["auto", "off"] = Field(
        default="off",
        description="`auto`: the Admin and Compliance API clients use HTTP/2 when the server "
        "offers it over TLS (ALPN); `off`: HTTP/1.1 keep-alive only (the default: HTTP/2 "
        "costs the client more CPU per request in Python, docs/benchmarks.md). File "
        "downloads are HTTP/1.1 either way.",
    )
    ca_bundle: str = Field(
        default="",
        description="PEM file of the CAs trusted for the APIs and file storage instead of the "
        "bundled set (a TLS-inspecting proxy's CA, a test CA); empty: the bundled set.",
    )
    max_deliveries: int = Field(
        default=3,
        ge=2,
        description=(
            "Deliveries of a task whose worker keeps dying on it (an OOM kill, a hard time "
            "limit): on the last one, the DLP file that was in flight at each death is "
            "skipped as `worker_lost` and the rest of its batch runs; any other task is "
            "given up as failed. Also the attempts (one per scan) at a DLP file whose "
            "download is too slow before it is skipped as `too_slow`."
        ),
    )
    download_timeout_seconds: float = Field(
        default=300.0,
        gt=0,
        description=(
            "Wall-clock limit of one DLP file download (redirects and body): a slower one "
            "is an error, tried again next scan, and `skipped: too_slow` after "
            "`max_deliveries` attempts in a row."
        ),
    )

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

    retention_resolved_findings_days: int = Field(default=365, ge=1)
    retention_scan_runs_days: int = Field(default=180, ge=1)
    retention_dlp_cache_days: int = Field(default=180, ge=1)
    retention_change_records_days: int = Field(default=365, ge=1)
    retention_alert_deliveries_days: int = Field(default=90, ge=1)
    prune_batch_size: int = Field(default=5000, ge=1)

    alert_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Timeout of one alert POST (connect and read)."
    )
    alert_retry_base_seconds: float = Field(
        default=30.0, ge=0, description="First retry delay of a failed alert; doubles per try."
    )
    alert_retry_max_delay_seconds: float = Field(
        default=3600.0, ge=0, description="Cap on the delay between two alert attempts."
    )
    alert_retry_window_hours: float = Field(
        default=24.0, gt=0, description="How long an alert is retried before it is failed."
    )

    @field_validator("ca_bundle")
    @classmethod
    def _ca_bundle(cls, value: str) -> str:
        value = value.strip()
        if value and not os.path.isfile(value):
            raise ValueError("must name an existing PEM file of CA certificates (or be empty)")
        return value

    @field_validator("dlp_engine", "pdf_engine", "ooxml_scanner", "zip_inflate", mode="before")
    @classmethod
    def _switch(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

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

    def retention(self) -> dict[str, timedelta]:
        """Age after which each kind of row is pruned (``casb db prune``, the daily beat task)."""
        return {
            "resolved_findings": timedelta(days=self.retention_resolved_findings_days),
            "scan_runs": timedelta(days=self.retention_scan_runs_days),
            "dlp_cache": timedelta(days=self.retention_dlp_cache_days),
            "change_records": timedelta(days=self.retention_change_records_days),
            "alert_deliveries": timedelta(days=self.retention_alert_deliveries_days),
        }

    @property
    def effective_redis_url(self) -> str:
        return self.redis_url or self.broker_url

    def redis(self, url: str | None = None, *, patient: bool = True, **options: Any) -> redis.Redis:
        """A client of ``url`` (default: the rate-budget/snapshot Redis), Sentinel-aware."""
        from core.redisconn import redis_client

        return redis_client(
            url or self.effective_redis_url,
            self.redis_sentinel_master,
            patient=patient,
            **options,
        )

    def fernet(self) -> Cipher:
        """Encrypts stored secrets under CASB_SECRET_KEY; decrypts under it or a previous key.

        With ``CASB_SECRET_KEY_PREVIOUS`` set (during a key rotation) tokens made under an old
        key still decrypt, and everything written is under the new key.
        """
        primary = make_fernet(self.secret_key)
        previous = self.previous_fernets()
        return MultiFernet([primary, *previous]) if previous else primary

    def primary_fernet(self) -> Fernet:
        return make_fernet(self.secret_key)

    def previous_fernets(self) -> list[Fernet]:
        if self.secret_key_previous is None:
            return []
        keys = [k for k in self.secret_key_previous.get_secret_value().split(",") if k.strip()]
        return [make_fernet(SecretStr(k), variable="CASB_SECRET_KEY_PREVIOUS") for k in keys]


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


def make_fernet(secret_key: SecretStr | None, variable: str = "CASB_SECRET_KEY") -> Fernet:
    if secret_key is None or not secret_key.get_secret_value().strip():
        raise ConfigurationError(f"{variable} is not set: {KEYGEN_HINT}")
    try:
        return Fernet(secret_key.get_secret_value().strip().encode())
    except (ValueError, TypeError):
        raise ConfigurationError(
            f"{variable} is not a valid Fernet key (32 url-safe base64 bytes): {KEYGEN_HINT}"
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
