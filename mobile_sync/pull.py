"""Pull: the change feed a viewer may see, after a signed cursor, in feed-number order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backend.config import Settings
from backend.errors import DomainError, ErrorCode
from backend.models import Device, SyncChange
from backend.services.feed import EVERYONE, Entity, feed_head
from backend.services.viewer import Viewer
from mobile_sync import cursor as cursors
from mobile_sync.entities import LOADERS, public_id
from mobile_sync.protocol import MAX_PULL_LIMIT, check_version


@dataclass(frozen=True)
class FeedItem:
    """One change: the whole current row, or a tombstone (``data`` None)."""

    entity: Entity
    id: str
    data: dict[str, Any] | None

    @property
    def deleted(self) -> bool:
        return self.data is None


@dataclass(frozen=True)
class PullPage:
    changes: list[FeedItem]
    cursor: str
    has_more: bool
    applied_seq: int


async def pull(
    settings: Settings,
    viewer: Viewer,
    protocol_version: int,
    device_id: str,
    cursor: str | None,
    limit: int,
) -> PullPage:
    """The next page of changes after ``cursor`` (the beginning when None: a snapshot)."""
    check_version(protocol_version)
    if device_id != viewer.device_uid:
        raise DomainError(ErrorCode.DEVICE_MISMATCH)
    if not 1 <= limit <= MAX_PULL_LIMIT:
        raise DomainError(ErrorCode.VALIDATION, field="limit", reason_key="reason.page_size", max=MAX_PULL_LIMIT)
    position = 0
    if cursor:
        position = cursors.decode(settings.secret_key, cursor, viewer.tenant_id, viewer.employee_id)
        _, purged_through = await feed_head(viewer.tenant_id)
        if position < purged_through:
            raise DomainError(ErrorCode.RESET_REQUIRED)
    rows = (
        await SyncChange.filter(
            tenant_id=viewer.tenant_id, seq__gt=position, audience__in=[EVERYONE, viewer.employee_id]
        )
        .order_by("seq")
        .limit(limit + 1)
        .values_list("seq", "entity", "entity_id", "deleted")
    )
    page, has_more = rows[:limit], len(rows) > limit
    current = await _current_rows(viewer, page)
    changes = [
        FeedItem(
            Entity(entity), public_id(Entity(entity), entity_id), None if deleted else current[(entity, entity_id)]
        )
        for _, entity, entity_id, deleted in page
    ]
    last = page[-1][0] if page else position
    device = await Device.get_or_none(tenant_id=viewer.tenant_id, employee_id=viewer.employee_id, device_uid=device_id)
    return PullPage(
        changes=changes,
        cursor=cursors.encode(settings.secret_key, viewer.tenant_id, viewer.employee_id, last),
        has_more=has_more,
        applied_seq=device.applied_seq if device else 0,
    )


async def _current_rows(viewer: Viewer, page: list[tuple]) -> dict[tuple[str, str], dict | None]:
    wanted: dict[str, list[str]] = {}
    for _, entity, entity_id, deleted in page:
        if not deleted:
            wanted.setdefault(entity, []).append(entity_id)
    current: dict[tuple[str, str], dict | None] = {}
    for entity, ids in wanted.items():
        for entity_id, data in (await LOADERS[Entity(entity)](viewer, ids)).items():
            current[(entity, entity_id)] = data
    return current
