"""The one small interface every outbound channel implements.

A channel turns an ``OutboundMessage`` (already rendered in the recipient's language) into a
request to the outside world with the company's ``settings`` for that channel. It knows nothing of
the database: the outbox (notifications.outbox) claims, calls ``send`` and records the result.
A failure is ``DeliveryFailed``: ``permanent`` when retrying cannot help (a refused address, a
rejected signature), else the outbox retries with exponential backoff.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import httpx

from backend.models import DeliveryChannel


@dataclass(frozen=True)
class Recipient:
    """Who a message is for, as far as channels need to know."""

    employee_id: int
    employee_no: str
    name: str
    email: str | None = None
    phone: str | None = None  # robots @-mention by mobile number
    push_tokens: tuple[tuple[str, str], ...] = ()  # (platform FCM | APNS, token)


@dataclass(frozen=True)
class OutboundMessage:
    """One notification on one channel. ``delivery_id`` is stable across retries: it is the
    idempotency key a receiver dedupes by (webhook header, e-mail Message-ID, push collapse id)."""

    delivery_id: int
    tenant_code: str
    kind: str
    title: str
    body: str
    locale: str
    recipient: Recipient
    created_at: datetime
    subject_id: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Sent:
    """What a channel may say of a message it delivered: push names the tokens the service
    reported as gone on the way (another device of the person got it), for the outbox to drop."""

    stale_tokens: tuple[tuple[str, str], ...] = ()


class DeliveryFailed(Exception):
    """Sending failed. ``reason`` is shown to HR on a dead letter: no secret, no personal data."""

    def __init__(self, reason: str, *, permanent: bool = False, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason[:500]
        self.permanent = permanent
        self.retry_after = retry_after


@dataclass
class Transport:
    """What channels send with, shared by the worker across messages: one HTTP client (connection
    reuse), the request timeout, and whether private and loopback addresses may be called
    (tests and on-premise receivers; refused by default so a webhook URL cannot reach inside)."""

    http: httpx.AsyncClient
    timeout_seconds: float = 10.0
    allow_private_hosts: bool = False


class Channel(Protocol):
    """One outbound channel. Listed in ``channels.registry.CHANNELS``."""

    channel: DeliveryChannel

    def check_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        """HR's settings for this channel, checked and normalised (raise ``DomainError``
        VALIDATION naming the field). No network."""
        ...

    def secret_fields(self) -> tuple[str, ...]:
        """Settings never shown back (passwords, signing secrets, credentials)."""
        ...

    def secret_destinations(self) -> dict[str, tuple[str, ...]]:
        """For each secret the server hands to a receiver (a login, a token got with it), the
        settings that say where it goes. A change that leaves the secret out keeps it only while
        these stay as they are: pointing the SMTP host elsewhere must not send the stored password
        there. Secrets that only sign (an HMAC) are not listed: a receiver never sees them."""
        ...

    def addressable(self, recipient: Recipient, settings: dict[str, Any]) -> bool:
        """Whether this recipient can be reached on this channel at all (an e-mail address, a
        push token). An unreachable recipient's delivery is SKIPPED, not retried."""
        ...

    async def send(self, message: OutboundMessage, settings: dict[str, Any], transport: Transport) -> Sent | None:
        """Deliver, or raise ``DeliveryFailed``."""
        ...
