"""The bytes of evidence: a resumable, chunked upload (tus 1.0 core semantics, served by
backend/evidence_uploads.py), then the check and the store.

Chunks are rows (``EvidenceChunk``) so any server process can take the next one. A chunk is
appended by a conditional UPDATE of the attachment's ``received_bytes`` (``WHERE received_bytes =
<offset>``) in the transaction that inserts it: of two PATCHes at one offset (two retries, two
devices) exactly one appends; the other finds its bytes already stored (harmless: the same offset
answered) or is told the current offset (409). When the last byte is in, the chunks are streamed
in order to a spool file and hashed: a hash other than the one the record declared discards
everything and starts the upload again from 0; otherwise images are re-encoded
(``evidence_photos``), videos lose their metadata (where they were filmed) by an ffmpeg remux
unless the company keeps locations (stored as sent when ffmpeg is not installed), the file is kept in the media store (``media_files.keep``, outside any
transaction: its IntegrityError fallback needs a live connection) and the attachment becomes
RECEIVED by a conditional UPDATE, so two completions at once finish it once. A completion cut
short (the process died) is finished by the next HEAD or PATCH.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from tortoise.transactions import in_transaction

from backend.config import Settings
from backend.errors import DomainError, ErrorCode
from backend.models import ActivityRecord, EvidenceAttachment, EvidenceChunk, EvidenceStatus, MediaKind, Tenant
from backend.services.content import evidence, evidence_photos, media_files
from backend.services.content.inspect import ffmpeg_input, inspect
from backend.services.content.storage import Spooled, discard, media_store, spool_chunks
from backend.services.feed import ChangeSet
from backend.services.ojt import assessment, practice
from backend.services.records.work import UnitOfWork
from backend.services.viewer import Viewer


class _Changed(Exception):
    """The chunks changed while they were read (another request completed or reset the upload)."""


async def attachment_of(viewer: Viewer, attachment_id: str) -> EvidenceAttachment:
    """The viewer's own attachment: NOT_FOUND for an unknown id or another company's (nothing
    says it exists), FORBIDDEN for a colleague's."""
    try:
        key = uuid.UUID(attachment_id)
    except ValueError as exc:
        raise DomainError(ErrorCode.NOT_FOUND) from exc
    row = await EvidenceAttachment.filter(tenant_id=viewer.tenant_id, id=key).first()
    if row is None:
        raise DomainError(ErrorCode.NOT_FOUND)
    if row.employee_id != viewer.employee_id:
        raise DomainError(ErrorCode.FORBIDDEN)
    return row


async def offset_of(settings: Settings, viewer: Viewer, attachment_id: str) -> EvidenceAttachment:
    """The attachment as a HEAD shows it (``received_bytes`` is the offset; ``size_bytes`` once
    RECEIVED), finishing a completion that was cut short first."""
    row = await attachment_of(viewer, attachment_id)
    if row.status == EvidenceStatus.PENDING and row.received_bytes == row.size_bytes:
        # A HEAD only reports: after a refused completion the upload starts again from 0.
        with contextlib.suppress(DomainError):
            await _complete(settings, viewer, row)
        row = await attachment_of(viewer, attachment_id)
    return row


def received(row: EvidenceAttachment) -> int:
    """Bytes the server has of ``row`` (all of them once RECEIVED)."""
    return row.size_bytes if row.status == EvidenceStatus.RECEIVED else row.received_bytes


async def append(
    settings: Settings, viewer: Viewer, row: EvidenceAttachment, offset: int, data: bytes, checksum: bytes | None
) -> int:
    """Take one chunk of the viewer's ``row`` (``attachment_of``) at ``offset``; the offset after it. A chunk whose bytes are all stored
    already (a retry whose answer was lost) changes nothing. Refusals: PAYLOAD_TOO_LARGE (over the
    chunk limit, or past the declared size), CHUNK_CHECKSUM_MISMATCH (nothing stored),
    UPLOAD_OFFSET_MISMATCH (with the current ``offset``), and, for the last chunk,
    EVIDENCE_HASH_MISMATCH / EVIDENCE_UNREADABLE (everything discarded, the offset back at 0)."""
    attachment_id = str(row.id)
    if len(data) > settings.evidence_chunk_max_bytes:
        raise DomainError(ErrorCode.PAYLOAD_TOO_LARGE, max=settings.evidence_chunk_max_bytes)
    if offset + len(data) > row.size_bytes:
        raise DomainError(ErrorCode.PAYLOAD_TOO_LARGE, max=row.size_bytes)
    if checksum is not None and hashlib.sha256(data).digest() != checksum:
        raise DomainError(ErrorCode.CHUNK_CHECKSUM_MISMATCH)
    if row.status == EvidenceStatus.RECEIVED:
        return row.size_bytes  # everything is here: any chunk of it is a harmless retry
    current = row.received_bytes
    appended = False
    if offset == current and data:
        async with in_transaction() as connection:
            # The condition is the guard: a concurrent PATCH at this offset waits for our row
            # lock (PostgreSQL), then matches nothing.
            appended = bool(
                await EvidenceAttachment.filter(id=row.id, status=EvidenceStatus.PENDING, received_bytes=offset)
                .using_db(connection)
                .update(received_bytes=offset + len(data))
            )
            if appended:
                await EvidenceChunk.create(
                    tenant_id=row.tenant_id, attachment_id=row.id, offset=offset, data=data, using_db=connection
                )
        if appended:
            current = offset + len(data)
        else:
            row = await attachment_of(viewer, attachment_id)
            if row.status == EvidenceStatus.RECEIVED:
                return row.size_bytes
            current = row.received_bytes
    # Not appended: harmless only if every byte of the chunk is stored already, as sent.
    if not appended and not (
        (offset == current and not data)
        or (offset + len(data) <= current and await _stored(row, offset, data, settings))
    ):
        row = await attachment_of(viewer, attachment_id)  # a completion may have just taken the chunks
        if row.status == EvidenceStatus.RECEIVED:
            return row.size_bytes
        raise DomainError(ErrorCode.UPLOAD_OFFSET_MISMATCH, offset=row.received_bytes)
    if current == row.size_bytes:
        await _complete(settings, viewer, row)
        row = await attachment_of(viewer, attachment_id)
        return received(row)
    return current


