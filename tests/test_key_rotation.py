"""Key rotation (backend/keyring.py, docs/key-rotation.md): a phone signed in and pulling under key A
goes on working after the server restarts with B current and A previous: its access and refresh
tokens, its pull cursor, a projector and a media link, an activation code, and the instructor's
QR codes. Once A leaves the ring, what A made is refused with the ordinary, documented codes
(UNAUTHENTICATED, CURSOR_INVALID: the phone pulls from the start).

Every "restart" is a new app built with other settings on the same database, driven over HTTP."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import jwt
import pytest

from backend import keyring
from backend.app import create_app
from backend.config import Settings
from backend.ids import to_global_id
from backend.key_commands import RewrapSummary, rewrap_row, rewrap_sessions
from backend.models import Employee, EmployeeRole, Role, TrainingSession
from backend.services.content.media_links import media_path
from backend.services.content.storage import LocalStore
from backend.services.people.devices import device_tag
from backend.services.sessions import qr
from backend.signing import sign, unsign
from tests.factories import TEST_PASSWORD, make_company
from tests.graphql_client import gql, login
from tests.sync_helpers import PULL, PUSH, pull_input, push_input
from tests.test_accounts import activate, issue_code
from tests.test_checkin import KIT, check_in, make_session, signed_in_long_ago
from tests.test_media_route import put_bytes

ME = "{ me { employeeNo } }"
REFRESH = """
mutation R($input: RefreshTokenInput!) {
  refreshToken(input: $input) { tokens { accessToken refreshToken } errors { code } }
}
"""
MY_DEVICES = "{ myDevices { tag current } }"


def key(name: str) -> str:
    return f"rotation-{name}-{uuid.uuid4().hex}"


@pytest.fixture
def ring(test_settings: Settings, database_url: str):
    """Settings on the session's database with a given current key and previous keys."""
    base = test_settings.with_overrides(database_url=database_url)

    def settings(current: str, *previous: str) -> Settings:
        return base.with_overrides(secret_key=current, previous_secret_keys=tuple(previous))

    return settings


