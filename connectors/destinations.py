"""Where a file download may go: the destination policy applied to every redirect hop.

A download URL comes from a tenant's API answer (a 307 ``Location``) and from the storage
host's own redirects, so it is attacker-controlled input. ``DestinationPolicy.check`` turns
one URL into a ``Destination`` or raises ``DestinationRefused``:

* a host named in the allowed list (``CASB_STORAGE_ALLOWED_HOSTS``: ``host`` or ``host:port``
  entries) is allowed as is, any scheme and address: that is how the simulator, the tests and
  the demo reach their loopback storage;
* anything else must be ``https`` to a host whose every resolved address is public (not
  loopback, private, link-local, unique-local, shared, multicast, reserved, an IPv4-mapped /
  6to4 / Teredo / NAT64 form of one); a host written as a numeric form other than the plain
  dotted quad (``2130706433``, ``0177.0.0.1``, ``0x7f.1``) is refused before any lookup;
* the checked address is what the request connects to (``Destination.pinned_request``: the
  URL's host becomes that address, the ``Host`` header and the TLS server name keep the
  name), so a DNS answer that changes between the check and the connect cannot move it.

Pure apart from the resolver, which is injectable (tests never resolve a real name).
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

Resolver = Callable[[str, int], Sequence[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_PORTS = {"http": 80, "https": 443}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


class DestinationRefused(Exception):
    """The URL is not a destination a download may reach; ``reason`` says why (no URL)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host`` (TCP)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def parse_allowed_hosts(raw: str | Iterable[str] | None) -> frozenset[tuple[str, int | None]]:
    """``"a.example, 127.0.0.1:8080, [::1]:9000"`` -> {(host, port or None)}.

    Raises ``ValueError`` naming the bad entry's position (never echoing more than needed).
    """
    if raw is None:
        return frozenset()
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    out: set[tuple[str, int | None]] = set()
    for index, item in enumerate(items, 1):
        entry = item.strip()
        if not entry:
            continue
        host, port = _split_host_port(entry)
        if not host:
            raise ValueError(f"entry {index} has no host")
        out.add((host, port))
    return frozenset(out)


def _split_host_port(entry: str) -> tuple[str, int | None]:
    if entry.startswith("["):
        end = entry.find("]")
        if end < 0:
            raise ValueError("an IPv6 entry needs its closing ']'")
        host, rest = entry[1:end], entry[end + 1 :]
        if rest and not rest.startswith(":"):
            raise ValueError("junk after an IPv6 address")
        port_text = rest[1:] if rest else ""
    elif entry.count(":") == 1:
        host, port_text = entry.split(":")
    elif ":" in entry:  # a bare IPv6 address
        host, port_text = entry, ""
    else:
        host, port_text = entry, ""
    port: int | None = None
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError("a port must be a number from 1 to 65535")
        port = int(port_text)
    return _normal_host(host), port


def _normal_host(host: str) -> str:
    host = host.strip().lower().rstrip(".")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


# --------------------------------------------------------------------------- classification


def numeric_host(host: str) -> IPAddress | None:
    """The address a numeric host spells in any form ``inet_aton`` accepts, else None.

    ``2130706433``, ``0177.0.0.1``, ``0x7f.0.0.1`` and ``127.1`` all spell 127.0.0.1;
    ``example.com`` is not numeric. IPv6 literals are parsed too.
    """
    text = host.strip().strip("[]").rstrip(".")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    parts = text.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    values: list[int] = []
    for part in parts:
        try:
            if part.lower().startswith("0x"):
                value = int(part[2:] or "0", 16)
            elif len(part) > 1 and part.startswith("0"):
                value = int(part, 8)
            else:
                if not part.isdigit():
                    return None
                value = int(part)
        except ValueError:
            return None
        values.append(value)
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (5 - len(values)):
        return None
    number = 0
    for v in head:
        number = number * 256 + v
    number = (number << (8 * (5 - len(values)))) + last
    return ipaddress.IPv4Address(number)


