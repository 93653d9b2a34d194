from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr, ValidationError

from core.settings import ConfigurationError, Settings, make_fernet
from store.crypto import decrypt_secret, encrypt_secret, redact_key
from store.tenants import TenantInputError, parse_schedule, parse_threshold_pairs


def test_missing_secret_key_says_how_to_make_one() -> None:
    with pytest.raises(ConfigurationError) as err:
        make_fernet(None)
    assert "casb keygen" in str(err.value)
    assert "\n" not in str(err.value)


def test_malformed_secret_key_is_one_clear_line() -> None:
    with pytest.raises(ConfigurationError) as err:
        make_fernet(SecretStr("not-a-key"))
    assert "not a valid Fernet key" in str(err.value)
    assert "not-a-key" not in str(err.value)


def test_settings_read_the_casb_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CASB_REDIS_URL", raising=False)
    monkeypatch.setenv("CASB_LOG_FORMAT", "json")
    monkeypatch.setenv("CASB_BROKER_URL", "redis://example:6379/3")
    settings = Settings()
    assert settings.log_format == "json"
    assert settings.effective_redis_url == "redis://example:6379/3"


def test_encryption_round_trip_and_redaction() -> None:
    fernet = Fernet(Fernet.generate_key())
    secret = SecretStr("sk-admin-" + "x" * 40 + "Z9q1")
    token = encrypt_secret(fernet, secret)
    assert "sk-admin" not in token and "Z9q1" not in token
    assert decrypt_secret(fernet, token).get_secret_value() == secret.get_secret_value()
    assert redact_key(secret) == "sk-admin…Z9q1"
    with pytest.raises(ConfigurationError):
        decrypt_secret(Fernet(Fernet.generate_key()), token)


@pytest.mark.parametrize(
    ("text", "seconds"), [("24h", 86400), ("30m", 1800), ("2d", 172800), ("3600", 3600)]
)
def test_schedule_parsing(text: str, seconds: int) -> None:
    assert parse_schedule(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "1m", "-5h"])
def test_bad_schedules_are_rejected(text: str) -> None:
    with pytest.raises(TenantInputError):
        parse_schedule(text)


def test_threshold_pairs() -> None:
    assert parse_threshold_pairs(["unused_key_days=45"]) == {"unused_key_days": 45}
    with pytest.raises(TenantInputError):
        parse_threshold_pairs(["unused_key_days"])
    with pytest.raises(TenantInputError):
        parse_threshold_pairs(["unused_key_days=soon"])


def test_malformed_setting_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from core.settings import get_settings, reset_settings_cache

    monkeypatch.setenv("CASB_LOG_FORMAT", "yaml-please")
    monkeypatch.setenv("CASB_DLP_BATCH_SIZE", "many")
    reset_settings_cache()
    try:
        with pytest.raises(ConfigurationError) as err:
            get_settings()
    finally:
        monkeypatch.undo()
        reset_settings_cache()
    message = str(err.value)
    assert "CASB_LOG_FORMAT" in message and "CASB_DLP_BATCH_SIZE" in message
    assert "yaml-please" not in message and "many" not in message  # values are not echoed
    assert "\n" not in message


