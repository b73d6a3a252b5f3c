"""Rate limits per access token, per signed-in device and per client address (backend/rate_limit.py),
through the real ASGI app with tiny limits, counted in this process's memory and in Redis; then two
real server processes sharing one Redis, and a Redis that is down.

Redis is expected at 127.0.0.1:6379 (XUEFEN_TEST_REDIS_URL to change it), as on the developers'
machines and in CI: if it cannot be reached these tests fail, they never skip. Each test keeps its
keys under a prefix of its own and deletes them afterwards, so parallel runs never meet.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import redis
from prometheus_client import REGISTRY
from starlette.types import ASGIApp

from backend.app import create_app
from backend.config import ConfigError, Settings
from backend.rate_limit import RateLimitMiddleware, RateLimits, check_at_start, storage_uri
from tests.factories import make_company
from tests.graphql_client import login, token_for
from tests.servers import Served, free_port

REDIS_URL = os.environ.get("XUEFEN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TYPENAME = {"query": "{ __typename }"}
REFRESH = """
mutation Refresh($input: RefreshTokenInput!) {
  refreshToken(input: $input) { tokens { accessToken refreshToken } errors { code } }
}
"""


def new_address() -> str:
    """An IPv4 address no other test uses (each app also counts in its own storage)."""
    return "10." + ".".join(str(byte) for byte in secrets.token_bytes(3))


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own in the shared Redis, its keys deleted afterwards. Fails
    (never skips) when Redis is unreachable."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is needed at {REDIS_URL} (XUEFEN_TEST_REDIS_URL) and cannot be reached: {exc!r}")
    prefix = f"xuefen-test-{uuid.uuid4().hex}"
    try:
        yield prefix
    finally:
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture(params=["memory", "redis"])
def storage(request: pytest.FixtureRequest) -> dict[str, str]:
    """Settings for each storage: this process's memory, and the shared Redis."""
    if request.param == "memory":
        return {}
    prefix = request.getfixturevalue("redis_prefix")
    return {"redis_url": REDIS_URL, "rate_limit_prefix": prefix}


def limited_app(database_url: str, test_settings: Settings, **overrides: Any) -> ASGIApp:
    """The app with tiny limits per hour. A sliding window weighs the previous window's count by
    how much of it is left, so counts are exact only within one window: in-memory windows are
    aligned to the clock, so a test that might cross an hour's boundary waits for it first."""
    if time.time() % 3600 > 3600 - 60:
        time.sleep(3600 - time.time() % 3600 + 0.1)
    limits = {
        "rate_limit": True,
        "rate_limit_token": "3/hour",
        "rate_limit_device": "5/hour",
        "rate_limit_address": "4/hour",
    }
    settings = test_settings.with_overrides(database_url=database_url, **{**limits, **overrides})
    return create_app(settings, manage_db=False)


