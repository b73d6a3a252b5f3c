"""Activity records: the one way facts enter Xuefen, online or from a phone's outbox.

``ingest`` takes a batch of records from one device and gives each a final outcome, exactly once:
the record id is the primary key, (device, seq) is unique, and the device's applied sequence, the
records and every effect are written in one transaction after locking the device row. Kinds are
handled by the ``RecordHandler``s listed in ``records.registry``, so an online mutation and a
synced record of the same kind run the same code. This module owns the batch: sorting records out
(duplicates, sequence), the clock, storing each record with its answer. ``apply_batch`` is that
batch on a transaction the caller holds, and ``apply_batches`` the batches of many employees at
once: an import of history applies thousands of records of hundreds of employees in a few
statements, all in one transaction (backend/services/imports/history_records.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import orjson
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from backend.config import Settings
from backend.errors import DomainError, ErrorCode
from backend.models import Device, RecordStatus
from backend.services.feed import ChangeSet, Entity
from backend.services.records import registry
from backend.services.records.clock import UNREADABLE_TIME, Clock
from backend.services.records.handler import ApplyContext, IncomingRecord, Outcome, ParsedRecord, invalid_payload
from backend.services.validation import storable_copy
from backend.services.viewer import Viewer
from backend.sql import Params, db_time, insert_many

DUPLICATE = "DUPLICATE"  # a result status, never stored: the record's stored status is final
MAX_REPORTED_OFFSET_MS = 2**31 - 1  # clockOffsetMs is a GraphQL Int (32-bit); stored in full
MAX_KIND_LENGTH = 32


def _json(value: Any, sort_keys: bool = False) -> bytes:
    """orjson for speed; the standard library for what orjson refuses (integers beyond 64 bits)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS if sort_keys else None)
    except TypeError:
        return json.dumps(value, sort_keys=sort_keys, ensure_ascii=False, separators=(",", ":")).encode()


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


