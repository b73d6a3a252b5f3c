"""Where a channel may send: the check made on every configured address before a request.

A company's HR admin types the URLs and the SMTP host our server then calls. Without a check
that is server-side request forgery: ``http://169.254.169.254/`` (a cloud's metadata service),
``http://127.0.0.1:5432``, an intranet host. So, unless ``Transport.allow_private_hosts`` (tests
and on-premise receivers):

- a URL must be ``https``;
- the host, resolved, must have only global unicast addresses: private, loopback, link-local,
  multicast, reserved, unspecified, shared (100.64/10) and IPv4 addresses hidden in IPv6
  (``::ffff:10.0.0.1``, NAT64 ``64:ff9b::a00:1``) are refused; one bad address among several
  refuses the host (a resolver answering both is an attack, not a misconfiguration);
- redirects are never followed (a public URL answering 302 to an internal one).

Checking a name and then letting the HTTP client resolve it again leaves a window (DNS
rebinding: the second answer is 127.0.0.1). ``outbound_client`` closes it: its connections are
opened by ``GuardedNetworkBackend``, which resolves the name itself, checks every address and
connects to a checked one, while TLS still verifies the certificate against the name. The worker
builds ``Transport.http`` with it; the check before each request stays, so a refusal is a clear
permanent failure whatever client is used. E-mail connects its socket the same way
(``connect_checked``).

``url_shape`` is the settings-time check (no network, no policy: whether private hosts are
allowed is the deployment's, known to the worker's ``Transport``, not to HR's form);
``url_policy_problem`` is the policy without resolving, for a caller that wants to refuse a
literal private address when the settings are saved.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from backend.errors import DomainError, ErrorCode
from backend.services.notifications.channels.base import DeliveryFailed, Transport

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2000
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class AddressRefused(Exception):
    """A host resolved to an address this deployment may not call. Never retried."""


def address_allowed(address: IPAddress) -> bool:
    """Whether a server may call this address when private hosts are not allowed."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return address_allowed(embedded)
    # is_global is False for private, loopback, link-local, reserved, unspecified and shared
    # (100.64/10) ranges; multicast can be "global", so it is refused by name.
    return address.is_global and not address.is_multicast


def _literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def url_shape(value: Any, field: str) -> str:
    """A settings-time check of a URL HR typed: ``http`` or ``https``, a host, no user name or
    password in it, no fragment; returned stripped. No network, no policy (see the module)."""
    if not isinstance(value, str) or not value.strip():
        raise DomainError(ErrorCode.VALIDATION, field=field, reason_key="reason.required")
    url = value.strip()
    if len(url) > MAX_URL_LENGTH:
        raise DomainError(ErrorCode.VALIDATION, field=field, reason_key="reason.too_long", max=MAX_URL_LENGTH)
    try:
        parts = urlsplit(url)
        port = parts.port  # raises for a port that is not a number in range
        parsed = httpx.URL(url)
    except (ValueError, httpx.InvalidURL):
        raise DomainError(ErrorCode.VALIDATION, field=field, reason_key="reason.url_format", name=field) from None
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or parts.password is not None
        or parts.fragment
        or any(ch.isspace() or ord(ch) < 32 for ch in url)
        or port == 0
        or not parsed.host
    ):
        raise DomainError(ErrorCode.VALIDATION, field=field, reason_key="reason.url_format", name=field)
    return url


