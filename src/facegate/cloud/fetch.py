"""Fetching caller-supplied URLs (``selfie_url``, ``liveness_data_url``) without becoming a
proxy into our own network.

The server fetches such a URL from inside its own network, which makes it an SSRF target:
``http://169.254.169.254/`` hands out cloud credentials, ``http://localhost:6379/`` or an
internal admin page answer anyone who can reach them. So :class:`SafeFetcher`

* takes only ``http`` and ``https`` URLs, without ``user:password@``;
* resolves the host itself and refuses it when *any* address in the answer is not public
  (loopback, private, link-local, carrier-grade NAT, multicast, reserved; IPv4-mapped, 6to4 and
  NAT64 addresses are judged by the IPv4 address inside), unless :attr:`FetchOptions.allow`
  names the host or a network holding the address. Numeric host forms that ``getaddrinfo``
  would accept (``2130706433``, ``0x7f.1``) are read as the IPv4 address they mean;
* refuses cloud metadata endpoints (:data:`METADATA_ADDRESSES`) even inside an allowed network
  or behind an allowed host name: only an entry naming that exact address lets one through;
* connects to the very address it checked: the request goes to ``http(s)://<ip>:<port>``, with
  the original ``Host`` header, and for https the original name as SNI and as the name the
  certificate must match. A second DNS answer (DNS rebinding) therefore cannot move it;
* follows redirects itself, checking every hop like the first URL;
* bounds the whole fetch (DNS, connect, redirects, body) by a total timeout and the body by a
  size cap while it streams, and asks for and accepts only uncompressed bodies, so a small gzip
  stream cannot expand past the cap. It keeps no cookies and ignores proxy settings from the
  environment.

Failures raise :class:`FetchError`, whose ``kind`` the API maps to an error code (``timeout`` →
DOWNLOAD_TIMEOUT, ``error`` → DOWNLOAD_ERROR, ``too_big`` → IMAGE_FILE_SIZE_TOO_BIG) and whose
``reason`` is safe to show the caller: it names the host, an address written in the URL, the
kind of address refused and HTTP statuses. It never contains a response body or the address a
host name resolved to, so the fetcher cannot be used to map internal DNS.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import ipaddress
import logging
import re
import socket
import ssl
import urllib.request
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal, Self, TypeVar

import httpx

from facegate import __version__

log = logging.getLogger("facegate.cloud.fetch")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
FetchErrorKind = Literal["timeout", "error", "too_big"]
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""``(host, port) -> addresses``: the IP addresses (as text) a host name resolves to."""

# Endpoints that hand out instance credentials. Most sit in ranges refused anyway; listing them
# keeps them refused when an operator allows a whole range around them (169.254.0.0/16,
# fd00::/8, 100.64.0.0/10), and 168.63.129.16 would otherwise pass as a public address.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP, Azure, OCI, OpenStack, DigitalOcean instance metadata
        "169.254.170.2",  # AWS ECS task credentials
        "169.254.170.23",  # AWS EKS Pod Identity
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure WireServer
        "fd00:ec2::254",  # AWS instance metadata over IPv6
        "fd00:ec2::23",  # AWS EKS Pod Identity over IPv6
        "fd20:ce::254",  # GCP metadata over IPv6
    )
)

