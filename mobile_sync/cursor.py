"""Pull cursors: opaque, signed, and bound to one tenant and employee.

A cursor is ``v1.<payload>.<mac>``: base64url JSON ``[tenant, employee, seq]`` and an HMAC-SHA256
(truncated to 128 bits) under the server secret. A client can store and replay it, not forge or
borrow one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json

from backend.errors import DomainError, ErrorCode

_VERSION = "v1"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, payload: str) -> str:
    digest = hmac.new(secret.encode(), f"{_VERSION}.{payload}".encode(), hashlib.sha256).digest()
    return _b64(digest[:16])


def encode(secret: str, tenant_id: int, employee_id: int, seq: int) -> str:
    payload = _b64(json.dumps([tenant_id, employee_id, seq], separators=(",", ":")).encode())
    return f"{_VERSION}.{payload}.{_mac(secret, payload)}"


def decode(secret: str, cursor: str, tenant_id: int, employee_id: int) -> int:
    """The feed position in ``cursor``; ``CURSOR_INVALID`` unless we issued it to this viewer."""
    try:
        version, payload, mac = cursor.split(".")
        if version != _VERSION or not hmac.compare_digest(mac, _mac(secret, payload)):
            raise ValueError("signature")
        tenant, employee, seq = json.loads(_unb64(payload))
        if (tenant, employee) != (tenant_id, employee_id) or not isinstance(seq, int) or seq < 0:
            raise ValueError("owner")
        return seq
    except (ValueError, TypeError, binascii.Error, UnicodeError) as exc:
        raise DomainError(ErrorCode.CURSOR_INVALID, field="cursor") from exc
