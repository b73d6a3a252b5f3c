"""Sign-in, token rotation, sign-out, throttling and deactivation, all through the real ASGI app.

Every test builds its own company (its own tenant), so the tests do not depend on each other,
including the login throttle, which is keyed by what was typed (tenant code, employee number).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest

from backend.app import create_app
from backend.config import Settings
from backend.models import AuthSession, Employee, LoginThrottle, RefreshToken
from backend.services.people.auth import _account_source_key, _throttle_key, deactivate_employee
from tests.factories import TEST_PASSWORD, Company, make_company
from tests.graphql_client import gql, login

WRONG_PASSWORD = "not the password 密码"
ASGI_CLIENT_HOST = "127.0.0.1"  # what httpx.ASGITransport reports as the client address

INVALID_CREDENTIALS_ZH = "企业代码、工号或密码不正确。"
INVALID_CREDENTIALS_EN = "The company code, employee number or password is incorrect."

ME = "{ me { employeeNo name } }"

LOGIN_SHORT = """
mutation Login($input: LoginInput!) {
  login(input: $input) { tokens { accessToken } errors { code field message } }
}
"""

REFRESH = """
mutation Refresh($input: RefreshTokenInput!) {
  refreshToken(input: $input) {
    tokens { accessToken refreshToken viewer { employeeNo name } }
    errors { code message field retryAfterSeconds }
  }
}
"""

LOGOUT = """
mutation Logout($input: LogoutInput) {
  logout(input: $input) { ok errors { code message field } }
}
"""


# --- helpers ----------------------------------------------------------------------------------


@asynccontextmanager
async def app_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the real ASGI app built with ``settings`` (on the session's database)."""
    transport = httpx.ASGITransport(app=create_app(settings, manage_db=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://xuefen.test") as http:
        yield http


async def new_company(password_hash: str) -> Company:
    return await make_company(password_hash, courses=False)


async def sign_in(client, company: Company, employee_no: str = "LRN", device_id: str = "device-1") -> dict[str, Any]:
    """The tokens of a successful login (fails the test otherwise)."""
    payload = await login(client, company.code, employee_no, device_id=device_id)
    assert payload["errors"] == [], payload
    return payload["tokens"]


def codes(payload: dict[str, Any]) -> list[str]:
    return [error["code"] for error in payload["errors"]]


async def refresh(client, refresh_token: str, device_id: str = "device-1") -> dict[str, Any]:
    """The refreshToken payload (tokens and errors)."""
    body = await gql(client, REFRESH, {"input": {"refreshToken": refresh_token, "deviceId": device_id}})
    assert "errors" not in body, body
    return body["data"]["refreshToken"]


async def refresh_error(client, refresh_token: str, device_id: str = "device-1") -> str:
    """The single error code of a refresh that must fail."""
    payload = await refresh(client, refresh_token, device_id)
    assert payload["tokens"] is None, payload
    assert len(payload["errors"]) == 1, payload
    return payload["errors"][0]["code"]


async def logout(client, token: str | None = None, refresh_token: str | None = None) -> dict[str, Any]:
    variables = {"input": {"refreshToken": refresh_token}} if refresh_token else {}
    body = await gql(client, LOGOUT, variables, token=token)
    assert "errors" not in body, body
    return body["data"]["logout"]


async def whoami(client, token: str) -> dict[str, str]:
    """`me` with a bearer token that must work."""
    body = await gql(client, ME, token=token)
    assert "errors" not in body, body
    return body["data"]["me"]


async def me_error_code(client, authorization: str | None) -> str:
    """extensions.code of `me` sent with this Authorization header (None: no header)."""
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = await client.post("/graphql", json={"query": ME}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"] is None, body
    assert len(body["errors"]) == 1, body
    assert body["errors"][0]["path"] == ["me"], body
    return body["errors"][0]["extensions"]["code"]


async def bearer_error_code(client, token: str) -> str:
    return await me_error_code(client, f"Bearer {token}")


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def resign(token: str, key: str, **changes: Any) -> str:
    """The token's claims with ``changes``, signed HS256 with ``key``."""
    return jwt.encode({**claims_of(token), **changes}, key, algorithm="HS256")


def _b64url(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def unsigned_token(claims: dict[str, Any]) -> str:
    """A JWT with ``alg: none`` and an empty signature."""
    return f"{_b64url({'alg': 'none', 'typ': 'JWT'})}.{_b64url(claims)}."


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


async def fail_login(client, tenant: str, employee_no: str, times: int) -> list[str]:
    """Codes of ``times`` logins with a wrong password."""
    results = []
    for _ in range(times):
        payload = await login(client, tenant, employee_no, WRONG_PASSWORD)
        results.extend(codes(payload))
    return results


# --- login ------------------------------------------------------------------------------------


async def test_login_returns_access_and_refresh_tokens(client, password_hash):
    company = await new_company(password_hash)
    payload = await login(client, company.code, "LRN")
    assert payload["errors"] == []
    tokens = payload["tokens"]
    assert tokens["accessToken"] and tokens["refreshToken"]
    assert tokens["accessToken"] != tokens["refreshToken"]
    assert tokens["viewer"]["employeeNo"] == "LRN"


async def test_access_token_from_login_works_for_me(client, password_hash):
    company = await new_company(password_hash)
    tokens = await sign_in(client, company)
    assert await whoami(client, tokens["accessToken"]) == {"employeeNo": "LRN", "name": "李学员"}


async def test_access_token_is_hs256_jwt_naming_tenant_employee_roles_device_and_session(
    client, password_hash, test_settings
):
    company = await new_company(password_hash)
    before = int(time.time())
    tokens = await sign_in(client, company, "MGR", device_id="phone-42")

    assert jwt.get_unverified_header(tokens["accessToken"])["alg"] == "HS256"
    claims = claims_of(tokens["accessToken"])
    manager = company.employees["MGR"]
    assert claims["tid"] == company.tenant.id
    assert claims["sub"] == str(manager.id)
    assert claims["roles"] == ["EMPLOYEE", "MANAGER", "MENTOR"]
    assert claims["dev"] == "phone-42"
    session = await AuthSession.get(id=uuid.UUID(claims["sid"]))
    assert (session.tenant_id, session.employee_id, session.revoked_at) == (company.tenant.id, manager.id, None)
    ttl = test_settings.access_token_ttl_seconds
    assert before + ttl <= claims["exp"] <= int(time.time()) + ttl
    # The token verifies with the server's key only.
    jwt.decode(tokens["accessToken"], test_settings.secret_key, algorithms=["HS256"], audience="xuefen-app")


async def test_login_ignores_case_of_tenant_code_and_employee_number(client, password_hash):
    company = await new_company(password_hash)
    payload = await login(client, company.code.upper(), "lrn")
    assert payload["errors"] == []
    assert payload["tokens"]["viewer"]["employeeNo"] == "LRN"


async def test_each_login_on_a_device_is_a_new_session(client, password_hash):
    company = await new_company(password_hash)
    first = await sign_in(client, company)
    second = await sign_in(client, company)
    assert claims_of(first["accessToken"])["sid"] != claims_of(second["accessToken"])["sid"]
    assert await whoami(client, first["accessToken"])
    assert await whoami(client, second["accessToken"])


# --- no enumeration ---------------------------------------------------------------------------


async def test_wrong_tenant_unknown_employee_and_wrong_password_give_identical_errors(client, password_hash):
    company = await new_company(password_hash)
    wrong_tenant = await login(client, f"nope{uuid.uuid4().hex[:8]}", "LRN")
    unknown_employee = await login(client, company.code, "NOBODY")
    wrong_password = await login(client, company.code, "LRN", WRONG_PASSWORD)

    expected = [
        {"code": "INVALID_CREDENTIALS", "message": INVALID_CREDENTIALS_ZH, "field": None, "retryAfterSeconds": None}
    ]
    assert wrong_tenant == {"tokens": None, "errors": expected}
    assert unknown_employee == wrong_tenant
    assert wrong_password == wrong_tenant


@pytest.mark.parametrize(
    ("accept_language", "message"),
    [
        (None, INVALID_CREDENTIALS_ZH),
        ("en", INVALID_CREDENTIALS_EN),
        ("en-US,en;q=0.9", INVALID_CREDENTIALS_EN),
        ("en-GB", INVALID_CREDENTIALS_EN),
        ("fr", INVALID_CREDENTIALS_ZH),
        ("zh-CN,zh;q=0.9,en;q=0.8", INVALID_CREDENTIALS_ZH),
    ],
)
async def test_credentials_error_message_follows_accept_language(client, password_hash, accept_language, message):
    company = await new_company(password_hash)
    payload = await login(client, company.code, "LRN", WRONG_PASSWORD, language=accept_language)
    assert [(e["code"], e["message"]) for e in payload["errors"]] == [("INVALID_CREDENTIALS", message)]


# --- throttling -------------------------------------------------------------------------------


async def test_correct_password_is_refused_after_max_failures(client, password_hash, test_settings):
    company = await new_company(password_hash)
    assert (
        await fail_login(client, company.code, "LRN", test_settings.login_max_failures)
        == ["INVALID_CREDENTIALS"] * test_settings.login_max_failures
    )

    payload = await login(client, company.code, "LRN", TEST_PASSWORD)
    assert payload["tokens"] is None
    [error] = payload["errors"]
    assert error["code"] == "TOO_MANY_ATTEMPTS"
    # The lock has just started: the wait is (nearly) the whole lock time.
    lock = test_settings.login_lock_seconds
    assert lock - 30 <= error["retryAfterSeconds"] <= lock + 1
    assert str(error["retryAfterSeconds"]) in error["message"]


async def test_fewer_than_max_failures_do_not_lock(client, password_hash, test_settings):
    company = await new_company(password_hash)
    await fail_login(client, company.code, "LRN", test_settings.login_max_failures - 1)
    assert (await login(client, company.code, "LRN"))["errors"] == []


async def test_unknown_employee_is_throttled_exactly_like_a_real_one(client, password_hash, test_settings):
    company = await new_company(password_hash)
    attempts = test_settings.login_max_failures
    real = await fail_login(client, company.code, "LRN", attempts)
    ghost = await fail_login(client, company.code, "GHOST", attempts)
    assert real == ghost == ["INVALID_CREDENTIALS"] * attempts

    real_locked = await login(client, company.code, "LRN", TEST_PASSWORD)
    ghost_locked = await login(client, company.code, "GHOST", TEST_PASSWORD)
    for payload in (real_locked, ghost_locked):
        assert payload["tokens"] is None
        [error] = payload["errors"]
        assert error["code"] == "TOO_MANY_ATTEMPTS"
        assert error["field"] is None
        assert error["retryAfterSeconds"] > 0


async def test_throttle_of_one_employee_does_not_affect_another(client, password_hash, test_settings):
    company = await new_company(password_hash)
    await fail_login(client, company.code, "LRN", test_settings.login_max_failures)
    assert codes(await login(client, company.code, "LRN")) == ["TOO_MANY_ATTEMPTS"]
    assert (await login(client, company.code, "OTH"))["errors"] == []


async def test_successful_login_resets_failure_count(client, password_hash, test_settings):
    company = await new_company(password_hash)
    almost = test_settings.login_max_failures - 1
    await fail_login(client, company.code, "LRN", almost)
    await sign_in(client, company)
    assert await fail_login(client, company.code, "LRN", almost) == ["INVALID_CREDENTIALS"] * almost
    assert (await login(client, company.code, "LRN"))["errors"] == []


async def test_parallel_wrong_passwords_cannot_exceed_the_limit(client, password_hash, test_settings):
    company = await new_company(password_hash)
    burst = await asyncio.gather(*(login(client, company.code, "LRN", WRONG_PASSWORD) for _ in range(10)))
    results = sorted(code for payload in burst for code in codes(payload))
    # Only login_max_failures guesses get their password checked; the rest are refused unchecked.
    allowed = test_settings.login_max_failures
    assert results == ["INVALID_CREDENTIALS"] * allowed + ["TOO_MANY_ATTEMPTS"] * (10 - allowed)
    assert codes(await login(client, company.code, "LRN")) == ["TOO_MANY_ATTEMPTS"]


async def test_login_is_possible_again_once_the_lock_is_over(client, password_hash, test_settings):
    company = await new_company(password_hash)
    await fail_login(client, company.code, "LRN", test_settings.login_max_failures)
    assert codes(await login(client, company.code, "LRN")) == ["TOO_MANY_ATTEMPTS"]

    # Wind the clock past the end of the lock (the failure window itself may still be open).
    # The lock is on the account from this address (the ASGI transport's), not on the account.
    key = _account_source_key(company.code, "LRN", ASGI_CLIENT_HOST)
    await LoginThrottle.filter(key_hash=key).update(locked_until=datetime.now(UTC) - timedelta(seconds=1))
    assert (await login(client, company.code, "LRN"))["errors"] == []


async def test_disabled_account_with_correct_password_is_not_counted_as_a_failure(client, password_hash, test_settings):
    company = await new_company(password_hash)
    for _ in range(test_settings.login_max_failures + 1):
        assert codes(await login(client, company.code, "OFF")) == ["ACCOUNT_DISABLED"]


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "blank"),
    [
        ("tenant", ""),
        ("employeeNo", ""),
        ("deviceId", ""),
        ("password", ""),
        ("tenant", "   "),
        ("employeeNo", "   "),
        ("deviceId", "   "),
    ],
)
async def test_blank_login_field_is_a_validation_error_naming_the_field(client, password_hash, field, blank):
    company = await new_company(password_hash)
    variables = {"tenant": company.code, "employeeNo": "LRN", "password": TEST_PASSWORD, "deviceId": "device-1"}
    variables[field] = blank
    body = await gql(client, LOGIN_SHORT, {"input": variables})
    assert "errors" not in body, body
    assert body["data"]["login"] == {
        "tokens": None,
        "errors": [{"code": "VALIDATION", "field": field, "message": "输入无效：不能为空"}],
    }


async def test_overlong_employee_number_is_a_validation_error(client, password_hash):
    company = await new_company(password_hash)
    payload = await login(client, company.code, "X" * 129, language="en")
    assert [(e["code"], e["field"], e["message"]) for e in payload["errors"]] == [
        ("VALIDATION", "employeeNo", "Invalid input: must be at most 128 characters")
    ]


async def test_blank_refresh_token_is_a_validation_error(client):
    payload = await refresh(client, "  ")
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("VALIDATION", "refreshToken")]


# --- refresh rotation -------------------------------------------------------------------------


async def test_refresh_returns_a_new_working_token_pair(client, password_hash):
    company = await new_company(password_hash)
    old = await sign_in(client, company)
    payload = await refresh(client, old["refreshToken"])
    assert payload["errors"] == []
    new = payload["tokens"]
    assert new["refreshToken"] != old["refreshToken"]
    assert new["viewer"] == {"employeeNo": "LRN", "name": "李学员"}
    assert claims_of(new["accessToken"])["sid"] == claims_of(old["accessToken"])["sid"]
    assert (await whoami(client, new["accessToken"]))["employeeNo"] == "LRN"


async def test_new_refresh_token_can_be_refreshed_again(client, password_hash):
    company = await new_company(password_hash)
    first = await sign_in(client, company)
    second = (await refresh(client, first["refreshToken"]))["tokens"]
    third = await refresh(client, second["refreshToken"])
    assert third["errors"] == []
    assert await whoami(client, third["tokens"]["accessToken"])


async def test_reused_refresh_token_is_reported_and_revokes_the_whole_chain(client, password_hash):
    company = await new_company(password_hash)
    old = await sign_in(client, company)
    new = (await refresh(client, old["refreshToken"]))["tokens"]
    newer = (await refresh(client, new["refreshToken"]))["tokens"]  # the app moved on

    assert await refresh_error(client, old["refreshToken"]) == "REFRESH_TOKEN_REUSED"
    assert await refresh_error(client, newer["refreshToken"]) == "INVALID_REFRESH_TOKEN"
    assert await bearer_error_code(client, newer["accessToken"]) == "UNAUTHENTICATED"
    assert await bearer_error_code(client, old["accessToken"]) == "UNAUTHENTICATED"
    session = await AuthSession.get(id=uuid.UUID(claims_of(old["accessToken"])["sid"]))
    assert session.revoke_reason == "REUSE"


async def test_refresh_token_reuse_leaves_other_devices_signed_in(client, password_hash):
    company = await new_company(password_hash)
    phone = await sign_in(client, company, device_id="phone")
    tablet = await sign_in(client, company, device_id="tablet")
    second = (await refresh(client, phone["refreshToken"], "phone"))["tokens"]
    await refresh(client, second["refreshToken"], "phone")
    assert await refresh_error(client, phone["refreshToken"], "phone") == "REFRESH_TOKEN_REUSED"

    assert (await whoami(client, tablet["accessToken"]))["employeeNo"] == "LRN"
    assert (await refresh(client, tablet["refreshToken"], "tablet"))["errors"] == []


async def test_refresh_from_another_device_is_refused_and_revokes_the_chain(client, password_hash):
    company = await new_company(password_hash)
    tokens = await sign_in(client, company, device_id="phone")
    assert await refresh_error(client, tokens["refreshToken"], "thief-laptop") == "INVALID_REFRESH_TOKEN"

    # The rightful device cannot use it any more either, and its access token is dead.
    assert await refresh_error(client, tokens["refreshToken"], "phone") == "INVALID_REFRESH_TOKEN"
    assert await bearer_error_code(client, tokens["accessToken"]) == "UNAUTHENTICATED"
    session = await AuthSession.get(id=uuid.UUID(claims_of(tokens["accessToken"])["sid"]))
    assert session.revoke_reason == "DEVICE_MISMATCH"


async def test_expired_refresh_token_is_invalid(client, password_hash):
    company = await new_company(password_hash)
    tokens = await sign_in(client, company)
    await RefreshToken.filter(token_hash=sha256_hex(tokens["refreshToken"])).update(
        expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    assert await refresh_error(client, tokens["refreshToken"]) == "INVALID_REFRESH_TOKEN"


async def test_garbage_refresh_token_is_invalid(client):
    assert await refresh_error(client, "not-a-refresh-token") == "INVALID_REFRESH_TOKEN"


async def test_refresh_token_error_message_is_localized(client):
    body = await gql(client, REFRESH, {"input": {"refreshToken": "garbage", "deviceId": "d"}}, language="en")
    [error] = body["data"]["refreshToken"]["errors"]
    assert error["message"] == "The refresh token is invalid or expired. Please sign in again."


async def test_concurrent_refreshes_with_one_token_all_get_the_same_pair(client, password_hash):
    # Two requests with one token at once are a retry racing its original (a proxy resending, an
    # app refreshing from two threads): the claim lets one through, the others get its pair.
    company = await new_company(password_hash)
    tokens = await sign_in(client, company)
    results = await asyncio.gather(*(refresh(client, tokens["refreshToken"]) for _ in range(5)))

    assert [r["errors"] for r in results] == [[]] * 5, results
    pairs = {(r["tokens"]["accessToken"], r["tokens"]["refreshToken"]) for r in results}
    assert len(pairs) == 1, results
    [(access, refresh_token)] = pairs
    assert (await whoami(client, access))["employeeNo"] == "LRN"
    assert (await refresh(client, refresh_token))["errors"] == []
    session_id = uuid.UUID(claims_of(access)["sid"])
    assert await RefreshToken.filter(session_id=session_id).count() == 3  # login, one successor, its own


async def test_concurrent_refreshes_without_the_retry_window_give_at_most_one_new_pair(
    database_url, test_settings, password_hash
):
    company = await new_company(password_hash)
    async with app_client(test_settings.with_overrides(database_url=database_url, refresh_retry_seconds=0)) as http:
        tokens = await sign_in(http, company)
        results = await asyncio.gather(*(refresh(http, tokens["refreshToken"]) for _ in range(5)))

        winners = [r["tokens"] for r in results if r["tokens"] is not None]
        losers = [code for r in results for code in codes(r)]
        # The claim of the token is a conditional update: exactly one request gets a new pair.
        assert len(winners) == 1, results
        assert len(losers) == 4, results
        assert set(losers) <= {"REFRESH_TOKEN_REUSED", "INVALID_REFRESH_TOKEN"}, results
        # The others were reuses of a spent token, so the chain is revoked, winner's pair included.
        assert await refresh_error(http, winners[0]["refreshToken"]) == "INVALID_REFRESH_TOKEN"
        assert await bearer_error_code(http, winners[0]["accessToken"]) == "UNAUTHENTICATED"


# --- a lost refresh answer: the retry window ---------------------------------------------------


async def test_retried_refresh_gets_the_same_pair_and_it_works(client, password_hash):
    # The first answer was lost on the way: the app still holds the old token and sends it again.
    company = await new_company(password_hash)
    old = await sign_in(client, company)
    first = await refresh(client, old["refreshToken"])
    retry = await refresh(client, old["refreshToken"])

    assert retry["errors"] == [] and first["errors"] == []
    assert retry["tokens"] == first["tokens"]  # byte for byte: access token, refresh token, viewer
    assert (await whoami(client, retry["tokens"]["accessToken"]))["employeeNo"] == "LRN"
    assert (await refresh(client, retry["tokens"]["refreshToken"]))["errors"] == []
    session = await AuthSession.get(id=uuid.UUID(claims_of(old["accessToken"])["sid"]))
    assert session.revoked_at is None


async def test_retry_after_the_new_refresh_token_was_used_is_reuse_and_revokes(client, password_hash):
    # The app did get the answer and moved on: the old token coming back now is a copy.
    company = await new_company(password_hash)
    old = await sign_in(client, company)
    new = (await refresh(client, old["refreshToken"]))["tokens"]
    newer = (await refresh(client, new["refreshToken"]))["tokens"]

    assert await refresh_error(client, old["refreshToken"]) == "REFRESH_TOKEN_REUSED"
    assert await refresh_error(client, newer["refreshToken"]) == "INVALID_REFRESH_TOKEN"
    assert await bearer_error_code(client, newer["accessToken"]) == "UNAUTHENTICATED"
    session = await AuthSession.get(id=uuid.UUID(claims_of(old["accessToken"])["sid"]))
    assert session.revoke_reason == "REUSE"


async def test_retry_from_another_device_is_reuse_and_revokes(client, password_hash):
    company = await new_company(password_hash)
    old = await sign_in(client, company, device_id="phone")
    new = (await refresh(client, old["refreshToken"], "phone"))["tokens"]

    assert await refresh_error(client, old["refreshToken"], "thief-laptop") == "REFRESH_TOKEN_REUSED"
    assert await refresh_error(client, new["refreshToken"], "phone") == "INVALID_REFRESH_TOKEN"
    assert await bearer_error_code(client, new["accessToken"]) == "UNAUTHENTICATED"
    session = await AuthSession.get(id=uuid.UUID(claims_of(old["accessToken"])["sid"]))
    assert session.revoke_reason == "REUSE"


async def test_retry_after_the_window_is_reuse_and_revokes(client, password_hash, test_settings):
    company = await new_company(password_hash)
    old = await sign_in(client, company)
    new = (await refresh(client, old["refreshToken"]))["tokens"]
    # Wind the clock: the first use was just over the retry window ago.
    await RefreshToken.filter(token_hash=sha256_hex(old["refreshToken"])).update(
        used_at=datetime.now(UTC) - timedelta(seconds=test_settings.refresh_retry_seconds + 1)
    )

    assert await refresh_error(client, old["refreshToken"]) == "REFRESH_TOKEN_REUSED"
    assert await refresh_error(client, new["refreshToken"]) == "INVALID_REFRESH_TOKEN"
    assert await bearer_error_code(client, new["accessToken"]) == "UNAUTHENTICATED"


async def test_without_the_retry_window_a_retried_refresh_is_reuse(database_url, test_settings, password_hash):
    company = await new_company(password_hash)
    async with app_client(test_settings.with_overrides(database_url=database_url, refresh_retry_seconds=0)) as http:
        old = await sign_in(http, company)
        new = (await refresh(http, old["refreshToken"]))["tokens"]
        assert await refresh_error(http, old["refreshToken"]) == "REFRESH_TOKEN_REUSED"
        assert await refresh_error(http, new["refreshToken"]) == "INVALID_REFRESH_TOKEN"


async def test_retry_window_does_not_outlive_a_logout(client, password_hash):
    company = await new_company(password_hash)
    old = await sign_in(client, company)
    new = (await refresh(client, old["refreshToken"]))["tokens"]
    await logout(client, token=new["accessToken"])
    assert await refresh_error(client, old["refreshToken"]) == "INVALID_REFRESH_TOKEN"


# --- parallel logins ---------------------------------------------------------------------------


async def test_parallel_logins_on_one_device_all_succeed_with_separate_sessions(client, password_hash, test_settings):
    # Up to login_max_failures attempts may be in flight at once (each is counted until it succeeds).
    parallel = test_settings.login_max_failures
    company = await new_company(password_hash)
    results = await asyncio.gather(*(login(client, company.code, "LRN") for _ in range(parallel)))
    assert [payload["errors"] for payload in results] == [[]] * parallel
    sessions = {claims_of(payload["tokens"]["accessToken"])["sid"] for payload in results}
    assert len(sessions) == parallel
    assert await LoginThrottle.filter(key_hash=_throttle_key(company.code, "LRN")).count() == 0


# --- logout -----------------------------------------------------------------------------------


async def test_logout_with_access_token_ends_the_session(client, password_hash):
    company = await new_company(password_hash)
    tokens = await sign_in(client, company)
    assert await logout(client, token=tokens["accessToken"]) == {"ok": True, "errors": []}

    assert await bearer_error_code(client, tokens["accessToken"]) == "UNAUTHENTICATED"
    assert await refresh_error(client, tokens["refreshToken"]) == "INVALID_REFRESH_TOKEN"


async def test_logout_with_only_refresh_token_ends_the_session(client, password_hash):
    company = await new_company(password_hash)
    tokens = await sign_in(client, company)
    assert await logout(client, refresh_token=tokens["refreshToken"]) == {"ok": True, "errors": []}

    assert await bearer_error_code(client, tokens["accessToken"]) == "UNAUTHENTICATED"
    assert await refresh_error(client, tokens["refreshToken"]) == "INVALID_REFRESH_TOKEN"


async def test_logout_ends_only_this_devices_session(client, password_hash):
    company = await new_company(password_hash)
    phone = await sign_in(client, company, device_id="phone")
    tablet = await sign_in(client, company, device_id="tablet")
    await logout(client, token=phone["accessToken"])
    assert (await whoami(client, tablet["accessToken"]))["employeeNo"] == "LRN"


async def test_logout_without_credentials_is_unauthenticated(client):
    payload = await logout(client)
    assert payload["ok"] is False
    assert codes(payload) == ["UNAUTHENTICATED"]


async def test_logout_with_unknown_refresh_token_is_unauthenticated(client):
    payload = await logout(client, refresh_token="never-issued")
    assert (payload["ok"], codes(payload)) == (False, ["UNAUTHENTICATED"])


# --- deactivation -----------------------------------------------------------------------------


async def test_deactivation_rejects_existing_access_token_at_once(client, password_hash):
    company = await new_company(password_hash)
    tokens = await sign_in(client, company)
    await deactivate_employee(company.tenant.id, company.employees["LRN"].id)
    assert await bearer_error_code(client, tokens["accessToken"]) == "UNAUTHENTICATED"


async def test_deactivation_makes_refresh_token_invalid(client, password_hash):
    company = await new_company(password_hash)
    tokens = await sign_in(client, company)
    await deactivate_employee(company.tenant.id, company.employees["LRN"].id)
    # deactivate_employee revokes the sessions, and a revoked session's token is simply invalid.
    assert await refresh_error(client, tokens["refreshToken"]) == "INVALID_REFRESH_TOKEN"


async def test_refresh_of_an_inactive_employee_with_a_live_session_is_account_disabled(client, password_hash):
    company = await new_company(password_hash)
    tokens = await sign_in(client, company)
    # Deactivated without going through deactivate_employee: the session itself was not revoked.
    await Employee.filter(id=company.employees["LRN"].id).update(is_active=False)

    assert await bearer_error_code(client, tokens["accessToken"]) == "UNAUTHENTICATED"
    assert await refresh_error(client, tokens["refreshToken"]) == "ACCOUNT_DISABLED"
    session = await AuthSession.get(id=uuid.UUID(claims_of(tokens["accessToken"])["sid"]))
    assert session.revoke_reason == "DEACTIVATED"


async def test_deactivated_employee_with_correct_password_gets_account_disabled(client, password_hash):
    company = await new_company(password_hash)
    await sign_in(client, company)
    await deactivate_employee(company.tenant.id, company.employees["LRN"].id)
    payload = await login(client, company.code, "LRN", TEST_PASSWORD)
    assert (payload["tokens"], codes(payload)) == (None, ["ACCOUNT_DISABLED"])


async def test_deactivated_employee_with_wrong_password_gets_invalid_credentials(client, password_hash):
    company = await new_company(password_hash)
    await deactivate_employee(company.tenant.id, company.employees["LRN"].id)
    payload = await login(client, company.code, "LRN", WRONG_PASSWORD)
    assert (payload["tokens"], codes(payload)) == (None, ["INVALID_CREDENTIALS"])


async def test_employee_inactive_from_the_start_cannot_log_in(client, password_hash):
    company = await new_company(password_hash)
    payload = await login(client, company.code, "OFF")
    assert (payload["tokens"], codes(payload)) == (None, ["ACCOUNT_DISABLED"])


# --- access tokens ----------------------------------------------------------------------------


async def test_expired_access_token_is_token_expired(client, password_hash, test_settings):
    company = await new_company(password_hash)
    tokens = await sign_in(client, company)
    now = int(time.time())
    expired = resign(tokens["accessToken"], test_settings.secret_key, iat=now - 3600, exp=now - 60)
    assert await bearer_error_code(client, expired) == "TOKEN_EXPIRED"


async def test_a_token_that_worked_expires_on_time(client, password_hash, test_settings):
    """Tokens verified once are not verified again (authenticate keeps them), but their expiry is
    still checked on every request."""
    company = await new_company(password_hash)
    tokens = await sign_in(client, company)
    expires = int(time.time()) + 2
    short = resign(tokens["accessToken"], test_settings.secret_key, exp=expires)
    response = await client.post("/graphql", json={"query": ME}, headers={"Authorization": f"Bearer {short}"})
    assert response.json()["data"]["me"] is not None, response.text  # verified, and kept
    await asyncio.sleep(max(expires - time.time(), 0) + 0.05)
    assert await bearer_error_code(client, short) == "TOKEN_EXPIRED"
    assert await bearer_error_code(client, short + "x") == "UNAUTHENTICATED"  # another text: verified afresh


async def test_token_signed_with_another_key_is_unauthenticated(client, password_hash):
    company = await new_company(password_hash)
    tokens = await sign_in(client, company)
    forged = resign(tokens["accessToken"], "some-other-secret-" + uuid.uuid4().hex)
    assert await bearer_error_code(client, forged) == "UNAUTHENTICATED"


async def test_unsigned_alg_none_token_is_unauthenticated(client, password_hash):
    company = await new_company(password_hash)
    tokens = await sign_in(client, company)
    assert await bearer_error_code(client, unsigned_token(claims_of(tokens["accessToken"]))) == "UNAUTHENTICATED"


async def test_basic_authorization_is_unauthenticated(client, password_hash):
    company = await new_company(password_hash)
    tokens = await sign_in(client, company)
    assert await me_error_code(client, "Basic xxx") == "UNAUTHENTICATED"
    assert await me_error_code(client, f"Basic {tokens['accessToken']}") == "UNAUTHENTICATED"


async def test_me_without_authorization_is_unauthenticated(client):
    assert await me_error_code(client, None) == "UNAUTHENTICATED"


async def test_garbage_bearer_token_is_unauthenticated(client):
    assert await bearer_error_code(client, "not.a.jwt") == "UNAUTHENTICATED"


async def test_token_moved_to_another_tenant_is_unauthenticated(client, password_hash, test_settings):
    company = await new_company(password_hash)
    other = await new_company(password_hash)
    tokens = await sign_in(client, company)
    moved = resign(tokens["accessToken"], test_settings.secret_key, tid=other.tenant.id)
    assert await bearer_error_code(client, moved) == "UNAUTHENTICATED"


async def test_token_moved_to_another_employee_is_unauthenticated(client, password_hash, test_settings):
    company = await new_company(password_hash)
    tokens = await sign_in(client, company, "LRN")
    moved = resign(tokens["accessToken"], test_settings.secret_key, sub=str(company.employees["HR1"].id))
    assert await bearer_error_code(client, moved) == "UNAUTHENTICATED"


async def test_unauthenticated_message_is_localized(client):
    response = await client.post("/graphql", json={"query": ME}, headers={"Accept-Language": "en"})
    assert response.json()["errors"][0]["message"] == "Please sign in first."


# --- storage ----------------------------------------------------------------------------------


async def test_passwords_are_stored_as_argon2id_hashes(client, password_hash):
    company = await new_company(password_hash)
    await sign_in(client, company)
    stored = await Employee.get(id=company.employees["LRN"].id)
    assert stored.password_hash.startswith("$argon2id$")
    assert TEST_PASSWORD not in stored.password_hash


async def test_refresh_tokens_are_stored_only_as_sha256(client, password_hash):
    company = await new_company(password_hash)
    first = await sign_in(client, company)
    second = (await refresh(client, first["refreshToken"]))["tokens"]
    session_id = uuid.UUID(claims_of(first["accessToken"])["sid"])

    stored = set(await RefreshToken.filter(session_id=session_id).values_list("token_hash", flat=True))
    assert stored == {sha256_hex(first["refreshToken"]), sha256_hex(second["refreshToken"])}
    assert not stored & {first["refreshToken"], second["refreshToken"]}


# --- Chinese data -----------------------------------------------------------------------------


async def test_chinese_viewer_name_round_trips_through_login_and_me(client, password_hash):
    company = await new_company(password_hash)
    employee = company.employees["LRN"]
    await Employee.filter(id=employee.id).update(name="欧阳·娜娜𠀋")
    payload = await login(client, company.code, "LRN")  # the password itself contains 电池
    assert payload["tokens"]["viewer"] == {"employeeNo": "LRN", "name": "欧阳·娜娜𠀋"}
    assert (await whoami(client, payload["tokens"]["accessToken"]))["name"] == "欧阳·娜娜𠀋"
    assert (await Employee.get(id=employee.id)).name == "欧阳·娜娜𠀋"
