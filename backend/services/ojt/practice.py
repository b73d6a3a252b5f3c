"""Practice logs: the PRACTICE_LOG and PRACTICE_REVIEW record kinds, reading logs, and their feed rows.

Practice enters as records, online or from a phone's outbox:

- PRACTICE_LOG: an employee practised a PRACTICE module (``quantity`` times); a PENDING log.
- PRACTICE_REVIEW: the mentor confirms or rejects a PENDING log. The status moves by one
  conditional UPDATE (``WHERE status = 'PENDING'``), so two devices confirming at once count the
  practice once: the second waits for the first's row lock and then matches nothing.
  A confirmed log adds its quantity to the mentee's module progress.

Who may decide or read another employee's logs follows their mentorships on the mentee's local
day, asked of ``mentoring`` (which this module builds on). A log goes to its employee's phone and
to their current mentors for its course.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.expressions import Q

from backend.errors import DomainError, ErrorCode
from backend.ids import to_global_id
from backend.models import (
    CourseModule,
    CourseStatus,
    CreditActivity,
    Employee,
    Mentorship,
    ModuleKind,
    NotificationKind,
    PracticeLog,
    PracticeStatus,
    RecordStatus,
    Role,
)
from backend.services.catalog import progress
from backend.services.content import evidence
from backend.services.credits import credit_engine
from backend.services.feed import ChangeSet, Entity
from backend.services.notifications.notices import Notice
from backend.services.ojt.mentoring import (
    current_mentor_ids,
    current_mentorships,
    local_day,
    require_current_mentor,
    time_zones,
)
from backend.services.pagination import Keyset, Page, check_page_size
from backend.services.records.handler import ApplyContext, Outcome, ParsedRecord, invalid_payload, payload_id
from backend.services.records.spec import Field, GlobalId, Int, Nullable, Obj, OneOf, Text
from backend.services.records.work import UnitOfWork
from backend.services.reports import rollups
from backend.services.viewer import Viewer
from backend.sql import db_time, db_uuid, insert_many

PRACTICE_LOG = "PRACTICE_LOG"
PRACTICE_REVIEW = "PRACTICE_REVIEW"
MAX_NOTE = 1000
MAX_QUANTITY = 100


# --- the PRACTICE_LOG record kind ---------------------------------------------------------------


def _note(payload: dict[str, Any]) -> str:
    note = payload.get("note", "")
    if note is None:
        return ""
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise invalid_payload("note")
    return note.strip()


@dataclass(frozen=True)
class PracticeEntry:
    module_id: int
    quantity: int
    note: str
    attachments: tuple[evidence.Attachment, ...] = ()


async def _touch_log(
    context: UnitOfWork,
    log_id: int,
    employee_id: int,
    course_id: int,
    zone: str | None,
    mentors: dict | None = None,
) -> None:
    """Send a log to its employee and to their current mentors for its course. ``mentors``
    remembers the mentors per employee and course across one batch (the same few, many times)."""
    context.changes.touch(Entity.PRACTICE_LOG, log_id, audience=employee_id)
    key = (employee_id, course_id, local_day(context.received_at, zone))
    found = None if mentors is None else mentors.get(key)
    if found is None:
        found = await current_mentor_ids(context.viewer.tenant_id, employee_id, course_id, key[2], context.connection)
        if mentors is not None:
            mentors[key] = found
    for mentor_id in found:
        context.changes.touch(Entity.PRACTICE_LOG, log_id, audience=mentor_id)


_LOG_COLUMNS = {
    "tenant_id": "int",
    "record_id": "uuid",
    "employee_id": "int",
    "module_id": "int",
    "course_id": "int",
    "quantity": "smallint",
    "note": "text",
    "practiced_at": "timestamptz",
    "status": "text",
    "review_note": "text",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
}


_NOTE = Nullable(Text(MAX_NOTE, description="A note (spaces around it are dropped)."))
PRACTICE_LOG_PAYLOAD = Obj(
    {
        "moduleId": Field(GlobalId("CourseModule", "The PRACTICE module practised."), required=True),
        "quantity": Field(Int(1, MAX_QUANTITY, "How many times it was practised."), default=1),
        "note": Field(_NOTE),
        "attachments": evidence.ATTACHMENTS,
    },
    not_object="moduleId",
    title="PRACTICE_LOG",
)
PRACTICE_REVIEW_PAYLOAD = Obj(
    {
        "practiceId": Field(GlobalId("PracticeLog", "The practice log decided."), required=True),
        "decision": Field(OneOf([PracticeStatus.CONFIRMED.value, PracticeStatus.REJECTED.value]), required=True),
        "note": Field(_NOTE),
    },
    not_object="practiceId",
    title="PRACTICE_REVIEW",
    description="A REJECTED decision needs a note that is not blank (the mentee deserves to know why).",
    all_of=[
        {
            "if": {"properties": {"decision": {"const": PracticeStatus.REJECTED.value}}},
            "then": {"required": ["note"], "properties": {"note": {"type": "string", "pattern": "\\S"}}},
        }
    ],
)


class PracticeLogged:
    """Payload: ``{"moduleId": "<CourseModule global ID of a PRACTICE module>", "quantity":
    1..100 (default 1), "note": "…" (up to 1000 characters), "attachments": [...] (optional evidence,
    see ``content.evidence``)}``; ``occurredAt`` is when it was practised. Makes a PENDING practice
    log for the viewer's current mentor to review."""

    kind = PRACTICE_LOG
    payload_spec = PRACTICE_LOG_PAYLOAD

    def parse(self, payload: dict[str, Any]) -> PracticeEntry:
        PRACTICE_LOG_PAYLOAD.check(payload)
        module_id = payload_id(payload, "moduleId", "CourseModule")
        quantity = payload.get("quantity", 1)
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
            raise invalid_payload("quantity")
        return PracticeEntry(module_id, quantity, _note(payload), evidence.parse_attachments(payload))

    async def apply(self, context: ApplyContext, records: list[ParsedRecord]) -> list[Outcome]:
        viewer, connection = context.viewer, context.connection
        modules = {
            module.id: module
            for module in await CourseModule.filter(
                tenant_id=viewer.tenant_id, id__in=list({parsed.payload.module_id for parsed in records})
            )
            .select_related("course")
            .using_db(connection)
        }
        zone = (await time_zones(viewer.tenant_id, [viewer.employee_id], connection)).get(viewer.employee_id)
        now = db_time(connection, context.received_at)
        claims = await evidence.claim(
            context,
            [
                (parsed.record.id, (PRACTICE_LOG, str(parsed.record.id)), parsed.payload.attachments)
                for parsed in records
            ],
        )
        outcomes, rows = [], []
        for parsed in records:
            entry: PracticeEntry = parsed.payload
            module = modules.get(entry.module_id)
            if module is None or module.course.status != CourseStatus.PUBLISHED:
                outcomes.append(Outcome.rejected(DomainError(ErrorCode.NOT_FOUND)))
                continue
            if module.kind != ModuleKind.PRACTICE:
                outcomes.append(Outcome.rejected(invalid_payload("moduleId")))
                continue
            refusal = claims.refusal(parsed.record.id)
            if refusal is not None:
                outcomes.append(Outcome.rejected(refusal))
                continue
            claims.accept(parsed.record.id)
            rows.append(
                (
                    viewer.tenant_id,
                    db_uuid(connection, parsed.record.id),
                    viewer.employee_id,
                    module.id,
                    module.course_id,
                    entry.quantity,
                    entry.note,
                    db_time(connection, parsed.occurred_at),
                    PracticeStatus.PENDING.value,
                    "",
                    now,
                    now,
                )
            )
            outcomes.append(Outcome(RecordStatus.ACCEPTED))
        # One statement for the batch; ON CONFLICT, not try/except: a failed INSERT would abort
        # the batch's transaction.
        inserted = await insert_many(
            connection,
            "practice_log",
            _LOG_COLUMNS,
            rows,
            on_conflict="ON CONFLICT (record_id) DO NOTHING",
            returning="id, course_id",
        )
        await claims.write()
        mentors: dict = {}
        for row in inserted:
            await _touch_log(context, int(row["id"]), viewer.employee_id, int(row["course_id"]), zone, mentors)
        return outcomes


