"""Real receivers for notification tests: a webhook endpoint (uvicorn on 127.0.0.1, in the test's
event loop) that records every request and fails on purpose when told to, and an SMTP server
(aiosmtpd) that keeps what it is sent. Plus the small helpers the delivery tests share."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import uvicorn
from aiosmtpd.controller import Controller
from tortoise.transactions import in_transaction

from backend.models import DeliveryChannel, NotificationChannelConfig, NotificationKind
from backend.services.feed import ChangeSet
from backend.services.notifications import outbox
from backend.services.notifications.channels.base import Transport
from backend.services.notifications.channels.registry import CHANNELS
from backend.services.notifications.notices import Notice
from tests.servers import free_port

SECRET = "webhook-secret-for-tests-0123456789abcdef"

# HR's dead letters and retry, through the API.
DEAD_LETTERS = """
query D($first: Int!) {
  notificationDeadLetters(first: $first) {
    totalCount
    edges { node { id channel status attempts lastError kind recipient { employeeNo name } } }
  }
}
"""
RETRY_DELIVERY = """
mutation R($id: ID!) {
  retryNotificationDelivery(id: $id) { delivery { id status attempts } errors { code } }
}
"""


@dataclass
class Received:
    delivery_id: int
    headers: dict[str, str]
    body: bytes
    at: float  # time.time() on arrival
    path: str = "/"


# (status, headers, seconds to wait before answering) for the n-th request (0-based); a "json"
# entry among the headers is the answer's JSON body instead of "ok".
Answer = Callable[[int], tuple[int, dict[str, Any], float]]


def ok(_: int) -> tuple[int, dict[str, Any], float]:
    return 200, {}, 0.0


@dataclass
class WebhookReceiver:
    """Records each POST; ``answer`` decides what it says back (and how late)."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    answer: Answer = ok
    # When set, each request is recorded on arrival and answered only once the gate opens.
    gate: asyncio.Event | None = None

    def ids(self) -> list[int]:
        return [request.delivery_id for request in self.requests]

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {key.decode().lower(): value.decode() for key, value in scope["headers"]}
        index = len(self.requests)
        self.requests.append(
            Received(int(headers.get("x-xuefen-delivery", "0")), headers, body, time.time(), scope["path"])
        )
        if self.gate is not None:
            await self.gate.wait()
        status, extra, delay = self.answer(index)
        if delay:
            await asyncio.sleep(delay)
        reply = orjson.dumps(extra.pop("json")) if "json" in extra else b"ok"
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"text/plain"), *((k.encode(), v.encode()) for k, v in extra.items())],
            }
        )
        await send({"type": "http.response.body", "body": reply})


@asynccontextmanager
async def webhook_receiver() -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            receiver.app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
            interface="asgi3",
            timeout_graceful_shutdown=1,
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    receiver.url = f"http://127.0.0.1:{port}/hook"
    try:
        yield receiver
    finally:
        server.should_exit = True
        await task


class Mailbox:
    """aiosmtpd's handler: keeps (envelope recipients, message bytes), and every address a RCPT TO
    asked for (``asked``); ``refuse`` may answer one with a reply of its own ("451 …", "550 …")
    instead of taking it."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []
        self.asked: list[str] = []
        self.refuse: Callable[[str], str | None] = lambda _: None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        self.asked.append(address)
        refusal = self.refuse(address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 OK"


@asynccontextmanager
async def smtp_server() -> AsyncIterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    await asyncio.to_thread(controller.start)
    try:
        yield mailbox, port
    finally:
        await asyncio.to_thread(controller.stop)


async def configure(tenant_id: int, channel: DeliveryChannel, settings: dict[str, Any], enabled: bool = True) -> None:
    """A company's channel, with settings checked as HR's form checks them."""
    checked = CHANNELS[channel].check_settings(settings)
    await NotificationChannelConfig.create(tenant_id=tenant_id, channel=channel, enabled=enabled, settings=checked)


async def webhook(tenant_id: int, url: str, enabled: bool = True) -> None:
    await configure(tenant_id, DeliveryChannel.WEBHOOK, {"url": url, "secret": SECRET}, enabled)


async def email(tenant_id: int, port: int) -> None:
    await configure(
        tenant_id,
        DeliveryChannel.EMAIL,
        {
            "host": "127.0.0.1",
            "port": port,
            "security": "none",
            "fromAddress": "xuefen@example.com",
            "fromName": "学分",
        },
    )


async def tell(tenant_id: int, now: datetime, *notices: Notice) -> None:
    """Write notices as a fact's transaction does: through its ChangeSet, published last."""
    async with in_transaction() as connection:
        changes = ChangeSet(tenant_id)
        changes.notify(*notices)
        await changes.publish(connection, now)


def cancelled(recipient_id: int, key: str, expires_at: datetime | None = None) -> Notice:
    return Notice(
        NotificationKind.SESSION_CANCELLED,
        recipient_id,
        f"test:{key}",
        {
            "session": "客户沟通实训",
            "course": "客户沟通",
            "startsAt": "2026-03-12T02:00:00+00:00",
            "location": "三楼",
            "reason": "讲师出差",
        },
        expires_at=expires_at,
    )


async def dispatch_all(now: datetime) -> int:
    """Fan out every notification waiting (other tests' too: dispatch takes the oldest 500 first)."""
    dispatched = 0
    while found := await outbox.dispatch(now):
        dispatched += found
    return dispatched


async def drain(transport: Transport, now: datetime, settings: Any) -> None:
    """Everything a worker would do at ``now``: fan out, then deliver whatever is due."""
    while await outbox.dispatch(now):
        pass
    while await outbox.deliver(transport, now, settings=settings):
        pass
