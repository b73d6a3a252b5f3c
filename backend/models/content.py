"""Lesson content and media (backend/services/content): what employees study, the files behind it,
how much of it they studied, and the evidence they capture in the field.

File bytes live in a media store (the local filesystem or S3-compatible object storage), keyed by
their sha256; rows here say which company holds which file and what it is. One file uploaded twice
is stored once.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields

from backend.models.base import TenantModel

if TYPE_CHECKING:
    from backend.models.catalog import CourseModule
    from backend.models.people import Employee


class MediaKind(StrEnum):
    """What a file is to the app: how it is shown and how progress in it is measured."""

    IMAGE = "IMAGE"
    PDF = "PDF"
    AUDIO = "AUDIO"
    VIDEO = "VIDEO"
    FILE = "FILE"


class MediaObject(TenantModel):
    """A file a company holds (lesson material, a rendition, evidence), by its sha256. Durations and
    page counts are read from the file when it is stored, never taken from a client."""

    id = fields.IntField(primary_key=True)
    sha256 = fields.CharField(max_length=64)
    size_bytes = fields.BigIntField()
    mime_type = fields.CharField(max_length=100)
    kind = fields.CharEnumField(MediaKind, max_length=8)
    file_name = fields.CharField(max_length=255, default="")
    duration_ms = fields.BigIntField(null=True)
    page_count = fields.IntField(null=True)
    width = fields.IntField(null=True)
    height = fields.IntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "media_object"
        unique_together = (("tenant", "sha256"),)


class RenditionStatus(StrEnum):
    """PENDING (queued) → READY (made) or FAILED (ffmpeg could not; error says why)."""

    PENDING = "PENDING"
    READY = "READY"
    FAILED = "FAILED"


class MediaRendition(TenantModel):
    """A smaller copy of a video for poor links (e.g. 360p), made in the background. A worker
    claims a pending one by a lease (claimed_until), so several workers never make the same one."""

    id = fields.IntField(primary_key=True)
    source: fields.ForeignKeyRelation[MediaObject] = fields.ForeignKeyField(
        "xuefen.MediaObject", related_name=False, on_delete=fields.CASCADE
    )
    source_id: int
    label = fields.CharField(max_length=16)
    status = fields.CharEnumField(RenditionStatus, max_length=8, default=RenditionStatus.PENDING)
    media: fields.ForeignKeyNullableRelation[MediaObject] = fields.ForeignKeyField(
        "xuefen.MediaObject", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    media_id: int | None
    attempts = fields.SmallIntField(default=0)
    claimed_until = fields.DatetimeField(null=True)
    error = fields.CharField(max_length=300, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "media_rendition"
        unique_together = (("source", "label"),)


class LessonContent(TenantModel):
    """One version of a module's study material: Markdown as written and the sanitised HTML phones
    get. The newest version is the module's content. Editing content of a published course makes
    a new version; a draft course's newest version is edited in place."""

    id = fields.IntField(primary_key=True)
    module: fields.ForeignKeyRelation[CourseModule] = fields.ForeignKeyField(
        "xuefen.CourseModule", related_name=False, on_delete=fields.CASCADE
    )
    module_id: int
    version = fields.IntField()
    body_markdown = fields.TextField(default="")
    body_html = fields.TextField(default="")
    edited_by: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    edited_by_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "lesson_content"
        unique_together = (("module", "version"),)


class LessonFile(TenantModel):
    """A file of one content version, in order. since_version is the version in which this file
    (these bytes under this title) arrived; unchanged files keep it from version to version, so a
    phone re-downloads only files whose hash it lacks."""

    id = fields.IntField(primary_key=True)
    content: fields.ForeignKeyRelation[LessonContent] = fields.ForeignKeyField(
        "xuefen.LessonContent", related_name=False, on_delete=fields.CASCADE
    )
    content_id: int
    position = fields.SmallIntField()
    title = fields.CharField(max_length=200)
    media: fields.ForeignKeyRelation[MediaObject] = fields.ForeignKeyField(
        "xuefen.MediaObject", related_name=False, on_delete=fields.RESTRICT
    )
    media_id: int
    since_version = fields.IntField()

    class Meta:
        table = "lesson_file"
        unique_together = (("content", "position"),)


class ContentProgress(TenantModel):
    """How much of one file of a module an employee studied, derived from CONTENT_PROGRESS
    records: the parts played (merged [start_ms, end_ms] intervals), the PDF pages viewed, the
    time spent. covered_ms is the length of the intervals' union."""

    id = fields.IntField(primary_key=True)
    employee: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, on_delete=fields.CASCADE
    )
    employee_id: int
    module: fields.ForeignKeyRelation[CourseModule] = fields.ForeignKeyField(
        "xuefen.CourseModule", related_name=False, on_delete=fields.CASCADE
    )
    module_id: int
    media: fields.ForeignKeyRelation[MediaObject] = fields.ForeignKeyField(
        "xuefen.MediaObject", related_name=False, on_delete=fields.CASCADE
    )
    media_id: int
    played: fields.JSONField[list[list[int]]] = fields.JSONField(default=list)
    pages: fields.JSONField[list[int]] = fields.JSONField(default=list)
    covered_ms = fields.BigIntField(default=0)
    seconds_spent = fields.IntField(default=0)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "content_progress"
        unique_together = (("employee", "module", "media"),)


class EvidenceStatus(StrEnum):
    """PENDING (named by a record, bytes not all here) → RECEIVED (hash checked, stored)."""

    PENDING = "PENDING"
    RECEIVED = "RECEIVED"


class EvidenceAttachment(TenantModel):
    """A photo, video, voice note or file captured with a record (practice log, evaluation,
    check-out). The record names it by a client-generated id and its sha256 and is accepted at
    once; the bytes follow by a resumable upload and must hash to sha256."""

    id = fields.UUIDField(primary_key=True)
    employee: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, on_delete=fields.CASCADE
    )
    employee_id: int
    record_id = fields.UUIDField()
    kind = fields.CharEnumField(MediaKind, max_length=8)
    sha256 = fields.CharField(max_length=64)
    size_bytes = fields.BigIntField()
    mime_type = fields.CharField(max_length=100)
    file_name = fields.CharField(max_length=255, default="")
    status = fields.CharEnumField(EvidenceStatus, max_length=8, default=EvidenceStatus.PENDING)
    received_bytes = fields.BigIntField(default=0)
    media: fields.ForeignKeyNullableRelation[MediaObject] = fields.ForeignKeyField(
        "xuefen.MediaObject", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    media_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True)
    received_at = fields.DatetimeField(null=True)

    class Meta:
        table = "evidence_attachment"
        indexes = (("tenant_id", "record_id"),)


class EvidenceChunk(TenantModel):
    """Bytes of an evidence upload in progress, kept in the database so any server process can
    take the next chunk; removed once the upload is complete."""

    id = fields.IntField(primary_key=True)
    attachment: fields.ForeignKeyRelation[EvidenceAttachment] = fields.ForeignKeyField(
        "xuefen.EvidenceAttachment", related_name=False, on_delete=fields.CASCADE
    )
    attachment_id: str
    offset = fields.BigIntField()
    data = fields.BinaryField()

    class Meta:
        table = "evidence_chunk"
        unique_together = (("attachment", "offset"),)
