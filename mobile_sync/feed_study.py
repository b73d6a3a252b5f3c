"""Feed rows for study progress (see mobile_sync/entities.py for the contract).

CONTENT_PROGRESS goes to the employee whose progress it is: one row per (module, file) they
studied, so their other phone shows the same bars. The row is the server's merged state (what
both phones sent), never one phone's report.
"""

from __future__ import annotations

from backend.ids import to_global_id
from backend.models import ContentProgress, MediaObject
from backend.services.feed import Entity
from backend.services.viewer import Viewer
from mobile_sync.entities_base import Loader, Row, ints, iso
from mobile_sync.shapes import INT, MOMENT, SHA256, gid, many, opt
from mobile_sync.shapes import row as shape


async def _content_progress(viewer: Viewer, ids: list[str]) -> dict[str, Row | None]:
    """The viewer's own progress rows among ``ids``; anyone else's is a tombstone."""
    rows = await ContentProgress.filter(
        tenant_id=viewer.tenant_id, employee_id=viewer.employee_id, id__in=ints(ids)
    ).only("id", "module_id", "media_id", "played", "pages", "covered_ms", "seconds_spent", "updated_at")
    media = {
        m.id: m
        for m in await MediaObject.filter(tenant_id=viewer.tenant_id, id__in=list({row.media_id for row in rows})).only(
            "id", "sha256", "duration_ms", "page_count"
        )
    }
    found: dict[str, Row | None] = {}
    for row in rows:
        file = media[row.media_id]
        found[str(row.id)] = {
            "id": to_global_id("ContentProgress", row.id),
            "moduleId": to_global_id("CourseModule", row.module_id),
            "fileSha256": file.sha256,
            "durationMs": file.duration_ms,
            "pageCount": file.page_count,
            "playedMs": row.played,
            "coveredMs": row.covered_ms,
            "pages": row.pages,
            "secondsSpent": row.seconds_spent,
            "updatedAt": iso(row.updated_at),
        }
    return {i: found.get(i) for i in ids}


LOADERS: dict[Entity, Loader] = {Entity.CONTENT_PROGRESS: _content_progress}
GLOBAL_TYPES: dict[Entity, str] = {Entity.CONTENT_PROGRESS: "ContentProgress"}

# The shape of each entity's data (published in the sync contract; tests check every row).

SHAPES = {
    Entity.CONTENT_PROGRESS: shape(
        "The server's merged study of one file of a module (both phones' reports).",
        id=gid("ContentProgress"),
        moduleId=gid("CourseModule"),
        fileSha256=SHA256,
        durationMs=opt(INT),
        pageCount=opt(INT),
        playedMs=many(many(INT), "Merged [start, end] milliseconds played."),
        coveredMs=INT,
        pages=many(INT),
        secondsSpent=INT,
        updatedAt=opt(MOMENT),
    )
}
