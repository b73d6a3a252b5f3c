"""Group-chat robots: WeCom (企业微信), DingTalk (钉钉) and Feishu (飞书) custom robots.

A robot posts into one group chat, so every recipient is addressable: the message names the person
(``致：张三（E001）``) and, on WeCom and DingTalk, @-mentions them by mobile number when they have
one and ``mention`` is on (the default).

Settings: ``url`` (the robot's webhook; secret: whoever has it can post), ``format`` (WeCom and
DingTalk ``markdown`` | ``text``, Feishu ``post`` | ``text``), ``mention`` (true/false), and for
DingTalk and Feishu an optional signing ``secret`` (secret; the robot's 加签 / 签名校验 setting):

- WeCom: no signing; the key in the URL is the credential. Markdown cannot @ by mobile, so a
  message that mentions someone is sent as text with ``mentioned_mobile_list``.
- DingTalk: ``sign = urlencode(base64(HMAC-SHA256(key=secret, msg=f"{timestamp_ms}\\n{secret}")))``
  added to the URL as ``&timestamp=…&sign=…``; the platform refuses a timestamp more than an hour
  off.
- Feishu: ``sign = base64(HMAC-SHA256(key=f"{timestamp_s}\\n{secret}", msg=b""))`` (the string to
  sign is the key, the message is empty), sent in the body beside ``timestamp``.

Each platform answers HTTP 200 with its own result: WeCom and DingTalk ``errcode`` (0 = sent),
Feishu ``code`` (0 = sent; older robots ``StatusCode``). Rate limits are retried after the
platform's penalty; a refused signature, keyword or IP, or a robot that no longer exists, is
permanent; any other code is retried (the outbox dead-letters it after its last attempt, with the
platform's code and message as the reason).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any
from urllib.parse import quote_plus

from backend.models import DeliveryChannel
from backend.services.notifications.channels.base import DeliveryFailed, OutboundMessage, Recipient, Transport
from backend.services.notifications.channels.common import (
    SettingsReader,
    clip,
    clip_utf8,
    failure_for_status,
    json_answer,
    json_body,
    post,
)

TO_LINE = {"zh-CN": "致：{name}（{employee_no}）", "en": "For: {name} ({employee_no})"}


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's signature before URL encoding: base64(HMAC-SHA256(secret, "ts\\nsecret"))."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu's signature: base64(HMAC-SHA256(key="ts\\nsecret", msg=b""))."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def to_line(message: OutboundMessage) -> str:
    template = TO_LINE.get(message.locale, TO_LINE["zh-CN"])
    return template.format(name=message.recipient.name, employee_no=message.recipient.employee_no)


class RobotChannel:
    """What the three robots share; each subclass builds its request and reads its answer."""

    channel: DeliveryChannel
    platform: str  # named in failure reasons
    formats: tuple[str, ...]
    signed = False
    # code -> seconds to wait (rate limits: retried), code -> reason (permanent)
    retry_codes: dict[int, float] = {}
    permanent_codes: dict[int, str] = {}

    def check_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        known = ("url", "format", "mention", "secret") if self.signed else ("url", "format", "mention")
        read = SettingsReader(settings, known)
        checked: dict[str, Any] = {
            "url": read.url("url"),
            "format": read.choice("format", self.formats, self.formats[0]),
            "mention": read.flag("mention", True),
        }
        if self.signed:
            secret = read.secret("secret", required=False, max_length=256)
            if secret:
                checked["secret"] = secret
        return checked

    def secret_fields(self) -> tuple[str, ...]:
        return ("url", "secret") if self.signed else ("url",)

    def secret_destinations(self) -> dict[str, tuple[str, ...]]:
        return {}  # the signing secret only signs (HMAC); the URL is where it goes

    def addressable(self, recipient: Recipient, settings: dict[str, Any]) -> bool:
        return True  # a group chat: the text names the person

    def request(self, message: OutboundMessage, settings: dict[str, Any], now: float) -> tuple[str, dict[str, Any]]:
        """The URL and JSON body to post."""
        raise NotImplementedError

    def result_code(self, answer: dict[str, Any]) -> tuple[int | None, str]:
        code = answer.get("errcode")
        return (code if isinstance(code, int) else None), clip(answer.get("errmsg", ""))

    async def send(self, message: OutboundMessage, settings: dict[str, Any], transport: Transport) -> None:
        url, body = self.request(message, settings, time.time())
        response = await post(
            transport,
            url,
            f"the {self.platform} robot",
            content=json_body(body),
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        answer = json_answer(response)
        code, text = self.result_code(answer) if answer is not None else (None, "")
        if code is None:
            failed = failure_for_status(response, f"the {self.platform} robot")
            raise failed or DeliveryFailed(f"the {self.platform} robot gave an answer without a result code")
        if code == 0:
            return
        reason = f"the {self.platform} robot answered {code}: {text}"
        if code in self.permanent_codes:
            raise DeliveryFailed(f"{reason} ({self.permanent_codes[code]})", permanent=True)
        raise DeliveryFailed(reason, retry_after=self.retry_codes.get(code))


class WeComRobot(RobotChannel):
    channel = DeliveryChannel.WECOM
    platform = "WeCom"
    formats = ("markdown", "text")
    retry_codes = {-1: 30.0, 45009: 60.0}  # system busy; over 20 messages a minute
    permanent_codes = {93000: "the webhook key is not valid: the robot was removed or the URL is wrong"}

    def request(self, message: OutboundMessage, settings: dict[str, Any], now: float) -> tuple[str, dict[str, Any]]:
        phone = message.recipient.phone if settings.get("mention", True) else None
        if settings.get("format") == "text" or phone:
            text = clip_utf8(f"{message.title}\n{message.body}\n{to_line(message)}", 2048)
            content: dict[str, Any] = {"content": text}
            if phone:
                content["mentioned_mobile_list"] = [phone]
            return settings["url"], {"msgtype": "text", "text": content}
        markdown = clip_utf8(f"**{message.title}**\n{message.body}\n> {to_line(message)}", 4096)
        return settings["url"], {"msgtype": "markdown", "markdown": {"content": markdown}}


class DingTalkRobot(RobotChannel):
    channel = DeliveryChannel.DINGTALK
    platform = "DingTalk"
    formats = ("markdown", "text")
    signed = True
    # Over 20 messages a minute the robot is throttled for 10 minutes; 90030: over the plan's quota.
    retry_codes = {130101: 600.0, 410100: 600.0, 90030: 3600.0}
    permanent_codes = {
        310000: "refused by the robot's security settings: signature, keyword or IP allowlist",
        300001: "the access token in the URL is not valid",
        400102: "the robot is stopped",
    }

    def request(self, message: OutboundMessage, settings: dict[str, Any], now: float) -> tuple[str, dict[str, Any]]:
        url = settings["url"]
        secret = settings.get("secret")
        if secret:
            timestamp = int(now * 1000)
            sign = quote_plus(dingtalk_sign(secret, timestamp))
            url = f"{url}{'&' if '?' in url else '?'}timestamp={timestamp}&sign={sign}"
        phone = message.recipient.phone if settings.get("mention", True) else None
        # DingTalk highlights the person only when the text holds "@<mobile>" as well.
        mention = f" @{phone}" if phone else ""
        at = {"atMobiles": [phone] if phone else [], "isAtAll": False}
        if settings.get("format") == "text":
            text = clip_utf8(f"{message.title}\n{message.body}\n{to_line(message)}{mention}", 18000)
            return url, {"msgtype": "text", "text": {"content": text}, "at": at}
        markdown = clip_utf8(f"#### {message.title}\n\n{message.body}\n\n> {to_line(message)}{mention}", 18000)
        return url, {"msgtype": "markdown", "markdown": {"title": message.title, "text": markdown}, "at": at}


class FeishuRobot(RobotChannel):
    channel = DeliveryChannel.FEISHU
    platform = "Feishu"
    formats = ("post", "text")
    signed = True
    retry_codes = {11232: 60.0}  # frequency limited
    permanent_codes = {
        19021: "the signature does not match or its timestamp is over an hour off",
        19022: "the server's IP address is not on the robot's allowlist",
        19024: "the message lacks the robot's keyword",
        19001: "the webhook is not valid",
        9499: "the platform refused the request as malformed",
    }

    def request(self, message: OutboundMessage, settings: dict[str, Any], now: float) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {}
        secret = settings.get("secret")
        if secret:
            timestamp = int(now)
            body["timestamp"] = str(timestamp)
            body["sign"] = feishu_sign(secret, timestamp)
        if settings.get("format") == "text":
            text = clip_utf8(f"{message.title}\n{message.body}\n{to_line(message)}", 18000)
            body.update(msg_type="text", content={"text": text})
            return settings["url"], body
        lines = [[{"tag": "text", "text": clip_utf8(line, 4000)}] for line in message.body.splitlines() if line]
        lines.append([{"tag": "text", "text": to_line(message)}])
        language = "zh_cn" if message.locale == "zh-CN" else "en_us"
        body.update(msg_type="post", content={"post": {language: {"title": message.title, "content": lines}}})
        return settings["url"], body

    def result_code(self, answer: dict[str, Any]) -> tuple[int | None, str]:
        code = answer.get("code", answer.get("StatusCode"))
        text = answer.get("msg", answer.get("StatusMessage", ""))
        return (code if isinstance(code, int) else None), clip(text)
