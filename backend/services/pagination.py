"""Keyset pagination for every list: one ``Page[T]`` shape and one ``Keyset`` per ordering.

A cursor is the sort key of the last row seen, so a page costs one indexed range query however
deep it is, and rows inserted meanwhile never shift the pages. A list declares its ordering once
(``Keyset("session", ("starts_at", "id"), (datetime, int))``) and uses it to read ``after``,
narrow the query, order it and cut the page; ``schema.connection.Connection`` turns any ``Page``
into a Relay connection.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

import orjson
from tortoise.expressions import Q

from backend.errors import DomainError, ErrorCode
from backend.services.validation import EARLIEST, LATEST, parse_decimal, storable
from backend.sql import Params

_PREFIX = "xf1:"

T = TypeVar("T")


def encode_cursor(kind: str, key: list[Any]) -> str:
    """An opaque cursor for the row with sort key ``key`` in list ``kind``."""
    try:
        raw = orjson.dumps([kind, key])  # compact UTF-8, as json.dumps below (a cursor is on every page)
    except TypeError:  # beyond orjson: an int over 64 bits, a lone surrogate
        raw = json.dumps([kind, key], ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(_PREFIX.encode() + raw).decode("ascii").rstrip("=")


def bad_cursor() -> DomainError:
    return DomainError(ErrorCode.VALIDATION, field="after", reason_key="reason.bad_cursor")


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
        raise bad_cursor() from exc


def check_page_size(first: int, maximum: int) -> int:
    if first < 0 or first > maximum:
        raise DomainError(ErrorCode.VALIDATION, field="first", reason_key="reason.page_size", max=maximum)
    return first


@dataclass
class Page(Generic[T]):
    """One page of a list, with what a Relay connection needs. ``count_total`` counts every page
    of the list and is awaited only when a client asks for ``totalCount``."""

    items: list[T]
    has_next_page: bool
    has_previous_page: bool
    cursor_of: Callable[[T], str]
    count_total: Callable[[], Awaitable[int]]


def whole_list_count(
    after: str | None, has_next_page: bool, items: list[Any], count_total: Callable[[], Awaitable[int]]
) -> Callable[[], Awaitable[int]]:
    """``count_total``, or, when the page is the whole list (no cursor, no next page), its own
    length: the count is then known without a statement (a small catalog, a new employee's ledger)."""
    if after or has_next_page:
        return count_total
    count = len(items)

    async def known() -> int:
        return count

    return known


class BigInt(int):
    """The type of a sort field held in a 64-bit column (``BigIntField``); plain ``int`` is a 32-bit
    one. Only the bound a cursor is read with differs."""


_INT_BITS = {int: 32, BigInt: 64}


def _read(value: Any, kind: type) -> Any:
    """One element of a decoded key, checked against the type the list sorts by and against what
    its column can hold: a cursor is client input, and a key no row can have (an id beyond the
    column, a text with U+0000, a time outside 1900–2199) would fail in the database instead."""
    if kind is datetime:
        if not isinstance(value, str):
            raise ValueError(value)
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None or not EARLIEST <= moment < LATEST:
            raise ValueError(value)
        return moment
    if kind is date:  # a calendar day (certificates' expiry), as _write gives it
        if not isinstance(value, str):
            raise ValueError(value)
        return date.fromisoformat(value)
    if kind in _INT_BITS:
        limit = 2 ** (_INT_BITS[kind] - 1)
        if isinstance(value, bool) or not isinstance(value, int) or not -limit <= value < limit:
            raise ValueError(value)
        return value
    if kind is Decimal:
        return parse_decimal(value if isinstance(value, str) else None, "after")
    if not isinstance(value, kind) or (isinstance(value, str) and not storable(value)):
        raise ValueError(value)
    return value


def _write(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


class Keyset(Generic[T]):
    """How one list is ordered: its cursor kind, the fields of its sort key (unique together, the
    last one usually the id), their Python types (``int`` for a 32-bit column, ``BigInt`` for a
    64-bit one: a cursor is read within what the column holds) and the direction.

    ``key`` reads an item's sort key; by default the fields as attributes of the item."""

    def __init__(
        self,
        kind: str,
        fields: Sequence[str],
        types: Sequence[type],
        *,
        descending: bool = False,
        key: Callable[[T], Sequence[Any]] | None = None,
    ) -> None:
        assert len(fields) == len(types)
        self.kind = kind
        self.fields = tuple(fields)
        self.types = tuple(types)
        self.descending = descending
        self._key = key or (lambda item: [getattr(item, name) for name in self.fields])

    def cursor_of(self, item: T) -> str:
        return encode_cursor(self.kind, [_write(value) for value in self._key(item)])

    def decode(self, after: str) -> list[Any]:
        """The sort key of ``after``, each element of the list's types; else ``VALIDATION``."""
        raw = decode_cursor(self.kind, after, len(self.fields))
        try:
            return [_read(value, kind) for value, kind in zip(raw, self.types)]
        except (ValueError, TypeError, OverflowError, DomainError) as exc:
            raise bad_cursor() from exc

    def after(self, after: str) -> Q:
        """A condition for the rows after ``after``: (a > x) or (a = x and b > y) …"""
        key = self.decode(after)
        step = "lt" if self.descending else "gt"
        condition: Q | None = None
        for index in range(len(self.fields) - 1, -1, -1):
            here = Q(**{f"{self.fields[index]}__{step}": key[index]})
            if condition is not None:
                here = here | Q(Q(**{self.fields[index]: key[index]}), condition)
            condition = here
        assert condition is not None
        return condition

    def sql_after(self, p: Params, after: str, alias: str = "") -> str:
        """``after`` as a condition of plain SQL on the sort fields as columns of ``alias``,
        exactly as ``after`` writes it for the ORM; else ``VALIDATION``."""
        key = self.decode(after)
        step = "<" if self.descending else ">"
        condition = ""
        for index in range(len(self.fields) - 1, -1, -1):
            column = f"{alias}{self.fields[index]}"
            here = f"{column} {step} {p(key[index])}"
            if condition:
                here = f"({here} OR ({column} = {p(key[index])} AND {condition}))"
            condition = here
        return condition

    def sql_order(self, alias: str = "") -> str:
        """The list's order as an ORDER BY list of plain SQL."""
        direction = " DESC" if self.descending else ""
        return ", ".join(f"{alias}{name}{direction}" for name in self.fields)

    def order_by(self) -> list[str]:
        return [f"-{name}" if self.descending else name for name in self.fields]

    def page(
        self,
        rows: Sequence[T],
        first: int,
        after: str | None,
        count_total: Callable[[], Awaitable[int]],
    ) -> Page[T]:
        """The page from ``first + 1`` rows fetched after ``after`` (the extra row says whether
        another page follows)."""
        items, has_next = list(rows[:first]), len(rows) > first
        return Page(items, has_next, bool(after), self.cursor_of, whole_list_count(after, has_next, items, count_total))

    async def fetch(self, query: Any, first: int, after: str | None) -> Page[T]:
        """One page of an ORM query in this order; ``totalCount`` counts the query as given."""
        filtered = query
        if after:
            query = query.filter(self.after(after))
        rows = await query.order_by(*self.order_by()).limit(first + 1)
        return self.page(rows, first, after, filtered.count)
