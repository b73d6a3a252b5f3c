"""The projector link (`sessionCheckInKit.projectorPath`): a bearer key for the projector page and
the QR images that lives a few minutes, only while the instructor's login lives, for one session
of one tenant, and cannot be forged without the server secret."""

from __future__ import annotations

import asyncio
import io
import time
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlparse

import httpx
import jwt
import pytest
import zxingcpp
from PIL import Image

from backend.app import create_app
from backend.config import DEV_SECRET_KEY
from backend.ids import to_global_id
from backend.models import AuthSession, TrainingSession
from tests.factories import make_company
from tests.graphql_client import gql, login
from tests.test_checkin import KIT, make_session, token_at

LOGOUT = "mutation { logout { ok errors { code } } }"
REFRESH = """
mutation R($input: RefreshTokenInput!) { refreshToken(input: $input) { tokens { accessToken } errors { code } } }
"""


@pytest.fixture
async def company(password_hash):
    return await make_company(password_hash)


async def _instructor(client, company, device_id="mgr-phone") -> dict:
    payload = await login(client, company.code, "MGR", device_id=device_id)
    assert payload["errors"] == [], payload
    return payload["tokens"]


async def _link(client, session: TrainingSession, token: str) -> str:
    body = await gql(client, KIT, {"id": to_global_id("TrainingSession", session.id)}, token=token)
    assert "errors" not in body, body
    return body["data"]["sessionCheckInKit"]["projectorPath"]


def _key(path: str) -> str:
    return parse_qs(urlparse(path).query)["key"][0]


async def _opens(client, session_id: int, key: str, language: str = "en") -> list[httpx.Response]:
    """The page and both images with this key."""
    return [
        await client.get(f"/sessions/{session_id}/{what}", params={"key": key}, headers={"Accept-Language": language})
        for what in ("projector", "qr.svg", "qr.png")
    ]


def _assert_refused(responses: list[httpx.Response], status: int, code: str) -> None:
    page, svg, png = responses
    assert page.status_code == status and page.headers["content-type"].startswith("text/html"), page.text
    assert page.headers["cache-control"] == "no-store"
    for image in (svg, png):
        assert image.status_code == status, image.text
        assert image.json()["errors"][0]["extensions"]["code"] == code


async def test_a_link_works_while_the_login_is_live_and_unexpired(client, company):
    session = await make_session(company)
    tokens = await _instructor(client, company)
    path = await _link(client, session, tokens["accessToken"])
    assert path.startswith(f"/sessions/{session.id}/projector?key=")
    page, svg, png = await _opens(client, session.id, _key(path))
    assert page.status_code == 200 and "销售基础 · 第一期" in page.text
    assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"
    # The page keeps using the key it was opened with: reloading it never extends the link.
    assert f"qr.svg?key={_key(path)}" in page.text
    assert svg.status_code == 200 and "<svg" in svg.text
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.content)))
    assert decoded[0].text in {token_at(session, datetime.now(UTC), shift) for shift in (-1, 0)}
    # A refresh keeps the same login (the refresh-token chain), so the link keeps working.
    refreshed = await gql(client, REFRESH, {"input": {"refreshToken": tokens["refreshToken"], "deviceId": "mgr-phone"}})
    assert refreshed["data"]["refreshToken"]["errors"] == []
    assert [r.status_code for r in await _opens(client, session.id, _key(path))] == [200, 200, 200]
    # Each kit gives a fresh link, and says until when it works (15 minutes by default).
    await asyncio.sleep(1.1)
    kit = (
        await gql(
            client,
            "query K($id: ID!) { sessionCheckInKit(sessionId: $id) { projectorPath projectorExpiresAt } }",
            {"id": to_global_id("TrainingSession", session.id)},
            token=tokens["accessToken"],
        )
    )["data"]["sessionCheckInKit"]
    assert _key(kit["projectorPath"]) != _key(path)
    expires_in = datetime.fromisoformat(kit["projectorExpiresAt"]) - datetime.now(UTC)
    # At least the full 15 minutes (the expiry second is rounded up, never down).
    assert 890 <= expires_in.total_seconds() <= 901


