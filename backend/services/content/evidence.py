"""Evidence from the field: attachments named by practice logs, mentor evaluations and check-outs.

A record names each attachment by a client-generated UUID with its sha256, size, MIME type and
file name (``parse_attachments``, called by those kinds' ``parse``), and is accepted at once: the
bytes follow by a resumable upload (backend/evidence_uploads.py over ``evidence_upload``).

Who owns an attachment: the thing its record is about (``owner_key``): a practice log is its
record, an evaluation is every write of its uid, a check-out is the employee's attendance of the
session. Naming an attachment again for the same owner (the next draft of an evaluation, a second
check-out) changes nothing; naming it for anything else is ATTACHMENT_TAKEN (ids are global, so
another company's id is taken too, and says nothing more).

Who sees evidence: its employee, HR admins of the company, and per owner the log's reviewer and
the employee's current mentors, the evaluation's mentee, the session's instructor (a manager who
may read the log or evaluation does not see the photos).
"""

from __future__ import annotations

import json
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.expressions import Subquery

from backend.config import Settings
from backend.errors import DomainError, ErrorCode
from backend.models import (
    ActivityRecord,
    EvidenceAttachment,
    EvidenceStatus,
    MediaKind,
    Role,
)
from backend.services.content.media_links import media_path
from backend.services.ojt.mentoring import current_mentorships
from backend.services.records.handler import ApplyContext, invalid_payload, payload_id
from backend.services.records.spec import Field, Int, ListOf, Nullable, Obj, OneOf, Text, Uuid
from backend.services.viewer import Viewer
from backend.sql import Params, db_time, db_uuid, insert_many

