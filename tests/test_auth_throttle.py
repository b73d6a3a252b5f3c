"""Login throttling by source and by account, and concurrent correct logins, through the real ASGI
app. Each test signs in from addresses of its own (httpx.ASGITransport's ``client``), so the
per-address counters of different tests never meet.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp

from backend.app import create_app
from backend.config import Settings
from backend.models import LoginThrottle
from backend.services.people.auth import _account_source_key, _throttle_key, client_source
from tests.factories import TEST_PASSWORD, Company, make_company
from tests.graphql_client import login

WRONG_PASSWORD = "not the password 密码"
PER_ACCOUNT_AND_SOURCE = 3
PER_ACCOUNT = 5
PER_SOURCE = 8


@pytest.fixture(scope="module")
def throttle_app(database_url: str, test_settings: Settings) -> ASGIApp:
    """The app with small limits: 3 failures per account and address, 5 per account, 8 per
    address across accounts."""
    return create_app(
        test_settings.with_overrides(
            database_url=database_url,
            login_max_failures=PER_ACCOUNT_AND_SOURCE,
            login_account_max_failures=PER_ACCOUNT,
            login_source_max_failures=PER_SOURCE,
        ),
        manage_db=False,
    )


def new_address() -> str:
    """An IPv4 address no other test uses."""
    return "10." + ".".join(str(byte) for byte in secrets.token_bytes(3))


@asynccontextmanager
async def from_address(app: ASGIApp, address: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://xuefen.test") as http:
        yield http


async def attempt(
    app: ASGIApp,
    address: str,
    company: Company,
    employee_no: str,
    password: str = TEST_PASSWORD,
    device_id: str = "device-1",
) -> dict[str, Any]:
    """One login from ``address``: the payload (tokens and errors)."""
    async with from_address(app, address) as http:
        return await login(http, company.code, employee_no, password, device_id=device_id)


def codes(payload: dict[str, Any]) -> list[str]:
    return [error["code"] for error in payload["errors"]]


async def fail(app: ASGIApp, address: str, company: Company, employee_no: str, times: int = 1) -> list[str]:
    results = []
    for _ in range(times):
        results += codes(await attempt(app, address, company, employee_no, WRONG_PASSWORD, "attacker"))
    return results


async def new_company(password_hash: str) -> Company:
    return await make_company(password_hash, courses=False)


# --- the owner is not locked out by strangers ---------------------------------------------------


async def test_failures_from_one_address_do_not_lock_the_owner_out_from_another(throttle_app, password_hash):
    company = await new_company(password_hash)
    attacker, owner = new_address(), new_address()
    assert await fail(throttle_app, attacker, company, "LRN", PER_ACCOUNT_AND_SOURCE) == (
        ["INVALID_CREDENTIALS"] * PER_ACCOUNT_AND_SOURCE
    )
    # The attacker's address is locked for this account, even with the right password …
    assert codes(await attempt(throttle_app, attacker, company, "LRN")) == ["TOO_MANY_ATTEMPTS"]
    # … the owner, elsewhere, is not, even on a device never used before.
    assert (await attempt(throttle_app, owner, company, "LRN", device_id="new-phone"))["errors"] == []


async def test_an_attack_from_many_addresses_locks_new_devices_but_not_the_owners_phone(throttle_app, password_hash):
    company = await new_company(password_hash)
    assert (await attempt(throttle_app, new_address(), company, "LRN", device_id="owner-phone"))["errors"] == []

    # Two guesses from each of three addresses: no address reaches its own limit, the account does.
    attackers = [new_address() for _ in range(3)]
    results = [code for address in attackers for code in await fail(throttle_app, address, company, "LRN", 2)]
    assert results == ["INVALID_CREDENTIALS"] * PER_ACCOUNT + ["TOO_MANY_ATTEMPTS"]

    # A device that never signed in to the account is refused now, from anywhere …
    unfamiliar = await attempt(throttle_app, new_address(), company, "LRN", device_id="brand-new-phone")
    assert codes(unfamiliar) == ["TOO_MANY_ATTEMPTS"]
    assert unfamiliar["errors"][0]["retryAfterSeconds"] > 60
    # … the owner's phone is not, wherever it is (even behind an attacker's address).
    assert (await attempt(throttle_app, new_address(), company, "LRN", device_id="owner-phone"))["errors"] == []
    assert (await attempt(throttle_app, attackers[0], company, "LRN", device_id="owner-phone"))["errors"] == []


async def test_the_owners_phone_has_its_own_limit_for_wrong_passwords(throttle_app, password_hash):
    company = await new_company(password_hash)
    address = new_address()
    assert (await attempt(throttle_app, address, company, "LRN", device_id="owner-phone"))["errors"] == []
    results = [
        code
        for _ in range(PER_ACCOUNT_AND_SOURCE + 1)
        for code in codes(await attempt(throttle_app, new_address(), company, "LRN", WRONG_PASSWORD, "owner-phone"))
    ]
    assert results == ["INVALID_CREDENTIALS"] * PER_ACCOUNT_AND_SOURCE + ["TOO_MANY_ATTEMPTS"]
    # Guessing on the phone's behalf from many addresses does not lock the account for others.
    assert (await attempt(throttle_app, new_address(), company, "LRN", device_id="tablet"))["errors"] == []


# --- one address, many accounts ----------------------------------------------------------------


async def test_one_address_trying_many_employee_numbers_is_refused(throttle_app, password_hash):
    company = await new_company(password_hash)
    other = await new_company(password_hash)
    assert (await attempt(throttle_app, new_address(), company, "OTH", device_id="oth-phone"))["errors"] == []
    scanner = new_address()
    # Sequential numbers, most of which do not exist, across companies, one guess each.
    numbers = [f"E{n:04d}" for n in range(1, PER_SOURCE - 2)] + ["LRN"]
    results = [code for number in numbers for code in await fail(throttle_app, scanner, company, number)]
    # The scanner's own account signing in does not give it its failures back.
    assert (await attempt(throttle_app, scanner, other, "LRN", device_id="scanner-own"))["errors"] == []
    results += await fail(throttle_app, scanner, other, "E0001", 2)
    assert results == ["INVALID_CREDENTIALS"] * PER_SOURCE

    # The address is now refused for any account from a device new to it, right password or not.
    for employee_no in ("LRN", "MGR", "E0042"):
        assert codes(await attempt(throttle_app, scanner, company, employee_no, device_id="x")) == ["TOO_MANY_ATTEMPTS"]
    # Other addresses are not; nor is a device that has signed in to its account before.
    assert (await attempt(throttle_app, new_address(), company, "LRN"))["errors"] == []
    assert (await attempt(throttle_app, scanner, company, "OTH", device_id="oth-phone"))["errors"] == []


async def test_ipv6_addresses_count_by_their_64_prefix(throttle_app, password_hash):
    company = await new_company(password_hash)
    prefix = f"2001:db8:{secrets.randbelow(0xFFFF):x}:{secrets.randbelow(0xFFFF):x}"
    results = []
    for host in range(1, PER_ACCOUNT_AND_SOURCE + 1):  # a new address in one /64 for every guess
        results += await fail(throttle_app, f"{prefix}::{host}", company, "LRN")
    assert results == ["INVALID_CREDENTIALS"] * PER_ACCOUNT_AND_SOURCE
    assert codes(await attempt(throttle_app, f"{prefix}::99", company, "LRN")) == ["TOO_MANY_ATTEMPTS"]
    another_64 = f"2001:db8:{secrets.randbelow(0xFFFF):x}:{secrets.randbelow(0xFFFF):x}::1"
    assert (await attempt(throttle_app, another_64, company, "LRN"))["errors"] == []


def test_client_source_normalises_addresses():
    assert client_source("203.0.113.7") == "203.0.113.7"
    assert client_source("::ffff:203.0.113.7") == "203.0.113.7"
    assert client_source("2001:db8:1:2:3:4:5:6") == client_source("2001:db8:1:2::9") == "2001:db8:1:2::/64"
    assert client_source(None) == client_source("") == ""


# --- no enumeration ----------------------------------------------------------------------------


async def test_unknown_employee_gets_the_same_answers_under_every_limit(throttle_app, password_hash):
    company = await new_company(password_hash)
    answers = {}
    for employee_no in ("LRN", "GHOST"):
        first, spread = new_address(), [new_address() for _ in range(3)]
        steps = await fail(throttle_app, first, company, employee_no, PER_ACCOUNT_AND_SOURCE + 1)
        for address in spread:
            steps += await fail(throttle_app, address, company, employee_no)
        locked = await attempt(throttle_app, new_address(), company, employee_no)
        steps += codes(locked)
        answers[employee_no] = (steps, {error["field"] for error in locked["errors"]})
    assert answers["LRN"] == answers["GHOST"]
    assert answers["LRN"][0] == (
        ["INVALID_CREDENTIALS"] * PER_ACCOUNT_AND_SOURCE
        + ["TOO_MANY_ATTEMPTS"]
        + ["INVALID_CREDENTIALS"] * (PER_ACCOUNT - PER_ACCOUNT_AND_SOURCE)
        + ["TOO_MANY_ATTEMPTS"] * (3 - (PER_ACCOUNT - PER_ACCOUNT_AND_SOURCE))
        + ["TOO_MANY_ATTEMPTS"]
    )


# --- concurrency -------------------------------------------------------------------------------


async def test_many_concurrent_correct_logins_of_one_employee_all_succeed(client, password_hash, test_settings):
    # More parallel logins than the failure limit, on one device and on several: attempts still in
    # flight must not turn a correct password away, nor a counter row another login just cleared.
    company = await new_company(password_hash)
    parallel = 4 * test_settings.login_max_failures
    devices = ["device-1"] * (parallel // 2) + [f"device-{n}" for n in range(parallel - parallel // 2)]
    results = await asyncio.gather(*(login(client, company.code, "LRN", device_id=device) for device in devices))
    assert [payload["errors"] for payload in results] == [[]] * parallel
    keys = [_throttle_key(company.code, "LRN"), _account_source_key(company.code, "LRN", "127.0.0.1")]
    assert await LoginThrottle.filter(key_hash__in=keys).count() == 0


async def test_overlapping_correct_logins_never_see_too_many_attempts(client, password_hash, test_settings):
    # As many workers as the limit allows in flight, each signing in again as soon as it is done:
    # never more attempts in flight than allowed, but a success deletes the counter row while
    # another login is between reading it and counting itself (seen as 4 of 178 under load).
    company = await new_company(password_hash)
    refused: list[str] = []

    async def worker(device: str) -> None:
        for _ in range(40):
            refused.extend(codes(await login(client, company.code, "LRN", device_id=device)))

    await asyncio.gather(*(worker(f"device-{n}") for n in range(test_settings.login_max_failures)))
    assert refused == []


# --- logs and settings -------------------------------------------------------------------------


async def test_logins_log_outcomes_without_personal_data(throttle_app, password_hash, caplog):
    company = await new_company(password_hash)
    address = new_address()
    employee = company.employees["LRN"]
    caplog.set_level(logging.DEBUG, logger="xuefen")
    await fail(throttle_app, address, company, "LRN", PER_ACCOUNT_AND_SOURCE + 1)
    assert (await attempt(throttle_app, new_address(), company, "LRN", device_id="phone-x"))["errors"] == []

    text = "\n".join(record.getMessage() for record in caplog.records if record.name.startswith("xuefen"))
    assert "login failed" in text and f"employee {employee.id}" in text
    for secret in (TEST_PASSWORD, WRONG_PASSWORD, company.code, "LRN", address, "phone-x", employee.name):
        assert secret not in text


def test_login_policy_settings_come_from_the_environment():
    settings = Settings.from_env(
        {
            "XUEFEN_LOGIN_MAX_FAILURES": "4",
            "XUEFEN_LOGIN_FAILURE_WINDOW": "600",
            "XUEFEN_LOGIN_LOCK_SECONDS": "300",
            "XUEFEN_LOGIN_ACCOUNT_MAX_FAILURES": "30",
            "XUEFEN_LOGIN_SOURCE_MAX_FAILURES": "0",
            "XUEFEN_REFRESH_RETRY_SECONDS": "60",
        }
    )
    assert (
        settings.login_max_failures,
        settings.login_failure_window_seconds,
        settings.login_lock_seconds,
        settings.login_account_max_failures,
        settings.login_source_max_failures,
        settings.refresh_retry_seconds,
    ) == (4, 600, 300, 30, 0, 60)
    defaults = Settings.from_env({})
    assert (
        defaults.login_max_failures,
        defaults.login_account_max_failures,
        defaults.login_source_max_failures,
        defaults.refresh_retry_seconds,
    ) == (5, 10, 100, 120)


async def test_a_per_source_limit_of_zero_is_off(database_url, test_settings, password_hash):
    company = await new_company(password_hash)
    app = create_app(
        test_settings.with_overrides(database_url=database_url, login_source_max_failures=0), manage_db=False
    )
    address = new_address()
    numbers = [f"Z{uuid.uuid4().hex[:6]}" for _ in range(12)]
    results = [code for number in numbers for code in await fail(app, address, company, number)]
    assert results == ["INVALID_CREDENTIALS"] * 12
    assert (await attempt(app, address, company, "LRN"))["errors"] == []
