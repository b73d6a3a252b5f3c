"""The bulk statements of an import's write phase, on both engines: rows updated by id from a
list of new values in one statement per chunk, and audit entries appended many at a time
(``backend.services.audit.audit_many``). (Inserts use ``backend.sql.insert_many``.)"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from backend.services.audit import audit_many
from backend.sql import Params

# SQLite allows 32,766 parameters a statement; stay far below, like insert_many.
_SQLITE_PARAMETERS = 900


async def update_by_id(
    connection: BaseDBAsyncClient,
    table: str,
    columns: dict[str, str],
    rows: Sequence[tuple[int, dict[str, Any]]],
    now: datetime,
) -> None:
    """Set ``columns`` (name → PostgreSQL type) of each row ``(id, values)`` and its updated_at,
    in one statement (PostgreSQL: ``FROM unnest(arrays)``; SQLite: ``FROM`` a ``VALUES`` list, in
    chunks under its parameter limit)."""
    if not rows:
        return
    names = list(columns)
    assignments = ", ".join(f"{name} = v.{name}" for name in names)
    if connection.capabilities.dialect == "postgres":
        params = Params(connection)
        arrays = [params([row_id for row_id, _ in rows])]
        arrays += [params([values[name] for _, values in rows]) for name in names]
        types = ["int", *columns.values()]
        unnest = ", ".join(f"{array}::{kind}[]" for array, kind in zip(arrays, types))
        await connection.execute_query(
            f"UPDATE {table} AS t SET {assignments}, updated_at = {params(now)} "
            f"FROM unnest({unnest}) AS v(id, {', '.join(names)}) WHERE t.id = v.id",
            params.values,
        )
        return
    per_chunk = max(1, _SQLITE_PARAMETERS // (len(names) + 1))
    for start in range(0, len(rows), per_chunk):
        params = Params(connection)
        tuples = ", ".join(
            "(" + ", ".join([params(row_id), *(params(values[name]) for name in names)]) + ")"
            for row_id, values in rows[start : start + per_chunk]
        )
        await connection.execute_query(
            f"WITH v(id, {', '.join(names)}) AS (VALUES {tuples}) "
            f"UPDATE {table} SET {assignments}, updated_at = {params(now)} FROM v WHERE {table}.id = v.id",
            params.values,
        )


insert_audit = audit_many  # the audit log's own bulk append