async def touch_log_of_record(work: UnitOfWork, record_id: Any) -> None:
    """Send the log a PRACTICE_LOG record made to its phones again (its evidence arrived)."""
    log = (
        await PracticeLog.filter(tenant_id=work.viewer.tenant_id, record_id=record_id).using_db(work.connection).first()
    )
    if log is not None:
        zone = (await time_zones(log.tenant_id, [log.employee_id], work.connection)).get(log.employee_id)
        await _touch_log(work, log.id, log.employee_id, log.course_id, zone)


# --- the PRACTICE_REVIEW record kind ------------------------------------------------------------


@dataclass(frozen=True)
class Review:
    practice_id: int
    decision: PracticeStatus
    note: str


class PracticeReviewed:
    """Payload: ``{"practiceId": "<PracticeLog global ID>", "decision": "CONFIRMED" | "REJECTED",
    "note": "…" (required for REJECTED)}``. Only a current mentor of the log's employee for its
    course, on the review's day, may decide (NOT_YOUR_MENTEE); a log is decided once
    (ALREADY_REVIEWED with its status). CONFIRMED adds the quantity to the module's progress."""

    kind = PRACTICE_REVIEW
    payload_spec = PRACTICE_REVIEW_PAYLOAD

    def parse(self, payload: dict[str, Any]) -> Review:
        PRACTICE_REVIEW_PAYLOAD.check(payload)
        practice_id = payload_id(payload, "practiceId", "PracticeLog")
        decision = payload.get("decision")
        if decision not in (PracticeStatus.CONFIRMED.value, PracticeStatus.REJECTED.value):
            raise invalid_payload("decision")
        note = _note(payload)
        if decision == PracticeStatus.REJECTED.value and not note:
            raise invalid_payload("note")  # the mentee deserves to know why
        return Review(practice_id, PracticeStatus(decision), note)

    async def apply(self, context: ApplyContext, records: list[ParsedRecord]) -> list[Outcome]:
        viewer, connection = context.viewer, context.connection
        logs = {
            log.id: log
            for log in await PracticeLog.filter(
                tenant_id=viewer.tenant_id, id__in=list({parsed.payload.practice_id for parsed in records})
            )
            .select_related("module")
            .using_db(connection)
        }
        zones = await time_zones(viewer.tenant_id, {log.employee_id for log in logs.values()}, connection)
        outcomes = []
        mentors: dict = {}
        for parsed in records:
            review: Review = parsed.payload
            log = logs.get(review.practice_id)
            try:
                if log is None:
                    raise DomainError(ErrorCode.NOT_FOUND)
                zone = zones.get(log.employee_id)
                await require_current_mentor(
                    viewer.tenant_id,
                    viewer.employee_id,
                    log.employee_id,
                    log.course_id,
                    local_day(parsed.occurred_at, zone),
                    connection,
                )
                await self._decide(context, log, review, parsed.occurred_at)
            except DomainError as error:
                outcomes.append(Outcome.rejected(error))
                continue
            await _touch_log(context, log.id, log.employee_id, log.course_id, zone, mentors)
            context.changes.notify(_told(log, review, viewer.employee.name))
            decided = {"status": review.decision.value}
            outcomes.append(Outcome(RecordStatus.ACCEPTED, params=decided, result=decided))
        return outcomes

    @staticmethod
    async def _decide(context: ApplyContext, log: PracticeLog, review: Review, reviewed_at: datetime) -> None:
        connection = context.connection
        # The condition is the guard: on PostgreSQL a concurrent review waits for our row lock,
        # then re-checks status and updates nothing.
        updated = (
            await PracticeLog.filter(tenant_id=log.tenant_id, id=log.id, status=PracticeStatus.PENDING)
            .using_db(connection)
            .update(
                status=review.decision,
                reviewer_id=context.viewer.employee_id,
                reviewed_at=reviewed_at,
                review_note=review.note,
                updated_at=context.received_at,
            )
        )
        if updated != 1:
            status = await PracticeLog.filter(id=log.id).using_db(connection).values_list("status", flat=True)
            raise DomainError(ErrorCode.ALREADY_REVIEWED, status=str(status[0]) if status else "")
        log.status = review.decision
        rollups.add_entries(
            context.changes.tally,
            rollups.review_entries(
                context.viewer.employee_id,
                log.course_id,
                review.decision == PracticeStatus.CONFIRMED,
                log.quantity,
                log.created_at,
                reviewed_at,
            ),
        )
        if review.decision == PracticeStatus.CONFIRMED:
            await progress.add_progress(
                context,
                {log.module_id: log.module},
                {log.module_id: [log.quantity, 0, log.practiced_at]},
                employee_id=log.employee_id,
            )
            credit_engine.note(
                context,
                credit_engine.Creditable(
                    log.employee_id,
                    CreditActivity.PRACTICE_CONFIRMED,
                    f"practice:{log.id}",
                    log.practiced_at,
                    log.record_id,
                    log.course_id,
                    log.module_id,
                    quantity=log.quantity,
                ),
            )


