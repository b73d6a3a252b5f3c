"""The little raw SQL Xuefen writes (upserts the ORM cannot express) works on both engines."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from tortoise.backends.base.client import BaseDBAsyncClient


def placeholders(connection: BaseDBAsyncClient, count: int) -> str:
    """``$1, $2, …`` on PostgreSQL, ``?, ?, …`` on SQLite."""
    if connection.capabilities.dialect == "postgres":
        return ", ".join(f"${i}" for i in range(1, count + 1))
    return ", ".join("?" * count)


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
    """Insert many rows in one statement on PostgreSQL (``INSERT … SELECT FROM unnest(arrays)``,
    several times faster than executemany for hot batches), executemany on SQLite.

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
    arrays = ", ".join(
        f"${i}::{'text' if kind == 'jsonb' else kind}[]" for i, kind in enumerate(columns.values(), start=1)
    )
    selected = ", ".join(f"{name}::jsonb" if kind == "jsonb" else name for name, kind in columns.items())
    statement = (
        f"INSERT INTO {table} ({', '.join(names)}) SELECT {selected} "
        f"FROM unnest({arrays}) AS u({', '.join(names)}) {on_conflict}"
    )
    parameters = [list(column) for column in zip(*rows)]
    if returning:
        # execute_query_dict: Tortoise's asyncpg execute_query drops the rows of … RETURNING.
        return await connection.execute_query_dict(f"{statement} RETURNING {returning}", parameters)
    await connection.execute_query(statement, parameters)
    return []