MAX_ATTACHMENTS = 10
MAX_FILE_NAME = 255
MAX_SIZE = 2**53  # JSON numbers beyond this are not exact; the configured limit is far below
# What phones may attach, and what each is to the app. HEIC/HEIF photos are refused: the server
# cannot decode them (no HEIF codec in Pillow), so it could neither resize them nor strip their
# location; the app sends JPEG (iOS: UIImage.jpegData), which every phone makes.
EVIDENCE_TYPES: dict[str, MediaKind] = {
    "image/jpeg": MediaKind.IMAGE,
    "image/png": MediaKind.IMAGE,
    "image/webp": MediaKind.IMAGE,
    "video/mp4": MediaKind.VIDEO,
    "video/quicktime": MediaKind.VIDEO,
    "audio/mp4": MediaKind.AUDIO,
    "audio/x-m4a": MediaKind.AUDIO,
    "audio/m4a": MediaKind.AUDIO,
    "audio/aac": MediaKind.AUDIO,
    "audio/mpeg": MediaKind.AUDIO,
    "audio/amr": MediaKind.AUDIO,
    "audio/wav": MediaKind.AUDIO,
    "audio/x-wav": MediaKind.AUDIO,
    "audio/ogg": MediaKind.AUDIO,
    "application/pdf": MediaKind.PDF,
}
_KEYS = frozenset({"id", "sha256", "sizeBytes", "mimeType", "fileName"})
_HEX = re.compile(r"[0-9a-fA-F]{64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# The record kinds that carry evidence (their domains import this module, not the other way).
PRACTICE_LOG = "PRACTICE_LOG"
MENTOR_EVALUATION = "MENTOR_EVALUATION"
CHECK_OUT = "CHECK_OUT"


@dataclass(frozen=True)
class Attachment:
    """One attachment as a record names it (``index``: its place in the payload's list)."""

    id: uuid.UUID
    sha256: str
    size_bytes: int
    mime_type: str
    kind: MediaKind
    file_name: str
    index: int


ATTACHMENTS = Field(
    Nullable(
        ListOf(
            Obj(
                {
                    "id": Field(Uuid(description="Chosen by the phone; the upload names it (uploadEvidence)."), True),
                    "sha256": Field(Text(pattern="[0-9a-fA-F]{64}", description="The file's sha256, hex."), True),
                    "sizeBytes": Field(
                        Int(1, MAX_SIZE, "The file's size in bytes (the server's limit applies)."), True
                    ),
                    "mimeType": Field(OneOf(sorted(EVIDENCE_TYPES), loose=True), True),
                    "fileName": Field(
                        Nullable(
                            Text(MAX_FILE_NAME, pattern="[^\\u0000-\\u001f\\u007f]*"),
                            description="A name to show (never a path: slashes become _).",
                        )
                    ),
                },
                closed=True,
            ),
            max_items=MAX_ATTACHMENTS,
            item_paths=True,
            unique="id",
            description="Evidence files (photos, short videos, PDFs), each uploaded before or after the "
            "record by its id; ids unique within the record.",
        )
    )
)
"""A record kind's ``attachments`` field: its errors name the item and field at fault."""


def parse_attachments(payload: dict[str, Any]) -> tuple[Attachment, ...]:
    """The payload's ``attachments`` (none when absent or null), read strictly: INVALID_PAYLOAD
    naming the field at fault (``attachments[2].mimeType``). The size limit is the server's
    setting, checked when the record is applied (``claim``)."""
    value = payload.get("attachments") if isinstance(payload, dict) else None
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_ATTACHMENTS:
        raise invalid_payload("attachments")
    found: list[Attachment] = []
    for index, item in enumerate(value):
        where = f"attachments[{index}]"
        if not isinstance(item, dict) or not _KEYS.issuperset(item):
            raise invalid_payload(where)
        raw_id = item.get("id")
        try:
            attachment_id = uuid.UUID(raw_id) if isinstance(raw_id, str) and len(raw_id) == 36 else None
        except ValueError:
            attachment_id = None
        if attachment_id is None or any(a.id == attachment_id for a in found):
            raise invalid_payload(f"{where}.id")
        sha256 = item.get("sha256")
        if not isinstance(sha256, str) or not _HEX.fullmatch(sha256):
            raise invalid_payload(f"{where}.sha256")
        size = item.get("sizeBytes")
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_SIZE:
            raise invalid_payload(f"{where}.sizeBytes")
        mime_type = item.get("mimeType")
        kind = EVIDENCE_TYPES.get(mime_type.strip().lower()) if isinstance(mime_type, str) else None
        if kind is None or not isinstance(mime_type, str):
            raise invalid_payload(f"{where}.mimeType")
        file_name = item.get("fileName") or ""
        if not isinstance(file_name, str) or len(file_name) > MAX_FILE_NAME or _CONTROL.search(file_name):
            raise invalid_payload(f"{where}.fileName")
        # A name to show and download as, never a path.
        file_name = file_name.replace("/", "_").replace("\\", "_").strip()
        found.append(Attachment(attachment_id, sha256.lower(), size, mime_type.strip().lower(), kind, file_name, index))
    return tuple(found)


def owner_key(kind: str, record_id: uuid.UUID | str, payload: Any) -> tuple[str, str]:
    """What an attachment named by a ``kind`` record belongs to (see the module's docstring)."""
    if kind == MENTOR_EVALUATION and isinstance(payload, dict):
        try:
            return kind, str(uuid.UUID(str(payload.get("evaluationId"))))
        except ValueError:
            pass
    elif kind == CHECK_OUT and isinstance(payload, dict):
        try:
            return kind, str(payload_id(payload, "sessionId", "TrainingSession"))
        except DomainError:
            pass
    return kind, str(record_id)


@dataclass
class _Named:
    employee_id: int
    owner: tuple[str, str]
    attachments: tuple[Attachment, ...]
    refusal: DomainError | None = None


@dataclass
class _Existing:
    employee_id: int
    owner: tuple[str, str]
    facts: tuple[str, int, str]


def _taken(attachment: Attachment) -> DomainError:
    return DomainError(ErrorCode.ATTACHMENT_TAKEN, id=str(attachment.id))


def _facts(attachment: Attachment) -> tuple[str, int, str]:
    return attachment.sha256, attachment.size_bytes, attachment.mime_type


@dataclass
class Claims:
    """The attachments the records of one batch name: ``refusal`` says whether a record may name
    them (size within the limit, not taken by another owner, here or in the database), ``accept``
    marks a record the handler accepted, ``write`` inserts the new attachments of the accepted
    records in one statement. A batch without attachments costs no statement."""

    context: ApplyContext
    named: dict[uuid.UUID, _Named]
    existing: dict[uuid.UUID, _Existing]
    accepted: dict[uuid.UUID, tuple[uuid.UUID, Attachment]] = field(default_factory=dict)

    def refusal(self, record_id: uuid.UUID) -> DomainError | None:
        named = self.named.get(record_id)
        if named is None:
            return None
        if named.refusal is not None:
            return named.refusal
        for attachment in named.attachments:
            before = self.existing.get(attachment.id)
            if before is not None and (
                before.owner != named.owner
                or before.employee_id != named.employee_id
                or before.facts != _facts(attachment)
            ):
                return _taken(attachment)
        return None

    def accept(self, record_id: uuid.UUID) -> None:
        """The record is accepted: its attachments are its owner's from now on."""
        named = self.named.get(record_id)
        if named is None:
            return
        for attachment in named.attachments:
            if attachment.id not in self.existing:
                self.existing[attachment.id] = _Existing(named.employee_id, named.owner, _facts(attachment))
                self.accepted[attachment.id] = (record_id, attachment)

    async def write(self) -> None:
        if not self.accepted:
            return
        connection = self.context.connection
        received = self.context.received_at
        now = db_time(connection, received)
        tenant_id = self.context.viewer.tenant_id
        rows = [
            (
                db_uuid(connection, a.id),
                tenant_id,
                self.named[record_id].employee_id,
                db_uuid(connection, record_id),
                a.kind.value,
                a.sha256,
                a.size_bytes,
                a.mime_type,
                a.file_name,
                EvidenceStatus.PENDING.value,
                0,
                # A microsecond apart, so "oldest first" is the order the records named them.
                db_time(connection, received + timedelta(microseconds=position)),
                now,
            )
            for position, (record_id, a) in enumerate(self.accepted.values())
        ]
        # ON CONFLICT, not try/except (a failed INSERT aborts the batch's transaction): an id
        # taken by a concurrent push at this very moment stays with that push's record.
        await insert_many(connection, "evidence_attachment", _COLUMNS, rows, on_conflict="ON CONFLICT (id) DO NOTHING")
        self.accepted.clear()


_COLUMNS = {
    "id": "uuid",
    "tenant_id": "int",
    "employee_id": "int",
    "record_id": "uuid",
    "kind": "text",
    "sha256": "text",
    "size_bytes": "bigint",
    "mime_type": "text",
    "file_name": "text",
    "status": "text",
    "received_bytes": "bigint",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
}


def read_json(value: Any) -> Any:
    """A JSON column as read on either engine (text on SQLite, maybe text from asyncpg)."""
    return json.loads(value) if isinstance(value, str | bytes) else value


async def claim(
    context: ApplyContext, records: Iterable[tuple[uuid.UUID, tuple[str, str], tuple[Attachment, ...]]]
) -> Claims:
    """The claims of a batch's records: (record id, owner key, attachments) each. One statement
    when any record names an attachment, none otherwise."""
    employee_id = context.viewer.employee_id
    limit = context.settings.evidence_max_bytes
    named: dict[uuid.UUID, _Named] = {}
    for record_id, owner, attachments in records:
        if not attachments:
            continue
        entry = _Named(employee_id, owner, attachments)
        for attachment in attachments:
            if attachment.size_bytes > limit:
                entry.refusal = invalid_payload(f"attachments[{attachment.index}].sizeBytes")
                break
        named[record_id] = entry
    existing: dict[uuid.UUID, _Existing] = {}
    ids = list({a.id for entry in named.values() for a in entry.attachments})
    if ids:
        connection = context.connection
        p = Params(connection)
        found = await connection.execute_query_dict(
            "SELECT ea.id, ea.employee_id, ea.record_id, ea.sha256, ea.size_bytes, ea.mime_type, r.kind, r.payload "
            "FROM evidence_attachment ea LEFT JOIN activity_record r ON r.id = ea.record_id "
            f"WHERE ea.id {p.among([db_uuid(connection, i) for i in ids], 'uuid')}",
            p.values,
        )
        for row in found:
            existing[uuid.UUID(str(row["id"]))] = _Existing(
                int(row["employee_id"]),
                owner_key(str(row["kind"] or ""), str(row["record_id"]), read_json(row["payload"])),
                (str(row["sha256"]), int(row["size_bytes"]), str(row["mime_type"])),
            )
    return Claims(context, named, existing)


# --- reading ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    """An attachment as people see it; ``url`` (a signed ``/media`` link to the stored, re-encoded
    file) once it is RECEIVED."""

    attachment: EvidenceAttachment
    url: str | None
    url_expires_at: datetime | None


def shown(settings: Settings, rows: Iterable[EvidenceAttachment], now: datetime | None = None) -> list[Evidence]:
    """``rows`` (loaded with their media) with links, oldest first."""
    found = []
    for row in sorted(rows, key=lambda r: (r.created_at, str(r.id))):
        url = expires = None
        media = row.media if row.media_id else None
        if row.status == EvidenceStatus.RECEIVED and media is not None:
            url, expires = media_path(settings, row.tenant_id, media.sha256, media.mime_type, now)
        found.append(Evidence(row, url, expires))
    return found


def feed_copy(rows: Iterable[EvidenceAttachment]) -> list[dict[str, Any]]:
    """Attachments as a feed row carries them, oldest first: what to show offline ("evidence
    pending" or received), without links (a feed row outlives a link; GraphQL's ``evidence``
    gives a fresh one)."""
    return [
        {
            "id": str(row.id),
            "kind": MediaKind(row.kind).value,
            "mimeType": row.mime_type,
            "fileName": row.file_name,
            "sizeBytes": row.size_bytes,
            "sha256": row.sha256,
            "status": EvidenceStatus(row.status).value,
            "receivedAt": row.received_at.isoformat() if row.received_at else None,
        }
        for row in sorted(rows, key=lambda r: (r.created_at, str(r.id)))
    ]


def record_key(value: Any) -> uuid.UUID:
    """A record id as ``by_record`` keys it."""
    return _uuid(value)


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


async def by_record(tenant_id: int, record_ids: Iterable[Any]) -> dict[uuid.UUID, list[EvidenceAttachment]]:
    """Attachments named by the given records (practice logs), by record id (one query)."""
    ids = list({_uuid(i) for i in record_ids})
    if not ids:
        return {}
    grouped: dict[uuid.UUID, list[EvidenceAttachment]] = defaultdict(list)
    for row in await EvidenceAttachment.filter(tenant_id=tenant_id, record_id__in=ids).select_related("media"):
        grouped[_uuid(row.record_id)].append(row)
    return grouped


async def by_owner(
    tenant_id: int, kind: str, employee_ids: Iterable[int]
) -> dict[tuple[int, str], list[EvidenceAttachment]]:
    """Attachments of the ``kind`` records of ``employee_ids``, by (employee, owner id): an
    evaluation's uid, a check-out's session id (two queries)."""
    employees = list(set(employee_ids))
    if not employees:
        return {}
    records = ActivityRecord.filter(tenant_id=tenant_id, employee_id__in=employees, kind=kind).values("id")
    rows = await EvidenceAttachment.filter(
        tenant_id=tenant_id, employee_id__in=employees, record_id__in=Subquery(records)
    ).select_related("media")
    if not rows:
        return {}
    payloads = {
        _uuid(record_id): payload
        for record_id, payload in await ActivityRecord.filter(
            id__in=list({_uuid(r.record_id) for r in rows})
        ).values_list("id", "payload")
    }
    grouped: dict[tuple[int, str], list[EvidenceAttachment]] = defaultdict(list)
    for row in rows:
        record_id = _uuid(row.record_id)
        _, owner = owner_key(kind, record_id, read_json(payloads.get(record_id)))
        grouped[(row.employee_id, owner)].append(row)
    return grouped


async def mentored(
    viewer: Viewer, pairs: Iterable[tuple[int, int]], now: datetime | None = None
) -> set[tuple[int, int]]:
    """Which (employee, course) pairs the viewer mentors today (one query)."""
    pairs = list(pairs)
    mentees = list({employee for employee, _ in pairs if employee != viewer.employee_id})
    if not mentees:
        return set()
    ships = await current_mentorships(
        viewer.tenant_id, now or datetime.now(UTC), mentor_id=viewer.employee_id, mentee_id__in=mentees
    )
    return {
        (employee, course)
        for employee, course in pairs
        if any(s.mentee_id == employee and (s.course_id is None or s.course_id == course) for s in ships)
    }


def sees_all(viewer: Viewer) -> bool:
    """HR admins see every attachment of their company."""
    return viewer.has_role(Role.HR_ADMIN)