@asynccontextmanager
async def served(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The server (re)started with ``settings``."""
    transport = httpx.ASGITransport(app=create_app(settings, manage_db=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://xuefen.test") as http:
        yield http


async def error_code(client: httpx.AsyncClient, token: str) -> str | None:
    """The error code of `me` with this bearer token (None when it worked)."""
    response = await client.post("/graphql", json={"query": ME}, headers={"Authorization": f"Bearer {token}"})
    body = response.json()
    if body.get("data") and body["data"].get("me"):
        return None
    return body["errors"][0]["extensions"]["code"]


async def pull(client, token: str, cursor: str | None, limit: int, device_id: str) -> dict[str, Any]:
    body = await gql(client, PULL, pull_input(cursor, limit, device_id), token=token)
    assert "errors" not in body, body
    return body["data"]["syncPull"]


def ids(page: dict[str, Any]) -> list[tuple[str, str]]:
    return [(change["entity"], change["id"]) for change in page["changes"]]


async def test_a_rotation_signs_nobody_out_and_resets_no_cursor(ring, password_hash):
    a, b = key("a"), key("b")
    company = await make_company(password_hash)
    device = "phone-1"

    async with served(ring(a)) as server:
        tokens = (await login(server, company.code, "LRN", device_id=device))["tokens"]
        first = await pull(server, tokens["accessToken"], None, 2, device)
        assert first["hasMore"]
        # What the whole first sync brings, for comparison below (another phone, same person).
        other = (await login(server, company.code, "LRN", device_id="phone-2"))["tokens"]["accessToken"]
        whole = await pull(server, other, None, 100, "phone-2")
        assert not whole["hasMore"] and len(whole["changes"]) > 3
    assert jwt.get_unverified_header(tokens["accessToken"])["kid"] == keyring.key_id(a)

    async with served(ring(b, a)) as server:
        assert await error_code(server, tokens["accessToken"]) is None  # the old access token works
        # The old cursor goes on where it was: the next page follows on, nothing again, no reset.
        second = await pull(server, tokens["accessToken"], first["cursor"], 100, device)
        assert second["errors"] == [] and not second["hasMore"]
        assert ids(first) + ids(second) == ids(whole)
        assert unsign(b, "v1", second["cursor"])  # the new cursor is B's
        with pytest.raises(ValueError):
            unsign(a, "v1", second["cursor"])
        # The refresh works, and the new pair is B's.
        refreshed = (
            await gql(server, REFRESH, {"input": {"refreshToken": tokens["refreshToken"], "deviceId": device}})
        )["data"]["refreshToken"]
        assert refreshed["errors"] == [], refreshed
        new_access = refreshed["tokens"]["accessToken"]
        assert jwt.get_unverified_header(new_access)["kid"] == keyring.key_id(b)
        assert jwt.decode(new_access, b, algorithms=["HS256"], audience="xuefen-app")["dev"] == device
        assert await error_code(server, new_access) is None
        # The successor is derived under B: a retry of this refresh (answer lost) gets it again.
        again = (await gql(server, REFRESH, {"input": {"refreshToken": tokens["refreshToken"], "deviceId": device}}))[
            "data"
        ]["refreshToken"]
        assert again["tokens"]["refreshToken"] == refreshed["tokens"]["refreshToken"]
        # A token of no key of the ring is refused as ever.
        assert await error_code(server, jwt.encode({"sub": "1"}, key("x"), algorithm="HS256")) == "UNAUTHENTICATED"

    async with served(ring(b)) as server:  # A retired
        assert await error_code(server, tokens["accessToken"]) == "UNAUTHENTICATED"
        assert await error_code(server, new_access) is None
        # A's cursor answers the documented code that makes the phone pull from the start.
        stale = await pull(server, new_access, first["cursor"], 100, device)
        assert [e["code"] for e in stale["errors"]] == ["CURSOR_INVALID"] and stale["changes"] == []
        assert ids(await pull(server, new_access, None, 100, device)) == ids(whole)
        # B's cursor is still fine.
        assert (await pull(server, new_access, second["cursor"], 100, device))["errors"] == []


async def test_a_token_from_before_key_ids_is_tried_under_every_key(ring, password_hash):
    """Access tokens issued before key ids existed have no ``kid``: each key of the ring is tried."""
    a, b = key("a"), key("b")
    company = await make_company(password_hash, courses=False)
    async with served(ring(a)) as server:
        token = (await login(server, company.code, "LRN", device_id="old-app"))["tokens"]["accessToken"]
    claims = jwt.decode(token, a, algorithms=["HS256"], audience="xuefen-app")
    without_kid = jwt.encode(claims, a, algorithm="HS256")
    assert "kid" not in jwt.get_unverified_header(without_kid)
    async with served(ring(b, a)) as server:
        assert await error_code(server, without_kid) is None
    async with served(ring(b)) as server:
        assert await error_code(server, without_kid) == "UNAUTHENTICATED"
    # A kid naming a key of the ring is held to that key: A's kid on a token signed under B fails.
    forged = jwt.encode(claims, b, algorithm="HS256", headers={"kid": keyring.key_id(a)})
    async with served(ring(b, a)) as server:
        assert await error_code(server, forged) == "UNAUTHENTICATED"


async def test_links_and_activation_codes_made_under_the_old_key_still_work(ring, password_hash, test_settings):
    a, b = key("a"), key("b")
    company = await make_company(password_hash)
    new = await Employee.create(tenant=company.tenant, employee_no="NEW", name="牛新人", password_hash="")
    await EmployeeRole.create(tenant=company.tenant, employee=new, role=Role.EMPLOYEE)
    company.employees["NEW"] = new
    session = await make_session(company)
    sha256 = await put_bytes(LocalStore(Path(test_settings.media_dir)), b"rotation " * 100)
    media = media_path(ring(a), company.tenant.id, sha256, "text/plain")[0]

    async with served(ring(a)) as server:
        code = await issue_code(server, company, "NEW")
        instructor = (await login(server, company.code, "MGR", device_id="mgr-phone"))["tokens"]["accessToken"]
        kit = await gql(server, KIT, {"id": to_global_id("TrainingSession", session.id)}, token=instructor)
        projector = kit["data"]["sessionCheckInKit"]["projectorPath"]

    async with served(ring(b, a)) as server:
        page = await server.get(projector)
        assert page.status_code == 200 and "销售基础" in page.text
        assert (await server.get(media)).content == b"rotation " * 100
        activated = await activate(server, company, "NEW", code)
        assert activated["errors"] == [] and activated["tokens"]["accessToken"]

    async with served(ring(b)) as server:
        assert (await server.get(projector)).status_code == 401
        assert (await server.get(media)).status_code == 401


async def test_session_secrets_are_wrapped_and_the_qr_code_checks_in_across_a_rotation(ring, password_hash):
    a, b = key("a"), key("b")
    company = await make_company(password_hash)
    session = await make_session(company)
    plain = session.secret  # made the old way: plain hex, read as it is
    assert not keyring.is_wrapped(plain)
    summary = await rewrap_sessions(ring(a), company.tenant.id)  # wraps it under A
    assert summary.unreadable == {}
    wrapped = (await TrainingSession.get(id=session.id)).secret
    assert keyring.wrapped_kid(wrapped) == keyring.key_id(a) and plain not in wrapped and len(wrapped) <= 128

    async with served(ring(b, a)) as server:
        instructor = (await login(server, company.code, "MGR", device_id="mgr-phone"))["tokens"]["accessToken"]
        kit = (await gql(server, KIT, {"id": to_global_id("TrainingSession", session.id)}, token=instructor))["data"][
            "sessionCheckInKit"
        ]
        assert kit["secret"] == plain  # the instructor's phone gets the same secret: its codes stay valid
        learner = await signed_in_long_ago(server, company)
        now = datetime.now(UTC)
        result = await check_in(
            server, learner, qr.token_for(plain, company.tenant.id, session.id, qr.step_at(now, 15)), now
        )
        assert result["status"] == "ACCEPTED", result
        assert kit["currentToken"].startswith("XF1-")

    moved = await rewrap_sessions(ring(b, a), company.tenant.id)
    assert moved.moved[keyring.key_id(a)] >= 1 and moved.unreadable == {}
    rewrapped = (await TrainingSession.get(id=session.id)).secret
    assert keyring.wrapped_kid(rewrapped) == keyring.key_id(b)
    assert qr.unwrap_secret(ring(b), rewrapped) == plain  # B alone opens it now
    again = await rewrap_sessions(ring(b, a), company.tenant.id)  # idempotent
    assert again.moved == {} and again.wrapped == 0 and again.current >= 1
    # A secret under a key that has left the ring is reported, never guessed at.
    await TrainingSession.filter(id=session.id).update(secret=qr.wrap_secret(ring(a), plain))
    assert (await rewrap_sessions(ring(b), company.tenant.id)).unreadable == {keyring.key_id(a): 1}
    with pytest.raises(RuntimeError, match="XUEFEN_PREVIOUS_SECRET_KEYS"):
        qr.session_secret(ring(b), await TrainingSession.get(id=session.id))


async def test_a_new_session_secret_is_stored_wrapped(ring, password_hash):
    a = key("a")
    settings = ring(a)
    stored = qr.new_secret(settings)
    assert keyring.wrapped_kid(stored) == keyring.key_id(a) and len(stored) <= 128
    assert len(qr.unwrap_secret(settings, stored)) == 64
    assert qr.new_secret(settings) != stored
    tampered = stored[:-2] + ("A" if stored[-2] != "A" else "B") + stored[-1]
    with pytest.raises(ValueError):
        qr.unwrap_secret(settings, tampered)


async def test_device_tags_stay_the_same_across_a_rotation(ring, password_hash):
    """Tags are keyed by the oldest key of the ring (or XUEFEN_DEVICE_TAG_KEY): rotating the current
    key leaves them, and pinning that key keeps them once it leaves the ring."""
    a, b = key("a"), key("b")
    company = await make_company(password_hash, courses=False)
    tags = []
    for settings in (ring(a), ring(b, a), ring(b).with_overrides(device_tag_key=a)):
        async with served(settings) as server:
            token = (await login(server, company.code, "LRN", device_id="tagged"))["tokens"]["accessToken"]
            body = await gql(server, MY_DEVICES, token=token)
            assert "errors" not in body, body
            tags.append([d["tag"] for d in body["data"]["myDevices"] if d["current"]])
    assert tags[0] == tags[1] == tags[2] == [device_tag(a, company.tenant.id, "tagged")]


def test_the_ring_refuses_pointless_or_unsafe_keys():
    strong = key("strong") + "x" * 32
    with pytest.raises(SystemExit, match="equals the current key"):
        Settings(secret_key=strong, previous_secret_keys=(strong,))
    with pytest.raises(SystemExit, match="XUEFEN_PREVIOUS_SECRET_KEYS"):
        Settings(environment="production", secret_key=strong, previous_secret_keys=("short",))
    with pytest.raises(SystemExit, match="XUEFEN_DEVICE_TAG_KEY"):
        Settings(environment="production", secret_key=strong, device_tag_key="short")
    env = {"XUEFEN_SECRET_KEY": strong, "XUEFEN_PREVIOUS_SECRET_KEYS": f"{'p' * 40},,{'q' * 40},"}
    settings = Settings.from_env(env)
    assert settings.keys.all == (strong, "p" * 40, "q" * 40) and settings.keys.tag_key == "q" * 40
    assert sign(settings.keys, "v1", [1]) == sign(strong, "v1", [1])  # new values: the current key
    assert unsign(settings.keys, "v1", sign("q" * 40, "v1", [2])) == [2]


def test_expiring_values_keep_their_own_expiry_under_any_key():
    """The ring changes which key verifies, not how long a value lives."""
    a, b = key("a"), key("b")
    settings = Settings(secret_key=b, previous_secret_keys=(a,))
    past = datetime.now(UTC) - timedelta(days=1)
    expired = media_path(Settings(secret_key=a), 1, "0" * 64, "text/plain", past)[0]
    from backend.errors import DomainError
    from backend.services.content.media_links import read_media_key

    with pytest.raises(DomainError) as refused:
        read_media_key(settings, "0" * 64, parse_qs(urlparse(expired).query)["k"][0])
    assert refused.value.code.value == "TOKEN_EXPIRED"


def run_keys(database_url: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``xuefen keys …`` as an operator runs it, on the session's database."""
    environment = {**os.environ, "XUEFEN_DATABASE_URL": database_url, "XUEFEN_LOG_LEVEL": "WARNING", **env}
    return subprocess.run(
        [sys.executable, "-m", "backend.cli", "keys", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )


async def test_the_keys_commands(database_url, password_hash):
    generated = run_keys(database_url, {}, "generate")
    assert generated.returncode == 0 and len(generated.stdout.strip()) == 64 and "," not in generated.stdout
    new = generated.stdout.strip()

    company = await make_company(password_hash, courses=True)
    session = await make_session(company)
    old = key("old")
    await TrainingSession.filter(id=session.id).update(secret=qr.wrap_secret(Settings(secret_key=old), session.secret))
    rotated = {"XUEFEN_SECRET_KEY": new, "XUEFEN_PREVIOUS_SECRET_KEYS": old}
    first = run_keys(database_url, rotated, "rewrap", "--tenant", company.code)
    assert first.returncode == 0, first.stderr
    assert "moved: " in first.stdout and f"from key {keyring.key_id(old)}" in first.stdout
    assert keyring.wrapped_kid((await TrainingSession.get(id=session.id)).secret) == keyring.key_id(new)
    second = run_keys(database_url, rotated, "rewrap", "--tenant", company.code)
    assert second.returncode == 0 and "moved: none" in second.stdout and "0 wrapped from plain" in second.stdout
    # Under a ring without the key a secret was wrapped with: exit 1, naming the key to put back.
    # (Only this company's sessions: the suite's other sessions stay under the suite's key.)
    stray = key("stray")
    await TrainingSession.filter(id=session.id).update(
        secret=qr.wrap_secret(Settings(secret_key=stray), session.secret)
    )
    refused = run_keys(database_url, rotated, "rewrap", "--tenant", company.code)
    assert refused.returncode == 1 and keyring.key_id(stray) in refused.stderr
    await TrainingSession.filter(id=session.id).update(secret=session.secret)
    assert run_keys(database_url, rotated, "rewrap", "--tenant", "no-such-company").returncode == 2


def test_a_refused_production_configuration_can_still_generate_its_key(database_url):
    """The production refusal says "`xuefen keys generate` prints one": that command must work
    with the very configuration that was refused (no key, no database URL)."""
    env = {"XUEFEN_ENV": "production", "XUEFEN_SECRET_KEY": "", "XUEFEN_DATABASE_URL": ""}
    generated = run_keys(database_url, env, "generate")
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert len(generated.stdout.strip()) == 64


async def test_the_dashboard_cookie_its_csrf_token_and_report_links_survive_a_rotation(ring, password_hash):
    a, b = key("a"), key("b")
    company = await make_company(password_hash, courses=False)
    form = {"report": "training-effect", "format": "csv", "from": "2026-09-01", "to": "2026-11-30"}
    async with served(ring(a)) as server:
        signed_in = await server.post(
            "/admin/login", data={"tenant": company.code, "employee_no": "HR1", "password": TEST_PASSWORD}
        )
        assert signed_in.status_code == 303, signed_in.text
        cookie = server.cookies["xuefen_admin"]
        page = await server.get("/admin/")
        csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', page.text)
        assert page.status_code == 200 and csrf is not None
        old_link = (await server.post("/admin/export", data={**form, "csrf": csrf.group(1)})).headers["location"]

    async with served(ring(b, a)) as server:
        server.cookies.set("xuefen_admin", cookie)
        assert (await server.get("/admin/")).status_code == 200  # the cookie signed under A
        exported = await server.post("/admin/export", data={**form, "csrf": csrf.group(1)})  # A's CSRF token
        assert exported.status_code == 303, exported.text
        assert (await server.get(old_link)).status_code == 200  # a report link signed under A
        assert (await server.get(exported.headers["location"])).status_code == 200

    async with served(ring(b)) as server:
        server.cookies.set("xuefen_admin", cookie)
        assert (await server.get("/admin/")).status_code == 303  # to the sign-in page
        assert (await server.get(old_link)).status_code == 401


@pytest.mark.parametrize(
    "variable,value",
    [
        ("XUEFEN_SECRET_KEY", "k" * 40 + "\r"),
        ("XUEFEN_SECRET_KEY", " " + "k" * 40),
        ("XUEFEN_PREVIOUS_SECRET_KEYS", "p" * 40 + "\r"),
        ("XUEFEN_PREVIOUS_SECRET_KEYS", f"{'p' * 40}, {'q' * 40}"),
        ("XUEFEN_DEVICE_TAG_KEY", "t" * 40 + "\t"),
    ],
)
@pytest.mark.parametrize("environment", ["development", "production"])
def test_a_key_with_whitespace_around_it_is_refused_naming_its_variable(variable, value, environment):
    """A key is used exactly as written: the CR of a CRLF .env kept on the current key but trimmed
    once the key moved into the previous keys made it another key. Refused, in one line."""
    env = {
        "XUEFEN_ENV": environment,
        "XUEFEN_DATABASE_URL": "postgres://x@127.0.0.1/x",
        "XUEFEN_SECRET_KEY": "s" * 40,
        "XUEFEN_PUBLIC_URL": "https://xuefen.example.com",
        variable: value,
    }
    with pytest.raises(SystemExit) as refused:
        Settings.from_env(env)
    message = str(refused.value)
    assert message.startswith(f"xuefen: {variable}: ") and "\n" not in message, message
    assert "k" * 40 not in message and "p" * 40 not in message  # never the key itself


def test_a_ring_error_names_the_variable_at_fault():
    """Not every error is about the previous keys: the current key's is XUEFEN_SECRET_KEY's."""
    with pytest.raises(SystemExit) as empty:
        Settings(secret_key="")
    assert str(empty.value).startswith("xuefen: XUEFEN_SECRET_KEY ")
    strong = key("strong")
    with pytest.raises(SystemExit) as repeated:
        Settings(secret_key=strong, previous_secret_keys=(key("p"), key("p")[:-1] + "0") * 2)
    assert str(repeated.value).startswith("xuefen: XUEFEN_PREVIOUS_SECRET_KEYS: ")


def test_production_warns_when_previous_keys_have_no_pinned_tag_key(caplog):
    """Without XUEFEN_DEVICE_TAG_KEY the tag key is the last previous key, which the ring's shape
    decides: production says so at start, naming the key id (tags are labels: not refused)."""
    current, old = key("current") + "x" * 20, key("old") + "x" * 20
    unpinned = Settings(environment="production", secret_key=current, previous_secret_keys=(old,))
    with caplog.at_level("WARNING", logger="backend.config"):
        unpinned.warn_if_unsafe()
    warned = [record.getMessage() for record in caplog.records if "XUEFEN_DEVICE_TAG_KEY" in record.getMessage()]
    assert len(warned) == 1 and keyring.key_id(old) in warned[0] and old not in warned[0], warned
    caplog.clear()
    for settings in (
        unpinned.with_overrides(device_tag_key=old),  # pinned
        Settings(environment="production", secret_key=current),  # no rotation under way
    ):
        with caplog.at_level("WARNING", logger="backend.config"):
            settings.warn_if_unsafe()
    assert not [record for record in caplog.records if "XUEFEN_DEVICE_TAG_KEY" in record.getMessage()]


def test_every_deployment_passes_the_device_tag_key():
    """Pinning the tag key (docs/key-rotation.md, step 2) must reach the server however it is run:
    compose passed the previous keys but not the tag key, so tags changed during a rotation."""
    import yaml

    root = Path(__file__).resolve().parent.parent
    compose = yaml.safe_load((root / "compose.yaml").read_text(encoding="utf-8"))
    environment = compose["x-xuefen"]["environment"]
    for variable in ("XUEFEN_PREVIOUS_SECRET_KEYS", "XUEFEN_DEVICE_TAG_KEY"):
        assert environment[variable] == f"${{{variable}:-}}"
        for example in ("deploy/env.example", "deploy/xuefen.env.example"):
            lines = (root / example).read_text(encoding="utf-8").splitlines()
            assert f"{variable}=" in lines, (example, variable)
        assert re.search(rf"^\| `{variable}` \|", (root / "README.md").read_text(encoding="utf-8"), re.M)


async def test_a_secret_under_a_retired_key_fails_for_retry_and_the_projector_says_503(ring, password_hash, caplog):
    """A session secret wrapped under a key that left the ring: the check-in is not refused (that
    would lose it) but fails the whole request, retried later and accepted once the key is back; the
    log names the session and the key; the projector answers a clear 503, not a bare 500."""
    a, b = key("a"), key("b")
    company = await make_company(password_hash)
    session = await make_session(company)
    plain = session.secret
    await TrainingSession.filter(id=session.id).update(secret=qr.wrap_secret(ring(a), plain))
    now = datetime.now(UTC)
    code = qr.token_for(plain, company.tenant.id, session.id, qr.step_at(now, 15))
    record = {
        "id": str(uuid.uuid4()),
        "seq": 1,
        "kind": "CHECK_IN",
        "occurredAt": now.isoformat(),
        "payload": {"token": code},
    }
    async with served(ring(b)) as server:
        learner = await signed_in_long_ago(server, company, device_id="retired-key-phone")
        with caplog.at_level("ERROR", logger="backend.services.sessions.qr"):
            body = await gql(server, PUSH, push_input([record], device_id="retired-key-phone"), token=learner)
        assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "INTERNAL", body
        logged = [r.getMessage() for r in caplog.records if r.name == "backend.services.sessions.qr"]
        assert logged and f"training session {session.id}:" in logged[0] and keyring.key_id(a) in logged[0]
        assert "XUEFEN_PREVIOUS_SECRET_KEYS" in logged[0] and plain not in logged[0]

        instructor = (await login(server, company.code, "MGR", device_id="mgr-phone"))["tokens"]["accessToken"]
        bearer = {"Authorization": f"Bearer {instructor}", "Accept-Language": "en"}
        page = await server.get(f"/sessions/{session.id}/projector", headers=bearer)
        assert page.status_code == 503 and "administrator" in page.text and "text/html" in page.headers["content-type"]
        assert page.headers["cache-control"] == "no-store"
        image = await server.get(f"/sessions/{session.id}/qr.svg", headers=bearer)
        assert image.status_code == 503 and image.json()["errors"][0]["extensions"]["code"] == "INTERNAL"

    async with served(ring(b, a)) as server:  # the key is back: the same push, retried, counts
        learner = await signed_in_long_ago(server, company, device_id="retired-key-phone")
        body = await gql(server, PUSH, push_input([record], device_id="retired-key-phone"), token=learner)
        assert [r["status"] for r in body["data"]["syncPush"]["results"]] == ["ACCEPTED"], body
        assert (await server.get(f"/sessions/{session.id}/projector", headers=bearer)).status_code != 503


async def test_rewrap_judges_again_a_row_changed_since_it_was_read(ring, password_hash):
    """A conditional update that changes nothing means someone else wrote the row: it is read again,
    never counted as "already current" unseen (here: it now holds a secret no key opens)."""
    a, b, stray = key("a"), key("b"), key("stray")
    company = await make_company(password_hash, courses=True)
    session = await make_session(company)
    plain = session.secret
    read = qr.wrap_secret(ring(a), plain)  # what rewrap read
    await TrainingSession.filter(id=session.id).update(secret=qr.wrap_secret(ring(stray), plain))  # then changed
    summary = RewrapSummary()
    await rewrap_row(ring(b, a), session.id, read, summary)
    assert summary.current == 0 and summary.unreadable == {keyring.key_id(stray): 1}, summary
    # Changed to something it can move: moved, from the key the row now holds.
    await TrainingSession.filter(id=session.id).update(secret=plain)
    summary = RewrapSummary()
    await rewrap_row(ring(b, a), session.id, read, summary)
    assert (summary.wrapped, summary.current, dict(summary.moved)) == (1, 0, {}), summary
    assert keyring.wrapped_kid((await TrainingSession.get(id=session.id)).secret) == keyring.key_id(b)


async def test_a_csrf_token_with_letters_outside_ascii_is_refused_not_an_error(ring, password_hash):
    """The dashboard compares its CSRF token as bytes: a str with non-ASCII made compare_digest raise
    TypeError, a 500 instead of the 403 of any wrong token."""
    company = await make_company(password_hash, courses=False)
    form = {"report": "training-effect", "format": "csv", "from": "2026-09-01", "to": "2026-11-30"}
    async with served(ring(key("a"))) as server:
        signed_in = await server.post(
            "/admin/login", data={"tenant": company.code, "employee_no": "HR1", "password": TEST_PASSWORD}
        )
        assert signed_in.status_code == 303, signed_in.text
        for token in ("é" * 64, "０" * 64, "ä"):
            refused = await server.post("/admin/export", data={**form, "csrf": token})
            assert refused.status_code == 403, (token, refused.status_code)


@pytest.mark.sqlite_only  # the SQLite branch of migration 0020
async def test_migration_0020_refuses_a_table_definition_it_cannot_change(database_url):
    """SQLite: the column is widened by editing the stored CREATE TABLE text; a replace() that finds
    nothing to change must stop the migration, not let it be recorded as done."""
    from types import SimpleNamespace

    from tortoise import connections

    migration = importlib.import_module("backend.migrations.0020_wrapped_session_secrets")
    client = connections.get("default")
    table = "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'training_session'"
    before = (await client.execute_query(table))[1][0][0]
    assert before.count('"secret" VARCHAR(128) NOT NULL') == 1  # migrated already
    editor = SimpleNamespace(client=client, DIALECT="sqlite")
    with pytest.raises(RuntimeError, match=r"0020: expected exactly one .*VARCHAR\(64\).* found 0"):
        await migration.WidenSecret._alter(editor, 64, 128)  # what it expects is not there
    assert (await client.execute_query(table))[1][0][0] == before
    await migration.WidenSecret._alter(editor, 128, 128)  # exactly one: goes through


@pytest.mark.postgres_only
async def test_the_benchmarks_minimal_server_accepts_a_token_of_a_previous_key(ring, password_hash, database_url):
    """bench/minimal_server.py checks access tokens with the server's own verification (the key
    ring), not with XUEFEN_SECRET_KEY alone: a phone's token from before the rotation still reads."""
    import asyncpg

    from bench.minimal_server import Refused, _viewer

    a, b = key("a"), key("b")
    company = await make_company(password_hash, courses=False)
    async with served(ring(a)) as server:
        token = (await login(server, company.code, "LRN", device_id="bench-phone"))["tokens"]["accessToken"]
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    try:
        viewer = await _viewer(pool, ring(b, a), f"Bearer {token}")
        assert (viewer.tenant_id, viewer.employee_id) == (company.tenant.id, company.employees["LRN"].id)
        with pytest.raises(Refused):
            await _viewer(pool, ring(b), f"Bearer {token}")  # A has left the ring
    finally:
        await pool.close()