def _told(log: PracticeLog, review: Review, mentor: str) -> Notice:
    """The log's employee hears the decision (a log is decided once, so the key is its decision)."""
    confirmed = review.decision == PracticeStatus.CONFIRMED
    params = {"module": log.module.title, "mentor": mentor}
    if not confirmed:
        params["note"] = review.note
    return Notice(
        NotificationKind.PRACTICE_CONFIRMED if confirmed else NotificationKind.PRACTICE_RETURNED,
        log.employee_id,
        f"practice:{log.id}:{review.decision.value}",
        params,
        to_global_id("PracticeLog", log.id),
    )


# --- reading practice logs ----------------------------------------------------------------------

# One cursor kind for both orders (a cursor is a log's sort key, whichever way the list runs).
NEWEST_FIRST: Keyset[PracticeLog] = Keyset("practice", ("practiced_at", "id"), (datetime, int), descending=True)
OLDEST_FIRST: Keyset[PracticeLog] = Keyset("practice", ("practiced_at", "id"), (datetime, int))


@dataclass(frozen=True)
class PracticeFilter:
    employee_id: int | None = None
    module_id: int | None = None
    status: PracticeStatus | None = None


def _scope(mentorships: list[Mentorship]) -> Q | None:
    """The logs a set of mentorships covers: per mentee, their course or all (None: nothing)."""
    terms = [
        Q(employee_id=m.mentee_id) if m.course_id is None else Q(employee_id=m.mentee_id, course_id=m.course_id)
        for m in mentorships
    ]
    if not terms:
        return None
    combined = terms[0]
    for term in terms[1:]:
        combined = combined | term
    return combined


