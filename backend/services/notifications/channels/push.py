"""Mobile push: Firebase Cloud Messaging (HTTP v1) and Apple Push Notification service (token auth).

An adapter the app team switches on with credentials; a platform is enabled when its settings are
there. Settings (flat, so the secret ones can be left out when shown back):

- FCM: ``fcmProjectId``, ``fcmServiceAccount`` (secret: the service account's JSON key, as an
  object or its text; ``client_email``, ``private_key``, ``token_uri`` are kept), ``fcmApiBase``
  (default ``https://fcm.googleapis.com``; tests point it, and the key's ``token_uri``, at a
  local receiver).
- APNs: ``apnsKeyId``, ``apnsTeamId``, ``apnsPrivateKey`` (secret: the ``.p8`` key, PEM),
  ``apnsBundleId`` (the ``apns-topic``), ``apnsApiBase`` (default ``https://api.push.apple.com``;
  ``https://api.sandbox.push.apple.com`` for development builds).

FCM: a JWT signed RS256 with the service account's key is exchanged at ``token_uri`` (OAuth 2.0
JWT bearer grant) for an access token, kept per process until a minute before it expires (a cache
of a credential, nothing the database must agree with), then each device gets
``POST {apiBase}/v1/projects/{id}/messages:send``. APNs: an ES256 JWT (``kid`` the key id, ``iss``
the team) reused for 50 minutes (Apple refuses one older than an hour and throttles new ones),
``POST {apiBase}/3/device/{token}`` with ``apns-push-type: alert``, ``apns-collapse-id`` and a
stable ``apns-id`` derived from the delivery (a retry replaces, not repeats, the notification).
Apple speaks only HTTP/2: ``Transport.http`` must offer it (``addresses.outbound_client`` does);
a plain ``http://`` base, as in tests, is HTTP/1.1.

A recipient is addressable when they have a token of an enabled platform. One device delivered is
enough. A token the service calls gone (FCM ``UNREGISTERED``/404, APNs 410 or ``BadDeviceToken``)
is named in ``PushFailed.stale_tokens`` so the outbox can drop it; it is a permanent failure when
no device is left to retry.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from backend.models import DeliveryChannel, PushPlatform
from backend.services.notifications.channels.addresses import url_shape
from backend.services.notifications.channels.base import DeliveryFailed, OutboundMessage, Recipient, Sent, Transport
from backend.services.notifications.channels.common import (
    SettingsReader,
    clip,
    clip_utf8,
    failure_for_status,
    field_name,
    invalid,
    json_answer,
    json_body,
    post,
)

FCM_API_BASE = "https://fcm.googleapis.com"
FCM_TOKEN_URI = "https://oauth2.googleapis.com/token"
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
APNS_API_BASE = "https://api.push.apple.com"
APNS_JWT_SECONDS = 50 * 60
APNS_ID_NAMESPACE = uuid.UUID("6f1d2c1e-5b0a-4c55-9f3c-0d0f8e1a7b21")
_FCM_TOKEN = re.compile(r"[A-Za-z0-9_:\-]{1,4096}", re.ASCII)
_APNS_TOKEN = re.compile(r"[A-Fa-f0-9]{16,200}", re.ASCII)
_APPLE_ID = re.compile(r"[A-Z0-9]{10}", re.ASCII)
_BUNDLE_ID = re.compile(r"[A-Za-z0-9.\-]{1,155}", re.ASCII)
MAX_SERVICE_ACCOUNT = 16_384  # characters: a service account's JSON key file is about 2,400
_PROJECT_ID = re.compile(r"[a-z][a-z0-9\-]{3,61}[a-z0-9]", re.ASCII)

SETTINGS = (
    "fcmProjectId",
    "fcmServiceAccount",
    "fcmApiBase",
    "apnsKeyId",
    "apnsTeamId",
    "apnsPrivateKey",
    "apnsBundleId",
    "apnsApiBase",
)


class PushFailed(DeliveryFailed):
    """A push failure naming the tokens the services reported as gone: ``stale_tokens`` holds
    (platform, token) pairs the outbox may delete."""

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        stale_tokens: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(reason, permanent=permanent, retry_after=retry_after)
        self.stale_tokens = stale_tokens


class _Stale(Exception):
    """One device's token is gone."""


# Credentials obtained from the services, per process: (key) -> (credential, good until, Unix s).
_fcm_tokens: dict[tuple[str, str, str], tuple[str, float]] = {}
_apns_jwts: dict[tuple[str, str, str], tuple[str, float]] = {}