_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# Not yet in Python 3.11's is_private table, and routed only inside the operator's network.
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_URL_LENGTH = 8192
_NUMERIC_LABEL = re.compile(r"0[xX][0-9a-fA-F]*|[0-9]+")
_HOST_NAME = re.compile(r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*")

_E = TypeVar("_E", bound=BaseException)


@dataclass(frozen=True, kw_only=True)
class FetchOptions:
    """How one kind of URL input is fetched (the settings build one per input)."""

    connect_timeout: float = 3.0
    """Seconds to open one TCP (and TLS) connection."""
    total_timeout: float = 10.0
    """Seconds for the whole fetch: DNS, connections, redirects and the body."""
    max_bytes: int
    """The largest body accepted; one byte more fails with ``too_big``."""
    max_redirects: int = 3
    allow: tuple[str, ...] = ()
    """Non-public destinations that may be fetched: CIDR networks or addresses (``10.0.0.0/8``,
    ``127.0.0.1``, ``::1/128``) and exact host names (``images.internal``, which then may
    resolve to any address but a metadata one). A metadata address needs an entry naming
    exactly it (``169.254.169.254/32``); a wider network does not admit it."""
    user_agent: str = f"facegate/{__version__}"

    def __post_init__(self) -> None:
        if self.connect_timeout <= 0 or self.total_timeout <= 0:
            raise ValueError("fetch timeouts must be positive")
        if self.max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        if self.max_redirects < 0:
            raise ValueError("max_redirects must not be negative")
        _Allowlist.parse(self.allow)  # fail at start-up, not on the first fetch


class FetchError(Exception):
    """A URL could not be fetched; ``reason`` may be shown to the caller as it is, ``detail``
    (for the logs) says more where the caller must not learn it."""

    def __init__(self, kind: FetchErrorKind, reason: str, detail: str | None = None) -> None:
        super().__init__(f"{kind}: {detail or reason}")
        self.kind: FetchErrorKind = kind
        self.reason = reason
        self.detail = detail or reason


def _unreachable(host: str, detail: str) -> FetchError:
    # One answer whether the name does not resolve or resolves to an address we refuse: telling
    # them apart would let a caller map the private network's DNS through this server.
    return FetchError("error", f"{host} does not resolve to an address that may be fetched", detail)


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses ``getaddrinfo`` gives for ``host``, in its order (the default resolver)."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return [str(info[4][0]) for info in infos]


class SafeFetcher:
    """Fetches caller-supplied URLs under one :class:`FetchOptions`.

    Holds one HTTP client for its lifetime (keep one per option set, close it with
    :meth:`aclose` or ``async with``). ``resolver`` and ``transport`` replace DNS and the
    network in tests.
    """

    def __init__(
        self,
        options: FetchOptions,
        *,
        resolver: Resolver | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.options = options
        self._allow = _Allowlist.parse(options.allow)
        self._resolve: Resolver = resolver or system_resolver
        if transport is None:
            # No keep-alive: a pooled connection is keyed by IP, and reusing one that was
            # verified for another host name would skip that name's certificate check.
            transport = httpx.AsyncHTTPTransport(
                limits=httpx.Limits(max_keepalive_connections=0), trust_env=False, retries=0
            )
        self._client = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(options.total_timeout, connect=options.connect_timeout),
            follow_redirects=False,
            trust_env=False,
            # A cookie one tenant's server sets must never reach the next fetch.
            cookies=http.cookiejar.CookieJar(policy=_NoCookies()),
            headers={
                "User-Agent": options.user_agent,
                "Accept": "*/*",
                "Accept-Encoding": "identity",
            },
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def fetch(self, url: str) -> bytes:
        """The body of ``url`` (2xx, after at most ``max_redirects`` redirects).

        Raises :class:`FetchError` for every way the fetch can fail.
        """
        target = _parse_url(url)
        try:
            async with asyncio.timeout(self.options.total_timeout):
                return await self._follow(target)
        except TimeoutError:
            raise FetchError(
                "timeout",
                f"no complete answer from {target.where} within {self.options.total_timeout:g} s",
            ) from None

    async def _follow(self, target: _Target) -> bytes:
        referrer: _Target | None = None  # the hop that redirected to ``target``
        for _ in range(self.options.max_redirects + 1):
            addresses = await self._vet(target, referrer)
            response = await self._open(target, addresses)
            try:
                status = response.status_code
                if status in _REDIRECTS:
                    location = response.headers.get("location")
                    if not location:
                        raise FetchError(
                            "error", f"HTTP {status} from {target.where} without a Location"
                        )
                    referrer, target = target, _redirect_target(target, location)
                    continue
                if not 200 <= status < 300:
                    raise FetchError("error", f"HTTP {status} from {target.where}")
                return await self._read(response, target)
            finally:
                await response.aclose()
        raise FetchError("error", f"more than {self.options.max_redirects} redirects")

    async def _vet(self, target: _Target, referrer: _Target | None) -> list[IPAddress]:
        """The addresses ``target`` may be fetched from, or FetchError if any is refused."""
        if target.literal is not None:
            addresses = [target.literal]
        else:
            try:
                answers = await self._resolve(target.host, target.port)
                addresses = list(dict.fromkeys(ipaddress.ip_address(a) for a in answers))
            except (OSError, UnicodeError, ValueError):
                raise _unreachable(target.host, f"could not resolve {target.host}") from None
            if not addresses:
                raise _unreachable(target.host, f"could not resolve {target.host}")
        for address in addresses:
            why = self._allow.refusal(target.host, address)
            if why is None:
                continue
            log.info("fetch refused: %s -> %s (%s)", target.host, address, why)
            if target.literal is not None:
                refused = f"{target.host} is a {why} address"
            else:
                refused = f"{target.host} resolves to a {why} address"
            if referrer is not None:
                detail = f"a redirect from {referrer.where} led to a refused address: {refused}"
            else:
                detail = f"refused address: {refused}"
            raise _unreachable(target.host, detail)
        return addresses

    async def _open(self, target: _Target, addresses: Sequence[IPAddress]) -> httpx.Response:
        """The response head from the first vetted address that takes the connection."""
        failure: FetchError | None = None
        for address in addresses:
            request = self._pinned_request(target, address)
            try:
                return await self._client.send(request, stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                # Another address of the same answer may be reachable (IPv6 before IPv4).
                failure = _transport_failure(exc, target.where)
            except httpx.HTTPError as exc:
                raise _transport_failure(exc, target.where) from None
        assert failure is not None
        raise failure

    def _pinned_request(self, target: _Target, address: IPAddress) -> httpx.Request:
        """A GET for ``target`` that connects to ``address`` and to nothing a resolver says."""
        try:
            pinned = target.url.copy_with(host=str(address), fragment=None)
        except httpx.InvalidURL:
            raise FetchError("error", f"cannot connect to {target.where}") from None
        extensions: dict[str, str] = {}
        if target.url.scheme == "https" and target.literal is None:
            # The certificate is checked against this name, not against the IP we dial.
            extensions["sni_hostname"] = target.host
        return self._client.build_request(
            "GET",
            pinned,
            headers={"Host": target.url.netloc.decode("ascii")},
            extensions=extensions,
        )

    async def _read(self, response: httpx.Response, target: _Target) -> bytes:
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            # Decoding would let a few compressed bytes grow far past max_bytes.
            raise FetchError(
                "error", f"{target.where} sent a {encoding}-encoded body; identity was asked for"
            )
        limit = self.options.max_bytes
        too_big = FetchError("too_big", f"the file at {target.where} is larger than {limit} bytes")
        declared = response.headers.get("content-length", "").strip()
        if declared.isdigit() and int(declared) > limit:
            raise too_big
        body = bytearray()
        try:
            # Raw bytes: what arrived on the wire is what the cap counts.
            async for chunk in response.aiter_raw():
                if len(body) + len(chunk) > limit:
                    raise too_big
                body += chunk
        except httpx.HTTPError as exc:
            raise _transport_failure(exc, target.where) from None
        return bytes(body)


async def fetch(
    url: str,
    options: FetchOptions,
    *,
    resolver: Resolver | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> bytes:
    """One fetch with a client of its own; :class:`SafeFetcher` reuses one across fetches."""
    async with SafeFetcher(options, resolver=resolver, transport=transport) as fetcher:
        return await fetcher.fetch(url)


@dataclass(frozen=True, slots=True)
class _Target:
    url: httpx.URL
    host: str  # ASCII (IDNA), lower case, no trailing dot, IPv6 without brackets
    port: int
    literal: IPAddress | None  # the address when the URL names one instead of a host name

    @property
    def where(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def _parse_url(url: str) -> _Target:
    if len(url) > _MAX_URL_LENGTH:
        raise FetchError("error", f"the URL is longer than {_MAX_URL_LENGTH} characters")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise FetchError("error", "not a valid URL") from None
    return _target(parsed)


def _redirect_target(source: _Target, location: str) -> _Target:
    try:
        return _target(source.url.join(location))
    except (httpx.InvalidURL, TypeError, ValueError):
        reason = "not a valid URL"
    except FetchError as exc:
        reason = exc.reason
    raise FetchError("error", f"a redirect from {source.where} led to a refused URL: {reason}")


def _target(url: httpx.URL) -> _Target:
    if url.scheme not in ("http", "https"):
        scheme = f"{url.scheme}:" if url.scheme else "a relative URL"
        raise FetchError("error", f"only http and https URLs can be fetched, not {scheme}")
    if url.userinfo:
        raise FetchError("error", "URLs with credentials (user:password@) are not accepted")
    host = url.raw_host.decode("ascii").lower()
    if host.endswith("."):
        host = host[:-1]
    if not host:
        raise FetchError("error", "the URL has no host")
    port = url.port if url.port is not None else (443 if url.scheme == "https" else 80)
    if not 0 < port < 65536:
        raise FetchError("error", f"invalid port {port}")
    literal = _ip_literal(host)
    if literal is None and not _HOST_NAME.fullmatch(host):
        raise FetchError("error", f"{host} is not a valid host name")
    return _Target(url=url, host=host, port=port, literal=literal)


def _ip_literal(host: str) -> IPAddress | None:
    """The address ``host`` spells, in any form the system resolver would read as one."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    labels = host.split(".")
    if not all(_NUMERIC_LABEL.fullmatch(label) for label in labels):
        return None  # a host name
    # inet_aton's forms, which getaddrinfo accepts too: 1 to 4 parts, each decimal, octal
    # (leading 0) or hex (0x), the last one filling the remaining bytes. Read here so the
    # address checked is the one connected to, whatever resolver is in use.
    invalid = FetchError("error", f"{host} is not a valid IPv4 address")
    if len(labels) > 4:
        raise invalid
    try:
        parts = [_inet_aton_part(label) for label in labels]
    except ValueError:
        raise invalid from None
    *leading, last = parts
    if any(part > 255 for part in leading) or last >= 1 << (8 * (5 - len(parts))):
        raise invalid
    value = last
    for index, part in enumerate(leading):
        value |= part << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _inet_aton_part(label: str) -> int:
    if label[:2].lower() == "0x":
        return int(label[2:] or "0", 16)
    if len(label) > 1 and label.startswith("0"):
        return int(label, 8)
    return int(label)


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries traffic for (mapped, 6to4, NAT64)."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return None


def _not_public(address: IPAddress) -> str | None:
    """Which kind of non-public address ``address`` is, or None for a public unicast one."""
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_unspecified:
        return "unspecified"
    if address.is_multicast:
        return "multicast"
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return "carrier-grade NAT"
    if isinstance(address, ipaddress.IPv6Address) and (
        address.is_site_local or address in _NAT64_LOCAL
    ):
        return "private"
    if address.is_private:
        return "private"
    if address.is_reserved:
        return "reserved"
    if not address.is_global:
        return "non-public"
    return None


@dataclass(frozen=True, slots=True)
class _Allowlist:
    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def parse(cls, entries: Sequence[str]) -> _Allowlist:
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for entry in entries:
            text = entry.strip().lower()
            if text.endswith("."):
                text = text[:-1]
            try:
                networks.append(ipaddress.ip_network(text))
                continue
            except ValueError as exc:
                looks_numeric = all(_NUMERIC_LABEL.fullmatch(p) for p in text.split("."))
                if "/" in text or ":" in text or looks_numeric:
                    raise ValueError(f"fetch allowlist: {entry!r}: {exc}") from None
            if not _HOST_NAME.fullmatch(text):
                raise ValueError(f"fetch allowlist: {entry!r} is neither a network nor a host name")
            hosts.add(text)
        return cls(tuple(networks), frozenset(hosts))

    def refusal(self, host: str, address: IPAddress) -> str | None:
        """Why ``address`` (an answer for ``host``) may not be fetched from; None if it may."""
        # A mapped, 6to4 or NAT64 address reaches the IPv4 address inside it: judge that one
        # (the wrappers themselves count as reserved or private), allow by either.
        embedded = _embedded_ipv4(address)
        judged = address if embedded is None else embedded
        exact = any(net.num_addresses == 1 and judged in net for net in self.networks)
        if judged in METADATA_ADDRESSES and not exact:
            return "cloud metadata"
        why = _not_public(judged)
        if why is None or host in self.hosts:
            return None
        views = (address,) if embedded is None else (address, embedded)
        if any(view in net for net in self.networks for view in views):
            return None
        return why


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    def set_ok(self, cookie: http.cookiejar.Cookie, request: urllib.request.Request) -> bool:
        return False

    def return_ok(self, cookie: http.cookiejar.Cookie, request: urllib.request.Request) -> bool:
        return False


def _transport_failure(exc: httpx.HTTPError, where: str) -> FetchError:
    if isinstance(exc, httpx.TimeoutException):
        doing = "connecting to" if isinstance(exc, httpx.ConnectTimeout) else "waiting for"
        return FetchError("timeout", f"timed out {doing} {where}")
    if isinstance(exc, httpx.ConnectError):
        tls = _cause(exc, ssl.SSLError)
        if tls is not None:
            detail = getattr(tls, "verify_message", None) or tls.reason or "TLS error"
            return FetchError("error", f"TLS handshake with {where} failed: {detail}")
        if _cause(exc, ConnectionRefusedError) is not None or "refused" in str(exc).lower():
            return FetchError("error", f"connection refused by {where}")
        return FetchError("error", f"could not connect to {where}")
    return FetchError("error", f"the connection to {where} failed ({type(exc).__name__})")


def _cause(exc: BaseException, kind: type[_E]) -> _E | None:
    seen: set[int] = set()
    node: BaseException | None = exc
    while node is not None and id(node) not in seen:
        if isinstance(node, kind):
            return node
        seen.add(id(node))
        node = node.__cause__ or node.__context__
    return None