# The console script itself (a real process): a configuration error is one line on stderr and
# exit code 2, never a traceback. The database URL points nowhere: nothing is contacted.
@pytest.mark.parametrize(
    ("env", "args", "message"),
    [
        ({}, ["tenant", "add", "acme", "--admin-key-env", "HOME"], "casb keygen"),
        (
            {"CASB_SECRET_KEY": "not-a-fernet-key"},
            ["tenant", "add", "acme", "--admin-key-env", "HOME"],
            "not a valid Fernet key",
        ),
        ({"CASB_LOG_FORMAT": "yaml"}, ["tenant", "list"], "CASB_LOG_FORMAT"),
    ],
)
def test_cli_configuration_errors_exit_2_without_traceback(
    env: dict[str, str], args: list[str], message: str
) -> None:
    import os
    import subprocess
    import sys

    clean = {k: v for k, v in os.environ.items() if not k.startswith("CASB_")}
    clean["CASB_DATABASE_URL"] = "postgresql+psycopg://nobody@127.0.0.1:9/none"
    proc = subprocess.run(
        [sys.executable, "-m", "workers.cli", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "not-a-fernet-key" not in proc.stderr


@pytest.mark.parametrize(
    "value", ["", "127.0.0.1:8099", "simulator:8099, files.example", "[::1]:9000", "::1"]
)
def test_storage_allowed_hosts_accepts_hosts_and_ports(value: str) -> None:
    assert Settings(storage_allowed_hosts=value).storage_allowed_hosts == value


@pytest.mark.parametrize(
    "value", ["host:0", "host:99999", "host:http", "http://host", "a b", "[::1]x", "user@host"]
)
def test_storage_allowed_hosts_refuses_urls_and_bad_ports(value: str) -> None:
    with pytest.raises(ValidationError):
        Settings(storage_allowed_hosts=value)


def test_http2_is_auto_or_off() -> None:
    assert Settings().http2 == "off"  # the measured cheaper default (docs/benchmarks.md)
    assert Settings(http2="auto").http2 == "auto"
    with pytest.raises(ValidationError):
        Settings(http2="on")


def test_ca_bundle_must_name_an_existing_file(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not checked here")
    assert Settings(ca_bundle=f" {bundle} ").ca_bundle == str(bundle)
    assert Settings(ca_bundle="").ca_bundle == ""
    for missing in (str(tmp_path / "none.pem"), str(tmp_path)):
        with pytest.raises(ValidationError):
            Settings(ca_bundle=missing)


def test_reader_and_engine_switches_come_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The DLP engine and the extractors' reader switches are read by Settings only and
    passed down (``ExtractLimits`` fields, ``compile_policy(engine=)``); the variable names
    are unchanged, values case-insensitive, a wrong one a clear configuration error."""
    from core.settings import get_settings, reset_settings_cache
    from pipeline.common import extract_limits

    for name, value in {
        "CASB_DLP_ENGINE": " RE2 ",
        "CASB_PDF_ENGINE": "PyPDF",
        "CASB_PDF_FAST": "0",
        "CASB_OOXML_SCANNER": "expat",
        "CASB_ZIP_INFLATE": "zlib",
    }.items():
        monkeypatch.setenv(name, value)
    reset_settings_cache()
    try:
        assert get_settings().dlp_engine == "re2"
        limits = extract_limits(max_input_bytes=5)
        got = (limits.pdf_engine, limits.pdf_fast, limits.ooxml_scanner, limits.zip_inflate)
        assert got == ("pypdf", False, "expat", "zlib") and limits.max_input_bytes == 5
        monkeypatch.setenv("CASB_OOXML_SCANNER", "lxml")
        reset_settings_cache()
        with pytest.raises(ConfigurationError, match="CASB_OOXML_SCANNER"):
            get_settings()
    finally:
        monkeypatch.undo()
        reset_settings_cache()
    defaults = extract_limits()
    assert (defaults.pdf_engine, defaults.pdf_fast, defaults.ooxml_scanner) == (
        "pdfium",
        True,
        "bulk",
    )


def test_only_settings_reads_casb_variables() -> None:
    """No product module reads a ``CASB_*`` variable (or an ``*_ENV`` name of one) itself:
    Settings is the one reader. Writing the environment for child processes is allowed."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    packages = ("schemas", "core", "detectors", "connectors", "store", "pipeline", "tasks")
    sources = sorted(
        p for pkg in (*packages, "workers", "exports") for p in (root / pkg).rglob("*.py")
    )
    offenders = []
    for path in sources:
        if path == root / "core" / "settings.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            target = None
            if isinstance(node, ast.Call) and ast.unparse(node.func) in (
                "os.environ.get",
                "os.getenv",
            ):
                target = node.args[0] if node.args else None
            elif (
                isinstance(node, ast.Subscript)
                and isinstance(node.ctx, ast.Load)
                and ast.unparse(node.value) == "os.environ"
            ):
                target = node.slice
            if target is None:
                continue
            text = ast.unparse(target)
            if "CASB_" in text or text.endswith("_ENV"):
                offenders.append(f"{path.relative_to(root)}:{node.lineno}: {text}")
    assert offenders == []
