"""The one session every OpenAI call goes through: budget, request, classify, retry, page.

Order of operations for each attempt: draw from the tenant's shared rate budget, send the
request with the bearer key (only ever in the ``Authorization`` header, never in a URL or a
log line), then classify the response:

* 2xx: parse JSON (a body that is not JSON is retried once per attempt budget, then
  ``MalformedResponseError``);
* 408, 409, 5xx and transport errors/timeouts: retried up to ``max_attempts`` with the
  server's ``retry-after-ms`` / ``Retry-After`` (seconds or HTTP date) when given, else
  exponential backoff with full jitter; ``x-should-retry`` overrides;
* 429: the tenant's shared budget shrinks (``penalize``) and the whole tenant+group cools
  down for the server's Retry-After, else its ``x-ratelimit-reset-requests`` when nothing
  remains, else the rest of the group's window; 429s are retried for ``rate_limit_patience``
  seconds, so a storm is ridden out rather than failing the fetch;
* a server-requested wait above ``retry_after_cap`` raises ``RateLimitedError`` at once so a
  Celery task can defer instead of holding a worker;
* 401/403/404 and other 4xx: typed errors with the operator's next step, never retried.

Every response's ``x-ratelimit-*`` headers, when present, adapt the tenant's shared budget.

Transport: one pooled ``httpx.Client`` per process for the APIs (``shared_client``), HTTP/1.1
keep-alive by default (the cheaper in CPU per request here); with ``CASB_HTTP2=auto`` one per
thread instead, which negotiates HTTP/2 by ALPN when the server offers it over TLS. One
client per process for file storage hosts (``storage_client``, HTTP/1.1). Both verify
certificates against ``CASB_CA_BUNDLE`` when it is set, else the bundled CA set; verification
is never turned off.

``paginate`` implements the list envelope of both APIs (``has_more`` + ``last_id``, falling
back to the last item's id) with guards against the ways a server can loop a client forever,
and checkpoints each page when given ``ListingCheckpoints`` (a retried task resumes there).
Every listing goes through it; ``PageRules`` carries what one listing reads differently (a
byte cap per page, items that may be listed again, the form items are checkpointed in).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import random
import re
import ssl
import threading
import time
import weakref
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any, Literal, NoReturn, TypedDict, cast
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from connectors.access import ClientOptions
from connectors.bodies import BodyTooLarge, UnsupportedEncoding, iter_capped, read_capped
from connectors.checkpoints import ListingCheckpoints, listing_id
from connectors.destinations import DestinationPolicy, GuardedTransport, printable_key_problem
from connectors.errors import (
    AuthenticationError,
    ConnectorError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    UpstreamError,
    scrub,
)
from connectors.ratelimit import RateBudget
from core.settings import ConfigurationError, Settings, get_settings
from schemas.stages import Remedy

log = logging.getLogger(__name__)

Api = Literal["admin", "compliance"]


class Advice(TypedDict):
    """What a failed call tells the operator: keyword arguments of a ``ConnectorError``."""

    hint: str
    remedy: Remedy
    api: str


QueryParams = Sequence[tuple[str, str | int | float]] | Mapping[str, str | int | float]

RETRYABLE_STATUSES = frozenset({408, 409, 429})
# A hard stop for one call, whatever the server answers (429s with zero-length waits).
MAX_ATTEMPTS_PER_CALL = 500


@dataclass(frozen=True)
class CallEvent:
    """One HTTP attempt, reported to the observer (metrics): ids and secrets never appear.

    ``outcome`` is ``ok``, ``retry`` (this attempt failed and will be retried), ``error``
    (the call failed) or ``skipped`` (an expected 404/410 on a file route).
    """

    tenant: str
    api: str
    group: str
    route: str
    status: int | None
    attempt: int
    outcome: str
    elapsed: float
    retry_after: float | None = None
    http_version: str | None = None  # "HTTP/2", "HTTP/1.1"; None when nothing was answered


CallObserver = Callable[[CallEvent], None]


@dataclass
class PagingStats:
    """What one listing did: ``pages`` read from the API, ``pages_resumed`` replayed from its
    checkpoint (a retried task), ``pages_shrunk`` dropped over the byte cap and asked for
    again with a smaller ``limit``."""

    pages: int = 0
    pages_resumed: int = 0
    pages_shrunk: int = 0


@dataclass(frozen=True)
class PageRules:
    """What one listing reads differently from the common envelope.

    ``max_bytes``: each page is read as a stream up to this many bytes; a larger page is
    dropped unread and asked for again with half the ``limit`` (down to 1: one item over the
    cap fails with ``too_large_hint``). ``relisting``: the API may list an item again on a
    later page (an updated conversation), so a cursor that comes back is a paging loop only
    over the same page content. ``keep``: the form each item is checkpointed and yielded in
    (the caller's digest, e.g. without text that must not be stored). ``checkpoint``: False
    for a listing that must never be saved at all.
    """

    max_bytes: int | None = None
    relisting: bool = False
    keep: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    checkpoint: bool = True
    too_large_hint: str = "report the route to the maintainers"


@dataclass
class _Paging:
    limit: int
    send_limit: bool
    seen: set[str] = field(default_factory=set)


def parse_retry_after(headers: httpx.Headers, *, now: float | None = None) -> float | None:
    """Seconds the server asks us to wait, or None when it does not say.

    ``retry-after-ms`` wins (OpenAI's own header), then ``Retry-After`` as delta-seconds or
    as an HTTP date. Negative values become 0.
    """
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            value = float(raw_ms) / 1000.0
            if math.isfinite(value):
                return max(0.0, value)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    raw = raw.strip()
    try:
        value = float(raw)
        return max(0.0, value) if math.isfinite(value) else None
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


@dataclass(frozen=True)
class RateLimitHeaders:
    """``x-ratelimit-{limit,remaining,reset}-requests``: each None when absent or unreadable."""

    limit: int | None = None
    remaining: int | None = None
    reset: float | None = None


_RESET_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def parse_reset_header(text: str) -> float | None:
    """An ``x-ratelimit-reset-*`` header (``"1s"``, ``"12ms"``, ``"6m0s"``, ``"1h2m3.5s"`` or bare
    seconds) -> seconds; else None. The API's wire form, not the CLI's ``core.durations``."""
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
        return value if math.isfinite(value) and value >= 0 else None
    except ValueError:
        pass
    total, pos = 0.0, 0
    for match in _RESET_PART.finditer(text):
        if match.start() != pos:
            return None
        number, unit = float(match.group(1)), match.group(2)
        total += number * {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}[unit]
        pos = match.end()
    return total if pos == len(text) and pos > 0 else None


def parse_rate_limit_headers(headers: httpx.Headers) -> RateLimitHeaders:
    def count(name: str) -> int | None:
        raw = headers.get(name)
        if raw is None:
            return None
        try:
            value = int(raw.strip())
        except ValueError:
            return None
        return value if value >= 0 else None

    reset_raw = headers.get("x-ratelimit-reset-requests")
    limit = count("x-ratelimit-limit-requests")
    return RateLimitHeaders(
        limit=limit if limit else None,
        remaining=count("x-ratelimit-remaining-requests"),
        reset=parse_reset_header(reset_raw) if reset_raw is not None else None,
    )


#: What decoding a body that is not JSON raises: ``RecursionError`` is nesting deeper than the
#: json module recurses (a hostile page), which must read as "not JSON" like any other.
JSON_DECODE_ERRORS = (ValueError, UnicodeDecodeError, RecursionError)


def path_segment(value: str) -> str:
    """Quote an id for use as exactly one URL path segment (ids come from API responses)."""
    return quote(value, safe="")


def backoff_delay(attempt: int, options: ClientOptions, rng: Callable[[], float]) -> float:
    """Full jitter: uniform in [0, min(max, base * 2**(attempt-1))]."""
    ceiling = min(options.backoff_max, options.backoff_base * (2 ** max(0, attempt - 1)))
    return rng() * ceiling


def _upstream_message(response: httpx.Response) -> str:
    """The upstream ``error.message`` (scrubbed), else a short scrubbed body prefix."""
    try:
        body = response.json()
    except JSON_DECODE_ERRORS:
        return scrub(response.text[:200]) if response.text else ""
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            msg = err.get("message")
            code = err.get("code") or err.get("type")
            text = str(msg) if msg else ""
            if code:
                text = f"{text} ({code})" if text else str(code)
            return scrub(text)
        if isinstance(err, str):
            return scrub(err)
        if isinstance(body.get("detail"), str):
            return scrub(body["detail"])
    return ""


def _blamed_param(response: httpx.Response) -> str | None:
    """The query parameter an error names: OpenAI's ``error.param`` or a 422's ``detail[].loc``."""
    try:
        body = response.json()
    except JSON_DECODE_ERRORS:
        return None
    if not isinstance(body, dict):
        return None
    err = body.get("error")
    if isinstance(err, dict) and isinstance(err.get("param"), str):
        return str(err["param"])
    detail = body.get("detail")
    if isinstance(detail, list):
        for item in detail:
            loc = item.get("loc") if isinstance(item, dict) else None
            if isinstance(loc, list) and loc and isinstance(loc[-1], str):
                return str(loc[-1])
    return None


def rejects_limit(exc: ConnectorError) -> bool:
    """A 400/422 that blames the ``limit`` parameter (the page size, not the request)."""
    return exc.status in (400, 422) and exc.param == "limit"


def _request_id(response: httpx.Response) -> str:
    """`` [x-request-id ...]`` when the server sent one: what OpenAI support asks for."""
    value = response.headers.get("x-request-id")
    return f" [x-request-id {scrub(value, limit=64)}]" if value else ""


def send_streamed(client: httpx.Client, request: httpx.Request) -> httpx.Response:
    """Send ``request`` exactly as built to the client's transport: the response comes back
    with its body unread (the caller reads it under a cap and closes it), and a redirect is
    never followed.

    ``Client.send`` wraps the transport in layers none of these requests use (an auth flow,
    event hooks, cookie extraction, the INFO line naming the URL, and the next request a
    3xx would lead to, built by parsing its ``Location``): a request here carries its own
    headers and timeouts (``extensions``), and a ``Location`` is parsed only by the caller
    that follows it. The transport is still the client's own for that URL (its connection
    pool, its TLS settings, a proxy mounted on it)."""
    if client.is_closed:
        raise RuntimeError("the HTTP client is closed")
    response = client._transport_for_url(request.url).handle_request(request)
    response.request = request
    return response


class _NoCookies(CookieJar):
    """A jar that keeps nothing and does not even read ``Set-Cookie`` (httpx hands it every
    response; parsing headers only for the policy to refuse them cost time per request)."""

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None

    def set_cookie(self, cookie: Any) -> None:
        return None


class _NoCookieStore(httpx.Cookies):
    """The cookies of a client that keeps none: reading a response's cookies is skipped
    before httpx builds the request and response adapters the jar would be handed."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class _CookielessClient(httpx.Client):
    """An ``httpx.Client`` whose cookie store is always the empty ``_NoCookieStore``:
    nothing set by one tenant's API (or a storage host) is kept in a client every tenant
    shares, and no ``Set-Cookie`` is even read."""

    _no_cookies = _NoCookieStore(_NoCookies(policy=DefaultCookiePolicy(allowed_domains=[])))

    @property
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies

    @cookies.setter
    def cookies(self, value: Any) -> None:
        """Cookies given to this client are dropped, like every ``Set-Cookie``."""


def tls_verify(settings: Settings) -> ssl.SSLContext | bool:
    """How a client verifies servers: a new context trusting the ``CASB_CA_BUNDLE`` file when
    set, else ``True`` (httpx's bundled CA set). Each client gets its own context: httpcore
    sets the ALPN protocols on it for every connection it opens."""
    if not settings.ca_bundle:
        return True
    try:
        return ssl.create_default_context(cafile=settings.ca_bundle)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationError(
            f"CASB_CA_BUNDLE: the file holds no usable CA certificate ({type(exc).__name__}): "
            "point it at a PEM bundle"
        ) from None


#: What the per-process clients were built from: rebuilt when the settings change (tests).
ClientConfig = tuple[int, bool, str]


def _client_config(settings: Settings) -> ClientConfig:
    return os.getpid(), settings.http2 == "auto", settings.ca_bundle


def _rebuild(client: httpx.Client, built: ClientConfig | None, config: ClientConfig) -> bool:
    """Whether a per-process client must be built anew; one this process built under other
    settings is closed first (one inherited through a fork is left to the parent)."""
    if built == config and not client.is_closed:
        return False
    if built is not None and built[0] == config[0]:
        client.close()
    return True


_shared_lock = threading.Lock()
_shared_client: httpx.Client | None = None
_shared_config: ClientConfig | None = None
_thread_clients = threading.local()  # .client, .config: this thread's HTTP/2 client
_http2_clients: weakref.WeakSet[httpx.Client] = weakref.WeakSet()  # every thread's, to close


def _api_client(settings: Settings, *, http2: bool) -> httpx.Client:
    return _CookielessClient(
        http2=http2,
        verify=tls_verify(settings),
        follow_redirects=False,
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        timeout=httpx.Timeout(60.0, connect=5.0),
    )


def shared_client() -> httpx.Client:
    """The pooled ``httpx.Client`` of the APIs (re-created after a fork or a settings change).

    It has no auth, no default headers and no redirect following: every request is built
    explicitly by the transport, so nothing leaks between tenants or to a redirect host.
    By default (``CASB_HTTP2=off``) one client per process keeps HTTP/1.1 keep-alive
    connections pooled per host for every tenant and thread. With ``CASB_HTTP2=auto`` it
    offers HTTP/2 by ALPN over TLS, and each thread gets a client of its own (one HTTP/2
    connection per host and thread): httpcore's synchronous HTTP/2 connection is not safe
    to multiplex across threads (a stream's bookkeeping races, ``KeyError`` under load;
    docs/benchmarks.md). A session asks for it at each request, in the sending thread.
    """
    global _shared_client, _shared_config
    settings = get_settings()
    config = _client_config(settings)
    if config[1]:
        return _thread_client(settings, config)
    with _shared_lock:
        client = _shared_client
        if client is None or _rebuild(client, _shared_config, config):
            client = _shared_client = _api_client(settings, http2=False)
            _shared_config = config
        return client


def _thread_client(settings: Settings, config: ClientConfig) -> httpx.Client:
    client: httpx.Client | None = getattr(_thread_clients, "client", None)
    if client is None or _rebuild(client, getattr(_thread_clients, "config", None), config):
        client = _thread_clients.client = _api_client(settings, http2=True)
        _thread_clients.config = config
        with _shared_lock:
            _http2_clients.add(client)
    return client


_storage_client: httpx.Client | None = None
_storage_config: ClientConfig | None = None


def storage_client() -> httpx.Client:
    """One pooled client per process for file storage hosts (re-created after a fork or a
    change of ``CASB_CA_BUNDLE``).

    Its connections go through ``connectors.destinations.GuardedTransport``: each is opened
    only to an address the active destination policy approves, and every read waits at
    most until the active download's deadline. No proxy, no auth, no cookies. HTTP/1.1
    only: each download is one request to a signed URL, often on a host of its own, whose
    body is streamed; HTTP/2 would add per-frame flow-control work in Python to every
    chunk and multiplex nothing (docs/benchmarks.md).
    """
    global _storage_client, _storage_config
    settings = get_settings()
    pid, _, ca_bundle = _client_config(settings)
    config = (pid, False, ca_bundle)  # HTTP/1.1 whatever CASB_HTTP2 says
    with _shared_lock:
        client = _storage_client
        if client is None or _rebuild(client, _storage_config, config):
            client = _storage_client = _CookielessClient(
                transport=GuardedTransport(
                    _policy_from_settings,
                    httpx.Limits(max_connections=100, max_keepalive_connections=20),
                    verify=tls_verify(settings),
                ),
                follow_redirects=False,
                trust_env=False,
                timeout=httpx.Timeout(60.0, connect=5.0),
            )
            _storage_config = config
        return client


def _policy_from_settings() -> DestinationPolicy:
    return DestinationPolicy.from_hosts(get_settings().storage_allowed_hosts)


def close_shared_client() -> None:
    """Close the process's clients, every thread's too (Celery ``worker_process_shutdown``)."""
    global _shared_client, _storage_client
    with _shared_lock:
        if _shared_client is not None:
            _shared_client.close()
            _shared_client = None
        for client in list(_http2_clients):
            client.close()
        _http2_clients.clear()
        _thread_clients.__dict__.clear()
        if _storage_client is not None:
            _storage_client.close()
            _storage_client = None


def page_items(body: Any, route: str) -> list[dict[str, Any]]:
    """The ``data`` of a list page, checked: a list object whose ``data`` holds objects and
    whose ``has_more`` is a boolean (a missing ``has_more`` must not read as "done": a silently
    short listing would later resolve findings that still exist)."""
    if not isinstance(body, dict):
        raise MalformedResponseError(
            f"GET {route} returned {type(body).__name__}, expected a list object", route=route
        )
    data = body.get("data")
    if not isinstance(data, list):
        raise MalformedResponseError(f"GET {route} page has no 'data' list", route=route)
    for item in data:
        if not isinstance(item, dict):
            raise MalformedResponseError(
                f"GET {route} page holds a {type(item).__name__}, expected objects", route=route
            )
    if not isinstance(body.get("has_more"), bool):
        raise MalformedResponseError(f"GET {route} page has no boolean 'has_more'", route=route)
    return data


class ApiSession:
    """The retrying session of one tenant on one API: rate budget, retries, typed errors,
    paging. It sends through an ``httpx.Client`` (whose transport is the network layer)."""

    def __init__(
        self,
        *,
        tenant_key: str,
        api: Api,
        base_url: str,
        key: SecretStr,
        budget: RateBudget,
        http: httpx.Client | None = None,
        options: ClientOptions | None = None,
        observer: CallObserver | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
        monotonic: Callable[[], float] = time.monotonic,
        checkpoints: ListingCheckpoints | None = None,
    ) -> None:
        self.tenant_key = tenant_key
        self.api = api
        self.base_url = base_url.rstrip("/")
        self._key = key
        self.budget = budget
        self._http = http
        self.options = options or ClientOptions()
        self.observer = observer
        self._sleep = sleep
        self._rng = rng
        self._monotonic = monotonic
        self.checkpoints = checkpoints
        self._learned: dict[str, int] = {}  # group -> limit last told to the budget
        o = self.options
        self.timeout = httpx.Timeout(
            connect=o.connect_timeout,
            read=o.read_timeout,
            write=o.write_timeout,
            pool=o.pool_timeout,
        )

    @property
    def http(self) -> httpx.Client:
        """The injected client, else ``shared_client()`` of the calling thread (HTTP/2 clients
        are per thread), looked up at each request."""
        return self._http if self._http is not None else shared_client()

    @http.setter
    def http(self, client: httpx.Client | None) -> None:
        self._http = client

    def __repr__(self) -> str:
        return f"ApiSession(tenant={self.tenant_key!r}, api={self.api!r}, base={self.base_url!r})"

    # ------------------------------------------------------------------ advice

    def advice_for(self, status: int | None, route: str) -> Advice:
        """The operator-neutral hint, the ``Remedy`` code and the API of a failed call."""
        api = self.api
        hint: str
        if status == 401:
            hint, remedy = f"the {api} key was revoked or is wrong", Remedy.SET_KEY
        elif status == 403 and api == "admin":
            hint = (
                f"the admin key cannot read {route}: it must be an Admin API key "
                "(sk-admin-...) of an organization owner"
            )
            remedy = Remedy.GRANT_SCOPE
        elif status == 403:
            hint = (
                "the compliance key has no access to this workspace or lacks the compliance "
                "read scope: OpenAI grants it, or another key has it"
            )
            remedy = Remedy.GRANT_SCOPE
        elif status == 404 and api == "compliance":
            hint = (
                f"workspace not found at {self.base_url}: the workspace id "
                "(chatgpt.com/admin/settings) or the Compliance API base URL is wrong"
            )
            remedy = Remedy.CHECK_WORKSPACE
        elif status == 404:
            hint, remedy = f"route not found at {self.base_url}", Remedy.CHECK_BASE_URL
        elif status == 429:
            hint = f"tenant {self.tenant_key} is rate limited by OpenAI: retry the part later"
            remedy = Remedy.RETRY_LATER
        elif status is None:
            hint = (
                f"could not get an answer from {self.base_url} (network, DNS, proxy or a slow "
                f"server): the {api} API base URL may be wrong, or retry the scan"
            )
            remedy = Remedy.CHECK_BASE_URL
        else:
            hint = (
                f"OpenAI answered {status} on {route} for tenant {self.tenant_key}: "
                "retry the scan; check status.openai.com"
            )
            remedy = Remedy.RETRY
        return {"hint": hint, "remedy": remedy, "api": api}

    # ------------------------------------------------------------------ core

    def _emit(self, event: CallEvent) -> None:
        if self.observer is None:
            return
        try:
            self.observer(event)
        except Exception:  # an observer bug must not fail a scan
            log.exception("connector call observer failed")

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def build_request(self, method: str, path: str, params: QueryParams | None) -> httpx.Request:
        if printable_key_problem(self._key.get_secret_value()):
            # Checked here too: httpx would put the whole header value (the key) in the
            # UnicodeEncodeError it raises, and that reaches results and logs.
            raise AuthenticationError(
                f"the {self.api} key of tenant {self.tenant_key} is not printable ASCII",
                hint=f"the {self.api} key is damaged: set it again",
                remedy=Remedy.SET_KEY,
                api=self.api,
            )
        headers = {
            "Authorization": f"Bearer {self._key.get_secret_value()}",
            "Accept": "application/json",
            "User-Agent": self.options.user_agent,
        }
        url = self.url(path)
        if params and "?" not in url:
            # The query httpx would merge in, encoded the same way, without parsing the URL
            # a second time to merge it.
            url = f"{url}?{httpx.QueryParams(cast(Any, params))}"
            params = None
        request = httpx.Request(method, url, params=cast(Any, params), headers=headers)
        request.extensions["timeout"] = self.timeout.as_dict()
        return request

    def _raise_for_status(self, response: httpx.Response, route: str) -> None:
        """Raise the typed error for a non-retryable failure status."""
        status = response.status_code
        message = _upstream_message(response) or response.reason_phrase or f"HTTP {status}"
        message += _request_id(response)
        advice = self.advice_for(status, route)
        cls: type[ConnectorError]
        if status == 401:
            cls = AuthenticationError
        elif status == 403:
            cls = PermissionDeniedError
        elif status == 404:
            cls = NotFoundError
        elif status == 429:
            cls = RateLimitedError
        else:
            cls = UpstreamError
        raise cls(message, status=status, route=route, param=_blamed_param(response), **advice)

    def _load_body(self, response: httpx.Response, route: str, *, accepted: bool) -> None:
        """Read the body into the response under its cap: ``max_json_bytes`` for an answer
        the caller takes (over it: ``MalformedResponseError``), ``max_error_bytes`` for an
        error answer (cut there; only its start is ever shown)."""
        if not accepted:
            response._content = read_capped(response, self.options.max_error_bytes, truncate=True)
            return
        limit = self.options.max_json_bytes
        try:
            response._content = read_capped(response, limit)
        except BodyTooLarge:
            raise MalformedResponseError(
                f"GET {route} answered a body over {limit} bytes (decoded)",
                status=response.status_code,
                route=route,
                hint="raise ClientOptions.max_json_bytes if pages of this tenant are "
                "really this large; otherwise the server is misbehaving",
                remedy=Remedy.REPORT,
                api=self.api,
            ) from None
        except (UnsupportedEncoding, zlib.error) as exc:
            raise MalformedResponseError(
                f"GET {route} answered a body that cannot be decoded ({type(exc).__name__})",
                status=response.status_code,
                route=route,
            ) from None

    def send(
        self,
        method: str,
        path: str,
        *,
        route: str,
        group: str,
        params: QueryParams | None = None,
        expect: Callable[[httpx.Response], bool] | None = None,
        stream: bool = False,
    ) -> httpx.Response:
        """Send with budget and retries; return the first acceptable response.

        ``expect(response)`` says which statuses the caller handles itself (default: 2xx).
        Responses it accepts are returned (streamed ones still open: the caller closes them).
        Failures are retried as ``should_retry`` decides, after ``retry_delay``; a 429 is
        retried for as long as ``rate_limit_patience`` allows, everything else at most
        ``max_attempts`` times; then ``give_up`` raises the typed error.
        """
        accept = expect or (lambda r: r.is_success)
        options = self.options
        attempts = max(1, options.max_attempts)
        failures = 0  # failed attempts other than 429s
        limited_since: float | None = None  # when this call met its first 429
        # After a 429 the wait happens in the shared budget's cool-down; the next acquire may
        # block that much longer than budget_max_wait, so the wait is honoured rather than
        # turned into a RateLimitedError by the budget.
        cooled = 0.0
        last: httpx.Response | None = None
        for attempt in range(1, MAX_ATTEMPTS_PER_CALL + 1):
            self.budget.acquire(self.tenant_key, group, 1, options.budget_max_wait + cooled)
            cooled = 0.0
            started = self._monotonic()
            request = self.build_request(method, path, params)
            try:
                # Always streamed from httpx: a body is only ever read under a byte cap
                # (``_load_body``), decompressed with a bounded output.
                response = send_streamed(self.http, request)
                if not stream or not accept(response):
                    self._load_body(response, route, accepted=accept(response))
            except httpx.RequestError as exc:
                elapsed = self._monotonic() - started
                failures += 1
                kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
                if failures >= attempts:
                    self._emit(self._event(group, route, attempt, "error", elapsed))
                    raise UpstreamError(
                        f"{method} {route} {kind} ({type(exc).__name__}) after {attempt} "
                        "attempt(s)",
                        route=route,
                        **self.advice_for(None, route),
                    ) from None
                self._emit(self._event(group, route, attempt, "retry", elapsed))
                delay = backoff_delay(failures, options, self._rng)
                log.info(
                    "retrying %s %s for %s in %.2fs: %s",
                    method,
                    route,
                    self.tenant_key,
                    delay,
                    type(exc).__name__,
                )
                self._sleep(delay)
                continue

            elapsed = self._monotonic() - started
            status = response.status_code
            self.observe_limits(response, group)
            if accept(response):
                self._emit(self._event(group, route, attempt, "ok", elapsed, response))
                return response
            if stream:
                response.read()
            response.close()
            last = response
            if not self.should_retry(response):
                self._emit(self._event(group, route, attempt, "error", elapsed, response))
                self._raise_for_status(response, route)

            delay, server_said = self.retry_delay(response, group, failures + 1)
            if status == 429:
                self.budget.penalize(self.tenant_key, group)
                limited_since = started if limited_since is None else limited_since
            else:
                failures += 1
            limited_for = 0.0 if limited_since is None else self._monotonic() - limited_since
            reason = self.give_up_reason(status, delay, server_said, failures, limited_for)
            if reason is not None:
                if status == 429:
                    # Giving up here, but the rest of the fleet must still back off.
                    self.budget.cool_down(self.tenant_key, group, delay)
                self._emit(self._event(group, route, attempt, "error", elapsed, response, delay))
                retry_after = delay if server_said or status == 429 else None
                self.give_up(response, route, reason, retry_after=retry_after)
            self._emit(self._event(group, route, attempt, "retry", elapsed, response, delay))
            log.info(
                "retrying %s %s for %s after HTTP %s in %.2fs (attempt %d)",
                method,
                route,
                self.tenant_key,
                status,
                delay,
                attempt,
            )
            if status == 429:
                # Slow every worker of this tenant down; the next acquire() waits it out.
                cooled = max(delay, 0.001)
                self.budget.cool_down(self.tenant_key, group, cooled)
            else:
                self._sleep(delay)
        if last is not None:
            self.give_up(last, route, f"gave up after {MAX_ATTEMPTS_PER_CALL} attempts")
        raise UpstreamError(
            f"{method} {route} gave up after {MAX_ATTEMPTS_PER_CALL} attempts",
            route=route,
            **self.advice_for(None, route),
        )

    # ------------------------------------------------------------------ retry decisions

    def should_retry(self, response: httpx.Response) -> bool:
        """408, 409, 429 and 5xx are retried; the server's ``x-should-retry`` overrides."""
        override = response.headers.get("x-should-retry", "").strip().lower()
        if override in ("true", "false"):
            return override == "true"
        status = response.status_code
        return status in RETRYABLE_STATUSES or status >= 500

    def retry_delay(self, response: httpx.Response, group: str, failure: int) -> tuple[float, bool]:
        """Seconds to wait before the next attempt, and whether the server named them.

        The server's ``retry-after-ms``/``Retry-After`` wins. A 429 without one waits for
        ``x-ratelimit-reset-requests`` when the server says nothing remains, else for the
        rest of the group's current window in the shared budget (the Compliance API
        documents no Retry-After). Anything else backs off with full jitter.
        """
        retry_after = parse_retry_after(response.headers)
        if retry_after is not None:
            return retry_after, True
        if response.status_code == 429:
            limits = parse_rate_limit_headers(response.headers)
            if limits.remaining == 0 and limits.reset is not None:
                return limits.reset, True
            return self.budget.window_rest(self.tenant_key, group), False
        return backoff_delay(failure, self.options, self._rng), False

    def give_up_reason(
        self, status: int, delay: float, server_said: bool, failures: int, limited_for: float
    ) -> str | None:
        """Why this failed attempt is the last one, or None to retry."""
        options = self.options
        if server_said and delay > options.retry_after_cap:
            # The server asked for longer than we may hold a worker: defer the task.
            return f"server asked to wait {delay:.0f}s (cap {options.retry_after_cap:.0f}s)"
        if status == 429:
            if limited_for + delay > options.rate_limit_patience:
                return (
                    f"still rate limited after {limited_for:.0f}s "
                    f"(patience {options.rate_limit_patience:.0f}s)"
                )
            return None
        if failures >= max(1, options.max_attempts):
            return f"gave up after {failures} attempts"
        return None

    def give_up(
        self,
        response: httpx.Response,
        route: str,
        reason: str,
        *,
        retry_after: float | None = None,
    ) -> NoReturn:
        """Raise the typed error of a retryable failure that is not retried any more."""
        status = response.status_code
        message = (_upstream_message(response) or f"HTTP {status}") + _request_id(response)
        cls: type[ConnectorError] = RateLimitedError if status == 429 else UpstreamError
        raise cls(
            f"{message}; {reason}",
            status=status,
            route=route,
            retry_after=retry_after,
            **self.advice_for(status, route),
        )

    def observe_limits(self, response: httpx.Response, group: str) -> None:
        """Adapt the shared budget to the server's ``x-ratelimit-*`` headers, when sent.

        The stated limit replaces the configured one for this tenant and group (told to the
        budget only when it changes); a successful response saying nothing remains cools the
        group down until the stated reset, so no worker sends a request bound to fail.
        """
        limits = parse_rate_limit_headers(response.headers)
        if limits.limit is not None and self._learned.get(group) != limits.limit:
            self.budget.learn(self.tenant_key, group, limits.limit)
            self._learned[group] = limits.limit
        if (
            response.is_success
            and limits.remaining == 0
            and limits.reset is not None
            and 0 < limits.reset <= self.options.retry_after_cap
        ):
            self.budget.cool_down(self.tenant_key, group, limits.reset)

    def _event(
        self,
        group: str,
        route: str,
        attempt: int,
        outcome: str,
        elapsed: float,
        response: httpx.Response | None = None,
        retry_after: float | None = None,
    ) -> CallEvent:
        """The observer's event of one attempt (``response`` None: nothing was answered)."""
        return CallEvent(
            tenant=self.tenant_key,
            api=self.api,
            group=group,
            route=route,
            status=None if response is None else response.status_code,
            attempt=attempt,
            outcome=outcome,
            elapsed=elapsed,
            retry_after=retry_after,
            http_version=None if response is None else response.http_version,
        )

    def get_json(
        self,
        path: str,
        *,
        route: str,
        group: str,
        params: QueryParams | None = None,
        max_bytes: int | None = None,
    ) -> Any:
        """GET and decode JSON; a body that is not JSON is retried (truncation), then fails.

        With ``max_bytes`` the body is read as a stream, decoded under that cap, and None is
        returned (nothing more read) as soon as it is declared or grows larger.
        """
        attempts = max(1, self.options.max_attempts) if self.options.retry_malformed_json else 1
        for attempt in range(1, attempts + 1):
            if max_bytes is None:
                response = self.send("GET", path, route=route, group=group, params=params)
                raw = response.content
            else:
                response = self.send(
                    "GET", path, route=route, group=group, params=params, stream=True
                )
                capped = _read_page_capped(response, max_bytes)
                if capped is None:
                    return None
                raw = capped
            try:
                return json.loads(raw)
            except JSON_DECODE_ERRORS:
                request_id = response.headers.get("x-request-id")
                if attempt >= attempts:
                    where = f" (x-request-id {scrub(request_id, limit=80)})" if request_id else ""
                    raise MalformedResponseError(
                        f"GET {route} returned a body that is not valid JSON "
                        f"({len(raw)} bytes){where}",
                        status=response.status_code,
                        route=route,
                    ) from None
                log.info("retrying GET %s for %s: body is not valid JSON", route, self.tenant_key)
                self._sleep(backoff_delay(attempt, self.options, self._rng))
        raise AssertionError("unreachable")  # pragma: no cover

    def paginate(
        self,
        path: str,
        *,
        route: str,
        group: str,
        limit: int,
        params: QueryParams | None = None,
        rules: PageRules | None = None,
        stats: PagingStats | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield every item of a list route, page after page.

        Loops on ``has_more`` only (pages may be short), advances with ``after = last_id``
        or the last item's id, and raises ``MalformedResponseError`` on a page without a
        ``data`` list, a repeated cursor (with ``rules.relisting``: the same cursor over the
        same page content), ``has_more`` without a cursor, or past ``max_pages``. With
        ``checkpoints``, pages saved by an earlier run of the same listing are replayed
        first and paging resumes after the last saved cursor. A 400/422 blaming ``limit``
        retries that page once without it and tells ``options.on_limit_rejected`` (the
        tenant remembers). ``rules`` (``PageRules``) caps page bytes, allows relisting and
        sets the form items are kept in; ``stats`` counts pages read, resumed and shrunk.
        """
        rules = rules or PageRules()
        stats = stats if stats is not None else PagingStats()
        base: list[tuple[str, str | int | float]] = (
            list(params.items()) if isinstance(params, Mapping) else list(params or [])
        )
        checkpoints = self.checkpoints if rules.checkpoint else None
        # The tenant and base URL are part of the name: Admin paths carry no organization id.
        where = f"{self.tenant_key} {self.base_url}{path}"
        listing = listing_id(where, base) if checkpoints is not None else ""
        saved = checkpoints.load(listing) if checkpoints is not None else None
        # A tenant whose API refused `limit` on this route before is listed without it.
        paging = _Paging(limit=limit, send_limit=route not in self.options.limitless_routes)
        after: str | None = None
        pages = 0
        if saved is not None:
            for items in saved.pages:
                yield from items
            stats.pages_resumed = len(saved.pages)
            if saved.done:
                return
            pages = len(saved.pages)
            paging.seen.update(
                _loop_key(c, items, rules.relisting)
                for c, items in zip(saved.cursors, saved.pages, strict=False)
            )
            after = saved.cursor
            log.info("resuming %s for %s after %d saved page(s)", route, self.tenant_key, pages)
        saving = checkpoints is not None
        while pages < self.options.max_pages:
            body = self._list_page(path, route, group, base, after, paging, rules, stats)
            if body is None:
                continue  # over the byte cap: asked for again with a smaller limit
            stats.pages += 1
            raw, cursor = self._page(body, route)
            data = [rules.keep(item) for item in raw] if rules.keep is not None else raw
            if cursor is not None:
                key = _loop_key(cursor, data, rules.relisting)
                if key in paging.seen:
                    raise MalformedResponseError(
                        f"GET {route} returned a cursor it already returned"
                        f"{' over the same page' if rules.relisting else ''}: the server is "
                        "paging in a loop",
                        route=route,
                    )
                paging.seen.add(key)
            if saving and checkpoints is not None:
                saving = checkpoints.save_page(listing, pages, data, cursor, done=cursor is None)
            pages += 1
            yield from data
            if cursor is None:
                return
            after = cursor
        raise MalformedResponseError(
            f"GET {route} still has_more after {self.options.max_pages} pages (max_pages guard)",
            route=route,
            hint="raise ClientOptions.max_pages if the tenant is really this large; "
            "otherwise report the route to the maintainers",
            remedy=Remedy.REPORT,
            api=self.api,
        )

    def _list_page(
        self,
        path: str,
        route: str,
        group: str,
        base: list[tuple[str, str | int | float]],
        after: str | None,
        paging: _Paging,
        rules: PageRules,
        stats: PagingStats,
    ) -> Any:
        """One page of a listing, or None when it was over ``rules.max_bytes`` (the limit is
        halved for the next ask). A 400/422 blaming ``limit`` asks once more without it."""
        query = [*base, ("limit", paging.limit)] if paging.send_limit else list(base)
        if after is not None:
            query.append(("after", after))
        try:
            body = self.get_json(
                path, route=route, group=group, params=query, max_bytes=rules.max_bytes
            )
        except ConnectorError as exc:
            if not (paging.send_limit and rejects_limit(exc)):
                raise
            # The page size is undocumented or narrower than ours: retry this page once
            # without it (the API's default) and keep it off for the rest of the listing.
            paging.send_limit = False
            log.info(
                "GET %s for %s refused limit=%d: listing without it",
                route,
                self.tenant_key,
                paging.limit,
            )
            if self.options.on_limit_rejected is not None:
                self.options.on_limit_rejected(route)
            query = [item for item in query if item[0] != "limit"]
            body = self.get_json(
                path, route=route, group=group, params=query, max_bytes=rules.max_bytes
            )
        if body is not None:
            return body
        if paging.limit <= 1 or not paging.send_limit:
            raise MalformedResponseError(
                f"GET {route} returned "
                f"{'one item' if paging.send_limit else 'a page'} larger than "
                f"{rules.max_bytes} bytes",
                route=route,
                hint=rules.too_large_hint,
                remedy=Remedy.REPORT,
                api=self.api,
            )
        paging.limit = max(1, paging.limit // 2)
        stats.pages_shrunk += 1
        return None

    @staticmethod
    def _page(body: Any, route: str) -> tuple[list[dict[str, Any]], str | None]:
        """A list page's items and the cursor of the next page (None on the last page)."""
        data = page_items(body, route)
        if not body["has_more"]:
            return data, None
        cursor = body.get("last_id") or (data[-1].get("id") if data else None)
        if not isinstance(cursor, str) or not cursor:
            raise MalformedResponseError(
                f"GET {route} says has_more but gives no cursor (no last_id, no items)",
                route=route,
            )
        return data, cursor


def _read_page_capped(response: httpx.Response, cap: int) -> bytes | None:
    """A streamed list page's body, decoded under ``cap`` bytes; None when it is larger.
    A body that breaks off mid-read comes back unparsable (retried like bad JSON)."""
    try:
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > cap:
            return None
        body = bytearray()
        try:
            # Decoded with a bounded output: a compressed page cannot expand past the cap
            # before it is counted.
            for chunk in iter_capped(response, cap):
                body += chunk
        except BodyTooLarge:
            return None
        except (httpx.RequestError, UnsupportedEncoding, zlib.error):
            return b"\x00"
        return bytes(body)
    finally:
        response.close()


def _loop_key(cursor: str, items: Sequence[Mapping[str, Any]], relisting: bool) -> str:
    """What the paging-loop guard remembers of a page: its cursor, and for a listing that
    may list items again, a digest of the page's (kept) items too."""
    if not relisting:
        return cursor
    blob = json.dumps(list(items), sort_keys=True, separators=(",", ":"), default=str)
    return f"{cursor} {hashlib.sha256(blob.encode()).hexdigest()[:32]}"
