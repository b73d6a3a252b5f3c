"""Whom the session and enrollment facts tell, and with what (docs/notification-events.md).

Shared by enrollment (requests and decisions), seats (promotion from the waiting list), scheduling
(cancelled, moved) and the reminders job. Everything here reads in batches: the facts of many
sessions in one query, the approvers of many employees in at most two, the people of a session as
plain ids (``values_list``), never ORM objects per person.

Who approves an enrollment: ``enrollment.decide_enrollment`` lets the employee's manager or any HR
admin decide. The request is told to the employee's manager when they have an active one (the
person expected to act), else to every active HR admin of the company; never to the requester.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from tortoise.backends.base.client import BaseDBAsyncClient

from backend.ids import to_global_id
from backend.models import Employee, EmployeeRole, Enrollment, EnrollmentStatus, NotificationKind, Role, TrainingSession
from backend.services.notifications.notices import Notice

# Who hears of a session cancelled or moved: everyone with a place or waiting for one (a waiting
# employee would otherwise keep waiting for a session that is gone or at another time).
CONCERNED = (EnrollmentStatus.PENDING, EnrollmentStatus.ENROLLED, EnrollmentStatus.WAITLISTED)


def iso(moment: datetime) -> str:
    """A time as the params carry it: ISO 8601 in UTC (rendering shows the recipient's zone)."""
    if moment.tzinfo is None:  # Tortoise keeps UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


@dataclass(frozen=True)
class SessionFacts:
    """What a notice about a session says of it."""

    id: int
    title: str
    course: str
    starts_at: datetime
    site: str
    location: str
    instructor_id: int

    @property
    def params(self) -> dict[str, str]:
        where = " ".join(part for part in (self.site, self.location) if part)
        return {"session": self.title, "course": self.course, "startsAt": iso(self.starts_at), "location": where}

    @property
    def subject_id(self) -> str:
        return to_global_id("TrainingSession", self.id)


async def session_facts(
    connection: BaseDBAsyncClient, tenant_id: int, session_ids: Iterable[int]
) -> dict[int, SessionFacts]:
    """The facts of some sessions, by id, in one query."""
    ids = sorted(set(session_ids))
    if not ids:
        return {}
    rows = (
        await TrainingSession.filter(tenant_id=tenant_id, id__in=ids)
        .using_db(connection)
        .values("id", "title", "course__title", "starts_at", "site__name", "location", "instructor_id")
    )
    return {
        row["id"]: SessionFacts(
            row["id"],
            row["title"],
            row["course__title"],
            row["starts_at"],
            row["site__name"] or "",
            row["location"] or "",
            row["instructor_id"],
        )
        for row in rows
    }


async def people_of(
    connection: BaseDBAsyncClient, session_id: int, statuses: Iterable[EnrollmentStatus] = CONCERNED
) -> list[int]:
    """The employees holding one of ``statuses`` in a session (ids only: a session may have
    thousands)."""
    found = (
        await Enrollment.filter(session_id=session_id, status__in=list(statuses))
        .using_db(connection)
        .values_list("employee_id", flat=True)
    )
    return cast(list[int], found)


async def approvers_of(
    connection: BaseDBAsyncClient, tenant_id: int, employee_ids: Iterable[int]
) -> dict[int, list[int]]:
    """Who is told of each employee's enrollment request (see the module's docstring)."""
    ids = sorted(set(employee_ids))
    if not ids:
        return {}
    rows = (
        await Employee.filter(tenant_id=tenant_id, id__in=ids)
        .using_db(connection)
        .values_list("id", "manager_id", "manager__is_active")
    )
    found: dict[int, list[int]] = {}
    unmanaged = []
    for employee_id, manager_id, manager_active in rows:
        if manager_id is not None and manager_active and manager_id != employee_id:
            found[employee_id] = [manager_id]
        else:
            unmanaged.append(employee_id)
    if unmanaged:
        admin_rows = (
            await EmployeeRole.filter(tenant_id=tenant_id, role=Role.HR_ADMIN, employee__is_active=True)
            .using_db(connection)
            .values_list("employee_id", flat=True)
        )
        admins = sorted(set(cast(list[int], admin_rows)))
        for employee_id in unmanaged:
            found[employee_id] = [admin for admin in admins if admin != employee_id]
    return found


def enrollment_key(enrollment_id: int, version: int, status: EnrollmentStatus) -> str:
    """An enrollment's step: its version too, since a cancelled enrollment comes back as the same
    row (a second request is a second event to tell)."""
    return f"enrollment:{enrollment_id}:{version}:{status.value}"


@dataclass(frozen=True)
class Requested:
    """An enrollment that now awaits a decision."""

    enrollment_id: int
    version: int
    employee_id: int
    employee_name: str
    session_id: int


async def tell_approvers(
    connection: BaseDBAsyncClient, tenant_id: int, requests: list[Requested], sessions: dict[int, SessionFacts]
) -> list[Notice]:
    """ENROLLMENT_REQUESTED to whoever decides each request (two queries at most for all)."""
    approvers = await approvers_of(connection, tenant_id, [r.employee_id for r in requests])
    return [
        Notice(
            NotificationKind.ENROLLMENT_REQUESTED,
            approver,
            enrollment_key(request.enrollment_id, request.version, EnrollmentStatus.PENDING),
            {"employee": request.employee_name, **session.params},
            to_global_id("Enrollment", request.enrollment_id),
            expires_at=session.starts_at,  # nothing to decide once it has begun
        )
        for request in requests
        if (session := sessions.get(request.session_id)) is not None
        for approver in approvers.get(request.employee_id, [])
    ]


def tell_employee(
    kind: NotificationKind,
    enrollment_id: int,
    version: int,
    status: EnrollmentStatus,
    employee_id: int,
    session: SessionFacts,
    reason: str | None = None,
) -> Notice:
    """An enrollment's news to its employee (approved, rejected, promoted)."""
    params: dict[str, str] = dict(session.params)
    if reason is not None:
        params["reason"] = reason
    return Notice(
        kind,
        employee_id,
        enrollment_key(enrollment_id, version, status),
        params,
        session.subject_id,
        # A rejection stays worth telling; a seat is worth telling only before the start.
        expires_at=None if status == EnrollmentStatus.REJECTED else session.starts_at,
    )


def tell_everyone(
    kind: NotificationKind,
    event_key: str,
    session: SessionFacts,
    employee_ids: Iterable[int],
    extra: dict[str, str],
    expires_at: datetime | None,
    actor_id: int | None = None,
) -> list[Notice]:
    """One notice per person concerned by a session: its instructor and ``employee_ids``, less
    whoever caused it (``actor_id``)."""
    params = {**session.params, **extra}
    recipients = dict.fromkeys([session.instructor_id, *employee_ids])
    if actor_id is not None:
        recipients.pop(actor_id, None)
    return [Notice(kind, person, event_key, params, session.subject_id, expires_at) for person in recipients]
