"""The little raw SQL Xuefen writes (upserts the ORM cannot express) works on both engines."""

from __future__ import annotations

from datetime import datetime

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
