"""The little raw SQL Xuefen writes (upserts the ORM cannot express) works on both engines."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import orjson
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import OperationalError
from tortoise.queryset import QuerySet


def placeholders(connection: BaseDBAsyncClient, count: int) -> str:
    """``$1, $2, …`` on PostgreSQL, ``?, ?, …`` on SQLite."""
    if connection.capabilities.dialect == "postgres":
        return ", ".join(f"${i}" for i in range(1, count + 1))
    return ", ".join("?" * count)


def db_day(connection: BaseDBAsyncClient, day: date | None) -> object:
    """A date parameter as Tortoise itself stores it on this engine (ISO text on SQLite)."""
    if day is None or connection.capabilities.dialect == "postgres":
        return day
    return day.isoformat()


def db_time(connection: BaseDBAsyncClient, moment: datetime | None) -> object:
    """A timestamp parameter as Tortoise itself stores it on this engine."""
    if moment is None or connection.capabilities.dialect == "postgres":
        return moment
    return moment.isoformat(sep=" ")


class Params:
    """Collects the parameters of one raw statement and names each one's placeholder (``?n`` on
    SQLite, ``$n`` on PostgreSQL), so statements read in order instead of by index."""

    def __init__(self, connection: BaseDBAsyncClient) -> None:
        self.connection = connection
        self.values: list[Any] = []
        self._postgres = connection.capabilities.dialect == "postgres"

    def __call__(self, value: Any) -> str:
        if isinstance(value, datetime):
            value = db_time(self.connection, value.astimezone(UTC))
        self.values.append(value)
        # Numbered on both engines (SQLite reads ?NNN), so a placeholder may be used twice.
        return f"${len(self.values)}" if self._postgres else f"?{len(self.values)}"

    def among(self, values: Sequence[Any], kind: str) -> str:
        """``IN (…)`` of ``values`` (PostgreSQL type ``kind``): ``= ANY($n::kind[])``, one
        parameter, on PostgreSQL (one statement text whatever the count, so it is prepared once);
        ``IN (?n, …)`` on SQLite."""
        if self._postgres:
            return f"= ANY({self(list(values))}::{kind}[])"
        return f"IN ({', '.join(self(value) for value in values)})"

    def rows(self, rows: Sequence[tuple], kinds: Sequence[str]) -> str:
        """A table of ``rows`` (at least one; columns of PostgreSQL types ``kinds``) for ``WITH t(a, b) AS (…)``:
        ``SELECT * FROM unnest($n::kind[], …)`` on PostgreSQL, ``VALUES (?n, …), …`` on SQLite."""
        if self._postgres:
            columns = zip(*rows, strict=True)
            arrays = ", ".join(f"{self(list(column))}::{kind}[]" for column, kind in zip(columns, kinds, strict=True))
            return f"SELECT * FROM unnest({arrays})"
        return "VALUES " + ", ".join("(" + ", ".join(self(value) for value in row) + ")" for row in rows)


async def fetch_rows(connection: BaseDBAsyncClient, sql: str, values: Sequence[Any]) -> Sequence[Any]:
    """Rows read by key (``row["name"]``) for a statement returning many of them: asyncpg's own
    records on PostgreSQL, which skip Tortoise's copy of every row into a dict (≈ 100 ms of a
    20,000-row read); dicts on SQLite."""
    if connection.capabilities.dialect != "postgres":
        return await connection.execute_query_dict(sql, list(values))
    async with connection.acquire_connection() as raw:
        try:
            rows: Sequence[Any] = await raw.fetch(sql, *values)
        except asyncpg.PostgresError as error:  # as Tortoise's own calls raise it
            raise OperationalError(error) from error
        return rows


def db_uuid(connection: BaseDBAsyncClient, value: UUID) -> object:
    """A UUID parameter: native on PostgreSQL, text (as Tortoise stores it) on SQLite."""
    return value if connection.capabilities.dialect == "postgres" else str(value)


async def insert_many(
    connection: BaseDBAsyncClient,
    table: str,
    columns: dict[str, str],
    rows: list[tuple],
    on_conflict: str = "",
    returning: str = "",
) -> list[dict]:
    """Insert many rows in one statement on PostgreSQL, executemany on SQLite.

    On PostgreSQL the rows travel as one JSON array of arrays, read back column by column
    (``INSERT … SELECT (r->>0)::int, … FROM jsonb_array_elements($1)``): orjson writes it several
    times faster than asyncpg encodes one typed array per column (``unnest``), which showed in a
    500-record push, and the server reads it as fast.

    ``columns`` maps each column to its PostgreSQL type; ``jsonb`` columns take JSON text. With
    ``returning`` (a column list) the inserted rows' columns come back, on both engines.
    """
    if not rows:
        return []
    names = list(columns)
    if connection.capabilities.dialect != "postgres":
        if not returning:
            await connection.execute_many(
                f"INSERT INTO {table} ({', '.join(names)}) VALUES ({placeholders(connection, len(names))}) {on_conflict}",
                [list(row) for row in rows],
            )
            return []
        # Multi-row VALUES with RETURNING, in chunks that stay under SQLite's parameter limit.
        found: list[dict] = []
        per_chunk = max(1, 900 // len(names))
        row_marks = "(" + ", ".join("?" * len(names)) + ")"
        for start in range(0, len(rows), per_chunk):
            chunk = rows[start : start + per_chunk]
            found += await connection.execute_query_dict(
                f"INSERT INTO {table} ({', '.join(names)}) VALUES {', '.join([row_marks] * len(chunk))} "
                f"{on_conflict} RETURNING {returning}",
                [value for row in chunk for value in row],
            )
        return found
    selected = ", ".join(_read_json_column(index, kind) for index, kind in enumerate(columns.values()))
    statement = (
        f"INSERT INTO {table} ({', '.join(names)}) SELECT {selected} "
        f"FROM jsonb_array_elements($1::jsonb) AS r {on_conflict}"
    )
    parameters = [json_rows(rows)]
    if returning:
        # execute_query_dict: Tortoise's asyncpg execute_query drops the rows of … RETURNING.
        return await connection.execute_query_dict(f"{statement} RETURNING {returning}", parameters)
    await connection.execute_query(statement, parameters)
    return []


def json_rows(rows: list[tuple] | list[list]) -> str:
    """Rows as one JSON array of arrays, for ``jsonb_array_elements`` (see ``insert_many``):
    times in RFC 3339 (a time without a zone is UTC, as Tortoise stores it), UUIDs and decimals
    as text (read back exactly by their casts), JSON columns as their text."""
    return orjson.dumps(rows, default=_json_default, option=orjson.OPT_NAIVE_UTC).decode()


def _json_default(value: Any) -> str:
    if isinstance(value, (Decimal, UUID)):  # UUID: asyncpg's own subclass, read from a row
        return str(value)
    raise TypeError(f"{type(value).__name__} is not a column value")


def _read_json_column(index: int, kind: str) -> str:
    """Column ``index`` of a row ``r`` of ``json_rows``, as the column's type (JSON null is NULL)."""
    if kind == "text":
        return f"r->>{index}"
    return f"(r->>{index})::{kind}"


async def values_of(query: QuerySet[Any], *fields: str) -> list[dict[str, Any]]:
    """``await query.values(*fields)`` that keeps the query's ``select_for_update()``: tortoise
    (1.1) leaves FOR UPDATE out of a ``values()`` or ``values_list()`` query without a word, so a
    row "locked" that way is not locked at all. A locking query reads the fields through
    ``only()`` instead: the same one statement, with its lock (tests/conftest.py refuses the other
    spelling)."""
    if not getattr(query, "_select_for_update", False):
        return list(await query.values(*fields))
    return [{field: getattr(row, field) for field in fields} for row in await query.only(*fields)]


async def values_list_of(query: QuerySet[Any], *fields: str) -> list[tuple[Any, ...]]:
    """``await query.values_list(*fields)`` that keeps the query's lock, as ``values_of``."""
    return [tuple(row[field] for field in fields) for row in await values_of(query, *fields)]
