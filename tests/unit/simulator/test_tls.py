"""The simulator's throw-away CA: its server certificate verifies for the loopback names only,
against that CA only, with Python's default (strict) verification."""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path

import pytest

from simulator.tls import make_loopback_tls


def _handshake(files_dir: Path, ca: Path, server_name: str) -> str:
    """A TLS handshake over a socket pair: the client verifies with ``ca`` only."""
    files = make_loopback_tls(files_dir)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(files.cert, files.key)
    client_ctx = ssl.create_default_context(cafile=str(ca if ca.name != "-" else files.ca_cert))
    left, right = socket.socketpair()
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            with server_ctx.wrap_socket(left, server_side=True) as tls:
                tls.sendall(b"ok")
        except (OSError, ssl.SSLError) as exc:
            errors.append(exc)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with client_ctx.wrap_socket(right, server_hostname=server_name) as tls:
            return tls.recv(2).decode()
    finally:
        thread.join(10)


def test_the_certificate_verifies_for_loopback_names(tmp_path: Path) -> None:
    for name in ("127.0.0.1", "localhost", "::1"):
        assert _handshake(tmp_path / name.replace(":", "_"), Path("-"), name) == "ok"


def test_another_name_or_another_ca_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(tmp_path / "a", Path("-"), "example.com")
    other = make_loopback_tls(tmp_path / "other").ca_cert
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(tmp_path / "b", other, "127.0.0.1")


def test_the_key_file_is_private(tmp_path: Path) -> None:
    files = make_loopback_tls(tmp_path)
    assert files.key.stat().st_mode & 0o077 == 0
    assert b"BEGIN CERTIFICATE" in files.ca_cert.read_bytes()
