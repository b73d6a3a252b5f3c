"""Notices written in a transaction of their own: what scheduled jobs use (reminders, targets at
risk, missing evidence), since no fact's transaction carries them.

The same write as ``ChangeSet.publish`` (one statement for all, ``ON CONFLICT DO NOTHING`` on
(recipient, event_key), each new one a feed row of its recipient's), but the caller learns how
many were new: a job reports that, and a rerun with the same ``now`` reports 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from tortoise.transactions import in_transaction

from backend.services.feed import ChangeSet, Entity
from backend.services.notifications import notices
from backend.services.notifications.notices import Notice


async def tell(tenant_id: int, told: Sequence[Notice], now: datetime) -> int:
    """Write ``told`` for one company in one transaction; how many were new."""
    if not told:
        return 0
    async with in_transaction() as connection:
        written = await notices.write(connection, tenant_id, list(told), now)
        changes = ChangeSet(tenant_id)
        for notification_id, recipient_id in written:
            changes.touch(Entity.NOTIFICATION, notification_id, audience=recipient_id)
        await changes.publish(connection, now)
    return len(written)
