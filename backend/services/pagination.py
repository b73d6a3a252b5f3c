"""Keyset pagination: opaque cursors and page-size checks shared by every list.

A cursor is the sort key of the last row seen, so a page costs one indexed range query however
deep it is, and rows inserted meanwhile never shift the pages.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from backend.errors import DomainError, ErrorCode

_PREFIX = "xf1:"


def encode_cursor(kind: str, key: list[Any]) -> str:
    """An opaque cursor for the row with sort key ``key`` in list ``kind``."""
    raw = json.dumps([kind, key], ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(_PREFIX.encode() + raw).decode("ascii").rstrip("=")


def decode_cursor(kind: str, cursor: str, arity: int) -> list[Any]:
    """The sort key inside ``cursor``; ``VALIDATION`` for anything we did not issue for ``kind``."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.urlsafe_b64decode(padded.encode("ascii"))
        if not raw.startswith(_PREFIX.encode()):
            raise ValueError("prefix")
        cursor_kind, key = json.loads(raw[len(_PREFIX) :].decode("utf-8"))
        if cursor_kind != kind or not isinstance(key, list) or len(key) != arity:
            raise ValueError("shape")
        return key
    except (ValueError, TypeError, binascii.Error, UnicodeError) as exc:
        raise DomainError(ErrorCode.VALIDATION, field="after", reason_key="reason.bad_cursor") from exc


def check_page_size(first: int, maximum: int) -> int:
    if first < 0 or first > maximum:
        raise DomainError(
            ErrorCode.VALIDATION, field="first", reason_key="reason.page_size", max=maximum
        )
    return first
