"""Rotating check-in codes: a TOTP-like token per session and time step.

``XF1-<session>-<step>-<mac>``: the session id and the time step in base 36, and the first 10
bytes of HMAC-SHA256(session secret, "tenant.session.step") in base 32. Upper-case letters,
digits and "-" only, so a QR code can use its dense alphanumeric mode (version 3, readable from
the back of a room). The instructor's app computes the same tokens offline from the kit; the
server checks them against the corrected scan time, so a code copied into a chat expires with its
step, and a phone that scanned offline is judged by when it scanned.

Projector links (``/sessions/{id}/projector?key=…``, served by backend/qr_pages.py) show the
current code on a screen without a sign-in, so their key is a bearer secret: signed
(backend/signing.py, as its own kind of value) over the session, its tenant, the instructor's login
and an expiry, and checked on every load against the database (the login still live, its employee
still the session's instructor). See backend/qr_pages.py for why a link never renews itself.

A session's secret is stored wrapped under the key ring (backend/keyring.py: AES-GCM under a key
derived from the current key, the envelope naming that key), so a copy of the database alone makes
no check-in codes. Every reader goes through ``session_secret``; values from before wrapping (64 hex
digits) are read as they are until ``xuefen keys rewrap`` wraps them (backend/key_commands.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from backend import keyring
from backend.config import Settings
from backend.errors import DomainError, ErrorCode
from backend.models import AuthSession, TrainingSession
from backend.services.viewer import Viewer
from backend.signing import Keys, expiry, sign, unsign

PREFIX = "XF1"
LINK_KIND = "p1"
SECRET_PURPOSE = "session-secret"  # the HKDF label of the key that wraps session secrets
SECRET_BYTES = 32
MAC_BYTES = 10
_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

log = logging.getLogger(__name__)


def _base36(number: int) -> str:
    text = ""
    while True:
        number, digit = divmod(number, 36)
        text = _DIGITS[digit] + text
        if number == 0:
            return text


def step_at(moment: datetime, rotation_seconds: int) -> int:
    """The time step a moment falls in (steps count from the Unix epoch, like TOTP)."""
    return int(moment.timestamp()) // rotation_seconds


def _mac(secret: str, tenant_id: int, session_id: int, step: int) -> str:
    digest = hmac.new(bytes.fromhex(secret), f"{tenant_id}.{session_id}.{step}".encode(), hashlib.sha256)
    return base64.b32encode(digest.digest()[:MAC_BYTES]).decode("ascii")


def token_for(secret: str, tenant_id: int, session_id: int, step: int) -> str:
    """The code shown during ``step``."""
    return f"{PREFIX}-{_base36(session_id)}-{_base36(step)}-{_mac(secret, tenant_id, session_id, step)}"


def parse(token: str) -> tuple[int, int, str]:
    """(session id, step, mac) of a scanned code; ``QR_INVALID`` for anything else."""
    try:
        prefix, session, step, mac = token.strip().upper().split("-")
        if prefix != PREFIX or len(mac) != 16 or len(session) > 8 or len(step) > 10:
            raise ValueError(token)
        return int(session, 36), int(step, 36), mac
    except (ValueError, AttributeError) as exc:
        raise DomainError(ErrorCode.QR_INVALID) from exc


def mac_matches(secret: str, tenant_id: int, session_id: int, step: int, mac: str) -> bool:
    # Bytes: compare_digest refuses str with non-ASCII (a forged code may carry any letters).
    return hmac.compare_digest(_mac(secret, tenant_id, session_id, step).encode(), mac.encode())


def current_token(settings: Settings, session: TrainingSession, now: datetime | None = None) -> str:
    """The code ``session`` shows now."""
    step = step_at(now or datetime.now(UTC), session.rotation_seconds)
    return token_for(session_secret(settings, session), session.tenant_id, session.id, step)


# --- session secrets at rest ----------------------------------------------------------------------


def new_secret(settings: Settings) -> str:
    """A fresh random session secret, as stored (wrapped under the current key)."""
    return wrap_secret(settings, secrets.token_hex(SECRET_BYTES))


def wrap_secret(settings: Settings, secret: str) -> str:
    """``secret`` (hex) wrapped under the current key, as the column stores it."""
    return keyring.wrap(settings.keys, SECRET_PURPOSE, bytes.fromhex(secret))


def unwrap_secret(settings: Settings, stored: str) -> str:
    """The hex secret of a stored value: unwrapped under the key it names, or, from before
    wrapping, as it is. ValueError when its key has left the ring (or it was altered)."""
    if not keyring.is_wrapped(stored):
        return stored
    return keyring.unwrap(settings.keys, SECRET_PURPOSE, stored).hex()


class SessionSecretUnavailable(RuntimeError):
    """A session's check-in secret cannot be read: wrapped under a key that has left the ring (or
    altered). An operator's problem, never the scanner's: the push that needs it fails as a whole
    with INTERNAL (rolled back; the phone keeps the scan and retries), the kit query fails, and the
    projector answers 503, until the key is put back (docs/key-rotation.md)."""

    def __init__(self, session_id: int, kid: str | None, reason: str) -> None:
        self.session_id = session_id
        self.kid = kid
        super().__init__(
            f"training session {session_id}: its check-in secret cannot be read ({reason}). Every push "
            "holding a scan of this session fails (the phones retry it) and its projector answers 503 "
            f"until key {kid or '?'} is put back into XUEFEN_PREVIOUS_SECRET_KEYS on every server process; "
            "then run `xuefen keys rewrap` (docs/key-rotation.md)"
        )


def session_secret(settings: Settings, session: TrainingSession) -> str:
    """The hex HMAC key of ``session``'s check-in codes: the one way to read ``session.secret``.
    A secret whose key has left the ring cannot be read: SessionSecretUnavailable, an error for the
    operator (logged here, naming the session and the key), never a scan refused: refusing would
    lose a real check-in, while an error rolls the push back and the phone sends it again later."""
    try:
        return unwrap_secret(settings, session.secret)
    except ValueError as exc:
        error = SessionSecretUnavailable(session.id, keyring.wrapped_kid(session.secret), str(exc))
        log.error("%s", error)
        raise error from exc


# --- projector links ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DisplayKey:
    """What a projector link's key says (once its signature is checked)."""

    session_id: int
    tenant_id: int
    auth_session_id: uuid.UUID
    expires_at: int  # Unix seconds


