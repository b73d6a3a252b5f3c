"""Feed rows of the in-app inbox (see mobile_sync/entities.py for the contract).

NOTIFICATION goes to its recipient only: the row rendered in the language of their app settings
and their site's time zone, with the kind and parameters for an app that renders its own, and the
read state, which a NOTIFICATIONS_READ record from any of their phones changes.
"""

from __future__ import annotations

from backend.ids import to_global_id
from backend.models import Notification, NotificationKind
from backend.services.feed import Entity
from backend.services.notifications.inbox import reader_of
from backend.services.viewer import Viewer
from mobile_sync.entities_base import Loader, Row, ints, iso
from mobile_sync.shapes import ANY, MOMENT, PARAMS, TEXT, enum, gid, opt, row


async def _notifications(viewer: Viewer, ids: list[str]) -> dict[str, Row | None]:
    rows = await Notification.filter(
        tenant_id=viewer.tenant_id, recipient_id=viewer.employee_id, id__in=ints(ids)
    ).order_by("id")
    found: dict[str, Row | None] = {}
    if rows:
        reader = await reader_of(viewer.tenant_id, viewer.employee_id)
        for row in rows:
            shown = reader.show(row)
            found[str(row.id)] = {
                "id": to_global_id("Notification", row.id),
                "kind": row.kind.value,
                "title": shown.title,
                "body": shown.body,
                "params": row.params or {},
                "subjectId": row.subject_id,
                "createdAt": iso(row.created_at),
                "readAt": iso(row.read_at),
            }
    return {i: found.get(i) for i in ids}


LOADERS: dict[Entity, Loader] = {Entity.NOTIFICATION: _notifications}
GLOBAL_TYPES: dict[Entity, str] = {Entity.NOTIFICATION: "Notification"}

# The shape of each entity's data (published in the sync contract; tests check every row).

SHAPES = {
    Entity.NOTIFICATION: row(
        id=gid("Notification"),
        kind=enum(NotificationKind),
        title=TEXT,
        body=TEXT,
        params=PARAMS,
        subjectId=ANY,
        createdAt=opt(MOMENT),
        readAt=opt(MOMENT),
    )
}