async def _readable(viewer: Viewer, employee_id: int, now: datetime) -> Q | None:
    """Which of an employee's logs the viewer may read: all (themselves, their manager, HR
    admins), those of the courses the viewer mentors them in today, or NOT_FOUND (the employee
    looks missing, as everywhere else)."""
    if employee_id == viewer.employee_id or viewer.has_role(Role.HR_ADMIN):
        if not await Employee.filter(tenant_id=viewer.tenant_id, id=employee_id).exists():
            raise DomainError(ErrorCode.NOT_FOUND)
        return None
    manager = await Employee.filter(tenant_id=viewer.tenant_id, id=employee_id).values_list("manager_id", flat=True)
    if not manager:
        raise DomainError(ErrorCode.NOT_FOUND)
    if manager[0] == viewer.employee_id:
        return None
    mentorships = await current_mentorships(viewer.tenant_id, now, mentor_id=viewer.employee_id, mentee_id=employee_id)
    scope = _scope(mentorships)
    if scope is None:
        raise DomainError(ErrorCode.NOT_FOUND)
    return scope


async def practice_logs(
    viewer: Viewer,
    wanted: PracticeFilter,
    first: int,
    after: str | None,
    max_page_size: int,
    now: datetime | None = None,
) -> Page[PracticeLog]:
    """An employee's practice logs (the viewer's own by default), newest first. Another
    employee's need the viewer to be their manager, an HR admin or their current mentor (then
    only the courses mentored); otherwise NOT_FOUND."""
    first = check_page_size(first, max_page_size)
    employee_id = wanted.employee_id or viewer.employee_id
    scope = await _readable(viewer, employee_id, now or datetime.now(UTC))
    query = PracticeLog.filter(tenant_id=viewer.tenant_id, employee_id=employee_id)
    if scope is not None:
        query = query.filter(scope)
    if wanted.module_id is not None:
        query = query.filter(module_id=wanted.module_id)
    if wanted.status is not None:
        query = query.filter(status=wanted.status)
    return await NEWEST_FIRST.fetch(query.select_related("module"), first, after)


