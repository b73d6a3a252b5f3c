"""Seats of a training session and its waiting list.

Seats are counted in ``training_session.seats_taken``. A seat is taken by ONE conditional UPDATE
(``seats_taken = seats_taken + 1 WHERE id = ? AND seats_taken < capacity``) whose row count says
whether it worked, so concurrent requests never overfill a session, on PostgreSQL (the UPDATE
re-checks its condition after waiting for the row lock) as on SQLite (one writer). When a seat frees
(a cancellation, a rejection, a larger capacity) the earliest waiting employee is promoted in the
same transaction, each promotion being a conditional UPDATE of the seat counter and of the waiting
row, so concurrent cancellations never promote more employees than seats were freed.

Both scheduling (``training_sessions``: a larger capacity) and enrollment free seats, so this sits
below both of them.
"""

from __future__ import annotations

from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F

from backend.models import Employee, Enrollment, EnrollmentStatus, NotificationKind, SessionStatus, TrainingSession
from backend.services.feed import ChangeSet, Entity
from backend.services.reports import rollups
from backend.services.sessions import session_notices
from backend.sql import Params


async def take_seat(connection: BaseDBAsyncClient, session_id: int) -> bool:
    """Take one seat if one is free; whether it worked."""
    updated = (
        await TrainingSession.filter(id=session_id, seats_taken__lt=F("capacity"))
        .using_db(connection)
        .update(seats_taken=F("seats_taken") + 1)
    )
    return updated == 1


async def free_seat(connection: BaseDBAsyncClient, session_id: int) -> None:
    await (
        TrainingSession.filter(id=session_id, seats_taken__gt=0)
        .using_db(connection)
        .update(seats_taken=F("seats_taken") - 1)
    )


async def count_enrolled(
    connection: BaseDBAsyncClient, changes: ChangeSet, session_id: int, employee_ids: list[int], sign: int
) -> None:
    """The report rollups: ``employee_ids`` start (sign 1) or stop (-1) holding ENROLLED in a
    session, counted on its start, for its course and instructor as they are now. The session row
    is read locked (PostgreSQL), after the enrollment rows (the module's lock order): a concurrent
    move of the session (``training_sessions.update_session``) counts either wholly before or
    wholly after this."""
    if not employee_ids:
        return
    p = Params(connection)
    lock = " FOR UPDATE" if connection.capabilities.dialect == "postgres" else ""
    rows = await connection.execute_query_dict(
        f"SELECT instructor_id, course_id, starts_at, status FROM training_session WHERE id = {p(session_id)}{lock}",
        p.values,
    )
    if not rows or rows[0]["status"] == SessionStatus.CANCELLED.value:
        return  # a cancelled session enrolls nobody (rollups.note_session_cancelled)
    session = rows[0]
    starts_at = rollups.moment(session["starts_at"])
    for employee_id in employee_ids:
        rollups.add_entries(
            changes.tally,
            rollups.enrollment_entries(
                employee_id, int(session["instructor_id"]), int(session["course_id"]), starts_at, sign
            ),
        )


async def promote_waitlist(
    connection: BaseDBAsyncClient, changes: ChangeSet, tenant_id: int, session_id: int, now: datetime
) -> list[Enrollment]:
    """Fill free seats from the waiting list, earliest first; returns who was promoted. Promoted
    employees go to PENDING when the course needs approval, else ENROLLED."""
    session = (
        await TrainingSession.filter(tenant_id=tenant_id, id=session_id)
        .select_related("course")
        .using_db(connection)
        .first()
    )
    if session is None or session.status == SessionStatus.CANCELLED:
        return []
    promoted_status = EnrollmentStatus.PENDING if session.course.requires_approval else EnrollmentStatus.ENROLLED
    promoted: list[Enrollment] = []
    passed_over: list[int] = []
    while True:
        query = Enrollment.filter(session_id=session_id, status=EnrollmentStatus.WAITLISTED)
        if passed_over:
            query = query.exclude(id__in=passed_over)
        candidate = await query.order_by("waitlisted_at", "id").using_db(connection).first()
        if candidate is None or not await take_seat(connection, session_id):
            break
        updated = (
            await Enrollment.filter(id=candidate.id, status=EnrollmentStatus.WAITLISTED)
            .using_db(connection)
            .update(status=promoted_status, version=F("version") + 1, updated_at=now)
        )
        if updated != 1:  # cancelled or promoted meanwhile: give the seat back, try the next one
            await free_seat(connection, session_id)
            passed_over.append(candidate.id)
            continue
        candidate.status = promoted_status
        promoted.append(candidate)
        changes.touch(Entity.ENROLLMENT, candidate.id, audience=candidate.employee_id)
    if promoted:
        changes.touch(Entity.TRAINING_SESSION, session_id)
        if promoted_status == EnrollmentStatus.ENROLLED:
            await count_enrolled(connection, changes, session_id, [e.employee_id for e in promoted], 1)
        await _tell_promoted(connection, changes, tenant_id, session_id, promoted_status, promoted)
    return promoted


async def _tell_promoted(
    connection: BaseDBAsyncClient,
    changes: ChangeSet,
    tenant_id: int,
    session_id: int,
    status: EnrollmentStatus,
    promoted: list[Enrollment],
) -> None:
    """A seat taken from the waiting list: the employee hears they are in (ENROLLED); a seat that
    still needs approval (PENDING) is a request for the approver, and the employee hears of the
    decision."""
    facts = await session_notices.session_facts(connection, tenant_id, [session_id])
    session = facts.get(session_id)
    if session is None:
        return
    if status == EnrollmentStatus.ENROLLED:
        changes.notify(
            *(
                session_notices.tell_employee(
                    NotificationKind.ENROLLMENT_PROMOTED, e.id, e.version + 1, status, e.employee_id, session
                )
                for e in promoted
            )
        )
        return
    names = dict(
        await Employee.filter(tenant_id=tenant_id, id__in=[e.employee_id for e in promoted])
        .using_db(connection)
        .values_list("id", "name")
    )
    requests = [
        session_notices.Requested(e.id, e.version + 1, e.employee_id, names.get(e.employee_id, ""), session_id)
        for e in promoted
    ]
    changes.notify(*await session_notices.tell_approvers(connection, tenant_id, requests, facts))
