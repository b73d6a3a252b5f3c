"""Pull: the change feed a viewer may see, after a signed cursor, in feed-number order.

A pull without a cursor starts a first sync: the feed from the beginning up to its head at that
moment (``snapshot_end``), which is a snapshot of everything the viewer may see, then whatever
changed meanwhile. A snapshot leaves out one kind of row: record outcomes the phone cannot be
waiting for. An outcome answers a push; the feed keeps one for every record an employee ever sent,
so a snapshot of a long-serving employee would be mostly answers to pushes made long ago, on this
phone or on others. It carries only the outcomes of this device's last ``MAX_PUSH_RECORDS``
records to arrive: the most one push whose answer was lost can hold (a phone sends the next batch
of its outbox only after the answer to the one before; an online mutation is a push of one). Every
older record of the device has left its outbox, and if it has not, pushing it again answers
``DUPLICATE`` with the stored outcome. Outcomes published after the snapshot started come as they
do in any later pull.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tortoise.expressions import Q

from backend.config import Settings
from backend.errors import DomainError, ErrorCode
from backend.models import ActivityRecord, Device, SyncChange
from backend.services.feed import EVERYONE, Entity, feed_head
from backend.services.viewer import Viewer
from mobile_sync import cursor as cursors
from mobile_sync.entities import LOADERS, public_id
from mobile_sync.protocol import MAX_PULL_LIMIT, MAX_PUSH_RECORDS, check_version


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
    head, purged_through = await feed_head(viewer.tenant_id)
    if cursor:
        position = cursors.decode(settings.keys, cursor, viewer.tenant_id, viewer.employee_id)
        if position.seq < purged_through:
            raise DomainError(ErrorCode.RESET_REQUIRED)
    else:
        position = cursors.Position(0, snapshot_end=head)
    # Read before the feed: every record up to appliedSeq has its effects committed in the rows
    # read below (read after, a push committing in between would be counted but not shown).
    device = await Device.get_or_none(tenant_id=viewer.tenant_id, employee_id=viewer.employee_id, device_uid=device_id)
    applied_seq = device.applied_seq if device else 0
    query = SyncChange.filter(
        tenant_id=viewer.tenant_id, seq__gt=position.seq, audience__in=[EVERYONE, viewer.employee_id]
    )
    if position.in_snapshot:
        kept = Q(entity__not=Entity.RECORD_OUTCOME.value) | Q(seq__gt=position.snapshot_end)
        owed = await _outcomes_owed(viewer, device)
        if owed:
            kept |= Q(entity_id__in=owed)
        query = query.filter(kept)
    rows = await query.order_by("seq").limit(limit + 1).values_list("seq", "entity", "entity_id", "deleted")
    page, has_more = rows[:limit], len(rows) > limit
    current = await _current_rows(viewer, page)
    changes = [
        FeedItem(
            Entity(entity), public_id(Entity(entity), entity_id), None if deleted else current[(entity, entity_id)]
        )
        for _, entity, entity_id, deleted in page
    ]
    last = page[-1][0] if page else position.seq
    if not has_more:
        # Whatever the snapshot left out up to its end stays out: the phone is past it, and its
        # cursor is a plain one again.
        last = max(last, position.snapshot_end)
    return PullPage(
        changes=changes,
        cursor=cursors.encode(
            settings.keys, viewer.tenant_id, viewer.employee_id, cursors.Position(last, position.snapshot_end)
        ),
        has_more=has_more,
        applied_seq=applied_seq,
    )


async def _outcomes_owed(viewer: Viewer, device: Device | None) -> list[str]:
    """Ids of the records whose outcomes a snapshot still carries to ``device`` (see above)."""
    if device is None:
        return []
    # The last to arrive, online mutations' records (no sequence: a push of one) among them. Pushed
    # records arrive in sequence order, so only the last MAX_PUSH_RECORDS numbers can be among
    # them: reading just those keeps this an index range, however long the device's history.
    recent = Q(device_seq__gt=device.applied_seq - MAX_PUSH_RECORDS) | Q(device_seq__isnull=True)
    ids = (
        await ActivityRecord.filter(
            recent, tenant_id=viewer.tenant_id, employee_id=viewer.employee_id, device_id=device.id
        )
        .order_by("-received_at", "-device_seq")
        .limit(MAX_PUSH_RECORDS)
        .values_list("id", flat=True)
    )
    return [str(i) for i in ids]


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
