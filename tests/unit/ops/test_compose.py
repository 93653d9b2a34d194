"""docker-compose.yml: every service with the right command, no secrets, and (when a compose
implementation is installed) `docker compose config -q` accepts it with a temporary .env."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"

EXPECTED_COMMANDS: dict[str, list[str]] = {
    "migrate": ["casb", "db", "upgrade"],
    "worker-fetch": [
        "celery",
        "-A",
        "workers",
        "worker",
        "-Q",
        "fetch",
        "--pool",
        "threads",
        "-c",
        "32",
    ],
    "worker-dlp": ["celery", "-A", "workers", "worker", "-Q", "dlp", "--pool", "prefork"],
    "worker-detect": ["celery", "-A", "workers", "worker", "-Q", "detect"],
    "worker-scans": ["celery", "-A", "workers", "worker", "-Q", "scans"],
    "worker-notify": ["celery", "-A", "workers", "worker", "-Q", "notify"],
    "beat": ["celery", "-A", "workers", "beat"],
    "flower": ["celery", "-A", "workers", "flower", "--conf=/app/flowerconfig.py"],
    "metrics": ["casb", "metrics", "serve"],
    "simulator": ["casb", "simulator", "serve"],
}
SERVICES = {"redis", "postgres", *EXPECTED_COMMANDS}


def _compose_cli() -> list[str] | None:
    """`docker compose` (v2 plugin) if it answers, else `docker-compose`, else None."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def _check_services(services: dict[str, Any]) -> None:
    assert set(services) == SERVICES
    for name, expected in EXPECTED_COMMANDS.items():
        command = services[name]["command"]
        assert isinstance(command, list), name
        assert command[: len(expected)] == expected, (name, command)
    for name, service in services.items():
        if name != "migrate":
            assert "healthcheck" in service, f"{name} has no healthcheck"
    # Queue workers are named per queue so Flower and `inspect ping -d` can address them.
    for queue in ("fetch", "dlp", "detect", "scans", "notify"):
        command = services[f"worker-{queue}"]["command"]
        assert command[command.index("-n") + 1] == f"{queue}@%h"
        assert "-E" in command
    assert services["beat"]["deploy"]["replicas"] == 1
    assert services["simulator"]["profiles"] == ["demo"]
    for name, service in services.items():
        if name not in ("redis", "postgres", "migrate", "simulator"):
            deps = service["depends_on"]
            assert deps["migrate"]["condition"] == "service_completed_successfully", name
            assert deps["redis"]["condition"] == "service_healthy", name
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert any("/var/lib/postgresql/data" in str(v) for v in services["postgres"]["volumes"])


def test_compose_file_structure_and_no_inline_secrets() -> None:
    text = COMPOSE.read_text()
    data = yaml.safe_load(text)
    _check_services(data["services"])
    for name, service in data["services"].items():
        assert "environment" not in service, f"{name}: secrets belong in the env file"
        assert service.get("env_file") == [".env"], name
    # The password reaches redis through the container's shell ($$), never the file.
    assert '"$$REDIS_PASSWORD"' in " ".join(data["services"]["redis"]["command"])
    assert not re.search(r"(?i)(password|secret|key)\s*[:=]\s*[^$\s\"'\]]", text)
    assert "change-me" not in text


def test_env_example_names_every_setting_with_placeholders() -> None:
    values = dict(
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line and not line.startswith("#")
    )
    for key in (
        "CASB_DATABASE_URL", "CASB_BROKER_URL", "CASB_RESULT_BACKEND", "CASB_SECRET_KEY",
        "CASB_LOG_FORMAT", "REDIS_PASSWORD", "POSTGRES_PASSWORD", "FLOWER_BASIC_AUTH",
    ):  # fmt: skip
        assert key in values, key
    for key in ("CASB_SECRET_KEY", "REDIS_PASSWORD", "POSTGRES_PASSWORD", "FLOWER_BASIC_AUTH"):
        assert "change-me" in values[key], f"{key} must be a placeholder"
    assert values["REDIS_PASSWORD"] in values["CASB_BROKER_URL"]
    assert ".env" in (ROOT / ".gitignore").read_text().split()


def test_dockerfile_matches_the_compose_paths() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "WORKDIR /app" in dockerfile  # flower's --conf=/app/flowerconfig.py
    assert re.search(r"^USER\s+\S+", dockerfile, re.M)  # not root
    assert ".env" in (ROOT / ".dockerignore").read_text().split()


def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    cli = _compose_cli()
    if cli is None:
        pytest.skip("no compose implementation installed (docker compose plugin or docker-compose)")
    shutil.copy(COMPOSE, tmp_path / "docker-compose.yml")
    shutil.copy(ENV_EXAMPLE, tmp_path / ".env")
    quiet = subprocess.run(
        [*cli, "config", "-q"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert quiet.returncode == 0, quiet.stderr
    full = subprocess.run(
        [*cli, "--profile", "demo", "config"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert full.returncode == 0, full.stderr
    resolved = yaml.safe_load(full.stdout)["services"]
    _check_services(resolved)
    # After resolution the env file's values are in the environment, not in the file.
    assert resolved["worker-fetch"]["environment"]["CASB_BROKER_URL"].startswith("redis://")
    assert "$REDIS_PASSWORD" in " ".join(resolved["redis"]["command"])
    # A missing .env is an error, not a silent fleet without secrets.
    (tmp_path / ".env").unlink()
    assert (
        subprocess.run(
            [*cli, "config", "-q"], cwd=tmp_path, capture_output=True, timeout=120
        ).returncode
        != 0
    )
