"""Sync protocol types (docs/sync-protocol.md) and the online twins of record kinds."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import NewType
from uuid import UUID

import strawberry
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.scalars import JSON

from backend.errors import DomainError, ErrorCode
from backend.services.feed import Entity
from backend.services.records.handler import IncomingRecord
from backend.services.records.ingest import MAX_KIND_LENGTH, RecordResult
from backend.services.validation import parse_moment, storable, storable_copy, storable_json
from schema.common import UserError
from schema.credits.types import CreditBalance


@strawberry.enum(description="The result of one pushed record.")
class RecordResultStatus(Enum):
    ACCEPTED = strawberry.enum_value("ACCEPTED", description="Applied now.")
    DUPLICATE = strawberry.enum_value(
        "DUPLICATE", description="Received before; originalStatus tells the first outcome."
    )
    REJECTED = strawberry.enum_value("REJECTED", description="Refused (see code, retryable).")
    CONFLICT = strawberry.enum_value("CONFLICT", description="Stale baseVersion of a mutable thing; see serverVersion.")


# Registers the feed's own enum under its GraphQL name (strawberry.enum returns the same class,
# which fields below name as ``Entity`` so type checkers see an enum).
SyncEntity = strawberry.enum(Entity, name="SyncEntity", description="What a feed change is about.")


@strawberry.enum(description="What a feed change does to the local copy.")
class ChangeOp(Enum):
    UPSERT = strawberry.enum_value("UPSERT", description="Insert or replace the row with data.")
    DELETE = strawberry.enum_value("DELETE", description="Remove the row: deleted, or no longer visible to the viewer.")


def _parse_record(value: object) -> IncomingRecord:
    """A pushed record, validated straight into the service's form. A scalar rather than an
    input type: strawberry's per-field input conversion was half the cost of a 500-record push.

    What makes a record unanswerable (no id, no sequence number) fails the request. A record that
    can be answered but not accepted (a time out of bounds or without an offset, an overlong kind,
    text no database can store) is carried to ingest with its ``rejection``, so it gets its own
    final REJECTED answer and can never wedge the phone's outbox."""
    if not isinstance(value, dict):
        raise StrawberryInputCoercionError("SyncRecord must be an object")
    unknown = set(value) - {"id", "seq", "kind", "occurredAt", "payload"}
    if unknown:
        raise StrawberryInputCoercionError(f"SyncRecord has unknown fields: {sorted(unknown)}")
    try:
        record_id = UUID(str(value["id"]))
        seq, kind, occurred_at = value["seq"], value["kind"], value["occurredAt"]
        if isinstance(seq, bool) or not isinstance(seq, int) or not 1 <= seq < 2**62:
            raise ValueError("seq must be a positive integer")
        if not isinstance(kind, str) or not kind:
            raise ValueError("kind must be a non-empty string")
        if not isinstance(occurred_at, str) or len(occurred_at) > 64:
            raise ValueError("occurredAt must be an ISO 8601 string")
        payload = value["payload"]
    except KeyError as missing:
        raise StrawberryInputCoercionError(f"SyncRecord is missing {missing}") from None
    except ValueError as error:
        raise StrawberryInputCoercionError(f"Invalid SyncRecord: {error}") from None
    try:
        moment: datetime | None = parse_moment(occurred_at, "occurredAt")
        rejection = None
    except DomainError as unreadable:
        moment = None
        rejection = DomainError(
            ErrorCode.INVALID_PAYLOAD, reason_key=unreadable.params["reason_key"], name="occurredAt"
        )
    if len(kind) > MAX_KIND_LENGTH or not storable(kind):
        kind = str(storable_copy(kind))[:MAX_KIND_LENGTH]  # a str stays a str
        rejection = rejection or DomainError(ErrorCode.UNKNOWN_KIND, kind=kind)
    if not storable_json(payload):
        rejection = rejection or DomainError(ErrorCode.INVALID_PAYLOAD, reason_key="reason.text_chars", name="payload")
    return IncomingRecord(record_id, seq, kind, moment, payload, occurred_at if moment is None else None, rejection)


SyncRecord = NewType("SyncRecord", IncomingRecord)  # the scalar parses straight into the service form
SYNC_RECORD_SCALAR = strawberry.scalar(
    name="SyncRecord",
    description="One activity record from a phone's outbox: an object "
    '`{"id": UUID, "seq": Int >= 1 (per-device sequence), "kind": String, '
    '"occurredAt": DateTime with a UTC offset (device clock), "payload": JSON (kind-specific)}` '
    "(docs/sync-protocol.md). A record whose occurredAt is out of bounds or has no offset, or whose kind is "
    "longer than 32 characters, is answered REJECTED on its own.",
    parse_value=_parse_record,
    serialize=lambda value: value,
)


@strawberry.input(description="A batch of records from one device.")
class SyncPushInput:
    protocol_version: int = strawberry.field(description="Sync protocol version (1).")
    device_id: str = strawberry.field(description="The device of the access token.")
    sent_at: datetime = strawberry.field(description="The device clock when the request was built.")
    records: list[SyncRecord] = strawberry.field(description="At most 500 records.")


