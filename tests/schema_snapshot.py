"""Build a database schema one way and print what it looks like, as JSON (run in a subprocess so
the test session's own Tortoise state is untouched).

    python -m tests.schema_snapshot migrate  URL   # apply the real migrations, then introspect
    python -m tests.schema_snapshot generate URL   # Tortoise's generate_schemas from the models
    python -m tests.schema_snapshot pending        # migrations the models would still need
    python -m tests.schema_snapshot upgrade  URL   # first migration, rows, then all the others
"""

from __future__ import annotations

import asyncio
import json
import sys
from urllib.parse import urlparse

from tortoise import Tortoise, connections
from tortoise.migrations.api import migrate

from backend.db import tortoise_config

_DELETE_RULES = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}


def _sqlite_snapshot(path: str) -> dict:
    import sqlite3

    db = sqlite3.connect(path)
    tables = [
        row[0]
        for row in db.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")
        if row[0] not in ("sqlite_sequence", "tortoise_migrations")
    ]
    snapshot = {}
    for table in tables:
        columns = {
            name: {"type": kind.upper(), "not_null": bool(not_null) or bool(pk), "pk": bool(pk)}
            for _, name, kind, not_null, _, pk in db.execute(f'PRAGMA table_info("{table}")')
        }
        uniques, indexes = [], []
        for _, index, unique, origin, _ in db.execute(f'PRAGMA index_list("{table}")'):
            if origin == "pk":
                continue
            cols = [row[2] for row in db.execute(f'PRAGMA index_info("{index}")')]
            (uniques if unique else indexes).append(cols)
        fks = [[row[3], row[2], row[4], row[6]] for row in db.execute(f'PRAGMA foreign_key_list("{table}")')]
        snapshot[table] = {
            "columns": columns,
            "uniques": sorted(uniques),
            "indexes": sorted(indexes),
            "foreign_keys": sorted(fks),
        }
    # CHECKs live in CREATE TABLE, or in triggers (backend.migration_ops.AddCheckConstraint).
    checks = [
        sql
        for kind, sql in db.execute("SELECT type, sql FROM sqlite_master WHERE type IN ('table', 'trigger')")
        if sql and ("CHECK" in sql or kind == "trigger")
    ]
    return {"tables": snapshot, "check_sql": sorted(checks)}


async def _postgres_snapshot(url: str) -> dict:
    import asyncpg

    parts = urlparse(url)
    conn = await asyncpg.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=parts.username or "postgres",
        database=parts.path.lstrip("/"),
    )
    try:
        snapshot: dict = {}
        for row in await conn.fetch(
            """SELECT table_name, column_name, data_type, character_maximum_length,
                      numeric_precision, numeric_scale, is_nullable
               FROM information_schema.columns WHERE table_schema = 'public'
               AND table_name <> 'tortoise_migrations'
               AND table_name NOT IN (SELECT relname FROM pg_class WHERE relispartition)
               ORDER BY table_name, ordinal_position"""
        ):
            table = snapshot.setdefault(
                row["table_name"], {"columns": {}, "uniques": [], "indexes": [], "foreign_keys": []}
            )
            kind = row["data_type"]
            if row["character_maximum_length"]:
                kind += f"({row['character_maximum_length']})"
            elif kind == "numeric":
                kind += f"({row['numeric_precision']},{row['numeric_scale']})"
            table["columns"][row["column_name"]] = {"type": kind, "not_null": row["is_nullable"] == "NO"}
        for row in await conn.fetch(
            """SELECT t.relname AS table_name, i.indisunique, i.indisprimary,
                      array_agg(a.attname ORDER BY k.ord) AS cols
               FROM pg_index i
               JOIN pg_class t ON t.oid = i.indrelid
               JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = 'public'
               JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true
               JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
               WHERE t.relname <> 'tortoise_migrations' AND NOT t.relispartition
               GROUP BY t.relname, i.indexrelid, i.indisunique, i.indisprimary"""
        ):
            if row["indisprimary"]:
                continue
            key = "uniques" if row["indisunique"] else "indexes"
            snapshot[row["table_name"]][key].append(list(row["cols"]))
        for row in await conn.fetch(
            """SELECT (SELECT relname FROM pg_class WHERE oid = c.conrelid) AS table_name, c.conname,
                      (SELECT relname FROM pg_class WHERE oid = c.confrelid) AS target, c.confdeltype::text AS confdeltype,
                      (SELECT attname FROM pg_attribute WHERE attrelid = c.conrelid
                        AND attnum = c.conkey[1]) AS col,
                      (SELECT attname FROM pg_attribute WHERE attrelid = c.confrelid
                        AND attnum = c.confkey[1]) AS target_col
               FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
               WHERE n.nspname = 'public' AND c.contype = 'f'
               AND NOT (SELECT relispartition FROM pg_class WHERE oid = c.conrelid)"""
        ):
            snapshot[row["table_name"]]["foreign_keys"].append(
                [row["col"], row["target"], row["target_col"], _DELETE_RULES[row["confdeltype"]]]
            )
        for table in snapshot.values():
            for key in ("uniques", "indexes", "foreign_keys"):
                table[key].sort()
        checks = sorted(
            r["conname"]
            for r in await conn.fetch(
                "SELECT conname FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
                "WHERE n.nspname = 'public' AND contype = 'c'"
            )
        )
        return {"tables": snapshot, "check_names": checks}
    finally:
        await conn.close()


