"""Input checks every service shares, so one rule reads the same everywhere: a VALIDATION error
naming the field, with a reason the caller's language can show."""

from __future__ import annotations

from typing import Any

from backend.errors import DomainError, ErrorCode


def invalid(field: str, reason_key: str = "reason.field", **params: Any) -> DomainError:
    """VALIDATION for ``field``; ``reason_key`` says why (reason.field: "field X is invalid")."""
    return DomainError(ErrorCode.VALIDATION, field=field, reason_key=reason_key, name=field, **params)


def text(value: str | None, field: str, maximum: int, required: bool = True) -> str:
    """``value`` trimmed; VALIDATION when required and empty, or longer than ``maximum``."""
    value = (value or "").strip()
    if required and not value:
        raise invalid(field, "reason.required")
    if len(value) > maximum:
        raise invalid(field, "reason.too_long", max=maximum)
    return value
