"""Sign-in for the dashboard: a cookie naming a real auth session, and CSRF tokens.

- Signing in goes through the app's own ``auth.login`` (its throttling and audit included) as a
  device of the browser's: ``web-<random>``, kept in a long-lived HttpOnly cookie so a browser
  that signed in before is a familiar device to the throttle, like a phone.
- The session cookie holds ``[auth session, tenant, employee, expiry]`` signed with the server
  secret (backend/signing.py, its own kind). It is no bearer token: every request checks in the
  database that the session is not revoked and its employee is active, so signing out (here or
  anywhere) and revocation end it at once on every server process. It is HttpOnly,
  SameSite=Strict (sign-in ends with a same-site redirect, so Strict costs nothing there) and
  Secure in production (where it is also ``__Host-`` prefixed: no subdomain can plant one).
- CSRF: every POST form carries ``HMAC(secret, session id)``, compared in constant time, and the
  browser's ``Origin`` / ``Sec-Fetch-Site`` must say the request came from this site when present.
  The sign-in form has no session yet: it is held to the Origin check alone.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from backend.config import Settings
from backend.errors import DomainError, ErrorCode
from backend.models import Role
from backend.services.people import auth
from backend.services.viewer import Viewer
from backend.signing import expiry, sign, unsign

COOKIE_KIND = "adm"  # the kind of signed value (backend/signing.py): no other signed value passes for it
SIGN_IN_SECONDS = 12 * 3600  # a working day; then sign in again
DEVICE_COOKIE = "xuefen_admin_device"
DEVICE_SECONDS = 365 * 24 * 3600
ROLES = (Role.HR_ADMIN, Role.MANAGER)
_DEVICE_UID = re.compile(r"web-[0-9a-f]{32}")


def cookie_name(settings: Settings) -> str:
    # ``__Host-`` needs Secure, which a development server on plain http cannot have.
    return "__Host-xuefen_admin" if settings.environment == "production" else "xuefen_admin"


def device_uid(request: Request) -> tuple[str, bool]:
    """The browser's device id for sign-in, and whether it is new (its cookie is to be set)."""
    known = request.cookies.get(DEVICE_COOKIE, "")
    if _DEVICE_UID.fullmatch(known):
        return known, False
    return f"web-{secrets.token_hex(16)}", True


@dataclass(frozen=True)
class SignedIn:
    """A signed-in dashboard user: the viewer every service is called with, and the CSRF token
    their forms carry."""

    viewer: Viewer
    csrf: str
    # The tokens under the previous keys (backend/keyring.py): a form rendered before a key
    # rotation still posts.
    earlier_csrf: tuple[str, ...] = ()


def csrf_token(settings: Settings, session_id: uuid.UUID, key: str | None = None) -> str:
    """The CSRF token of a sign-in: bound to its session, unguessable without the server secret
    (the current key unless ``key`` is given)."""
    mac = hmac.new((key or settings.keys.current).encode(), f"admin-csrf:{session_id}".encode(), hashlib.sha256)
    return mac.hexdigest()


def set_cookies(settings: Settings, response: Response, viewer: Viewer, device: str | None) -> None:
    """Put the sign-in (and, for a new browser, its device id) on ``response``."""
    secure = settings.environment == "production"
    expires = expiry(datetime.now(UTC), SIGN_IN_SECONDS)
    value = sign(settings.keys, COOKIE_KIND, [str(viewer.session_id), viewer.tenant_id, viewer.employee_id, expires])
    response.set_cookie(
        cookie_name(settings), value, max_age=SIGN_IN_SECONDS, path="/", secure=secure, httponly=True, samesite="strict"
    )
    if device is not None:
        response.set_cookie(
            DEVICE_COOKIE,
            device,
            max_age=DEVICE_SECONDS,
            path="/admin",
            secure=secure,
            httponly=True,
            samesite="strict",
        )


def clear_cookie(settings: Settings, response: Response) -> None:
    secure = settings.environment == "production"
    response.delete_cookie(cookie_name(settings), path="/", secure=secure, httponly=True, samesite="strict")


async def signed_in(settings: Settings, request: Request) -> SignedIn | None:
    """Who the request's cookie signs in, checked against the live session; None when nobody
    (no cookie, a forged or expired one, a revoked session, an inactive employee)."""
    value = request.cookies.get(cookie_name(settings))
    if not value:
        return None
    try:
        session_text, tenant_id, employee_id, expires = unsign(settings.keys, COOKIE_KIND, value)
        session_id = uuid.UUID(session_text)
        if not (isinstance(tenant_id, int) and isinstance(employee_id, int) and isinstance(expires, int)):
            return None
    except (ValueError, TypeError, AttributeError):  # not ours, or not this shape
        return None
    if expires <= datetime.now(UTC).timestamp():
        return None
    viewer = await auth.viewer_of_session(tenant_id, session_id, employee_id)
    if viewer is None or not viewer.has_role(*ROLES):  # roles are read live: a demoted manager is out
        return None
    earlier = tuple(csrf_token(settings, session_id, key) for key in settings.keys.previous)
    return SignedIn(viewer, csrf_token(settings, session_id), earlier)


def same_site(request: Request) -> bool:
    """Whether the browser says this request comes from this site. ``Sec-Fetch-Site`` decides when
    sent (every current browser); else ``Origin``, unless it is "null" (what a browser sends for a
    page whose Referrer-Policy is no-referrer, as ours). Saying nothing passes: older browsers and
    other clients are still held to the CSRF token and the SameSite=Strict cookie."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site in {"same-origin", "none"}
    origin = request.headers.get("origin")
    # Host and port only: behind a proxy that ends TLS the scheme seen here is not the browser's.
    return origin is None or origin == "null" or urlsplit(origin).netloc == request.url.netloc


def check_post(request: Request, who: SignedIn, token: str | None) -> None:
    """FORBIDDEN unless a POST carries its session's CSRF token and comes from this site."""
    accepted = (who.csrf, *who.earlier_csrf)
    # Bytes: compare_digest raises TypeError for a str with non-ASCII, and a form field holds anything.
    if (
        not token
        or not any(hmac.compare_digest(token.encode(), one.encode()) for one in accepted)
        or not same_site(request)
    ):
        raise DomainError(ErrorCode.FORBIDDEN)


async def sign_out(who: SignedIn) -> None:
    await auth.revoke_session(who.viewer.session_id, "LOGOUT")
