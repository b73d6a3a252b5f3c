"""Evidence types: a photo, video, voice note or file captured with a practice log, a mentor
evaluation or a check-out, PENDING ("evidence pending") until its bytes arrive."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from backend import models
from backend.services.content import evidence
from schema.common import UserError

EvidenceStatus = models.EvidenceStatus
strawberry.enum(
    EvidenceStatus,
    name="EvidenceStatus",
    description='PENDING (the record named it; its bytes have not all arrived: show "evidence pending") '
    "or RECEIVED (checked against its sha256 and stored: url opens it).",
)


@strawberry.enum(description="What an attachment is to the app (how it is shown).")
class EvidenceKind(Enum):
    IMAGE = strawberry.enum_value("IMAGE", description="A photo (re-encoded on the server).")
    VIDEO = strawberry.enum_value("VIDEO", description="A short video.")
    AUDIO = strawberry.enum_value("AUDIO", description="A voice note.")
    PDF = strawberry.enum_value("PDF", description="A PDF document.")
    FILE = strawberry.enum_value("FILE", description="Any other file.")


@strawberry.type(description="Evidence attached to a record: a photo, video, voice note or file from the field.")
class EvidenceAttachment:
    id: strawberry.ID = strawberry.field(
        description="The attachment's UUID (chosen by the phone; its upload URL is /evidence/<id>)."
    )
    kind: EvidenceKind = strawberry.field(description="IMAGE, VIDEO, AUDIO, PDF or FILE.")
    mime_type: str = strawberry.field(
        description="The type the phone declared (a received photo is served as JPEG or PNG: see url)."
    )
    file_name: str = strawberry.field(description="The file name the phone gave, for showing and saving.")
    size_bytes: int = strawberry.field(description="The declared size of the upload, in bytes.")
    sha256: str = strawberry.field(description="The declared sha256 of the upload (what the phone verifies).")
    status: EvidenceStatus = strawberry.field(description="PENDING (evidence pending) or RECEIVED.")
    received_at: datetime | None = strawberry.field(description="When the last byte arrived and was checked.")
    url: str | None = strawberry.field(
        description="Signed link to the stored file (/media/...), usable without a token until urlExpiresAt; "
        "null while PENDING."
    )
    url_expires_at: datetime | None = strawberry.field(description="When url stops working; ask again for a new one.")

    @classmethod
    def from_evidence(cls, item: evidence.Evidence) -> EvidenceAttachment:
        row = item.attachment
        return cls(
            id=strawberry.ID(str(row.id)),
            kind=EvidenceKind(models.MediaKind(row.kind).value),
            mime_type=row.mime_type,
            file_name=row.file_name,
            size_bytes=row.size_bytes,
            sha256=row.sha256,
            status=EvidenceStatus(row.status),
            received_at=row.received_at,
            url=item.url,
            url_expires_at=item.url_expires_at,
        )

    @classmethod
    def shown(cls, info: strawberry.Info, rows: list[models.EvidenceAttachment]) -> list[EvidenceAttachment]:
        """``rows`` as the viewer sees them, with fresh links."""
        return [cls.from_evidence(item) for item in evidence.shown(info.context.settings, rows)]


@strawberry.input(
    description="Evidence an online record names (as in a synced record's payload): the bytes follow by the "
    'resumable upload to /evidence/<id> (docs/sync-protocol.md, "Evidence uploads").'
)
class EvidenceInput:
    id: strawberry.ID = strawberry.field(description="A UUID the app chooses for the attachment.")
    sha256: str = strawberry.field(description="The file's sha256, 64 hex digits.")
    size_bytes: int = strawberry.field(description="The file's size in bytes (1 to the configured limit).")
    mime_type: str = strawberry.field(
        description="image/jpeg, image/png, image/webp, video/mp4, video/quicktime, audio/mp4, audio/aac, "
        "audio/mpeg, audio/amr, audio/wav, audio/ogg or application/pdf (not HEIC: send JPEG)."
    )
    file_name: str = strawberry.field(default="", description="The name to show and save it as.")


def with_attachments(payload: dict[str, Any], attachments: list[EvidenceInput] | None) -> dict[str, Any]:
    """``payload`` naming ``attachments`` (unchanged without any, so its content hash is too)."""
    if attachments is None:
        return payload
    named = [
        {
            "id": str(a.id),
            "sha256": a.sha256,
            "sizeBytes": a.size_bytes,
            "mimeType": a.mime_type,
            "fileName": a.file_name,
        }
        for a in attachments
    ]
    return {**payload, "attachments": named}


__all__ = ["EvidenceAttachment", "EvidenceInput", "EvidenceKind", "EvidenceStatus", "with_attachments"]


@strawberry.type(description="A company's evidence policy.")
class EvidencePolicy:
    keep_photo_location: bool = strawberry.field(
        description="Whether evidence photos keep their GPS location (otherwise every photo is re-encoded "
        "without metadata)."
    )


@strawberry.type(description="Result of updateEvidencePolicy.")
class EvidencePolicyPayload:
    policy: EvidencePolicy | None = strawberry.field(description="The policy after the change, unless errors.")
    errors: list[UserError] = strawberry.field(description="Expected failures; empty on success.")
