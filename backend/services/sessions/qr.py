"""Rotating check-in codes: a TOTP-like token per session and time step.

``XF1-<session>-<step>-<mac>``: the session id and the time step in base 36, and the first 10
bytes of HMAC-SHA256(session secret, "tenant.session.step") in base 32. Upper-case letters,
digits and "-" only, so a QR code can use its dense alphanumeric mode (version 3, readable from
the back of a room). The instructor's app computes the same tokens offline from the kit; the
server checks them against the corrected scan time, so a code copied into a chat expires with its
step, and a phone that scanned offline is judged by when it scanned.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime

from backend.errors import DomainError, ErrorCode

PREFIX = "XF1"
MAC_BYTES = 10
_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


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
    return hmac.compare_digest(_mac(secret, tenant_id, session_id, step), mac)