async def _stored(row: EvidenceAttachment, offset: int, data: bytes, settings: Settings) -> bool:
    """Whether ``data`` at ``offset`` equals the bytes stored there (a retried chunk)."""
    if not data:
        return True
    end = offset + len(data)
    chunks = (
        await EvidenceChunk.filter(
            attachment_id=row.id, offset__lt=end, offset__gt=offset - settings.evidence_chunk_max_bytes
        )
        .order_by("offset")
        .values_list("offset", "data")
    )
    stored = bytearray()
    start = None
    for chunk_offset, chunk in chunks:
        if start is None:
            if chunk_offset > offset:
                return False
            start = chunk_offset
        elif chunk_offset != start + len(stored):
            return False
        stored += bytes(chunk)
    if start is None:
        return False
    return bytes(stored[offset - start : end - start]) == data


async def _chunks(attachment_id: uuid.UUID) -> AsyncIterator[bytes]:
    """The chunks of an upload in order, one statement each (never the whole file in memory);
    _Changed when one goes missing or leaves a gap."""
    index = await EvidenceChunk.filter(attachment_id=attachment_id).order_by("offset").values_list("id", "offset")
    expected = 0
    for chunk_id, chunk_offset in index:
        if chunk_offset != expected:
            raise _Changed
        found = await EvidenceChunk.filter(id=chunk_id).values_list("data", flat=True)
        if not found:
            raise _Changed
        data = bytes(found[0])
        expected += len(data)
        yield data


async def _reset(row: EvidenceAttachment) -> None:
    """Discard a finished upload that cannot be kept: the phone starts again from 0."""
    async with in_transaction() as connection:
        if await (
            EvidenceAttachment.filter(id=row.id, status=EvidenceStatus.PENDING, received_bytes=row.size_bytes)
            .using_db(connection)
            .update(received_bytes=0)
        ):
            await EvidenceChunk.filter(attachment_id=row.id).using_db(connection).delete()


async def _complete(settings: Settings, viewer: Viewer, row: EvidenceAttachment) -> None:
    """Check, store and mark received an upload whose bytes are all in (see the module)."""
    store = media_store(settings)
    try:
        spooled = await spool_chunks(store, _chunks(row.id))
    except _Changed:
        return  # completed or reset by another request meanwhile: the caller reads the row again
    if spooled.size != row.size_bytes:
        discard(spooled)
        return
    if spooled.sha256 != row.sha256:
        discard(spooled)
        await _reset(row)
        raise DomainError(ErrorCode.EVIDENCE_HASH_MISMATCH, offset=0)
    try:
        spooled, facts = await _prepared(settings, row, spooled)
        media = await media_files.keep(store, row.tenant_id, spooled, row.file_name, facts)
    finally:
        discard(spooled)  # moved into the store by keep, unless something failed on the way
    now = datetime.now(UTC)
    async with in_transaction() as connection:
        done = await (
            EvidenceAttachment.filter(id=row.id, status=EvidenceStatus.PENDING, received_bytes=row.size_bytes)
            .using_db(connection)
            .update(status=EvidenceStatus.RECEIVED, media_id=media.id, received_at=now)
        )
        if not done:
            return
        await EvidenceChunk.filter(attachment_id=row.id).using_db(connection).delete()
        work = UnitOfWork(viewer, connection, ChangeSet(row.tenant_id), now, settings)
        await _touch_owner(work, row)
        await work.changes.publish(connection, now)


_CONTAINERS = {"video/mp4": "mp4", "video/quicktime": "mov"}


