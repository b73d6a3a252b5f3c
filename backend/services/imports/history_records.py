"""Historical training records and opening credit balances, as an import of a company's past
writes them: many employees at once, on the import job's one transaction.

- ``ingest_history`` turns rows into ``HISTORY_RESULT`` records (history_kind) and applies them
  through ingest's own batches (``ingest.apply_batches``: every employee's batch on their import
  device, all in a few statements), so progress, course completions, skills and credits are
  derived exactly as for synced records. Record ids are uuid5 of the tenant and the row's fact
  (employee, module, activity, time, source): importing a row again is a DUPLICATE, reported
  UNCHANGED; the same fact with another score or count is ID_REUSED. A refused row leaves no
  record (fix the data and import it again).
- Credit facts are settled as if each had arrived when it happened
  (``credit_engine.settle_as_happened``): each employee's in time order, caps, periods and
  first-time rules judging each at its real time.
- ``post_opening_balances``: one OPENING_BALANCE ledger entry per employee (ledger), at most once.

Neither audits (the import job audits what it wrote, with its job id) nor commits; feed marks go
to the caller's ``ChangeSet``, to publish as the last step of its transaction.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.backends.base.client import BaseDBAsyncClient

from backend.config import Settings
from backend.errors import DomainError, ErrorCode
from backend.ids import to_global_id
from backend.models import ActivityRecord, Employee, RecordStatus, Tenant
from backend.services.credits import credit_engine, ledger
from backend.services.feed import ChangeSet
from backend.services.imports.history_job import HistoryCatalog, HistoryContext, HistoryJob, write_evidence
from backend.services.imports.history_kind import HISTORY_RESULT
from backend.services.people import devices
from backend.services.records import ingest
from backend.services.records.clock import Clock
from backend.services.records.handler import IncomingRecord
from backend.services.validation import (
    EARLIEST,
    EARLIEST_DAY,
    invalid,
    parse_decimal,
    storable,
    storable_text,
    text,
)
from backend.services.viewer import Viewer

# uuid5 namespace of history record ids (fixed forever: ids must come out the same every import).
RECORD_NAMESPACE = uuid.UUID("5d0c7a4e-2f39-4b8e-9a51-7c3e1d6b8f20")
MAX_SOURCE = 64
ID_CHUNK = 1000  # ids per IN (…)


class RowStatus(StrEnum):
    CREATED = "CREATED"
    UNCHANGED = "UNCHANGED"  # imported before with the same values
    REJECTED = "REJECTED"  # see the outcome's error; nothing was written for the row


@dataclass(frozen=True)
class RowOutcome:
    """What became of one row: ``error`` for a rejected one (its ``field`` names the value at
    fault), the record id of a history row, the entry id of a posted opening balance."""

    status: RowStatus
    error: DomainError | None = None
    record_id: uuid.UUID | None = None
    entry_id: int | None = None


# --- history -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryRow:
    """One result from the earlier system. ``activity``: LESSON, ATTENDANCE, QUIZ, PRACTICE or
    EVALUATION; ``score`` (0–100) for QUIZ and EVALUATION only; ``count`` 1–1000 (1 for scored
    ones); ``source``: the earlier system (e.g. "Excel 2023"), part of what the fact is."""

    employee_id: int
    module_id: int
    activity: str
    occurred_at: datetime
    score: int | None = None
    count: int = 1
    source: str = ""

    def record_id(self, tenant_id: int) -> uuid.UUID:
        """uuid5 of the tenant and the fact: employee, module, activity, time and source."""
        when = self.occurred_at.astimezone(UTC).isoformat()
        key = f"{tenant_id}\x1f{self.employee_id}\x1f{self.module_id}\x1f{self.activity}\x1f{when}\x1f{self.source}"
        return uuid.uuid5(RECORD_NAMESPACE, key)

    def payload(self, module_global_id: str | None = None) -> dict[str, Any]:
        """The HISTORY_RESULT payload (``module_global_id``: the module's global ID, if known)."""
        payload: dict[str, Any] = {
            "moduleId": module_global_id or to_global_id("CourseModule", self.module_id),
            "activity": self.activity,
            "count": self.count,
            "source": self.source,
        }
        if self.score is not None:
            payload["score"] = self.score
        return payload


async def ingest_history(
    connection: BaseDBAsyncClient,
    tenant_id: int,
    rows: Sequence[HistoryRow],
    changes: ChangeSet | None = None,
    settings: Settings | None = None,
    now: datetime | None = None,
    catalog: HistoryCatalog | None = None,
) -> list[RowOutcome]:
    """Apply history rows of many employees on ``connection`` (the caller's transaction: an error
    raised here leaves it to roll back everything). Returns each row's outcome, in order. Without
    ``changes`` the feed marks are published here, as the last step (call it last then). An
    import calls it for a few thousand rows at a time, each employee's rows in one call, with the
    same ``catalog`` (the modules it names, read once)."""
    settings = settings or Settings()
    now = now or datetime.now(UTC)
    outcomes: list[RowOutcome | None] = [None] * len(rows)
    payloads: list[dict[str, Any]] = []
    global_ids: dict[int, str] = {}
    for index, row in enumerate(rows):
        if row.module_id not in global_ids:
            global_ids[row.module_id] = to_global_id("CourseModule", row.module_id)
        payloads.append(row.payload(global_ids[row.module_id]))
        if row.occurred_at.tzinfo is None:
            outcomes[index] = RowOutcome(RowStatus.REJECTED, invalid("occurredAt", "reason.timezone_required"))
        elif row.occurred_at < EARLIEST:
            outcomes[index] = RowOutcome(RowStatus.REJECTED, invalid("occurredAt", "reason.datetime_range"))
        elif not (storable(row.activity) and storable(row.source)):  # as the sync scalar refuses them
            outcomes[index] = RowOutcome(RowStatus.REJECTED, invalid("source", "reason.text_chars"))
    employees = await _employees(connection, tenant_id, {row.employee_id for row in rows})
    by_employee: dict[int, list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        if outcomes[index] is not None:
            continue
        if row.employee_id not in employees:
            missing = DomainError(ErrorCode.NOT_FOUND, field="employeeId", name="employeeId")
            outcomes[index] = RowOutcome(RowStatus.REJECTED, missing)
        else:
            by_employee[row.employee_id].append(index)
    shared = changes if changes is not None else ChangeSet(tenant_id)
    employee_ids = sorted(by_employee)
    device_of = await devices.import_devices(connection, tenant_id, employee_ids)
    module_ids = {rows[i].module_id for indexes in by_employee.values() for i in indexes}
    job = await HistoryJob.read(connection, tenant_id, module_ids, employee_ids, catalog)
    # No sending time: HR's times are taken as given, never shifted by a phone's offset.
    clock = Clock(None, now, timedelta(days=settings.sync_stale_days))
    batches = []
    for employee_id in employee_ids:
        # In time order: "every N", first passes and skill levels build up as they happened.
        indexes = sorted(by_employee[employee_id], key=lambda i: rows[i].occurred_at)
        context = HistoryContext(
            _viewer(employees[employee_id]),
            connection,
            shared,
            now,
            settings,
            device=device_of[employee_id],
            clock=clock,
            job=job,
        )
        records = [
            IncomingRecord(rows[i].record_id(tenant_id), None, HISTORY_RESULT, rows[i].occurred_at, payloads[i])
            for i in indexes
        ]
        batches.append((context, indexes, records))
    answers = await ingest.apply_batches(
        [(context, records) for context, _, records in batches], announce_outcomes=False
    )
    noted: list[credit_engine.Creditable] = []
    refused: list[uuid.UUID] = []
    for (context, indexes, _), (results, _) in zip(batches, answers):
        noted.extend(context.creditables)
        for index, result in zip(indexes, results):
            outcomes[index] = _row_outcome(result)
            if result.status == RecordStatus.REJECTED.value and result.received_at is not None:
                refused.append(result.id)
    await write_evidence(connection, tenant_id, job, shared, now)
    for start in range(0, len(refused), ID_CHUNK):
        await ActivityRecord.filter(id__in=refused[start : start + ID_CHUNK]).using_db(connection).delete()
    await credit_engine.settle_as_happened(connection, shared, tenant_id, noted, now)
    if changes is None:
        await shared.publish(connection, now)
    return [outcome or RowOutcome(RowStatus.REJECTED) for outcome in outcomes]


async def _employees(connection: BaseDBAsyncClient, tenant_id: int, ids: set[int]) -> dict[int, Employee]:
    """The tenant's employees among ``ids`` (any other id is missing, as for any tenant-scoped read)."""
    wanted, found = sorted(ids), {}
    for start in range(0, len(wanted), ID_CHUNK):
        for employee in (
            await Employee.filter(tenant_id=tenant_id, id__in=wanted[start : start + ID_CHUNK])
            .only("id", "tenant_id")
            .using_db(connection)
        ):
            found[employee.id] = employee
    return found


def _viewer(employee: Employee) -> Viewer:
    """The employee as the writer of their own history, on their import device (no session: no
    one signed in; no roles: the kind decides by the device alone)."""
    return Viewer(employee.tenant_id, employee, frozenset(), uuid.UUID(int=0), devices.IMPORT_DEVICE_UID)


def _row_outcome(result: ingest.RecordResult) -> RowOutcome:
    if result.status == RecordStatus.ACCEPTED.value:
        return RowOutcome(RowStatus.CREATED, record_id=result.id)
    if result.status == ingest.DUPLICATE and result.original_status == RecordStatus.ACCEPTED:
        return RowOutcome(RowStatus.UNCHANGED, record_id=result.id)
    params = dict(result.params)
    name = params.get("name")
    error = DomainError(result.code or ErrorCode.VALIDATION, field=name if isinstance(name, str) else None, **params)
    return RowOutcome(RowStatus.REJECTED, error, record_id=result.id)


# --- opening balances --------------------------------------------------------------------------


@dataclass(frozen=True)
class OpeningRow:
    """An employee's credit balance in the earlier system: ``amount`` in credits (more than 0, at
    most ``ledger.MAX_OPENING_BALANCE``, one decimal place), ``as_of`` the day it was taken (not
    after today), ``source`` the system (required, up to 64 characters)."""

    employee_id: int
    amount: Decimal | str | int
    as_of: date
    source: str


async def post_opening_balances(
    connection: BaseDBAsyncClient,
    tenant_id: int,
    rows: Sequence[OpeningRow],
    changes: ChangeSet | None = None,
    actor_id: int | None = None,
    now: datetime | None = None,
) -> list[RowOutcome]:
    """Post each row's OPENING_BALANCE entry, at most once per employee (entry key
    ``opening:<employee id>``), on ``connection``: CREATED with its entry id; UNCHANGED when the
    same amount was posted before (or earlier in ``rows``); REJECTED VALIDATION
    ``reason.opening_balance_posted`` for a different amount (HR corrects with adjustCredits).
    Batched: a few statements whatever the count. Publishes the feed marks when no ``changes``."""
    now = now or datetime.now(UTC)
    tenant = await Tenant.filter(id=tenant_id).using_db(connection).only("id", "time_zone").get()
    zone = ZoneInfo(tenant.time_zone)
    today = now.astimezone(zone).date()
    employees = await _employees(connection, tenant_id, {row.employee_id for row in rows})
    outcomes: list[RowOutcome | None] = [None] * len(rows)
    first: dict[int, tuple[int, int]] = {}  # employee -> (row index, tenths) of their first good row
    for index, row in enumerate(rows):
        try:
            amount = opening_amount(row.amount)
            if row.as_of > today:
                raise invalid("asOf", "reason.in_future")
            if row.as_of < EARLIEST_DAY:
                raise invalid("asOf", "reason.date_range")
            storable_text(row.source, "source")
            text(row.source, "source", MAX_SOURCE)
            if row.employee_id not in employees:
                raise DomainError(ErrorCode.NOT_FOUND, field="employeeId", name="employeeId")
        except DomainError as error:
            outcomes[index] = RowOutcome(RowStatus.REJECTED, error)
            continue
        if row.employee_id in first:
            outcomes[index] = _again(amount, first[row.employee_id][1])
        else:
            first[row.employee_id] = (index, amount)
    openings = [
        ledger.OpeningBalance(
            employee_id,
            amount,
            datetime.combine(rows[index].as_of, time(), zone),
            text(rows[index].source, "source", MAX_SOURCE),
            actor_id,
        )
        for employee_id, (index, amount) in first.items()
    ]
    shared = changes if changes is not None else ChangeSet(tenant_id)
    posted, before = await ledger.post_opening_balances(connection, shared, tenant_id, openings, now)
    for employee_id, (index, amount) in first.items():
        if employee_id in posted:
            outcomes[index] = RowOutcome(RowStatus.CREATED, entry_id=posted[employee_id])
        else:
            outcomes[index] = _again(amount, before[employee_id])
    if changes is None:
        await shared.publish(connection, now)
    return [outcome or RowOutcome(RowStatus.REJECTED) for outcome in outcomes]


def opening_amount(value: Decimal | str | int) -> int:
    """Credits as tenths, within (0, MAX_OPENING_BALANCE]; VALIDATION on ``amount`` otherwise
    (text as the edge reads any decimal: ASCII digits, no exponent)."""
    try:
        tenths = ledger.to_tenths(value if isinstance(value, Decimal) else parse_decimal(value, "amount"), "amount")
    except DomainError:
        tenths = 0
    if not 0 < tenths <= ledger.MAX_OPENING_BALANCE * 10:
        raise invalid("amount", "reason.opening_amount", max=ledger.MAX_OPENING_BALANCE)
    return tenths


def _again(amount: int, posted: int) -> RowOutcome:
    """A second opening balance for an employee: nothing to do if it says the same."""
    if amount == posted:
        return RowOutcome(RowStatus.UNCHANGED)
    error = invalid("amount", "reason.opening_balance_posted", amount=str(ledger.from_tenths(posted)))
    return RowOutcome(RowStatus.REJECTED, error)