def forget_credentials() -> None:
    """Drop the cached access tokens and provider JWTs (tests; a rotated key)."""
    _fcm_tokens.clear()
    _apns_jwts.clear()


def _fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _private_key(value: str, key: str, kind: type) -> None:
    try:
        loaded = load_pem_private_key(value.encode(), password=None)
    except (ValueError, TypeError):
        raise invalid(key, "reason.private_key") from None
    if not isinstance(loaded, kind) or (
        isinstance(loaded, ec.EllipticCurvePrivateKey) and loaded.curve.name != "secp256r1"
    ):
        raise invalid(key, "reason.private_key")


def _service_account(value: Any) -> dict[str, str]:
    key = "fcmServiceAccount"
    if isinstance(value, str):
        if len(value) > MAX_SERVICE_ACCOUNT:
            raise invalid(key, "reason.service_account")
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):  # RecursionError: "[[[[…" nested past the reader's limit
            raise invalid(key, "reason.service_account") from None
    if not isinstance(value, dict):
        raise invalid(key, "reason.service_account")
    email, private_key = value.get("client_email"), value.get("private_key")
    if (
        not isinstance(email, str)
        or "@" not in email
        or len(email) > 320
        or not isinstance(private_key, str)
        or len(private_key) > MAX_SERVICE_ACCOUNT
    ):
        raise invalid(key, "reason.service_account")
    _private_key(private_key, key, rsa.RSAPrivateKey)
    account = {
        "client_email": email,
        "private_key": private_key,
        "token_uri": url_shape(value.get("token_uri") or FCM_TOKEN_URI, field_name(key) + ".token_uri"),
    }
    if isinstance(value.get("private_key_id"), str) and len(value["private_key_id"]) <= 200:
        account["private_key_id"] = value["private_key_id"]
    return account


def _detailed(failed: DeliveryFailed, detail: str) -> DeliveryFailed:
    """The same failure with the service's own code added to its reason."""
    if not detail:
        return failed
    return DeliveryFailed(f"{failed.reason}: {detail}", permanent=failed.permanent, retry_after=failed.retry_after)


def _string_data(message: OutboundMessage) -> dict[str, str]:
    """The data both services carry to the app (strings only, as FCM requires)."""
    data = {"deliveryId": str(message.delivery_id), "kind": message.kind, "tenant": message.tenant_code}
    if message.subject_id:
        data["subjectId"] = message.subject_id
    return data


@dataclass
class _Outcome:
    delivered: bool = False
    stale: tuple[str, str] | None = None
    failure: DeliveryFailed | None = None


