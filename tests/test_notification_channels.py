"""The outbound channels against real local receivers: an SMTP server (aiosmtpd) and an HTTP server
(uvicorn in a thread) on 127.0.0.1 that records every request and answers as each platform does,
or fails on purpose. Signatures are recomputed here independently, as a receiver written in another
language would, and compared with what the receiver got. No database."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote_plus

import jwt
import pytest
import uvicorn
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from backend.errors import DomainError, ErrorCode
from backend.models import DeliveryChannel
from backend.services.notifications.channels import addresses, push
from backend.services.notifications.channels.base import DeliveryFailed, OutboundMessage, Recipient, Transport
from backend.services.notifications.channels.registry import CHANNELS
from backend.services.notifications.channels.webhook import signed_headers, verify_webhook

SECRET = "whsec-" + "0123456789abcdef" * 3  # ≥ 32 characters


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the HTTP receiver ------------------------------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    http_version: str

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Records requests; answers by path as the platforms do, unless told to fail next."""

    base: str = ""
    seen: list[Seen] = field(default_factory=list)
    planned: dict[str, list[tuple[int, Any, dict[str, str]]]] = field(default_factory=dict)
    fcm_public_key: Any = None
    apns_public_key: Any = None
    apns_key_id: str = ""
    apns_team_id: str = ""
    issued: list[str] = field(default_factory=list)
    unregistered: set[str] = field(default_factory=set)

    def answer_next(self, prefix: str, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        self.planned.setdefault(prefix, []).append((status, body, headers or {}))

    def reset(self) -> None:
        self.seen.clear()
        self.planned.clear()

    def on(self, prefix: str) -> list[Seen]:
        return [seen for seen in self.seen if seen.path.startswith(prefix)]

    def answer(self, seen: Seen) -> tuple[int, Any, dict[str, str]]:
        for prefix, plan in self.planned.items():
            if seen.path.startswith(prefix) and plan:
                return plan.pop(0)
        if seen.path == "/token":
            return self.token_endpoint(seen)
        if seen.path.startswith("/v1/projects/"):
            return self.fcm_endpoint(seen)
        if seen.path.startswith("/3/device/"):
            return self.apns_endpoint(seen)
        if seen.path.startswith("/feishu"):
            return 200, {"code": 0, "msg": "success", "data": {}}, {}
        if seen.path.startswith(("/wecom", "/dingtalk")):
            return 200, {"errcode": 0, "errmsg": "ok"}, {}
        return 200, "ok", {}

    def token_endpoint(self, seen: Seen) -> tuple[int, Any, dict[str, str]]:
        form = {key: values[0] for key, values in parse_qs(seen.body.decode()).items()}
        try:
            claims = jwt.decode(
                form.get("assertion", ""), self.fcm_public_key, algorithms=["RS256"], audience=f"{self.base}/token"
            )
        except jwt.PyJWTError:
            return 400, {"error": "invalid_grant"}, {}
        if form.get(
            "grant_type"
        ) != "urn:ietf:params:oauth:grant-type:jwt-bearer" or "firebase.messaging" not in claims.get("scope", ""):
            return 400, {"error": "invalid_request"}, {}
        token = f"access-{len(self.issued)}"
        self.issued.append(token)
        return 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}, {}

    def fcm_endpoint(self, seen: Seen) -> tuple[int, Any, dict[str, str]]:
        if seen.headers.get("authorization", "").removeprefix("Bearer ") not in self.issued:
            return 401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}}, {}
        token = seen.json()["message"]["token"]
        if token in self.unregistered:
            details = [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "UNREGISTERED"}]
            return 404, {"error": {"code": 404, "status": "NOT_FOUND", "details": details}}, {}
        return 200, {"name": f"projects/p/messages/{uuid.uuid4()}"}, {}

    def apns_endpoint(self, seen: Seen) -> tuple[int, Any, dict[str, str]]:
        bearer = seen.headers.get("authorization", "").removeprefix("bearer ")
        try:
            header = jwt.get_unverified_header(bearer)
            claims = jwt.decode(bearer, self.apns_public_key, algorithms=["ES256"])
        except jwt.PyJWTError:
            return 403, {"reason": "InvalidProviderToken"}, {}
        if header.get("kid") != self.apns_key_id or claims.get("iss") != self.apns_team_id:
            return 403, {"reason": "InvalidProviderToken"}, {}
        if seen.headers.get("apns-topic") != "com.example.xuefen" or seen.headers.get("apns-push-type") != "alert":
            return 400, {"reason": "BadTopic"}, {}
        token = seen.path.removeprefix("/3/device/")
        if token in self.unregistered:
            return 410, {"reason": "Unregistered", "timestamp": int(time.time() * 1000)}, {}
        return 200, b"", {"apns-id": seen.headers.get("apns-id", "")}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            event = await receive()
            body += event.get("body", b"")
            if not event.get("more_body"):
                break
        seen = Seen(
            method=scope["method"],
            path=scope["path"],
            query=scope["query_string"].decode(),
            headers={key.decode().lower(): value.decode() for key, value in scope["headers"]},
            body=body,
            http_version=scope["http_version"],
        )
        self.seen.append(seen)
        status, content, headers = self.answer(seen)
        if isinstance(content, bytes):
            raw, kind = content, b"text/plain"
        elif isinstance(content, str):
            raw, kind = content.encode(), b"text/plain"
        else:
            raw, kind = json.dumps(content).encode(), b"application/json"
        extra = [(key.lower().encode(), value.encode()) for key, value in headers.items()]
        if status in (301, 302):
            extra.append((b"location", f"{self.base}/elsewhere".encode()))
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", kind), *extra]})
        await send({"type": "http.response.body", "body": raw})


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    app = Receiver()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    app.base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "receiver did not start"
        time.sleep(0.01)
    yield app
    server.should_exit = True
    thread.join(5)
    sock.close()