async def _snapshot(url: str) -> dict:
    if url.startswith("sqlite://"):
        return _sqlite_snapshot(url[len("sqlite://") :])
    return await _postgres_snapshot(url)


async def _pending() -> list[str]:
    from tortoise.migrations.autodetector import MigrationAutodetector

    config = tortoise_config("sqlite://:memory:")
    await Tortoise.init(config=config)
    try:
        writers = await MigrationAutodetector(Tortoise.apps, config["apps"]).changes()
        return [f"{w.app_label}.{w.name}: {len(w.operations)} operation(s)" for w in writers]
    finally:
        await connections.close_all()


async def _upgrade_with_rows(url: str) -> dict:
    """Apply the first migration, add a company with an employee in plain SQL (so this keeps
    working whatever the models become), apply the rest, and count what survived."""
    config = tortoise_config(url)
    await migrate(config=config, target="xuefen.0001_initial")
    await connections.close_all()
    await Tortoise.init(config=config)
    db = connections.get("default")
    now = "2026-01-01 00:00:00+00:00"
    await db.execute_query(
        "INSERT INTO tenant (created_at, updated_at, code, name, default_locale) "
        f"VALUES ('{now}', '{now}', 'upgrade', '升级测试公司', 'zh-CN')"
    )
    await db.execute_query(
        "INSERT INTO employee (created_at, updated_at, tenant_id, employee_no, name, password_hash,"
        f" is_active) SELECT '{now}', '{now}', id, 'E0001', '张三', 'x', TRUE FROM tenant"
    )
    await connections.close_all()
    await migrate(config=config)
    await connections.close_all()
    await Tortoise.init(config=config)
    db = connections.get("default")
    counts = {}
    for table in ("tenant", "employee"):
        _, rows = await db.execute_query(f"SELECT COUNT(*) AS n FROM {table}")
        counts[table] = rows[0]["n"]
    await connections.close_all()
    return counts


async def main(mode: str, url: str | None) -> None:
    if mode == "pending":
        print(json.dumps(await _pending()))
        return
    assert url
    if mode == "upgrade":
        print(json.dumps(await _upgrade_with_rows(url)))
        return
    if mode == "migrate":
        await migrate(config=tortoise_config(url))
        await connections.close_all()
    elif mode == "generate":
        await Tortoise.init(config=tortoise_config(url))
        await Tortoise.generate_schemas()
        await connections.close_all()
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(json.dumps(await _snapshot(url), ensure_ascii=False, sort_keys=True))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None))