def sign_display_key(secret: Keys, session_id: int, tenant_id: int, auth_session_id: uuid.UUID, expires_at: int) -> str:
    """The key of a projector link (backend/signing.py, kind ``p1``): URL-safe, about 90 characters."""
    return sign(secret, LINK_KIND, [session_id, tenant_id, auth_session_id.hex, expires_at])


def read_display_key(secret: Keys, key: str) -> DisplayKey:
    """The claims of a key we signed; ``UNAUTHENTICATED`` for anything else."""
    try:
        session_id, tenant_id, auth_session_id, expires_at = unsign(secret, LINK_KIND, key)
        return DisplayKey(int(session_id), int(tenant_id), uuid.UUID(hex=auth_session_id), int(expires_at))
    except (ValueError, TypeError, AttributeError) as exc:
        raise DomainError(ErrorCode.UNAUTHENTICATED, link_message="projector.invalid") from exc


def projector_path(
    settings: Settings, session: TrainingSession, viewer: Viewer, now: datetime | None = None
) -> tuple[str, datetime]:
    """A fresh projector link for the instructor ``viewer`` (bound to their login) and its expiry."""
    now = now or datetime.now(UTC)
    expires_at = expiry(now, settings.projector_link_ttl_seconds)
    key = sign_display_key(settings.keys, session.id, session.tenant_id, viewer.session_id, expires_at)
    return f"/sessions/{session.id}/projector?key={key}", datetime.fromtimestamp(expires_at, UTC)


async def session_by_display_key(settings: Settings, session_id: int, key: str) -> tuple[TrainingSession, DisplayKey]:
    """The session a projector link shows and the link's claims, if the key is ours, for this
    session, unexpired, its login live and its employee the session's instructor; else the
    refusal (``link_message`` says which, for the page)."""
    claims = read_display_key(settings.keys, key)
    if claims.session_id != session_id:
        raise DomainError(ErrorCode.FORBIDDEN, link_message="projector.other_session")
    if claims.expires_at <= datetime.now(UTC).timestamp():
        raise DomainError(ErrorCode.TOKEN_EXPIRED, link_message="projector.expired")
    login = await AuthSession.filter(
        id=claims.auth_session_id, tenant_id=claims.tenant_id, revoked_at__isnull=True, employee__is_active=True
    ).first()
    if login is None:
        raise DomainError(ErrorCode.UNAUTHENTICATED, link_message="projector.invalid")
    session = await TrainingSession.filter(id=session_id, tenant_id=claims.tenant_id).first()
    if session is None:
        raise DomainError(ErrorCode.NOT_FOUND)
    if session.instructor_id != login.employee_id:
        raise DomainError(ErrorCode.FORBIDDEN, link_message="projector.not_instructor")
    return session, claims