@pytest.fixture
def hooks(receiver: Receiver) -> Receiver:
    receiver.reset()
    return receiver


@pytest.fixture
async def local() -> Any:
    """A transport that may call 127.0.0.1 (as tests and on-premise receivers do)."""
    async with addresses.outbound_client(allow_private_hosts=True, timeout_seconds=5) as http:
        yield Transport(http=http, timeout_seconds=5, allow_private_hosts=True)


@pytest.fixture
async def strict() -> Any:
    """The production transport: private and loopback addresses refused."""
    async with addresses.outbound_client(allow_private_hosts=False, timeout_seconds=5) as http:
        yield Transport(http=http, timeout_seconds=5, allow_private_hosts=False)


def message(recipient: Recipient | None = None, delivery_id: int = 4201, locale: str = "zh-CN") -> OutboundMessage:
    return OutboundMessage(
        delivery_id=delivery_id,
        tenant_code="acme-cn",
        kind="ENROLLMENT_APPROVED",
        title="报名已通过",
        body="您报名的「叉车安全操作」已通过审批，2025-03-04 09:00 在 二号仓库 开始。\n请准时签到。",
        locale=locale,
        recipient=recipient
        or Recipient(employee_id=7, employee_no="E007", name="张三", email="zhangsan@example.cn", phone="13800138000"),
        created_at=datetime(2025, 3, 3, 8, 0, tzinfo=UTC),
        subject_id="U2Vzc2lvbjox",
        params={"session": "叉车安全操作", "startsAt": "2025-03-04T09:00:00+08:00"},
    )


async def failure(coro: Any) -> DeliveryFailed:
    with pytest.raises(DeliveryFailed) as caught:
        await coro
    return caught.value


# --- e-mail -----------------------------------------------------------------------------------


class MailHandler:
    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.startswith("refused@"):
            return "550 5.1.1 no such user"
        if address.startswith("later@"):
            return "451 4.7.1 greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted"


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[Controller, MailHandler]]:
    handler = MailHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, handler
    controller.stop()


def mail_settings(port: int, **more: Any) -> dict[str, Any]:
    settings = {"host": "127.0.0.1", "port": port, "security": "none", "fromAddress": "training@acme.cn"}
    settings["fromName"] = "学分培训"
    return CHANNELS[DeliveryChannel.EMAIL].check_settings({**settings, **more})


async def test_email_arrives_in_chinese_with_a_stable_message_id(smtp: Any, local: Transport) -> None:
    controller, handler = smtp
    handler.envelopes.clear()
    channel = CHANNELS[DeliveryChannel.EMAIL]
    settings = mail_settings(controller.port)
    await channel.send(message(), settings, local)
    await channel.send(message(), settings, local)  # a retry after a lost answer

    assert len(handler.envelopes) == 2
    first, again = handler.envelopes
    assert first.mail_from == "training@acme.cn" and first.rcpt_tos == ["zhangsan@example.cn"]
    raw = first.original_content
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii() and b"=?utf-8?" in head.lower()  # RFC 2047 encoded words, not raw UTF-8
    mail = message_from_bytes(raw, policy=default_policy)
    assert mail["Subject"] == "报名已通过"
    assert mail["From"].addresses[0].display_name == "学分培训"
    assert mail["To"].addresses[0].display_name == "张三"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["Message-ID"] == "<xuefen.acme-cn.4201@acme.cn>"
    assert message_from_bytes(again.original_content, policy=default_policy)["Message-ID"] == mail["Message-ID"]
    plain = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    assert "「叉车安全操作」已通过审批" in plain.get_content()
    assert "<h2" in html.get_content() and "报名已通过" in html.get_content()
    # Another delivery is another message.
    await channel.send(message(delivery_id=4202), settings, local)
    third = message_from_bytes(handler.envelopes[-1].original_content, policy=default_policy)
    assert third["Message-ID"] == "<xuefen.acme-cn.4202@acme.cn>"
    assert channel.addressable(message().recipient, settings)
    assert not channel.addressable(Recipient(employee_id=8, employee_no="E008", name="李四"), settings)


