"""Shared pieces of the feed row loaders."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from backend.services.viewer import Viewer

Row = dict[str, Any]
# (viewer, entity ids) -> {entity id: the whole current row, or None to send a tombstone}
Loader = Callable[[Viewer, list[str]], Awaitable[dict[str, "Row | None"]]]


def iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def dec(value: Decimal) -> str:
    return str(value)


def ints(ids: list[str]) -> list[int]:
    return [int(i) for i in ids if i.isdigit()]
