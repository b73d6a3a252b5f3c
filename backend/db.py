"""Tortoise configuration and lifecycle.

``TORTOISE_ORM`` (read from the environment at import) is what the ``tortoise`` CLI uses
(``tortoise makemigrations`` / ``migrate``); the app and tests call ``tortoise_config`` with their
own URL.
"""

from __future__ import annotations

from typing import Any

from tortoise import Tortoise, connections
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.migrations.api import migrate as run_migrations

from backend.config import Settings

MODEL_MODULES = ["backend.models"]


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


TORTOISE_ORM = tortoise_config(Settings.from_env().database_url)


async def init_db(settings: Settings) -> None:
    """Open connections (no schema changes: those go through migrations)."""
    await Tortoise.init(config=tortoise_config(settings.database_url, settings.db_pool_max))


async def close_db() -> None:
    await connections.close_all()


async def migrate(settings: Settings) -> None:
    """Apply every pending migration (``xuefen migrate``)."""
    await run_migrations(config=tortoise_config(settings.database_url, settings.db_pool_max))
    await connections.close_all()


def is_postgres() -> bool:
    """Whether the default connection is PostgreSQL (a few queries differ per dialect)."""
    return connections.get("default").capabilities.dialect == "postgres"
