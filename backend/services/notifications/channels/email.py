"""E-mail over SMTP (aiosmtplib).

Settings: ``host``, ``port`` (default by ``security``: 587, 465, 25), ``username``, ``password``
(secret), ``fromAddress``, ``fromName``, ``security``: ``starttls`` (the default: the connection
is upgraded or refused, never sent in clear), ``tls`` (implicit TLS, port 465) or ``none`` (only
where ``Transport.allow_private_hosts``: a relay on the company's own network).

The message is UTF-8 with RFC 2047 headers (``email.policy.SMTP`` encodes a Chinese subject and
display names), plain text with a simple HTML alternative. Its ``Message-ID`` is derived from the
tenant and the delivery id, and its ``Date`` from the notification, so a retry after a lost answer
is byte for byte the same message and a receiving system can drop the duplicate.
``Auto-Submitted: auto-generated`` (RFC 3834) keeps vacation responders quiet.

Failures: a refused recipient, sender or message with a 5xx reply, a failed login, a server that
cannot STARTTLS (or AUTH) are permanent; 4xx replies (greylisting, a full queue), refused or dropped
connections and timeouts are retried.
"""

from __future__ import annotations

import html
import re
import ssl
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime
from typing import Any

import aiosmtplib

from backend.models import DeliveryChannel
from backend.services.notifications.channels.addresses import AddressRefused, connect_checked
from backend.services.notifications.channels.base import DeliveryFailed, OutboundMessage, Recipient, Transport
from backend.services.notifications.channels.common import SettingsReader, invalid

SECURITY = ("starttls", "tls", "none")
DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}
# As an employee's e-mail is checked (people.employment): one @, a dotted domain, no spaces.
EMAIL_PATTERN = re.compile(r"[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+")
HOST_PATTERN = re.compile(r"[A-Za-z0-9.\-:\[\]]{1,253}", re.ASCII)
FOOTER = {
    "zh-CN": "此邮件由学分系统自动发送，请勿直接回复。",
    "en": "Sent automatically by Xuefen. Please do not reply to this message.",
}


def message_id(message: OutboundMessage, domain: str) -> str:
    """The same for every attempt of one delivery: what a receiver dedupes by."""
    tenant = re.sub(r"[^a-z0-9-]", "-", message.tenant_code.lower())
    return f"<xuefen.{tenant}.{message.delivery_id}@{domain}>"


def build_message(message: OutboundMessage, settings: dict[str, Any]) -> EmailMessage:
    """The e-mail for one delivery (no network): public so tests and previews can read it."""
    recipient = message.recipient
    sender = settings["fromAddress"]
    domain = sender.rsplit("@", 1)[1]
    mail = EmailMessage(policy=SMTP_POLICY)
    mail["Subject"] = message.title
    mail["From"] = Address(display_name=settings.get("fromName") or "", addr_spec=sender)
    mail["To"] = Address(display_name=recipient.name, addr_spec=recipient.email or "")
    mail["Date"] = format_datetime(message.created_at)
    mail["Message-ID"] = message_id(message, domain)
    mail["Auto-Submitted"] = "auto-generated"
    mail["X-Auto-Response-Suppress"] = "All"
    mail["X-Xuefen-Delivery"] = str(message.delivery_id)
    footer = FOOTER.get(message.locale, FOOTER["zh-CN"])
    mail.set_content(f"{message.body}\n\n--\n{footer}\n", charset="utf-8")
    paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in message.body.splitlines() if line.strip())
    lang = "zh-CN" if message.locale == "zh-CN" else "en"
    mail.add_alternative(
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{html.escape(message.title)}</title>'
        f'</head><body><h2 style="font-size:18px">{html.escape(message.title)}</h2>{paragraphs}'
        f'<p style="color:#888;font-size:12px">{html.escape(footer)}</p></body></html>',
        subtype="html",
        charset="utf-8",
    )
    return mail