@asynccontextmanager
async def from_address(app: ASGIApp, address: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://xuefen.test") as http:
        yield http


async def typename(http: httpx.AsyncClient, token: str | None = None, **headers: str) -> httpx.Response:
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return await http.post("/graphql", json=TYPENAME, headers=headers)


def refused_count(scope: str) -> float:
    return REGISTRY.get_sample_value("xuefen_rate_limited_total", {"scope": scope}) or 0.0


def assert_refused(response: httpx.Response, language: str = "zh-CN") -> int:
    """A 429 in the API's error shape; its Retry-After (seconds)."""
    assert response.status_code == 429, response.text
    retry_after = int(response.headers["retry-after"])
    assert retry_after >= 1
    body = response.json()
    assert body["errors"][0]["extensions"] == {"code": "RATE_LIMITED", "retryAfter": retry_after}
    message = body["errors"][0]["message"]
    assert str(retry_after) in message
    assert ("请求过于频繁" in message) if language == "zh-CN" else message.startswith("Too many requests")
    assert response.headers["ratelimit-remaining"] == "0"
    assert int(response.headers["ratelimit-reset"]) == retry_after
    assert response.headers["x-request-id"]
    return retry_after


async def test_address_limit_refuses_the_request_after_the_limit(database_url, test_settings, storage):
    app = limited_app(database_url, test_settings, **storage)
    address, other = new_address(), new_address()
    before = refused_count("address")
    async with from_address(app, address) as http:
        for remaining in (3, 2, 1, 0):
            response = await typename(http)
            assert response.status_code == 200, response.text
            assert response.headers["ratelimit-limit"] == "4"
            assert response.headers["ratelimit-remaining"] == str(remaining)
        assert_refused(await typename(http))
        assert_refused(await typename(http, **{"Accept-Language": "en"}), language="en")
        # Another route (a download without a token) draws on the same counter.
        assert (await http.get("/exports/employees.csv")).status_code == 429
    assert refused_count("address") == before + 3
    async with from_address(app, other) as http:
        assert (await typename(http)).status_code == 200


async def test_token_and_device_limits(database_url, test_settings, password_hash, storage):
    """Per token 3, per device 5: refreshing gives a new token of the same sign-in, which gets only
    what is left of the device's allowance. Signed-in requests do not count on the address."""
    company = await make_company(password_hash, courses=False)
    app = limited_app(database_url, test_settings, rate_limit_address="3/hour", **storage)
    address = new_address()
    async with from_address(app, address) as http:
        tokens = (await login(http, company.code, "LRN", device_id="phone-1"))["tokens"]  # address: 1
        other = (await login(http, company.code, "MGR", device_id="phone-2"))["tokens"]["accessToken"]  # 2
        first = tokens["accessToken"]
        for _ in range(3):
            assert (await typename(http, first)).status_code == 200
        assert_refused(await typename(http, first))
        # Another person's token is not affected.
        assert (await typename(http, other)).status_code == 200
        await asyncio.sleep(1.1)  # a token is made of its claims: a new second makes a new token
        refreshed = await http.post(
            "/graphql",
            json={
                "query": REFRESH,
                "variables": {"input": {"refreshToken": tokens["refreshToken"], "deviceId": "phone-1"}},
            },
        )  # address: 3 (a refresh carries no access token)
        second = refreshed.json()["data"]["refreshToken"]["tokens"]["accessToken"]
        assert second != first
        # The device's sign-in has used 3 of 5 (the refused 4th hit of the first token counted on
        # the device, not on the token): one more, then the device's counter refuses.
        before = refused_count("device")
        assert (await typename(http, second)).status_code == 200
        assert_refused(await typename(http, second))
        assert refused_count("device") == before + 1
        # The address's counter is used up (3), yet signed-in requests go on: not counted there.
        assert_refused(await typename(http))
        assert (await typename(http, other)).status_code == 200


async def test_signing_in_again_buys_no_fresh_allowance(database_url, test_settings, password_hash, storage):
    """Every login makes a new session (a new token and "device" counter, even for the same
    deviceId): the person's counter, over all their sign-ins, still refuses at its limit."""
    company = await make_company(password_hash, courses=False)
    app = limited_app(database_url, test_settings, rate_limit_address="50/hour", rate_limit_person="8/hour", **storage)
    before = refused_count("person")
    served = 0
    async with from_address(app, new_address()) as http:
        for _ in range(4):
            token = (await login(http, company.code, "LRN", device_id="phone-1"))["tokens"]["accessToken"]
            for _ in range(3):
                response = await typename(http, token)
                if response.status_code == 200:
                    served += 1
                else:
                    assert_refused(response)
        assert served == 8
        assert refused_count("person") == before + 4
        # Someone else of the same company is not affected.
        other = (await login(http, company.code, "MGR", device_id="phone-2"))["tokens"]["accessToken"]
        assert (await typename(http, other)).status_code == 200


async def test_another_spelling_of_a_token_shares_its_counter(database_url, test_settings, password_hash, storage):
    """PyJWT verifies a token with a trailing "=" as the token itself: the counter is keyed on the
    verified claims, not on the text, so the second spelling buys no second allowance."""
    company = await make_company(password_hash, courses=False)
    app = limited_app(database_url, test_settings, rate_limit_device="off", **storage)
    async with from_address(app, new_address()) as http:
        token = (await login(http, company.code, "LRN"))["tokens"]["accessToken"]
        for spelling in (token, token + "=", token):
            assert (await typename(http, spelling)).status_code == 200
        for spelling in (token, token + "="):
            assert_refused(await typename(http, spelling))


async def test_a_refused_body_declared_too_large_is_not_read(test_settings):
    """The 429 of a request whose Content-Length is already over XUEFEN_MAX_BODY_BYTES does not
    read (up to the drain bound) a body the API would refuse anyway: it closes the connection."""

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    settings = test_settings.with_overrides(
        rate_limit=True, rate_limit_address="1/hour", max_body_bytes=1000, max_body_drain_bytes=10**9
    )
    middleware = RateLimitMiddleware(inner, settings)

    async def request(length: int) -> tuple[int, dict[bytes, bytes], int]:
        reads = 0

        async def receive() -> dict[str, Any]:
            nonlocal reads
            reads += 1
            return {"type": "http.request", "body": b"x" * 100, "more_body": reads < length // 100}

        sent: list[dict[str, Any]] = []

        async def send(message: Any) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "method": "POST",
            "path": "/graphql",
            "headers": [(b"content-length", str(length).encode())],
            "client": ("10.200.0.1", 1),
        }
        await middleware(scope, receive, send)
        return sent[0]["status"], dict(sent[0]["headers"]), reads

    assert (await request(100))[0] == 200
    status, headers, reads = await request(100)  # within the limit of bytes: drained, kept open
    assert (status, reads) == (429, 1)
    assert b"connection" not in headers
    status, headers, reads = await request(100_000)  # declared over max_body_bytes
    assert (status, reads) == (429, 0)
    assert headers[b"connection"] == b"close"


async def test_invalid_tokens_count_on_the_address(database_url, test_settings, storage):
    """A forged or garbage token buys no allowance of its own: each would otherwise be a new key."""
    app = limited_app(database_url, test_settings, rate_limit_address="2/hour", **storage)
    async with from_address(app, new_address()) as http:
        for _ in range(2):
            assert (await typename(http, f"garbage-{uuid.uuid4().hex}")).status_code == 200
        assert_refused(await typename(http, f"garbage-{uuid.uuid4().hex}"))


async def test_health_metrics_preflight_and_media_are_never_limited(database_url, test_settings, storage):
    app = limited_app(database_url, test_settings, rate_limit_address="1/hour", **storage)
    async with from_address(app, new_address()) as http:
        assert (await typename(http)).status_code == 200
        assert_refused(await typename(http))
        for _ in range(5):
            assert (await http.get("/healthz")).status_code == 200
            assert (await http.get("/readyz")).status_code == 200
            assert (await http.get("/metrics")).status_code != 429
            preflight = await http.options(
                "/graphql", headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
            )
            assert preflight.status_code != 429
            assert (await http.get("/graphiql-assets/graphiql.min.js")).status_code != 429
            media = await http.get("/media/nothing-here", headers={"Range": "bytes=0-99"})
            assert media.status_code != 429
            assert "ratelimit-limit" not in media.headers


async def test_the_window_resets(database_url, test_settings, storage):
    """Retry-After is honest: after waiting it, the request is served."""
    app = limited_app(database_url, test_settings, rate_limit_address="2/2 second", **storage)
    async with from_address(app, new_address()) as http:
        assert (await http.get("/healthz")).status_code == 200  # builds the app's middleware first
        await asyncio.sleep(2 - time.time() % 2 + 0.05)  # the three requests within one window
        assert (await typename(http)).status_code == 200
        assert (await typename(http)).status_code == 200
        retry_after = assert_refused(await typename(http))
        assert retry_after <= 2
        await asyncio.sleep(retry_after)
        assert (await typename(http)).status_code == 200


async def test_off_means_no_limit(database_url, test_settings):
    app = limited_app(database_url, test_settings, rate_limit=False, rate_limit_address="1/hour")
    async with from_address(app, new_address()) as http:
        for _ in range(5):
            response = await typename(http)
            assert response.status_code == 200
            assert "ratelimit-limit" not in response.headers


async def test_redis_down_serves_without_a_limit(database_url, test_settings, caplog):
    """Fail open: a down Redis must not take the API down. One warning, a counted error, and Redis
    is not asked again on every request (no timeout added to each)."""
    closed = f"redis://127.0.0.1:{free_port()}/0"
    app = limited_app(database_url, test_settings, redis_url=closed, rate_limit_address="1/hour")
    errors = REGISTRY.get_sample_value("xuefen_rate_limit_errors_total") or 0.0
    with caplog.at_level(logging.WARNING, logger="xuefen.rate_limit"):
        async with from_address(app, new_address()) as http:
            for _ in range(5):
                response = await typename(http)
                assert response.status_code == 200, response.text
                assert "ratelimit-limit" not in response.headers
    warnings = [r.getMessage() for r in caplog.records if r.name == "xuefen.rate_limit"]
    assert len(warnings) == 1, warnings
    assert "served without a rate limit" in warnings[0]
    assert REGISTRY.get_sample_value("xuefen_rate_limit_errors_total") == errors + 1


def test_settings_from_the_environment(caplog):
    defaults = Settings.from_env({})
    assert defaults.rate_limit is True
    limits = RateLimits.of(defaults)
    assert [str(item) for item in limits.token] == ["600 per 1 minute"]
    assert [str(item) for item in limits.address] == ["1200 per 1 minute"]
    assert Settings.from_env({"XUEFEN_RATE_LIMIT": "off"}).rate_limit is False
    several = Settings.from_env({"XUEFEN_RATE_LIMIT_TOKEN": "20/second;600/minute", "XUEFEN_RATE_LIMIT_DEVICE": "off"})
    assert len(RateLimits.of(several).token) == 2
    assert RateLimits.of(several).device == ()
    assert [str(item) for item in limits.person] == ["1200 per 1 minute"]
    assert [str(i) for i in RateLimits.of(Settings.from_env({"XUEFEN_RATE_LIMIT_PERSON": "9/hour"})).person] == [
        "9 per 1 hour"
    ]
    for bad in ("lots", "0/hour", "600/fortnight", "-1/second"):
        with pytest.raises(ConfigError, match="XUEFEN_RATE_LIMIT_ADDRESS"):
            check_at_start(Settings.from_env({"XUEFEN_RATE_LIMIT_ADDRESS": bad}))
    assert storage_uri("redis://:pw@cache:6379/2") == "async+redis://:pw@cache:6379/2"
    assert storage_uri("rediss://cache:6380") == "async+rediss://cache:6380"
    assert storage_uri("unix:///run/redis.sock") == "async+redis+unix:///run/redis.sock"
    with pytest.raises(ConfigError, match="XUEFEN_REDIS_URL"):
        check_at_start(Settings(rate_limit=True, redis_url="http://cache:6379"))
    production = {
        "XUEFEN_ENV": "production",
        "XUEFEN_SECRET_KEY": "s" * 40,
        "XUEFEN_DATABASE_URL": "postgres://db/x",
        "XUEFEN_PUBLIC_URL": "https://xuefen.example.com",
    }
    with caplog.at_level(logging.WARNING, logger="xuefen.rate_limit"):
        check_at_start(Settings.from_env(production))
        assert "counted per server process" in caplog.text
        caplog.clear()
        check_at_start(Settings.from_env({**production, "XUEFEN_REDIS_URL": REDIS_URL}))
        assert caplog.text == ""


async def test_two_server_processes_share_the_limit(database_url, password_hash, redis_prefix):
    """Two `xuefen serve` processes counting in one Redis: requests alternate between them and the
    shared counters refuse at the limit, on either process."""
    company = await make_company(password_hash, courses=False)
    env = {
        "XUEFEN_SECRET_KEY": f"rate-limit-{uuid.uuid4().hex}",
        "XUEFEN_REDIS_URL": REDIS_URL,
        "XUEFEN_RATE_LIMIT_PREFIX": redis_prefix,
        "XUEFEN_RATE_LIMIT_ADDRESS": "5/hour",
        "XUEFEN_RATE_LIMIT_TOKEN": "4/hour",
        "XUEFEN_RATE_LIMIT_DEVICE": "100/hour",
    }
    first, second = Served(database_url, **env), Served(database_url, **env)  # both start at once
    with first, second:
        servers = [first.url, second.url]
        async with httpx.AsyncClient(base_url=first.url, timeout=30) as http:
            token = await token_for(http, company.code, "LRN", "phone-1")  # the address: 1 of 5
            bearer = {"Authorization": f"Bearer {token}"}
            # The token: 4 requests alternating between the processes, then either refuses.
            statuses = [
                (await http.post(f"{servers[i % 2]}/graphql", json=TYPENAME, headers=bearer)).status_code
                for i in range(4)
            ]
            assert statuses == [200] * 4
            for url in servers:
                assert_refused(await http.post(f"{url}/graphql", json=TYPENAME, headers=bearer))
            # The address (signed-in requests not counted there): 4 more alternating, then 429.
            statuses = [(await http.post(f"{servers[i % 2]}/graphql", json=TYPENAME)).status_code for i in range(4)]
            assert statuses == [200] * 4
            for url in servers:
                assert_refused(await http.post(f"{url}/graphql", json=TYPENAME))
            # Health checks still answer (load balancers must keep seeing both processes).
            for url in servers:
                assert (await http.get(f"{url}/healthz")).status_code == 200