async def test_smtp_refusals_are_permanent_and_outages_retried(smtp: Any, local: Transport) -> None:
    controller, _ = smtp
    channel = CHANNELS[DeliveryChannel.EMAIL]
    settings = mail_settings(controller.port)

    def to(address: str) -> OutboundMessage:
        return message(Recipient(employee_id=9, employee_no="E009", name="王五", email=address))

    refused = await failure(channel.send(to("refused@example.cn"), settings, local))
    assert refused.permanent and "550" in refused.reason and "refused@" not in refused.reason
    greylisted = await failure(channel.send(to("later@example.cn"), settings, local))
    assert not greylisted.permanent and "451" in greylisted.reason

    down = await failure(channel.send(message(), mail_settings(free_port()), local))
    assert not down.permanent

    # STARTTLS asked of a server that cannot: refused, never sent in clear.
    no_tls = await failure(channel.send(message(), mail_settings(controller.port, security="starttls"), local))
    assert no_tls.permanent


async def test_smtp_in_clear_or_to_the_own_network_needs_private_hosts(smtp: Any, strict: Transport) -> None:
    controller, handler = smtp
    handler.envelopes.clear()
    channel = CHANNELS[DeliveryChannel.EMAIL]
    clear = await failure(channel.send(message(), mail_settings(controller.port), strict))
    assert clear.permanent
    loopback = await failure(
        channel.send(message(), mail_settings(controller.port, host="localhost", security="tls"), strict)
    )
    assert loopback.permanent and "private" in loopback.reason
    assert handler.envelopes == []


# --- the generic webhook ------------------------------------------------------------------------


def receiver_check(secret: str, headers: dict[str, str], body: bytes, now: float, window: int = 300) -> bool:
    """The receiver's check written from the documentation alone, as in any other language."""
    timestamp = headers["x-xuefen-timestamp"]
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    offered = [part.strip()[3:] for part in headers["x-xuefen-signature"].split(",") if part.strip().startswith("v1=")]
    fresh = abs(now - int(timestamp)) <= window
    return fresh and any(hmac.compare_digest(mac, value) for value in offered)


def webhook_settings(receiver: Receiver, **more: Any) -> dict[str, Any]:
    return CHANNELS[DeliveryChannel.WEBHOOK].check_settings({"url": f"{receiver.base}/hook", "secret": SECRET, **more})


async def test_webhook_is_signed_as_documented(hooks: Receiver, local: Transport) -> None:
    channel = CHANNELS[DeliveryChannel.WEBHOOK]
    await channel.send(message(), webhook_settings(hooks), local)
    [seen] = hooks.on("/hook")
    now = time.time()
    assert seen.method == "POST" and seen.headers["x-xuefen-delivery"] == "4201"
    assert abs(int(seen.headers["x-xuefen-timestamp"]) - now) < 5
    assert verify_webhook(SECRET, seen.headers, seen.body, now)
    assert receiver_check(SECRET, seen.headers, seen.body, now)
    body = seen.json()
    assert body == {
        "id": "4201",
        "tenant": "acme-cn",
        "kind": "ENROLLMENT_APPROVED",
        "title": "报名已通过",
        "body": message().body,
        "locale": "zh-CN",
        "recipient": {"employeeNo": "E007", "name": "张三"},
        "subjectId": "U2Vzc2lvbjox",
        "createdAt": "2025-03-03T08:00:00+00:00",
        "params": {"session": "叉车安全操作", "startsAt": "2025-03-04T09:00:00+08:00"},
    }

    # What a receiver must refuse, by both implementations.
    stamp = int(seen.headers["x-xuefen-timestamp"])
    tampered = seen.body.replace("张三".encode(), "李四".encode())
    for secret, body_bytes, at in (
        (SECRET, tampered, now),  # body changed on the way
        (SECRET, seen.body, stamp + 301),  # replayed six minutes later
        (SECRET, seen.body, stamp - 301),  # a timestamp from the future
        ("another-secret-" + "x" * 32, seen.body, now),  # not signed by us
    ):
        assert not verify_webhook(secret, seen.headers, body_bytes, at)
        assert not receiver_check(secret, seen.headers, body_bytes, at)
    assert verify_webhook(SECRET, seen.headers, seen.body, stamp + 300)
    assert verify_webhook(SECRET, seen.headers, seen.body, stamp + 500, window_seconds=600)
    # Headers as another framework spells them; a garbled timestamp.
    upper = {key.upper(): value for key, value in seen.headers.items()}
    assert verify_webhook(SECRET, upper, seen.body, now)
    assert not verify_webhook(SECRET, {**seen.headers, "x-xuefen-timestamp": "1e9"}, seen.body, now)


