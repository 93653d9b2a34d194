"""The download destination policy on literal addresses and injected resolvers.

Nothing here connects anywhere or resolves a real name: addresses are classified as
literals, and names go through a resolver the test supplies.
"""

from __future__ import annotations

import ipaddress

import pytest

from connectors.destinations import (
    DestinationPolicy,
    DestinationRefused,
    api_base_problem,
    numeric_host,
    parse_allowed_hosts,
    printable_key_problem,
    refusal_for_address,
)

PUBLIC_V4 = "93.184.216.34"
PUBLIC_V6 = "2606:2800:220:1:248:1893:25c8:1946"


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link_local"),
        ("fe80::1", "link_local"),
        ("fc00::1", "unique_local"),
        ("fd12:3456::1", "unique_local"),
        ("::ffff:127.0.0.1", "ipv4_mapped"),
        ("::ffff:8.8.8.8", "ipv4_mapped"),
        ("2002:7f00:1::1", "tunnelled_ipv4"),
        ("64:ff9b::7f00:1", "tunnelled_ipv4"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("100.64.0.1", "reserved"),
        ("240.0.0.1", "private"),
        ("192.0.2.1", "private"),
    ],
)
def test_non_public_addresses_are_refused(address: str, reason: str) -> None:
    assert refusal_for_address(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize("address", [PUBLIC_V4, "1.1.1.1", PUBLIC_V6])
def test_public_addresses_pass(address: str) -> None:
    assert refusal_for_address(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("host", "value"),
    [
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.0.0.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("169.254.43518", "169.254.169.254"),
        ("127.0.0.1", "127.0.0.1"),
        ("::ffff:7f00:1", "::ffff:7f00:1"),
    ],
)
def test_numeric_host_forms_are_decoded(host: str, value: str) -> None:
    assert numeric_host(host) == ipaddress.ip_address(value)


@pytest.mark.parametrize("host", ["example.com", "files.oaiusercontent.com", "1.2.3.4.5", "0x1g"])
def test_names_are_not_numeric(host: str) -> None:
    assert numeric_host(host) is None


def never(host: str, port: int) -> list[str]:
    raise AssertionError(f"resolved {host} although it should have been refused first")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://files.example/a", "not_https"),
        (f"http://{PUBLIC_V4}/a", "not_https"),
        ("ftp://files.example/a", "unsupported_url"),
        ("file:///etc/passwd", "unsupported_url"),
        ("https://2130706433/", "numeric_host_form"),
        ("https://0x7f000001/", "numeric_host_form"),
        ("https://127.1/", "numeric_host_form"),
        ("https://127.0.0.1/", "loopback"),
        ("https://[::1]/", "loopback"),
        ("https://[::ffff:127.0.0.1]/", "ipv4_mapped"),
        ("https://169.254.169.254/latest/meta-data", "link_local"),
        ("https://user:pw@files.example/", "credentials_in_url"),
    ],
)
def test_check_refuses_before_resolving(url: str, reason: str) -> None:
    with pytest.raises(DestinationRefused) as caught:
        DestinationPolicy(resolver=never).check(url)
    assert caught.value.reason == reason


def test_names_are_checked_on_every_resolved_address() -> None:
    answers = {"files.example": [PUBLIC_V4], "rebind.example": [PUBLIC_V4, "127.0.0.1"]}
    policy = DestinationPolicy(resolver=lambda host, port: answers[host])
    destination = policy.check("https://files.example/blob?sig=1")
    assert destination.address == PUBLIC_V4
    with pytest.raises(DestinationRefused) as caught:
        policy.check("https://rebind.example/")
    assert caught.value.reason == "loopback"


def test_an_unresolvable_name_is_refused() -> None:
    def fail(host: str, port: int) -> list[str]:
        raise OSError("no such name")

    with pytest.raises(DestinationRefused) as caught:
        DestinationPolicy(resolver=fail).check("https://nowhere.example/")
    assert caught.value.reason == "unresolvable"


def test_the_connect_address_is_checked_again_at_connect_time() -> None:
    """A name that resolves to a public address when the URL is checked and to loopback
    when the connection is opened (DNS rebinding) is refused at the connect."""
    calls: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return [PUBLIC_V4] if len(calls) == 1 else ["127.0.0.1"]

    policy = DestinationPolicy(resolver=rebinding)
    assert policy.check("https://flip.example/").address == PUBLIC_V4
    with pytest.raises(DestinationRefused):
        policy.connect_address("flip.example", 443)
    assert calls == ["flip.example", "flip.example"]


def test_a_public_name_connects_to_the_address_it_was_checked_on() -> None:
    policy = DestinationPolicy(resolver=lambda host, port: [PUBLIC_V4])
    assert policy.connect_address("files.example", 443) == PUBLIC_V4


def test_allowed_hosts_by_name_and_port() -> None:
    policy = DestinationPolicy.from_hosts("127.0.0.1:8080, sim.local ,[::1]:9000", never)
    assert policy.check("http://127.0.0.1:8080/_blob/x").address is None
    assert policy.check("http://sim.local:1234/").address is None
    assert policy.check("http://[::1]:9000/").address is None
    for url in ("http://127.0.0.1:8081/", "http://[::1]:9001/", "http://localhost:8080/"):
        with pytest.raises(DestinationRefused):
            policy.check(url)
    assert policy.connect_address("127.0.0.1", 8080) == "127.0.0.1"
    with pytest.raises(DestinationRefused):
        policy.connect_address("127.0.0.1", 8081)


def test_parse_allowed_hosts() -> None:
    assert parse_allowed_hosts(" A.Example , 127.0.0.1:80,,[::1]:9 ") == frozenset(
        {("a.example", None), ("127.0.0.1", 80), ("::1", 9)}
    )
    for bad in ("host:notaport", "host:0", "[::1"):
        with pytest.raises(ValueError):
            parse_allowed_hosts(bad)


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://api.openai.com/v1", True),
        ("https://10.0.0.5/v1", True),  # https: the operator's own proxy is fine
        ("http://127.0.0.1:8080/v1", True),
        ("http://localhost:8080/v1", True),
        ("http://[::1]:8080/v1", True),
        ("http://api.openai.com/v1", False),
        ("http://10.0.0.5/v1", False),
        ("http://2130706433:8080/v1", False),
        ("https://user:pw@api.openai.com/v1", False),
        ("ftp://api.openai.com/v1", False),
        ("api.openai.com/v1", False),
    ],
)
def test_api_base_urls(url: str, ok: bool) -> None:
    assert (api_base_problem(url) is None) is ok


def test_keys_must_be_printable_ascii_and_the_reason_never_holds_the_key() -> None:
    assert printable_key_problem("sk-admin-abc_DEF.123") is None
    for bad in ("sk-admin-ab\u00e9c", "sk-a b", "sk-\x1b[31m", "sk-\u202eabc", ""):
        problem = printable_key_problem(bad)
        assert problem is not None
        assert bad[3:] not in problem or not bad[3:]


def test_a_non_ascii_key_never_reaches_an_exception_message() -> None:
    from pydantic import SecretStr, ValidationError

    from connectors.access import TenantAccess

    key = "sk-proj-SECRET\u00e9VALUE0123456789"
    with pytest.raises(ValidationError) as caught:
        TenantAccess(tenant_key="t", compliance_key=SecretStr(key))
    assert "SECRET" not in str(caught.value)
    assert "SECRET" not in repr(caught.value.errors())