def is_canonical_ipv4(host: str) -> bool:
    """``a.b.c.d`` with four plain decimal parts (no leading zero): the only IPv4 spelling
    a download URL may use."""
    parts = host.split(".")
    return len(parts) == 4 and all(
        p.isdigit() and (p == "0" or not p.startswith("0")) and int(p) < 256 for p in parts
    )


def refusal_for_address(address: IPAddress) -> str | None:
    """Why this address is not public (``None``: it is). Pure: no lookup, no connect."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return "ipv4_mapped"
        if address.sixtofour is not None or address.teredo is not None:
            return "tunnelled_ipv4"
        if address in _NAT64 or address in _NAT64_LOCAL:
            return "tunnelled_ipv4"
        if address.scope_id:
            return "link_local"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link_local"
    if address.is_multicast:
        return "multicast"
    if address.is_unspecified:
        return "unspecified"
    if isinstance(address, ipaddress.IPv6Address) and address in ipaddress.ip_network("fc00::/7"):
        return "unique_local"
    if address.is_private:
        return "private"
    if address.is_reserved or not address.is_global:
        return "reserved"
    return None


# --------------------------------------------------------------------------- policy


@dataclass(frozen=True)
class Destination:
    """A checked hop: the URL, and the address it resolved to (None: an allowed host,
    connected by name)."""

    url: httpx.URL
    address: str | None


@dataclass(frozen=True)
class DestinationPolicy:
    """The rule every download hop passes; see the module docstring."""

    allowed: frozenset[tuple[str, int | None]] = frozenset()
    resolver: Resolver | None = None
    """None: ``system_resolver`` (looked up at call time)."""

    @classmethod
    def from_hosts(
        cls, hosts: str | Iterable[str] | None, resolver: Resolver | None = None
    ) -> DestinationPolicy:
        return cls(parse_allowed_hosts(hosts), resolver)

    def is_allowed_host(self, url: httpx.URL) -> bool:
        host = _normal_host(url.host)
        port = url.port or DEFAULT_PORTS.get(url.scheme)
        return (host, None) in self.allowed or (host, port) in self.allowed

    def check(self, url: httpx.URL | str) -> Destination:
        """The destination to fetch, or ``DestinationRefused``. Resolves the host (once)."""
        try:
            parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
        except (httpx.InvalidURL, ValueError, TypeError):
            raise DestinationRefused("unparsable_url") from None
        if parsed.scheme not in DEFAULT_PORTS or not parsed.host:
            raise DestinationRefused("unsupported_url")
        if parsed.userinfo:
            raise DestinationRefused("credentials_in_url")
        if self.is_allowed_host(parsed):
            return Destination(parsed, None)
        if parsed.scheme != "https":
            raise DestinationRefused("not_https")
        host = parsed.host
        literal = numeric_host(host)
        if literal is not None:
            if isinstance(literal, ipaddress.IPv4Address) and not is_canonical_ipv4(host):
                raise DestinationRefused("numeric_host_form")
            reason = refusal_for_address(literal)
            if reason:
                raise DestinationRefused(reason)
            return Destination(parsed, str(literal))
        port = parsed.port or DEFAULT_PORTS["https"]
        try:
            resolve = self.resolver or system_resolver
            answers = list(resolve(host, port))
        except (OSError, UnicodeError):
            raise DestinationRefused("unresolvable") from None
        if not answers:
            raise DestinationRefused("unresolvable")
        checked: list[str] = []
        for answer in answers:
            try:
                address = ipaddress.ip_address(answer.split("%", 1)[0])
            except ValueError:
                raise DestinationRefused("unresolvable") from None
            reason = refusal_for_address(address)
            if reason:
                # One non-public answer refuses the name: a rebinding name lists both.
                raise DestinationRefused(reason)
            checked.append(str(address))
        return Destination(parsed, checked[0])

    def connect_address(self, host: str, port: int) -> str:
        """Where to open the TCP connection for ``host:port``: the host itself when it is on
        the allowed list, else the address ``check`` approves for it (refusal otherwise)."""
        host = host.strip("[]")
        if (_normal_host(host), None) in self.allowed or (_normal_host(host), port) in self.allowed:
            return host
        netloc = f"[{host}]" if ":" in host else host
        destination = self.check(httpx.URL(f"https://{netloc}:{port}/"))
        assert destination.address is not None
        return destination.address


# --------------------------------------------------------------------------- API base URLs


def api_base_problem(
    url: str, allowed: frozenset[tuple[str, int | None]] = frozenset()
) -> str | None:
    """Why ``url`` may not be a tenant's API base (None: it may).

    The key travels to it in the ``Authorization`` header, so it must be ``https``; plain
    ``http`` only to a loopback address (the simulator on this machine), written as a
    literal address or ``localhost``, or to a ``host``/``host:port`` of ``allowed`` (the
    operator's ``CASB_STORAGE_ALLOWED_HOSTS``: the compose demo's ``simulator:8099``). No
    credentials, query or fragment in it.
    """
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, ValueError, TypeError):
        return "not a URL"
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return "not an http(s) URL"
    if parsed.userinfo or parsed.query or parsed.fragment:
        return "it must not carry credentials, a query or a fragment"
    if parsed.scheme == "https":
        return None
    if DestinationPolicy(allowed).is_allowed_host(parsed):
        return None
    host = parsed.host.lower().rstrip(".")
    if host in ("localhost", "localhost.localdomain"):
        return None
    literal = numeric_host(host)
    if (
        literal is not None
        and literal.is_loopback
        and (not isinstance(literal, ipaddress.IPv4Address) or is_canonical_ipv4(host))
    ):
        return None
    return "plain http is allowed only to a loopback address: use https"


def printable_key_problem(value: str) -> str | None:
    """Why ``value`` cannot be an API key (None: it can): printable ASCII, no spaces.

    The message never contains the key, not even the offending character.
    """
    if not value:
        return "it is empty"
    if not all("!" <= ch <= "~" for ch in value):
        return "it holds a character other than printable ASCII"
    return None


# --------------------------------------------------------------------------- connecting

#: The policy and wall-clock deadline of the download running in this context (thread).
_active_policy: ContextVar[DestinationPolicy | None] = ContextVar(
    "casb_storage_policy", default=None
)
_active_deadline: ContextVar[float | None] = ContextVar("casb_storage_deadline", default=None)


@contextmanager
def guarded(policy: DestinationPolicy, deadline: float | None) -> Iterator[None]:
    """Run storage requests of this context under ``policy`` and the monotonic ``deadline``."""
    policy_token = _active_policy.set(policy)
    deadline_token = _active_deadline.set(deadline)
    try:
        yield
    finally:
        _active_deadline.reset(deadline_token)
        _active_policy.reset(policy_token)


def _bounded(timeout: float | None) -> float | None:
    """``timeout`` shortened to what is left of the active deadline (raises when none is)."""
    deadline = _active_deadline.get()
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise httpcore.ReadTimeout("download deadline passed")
    return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    """Every read and write waits at most until the download's deadline: a body trickled a
    byte at a time cannot outlive it."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(
            self._inner.start_tls(ssl_context, server_hostname, _bounded(timeout))
        )

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    """Connects only where the active policy allows, to the address it checked.

    The TCP connection goes to the checked address while httpcore keeps the URL's name for
    the TLS server name and the ``Host`` header; a name whose DNS answer changes after the
    URL check is checked again here, on the answer actually used.
    """

    def __init__(self, fallback: Callable[[], DestinationPolicy]) -> None:
        self._inner = httpcore.SyncBackend()
        self._fallback = fallback

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        policy = _active_policy.get() or self._fallback()
        address = policy.connect_address(host, port)
        stream = self._inner.connect_tcp(
            address, port, _bounded(timeout), local_address, socket_options
        )
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise DestinationRefused("unsupported_url")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """An ``HTTPTransport`` whose connections go through ``GuardedBackend`` (no proxy)."""

    def __init__(
        self,
        fallback: Callable[[], DestinationPolicy],
        limits: httpx.Limits,
        *,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        super().__init__(trust_env=False, limits=limits, verify=verify)
        ssl_context = self._pool._ssl_context  # the context httpx built (verification on)
        self._pool.close()
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(fallback),
        )
