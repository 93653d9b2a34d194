"""scripts/compose-check's pure parts: the images it substitutes match the compose file's
defaults, the .env it writes from .env.example has no placeholder left, metrics parsing."""

from __future__ import annotations

import re
import shutil
import sys
from importlib.machinery import SourceFileLoader
from importlib.util import module_from_spec, spec_from_loader
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from cryptography.fernet import Fernet

import flowerconfig

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def check() -> ModuleType:
    loader = SourceFileLoader("compose_check", str(ROOT / "scripts" / "compose-check"))
    spec = spec_from_loader("compose_check", loader)
    assert spec is not None
    module = module_from_spec(spec)
    sys.modules["compose_check"] = module  # dataclasses look their module up there
    loader.exec_module(module)
    return module


def test_substituted_images_default_to_the_upstream_ones(check: ModuleType) -> None:
    compose = (ROOT / "docker-compose.yml").read_text()
    defaults = dict(re.findall(r"\$\{(CASB_[A-Z_]+_IMAGE):-([^}]+)\}", compose))
    for variable, upstream, recipe, standin in check.UPSTREAM:
        assert defaults[variable] == upstream, variable
        assert standin.startswith("localhost/casb-standin/"), "never mistaken for upstream"
        assert (ROOT / "scripts" / "compose-standins" / f"{recipe}.Containerfile").is_file()
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"ARG PYTHON_IMAGE={defaults['CASB_PYTHON_IMAGE']}" in dockerfile
    services = yaml.safe_load(compose)["services"]
    assert set(check.SERVICES) == set(services)


def test_healthchecks_survive_podmans_docker_api(check: ModuleType) -> None:
    # Podman's Docker-compatible API splits exec-form ("CMD") healthcheck arguments on
    # spaces; the shell form keeps each check one string.
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for name, service in services.items():
        test = service.get("healthcheck", {}).get("test")
        if test:
            assert test[0] == "CMD-SHELL" and len(test) == 2, name
            assert "$$HOSTNAME" not in test[1], name  # unset under `podman exec`


def test_env_file_from_the_example_has_no_placeholder_left(
    check: ModuleType, tmp_path: Path
) -> None:
    shutil.copy(ROOT / ".env.example", tmp_path / ".env.example")
    user, password = check.make_env_file(tmp_path)
    values = dict(
        line.split("=", 1)
        for line in (tmp_path / ".env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert not [k for k, v in values.items() if "change-me" in v]
    Fernet(values["CASB_SECRET_KEY"].encode())
    assert values["FLOWER_BASIC_AUTH"] == f"{user}:{password}"
    assert flowerconfig.basic_auth_problem(values["FLOWER_BASIC_AUTH"]) is None
    assert f":{values['REDIS_PASSWORD']}@redis:6379" in values["CASB_BROKER_URL"]
    assert f":{values['POSTGRES_PASSWORD']}@postgres:5432" in values["CASB_DATABASE_URL"]
    assert (tmp_path / ".env").stat().st_mode & 0o077 == 0


def test_env_file_refuses_an_unknown_placeholder(check: ModuleType, tmp_path: Path) -> None:
    example = (ROOT / ".env.example").read_text() + "NEW_TOKEN=change-me-token\n"
    (tmp_path / ".env.example").write_text(example)
    with pytest.raises(check.CheckFailed, match="NEW_TOKEN"):
        check.make_env_file(tmp_path)


def test_parse_metrics(check: ModuleType) -> None:
    text = (
        "# HELP casb_tenants Registered tenants by health.\n"
        'casb_tenants{health="ok"} 2.0\n'
        'casb_scan_runs{status="succeeded"} 6.0\n'
        "casb_dlp_bytes_total 1.5e+06\n"
    )
    samples = check.parse_metrics(text)
    assert samples == {
        'casb_tenants{health="ok"}': 2.0,
        'casb_scan_runs{status="succeeded"}': 6.0,
        "casb_dlp_bytes_total": 1.5e6,
    }