async def pending_reviews(
    viewer: Viewer, first: int, after: str | None, max_page_size: int, now: datetime | None = None
) -> Page[PracticeLog]:
    """PENDING logs the viewer may decide as a current mentor today, oldest first."""
    first = check_page_size(first, max_page_size)
    mentorships = await current_mentorships(viewer.tenant_id, now or datetime.now(UTC), mentor_id=viewer.employee_id)
    scope = _scope(mentorships)
    query = PracticeLog.filter(tenant_id=viewer.tenant_id, status=PracticeStatus.PENDING)
    query = query.filter(scope) if scope is not None else query.filter(id=0)
    return await OLDEST_FIRST.fetch(query.select_related("module"), first, after)


async def practice_logs_for_feed(viewer: Viewer, ids: list[int], now: datetime | None = None) -> dict[int, PracticeLog]:
    """Logs the viewer may have on their phone: their own, and their current mentees' for the
    courses mentored. Loaded with module and reviewer."""
    rows = await PracticeLog.filter(tenant_id=viewer.tenant_id, id__in=ids).select_related("module", "employee")
    others = {row.employee_id for row in rows if row.employee_id != viewer.employee_id}
    mentorships = (
        await current_mentorships(
            viewer.tenant_id,
            now or datetime.now(UTC),
            mentor_id=viewer.employee_id,
            mentee_id__in=list(others),
        )
        if others
        else []
    )
    by_mentee: dict[int, list[Mentorship]] = defaultdict(list)
    for mentorship in mentorships:
        by_mentee[mentorship.mentee_id].append(mentorship)
    return {
        row.id: row
        for row in rows
        if row.employee_id == viewer.employee_id
        or any(m.course_id is None or m.course_id == row.course_id for m in by_mentee[row.employee_id])
    }


# --- feed backfill ------------------------------------------------------------------------------


async def mark_feed_rows(tenant_id: int, changes: ChangeSet) -> None:
    now = datetime.now(UTC)
    by_mentee: dict[int, list[Mentorship]] = defaultdict(list)
    for mentorship in await current_mentorships(tenant_id, now):
        by_mentee[mentorship.mentee_id].append(mentorship)
    for log_id, employee_id, course_id in await PracticeLog.filter(tenant_id=tenant_id).values_list(
        "id", "employee_id", "course_id"
    ):
        changes.touch(Entity.PRACTICE_LOG, log_id, audience=employee_id)
        for mentorship in by_mentee[employee_id]:
            if mentorship.course_id is None or mentorship.course_id == course_id:
                changes.touch(Entity.PRACTICE_LOG, log_id, audience=mentorship.mentor_id)
