"""Tortoise configuration and lifecycle.

``TORTOISE_ORM`` (read from the environment when first asked for, not at import: importing this
module must not refuse a production environment before a command such as ``xuefen keys generate``
or ``--help`` runs) is what the ``tortoise`` CLI uses
(``tortoise makemigrations`` / ``migrate``); the app and tests call ``tortoise_config`` with their
own URL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tortoise import Tortoise, connections
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.migrations.api import migrate as run_migrations

from backend.config import Settings
from backend.startup import check_database, postgres_connection, require_migrated

MODEL_MODULES = ["backend.models"]
# The PostgreSQL advisory lock `xuefen migrate` holds while it migrates (an arbitrary constant).
MIGRATION_LOCK = 0x7875_6566_6E  # "xuefn"


def tortoise_config(database_url: str, pool_max: int = 10) -> dict[str, Any]:
    """The Tortoise config dict for one database URL (SQLite or PostgreSQL)."""
    connection = expand_db_url(database_url)
    if connection["engine"].endswith("asyncpg"):
        connection["credentials"].setdefault("minsize", 1)
        connection["credentials"].setdefault("maxsize", pool_max)
        connection["credentials"]["reset"] = _keep_session
        # No JIT: PostgreSQL compiles plans above jit_above_cost, which here means the reports'
        # statements, and compiling cost more than it saved (+120 ms on a company-wide
        # training-effect report, bench/reports.py); Xuefen's other statements never reach it.
        connection["credentials"].setdefault("server_settings", {})["jit"] = "off"
    return {
        "connections": {"default": connection},
        "apps": {
            "xuefen": {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": "backend.migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def _keep_session(connection: Any) -> None:
    """What the pool does to a connection handed back, after asyncpg's own rollback of a
    transaction left open: nothing. asyncpg's default also runs ``pg_advisory_unlock_all(); CLOSE
    ALL; UNLISTEN *; RESET ALL`` — a round trip after every query (≈ 4% of a page) to undo
    session state Xuefen never creates: it takes no advisory locks, declares no cursors, LISTENs
    to nothing and SETs nothing outside a transaction (tests/test_operations.py checks the code)."""


def __getattr__(name: str) -> Any:
    """``TORTOISE_ORM`` for the ``tortoise`` CLI, built from the environment on first use."""
    if name == "TORTOISE_ORM":
        return tortoise_config(Settings.from_env().database_url)
    raise AttributeError(name)


async def init_db(settings: Settings) -> None:
    """Open connections (no schema changes: those go through migrations). The database is probed
    first, so an unusable or un-migrated one ends the command with one line (backend/startup.py)."""
    require_migrated(settings, await check_database(settings))
    await Tortoise.init(config=tortoise_config(settings.database_url, settings.db_pool_max))


async def close_db() -> None:
    await connections.close_all()


async def migrate(settings: Settings, progress: Callable[[str, str], object] | None = None) -> list[str]:
    """Apply every pending migration (``xuefen migrate``); the names applied, in order.
    ``progress(event, name)`` hears "apply_start" and "apply_done" for each (the CLI prints them).
    The database is probed first: tortoise's SQLite client hangs on a file it cannot open."""
    await check_database(settings)
    applied: list[str] = []
    # PostgreSQL: one `xuefen migrate` at a time (several containers may start together); the
    # others wait here, then find nothing left to apply.
    lock = await postgres_connection(settings.database_url) if not settings.is_sqlite else None
    if lock is not None:
        await lock.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)

    def on_event(event: str, app_label: str, name: str) -> None:
        if event == "apply_done":
            applied.append(name)
        if progress is not None:
            progress(event, name)

    try:
        await run_migrations(config=tortoise_config(settings.database_url, settings.db_pool_max), progress=on_event)
    finally:
        await connections.close_all()
        if lock is not None:
            await lock.close()  # ends the session: the lock goes with it
    return applied


def is_postgres() -> bool:
    """Whether the default connection is PostgreSQL (a few queries differ per dialect)."""
    return connections.get("default").capabilities.dialect == "postgres"