async def _without_metadata(settings: Settings, row: EvidenceAttachment, spooled: Spooled, mime_type: str) -> Spooled:
    """A phone video remuxed without its metadata (a phone writes where it was filmed, ``©xyz``,
    and timed location tracks): the video and audio streams copied as they are, nothing else.
    EVIDENCE_UNREADABLE (the upload starts again) when ffmpeg cannot read it."""
    output = spooled.path.with_suffix(".clean")
    process = await asyncio.create_subprocess_exec(
        settings.ffmpeg,
        "-nostdin",
        "-loglevel",
        "error",
        "-y",
        *ffmpeg_input(mime_type, spooled.path),
        "-map",
        "0:v",
        "-map",
        "0:a?",
        "-map_metadata",
        "-1",
        "-map_chapters",
        "-1",
        "-c",
        "copy",
        "-movflags",
        "+faststart",
        "-f",
        _CONTAINERS.get(mime_type, "mp4"),
        str(output),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    await process.wait()
    discard(spooled)
    if process.returncode != 0 or not output.is_file() or output.stat().st_size == 0:
        output.unlink(missing_ok=True)
        await _reset(row)
        raise DomainError(ErrorCode.EVIDENCE_UNREADABLE, offset=0, kind=row.mime_type)
    digest = await asyncio.to_thread(evidence_photos.sha256_of, output)
    return Spooled(output, digest, output.stat().st_size)


async def _prepared(
    settings: Settings, row: EvidenceAttachment, spooled: Spooled
) -> tuple[Spooled, media_files.MediaFacts]:
    """The file to keep for a checked upload, and what it is, read from its bytes like any lesson
    file (``inspect``: the type a phone declared is believed only when the bytes agree, so no
    crafted file reaches a decoder or ffmpeg as something else): a photo re-encoded, a video
    without its metadata (each unless the company keeps locations where that applies), anything
    else as sent. EVIDENCE_UNREADABLE (the upload reset) when the bytes are not what their type says."""
    try:
        facts = await inspect(settings, spooled.path, row.file_name)
        # A video without a picture (a phone's voice memo saved as MP4) is audio: that is fine.
        agrees = facts.kind == row.kind or (row.kind == MediaKind.VIDEO and facts.kind == MediaKind.AUDIO)
        if not agrees:
            raise DomainError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, mime=facts.mime_type)
    except DomainError as exc:
        discard(spooled)
        await _reset(row)
        raise DomainError(ErrorCode.EVIDENCE_UNREADABLE, offset=0, kind=row.mime_type) from exc
    keep_location = any(await Tenant.filter(id=row.tenant_id).values_list("keep_photo_location", flat=True))
    if facts.kind == MediaKind.VIDEO and not keep_location and shutil.which(settings.ffmpeg):
        return await _without_metadata(settings, row, spooled, facts.mime_type), facts
    if facts.kind != MediaKind.IMAGE:
        return spooled, facts
    try:
        photo = await asyncio.to_thread(
            evidence_photos.reencode, spooled.path, media_store(settings).spool_dir, keep_location
        )
    except evidence_photos.Unreadable as exc:
        discard(spooled)
        await _reset(row)
        raise DomainError(ErrorCode.EVIDENCE_UNREADABLE, offset=0, kind=row.mime_type) from exc
    discard(spooled)
    facts = media_files.MediaFacts(photo.mime_type, MediaKind.IMAGE, width=photo.width, height=photo.height)
    return Spooled(photo.path, photo.sha256, photo.size), facts


async def _touch_owner(work: UnitOfWork, row: EvidenceAttachment) -> None:
    """Send the row the evidence belongs to to its phones again (the status they show changed)."""
    record = (
        await ActivityRecord.filter(tenant_id=row.tenant_id, id=row.record_id)
        .using_db(work.connection)
        .values_list("kind", "payload")
    )
    if not record:
        return
    kind, payload = record[0]
    owner = evidence.owner_key(str(kind), row.record_id, evidence.read_json(payload))
    if kind == evidence.PRACTICE_LOG:
        await practice.touch_log_of_record(work, row.record_id)
    elif kind == evidence.MENTOR_EVALUATION:
        await assessment.touch_evaluation(work, uuid.UUID(owner[1]))
    # A check-out's attendance is not in the feed: the roster shows its evidence when asked.


async def purge_stale_uploads(older_than: timedelta, now: datetime | None = None) -> int:
    """Give back the database space of abandoned uploads: partial uploads (PENDING, some bytes in)
    whose record arrived more than ``older_than`` ago lose their chunks and go back to offset 0 (a
    phone that comes back sees 0 on HEAD and sends again). An upload that moves meanwhile is left
    alone (the reset is conditional on the offset read). Returns how many were reset."""
    cutoff = (now or datetime.now(UTC)) - older_than
    stale = await EvidenceAttachment.filter(
        status=EvidenceStatus.PENDING, received_bytes__gt=0, created_at__lt=cutoff
    ).values_list("id", "received_bytes")
    reset = 0
    for attachment_id, received_bytes in stale:
        async with in_transaction() as connection:
            if await (
                EvidenceAttachment.filter(
                    id=attachment_id, status=EvidenceStatus.PENDING, received_bytes=received_bytes
                )
                .using_db(connection)
                .update(received_bytes=0)
            ):
                await EvidenceChunk.filter(attachment_id=attachment_id).using_db(connection).delete()
                reset += 1
    return reset
