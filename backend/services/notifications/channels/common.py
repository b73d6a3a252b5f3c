"""What the channels share: reading HR's settings (each refusal a ``DomainError`` VALIDATION naming
``settings.<key>``), one HTTP POST with the address check, and the reading of an HTTP answer into
sent / retry / permanent failure.

A failure's reason is shown to HR on a dead letter, so it never carries a URL (a robot's URL is
its secret), a token or a person's data: only what went wrong, a status and the platform's code.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from backend.errors import DomainError, ErrorCode
from backend.services.notifications.channels.addresses import AddressRefused, check_destination, url_shape
from backend.services.notifications.channels.base import DeliveryFailed, Transport

MAX_TEXT = 500
MAX_RETRY_AFTER = 24 * 3600.0


def field_name(key: str) -> str:
    return f"settings.{key}"


def invalid(key: str, reason_key: str, **params: Any) -> DomainError:
    return DomainError(ErrorCode.VALIDATION, field=field_name(key), reason_key=reason_key, name=key, **params)


class SettingsReader:
    """Reads one channel's settings: each value checked once, unknown keys refused (a typo such as
    ``sercet`` would otherwise leave a robot unsigned without anyone noticing)."""

    def __init__(self, settings: Any, known: tuple[str, ...]) -> None:
        if not isinstance(settings, Mapping):
            raise DomainError(ErrorCode.VALIDATION, field="settings", reason_key="reason.field", name="settings")
        unknown = sorted(str(key) for key in settings if key not in known)
        if unknown:
            raise invalid(unknown[0], "reason.unknown_setting")
        self.settings = settings

    def present(self, key: str) -> bool:
        value = self.settings.get(key)
        return value is not None and value != ""

    def text(
        self, key: str, *, required: bool = True, max_length: int = MAX_TEXT, default: str = "", lines: bool = False
    ) -> str:
        value = self.settings.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise DomainError(ErrorCode.VALIDATION, field=field_name(key), reason_key="reason.required")
            return default
        if not isinstance(value, str):
            raise invalid(key, "reason.field")
        value = value.strip()
        if len(value) > max_length:
            raise DomainError(ErrorCode.VALIDATION, field=field_name(key), reason_key="reason.too_long", max=max_length)
        if any(ord(ch) < 32 and not (lines and ch in "\r\n") for ch in value):
            raise invalid(key, "reason.field")
        return value

    def secret(
        self, key: str, *, required: bool = True, min_length: int = 1, max_length: int = 512, lines: bool = False
    ) -> str:
        value = self.text(key, required=required, max_length=max_length, lines=lines)
        if value and len(value) < min_length:
            raise invalid(key, "reason.min_length", min=min_length)
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.settings.get(key)
        if value is None or value == "":
            return default
        if value not in choices:
            raise invalid(key, "reason.choice", choices=", ".join(choices))
        return str(value)

    def integer(self, key: str, *, low: int, high: int, default: int | None) -> int | None:
        value = self.settings.get(key)
        if value is None or value == "":
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise invalid(key, "reason.count_range", min=low, max=high)
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.settings.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise invalid(key, "reason.yes_no_value")
        return value

    def url(self, key: str, *, required: bool = True) -> str:
        if not required and not self.present(key):
            return ""
        return url_shape(self.settings.get(key), field_name(key))


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """A ``Retry-After`` header (seconds or an HTTP date) as seconds from now, capped at a day."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        seconds = float(int(value[:9]))
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def failure_for_status(response: httpx.Response, what: str) -> DeliveryFailed | None:
    """None for 2xx; else the failure an HTTP status means: 408, 425, 429 and 5xx are retried
    (with the server's ``Retry-After``), a redirect or any other 4xx is permanent (the request will
    not change by itself)."""
    status = response.status_code
    if 200 <= status < 300:
        return None
    reason = f"{what} answered HTTP {status}"
    if status in (408, 425, 429) or status >= 500:
        return DeliveryFailed(reason, retry_after=retry_after_seconds(response.headers.get("retry-after")))
    if 300 <= status < 400:
        return DeliveryFailed(f"{reason} (a redirect: redirects are not followed)", permanent=True)
    return DeliveryFailed(reason, permanent=True)


async def post(
    transport: Transport,
    url: str,
    what: str,
    *,
    content: bytes | None = None,
    data: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST after the address check, without following redirects; network failures become
    retryable ``DeliveryFailed`` (named by ``what``, never by URL), a refused address a permanent one."""
    await check_destination(url, transport)
    try:
        return await transport.http.post(
            url,
            content=content,
            data=data,
            headers=headers,
            timeout=transport.timeout_seconds,
            follow_redirects=False,
        )
    except AddressRefused as exc:
        raise DeliveryFailed(str(exc), permanent=True) from None
    except httpx.TimeoutException:
        raise DeliveryFailed(f"{what} did not answer in time") from None
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"could not reach {what} ({type(exc).__name__})") from None


def json_body(value: Any) -> bytes:
    return orjson.dumps(value)


def json_answer(response: httpx.Response) -> dict[str, Any] | None:
    """The answer's JSON object, or None when it is not one."""
    try:
        value = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def clip(text: Any, limit: int = 200) -> str:
    """A platform's own message, shortened for a dead letter's reason."""
    return str(text)[:limit]


def clip_utf8(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` of UTF-8 without splitting a character."""
    raw = text.encode("utf-8")
    if len(raw) <= max_bytes:
        return text
    return raw[: max_bytes - 3].decode("utf-8", errors="ignore") + "…"


def iso(moment: datetime) -> str:
    return moment.isoformat()