async def test_webhook_secret_rotation_signs_with_both(hooks: Receiver, local: Transport) -> None:
    old = "old-secret-" + "y" * 32
    settings = webhook_settings(hooks, previousSecret=old)
    await CHANNELS[DeliveryChannel.WEBHOOK].send(message(), settings, local)
    [seen] = hooks.on("/hook")
    assert seen.headers["x-xuefen-signature"].count("v1=") == 2
    now = time.time()
    for secret in (SECRET, old):
        assert verify_webhook(secret, seen.headers, seen.body, now)
        assert receiver_check(secret, seen.headers, seen.body, now)


async def test_webhook_answers_decide_retry_or_not(hooks: Receiver, local: Transport) -> None:
    channel = CHANNELS[DeliveryChannel.WEBHOOK]
    settings = webhook_settings(hooks)
    hooks.answer_next("/hook", 500, "boom")
    assert not (await failure(channel.send(message(), settings, local))).permanent
    hooks.answer_next("/hook", 429, "slow down", {"Retry-After": "7"})
    limited = await failure(channel.send(message(), settings, local))
    assert not limited.permanent and limited.retry_after == 7
    hooks.answer_next("/hook", 408, "timeout")
    assert not (await failure(channel.send(message(), settings, local))).permanent
    hooks.answer_next("/hook", 400, "bad")
    assert (await failure(channel.send(message(), settings, local))).permanent
    hooks.answer_next("/hook", 410, "gone")
    assert (await failure(channel.send(message(), settings, local))).permanent
    hooks.answer_next("/hook", 302, "moved")
    moved = await failure(channel.send(message(), settings, local))
    assert moved.permanent and "redirect" in moved.reason
    assert hooks.on("/elsewhere") == []  # the redirect was not followed
    await channel.send(message(), settings, local)  # and then it works
    dead = {**settings, "url": f"http://127.0.0.1:{free_port()}/hook"}
    down = await failure(channel.send(message(), dead, local))
    assert not down.permanent and "127.0.0.1" not in down.reason


# --- group robots -------------------------------------------------------------------------------


async def test_dingtalk_signature_and_mention(hooks: Receiver, local: Transport) -> None:
    channel = CHANNELS[DeliveryChannel.DINGTALK]
    secret = "SEC" + "d1ngta1k" * 8
    settings = channel.check_settings({"url": f"{hooks.base}/dingtalk/robot/send?access_token=abc", "secret": secret})
    await channel.send(message(), settings, local)
    [seen] = hooks.on("/dingtalk")
    query = {key: values[0] for key, values in parse_qs(seen.query).items()}
    assert query["access_token"] == "abc"
    timestamp = query["timestamp"]
    assert abs(int(timestamp) - time.time() * 1000) < 5000  # milliseconds
    expected = base64.b64encode(
        hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    ).decode()
    assert query["sign"] == expected
    raw = dict(part.split("=", 1) for part in seen.query.split("&"))
    assert raw["sign"] == quote_plus(expected) and not set("+/=") & set(raw["sign"])  # URL-encoded
    body = seen.json()
    assert body["msgtype"] == "markdown"
    assert body["at"] == {"atMobiles": ["13800138000"], "isAtAll": False}
    assert "@13800138000" in body["markdown"]["text"] and "张三（E007）" in body["markdown"]["text"]
    assert channel.addressable(Recipient(employee_id=1, employee_no="E1", name="无邮箱"), settings)


async def test_feishu_signature(hooks: Receiver, local: Transport) -> None:
    channel = CHANNELS[DeliveryChannel.FEISHU]
    secret = "fe1shu-secret-value"
    settings = channel.check_settings({"url": f"{hooks.base}/feishu/open-apis/bot/v2/hook/x", "secret": secret})
    await channel.send(message(), settings, local)
    [seen] = hooks.on("/feishu")
    body = seen.json()
    timestamp = body["timestamp"]
    assert abs(int(timestamp) - time.time()) < 5  # seconds
    string_to_sign = f"{timestamp}\n{secret}"
    expected = base64.b64encode(hmac.new(string_to_sign.encode(), b"", hashlib.sha256).digest()).decode()
    assert body["sign"] == expected
    assert body["msg_type"] == "post"
    post = body["content"]["post"]["zh_cn"]
    assert post["title"] == "报名已通过"
    assert any("张三（E007）" in part["text"] for line in post["content"] for part in line)
    # Unsigned robots carry no signature; the text form.
    plain = channel.check_settings({"url": f"{hooks.base}/feishu/plain", "format": "text"})
    await channel.send(message(locale="en"), plain, local)
    body = hooks.on("/feishu/plain")[0].json()
    assert "sign" not in body and body["msg_type"] == "text" and "For: 张三 (E007)" in body["content"]["text"]