async def test_an_expired_link_is_refused(database_url, test_settings, company):
    app = create_app(
        test_settings.with_overrides(database_url=database_url, projector_link_ttl_seconds=1), manage_db=False
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://xuefen.test") as short:
        session = await make_session(company)
        tokens = await _instructor(short, company)
        key = _key(await _link(short, session, tokens["accessToken"]))
        assert [r.status_code for r in await _opens(short, session.id, key)] == [200, 200, 200]
        await asyncio.sleep(2.1)
        refused = await _opens(short, session.id, key)
        _assert_refused(refused, 401, "TOKEN_EXPIRED")
        assert "expired" in refused[0].text and "Xuefen app" in refused[0].text
        chinese = await short.get(f"/sessions/{session.id}/projector", params={"key": key})
        assert "过期" in chinese.text


async def test_a_link_dies_when_the_instructor_signs_out(client, company):
    session = await make_session(company)
    tokens = await _instructor(client, company)
    key = _key(await _link(client, session, tokens["accessToken"]))
    other_device = await _instructor(client, company, device_id="mgr-laptop")
    other_key = _key(await _link(client, session, other_device["accessToken"]))
    assert (await gql(client, LOGOUT, token=tokens["accessToken"]))["data"]["logout"]["ok"] is True
    _assert_refused(await _opens(client, session.id, key), 401, "UNAUTHENTICATED")
    # Bound to that login only: the link from the instructor's other device still works.
    assert [r.status_code for r in await _opens(client, session.id, other_key)] == [200, 200, 200]
    # Revoked any other way (refresh-token reuse, deactivation): the same.
    await AuthSession.filter(tenant_id=company.tenant.id).update(revoked_at=datetime.now(UTC))
    _assert_refused(await _opens(client, session.id, other_key), 401, "UNAUTHENTICATED")


async def test_a_link_for_one_session_does_not_open_another(client, company):
    first, second = await make_session(company), await make_session(company)
    tokens = await _instructor(client, company)
    key = _key(await _link(client, first, tokens["accessToken"]))
    _assert_refused(await _opens(client, second.id, key), 403, "FORBIDDEN")


async def test_a_link_ends_when_the_session_gets_another_instructor(client, company):
    session = await make_session(company)
    key = _key(await _link(client, session, (await _instructor(client, company))["accessToken"]))
    await TrainingSession.filter(id=session.id).update(instructor_id=company.employees["HR1"].id)
    _assert_refused(await _opens(client, session.id, key), 403, "FORBIDDEN")


async def test_forged_and_old_style_keys_are_refused(client, test_settings, company):
    session = await make_session(company)
    tokens = await _instructor(client, company)
    key = _key(await _link(client, session, tokens["accessToken"]))
    # The same key signed with another secret, and a tampered one.
    from backend.services.sessions.qr import sign_display_key

    auth_session = await AuthSession.filter(tenant_id=company.tenant.id).first()
    far = int(time.time()) + 3600
    for secret in (DEV_SECRET_KEY, "another-secret-" + "x" * 40):
        forged = sign_display_key(secret, session.id, company.tenant.id, auth_session.id, far)
        _assert_refused(await _opens(client, session.id, forged), 401, "UNAUTHENTICATED")
    _assert_refused(
        await _opens(client, session.id, key[:-3] + ("AAA" if key[-3:] != "AAA" else "BBB")), 401, "UNAUTHENTICATED"
    )
    _assert_refused(await _opens(client, session.id, "garbage"), 401, "UNAUTHENTICATED")
    # The old display key (a JWT valid until the session ends, bound to no login) no longer opens
    # anything, even signed with the real secret.
    for secret in (test_settings.secret_key, DEV_SECRET_KEY):
        old = jwt.encode(
            {
                "aud": "xuefen-display",
                "sid": session.id,
                "tid": company.tenant.id,
                "exp": int(session.ends_at.timestamp()),
            },
            secret,
            algorithm="HS256",
        )
        _assert_refused(await _opens(client, session.id, old), 401, "UNAUTHENTICATED")


async def test_a_link_keeps_to_the_tenant_of_its_login(client, test_settings, password_hash, company):
    """Even a key signed with the real secret opens a session only in the tenant of the login it
    names, and only for that login's employee as the session's instructor."""
    from backend.services.sessions.qr import sign_display_key

    other = await make_company(password_hash)
    theirs = await make_session(other)
    ours = await make_session(company)
    await _link(client, ours, (await _instructor(client, company))["accessToken"])
    our_login = await AuthSession.filter(tenant_id=company.tenant.id, revoked_at__isnull=True).first()
    far = int(time.time()) + 600
    secret = test_settings.secret_key
    # Their session, claimed for their tenant but with our login; and for our tenant.
    for tenant_id in (other.tenant.id, company.tenant.id):
        key = sign_display_key(secret, theirs.id, tenant_id, our_login.id, far)
        refused = await _opens(client, theirs.id, key)
        assert [r.status_code for r in refused] in ([401] * 3, [404] * 3), [r.status_code for r in refused]
    # The kit of another tenant's session is not ours to fetch either.
    body = await gql(
        client,
        KIT,
        {"id": to_global_id("TrainingSession", theirs.id)},
        token=(await _instructor(client, company, device_id="mgr-tablet"))["accessToken"],
    )
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
