"""Request rate limits: per access token, signed-in device and person, and per client address (docs/api.md).

An ASGI middleware in front of every route. Counting is the ``limits`` library's sliding-window
counter (two counters per key: constant memory however high the limit, and one round trip per
check), kept in Redis when ``XUEFEN_REDIS_URL`` is set, so every server process on every host
counts against the same numbers; without Redis each process counts on its own (one process and
SQLite deployments, development).

Which counters a request draws on:

- A request with a valid access token (``Authorization: Bearer``) draws on three counters, all
  keyed on the token's verified claims (``auth.access_token_identity`` caches them: no database query
  here), never on the token's text, which has several spellings that verify alike (PyJWT takes a
  trailing ``=``; base64 ignores the unused bits of the signature's last character):

  - the token: its sign-in session and its issued-at second (two tokens of one session issued in
    the same second are the same token);
  - the device: the token's session id. Every token a sign-in is given by refreshing belongs to
    that session, so refreshing does not buy a fresh allowance; signing in again makes a new
    session (a new "device" for this counter, even with the same deviceId), which is why
  - the person (company + employee) is counted too: signing in N times buys no N allowances.

  Whether the session is still live is the API's business afterwards, as for every request.
- Any other request (login, activation, refresh, projector pages; an expired or forged token too):
  its client address only (IPv6 by its /64, as login throttling counts). Addresses are not counted
  for signed-in phones: a whole site's phones often share one NAT address.

Not counted: CORS preflights and every other OPTIONS request (they carry no credentials and run
nothing), health checks, /metrics, static files, and media downloads (/media/…: a video player's
range requests come by the dozen when someone seeks; the link is signed and expires, and bandwidth
belongs to the proxy's limits). One HTTP request counts once, whatever it carries (a sync push of
500 records is one request).

A refused request gets 429 with ``Retry-After`` and the GraphQL error shape (code RATE_LIMITED);
every counted answer carries ``RateLimit-Limit``/``-Remaining``/``-Reset`` (IETF draft) for the
counter closest to its limit.

If Redis cannot be reached the request is served without a limit (fail open): the limit protects
the API from a runaway client, and an outage of the counter must not become an outage of the API
for every phone. A warning is logged (at most once a minute), ``xuefen_rate_limit_errors_total``
counts the failures, and Redis is not asked again for a few seconds so that each request does not
wait for its timeout.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar, cast

import orjson
from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from prometheus_client import Counter
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.config import ConfigError, Settings
from backend.errors import DomainError, ErrorCode
from backend.i18n import negotiate_locale
from backend.services.people.auth import access_token_identity, client_source

log = logging.getLogger("xuefen.rate_limit")
T = TypeVar("T")

# Paths never counted: health checks, metrics, static files (GraphiQL's, the dashboard's), media.
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
EXEMPT_PREFIXES = ("/media/", "/graphiql-assets/", "/admin/static/")

# Redis on the same host or LAN answers in well under a millisecond: a check that takes longer
# than this is a Redis in trouble, and the request goes on without waiting for it.
REDIS_TIMEOUT_SECONDS = 0.25
# After a failure Redis is not asked again for this long (the requests meanwhile are served).
RETRY_STORAGE_SECONDS = 5.0
# At most one "storage unreachable" warning this often per process.
WARN_EVERY_SECONDS = 60.0

REFUSED = Counter("xuefen_rate_limited", "Requests refused with 429 by the rate limit, by counter", ["scope"])
STORAGE_ERRORS = Counter(
    "xuefen_rate_limit_errors", "Rate-limit checks that failed (storage unreachable): served without a limit"
)


def parse_limit(name: str, text: str) -> tuple[RateLimitItem, ...]:
    """A setting such as ``600/minute`` or ``20/second;600/minute`` (the ``limits`` syntax), or
    ``off`` for none. Refused with a one-line error at start, never at the first request."""
    text = text.strip()
    if text.lower() in {"off", "none"}:
        return ()
    try:
        items = tuple(parse_many(text))
    except ValueError:
        raise ConfigError(
            f"{name} must look like 600/minute (or several: 20/second;600/minute), got {text!r}"
        ) from None
    if not items or any(item.amount < 1 or item.get_expiry() < 1 for item in items):
        raise ConfigError(f"{name}: every limit must allow at least 1 request per period, got {text!r}")
    return items


def storage_uri(redis_url: str) -> str:
    """``XUEFEN_REDIS_URL`` (redis://, rediss:// or unix://, as redis-py takes them) as the
    ``limits`` storage URI for its asyncio Redis storage."""
    for plain, scheme in (("redis://", "async+redis://"), ("rediss://", "async+rediss://")):
        if redis_url.startswith(plain):
            return scheme + redis_url.removeprefix(plain)
    if redis_url.startswith("unix://"):
        return "async+redis+unix://" + redis_url.removeprefix("unix://")
    raise ConfigError(
        f"XUEFEN_REDIS_URL must start with redis://, rediss:// or unix://, got {redis_url.split(':')[0]!r}"
    )


@dataclass(frozen=True)
class RateLimits:
    """The parsed limits of each counter (empty: that counter is off)."""

    token: tuple[RateLimitItem, ...]
    device: tuple[RateLimitItem, ...]
    person: tuple[RateLimitItem, ...]
    address: tuple[RateLimitItem, ...]

    @classmethod
    def of(cls, settings: Settings) -> RateLimits:
        return cls(
            token=parse_limit("XUEFEN_RATE_LIMIT_TOKEN", settings.rate_limit_token),
            device=parse_limit("XUEFEN_RATE_LIMIT_DEVICE", settings.rate_limit_device),
            person=parse_limit("XUEFEN_RATE_LIMIT_PERSON", settings.rate_limit_person),
            address=parse_limit("XUEFEN_RATE_LIMIT_ADDRESS", settings.rate_limit_address),
        )


def make_storage(settings: Settings) -> Storage:
    """Redis when configured (shared by every process), else this process's memory."""
    if not settings.redis_url:
        return MemoryStorage()
    return RedisStorage(
        storage_uri(settings.redis_url),
        implementation="redispy",
        key_prefix=settings.rate_limit_prefix,
        wrap_exceptions=True,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
    )


@dataclass(frozen=True)
class _Check:
    scope: str  # "token", "device", "person", "address": the metric's label
    item: RateLimitItem
    key: str


@dataclass(frozen=True)
class _Verdict:
    refused: _Check | None
    limit: int
    remaining: int
    reset_seconds: int


class RateLimitMiddleware:
    """Counts each request against its counters and answers 429 once one is used up."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.enabled = settings.rate_limit
        self.limits = RateLimits.of(settings)
        self.storage = make_storage(settings)
        self.limiter = SlidingWindowCounterRateLimiter(self.storage)
        self._storage_down_until = 0.0
        self._warned_at = -math.inf
        self._proxy_warned = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.enabled or scope["type"] != "http" or _exempt(scope):
            await self.app(scope, receive, send)
            return
        checks = self._checks(scope)
        verdict = await self._count(checks) if checks else None
        if verdict is None:  # nothing to count, or the storage failed: served without a limit
            await self.app(scope, receive, send)
            return
        if verdict.refused is not None:
            REFUSED.labels(verdict.refused.scope).inc()
            # A body already declared too large for the API is not read at all (as
            # backend/http_limits.py does): the connection is closed after the 429 instead.
            declared = Headers(scope=scope).get("content-length", "")
            too_large = declared.isdigit() and int(declared) > self.settings.max_body_bytes
            if not too_large:
                await _drain(receive, self.settings.max_body_drain_bytes)
            await _refuse(scope, send, verdict, close=too_large)
            return
        headers = _rate_headers(verdict)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _checks(self, scope: Scope) -> list[_Check]:
        """The counters this request draws on (see the module's docstring)."""
        token = _bearer(scope)
        if token:
            try:
                session_id, employee_id, tenant_id, issued = access_token_identity(self.settings.keys, token)
            except Exception:  # expired, forged or garbage: counted by address like any
                pass  # request without a token (the API refuses it afterwards with its own error)
            else:
                session = f"{tenant_id}:{session_id}"
                token_key = f"{session}:{issued}"
                return [
                    *(_Check("token", item, token_key) for item in self.limits.token),
                    *(_Check("device", item, session) for item in self.limits.device),
                    *(_Check("person", item, f"{tenant_id}:{employee_id}") for item in self.limits.person),
                ]
        client = scope.get("client")
        self._notice_ignored_proxy(scope, client[0] if client else None)
        address = client_source(client[0] if client else None) or "unknown"
        return [_Check("address", item, address) for item in self.limits.address]

    def _notice_ignored_proxy(self, scope: Scope, peer: str | None) -> None:
        """Warn once per process when a request came through a proxy whose X-Forwarded-For uvicorn
        ignored (its address is not in XUEFEN_FORWARDED_ALLOW_IPS): every client that is not signed
        in then counts as the proxy's one address (compose.yaml's default, docs/deployment.md).
        uvicorn replaces the peer by an address named in the header when it trusts the sender, so
        a peer the header does not name means the header was ignored."""
        if self._proxy_warned or peer is None:
            return
        forwarded = Headers(scope=scope).get("x-forwarded-for")
        if not forwarded or peer in {hop.strip() for hop in forwarded.split(",")}:
            return
        self._proxy_warned = True
        log.warning(  # no address in the line: it may be a client's
            "a request carried X-Forwarded-For from an address not in XUEFEN_FORWARDED_ALLOW_IPS: the "
            "header is ignored, so behind a proxy every client not signed in shares one rate-limit "
            "address (docs/deployment.md, 'Behind a reverse proxy')"
        )

    async def _count(self, checks: Sequence[_Check]) -> _Verdict | None:
        """One hit on each counter, then where each stands; None if the storage failed."""
        now = time.monotonic()
        if now < self._storage_down_until:
            return None
        try:
            allowed = await _all(self.limiter.hit(c.item, c.scope, c.key) for c in checks)
            stats = await _all(self.limiter.get_window_stats(c.item, c.scope, c.key) for c in checks)
        except Exception as exc:  # any failure of the counter: serve rather than refuse (module docstring)
            STORAGE_ERRORS.inc()
            self._storage_down_until = now + RETRY_STORAGE_SECONDS
            if now - self._warned_at >= WARN_EVERY_SECONDS:
                self._warned_at = now
                log.warning(
                    "rate limit storage unreachable (%s): requests are served without a rate limit", type(exc).__name__
                )
            return None
        wall = time.time()
        refused = [i for i, ok in enumerate(allowed) if not ok]
        # The counter that speaks: the refusing one with the longest wait, else the one closest to its limit.
        if refused:
            index = max(refused, key=lambda i: stats[i].reset_time)
        else:
            index = min(range(len(checks)), key=lambda i: (stats[i].remaining / checks[i].item.amount, i))
        check, stat = checks[index], stats[index]
        return _Verdict(
            refused=check if refused else None,
            limit=check.item.amount,
            remaining=stat.remaining,
            reset_seconds=max(1, math.ceil(stat.reset_time - wall)),
        )


async def _all(calls: Iterable[Awaitable[T]]) -> list[T]:
    """The calls' results, run together (one round trip's wait for all of them); the first
    failure raised once every call has ended (none left running unobserved)."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return cast(list[T], results)


def _exempt(scope: Scope) -> bool:
    path: str = scope.get("path", "")
    return scope.get("method") == "OPTIONS" or path in EXEMPT_PATHS or path.startswith(EXEMPT_PREFIXES)


def _bearer(scope: Scope) -> str:
    """The bearer token of the request's (first) Authorization header, or ""."""
    scheme, _, token = Headers(scope=scope).get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _rate_headers(verdict: _Verdict) -> list[tuple[bytes, bytes]]:
    return [
        (b"ratelimit-limit", str(verdict.limit).encode()),
        (b"ratelimit-remaining", str(verdict.remaining).encode()),
        (b"ratelimit-reset", str(verdict.reset_seconds).encode()),
    ]


async def _drain(receive: Receive, bound: int) -> None:
    """Read and drop a refused request's body (up to ``bound`` bytes): a server that closes the
    connection with bytes of an upload still unread resets it, and the client would never see
    the 429 (as backend/http_limits.py explains)."""
    read = 0
    while read <= bound:
        message = await receive()
        if message["type"] != "http.request":
            return  # the client went away
        read += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


async def _refuse(scope: Scope, send: Send, verdict: _Verdict, *, close: bool = False) -> None:
    """429 in the GraphQL error shape the API uses everywhere, in the caller's language;
    ``close``: the body was left unread, so the connection is closed after the answer."""
    locale = negotiate_locale(Headers(scope=scope).get("accept-language"))
    error = DomainError(ErrorCode.RATE_LIMITED, retry_after=verdict.reset_seconds)
    body = orjson.dumps(
        {
            "errors": [
                {
                    "message": error.message(locale),
                    "extensions": {"code": ErrorCode.RATE_LIMITED.value, "retryAfter": verdict.reset_seconds},
                }
            ]
        }
    )
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(verdict.reset_seconds).encode()),
                *_rate_headers(verdict),
                *([(b"connection", b"close")] if close else []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def check_at_start(settings: Settings) -> None:
    """Refuse unreadable limits or Redis URL at start (one line, no traceback), not at the first
    request. Production without Redis: each server process counts on its own, so with N processes
    a client gets N times each limit; said once at start."""
    if not settings.rate_limit:
        return
    RateLimits.of(settings)
    if settings.redis_url:
        storage_uri(settings.redis_url)
    elif settings.environment == "production":
        log.warning(
            "XUEFEN_REDIS_URL is not set: rate limits are counted per server process "
            "(with several processes a client gets that many times each limit)"
        )