async def test_wecom_mentions_by_mobile_in_text(hooks: Receiver, local: Transport) -> None:
    channel = CHANNELS[DeliveryChannel.WECOM]
    settings = channel.check_settings({"url": f"{hooks.base}/wecom/cgi-bin/webhook/send?key=k-1"})
    await channel.send(message(), settings, local)
    nobody = Recipient(employee_id=2, employee_no="E002", name="赵六")
    await channel.send(message(nobody), settings, local)
    mentioned, plain = (seen.json() for seen in hooks.on("/wecom"))
    assert mentioned["msgtype"] == "text" and mentioned["text"]["mentioned_mobile_list"] == ["13800138000"]
    assert "张三（E007）" in mentioned["text"]["content"]
    assert plain["msgtype"] == "markdown" and "赵六（E002）" in plain["markdown"]["content"]
    assert hooks.on("/wecom")[0].query == "key=k-1"


@pytest.mark.parametrize(
    ("channel", "path", "answer", "permanent", "retry_after"),
    [
        (DeliveryChannel.WECOM, "/wecom", {"errcode": 45009, "errmsg": "api freq out of limit"}, False, 60),
        (DeliveryChannel.WECOM, "/wecom", {"errcode": 93000, "errmsg": "invalid webhook url"}, True, None),
        (DeliveryChannel.WECOM, "/wecom", {"errcode": 40999, "errmsg": "something new"}, False, None),
        (DeliveryChannel.DINGTALK, "/dingtalk", {"errcode": 310000, "errmsg": "sign not match"}, True, None),
        (DeliveryChannel.DINGTALK, "/dingtalk", {"errcode": 130101, "errmsg": "send too fast"}, False, 600),
        (DeliveryChannel.FEISHU, "/feishu", {"code": 19021, "msg": "sign match fail"}, True, None),
        (DeliveryChannel.FEISHU, "/feishu", {"code": 19024, "msg": "Key Words Not Found"}, True, None),
        (DeliveryChannel.FEISHU, "/feishu", {"code": 11232, "msg": "frequency limited"}, False, 60),
    ],
)
async def test_robot_error_codes(
    hooks: Receiver,
    local: Transport,
    channel: DeliveryChannel,
    path: str,
    answer: dict[str, Any],
    permanent: bool,
    retry_after: float | None,
) -> None:
    robot = CHANNELS[channel]
    settings = robot.check_settings({"url": f"{hooks.base}{path}/send?key=secret-key"})
    hooks.answer_next(path, 200, answer)
    failed = await failure(robot.send(message(), settings, local))
    assert failed.permanent is permanent and failed.retry_after == retry_after
    code = answer.get("errcode", answer.get("code"))
    assert str(code) in failed.reason and "secret-key" not in failed.reason


async def test_robot_answers_without_a_code(hooks: Receiver, local: Transport) -> None:
    robot = CHANNELS[DeliveryChannel.FEISHU]
    settings = robot.check_settings({"url": f"{hooks.base}/feishu/legacy"})
    hooks.answer_next("/feishu", 200, {"StatusCode": 0, "StatusMessage": "success"})
    await robot.send(message(), settings, local)  # older Feishu robots answer this way
    hooks.answer_next("/feishu", 200, "<html>a proxy page</html>")
    assert not (await failure(robot.send(message(), settings, local))).permanent
    hooks.answer_next("/feishu", 404, "<html>not found</html>")
    assert (await failure(robot.send(message(), settings, local))).permanent
    hooks.answer_next("/feishu", 502, "<html>bad gateway</html>")
    assert not (await failure(robot.send(message(), settings, local))).permanent


# --- push ---------------------------------------------------------------------------------------


def pem(key: Any) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    return {
        "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ec": ec.generate_private_key(ec.SECP256R1()),
        "other_ec": ec.generate_private_key(ec.SECP256R1()),
    }