async def ingest(
    viewer: Viewer,
    device_uid: str,
    records: Sequence[IncomingRecord],
    sent_at: datetime | None = None,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> IngestResult:
    """Apply a batch of records from the viewer's device; see docs/sync-protocol.md."""
    if device_uid != viewer.device_uid:
        raise DomainError(ErrorCode.DEVICE_MISMATCH)
    settings = settings or Settings()
    received_at = now or datetime.now(UTC)
    clock = Clock(sent_at, received_at, timedelta(days=settings.sync_stale_days))
    for attempt in (1, 2):
        try:
            results, applied_seq = await _ingest_once(viewer, device_uid, records, received_at, settings, clock)
            break
        except IntegrityError:
            # The device lock orders one phone's pushes, not two phones' of one person: both may
            # have found a record id (or another unique key) free and written it. The later
            # transaction is rolled back whole; once more, it sees what the other committed and
            # each record gets its typed answer (DUPLICATE, ID_REUSED, the handler's refusal).
            if attempt == 2:
                raise
    return IngestResult(
        results=results,
        applied_seq=applied_seq,
        clock_offset_ms=max(-MAX_REPORTED_OFFSET_MS, min(MAX_REPORTED_OFFSET_MS, clock.offset_ms)),
        clock_skewed=clock.skewed,
        received_at=received_at,
    )


async def _ingest_once(
    viewer: Viewer,
    device_uid: str,
    records: Sequence[IncomingRecord],
    received_at: datetime,
    settings: Settings,
    clock: Clock,
) -> tuple[list[RecordResult], int]:
    """``ingest``'s one transaction: the device locked, the batch applied and finished."""
    async with in_transaction() as connection:
        device = (
            await Device.filter(tenant_id=viewer.tenant_id, employee_id=viewer.employee_id, device_uid=device_uid)
            .select_for_update()
            .using_db(connection)
            .first()
        )
        if device is None:
            raise DomainError(ErrorCode.DEVICE_MISMATCH)
        changes = ChangeSet(viewer.tenant_id)
        context = ApplyContext(viewer, connection, changes, received_at, settings, device=device, clock=clock)
        answer = await apply_batch(context, records)
        await context.finish()
    return answer


async def apply_batch(
    context: ApplyContext, records: Sequence[IncomingRecord], announce_outcomes: bool = True
) -> tuple[list[RecordResult], int]:
    """The batch itself, on the caller's transaction: sort the records out, apply the new ones,
    store every one with its answer and move the device's applied sequence. ``context.device``
    must be locked by the caller. Does not finish the unit of work: the caller credits and
    publishes (``context.finish()``) before it commits. ``announce_outcomes``: mark each record's
    outcome for its employee's phone (an import has no phone waiting for one). Returns each
    record's answer, in order, and the applied sequence."""
    return (await apply_batches([(context, records)], announce_outcomes))[0]


async def apply_batches(
    batches: Sequence[tuple[ApplyContext, Sequence[IncomingRecord]]], announce_outcomes: bool = True
) -> list[tuple[list[RecordResult], int]]:
    """``apply_batch`` for the batches of many units of work on one connection (an import of many
    employees' history, in one transaction): one lookup of the records received before, each
    kind's records of every batch applied in one go (a handler's ``apply_many`` when it has one,
    else its ``apply`` per batch), one insert of every record. Each batch's answers, in order."""
    if not batches:
        return []
    connection = batches[0][0].connection
    existing = await _stored_outcomes(connection, [r.id for _, records in batches for r in records])
    sorted_out = []
    for context, records in batches:
        results: dict[int, RecordResult] = {}
        viewer, device = context.viewer, context.device
        to_apply, next_seq = _sort_out(
            (viewer.tenant_id, viewer.employee_id), records, existing, device.applied_seq, results
        )
        sorted_out.append((results, to_apply, next_seq))
    decided = await _apply([(context, to_apply) for (context, _), (_, to_apply, _) in zip(batches, sorted_out)])
    rows = []
    for (context, _), (results, to_apply, _), outcomes in zip(batches, sorted_out, decided):
        viewer, clock = context.viewer, context.clock
        stored = _record_rows(context)
        for (index, record), (outcome, corrected, flags) in zip(to_apply, outcomes):
            rows.append(stored(record, outcome, corrected, flags))
            results[index] = RecordResult(
                record.id,
                record.seq,
                outcome.status.value,
                outcome.code,
                outcome.params,
                server_version=outcome.server_version,
                received_at=clock.received_at,
                result=outcome.result,
            )
            if announce_outcomes:
                context.changes.touch(Entity.RECORD_OUTCOME, record.id, audience=viewer.employee_id)
    # One statement for the batches: building ORM objects would cost more than the insert.
    await insert_many(connection, "activity_record", _RECORD_COLUMNS, rows)
    answers = []
    for (context, records), (results, _, next_seq) in zip(batches, sorted_out):
        device = context.device
        if next_seq - 1 != device.applied_seq:
            p = Params(connection)
            await connection.execute_query(
                f"UPDATE device SET applied_seq = {p(next_seq - 1)} WHERE id = {p(device.id)}", p.values
            )
        _resolve_in_batch_duplicates(records, results)
        answers.append(([results[i] for i in range(len(records))], next_seq - 1))
    return answers


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
    500-record push. On PostgreSQL each id is looked up in the primary key (a join with the
    array): ``id = ANY(…)`` was planned as a scan of the whole table while its statistics were
    young, which grew with every push."""
    if not ids:
        return {}
    columns = "r.id, r.tenant_id, r.employee_id, r.content_hash, r.status, r.error_code, r.outcome, r.received_at"
    if connection.capabilities.dialect == "postgres":
        rows = await connection.execute_query_dict(
            f"SELECT {columns} FROM unnest($1::uuid[]) AS u(id) JOIN activity_record r ON r.id = u.id",
            [list(set(ids))],
        )
    else:
        unique = list({str(i) for i in ids})
        rows = await connection.execute_query_dict(
            f"SELECT {columns} FROM activity_record r WHERE r.id IN ({', '.join('?' * len(unique))})", unique
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
            if not mine or stored.content_hash != _stored_form(record)[1]:
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
    batches: list[tuple[ApplyContext, list[tuple[int, IncomingRecord]]]],
) -> list[list[tuple[Outcome, datetime, list[str]]]]:
    """Parse every record, then let each kind's handler apply its records in one go (of every
    batch at once when the handler has ``apply_many``)."""
    decided: list[list[tuple[Outcome, datetime, list[str]] | None]] = [
        [None] * len(to_apply) for _, to_apply in batches
    ]
    by_kind: dict[str, dict[int, list[tuple[int, ParsedRecord]]]] = {}  # kind -> batch -> parsed records
    for batch, (context, to_apply) in enumerate(batches):
        clock = context.clock
        for position, (_, record) in enumerate(to_apply):
            if record.occurred_at is None or record.rejection is not None:
                flags = [] if record.occurred_at is not None else [UNREADABLE_TIME]
                decided[batch][position] = (
                    Outcome.rejected(record.rejection or invalid_payload("occurredAt")),
                    clock.received_at,
                    flags,
                )
                continue
            corrected, flags = clock.correct(record.occurred_at)
            if record.seq is not None:
                context.batch_times[record.seq] = corrected
            handler = registry.KINDS.get(record.kind)
            if handler is None:
                outcome = Outcome.rejected(DomainError(ErrorCode.UNKNOWN_KIND, kind=record.kind[:MAX_KIND_LENGTH]))
                decided[batch][position] = (outcome, corrected, flags)
                continue
            try:
                parsed = handler.parse(record.payload)
            except DomainError as error:
                decided[batch][position] = (Outcome.rejected(error), corrected, flags)
                continue
            parsed_record = ParsedRecord(record, parsed, corrected, flags)
            by_kind.setdefault(record.kind, {}).setdefault(batch, []).append((position, parsed_record))
    # Kinds apply in the registry's order, not the batch's: a kind judged by another's effects
    # (LESSON_COMPLETED by the CONTENT_PROGRESS before it) is listed after it.
    for kind in sorted(by_kind, key=registry.ORDER.__getitem__):
        of_batch = by_kind[kind]
        handler = registry.KINDS[kind]
        apply_many = getattr(handler, "apply_many", None)
        if apply_many is not None:
            outcome_lists = await apply_many(
                [(batches[batch][0], [parsed for _, parsed in items]) for batch, items in of_batch.items()]
            )
        else:
            outcome_lists = [
                await handler.apply(batches[batch][0], [parsed for _, parsed in items])
                for batch, items in of_batch.items()
            ]
        for (batch, items), outcomes in zip(of_batch.items(), outcome_lists):
            for (position, parsed), outcome in zip(items, outcomes):
                decided[batch][position] = (outcome, parsed.occurred_at, parsed.flags)
    return [[entry for entry in entries if entry is not None] for entries in decided]


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


def _record_rows(context: ApplyContext) -> Callable[[IncomingRecord, Outcome, datetime, list[str]], tuple]:
    """The activity_record row of each record of a batch (columns as ``_RECORD_COLUMNS``), with
    what the batch's rows share worked out once."""
    connection, viewer, device, clock = context.connection, context.viewer, context.device, context.clock
    postgres = connection.capabilities.dialect == "postgres"
    received, sent = db_time(connection, clock.received_at), db_time(connection, clock.sent_at)
    offset_ms = clock.offset_ms

    def row(record: IncomingRecord, outcome: Outcome, corrected: datetime, flags: list[str]) -> tuple:
        payload, content_hash = _stored_form(record)
        return (
            record.id if postgres else str(record.id),
            viewer.tenant_id,
            viewer.employee_id,
            device.id,
            record.seq,
            record.kind[:MAX_KIND_LENGTH],
            # A refused record keeps what of its payload can be stored (its hash keeps the original).
            _json(storable_copy(payload) if record.rejection else payload).decode(),
            content_hash,
            # A time that could not be read is kept as sent in the payload's answer; the column
            # holds the receive time (a refused record's times drive nothing).
            db_time(connection, record.occurred_at) if record.occurred_at else received,
            sent,
            received,
            db_time(connection, corrected),
            offset_ms,
            ",".join(flags),
            outcome.status.value,
            outcome.code.value if outcome.code else None,
            _outcome_json(outcome),
            received,
            received,
        )

    return row


def _stored_form(record: IncomingRecord) -> tuple[Any, str]:
    """What the activity record keeps of a record's payload and the hash a retry must match: the
    whole payload, or the part its kind keeps (``stored_payload``: SURVEY_RESPONSE keeps no
    answers, so neither the row nor its hash holds them)."""
    keep = getattr(registry.KINDS.get(record.kind), "stored_payload", None)
    if keep is None:
        return record.payload, record.content_hash
    payload = keep(record.payload)
    return payload, record.hash_with(payload)


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
        if _stored_form(records[first_index[record.id]])[1] != _stored_form(record)[1]:
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