@strawberry.type(description="The outcome of one pushed record.")
class SyncRecordResult:
    id: strawberry.ID = strawberry.field(description="The record UUID.")
    seq: int | None = strawberry.field(description="Its device sequence number.")
    status: RecordResultStatus = strawberry.field(description="What happened.")
    code: str | None = strawberry.field(description="Stable code for REJECTED / CONFLICT (or of the original).")
    message: str | None = strawberry.field(description="The code in the caller's language.")
    retryable: bool = strawberry.field(
        description="True when the record must stay in the outbox and be sent again (SEQUENCE_GAP)."
    )
    original_status: RecordResultStatus | None = strawberry.field(
        description="For DUPLICATE: the outcome of the first arrival."
    )
    server_version: JSON | None = strawberry.field(description="For CONFLICT: the server's copy.")
    received_at: datetime | None = strawberry.field(description="When the server first received it.")
    result: JSON | None = strawberry.field(
        description="What the server decided, for kinds that have an answer: a quiz's score "
        "(QUIZ_SUBMISSION: {attemptNo, score, maxScore, percent, passed, status, feedback}, feedback null "
        "unless the quiz allows review and, with reviewTiming AFTER_FINAL_ATTEMPT, the learner has passed, "
        "has no attempt left or the quiz has closed). Repeated as first answered for DUPLICATE; null for "
        "other kinds and refusals."
    )

    @classmethod
    def from_result(cls, result: RecordResult, locale: str) -> SyncRecordResult:
        code = result.code
        return cls(
            id=strawberry.ID(str(result.id)),
            seq=result.seq,
            status=RecordResultStatus(result.status),
            code=code.value if code else None,
            message=DomainError(code, **result.params).message(locale) if code else None,
            retryable=result.retryable,
            original_status=RecordResultStatus(result.original_status.value) if result.original_status else None,
            server_version=JSON(result.server_version),
            received_at=result.received_at,
            result=JSON(result.result),
        )


@strawberry.type(description="Answer to syncPush.")
class SyncPushPayload:
    results: list[SyncRecordResult] = strawberry.field(description="One result per record, in input order.")
    applied_seq: int = strawberry.field(description="Highest device sequence with a final outcome on the server.")
    server_time: datetime | None = strawberry.field(description="Server receive time.")
    clock_offset_ms: int = strawberry.field(
        description="Server receive time minus sentAt: how far the device clock is behind."
    )
    clock_skewed: bool = strawberry.field(description="True when the offset exceeds 2 minutes.")
    errors: list[UserError] = strawberry.field(description="Whole-request failures; nothing applied.")
    credits: CreditBalance | None = strawberry.field(
        default=None, description="The viewer's credit account after the push (null when nothing was applied)."
    )


@strawberry.input(description="Where to continue the change feed.")
class SyncPullInput:
    protocol_version: int = strawberry.field(description="Sync protocol version (1).")
    device_id: str = strawberry.field(description="The device of the access token.")
    cursor: str | None = strawberry.field(default=None, description="The last cursor; none for a first sync.")
    limit: int = strawberry.field(default=200, description="Changes per page, 1–1000.")


@strawberry.type(description="One change of the feed.")
class SyncChange:
    entity: Entity = strawberry.field(description="What the row is.")
    id: strawberry.ID = strawberry.field(description="The row's ID (global ID, or record UUID).")
    op: ChangeOp = strawberry.field(description="Upsert or delete.")
    data: JSON | None = strawberry.field(description="The whole current row for UPSERT; null for DELETE.")


@strawberry.type(description="A page of the change feed.")
class SyncPullPayload:
    changes: list[SyncChange] = strawberry.field(description="Changes in feed order.")
    cursor: str | None = strawberry.field(description="Store with this page; pass it to the next pull.")
    has_more: bool = strawberry.field(description="Pull again at once when true.")
    applied_seq: int = strawberry.field(description="The server's applied sequence for this device.")
    server_time: datetime | None = strawberry.field(description="Server time of this page.")
    errors: list[UserError] = strawberry.field(description="RESET_REQUIRED, CURSOR_INVALID, UNSUPPORTED_PROTOCOL, …")


@strawberry.type(description="What this server speaks and allows.")
class SyncInfo:
    supported_versions: list[int] = strawberry.field(description="Protocol versions.")
    max_push_records: int = strawberry.field(description="Most records per push.")
    max_pull_limit: int = strawberry.field(description="Largest pull limit.")
    max_body_bytes: int = strawberry.field(description="Largest request body, after decompression.")
    tombstone_days: int = strawberry.field(description="How long deletions stay in the feed.")
    record_kinds: list[str] = strawberry.field(description="Record kinds a phone may send.")
    contract_url: str = strawberry.field(
        description="Path of the JSON Schemas of record payloads and feed entity data (the typed sync "
        "contract, also in the repository's schema/sync/); relative to this server."
    )
    contract_version: int = strawberry.field(
        description="The contract's version: it changes on a breaking change only (docs/sync-protocol.md)."
    )
    contract_hash: str = strawberry.field(
        description="A hash of the contract (it changes on any change, additive ones too; also its ETag)."
    )
    deprecated_fields: list[str] = strawberry.field(
        description="Contract fields marked deprecated (records.KIND.field, entities.ENTITY.field): each "
        "stays at least six months and two app releases after it first appears here."
    )


def utc(moment: datetime) -> datetime:
    """A time in the standard library's UTC zone. DateTime inputs already arrive so (the scalar
    refuses times without an offset); this keeps later arithmetic off other tzinfo classes."""
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)
