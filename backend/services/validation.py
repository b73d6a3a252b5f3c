"""Input checks every service shares, so one rule reads the same everywhere: a VALIDATION error
naming the field, with a reason the caller's language can show."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from backend.errors import DomainError, ErrorCode


def invalid(field: str, reason_key: str = "reason.field", **params: Any) -> DomainError:
    """VALIDATION for ``field``; ``reason_key`` says why (reason.field: "field X is invalid")."""
    return DomainError(ErrorCode.VALIDATION, field=field, reason_key=reason_key, name=field, **params)


def text(value: object, field: str, maximum: int, required: bool = True) -> str:
    """``value`` trimmed; VALIDATION naming ``field`` when it is not text, empty while required,
    longer than ``maximum``, or holds a character no database stores (U+0000, a lone surrogate:
    a spreadsheet cell may, where the GraphQL scalars already refused them)."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise invalid(field)
    value = value.strip()
    if required and not value:
        raise invalid(field, "reason.required")
    if len(value) > maximum:
        raise invalid(field, "reason.too_long", max=maximum)
    if not storable(value):
        raise invalid(field, "reason.text_chars")
    return value


# --- values at the edge ------------------------------------------------------------------------
# Every time, date and decimal a client sends is read by these, once, where it enters (the GraphQL
# scalars, the sync record scalar, imports): strict forms and declared bounds, so no later
# arithmetic (periods, clock correction, tenths) can overflow or meet a value it cannot represent.

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)  # exclusive
EARLIEST_DAY = EARLIEST.date()
LATEST_DAY = date(2199, 12, 31)
DECIMAL_DIGITS = 12  # before the point
DECIMAL_PLACES = 6  # after it

# RFC 3339: ASCII digits, a date, a time and an explicit offset (Z or ±hh:mm).
_MOMENT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?([Zz]|[+-][0-9]{2}:?[0-9]{2})",
    re.ASCII,
)
_LOCAL_MOMENT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?", re.ASCII)
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_DECIMAL = re.compile(rf"[+-]?[0-9]{{1,{DECIMAL_DIGITS}}}(\.[0-9]{{1,{DECIMAL_PLACES}}})?", re.ASCII)


def parse_moment(value: object, field: str = "value") -> datetime:
    """An RFC 3339 time with an offset (``2026-11-30T09:00:00+08:00``), as UTC, between 1900 and
    2199. A time without an offset is refused (reason.offset_required) rather than guessed."""
    if not isinstance(value, str) or len(value) > 40:
        raise invalid(field, "reason.datetime_format")
    text = value[:-1] + "+00:00" if value[-1:] in "Zz" else value
    if not _MOMENT.fullmatch(value):
        raise invalid(field, "reason.offset_required" if _LOCAL_MOMENT.fullmatch(value) else "reason.datetime_format")
    fraction = re.search(r"\.([0-9]+)", text)
    if fraction and len(fraction.group(1)) > 6:  # the standard library reads microseconds at most
        text = text.replace(fraction.group(0), fraction.group(0)[:7], 1)
    try:
        moment = datetime.fromisoformat(text).astimezone(UTC)
    except (ValueError, OverflowError):
        raise invalid(field, "reason.datetime_format") from None
    if not EARLIEST <= moment < LATEST:
        raise invalid(field, "reason.datetime_range")
    return moment


def parse_day(value: object, field: str = "value") -> date:
    """A calendar date ``YYYY-MM-DD`` between 1900-01-01 and 2199-12-31."""
    if not isinstance(value, str) or not _DAY.fullmatch(value):
        raise invalid(field, "reason.date_format")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise invalid(field, "reason.date_format") from None
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise invalid(field, "reason.date_range")
    return day


def parse_decimal(value: object, field: str = "value") -> Decimal:
    """A decimal written the plain way (``12.5``, ``-3``): ASCII digits, at most 12 before the point
    and 6 after, no exponent, spaces, full-width digits, NaN or infinity. A JSON number is read the
    same way (``1e30`` is refused). Services narrow it further (credits take one decimal place)."""
    if isinstance(value, bool):
        raise invalid(field, "reason.decimal_format")
    if isinstance(value, int):
        value = str(value)
    elif isinstance(value, float):
        value = repr(value)
    if not isinstance(value, str) or not _DECIMAL.fullmatch(value):
        raise invalid(field, "reason.decimal_format")
    return Decimal(value)


# Text a database can hold: PostgreSQL stores no U+0000 (in text or jsonb), and no engine stores a
# lone UTF-16 surrogate (not a character: it cannot be encoded as UTF-8).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(value: str) -> bool:
    """Whether ``value`` can be stored as text on every engine."""
    return not _UNSTORABLE.search(value)


def storable_text(value: object, field: str = "value") -> object:
    """``value`` unchanged, or VALIDATION (reason.text_chars) when it is a string that holds U+0000
    or a lone surrogate."""
    if isinstance(value, str) and not storable(value):
        raise invalid(field, "reason.text_chars")
    return value


def storable_json(value: object) -> bool:
    """Whether every string of a JSON value (keys too) can be stored on every engine."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not storable(item):
                return False
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


def storable_copy(value: object) -> object:
    """A copy of a JSON value whose unstorable characters are replaced by U+FFFD (to keep a
    refused record's content as far as it can be kept)."""
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {storable_copy(k): storable_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable_copy(item) for item in value]
    return value
