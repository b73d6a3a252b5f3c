"""A company's files: bytes in the media store, a ``MediaObject`` row saying what they are.

``inspect`` reads what a file is from its bytes (never from what a client or a file name claims):
type, kind, and the facts progress is measured by (a video's duration, a PDF's pages, an image's
size). ``keep`` stores a spooled, inspected file and returns the company's row for it, one per
(company, sha256) whoever stores it first (two uploads of the same bytes at once are one row).
"""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.exceptions import IntegrityError

from backend.models import MediaKind, MediaObject
from backend.services.content.storage import MediaStore, Spooled

MAX_FILE_NAME = 255


@dataclass(frozen=True)
class MediaFacts:
    """What a file is, read from its bytes."""

    mime_type: str
    kind: MediaKind
    duration_ms: int | None = None
    page_count: int | None = None
    width: int | None = None
    height: int | None = None


async def keep(store: MediaStore, tenant_id: int, spooled: Spooled, file_name: str, facts: MediaFacts) -> MediaObject:
    """Store ``spooled`` (moved into the store) and return the company's row for its bytes."""
    await store.put(spooled)
    existing = await MediaObject.filter(tenant_id=tenant_id, sha256=spooled.sha256).first()
    if existing is not None:
        return existing
    try:
        return await MediaObject.create(
            tenant_id=tenant_id,
            sha256=spooled.sha256,
            size_bytes=spooled.size,
            mime_type=facts.mime_type,
            kind=facts.kind,
            file_name=file_name[:MAX_FILE_NAME],
            duration_ms=facts.duration_ms,
            page_count=facts.page_count,
            width=facts.width,
            height=facts.height,
        )
    except IntegrityError:  # the same bytes kept by another request at the same moment
        return await MediaObject.get(tenant_id=tenant_id, sha256=spooled.sha256)