def push_settings(receiver: Receiver, keys: dict[str, Any], apns_key: Any = None) -> dict[str, Any]:
    receiver.fcm_public_key = keys["rsa"].public_key()
    receiver.apns_public_key = keys["ec"].public_key()
    receiver.apns_key_id, receiver.apns_team_id = "KEY1234567", "TEAM123456"
    account = {
        "type": "service_account",
        "client_email": "xuefen-push@acme-app.iam.gserviceaccount.com",
        "private_key": pem(keys["rsa"]),
        "private_key_id": "k-1",
        "token_uri": f"{receiver.base}/token",
    }
    return CHANNELS[DeliveryChannel.PUSH].check_settings(
        {
            "fcmProjectId": "acme-app",
            "fcmServiceAccount": json.dumps(account),
            "fcmApiBase": receiver.base,
            "apnsKeyId": "KEY1234567",
            "apnsTeamId": "TEAM123456",
            "apnsPrivateKey": pem(apns_key or keys["ec"]),
            "apnsBundleId": "com.example.xuefen",
            "apnsApiBase": receiver.base,
        }
    )


def with_tokens(*tokens: tuple[str, str]) -> OutboundMessage:
    return message(Recipient(employee_id=7, employee_no="E007", name="张三", push_tokens=tokens))


async def test_fcm_gets_an_access_token_once_and_sends(hooks: Receiver, local: Transport, keys: Any) -> None:
    push.forget_credentials()
    channel = CHANNELS[DeliveryChannel.PUSH]
    settings = push_settings(hooks, keys)
    await channel.send(with_tokens(("FCM", "fcm-token-1")), settings, local)
    await channel.send(with_tokens(("FCM", "fcm-token-1"), ("FCM", "fcm-token-2")), settings, local)
    [grant] = hooks.on("/token")  # the access token was kept for the later sends
    assertion = parse_qs(grant.body.decode())["assertion"][0]
    assert jwt.get_unverified_header(assertion)["kid"] == "k-1"
    claims = jwt.decode(assertion, keys["rsa"].public_key(), algorithms=["RS256"], audience=f"{hooks.base}/token")
    assert claims["iss"] == "xuefen-push@acme-app.iam.gserviceaccount.com" and claims["exp"] - claims["iat"] == 3600
    sends = hooks.on("/v1/projects/acme-app/messages:send")
    assert len(sends) == 3
    assert {seen.headers["authorization"] for seen in sends} == {"Bearer access-0"}
    sent = sends[0].json()["message"]
    assert sent["token"] == "fcm-token-1"
    assert sent["notification"] == {"title": "报名已通过", "body": message().body}
    assert sent["data"] == {
        "deliveryId": "4201",
        "kind": "ENROLLMENT_APPROVED",
        "tenant": "acme-cn",
        "subjectId": "U2Vzc2lvbjox",
    }
    assert all(isinstance(value, str) for value in sent["data"].values())


async def test_unregistered_tokens_are_reported(hooks: Receiver, local: Transport, keys: Any) -> None:
    push.forget_credentials()
    channel = CHANNELS[DeliveryChannel.PUSH]
    settings = push_settings(hooks, keys)
    hooks.unregistered = {"fcm-gone", "ab" * 32}
    try:
        gone = await failure(channel.send(with_tokens(("FCM", "fcm-gone"), ("APNS", "ab" * 32)), settings, local))
        assert gone.permanent
        assert set(getattr(gone, "stale_tokens", ())) == {("FCM", "fcm-gone"), ("APNS", "ab" * 32)}
        assert "fcm-gone" not in gone.reason
        # One device still registered: delivered.
        await channel.send(with_tokens(("FCM", "fcm-gone"), ("FCM", "fcm-live")), settings, local)
        # One gone, one failing for now: retried, and the gone one named.
        hooks.answer_next("/3/device/", 503, {"reason": "ServiceUnavailable"})
        mixed = await failure(channel.send(with_tokens(("FCM", "fcm-gone"), ("APNS", "cd" * 32)), settings, local))
        assert not mixed.permanent and getattr(mixed, "stale_tokens", ()) == (("FCM", "fcm-gone"),)
    finally:
        hooks.unregistered = set()


async def test_apns_provider_token_verified_by_the_receiver(hooks: Receiver, local: Transport, keys: Any) -> None:
    push.forget_credentials()
    channel = CHANNELS[DeliveryChannel.PUSH]
    settings = push_settings(hooks, keys)
    device = "0123456789abcdef" * 4
    await channel.send(with_tokens(("APNS", device)), settings, local)
    await channel.send(with_tokens(("APNS", device)), settings, local)  # a retry
    first, again = hooks.on(f"/3/device/{device}")
    assert first.headers["apns-collapse-id"] == "4201" and first.headers["apns-push-type"] == "alert"
    assert first.headers["apns-id"] == again.headers["apns-id"]  # the same notification, not a second one
    assert first.headers["authorization"] == again.headers["authorization"]  # the provider JWT was reused
    payload = first.json()
    assert payload["aps"]["alert"] == {"title": "报名已通过", "body": message().body}
    assert payload["deliveryId"] == "4201"
    assert first.http_version == "1.1"  # a plain http:// base; https negotiates HTTP/2 (ALPN)

    # A key Apple does not know: refused by the receiver, permanent, no token blamed.
    push.forget_credentials()
    wrong = push_settings(hooks, keys, apns_key=keys["other_ec"])
    refused = await failure(channel.send(with_tokens(("APNS", device)), wrong, local))
    assert refused.permanent and "InvalidProviderToken" in refused.reason
    assert getattr(refused, "stale_tokens", ()) == ()