class PushChannel:
    channel = DeliveryChannel.PUSH

    def check_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        read = SettingsReader(settings, SETTINGS)
        checked: dict[str, Any] = {}
        if any(read.present(key) for key in SETTINGS if key.startswith("fcm")):
            project = read.text("fcmProjectId", max_length=63)
            if not _PROJECT_ID.fullmatch(project):
                raise invalid("fcmProjectId", "reason.field")
            if not read.present("fcmServiceAccount"):
                raise invalid("fcmServiceAccount", "reason.service_account")
            checked["fcmProjectId"] = project
            checked["fcmServiceAccount"] = _service_account(settings["fcmServiceAccount"])
            checked["fcmApiBase"] = (read.url("fcmApiBase", required=False) or FCM_API_BASE).rstrip("/")
        if any(read.present(key) for key in SETTINGS if key.startswith("apns")):
            for key in ("apnsKeyId", "apnsTeamId"):
                value = read.text(key, max_length=10)
                if not _APPLE_ID.fullmatch(value):
                    raise invalid(key, "reason.field")
                checked[key] = value
            bundle = read.text("apnsBundleId", max_length=155)
            if not _BUNDLE_ID.fullmatch(bundle):
                raise invalid("apnsBundleId", "reason.field")
            checked["apnsBundleId"] = bundle
            checked["apnsPrivateKey"] = read.secret("apnsPrivateKey", max_length=4096, lines=True)
            _private_key(checked["apnsPrivateKey"], "apnsPrivateKey", ec.EllipticCurvePrivateKey)
            checked["apnsApiBase"] = (read.url("apnsApiBase", required=False) or APNS_API_BASE).rstrip("/")
        if not checked:
            raise invalid("fcmProjectId", "reason.push_platform_needed")
        return checked

    def secret_fields(self) -> tuple[str, ...]:
        return ("fcmServiceAccount", "apnsPrivateKey")

    def secret_destinations(self) -> dict[str, tuple[str, ...]]:
        # The access token got with the account, and the provider JWT, go in each request.
        return {"fcmServiceAccount": ("fcmApiBase",), "apnsPrivateKey": ("apnsApiBase",)}

    def enabled_platforms(self, settings: dict[str, Any]) -> set[str]:
        platforms = set()
        if settings.get("fcmProjectId"):
            platforms.add(PushPlatform.FCM.value)
        if settings.get("apnsKeyId"):
            platforms.add(PushPlatform.APNS.value)
        return platforms

    def addressable(self, recipient: Recipient, settings: dict[str, Any]) -> bool:
        enabled = self.enabled_platforms(settings)
        return any(platform in enabled for platform, _ in recipient.push_tokens)

    async def send(self, message: OutboundMessage, settings: dict[str, Any], transport: Transport) -> Sent | None:
        enabled = self.enabled_platforms(settings)
        targets = [(platform, token) for platform, token in message.recipient.push_tokens if platform in enabled]
        if not targets:
            raise PushFailed("the recipient has no device of an enabled push platform", permanent=True)
        # One access token for all of this person's Android devices, fetched before fanning out.
        access: str | DeliveryFailed = ""
        if any(platform == PushPlatform.FCM.value for platform, _ in targets):
            try:
                access = await self._fcm_access_token(settings["fcmServiceAccount"], transport)
            except DeliveryFailed as failure:
                access = failure
        outcomes = await asyncio.gather(*(self._one(message, settings, transport, access, p, t) for p, t in targets))
        stale = tuple(outcome.stale for outcome in outcomes if outcome.stale is not None)
        if any(outcome.delivered for outcome in outcomes):
            return Sent(stale_tokens=stale) if stale else None
        failures = [outcome.failure for outcome in outcomes if outcome.failure is not None]
        if not failures:
            raise PushFailed(
                f"no device's token is registered any more ({len(stale)})", permanent=True, stale_tokens=stale
            )
        retryable = [failure for failure in failures if not failure.permanent]
        waits = [failure.retry_after for failure in retryable if failure.retry_after is not None]
        first = (retryable or failures)[0]
        raise PushFailed(
            first.reason,
            permanent=not retryable,
            retry_after=max(waits) if waits else None,
            stale_tokens=stale,
        )

    async def _one(
        self,
        message: OutboundMessage,
        settings: dict[str, Any],
        transport: Transport,
        access: str | DeliveryFailed,
        platform: str,
        token: str,
    ) -> _Outcome:
        try:
            if platform == PushPlatform.FCM.value:
                if isinstance(access, DeliveryFailed):
                    return _Outcome(failure=access)
                await self._fcm(message, settings, transport, access, token)
            else:
                await self._apns(message, settings, transport, token)
        except _Stale:
            return _Outcome(stale=(platform, token))
        except DeliveryFailed as failure:
            return _Outcome(failure=failure)
        return _Outcome(delivered=True)

    # FCM ---------------------------------------------------------------------------------------

    async def _fcm_access_token(self, account: dict[str, str], transport: Transport) -> str:
        key = (account["client_email"], account["token_uri"], _fingerprint(account["private_key"]))
        cached = _fcm_tokens.get(key)
        now = time.time()
        if cached is not None and cached[1] > now:
            return cached[0]
        headers = {"kid": account["private_key_id"]} if account.get("private_key_id") else None
        assertion = jwt.encode(
            {
                "iss": account["client_email"],
                "scope": FCM_SCOPE,
                "aud": account["token_uri"],
                "iat": int(now),
                "exp": int(now) + 3600,
            },
            account["private_key"],
            algorithm="RS256",
            headers=headers,
        )
        response = await post(
            transport,
            account["token_uri"],
            "the Google token service",
            data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion},
        )
        answer = json_answer(response) or {}
        failed = failure_for_status(response, "the Google token service")
        if failed is not None:
            raise _detailed(failed, clip(answer.get("error") or "", 80))
        access_token, expires_in = answer.get("access_token"), answer.get("expires_in", 3600)
        if not isinstance(access_token, str) or not isinstance(expires_in, int):
            raise DeliveryFailed("the Google token service gave an answer without an access token")
        _fcm_tokens[key] = (access_token, now + max(expires_in - 60, 0))
        return access_token

    async def _fcm(
        self, message: OutboundMessage, settings: dict[str, Any], transport: Transport, access_token: str, token: str
    ) -> None:
        if not _FCM_TOKEN.fullmatch(token):
            raise _Stale
        account = settings["fcmServiceAccount"]
        collapse = str(message.delivery_id)
        body = {
            "message": {
                "token": token,
                "notification": {"title": message.title, "body": clip_utf8(message.body, 3000)},
                "data": _string_data(message),
                "android": {"collapse_key": collapse},
                "apns": {"headers": {"apns-collapse-id": collapse}},
            }
        }
        base = settings.get("fcmApiBase") or FCM_API_BASE
        response = await post(
            transport,
            f"{base}/v1/projects/{settings['fcmProjectId']}/messages:send",
            "FCM",
            content=json_body(body),
            headers={"Authorization": f"Bearer {access_token}", "Content-Type": "application/json; charset=utf-8"},
        )
        if 200 <= response.status_code < 300:
            return
        error = (json_answer(response) or {}).get("error")
        error = error if isinstance(error, dict) else {}
        codes = {str(error.get("status", ""))}
        for detail in error.get("details") or []:
            if isinstance(detail, dict):
                codes.add(str(detail.get("errorCode", "")))
                for violation in detail.get("fieldViolations") or []:
                    if isinstance(violation, dict) and violation.get("field") == "message.token":
                        raise _Stale
        if "UNREGISTERED" in codes or response.status_code == 404:
            raise _Stale
        if response.status_code == 401:
            _fcm_tokens.pop((account["client_email"], account["token_uri"], _fingerprint(account["private_key"])), None)
            raise DeliveryFailed("FCM refused the access token (expired): retrying with a new one")
        failed = failure_for_status(response, "FCM") or DeliveryFailed("FCM failed")
        raise _detailed(failed, ", ".join(sorted(code for code in codes if code)))

    # APNs --------------------------------------------------------------------------------------

    def _apns_jwt(self, settings: dict[str, Any], *, renew: bool = False) -> str:
        key = (settings["apnsTeamId"], settings["apnsKeyId"], _fingerprint(settings["apnsPrivateKey"]))
        now = time.time()
        cached = _apns_jwts.get(key)
        if cached is not None and cached[1] > now and not renew:
            return cached[0]
        token = jwt.encode(
            {"iss": settings["apnsTeamId"], "iat": int(now)},
            settings["apnsPrivateKey"],
            algorithm="ES256",
            headers={"kid": settings["apnsKeyId"]},
        )
        _apns_jwts[key] = (token, now + APNS_JWT_SECONDS)
        return token

    async def _apns(self, message: OutboundMessage, settings: dict[str, Any], transport: Transport, token: str) -> None:
        if not _APNS_TOKEN.fullmatch(token):
            raise _Stale
        body = {
            "aps": {
                "alert": {"title": message.title, "body": clip_utf8(message.body, 3000)},
                "sound": "default",
                "thread-id": message.kind,
            },
            **_string_data(message),
        }
        headers = {
            "authorization": f"bearer {self._apns_jwt(settings)}",
            "apns-topic": settings["apnsBundleId"],
            "apns-push-type": "alert",
            "apns-priority": "10",
            "apns-collapse-id": str(message.delivery_id),
            "apns-id": str(uuid.uuid5(APNS_ID_NAMESPACE, f"{message.tenant_code}:{message.delivery_id}")),
            "content-type": "application/json",
        }
        base = settings.get("apnsApiBase") or APNS_API_BASE
        response = await post(transport, f"{base}/3/device/{token}", "APNs", content=json_body(body), headers=headers)
        if 200 <= response.status_code < 300:
            return
        reason = str((json_answer(response) or {}).get("reason", ""))
        if response.status_code == 410 or reason in ("BadDeviceToken", "Unregistered"):
            raise _Stale
        if reason == "ExpiredProviderToken":
            self._apns_jwt(settings, renew=True)
            raise DeliveryFailed("APNs found the provider token expired: retrying with a new one")
        failed = _detailed(failure_for_status(response, "APNs") or DeliveryFailed("APNs failed"), clip(reason, 80))
        if reason in ("TooManyRequests", "TooManyProviderTokenUpdates") and failed.retry_after is None:
            # Apple sends no Retry-After: wait a minute rather than hammer it.
            failed = DeliveryFailed(failed.reason, retry_after=60.0)
        raise failed