def url_policy_problem(url: str, allow_private_hosts: bool) -> str | None:
    """Why this URL may not be called under the policy, judged without resolving its host (a
    literal address, the scheme); None when nothing is wrong yet. The reason names no secret."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return "the address is not a valid URL"
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return "the address is not an http(s) URL"
    if allow_private_hosts:
        return None
    if parsed.scheme != "https":
        return "the address must use https"
    literal = _literal_address(parsed.host)
    if literal is not None and not address_allowed(literal):
        return "the address is private, loopback, link-local or reserved"
    return None


async def resolve_checked(host: str, port: int, allow_private_hosts: bool) -> list[str]:
    """The host's addresses, in the resolver's order, each checked against the policy.

    Raises ``AddressRefused`` when any address is refused, ``OSError`` when the name does not
    resolve (a retryable failure: DNS can be down for a while)."""
    literal = _literal_address(host)
    if literal is not None:
        found: Iterable[str] = [str(literal)]
    else:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        found = [str(info[4][0]) for info in infos]
    addresses = list(dict.fromkeys(found))  # unique, order kept
    if not addresses:
        raise OSError(f"no address for {host}")
    if not allow_private_hosts:
        for text in addresses:
            # A scoped IPv6 address (fe80::1%eth0) is link-local anyway: drop the scope to parse it.
            if not address_allowed(ipaddress.ip_address(text.split("%", 1)[0])):
                raise AddressRefused("the host resolves to a private, loopback, link-local or reserved address")
    return addresses


async def check_destination(url: str, transport: Transport) -> httpx.URL:
    """The check made before each request: the policy, then the host resolved and checked.
    Raises ``DeliveryFailed`` (permanent when the policy refuses, retryable when DNS fails)."""
    problem = url_policy_problem(url, transport.allow_private_hosts)
    if problem is not None:
        raise DeliveryFailed(problem, permanent=True)
    parsed = httpx.URL(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        await resolve_checked(parsed.host, port, transport.allow_private_hosts)
    except AddressRefused as exc:
        raise DeliveryFailed(str(exc), permanent=True) from None
    except OSError:
        raise DeliveryFailed("the host name could not be resolved") from None
    return parsed


async def connect_checked(host: str, port: int, allow_private_hosts: bool, seconds: float) -> socket.socket:
    """A connected, non-blocking TCP socket to a checked address of ``host`` (for clients such as
    aiosmtplib that accept a socket). Raises ``AddressRefused`` or ``OSError``/``TimeoutError``."""
    loop = asyncio.get_running_loop()
    last: OSError | None = None
    for address in await resolve_checked(host, port, allow_private_hosts):
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            async with asyncio.timeout(seconds):
                await loop.sock_connect(sock, (address, port))
        except (OSError, TimeoutError) as exc:
            sock.close()
            last = exc if isinstance(exc, OSError) else OSError(f"timed out connecting to port {port}")
            continue
        return sock
    raise last or OSError("no address to connect to")


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with the address check at the moment of connecting: the name
    is resolved here, every address checked, and the connection made to a checked address (TLS
    is layered on afterwards by httpcore with the URL's host name, so certificates are verified as
    usual). ``AddressRefused`` passes through httpx unchanged."""

    def __init__(self, allow_private_hosts: bool) -> None:
        self.allow_private_hosts = allow_private_hosts
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await resolve_checked(host, port, self.allow_private_hosts)
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused("unix sockets are not a destination")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with its connection pool opened through ``GuardedNetworkBackend``.
    httpx does not take a network backend, so the pool it built is replaced by one that does
    (same options); its request and response mapping is kept."""

    def __init__(self, *, allow_private_hosts: bool, http2: bool, limits: httpx.Limits) -> None:
        super().__init__(http2=http2, limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=http2,
            network_backend=GuardedNetworkBackend(allow_private_hosts),
        )


def quiet_client_logs() -> None:
    """httpx logs each request's URL at INFO: a group robot's URL carries its access token
    (WeCom ``?key=``, DingTalk ``?access_token=``, Feishu's hook path), so those lines never reach
    the log of a process that sends notifications (the worker, or the API server testing a channel)."""
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.WARNING:
            logger.setLevel(logging.WARNING)


def outbound_client(
    *, allow_private_hosts: bool = False, timeout_seconds: float = 10.0, http2: bool = True
) -> httpx.AsyncClient:
    """The HTTP client for ``Transport.http``: addresses checked at connect time, no redirects,
    no proxy or credentials from the environment, HTTP/2 offered (APNs requires it; other servers
    answer HTTP/1.1 through ALPN, and plain ``http://`` receivers are always HTTP/1.1). Its
    request lines stay out of the log (``quiet_client_logs``)."""
    quiet_client_logs()
    limits = httpx.Limits(max_connections=50, max_keepalive_connections=20, keepalive_expiry=30.0)
    return httpx.AsyncClient(
        transport=GuardedTransport(allow_private_hosts=allow_private_hosts, http2=http2, limits=limits),
        follow_redirects=False,
        timeout=timeout_seconds,
        trust_env=False,
    )