async def test_push_addressable_only_with_tokens_of_an_enabled_platform(keys: Any, hooks: Receiver) -> None:
    channel = CHANNELS[DeliveryChannel.PUSH]
    both = push_settings(hooks, keys)
    fcm_only = {key: value for key, value in both.items() if key.startswith("fcm")}
    assert channel.check_settings(fcm_only) == fcm_only
    assert channel.addressable(with_tokens(("FCM", "t")).recipient, fcm_only)
    assert not channel.addressable(with_tokens(("APNS", "ab" * 32)).recipient, fcm_only)
    assert channel.addressable(with_tokens(("APNS", "ab" * 32)).recipient, both)
    assert not channel.addressable(message().recipient, both)


# --- where channels may send ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 of 169.254.169.254
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
    ],
)
def test_address_policy(address: str, allowed: bool) -> None:
    assert addresses.address_allowed(ipaddress.ip_address(address)) is allowed


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://10.0.0.8/hook",
        "https://[::1]:8443/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::ffff:10.0.0.1]/",
        "http://example.com/hook",  # not https
    ],
)
async def test_private_destinations_are_refused_before_any_request(url: str, strict: Transport) -> None:
    assert addresses.url_policy_problem(url, allow_private_hosts=False) is not None
    refused = await failure(addresses.check_destination(url, strict))
    assert refused.permanent
    assert addresses.url_policy_problem(url, allow_private_hosts=True) is None


async def test_a_name_resolving_to_loopback_is_refused(hooks: Receiver, strict: Transport) -> None:
    port = hooks.base.rsplit(":", 1)[1]
    refused = await failure(addresses.check_destination(f"https://localhost:{port}/hook", strict))
    assert refused.permanent and "private" in refused.reason
    channel = CHANNELS[DeliveryChannel.WEBHOOK]
    settings = channel.check_settings({"url": f"https://localhost:{port}/hook", "secret": SECRET})
    assert (await failure(channel.send(message(), settings, strict))).permanent
    # The connection itself is guarded too (a name checked, then re-resolved by the client to a
    # private address): the strict client refuses to connect whatever the URL says.
    with pytest.raises(addresses.AddressRefused):
        await strict.http.post(f"http://localhost:{port}/hook", content=b"{}")
    with pytest.raises(addresses.AddressRefused):
        await strict.http.post(f"{hooks.base}/hook", content=b"{}")
    assert hooks.seen == []


