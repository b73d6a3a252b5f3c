"""Signed values the server hands out and takes back (pull cursors, projector links):
``<kind>.<base64url JSON list>.<mac>``, the MAC an HMAC-SHA256 under the server secret over kind
and payload, truncated to 128 bits. The kind is part of what is signed, so one kind of value can
never pass for another. A client can store and replay them, not forge or alter them.

Key rotation (backend/keyring.py): ``sign`` uses the ring's current key; ``unsign`` accepts a MAC
under any key of the ring. The value names no key: the ring has a few keys and trying each costs
an HMAC, while keeping the format means values signed before rotation existed (a phone's stored
cursor) still read, and so does a new value on a server process not yet upgraded. A value whose
key has left the ring fails exactly like a forged one (its caller's refusal: a cursor's is
CURSOR_INVALID, which makes the phone pull from the start).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
from datetime import datetime
from typing import Any

from backend.keyring import KeyRing

# A ring, or a single key (a ring of one: tests and tools that sign with one key).
Keys = KeyRing | str


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _mac(secret: str, kind: str, payload: str) -> str:
    digest = hmac.new(secret.encode(), f"{kind}.{payload}".encode(), hashlib.sha256).digest()
    return _b64(digest[:16])


def expiry(now: datetime, ttl_seconds: int) -> int:
    """The Unix second a value signed at ``now`` expires: rounded up, so a value lives at least
    ``ttl_seconds`` (rounding down would cut up to a second off, all of a one-second lifetime)."""
    return math.ceil(now.timestamp()) + ttl_seconds


def sign(keys: Keys, kind: str, fields: list[Any]) -> str:
    """``fields`` (JSON-ready) signed as a value of ``kind`` under the current key."""
    payload = _b64(json.dumps(fields, separators=(",", ":")).encode())
    return f"{kind}.{payload}.{_mac(KeyRing.of(keys).current, kind, payload)}"


def unsign(keys: Keys, kind: str, value: str) -> list[Any]:
    """The fields of a ``kind`` value signed under any key of ``keys``; ValueError for anything else."""
    try:
        found, payload, mac = value.split(".")
        if found != kind or not any(
            hmac.compare_digest(mac.encode(), _mac(secret, kind, payload).encode()) for secret in KeyRing.of(keys).all
        ):
            raise ValueError("signature")
        fields = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (TypeError, binascii.Error, UnicodeError) as exc:
        raise ValueError("malformed") from exc
    if not isinstance(fields, list):
        raise ValueError("malformed")
    return fields
