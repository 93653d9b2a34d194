"""`simulator serve` as a real process: prints bases and tenant keys, serves, stops on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulator.world import World


def _printed_json(proc: subprocess.Popen[str]) -> dict[str, Any]:
    """The JSON document `serve --json` prints first."""
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.rstrip() == "}":
            break
    return dict(json.loads("".join(lines)))


def test_serve_prints_tenants_and_serves_them() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulator.cli",
            "serve",
            "--port",
            "0",
            "--tenants",
            "2",
            "--seed",
            "4",
            "--size",
            "tiny",
            "--time-scale",
            "60",
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        info = _printed_json(proc)
        assert info["admin_api_base"].endswith("/openai/v1")
        assert info["compliance_api_base"].endswith("/chatgpt/v1")
        t1 = info["tenants"][0]
        assert t1["slug"] == "tenant-01" and t1["admin_key"].startswith("sk-admin-")
        # the same seed gives the same tenants in-process
        twin = World.generate(tenants=2, seed=4, size="tiny").tenant("tenant-01")
        assert (t1["org_id"], t1["workspace_id"], t1["compliance_key"]) == (
            twin.org_id,
            twin.workspace_id,
            twin.compliance_key,
        )
        r = httpx.get(
            info["admin_api_base"] + "/organization/users",
            headers={"Authorization": f"Bearer {t1['admin_key']}"},
        )
        assert r.status_code == 200 and r.json()["data"]
        ws = info["compliance_api_base"] + f"/compliance/workspaces/{t1['workspace_id']}/gpts"
        assert (
            httpx.get(ws, headers={"Authorization": f"Bearer {t1['compliance_key']}"}).status_code
            == 200
        )
        assert httpx.get(info["url"] + "/_sim/stats").json()["time_scale"] == 60.0
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "simulator stopped" in out


def test_serve_rejects_a_bad_size() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "simulator.cli", "serve", "--size", "jumbo"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 2 and "unknown --size" in r.stderr


def test_casb_simulator_serve_prints_base_urls_and_keys() -> None:
    """The documented command (`casb simulator serve`), in its default human-readable form."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "workers.cli", "simulator", "serve", "--port", "0",
         "--tenants", "2", "--seed", "9", "--size", "tiny"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        fields: dict[str, list[str]] = {}
        for line in proc.stdout:
            name, sep, value = line.strip().partition(" = ")
            if sep:
                fields.setdefault(name.strip(), []).append(value.strip())
            if len(fields.get("compliance_key", [])) == 2:
                break
        admin_base = fields["admin_api_base"][0]
        compliance_base = fields["compliance_api_base"][0]
        assert admin_base.endswith("/openai/v1") and compliance_base.endswith("/chatgpt/v1")
        world = World.generate(tenants=2, seed=9, size="tiny")
        twins = [world.tenant("tenant-01"), world.tenant("tenant-02")]
        assert fields["admin_key"] == [t.admin_key for t in twins]
        assert fields["compliance_key"] == [t.compliance_key for t in twins]
        assert fields["workspace_id"] == [t.workspace_id for t in twins]
        # the printed base URL and key reach the printed tenant
        r = httpx.get(
            admin_base + "/organization/invites",
            headers={"Authorization": f"Bearer {fields['admin_key'][1]}"},
        )
        assert r.status_code == 200 and r.headers["openai-organization"] == twins[1].org_id
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "simulator stopped" in out


def test_serve_over_tls_offers_http2(tmp_path: Path) -> None:
    """`--tls DIR`: https bases, the CA written there, HTTP/2 for a client that trusts it."""
    import ssl

    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator.cli", "serve", "--port", "0", "--tenants", "1",
         "--size", "tiny", "--json", "--tls", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        info = _printed_json(proc)
        assert info["url"].startswith("https://127.0.0.1:")
        assert info["ca_cert"] == str(tmp_path / "ca.pem")
        key = info["tenants"][0]["admin_key"]
        trusted = ssl.create_default_context(cafile=info["ca_cert"])
        with httpx.Client(http2=True, verify=trusted) as client:
            r = client.get(
                info["admin_api_base"] + "/organization/users",
                headers={"Authorization": f"Bearer {key}"},
            )
        assert r.status_code == 200 and r.http_version == "HTTP/2"
        with pytest.raises(httpx.ConnectError):
            httpx.get(info["url"] + "/_sim/stats")  # the bundled CAs do not vouch for it
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "simulator stopped" in out