# --- settings -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "settings", "field"),
    [
        (DeliveryChannel.WEBHOOK, {"url": "https://hr.acme.cn/hook", "secret": "short"}, "settings.secret"),
        (DeliveryChannel.WEBHOOK, {"url": "https://hr.acme.cn/hook", "sercet": SECRET}, "settings.sercet"),
        (DeliveryChannel.WEBHOOK, {"url": "ftp://hr.acme.cn/hook", "secret": SECRET}, "settings.url"),
        (DeliveryChannel.WEBHOOK, {"url": "https://user:pw@hr.acme.cn/", "secret": SECRET}, "settings.url"),
        (DeliveryChannel.WEBHOOK, {"url": "https://hr.acme.cn:99999/", "secret": SECRET}, "settings.url"),
        (
            DeliveryChannel.WEBHOOK,
            {"url": "https://hr.acme.cn/", "secret": SECRET, "replayWindowSeconds": 5},
            "settings.replayWindowSeconds",
        ),
        (DeliveryChannel.WEBHOOK, {"secret": SECRET}, "settings.url"),
        (DeliveryChannel.EMAIL, {"host": "smtp.acme.cn", "fromAddress": "not-an-address"}, "settings.fromAddress"),
        (
            DeliveryChannel.EMAIL,
            {"host": "smtp.acme.cn", "fromAddress": "a@acme.cn", "security": "ssl"},
            "settings.security",
        ),
        (DeliveryChannel.EMAIL, {"host": "smtp.acme.cn", "fromAddress": "a@acme.cn", "port": 70000}, "settings.port"),
        (
            DeliveryChannel.EMAIL,
            {"host": "smtp.acme.cn", "fromAddress": "a@acme.cn", "username": "u"},
            "settings.password",
        ),
        (DeliveryChannel.EMAIL, {"host": "smtp acme", "fromAddress": "a@acme.cn"}, "settings.host"),
        (
            DeliveryChannel.DINGTALK,
            {"url": "https://oapi.dingtalk.com/robot/send", "mention": "yes"},
            "settings.mention",
        ),
        (DeliveryChannel.FEISHU, {"url": "https://open.feishu.cn/x", "format": "markdown"}, "settings.format"),
        (DeliveryChannel.WECOM, {"url": "https://qyapi.weixin.qq.com/x", "secret": "s"}, "settings.secret"),
        (DeliveryChannel.PUSH, {}, "settings.fcmProjectId"),
        (
            DeliveryChannel.PUSH,
            {"fcmProjectId": "acme-app", "fcmServiceAccount": "{not json"},
            "settings.fcmServiceAccount",
        ),
        # Text nested past the JSON reader's recursion limit, or far longer than any key file.
        (
            DeliveryChannel.PUSH,
            {"fcmProjectId": "acme-app", "fcmServiceAccount": "[" * 100_000},
            "settings.fcmServiceAccount",
        ),
        (
            DeliveryChannel.PUSH,
            {"fcmProjectId": "acme-app", "fcmServiceAccount": {"client_email": "a@b.c", "private_key": "nope"}},
            "settings.fcmServiceAccount",
        ),
        (
            DeliveryChannel.PUSH,
            {"apnsKeyId": "KEY1234567", "apnsTeamId": "TEAM123456", "apnsBundleId": "a.b", "apnsPrivateKey": "x"},
            "settings.apnsPrivateKey",
        ),
        (DeliveryChannel.PUSH, {"apnsKeyId": "short"}, "settings.apnsKeyId"),
    ],
)
def test_check_settings_refusals(channel: DeliveryChannel, settings: dict[str, Any], field: str) -> None:
    with pytest.raises(DomainError) as caught:
        CHANNELS[channel].check_settings(settings)
    assert caught.value.code is ErrorCode.VALIDATION and caught.value.field == field
    for locale in ("zh-CN", "en"):
        text = caught.value.message(locale)
        assert "{" not in text and "reason." not in text, text


def test_check_settings_normalises(keys: Any) -> None:
    email = CHANNELS[DeliveryChannel.EMAIL].check_settings(
        {"host": " smtp.acme.cn ", "fromAddress": "training@acme.cn", "username": "u", "password": "p"}
    )
    assert email == {
        "host": "smtp.acme.cn",
        "port": 587,
        "security": "starttls",
        "fromAddress": "training@acme.cn",
        "fromName": "",
        "username": "u",
        "password": "p",
    }
    hook = CHANNELS[DeliveryChannel.WEBHOOK].check_settings({"url": "https://hr.acme.cn/hook", "secret": SECRET})
    assert hook["replayWindowSeconds"] == 300
    apns_with_rsa = {"apnsKeyId": "KEY1234567", "apnsTeamId": "TEAM123456", "apnsBundleId": "a.b"}
    with pytest.raises(DomainError):
        CHANNELS[DeliveryChannel.PUSH].check_settings({**apns_with_rsa, "apnsPrivateKey": pem(keys["rsa"])})


def test_every_delivery_channel_has_a_channel() -> None:
    assert set(CHANNELS) == set(DeliveryChannel)
    for key, channel in CHANNELS.items():
        assert channel.channel is key
        assert channel.secret_fields()
        assert set(channel.secret_destinations()) <= set(channel.secret_fields())


def test_receiver_in_the_docs_matches_verify_webhook() -> None:
    """docs/notification-channels.md's receiver snippet, run on a request we sign."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "notification-channels.md").read_text(encoding="utf-8")
    snippet = text.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(compile(snippet, "notification-channels.md", "exec"), namespace)
    body = b'{"id":"1","title":"\xe6\x8a\xa5\xe5\x90\x8d"}'
    now = time.time()
    headers = signed_headers({"secret": SECRET}, 1, body, now)
    assert namespace["verify"](SECRET, headers, body, now)
    assert not namespace["verify"](SECRET, headers, body + b" ", now)
    assert not namespace["verify"](SECRET, headers, body, now + 301)


async def test_requests_never_wait_forever(local: Transport) -> None:
    """A receiver that accepts the connection and never answers is a retryable timeout."""
    server = await asyncio.start_server(lambda r, w: asyncio.sleep(0), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    quick = Transport(http=local.http, timeout_seconds=0.3, allow_private_hosts=True)
    settings = CHANNELS[DeliveryChannel.WEBHOOK].check_settings({"url": f"http://127.0.0.1:{port}/", "secret": SECRET})
    try:
        started = time.monotonic()
        slow = await failure(CHANNELS[DeliveryChannel.WEBHOOK].send(message(), settings, quick))
        assert not slow.permanent and time.monotonic() - started < 3
    finally:
        server.close()
        await server.wait_closed()
