"""The generic signed webhook: a company's own systems (an HR portal, a ticketing system) get each
notification as a JSON POST.

Settings: ``url``; ``secret`` (secret, at least 32 characters); ``previousSecret`` (secret,
optional: while a secret is being rotated each request is signed with both, so the receiver can
switch at its own pace); ``replayWindowSeconds`` (default 300: how old a request the receiver
should still accept; the admin screen shows it beside the receiver snippet).

Each request carries ``X-Xuefen-Delivery`` (the delivery id: the same on every retry, what the
receiver dedupes by), ``X-Xuefen-Timestamp`` (Unix seconds, new on every attempt) and
``X-Xuefen-Signature: v1=<hex HMAC-SHA256(secret, f"{timestamp}." + body)>`` (one ``v1=`` per
secret, comma separated). ``verify_webhook`` is the receiver's check, written as a receiver would
write it; docs/notification-channels.md shows it.

2xx is sent; 408, 425, 429 (with ``Retry-After``) and 5xx, timeouts and refused connections are
retried; any other 4xx or a redirect is permanent.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Any

from backend.models import DeliveryChannel
from backend.services.notifications.channels.base import OutboundMessage, Recipient, Transport
from backend.services.notifications.channels.common import (
    SettingsReader,
    failure_for_status,
    invalid,
    iso,
    json_body,
    post,
)

MIN_SECRET = 32
DEFAULT_WINDOW = 300
DELIVERY_HEADER = "X-Xuefen-Delivery"
TIMESTAMP_HEADER = "X-Xuefen-Timestamp"
SIGNATURE_HEADER = "X-Xuefen-Signature"


def signature(secret: str, timestamp: int | str, body: bytes) -> str:
    """hex HMAC-SHA256 keyed with the secret over ``b"<timestamp>." + body``."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify_webhook(
    secret: str, headers: Mapping[str, str], body: bytes, now: float, window_seconds: int = DEFAULT_WINDOW
) -> bool:
    """A receiver's check of one request: the timestamp within ``window_seconds`` of ``now`` in
    either direction (a replay later, or a clock far ahead), and one of the ``v1=`` signatures equal,
    compared in constant time, to the HMAC of the raw body bytes as received."""
    lowered = {key.lower(): value for key, value in headers.items()}
    timestamp = lowered.get(TIMESTAMP_HEADER.lower(), "").strip()
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return False
    if abs(now - int(timestamp)) > window_seconds:
        return False
    expected = signature(secret, timestamp, body)
    matched = False
    for part in lowered.get(SIGNATURE_HEADER.lower(), "").split(","):
        scheme, _, value = part.strip().partition("=")
        if scheme == "v1" and hmac.compare_digest(value.encode(), expected.encode()):
            matched = True
    return matched


def payload(message: OutboundMessage) -> dict[str, Any]:
    """The JSON a receiver gets (camelCase, like the API)."""
    return {
        "id": str(message.delivery_id),
        "tenant": message.tenant_code,
        "kind": message.kind,
        "title": message.title,
        "body": message.body,
        "locale": message.locale,
        "recipient": {"employeeNo": message.recipient.employee_no, "name": message.recipient.name},
        "subjectId": message.subject_id,
        "createdAt": iso(message.created_at),
        "params": message.params,
    }


def signed_headers(settings: dict[str, Any], delivery_id: int, body: bytes, now: float) -> dict[str, str]:
    timestamp = int(now)
    secrets = [settings["secret"]]
    if settings.get("previousSecret"):
        secrets.append(settings["previousSecret"])
    return {
        "Content-Type": "application/json; charset=utf-8",
        DELIVERY_HEADER: str(delivery_id),
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: ",".join(f"v1={signature(secret, timestamp, body)}" for secret in secrets),
        "User-Agent": "Xuefen-Webhook/1",
    }


class WebhookChannel:
    channel = DeliveryChannel.WEBHOOK

    def check_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        read = SettingsReader(settings, ("url", "secret", "previousSecret", "replayWindowSeconds"))
        checked: dict[str, Any] = {
            "url": read.url("url"),
            "secret": read.secret("secret", min_length=MIN_SECRET),
            "replayWindowSeconds": read.integer("replayWindowSeconds", low=30, high=3600, default=DEFAULT_WINDOW),
        }
        previous = read.secret("previousSecret", required=False, min_length=MIN_SECRET)
        if previous:
            if previous == checked["secret"]:
                raise invalid("previousSecret", "reason.duplicates")
            checked["previousSecret"] = previous
        return checked

    def secret_fields(self) -> tuple[str, ...]:
        return ("secret", "previousSecret")

    def secret_destinations(self) -> dict[str, tuple[str, ...]]:
        return {}  # the secrets only sign (HMAC): a receiver never sees them

    def addressable(self, recipient: Recipient, settings: dict[str, Any]) -> bool:
        return True  # the company's system decides what to do with each person's notification

    async def send(self, message: OutboundMessage, settings: dict[str, Any], transport: Transport) -> None:
        body = json_body(payload(message))
        headers = signed_headers(settings, message.delivery_id, body, time.time())
        response = await post(transport, settings["url"], "the webhook receiver", content=body, headers=headers)
        failed = failure_for_status(response, "the webhook receiver")
        if failed is not None:
            raise failed
