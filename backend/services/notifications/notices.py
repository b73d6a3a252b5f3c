"""A notice: one event to tell one person, written by the transaction of the fact that causes it.

A writer adds notices to its ``ChangeSet`` (``changes.notify(Notice(...))``); ``publish``, the last
step of every writing transaction, inserts them with one statement (``write``) before it numbers
the feed, so a notification exists exactly when its fact does and reaches the recipient's phones
with it. A notice whose (recipient, event_key) was already written is dropped by the database's
unique key: a fact applied twice, or a scheduled job run by two workers, tells a person once.

This module imports no domain service (the feed imports it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from tortoise.backends.base.client import BaseDBAsyncClient

from backend.models import NotificationKind
from backend.sql import db_time, insert_many


@dataclass(frozen=True)
class Notice:
    """``event_key`` names the event (``"enrollment:12:APPROVED"``): the same key for the same
    person is the same notification. ``params`` fill the kind's template (plain JSON values; a
    time as ISO 8601 text, shown in the recipient's zone). ``subject_id`` is the global ID the app
    opens. Outbound deliveries are skipped after ``expires_at`` (a reminder of a session that has
    begun)."""

    kind: NotificationKind
    recipient_id: int
    event_key: str
    params: dict[str, Any] = field(default_factory=dict)
    subject_id: str | None = None
    expires_at: datetime | None = None


_COLUMNS = {
    "tenant_id": "int",
    "recipient_id": "int",
    "kind": "text",
    "event_key": "text",
    "params": "jsonb",
    "subject_id": "text",
    "expires_at": "timestamptz",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
}


async def write(
    connection: BaseDBAsyncClient, tenant_id: int, notices: list[Notice], now: datetime
) -> list[tuple[int, int]]:
    """Insert the notices that are new; returns (notification id, recipient id) of each."""
    unique: dict[tuple[int, str], Notice] = {}
    for notice in notices:
        unique.setdefault((notice.recipient_id, notice.event_key[:200]), notice)
    if not unique:
        return []
    at = db_time(connection, now)
    rows = [
        (
            tenant_id,
            notice.recipient_id,
            notice.kind.value,
            key,
            orjson.dumps(notice.params).decode(),
            notice.subject_id,
            db_time(connection, notice.expires_at),
            at,
            at,
        )
        for (_, key), notice in unique.items()
    ]
    found = await insert_many(
        connection,
        "notification",
        _COLUMNS,
        rows,
        on_conflict="ON CONFLICT (tenant_id, recipient_id, event_key) DO NOTHING",
        returning="id, recipient_id",
    )
    return [(int(row["id"]), int(row["recipient_id"])) for row in found]
