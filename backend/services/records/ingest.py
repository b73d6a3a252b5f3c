"""Activity records: the one way facts enter Xuefen, online or from a phone's outbox.

``ingest`` takes a batch of records from one device and gives each a final outcome, exactly once:
the record id is the primary key, (device, seq) is unique, and the device's applied sequence, the
records and every effect are written in one transaction after locking the device row. Kinds are
handled by ``RecordHandler``s in one registry, so an online mutation and a synced record of the
same kind run the same code.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

import orjson
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from backend.config import Settings
from backend.errors import DomainError, ErrorCode
from backend.ids import expect_global_id
from backend.models import Device, RecordStatus
from backend.services.feed import ChangeSet, Entity
from backend.services.validation import storable_copy
from backend.services.viewer import Viewer
from backend.sql import db_time, db_uuid, insert_many

DUPLICATE = "DUPLICATE"  # a result status, never stored: the record's stored status is final
SKEW_FLAG_AFTER = timedelta(minutes=2)
FUTURE_TOLERANCE = timedelta(minutes=1)
MAX_CORRECTION = timedelta(days=7)
# A record that happened longer than this before it arrived is flagged STALE (a phone offline for
# a month is possible; a record from 1970 is a clock or a client that cannot be believed).
STALE_AFTER = timedelta(days=30)
MAX_REPORTED_OFFSET_MS = 2**31 - 1  # clockOffsetMs is a GraphQL Int (32-bit); stored in full
MAX_KIND_LENGTH = 32
# The clock flag of a record refused because its time could not be read: its stored corrected time
# is the receive time, which says nothing about when it happened.
UNREADABLE_TIME = "UNREADABLE_TIME"


@dataclass(frozen=True)
class IncomingRecord:
    """A record as the client sent it."""

    id: UUID
    seq: int | None  # None for online mutations, which have no outbox
    kind: str
    occurred_at: datetime | None  # None when the phone's time could not be read (see rejection)
    payload: dict[str, Any]
    # As sent, when it could not be read: part of what the record says, so a retry must match it.
    occurred_at_text: str | None = None
    # Why the record is refused before any handler sees it (a time out of bounds or without an
    # offset, an overlong kind): it still gets its own final answer, like any refused record.
    rejection: DomainError | None = None

    @property
    def content_hash(self) -> str:
        # An online record (no seq) takes the server's clock when the caller gives no time, so its
        # time is not part of what it says: a retry with the same client id must match.
        if self.occurred_at is None:
            when = self.occurred_at_text
        else:
            when = self.occurred_at.astimezone(UTC).isoformat() if self.seq is not None else None
        canonical = json.dumps(
            [self.kind, when, self.payload],
            sort_keys=True,
            ensure_ascii=False,
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _json(value: Any, sort_keys: bool = False) -> bytes:
    """orjson for speed; the standard library for what orjson refuses (integers beyond 64 bits)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS if sort_keys else None)
    except TypeError:
        return json.dumps(value, sort_keys=sort_keys, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass
class Outcome:
    """What applying one record decided; ``params`` fill the message of ``code``; ``result`` is
    what the server decided for kinds that have an answer (a quiz's score), JSON-ready."""

    status: RecordStatus
    code: ErrorCode | None = None
    params: dict[str, Any] = field(default_factory=dict)
    server_version: dict[str, Any] | None = None
    result: dict[str, Any] | None = None

    @classmethod
    def rejected(cls, error: DomainError) -> Outcome:
        return cls(RecordStatus.REJECTED, error.code, dict(error.params))


@dataclass
class RecordResult:
    """The answer for one record: its outcome now, or (``DUPLICATE``) the first time."""

    id: UUID
    seq: int | None
    status: str
    code: ErrorCode | None = None
    params: dict[str, Any] = field(default_factory=dict)
    retryable: bool = False
    original_status: RecordStatus | None = None
    server_version: dict[str, Any] | None = None
    received_at: datetime | None = None
    result: dict[str, Any] | None = None


@dataclass
class IngestResult:
    results: list[RecordResult]
    applied_seq: int
    clock_offset_ms: int
    clock_skewed: bool
    received_at: datetime


@dataclass
class ApplyContext:
    """What a handler needs while applying records: who, where, and the transaction."""

    viewer: Viewer
    device: Device
    connection: BaseDBAsyncClient
    changes: ChangeSet
    received_at: datetime
    clock_offset_ms: int = 0
    # Creditable facts the handlers noted (services.credits.note); credited before the commit.
    creditables: list = field(default_factory=list)
    settings: Settings = field(default_factory=Settings)
    # How this request's device times were read, and the corrected time of every record of the
    # batch by sequence number: evidence a handler may weigh (check-in corroborates scan times).
    clock: Clock | None = None
    batch_times: dict[int, datetime] = field(default_factory=dict)

    async def finish(self) -> None:
        """Credit what the handlers noted and publish the feed changes: the last steps of every
        transaction that applied records (or did the same work online, such as manual grading)."""
        from backend.services.credits import credit_engine  # late: credits builds on this module

        await credit_engine.settle(self)
        await self.changes.publish(self.connection, self.received_at)


@dataclass(frozen=True)
class ParsedRecord:
    record: IncomingRecord
    payload: Any  # the handler's parsed form
    occurred_at: datetime  # corrected time
    flags: list[str] = field(default_factory=list)


class RecordHandler(Protocol):
    """One record kind. ``parse`` checks shape (no database); ``apply`` decides and writes the
    effects of a batch of records of this kind, in order, with batched queries."""

    kind: str

    def parse(self, payload: dict[str, Any]) -> Any: ...

    async def apply(self, context: ApplyContext, records: list[ParsedRecord]) -> list[Outcome]: ...


REGISTRY: dict[str, RecordHandler] = {}


def register(handler: RecordHandler) -> RecordHandler:
    """Add a kind to the registry (each domain module registers its kinds at import)."""
    REGISTRY[handler.kind] = handler
    return handler


def invalid_payload(name: str) -> DomainError:
    return DomainError(ErrorCode.INVALID_PAYLOAD, reason_key="reason.field", name=name)


def payload_id(payload: Any, name: str, type_name: str) -> int:
    """The row id of a global ID in ``payload[name]`` that must name a ``type_name``."""
    if not isinstance(payload, dict) or not isinstance(payload.get(name), str):
        raise invalid_payload(name)
    try:
        return expect_global_id(payload[name], type_name, name)
    except DomainError as error:
        raise invalid_payload(name) from error


class Clock:
    """How to read one request's device times (worked out once per batch)."""

    def __init__(self, sent_at: datetime | None, received_at: datetime, stale_after: timedelta = STALE_AFTER) -> None:
        self.sent_at = sent_at
        self.received_at = received_at
        self.stale_after = stale_after
        self.offset = received_at - sent_at if sent_at else timedelta(0)
        self.skewed = abs(self.offset) > SKEW_FLAG_AFTER
        # Offsets beyond a week are not trusted to correct anything.
        self._shift = self.offset if abs(self.offset) <= MAX_CORRECTION else timedelta(0)
        self._latest_plausible = (sent_at or received_at) + FUTURE_TOLERANCE

    @property
    def trusted(self) -> bool:
        """Whether device times of this request can be corrected into server time (the offset
        was measured and is within the bound)."""
        return self.sent_at is not None and abs(self.offset) <= MAX_CORRECTION

    def correct(self, occurred_at: datetime) -> tuple[datetime, list[str]]:
        flags = ["CLOCK_SKEW"] if self.skewed else []
        corrected = occurred_at + self._shift
        if occurred_at > self._latest_plausible or corrected > self.received_at + FUTURE_TOLERANCE:
            flags.append("FUTURE")
        if corrected < self.received_at - self.stale_after:
            flags.append("STALE")
        return min(corrected, self.received_at), flags


async def ingest(
    viewer: Viewer,
    device_uid: str,
    records: Sequence[IncomingRecord],
    sent_at: datetime | None = None,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> IngestResult:
    """Apply a batch of records from the viewer's device; see docs/sync-protocol.md."""
    import backend.services.records.registry  # noqa: F401  (fills REGISTRY; imported late: kinds import us)

    if device_uid != viewer.device_uid:
        raise DomainError(ErrorCode.DEVICE_MISMATCH)
    settings = settings or Settings()
    received_at = now or datetime.now(UTC)
    clock = Clock(sent_at, received_at, timedelta(days=settings.sync_stale_days))
    results: dict[int, RecordResult] = {}
    async with in_transaction() as connection:
        device = (
            await Device.filter(tenant_id=viewer.tenant_id, employee_id=viewer.employee_id, device_uid=device_uid)
            .select_for_update()
            .using_db(connection)
            .first()
        )
        if device is None:
            raise DomainError(ErrorCode.DEVICE_MISMATCH)
        existing = await _stored_outcomes(connection, [r.id for r in records])
        to_apply, next_seq = _sort_out(
            (viewer.tenant_id, viewer.employee_id), records, existing, device.applied_seq, results
        )
        changes = ChangeSet(viewer.tenant_id)
        context = ApplyContext(
            viewer,
            device,
            connection,
            changes,
            received_at,
            _offset_ms(clock),
            settings=settings,
            clock=clock,
        )
        outcomes = await _apply(context, clock, to_apply)
        rows = []
        for (index, record), (outcome, corrected, flags) in zip(to_apply, outcomes):
            rows.append(_stored(connection, viewer, device, record, outcome, corrected, flags, clock))
            results[index] = RecordResult(
                record.id,
                record.seq,
                outcome.status.value,
                outcome.code,
                outcome.params,
                server_version=outcome.server_version,
                received_at=received_at,
                result=outcome.result,
            )
            changes.touch(Entity.RECORD_OUTCOME, record.id, audience=viewer.employee_id)
        # One statement for the batch: building ORM objects would cost more than the insert.
        await insert_many(connection, "activity_record", _RECORD_COLUMNS, rows)
        if next_seq - 1 != device.applied_seq:
            await Device.filter(id=device.id).using_db(connection).update(applied_seq=next_seq - 1)
        await context.finish()
    _resolve_in_batch_duplicates(records, results)
    return IngestResult(
        results=[results[i] for i in range(len(records))],
        applied_seq=next_seq - 1,
        clock_offset_ms=max(-MAX_REPORTED_OFFSET_MS, min(MAX_REPORTED_OFFSET_MS, _offset_ms(clock))),
        clock_skewed=clock.skewed,
        received_at=received_at,
    )


@dataclass(frozen=True)
class StoredOutcome:
    """What a retry needs to know about a record received before."""

    tenant_id: int
    employee_id: int
    content_hash: str
    status: str
    error_code: str | None
    outcome: dict[str, Any] | None
    received_at: datetime


async def _stored_outcomes(connection: BaseDBAsyncClient, ids: list[UUID]) -> dict[UUID, StoredOutcome]:
    """Records already received, by id alone (ids are global: someone else's is never new).
    Plain SQL with one array parameter: the ORM builds a query term per id, which showed in a
    500-record push."""
    if not ids:
        return {}
    columns = "id, tenant_id, employee_id, content_hash, status, error_code, outcome, received_at"
    if connection.capabilities.dialect == "postgres":
        rows = await connection.execute_query_dict(
            f"SELECT {columns} FROM activity_record WHERE id = ANY($1::uuid[])", [list(set(ids))]
        )
    else:
        unique = list({str(i) for i in ids})
        rows = await connection.execute_query_dict(
            f"SELECT {columns} FROM activity_record WHERE id IN ({', '.join('?' * len(unique))})", unique
        )
    found = {}
    for row in rows:
        outcome = row["outcome"]
        received = row["received_at"]
        found[UUID(str(row["id"]))] = StoredOutcome(
            row["tenant_id"],
            row["employee_id"],
            row["content_hash"],
            row["status"],
            row["error_code"],
            json.loads(outcome) if isinstance(outcome, str) else outcome,
            datetime.fromisoformat(received) if isinstance(received, str) else received,
        )
    return found


def _sort_out(
    viewer_key: tuple[int, int],
    records: Sequence[IncomingRecord],
    existing: dict[UUID, StoredOutcome],
    applied_seq: int,
    results: dict[int, RecordResult],
) -> tuple[list[tuple[int, IncomingRecord]], int]:
    """Decide which records are new and in sequence; answer the rest at once."""
    order = sorted(range(len(records)), key=lambda i: (records[i].seq is None, records[i].seq or 0, i))
    seen: set[UUID] = set()
    to_apply: list[tuple[int, IncomingRecord]] = []
    next_seq = applied_seq + 1
    for index in order:
        record = records[index]
        stored = existing.get(record.id)
        if record.id in seen:
            continue  # the same id twice in one batch: answered like its first copy, below
        seen.add(record.id)
        if record.seq is not None and record.seq > next_seq:
            # Before anything else: even a final answer (ID_REUSED) would leave a hole here.
            results[index] = RecordResult(
                record.id,
                record.seq,
                RecordStatus.REJECTED.value,
                ErrorCode.SEQUENCE_GAP,
                {"expected": next_seq},
                retryable=True,
            )
        elif stored is not None:
            mine = stored.tenant_id == viewer_key[0] and stored.employee_id == viewer_key[1]
            if not mine or stored.content_hash != record.content_hash:
                results[index] = RecordResult(record.id, record.seq, RecordStatus.REJECTED.value, ErrorCode.ID_REUSED)
            else:
                outcome = stored.outcome or {}
                results[index] = RecordResult(
                    record.id,
                    record.seq,
                    DUPLICATE,
                    ErrorCode(stored.error_code) if stored.error_code else None,
                    dict(outcome.get("params") or {}),
                    original_status=RecordStatus(stored.status),
                    server_version=outcome.get("serverVersion"),
                    received_at=stored.received_at,
                    result=outcome.get("result"),
                )
            if record.seq == next_seq:
                next_seq += 1  # answered for good (the phone drops it): its number is used up
        elif record.seq is None:
            to_apply.append((index, record))
        elif record.seq < next_seq:
            # Not stored: a phone restored from an old backup renumbers after appliedSeq and resends.
            results[index] = RecordResult(
                record.id,
                record.seq,
                RecordStatus.REJECTED.value,
                ErrorCode.SEQUENCE_REUSED,
                {"applied": next_seq - 1},
                retryable=True,
            )
        else:
            to_apply.append((index, record))
            next_seq += 1
    return to_apply, next_seq


async def _apply(
    context: ApplyContext, clock: Clock, to_apply: list[tuple[int, IncomingRecord]]
) -> list[tuple[Outcome, datetime, list[str]]]:
    """Parse every record, then let each kind's handler apply its records in one go."""
    decided: list[tuple[Outcome, datetime, list[str]] | None] = [None] * len(to_apply)
    by_kind: dict[str, list[tuple[int, ParsedRecord]]] = {}
    for position, (_, record) in enumerate(to_apply):
        if record.occurred_at is None or record.rejection is not None:
            flags = [] if record.occurred_at is not None else [UNREADABLE_TIME]
            decided[position] = (
                Outcome.rejected(record.rejection or invalid_payload("occurredAt")),
                clock.received_at,
                flags,
            )
            continue
        corrected, flags = clock.correct(record.occurred_at)
        if record.seq is not None:
            context.batch_times[record.seq] = corrected
        handler = REGISTRY.get(record.kind)
        if handler is None:
            outcome = Outcome.rejected(DomainError(ErrorCode.UNKNOWN_KIND, kind=record.kind[:MAX_KIND_LENGTH]))
            decided[position] = (outcome, corrected, flags)
            continue
        try:
            parsed = handler.parse(record.payload)
        except DomainError as error:
            decided[position] = (Outcome.rejected(error), corrected, flags)
            continue
        by_kind.setdefault(record.kind, []).append((position, ParsedRecord(record, parsed, corrected, flags)))
    for kind, items in by_kind.items():
        outcomes = await REGISTRY[kind].apply(context, [parsed for _, parsed in items])
        for (position, parsed), outcome in zip(items, outcomes):
            decided[position] = (outcome, parsed.occurred_at, parsed.flags)
    return [entry for entry in decided if entry is not None]


def _offset_ms(clock: Clock) -> int:
    return int(clock.offset.total_seconds() * 1000)


_RECORD_COLUMNS = {
    "id": "uuid",
    "tenant_id": "int",
    "employee_id": "int",
    "device_id": "int",
    "device_seq": "bigint",
    "kind": "text",
    "payload": "jsonb",
    "content_hash": "text",
    "occurred_at_device": "timestamptz",
    "sent_at_device": "timestamptz",
    "received_at": "timestamptz",
    "occurred_at": "timestamptz",
    "clock_offset_ms": "bigint",
    "clock_flags": "text",
    "status": "text",
    "error_code": "text",
    "outcome": "jsonb",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
}


def _outcome_json(outcome: Outcome) -> str | None:
    """What a DUPLICATE answer repeats: the server copy of a CONFLICT, the message params and the
    kind's result."""
    kept: dict[str, Any] = {}
    if outcome.server_version:
        kept["serverVersion"] = outcome.server_version
    if outcome.result is not None:
        kept["result"] = outcome.result
    params = {k: v for k, v in outcome.params.items() if isinstance(v, (str, int, float, bool))}
    if params:
        kept["params"] = params  # e.g. the kind of UNKNOWN_KIND, the field of INVALID_PAYLOAD
    return json.dumps(kept, ensure_ascii=False) if kept else None


def _stored(connection, viewer, device, record, outcome, corrected, flags, clock) -> tuple:
    now = db_time(connection, clock.received_at)
    return (
        db_uuid(connection, record.id),
        viewer.tenant_id,
        viewer.employee_id,
        device.id,
        record.seq,
        record.kind[:MAX_KIND_LENGTH],
        # A refused record keeps what of its payload can be stored (its hash keeps the original).
        _json(storable_copy(record.payload) if record.rejection else record.payload).decode(),
        record.content_hash,
        # A time that could not be read is kept as sent in the payload's answer; the column holds
        # the receive time (a refused record's times drive nothing).
        db_time(connection, record.occurred_at or clock.received_at),
        db_time(connection, clock.sent_at),
        now,
        db_time(connection, corrected),
        int(clock.offset.total_seconds() * 1000),
        ",".join(flags),
        outcome.status.value,
        outcome.code.value if outcome.code else None,
        _outcome_json(outcome),
        now,
        now,
    )


def _resolve_in_batch_duplicates(records: Sequence[IncomingRecord], results: dict[int, RecordResult]) -> None:
    """A record repeated inside one batch is answered like a retry of its first copy."""
    first_index: dict[UUID, int] = {}
    for index, record in enumerate(records):
        if index in results:
            first_index.setdefault(record.id, index)
    for index, record in enumerate(records):
        if index in results:
            continue
        first = results[first_index[record.id]]
        if records[first_index[record.id]].content_hash != record.content_hash:
            results[index] = RecordResult(record.id, record.seq, RecordStatus.REJECTED.value, ErrorCode.ID_REUSED)
        elif first.status == DUPLICATE or first.received_at is None:
            # A retry, or a first copy that was not stored (ID_REUSED, SEQUENCE_*): the same answer.
            results[index] = first
        else:
            results[index] = RecordResult(
                record.id,
                record.seq,
                DUPLICATE,
                first.code,
                first.params,
                original_status=RecordStatus(first.status) if first.status in RecordStatus.__members__ else None,
                server_version=first.server_version,
                received_at=first.received_at,
                result=first.result,
            )
