"""Enrollment in training sessions: requests (online, or the ENROLLMENT_REQUESTED record kind from
a phone's outbox), manager approval, cancellation and the waiting list.

A request takes a seat (``seats``: one conditional UPDATE, so concurrent requests never overfill a
session) or, when the session is full, waits for one; a cancellation or rejection frees the seat
and promotes the earliest waiting employee in the same transaction. Only PENDING and ENROLLED hold
a seat.

Lock order (PostgreSQL): enrollment row, then session row; promotion takes the session row, then a
WAITLISTED row, which nothing holding a session row ever waits for in the other order.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from backend.errors import DomainError, ErrorCode
from backend.models import (
    CourseStatus,
    Employee,
    Enrollment,
    EnrollmentStatus,
    NotificationKind,
    RecordStatus,
    Role,
    SessionStatus,
    TrainingSession,
)
from backend.services.audit import audit
from backend.services.catalog.course_catalog import (
    EligibilityReason,
    judge_eligibility,
    learner_profile,
    prerequisites_by_course,
    rules_by_course,
)
from backend.services.feed import ChangeSet, Entity
from backend.services.pagination import Keyset, Page, check_page_size
from backend.services.records.handler import ApplyContext, Outcome, ParsedRecord, payload_id
from backend.services.records.spec import Field, GlobalId, Obj
from backend.services.sessions import session_notices
from backend.services.sessions.seats import count_enrolled, free_seat, promote_waitlist, take_seat
from backend.services.sessions.session_notices import Requested
from backend.services.sessions.training_sessions import manages_sessions
from backend.services.validation import text
from backend.services.viewer import Viewer
from backend.sql import db_time, placeholders

ENROLLMENT_REQUESTED = "ENROLLMENT_REQUESTED"
SEAT_HOLDING = (EnrollmentStatus.PENDING, EnrollmentStatus.ENROLLED)
ACTIVE = (EnrollmentStatus.PENDING, EnrollmentStatus.ENROLLED, EnrollmentStatus.WAITLISTED)
MAX_REASON = 300
MAX_PENDING = 500


class NotEligible(DomainError):
    """NOT_ELIGIBLE with the typed reasons (``params["reasons"]`` lists their codes, so a synced
    record's stored outcome keeps them too)."""

    def __init__(self, reasons: tuple[EligibilityReason, ...]) -> None:
        super().__init__(ErrorCode.NOT_ELIGIBLE, reasons=",".join(r.code for r in reasons))
        self.reasons = reasons


# --- requests -----------------------------------------------------------------------------------


async def request_in(
    connection: BaseDBAsyncClient, changes: ChangeSet, viewer: Viewer, session_id: int, now: datetime
) -> Enrollment:
    """Request a place in a session inside the caller's transaction (the online mutation's, or the
    sync batch's). Every check comes before any write, so a refusal leaves nothing behind."""
    session = (
        await TrainingSession.filter(tenant_id=viewer.tenant_id, id=session_id)
        .select_related("course")
        .using_db(connection)
        .first()
    )
    if session is None or (session.course.status != CourseStatus.PUBLISHED and not manages_sessions(viewer)):
        raise DomainError(ErrorCode.NOT_FOUND)
    if session.status == SessionStatus.CANCELLED:
        raise DomainError(ErrorCode.SESSION_CANCELLED)
    if session.status == SessionStatus.CLOSED or session.ends_at <= now:
        raise DomainError(ErrorCode.SESSION_ENDED)
    existing = (
        await Enrollment.filter(session_id=session.id, employee_id=viewer.employee_id).using_db(connection).first()
    )
    if existing is not None and existing.status in ACTIVE:
        raise DomainError(ErrorCode.ALREADY_ENROLLED, status=existing.status.value)
    if existing is not None and existing.status == EnrollmentStatus.REJECTED:
        raise DomainError(ErrorCode.ENROLLMENT_REJECTED)
    course = session.course
    rules = (await rules_by_course(viewer.tenant_id, [course.id])).get(course.id, [])
    prerequisites = (await prerequisites_by_course(viewer.tenant_id, [course.id])).get(course.id, [])
    verdict = judge_eligibility(course, rules, prerequisites, await learner_profile(viewer))
    if not verdict.eligible:
        raise NotEligible(verdict.reasons)

    seated = await take_seat(connection, session.id)
    if seated:
        status = EnrollmentStatus.PENDING if course.requires_approval else EnrollmentStatus.ENROLLED
    else:
        status = EnrollmentStatus.WAITLISTED
    waitlisted_at = None if seated else now
    if existing is not None:  # cancelled before: the same row comes back
        enrollment_id = existing.id
        written = (
            await Enrollment.filter(id=existing.id, status=EnrollmentStatus.CANCELLED)
            .using_db(connection)
            .update(
                status=status,
                waitlisted_at=waitlisted_at,
                decided_by_id=None,
                decided_at=None,
                reason="",
                version=F("version") + 1,
                updated_at=now,
            )
        )
    else:
        # ON CONFLICT DO NOTHING, not try/except: a failed INSERT would abort a sync batch's
        # transaction. execute_query_dict returns the RETURNING rows on both engines.
        stamp = db_time(connection, now)
        rows = await connection.execute_query_dict(
            "INSERT INTO enrollment (tenant_id, session_id, employee_id, status, waitlisted_at, reason, version,"
            f" created_at, updated_at) VALUES ({placeholders(connection, 9)})"
            " ON CONFLICT (session_id, employee_id) DO NOTHING RETURNING id",
            [
                viewer.tenant_id,
                session.id,
                viewer.employee_id,
                status.value,
                db_time(connection, waitlisted_at),
                "",
                1,
                stamp,
                stamp,
            ],
        )
        written = len(rows)
        enrollment_id = int(rows[0]["id"]) if rows else 0
    if written != 1:  # the same employee asked twice at once: the other request won
        if seated:
            await free_seat(connection, session.id)
        raise DomainError(ErrorCode.ALREADY_ENROLLED, status=EnrollmentStatus.PENDING.value)
    changes.touch(Entity.ENROLLMENT, enrollment_id, audience=viewer.employee_id)
    if seated:
        changes.touch(Entity.TRAINING_SESSION, session.id)
    if status == EnrollmentStatus.ENROLLED:
        await count_enrolled(connection, changes, session.id, [viewer.employee_id], 1)
    enrollment = await Enrollment.get(id=enrollment_id, using_db=connection)
    if status == EnrollmentStatus.PENDING:  # only a request that needs a decision is told
        requested = Requested(enrollment.id, enrollment.version, viewer.employee_id, viewer.employee.name, session.id)
        facts = await session_notices.session_facts(connection, viewer.tenant_id, [session.id])
        changes.notify(*await session_notices.tell_approvers(connection, viewer.tenant_id, [requested], facts))
    return enrollment


async def request_enrollment(viewer: Viewer, session_id: int, now: datetime | None = None) -> Enrollment:
    """The online twin of ENROLLMENT_REQUESTED: the same rules, in a transaction of its own."""
    now = now or datetime.now(UTC)
    async with in_transaction() as connection:
        changes = ChangeSet(viewer.tenant_id)
        enrollment = await request_in(connection, changes, viewer, session_id, now)
        await changes.publish(connection, now)
    return enrollment


ENROLLMENT_PAYLOAD = Obj(
    {"sessionId": Field(GlobalId("TrainingSession", "The session to enrol in."), required=True)},
    not_object="sessionId",
    title="ENROLLMENT_REQUESTED",
)


class EnrollmentRequested:
    """Payload: ``{"sessionId": "<TrainingSession global ID>"}``. ACCEPTED whether the employee got
    a seat, awaits approval or waits for one; the ENROLLMENT feed entity says which."""

    kind = ENROLLMENT_REQUESTED

    payload_spec = ENROLLMENT_PAYLOAD

    def parse(self, payload: dict[str, Any]) -> int:
        ENROLLMENT_PAYLOAD.check(payload)
        return payload_id(payload, "sessionId", "TrainingSession")

    async def apply(self, context: ApplyContext, records: list[ParsedRecord]) -> list[Outcome]:
        outcomes = []
        for parsed in records:  # in sequence order: a second request for a session is a duplicate
            try:
                await request_in(
                    context.connection, context.changes, context.viewer, parsed.payload, context.received_at
                )
            except DomainError as error:
                outcomes.append(Outcome.rejected(error))
                continue
            outcomes.append(Outcome(RecordStatus.ACCEPTED))
        return outcomes


# --- decisions and cancellations ----------------------------------------------------------------


async def _locked(connection: BaseDBAsyncClient, viewer: Viewer, enrollment_id: int) -> Enrollment:
    enrollment = (
        await Enrollment.filter(tenant_id=viewer.tenant_id, id=enrollment_id)
        .select_for_update()
        .using_db(connection)
        .first()
    )
    if enrollment is None:
        raise DomainError(ErrorCode.NOT_FOUND)
    return enrollment


async def _release(
    connection: BaseDBAsyncClient, changes: ChangeSet, tenant_id: int, session_id: int, now: datetime
) -> None:
    await free_seat(connection, session_id)
    changes.touch(Entity.TRAINING_SESSION, session_id)
    await promote_waitlist(connection, changes, tenant_id, session_id, now)


async def decide_enrollment(
    viewer: Viewer, enrollment_id: int, approve: bool, reason: str = "", now: datetime | None = None
) -> Enrollment:
    """Approve or reject a PENDING request: the employee's manager, or an HR admin. A rejection
    needs a reason, frees the seat and promotes the waiting list."""
    now = now or datetime.now(UTC)
    reason = text(reason, "reason", MAX_REASON, required=not approve)
    async with in_transaction() as connection:
        enrollment = await _locked(connection, viewer, enrollment_id)
        employee = await Employee.get(id=enrollment.employee_id, using_db=connection)
        if not (viewer.has_role(Role.HR_ADMIN) or employee.manager_id == viewer.employee_id):
            raise DomainError(ErrorCode.FORBIDDEN)
        if enrollment.status != EnrollmentStatus.PENDING:
            raise DomainError(ErrorCode.NOT_PENDING, status=enrollment.status.value)
        status = EnrollmentStatus.ENROLLED if approve else EnrollmentStatus.REJECTED
        await (
            Enrollment.filter(id=enrollment.id, status=EnrollmentStatus.PENDING)
            .using_db(connection)
            .update(
                status=status,
                decided_by_id=viewer.employee_id,
                decided_at=now,
                reason=reason,
                version=F("version") + 1,
                updated_at=now,
            )
        )
        changes = ChangeSet(viewer.tenant_id)
        changes.touch(Entity.ENROLLMENT, enrollment.id, audience=enrollment.employee_id)
        if approve:
            await count_enrolled(connection, changes, enrollment.session_id, [enrollment.employee_id], 1)
        else:
            await _release(connection, changes, viewer.tenant_id, enrollment.session_id, now)
        facts = await session_notices.session_facts(connection, viewer.tenant_id, [enrollment.session_id])
        if enrollment.session_id in facts and enrollment.employee_id != viewer.employee_id:
            changes.notify(
                session_notices.tell_employee(
                    NotificationKind.ENROLLMENT_APPROVED if approve else NotificationKind.ENROLLMENT_REJECTED,
                    enrollment.id,
                    enrollment.version + 1,  # the conditional update above moved it from PENDING
                    status,
                    enrollment.employee_id,
                    facts[enrollment.session_id],
                    None if approve else reason,
                )
            )
        await audit(
            connection,
            viewer,
            viewer.tenant_id,
            "enrollment.approve" if approve else "enrollment.reject",
            "Enrollment",
            enrollment.id,
            {"reason": reason, "employeeId": enrollment.employee_id},
        )
        await changes.publish(connection, now)
        return await Enrollment.get(id=enrollment.id, using_db=connection)


async def cancel_enrollment(viewer: Viewer, enrollment_id: int, now: datetime | None = None) -> Enrollment:
    """The employee gives up their place (or leaves the waiting list). A held seat goes to the
    earliest waiting employee in the same transaction."""
    now = now or datetime.now(UTC)
    async with in_transaction() as connection:
        enrollment = await _locked(connection, viewer, enrollment_id)
        if enrollment.employee_id != viewer.employee_id:
            raise DomainError(ErrorCode.FORBIDDEN)
        if enrollment.status not in ACTIVE:
            raise DomainError(ErrorCode.ENROLLMENT_NOT_ACTIVE)
        updated = (
            await Enrollment.filter(id=enrollment.id, status=enrollment.status)
            .using_db(connection)
            .update(status=EnrollmentStatus.CANCELLED, version=F("version") + 1, updated_at=now)
        )
        if updated != 1:  # SQLite has no row locks; the status moved under us
            raise DomainError(ErrorCode.ENROLLMENT_NOT_ACTIVE)
        changes = ChangeSet(viewer.tenant_id)
        changes.touch(Entity.ENROLLMENT, enrollment.id, audience=enrollment.employee_id)
        if enrollment.status == EnrollmentStatus.ENROLLED:
            await count_enrolled(connection, changes, enrollment.session_id, [enrollment.employee_id], -1)
        if enrollment.status in SEAT_HOLDING:
            await _release(connection, changes, viewer.tenant_id, enrollment.session_id, now)
        await changes.publish(connection, now)
        return await Enrollment.get(id=enrollment.id, using_db=connection)


# --- reading ------------------------------------------------------------------------------------


PENDING_ORDER: Keyset[Enrollment] = Keyset("pending_enrollment", ("created_at", "id"), (datetime, int))


def _pending(viewer: Viewer) -> QuerySet[Enrollment]:
    """Requests awaiting a decision the viewer may take: their direct reports' (managers), or
    every one of the company (HR admins)."""
    query = Enrollment.filter(tenant_id=viewer.tenant_id, status=EnrollmentStatus.PENDING)
    if not viewer.has_role(Role.HR_ADMIN):
        query = query.filter(employee__manager_id=viewer.employee_id)
    return query


async def pending_enrollments(viewer: Viewer) -> list[Enrollment]:
    """The first ``MAX_PENDING`` requests awaiting the viewer's decision, oldest first (the
    deprecated plain list; ``pending_enrollment_page`` reads them all, page by page)."""
    return await _pending(viewer).order_by(*PENDING_ORDER.order_by()).limit(MAX_PENDING)


async def pending_enrollment_page(
    viewer: Viewer, first: int, after: str | None, max_page_size: int
) -> Page[Enrollment]:
    """A page of the requests awaiting the viewer's decision, oldest first."""
    return await PENDING_ORDER.fetch(_pending(viewer), check_page_size(first, max_page_size), after)


async def get_enrollment(viewer: Viewer, enrollment_id: int) -> Enrollment | None:
    """An enrollment the viewer may see: their own, a direct report's, or any (HR admins)."""
    enrollment = await Enrollment.filter(tenant_id=viewer.tenant_id, id=enrollment_id).first()
    if enrollment is None or enrollment.employee_id == viewer.employee_id or viewer.has_role(Role.HR_ADMIN):
        return enrollment
    manager_id = await Employee.filter(id=enrollment.employee_id).values_list("manager_id", flat=True)
    return enrollment if manager_id and manager_id[0] == viewer.employee_id else None


async def my_enrollments(viewer: Viewer, session_ids: list[int]) -> dict[int, Enrollment]:
    """The viewer's enrollment in each of some sessions, by session id."""
    rows = await Enrollment.filter(
        tenant_id=viewer.tenant_id, employee_id=viewer.employee_id, session_id__in=session_ids
    )
    return {row.session_id: row for row in rows}