def _smtp_failure(exc: Exception) -> DeliveryFailed:
    """What an SMTP error means for the outbox. The server's text is not copied (it may echo the
    address); the reply code says enough."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [error.code for error in exc.recipients]
        permanent = all(code >= 500 for code in codes)
        return DeliveryFailed(
            f"the mail server refused the recipient ({', '.join(map(str, codes))})", permanent=permanent
        )
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return DeliveryFailed(f"the mail server refused the login ({exc.code})", permanent=exc.code >= 500)
    if isinstance(exc, aiosmtplib.SMTPSenderRefused):
        return DeliveryFailed(f"the mail server refused the sender address ({exc.code})", permanent=exc.code >= 500)
    if isinstance(exc, aiosmtplib.SMTPDataError):
        return DeliveryFailed(f"the mail server refused the message ({exc.code})", permanent=exc.code >= 500)
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return DeliveryFailed(
            "the mail server does not offer what the settings need (STARTTLS or login)", permanent=True
        )
    if isinstance(exc, aiosmtplib.SMTPTimeoutError | aiosmtplib.SMTPServerDisconnected | aiosmtplib.SMTPConnectError):
        return DeliveryFailed(f"the mail server could not be reached ({type(exc).__name__})")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return DeliveryFailed(f"the mail server answered {exc.code}", permanent=exc.code >= 500)
    if isinstance(exc, ssl.SSLError):
        # A certificate that does not verify is a setting to fix, not a moment to wait out.
        return DeliveryFailed("the mail server's TLS certificate or handshake failed", permanent=True)
    if isinstance(exc, aiosmtplib.SMTPException):
        # aiosmtplib's own checks (no STARTTLS or AUTH offered): the settings and the server disagree.
        return DeliveryFailed(f"the mail server cannot be used as set up: {str(exc)[:160]}", permanent=True)
    return DeliveryFailed(f"the mail server could not be reached ({type(exc).__name__})")


class EmailChannel:
    channel = DeliveryChannel.EMAIL

    def check_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        read = SettingsReader(settings, ("host", "port", "username", "password", "fromAddress", "fromName", "security"))
        host = read.text("host", max_length=253)
        if not HOST_PATTERN.fullmatch(host):
            raise invalid("host", "reason.field")
        security = read.choice("security", SECURITY, "starttls")
        port = read.integer("port", low=1, high=65535, default=DEFAULT_PORTS[security])
        username = read.text("username", required=False, max_length=256)
        password = read.secret("password", required=bool(username), max_length=512)
        sender = read.text("fromAddress", max_length=254)
        if not sender.isascii() or not EMAIL_PATTERN.fullmatch(sender):
            raise invalid("fromAddress", "reason.email_format")
        checked: dict[str, Any] = {
            "host": host,
            "port": port,
            "security": security,
            "fromAddress": sender,
            "fromName": read.text("fromName", required=False, max_length=100),
        }
        if username:
            checked["username"] = username
            checked["password"] = password
        return checked

    def secret_fields(self) -> tuple[str, ...]:
        return ("password",)

    def secret_destinations(self) -> dict[str, tuple[str, ...]]:
        return {"password": ("host", "port", "security")}

    def addressable(self, recipient: Recipient, settings: dict[str, Any]) -> bool:
        return bool(recipient.email)

    async def send(self, message: OutboundMessage, settings: dict[str, Any], transport: Transport) -> None:
        if not message.recipient.email:
            raise DeliveryFailed("the recipient has no e-mail address", permanent=True)
        security = settings.get("security", "starttls")
        if security == "none" and not transport.allow_private_hosts:
            raise DeliveryFailed("unencrypted SMTP is allowed only for on-premise relays", permanent=True)
        try:
            mail = build_message(message, settings)
        except (ValueError, TypeError, MessageError):
            raise DeliveryFailed("the recipient's address cannot be written in an e-mail", permanent=True) from None
        host = settings["host"]
        port = int(settings.get("port") or DEFAULT_PORTS[security])
        try:
            sock = await connect_checked(host, port, transport.allow_private_hosts, transport.timeout_seconds)
        except AddressRefused as exc:
            raise DeliveryFailed(str(exc), permanent=True) from None
        except OSError as exc:
            raise DeliveryFailed(f"the mail server could not be reached ({type(exc).__name__})") from None
        smtp = aiosmtplib.SMTP(
            hostname=host.strip("[]"),  # the name TLS verifies the certificate against
            sock=sock,
            timeout=transport.timeout_seconds,
            use_tls=security == "tls",
            start_tls=security == "starttls",
            username=settings.get("username") or None,
            password=settings.get("password") or None,
        )
        try:
            await smtp.connect()
            await smtp.send_message(mail, sender=settings["fromAddress"], recipients=[message.recipient.email])
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise _smtp_failure(exc) from None
        finally:
            if smtp.is_connected:
                try:
                    await smtp.quit()
                except (aiosmtplib.SMTPException, OSError):
                    smtp.close()
            sock.close()
