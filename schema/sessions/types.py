"""Training session and enrollment types. The check-in secret is never a field here."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import strawberry

from backend import models
from backend.services.sessions import training_sessions as session_service
from schema.catalog.types import Course, CourseModule
from schema.ids import to_global_id
from schema.organisation.types import Site
from schema.people.types import Colleague

# The domain enums are the GraphQL enums: strawberry.enum registers each one in place.
SessionStatus = models.SessionStatus
EnrollmentStatus = models.EnrollmentStatus
strawberry.enum(
    SessionStatus,
    name="SessionStatus",
    description="Lifecycle of a session: SCHEDULED, OPEN (check-in running), CLOSED or CANCELLED.",
)
strawberry.enum(
    EnrollmentStatus,
    name="EnrollmentStatus",
    description="Where an enrollment stands; PENDING and ENROLLED hold a seat, WAITLISTED waits "
    "for one and is promoted in order when one frees.",
)


def _local(moment: datetime, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).isoformat()


@strawberry.type(description="One occurrence of training at a site: a class, a practice round, a drill.")
class TrainingSession:
    id: strawberry.ID = strawberry.field(description="Global ID of the session.")
    title: str = strawberry.field(description="Title of the session.")
    location: str = strawberry.field(description="Room or place at the site.")
    starts_at: datetime = strawberry.field(description="Start, UTC.")
    ends_at: datetime = strawberry.field(description="End, UTC.")
    local_starts_at: str = strawberry.field(
        description="Start in the site's time zone, ISO 8601 with offset, e.g. 2026-12-01T09:00:00+08:00."
    )
    local_ends_at: str = strawberry.field(description="End in the site's time zone, ISO 8601 with offset.")
    capacity: int = strawberry.field(description="Seats available.")
    seats_taken: int = strawberry.field(description="Seats held by ENROLLED and PENDING enrollments.")
    status: SessionStatus = strawberry.field(description="Lifecycle status.")
    check_in_opens_at: datetime = strawberry.field(description="When check-in opens (UTC).")
    late_after: datetime = strawberry.field(description="Check-ins after this time (UTC) count as late.")
    allows_walk_in: bool = strawberry.field(description="Whether employees without an enrollment may check in.")
    _row: strawberry.Private[models.TrainingSession]
    _mine: strawberry.Private[models.Enrollment | bool | None]  # False: not known yet

    @classmethod
    def from_model(cls, row: models.TrainingSession, mine: models.Enrollment | bool | None = False) -> TrainingSession:
        zone = row.site.time_zone
        return cls(
            id=strawberry.ID(to_global_id("TrainingSession", row.id)),
            title=row.title,
            location=row.location,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            local_starts_at=_local(row.starts_at, zone),
            local_ends_at=_local(row.ends_at, zone),
            capacity=row.capacity,
            seats_taken=row.seats_taken,
            status=row.status,
            check_in_opens_at=session_service.check_in_opens_at(row),
            late_after=session_service.late_after(row),
            allows_walk_in=row.allows_walk_in,
            _row=row,
            _mine=mine,
        )

    @strawberry.field(description="The course this session teaches.")
    def course(self) -> Course:
        return Course.from_model(self._row.course)

    @strawberry.field(description="The module of the course taught, if only one.")
    def module(self) -> CourseModule | None:
        module = self._row.module if self._row.module_id else None  # the relation is read only when set
        return CourseModule.from_model(module) if module else None

    @strawberry.field(description="Who teaches it (name and number).")
    def instructor(self) -> Colleague:
        return Colleague.from_model(self._row.instructor)

    @strawberry.field(description="Where it takes place; local times use the site's time zone.")
    def site(self) -> Site:
        return Site.from_model(self._row.site)

    @strawberry.field(description="The viewer's enrollment in this session, if any.")
    async def my_enrollment(self, info: strawberry.Info) -> Enrollment | None:
        if self._mine is False:
            self._mine = await (await info.context.loaders()).my_enrollment_by_session.load(self._row.id)
        return Enrollment.from_model(self._mine) if isinstance(self._mine, models.Enrollment) else None


@strawberry.type(description="An employee's place in a session.")
class Enrollment:
    id: strawberry.ID = strawberry.field(description="Global ID of the enrollment.")
    status: EnrollmentStatus = strawberry.field(description="Where it stands.")
    waitlisted_at: datetime | None = strawberry.field(description="When it joined the waiting list.")
    decided_at: datetime | None = strawberry.field(description="When the manager or HR decided.")
    reason: str = strawberry.field(description="Reason given with the decision (always for a rejection).")
    version: int = strawberry.field(description="Rises with every change.")
    _row: strawberry.Private[models.Enrollment]

    @classmethod
    def from_model(cls, row: models.Enrollment) -> Enrollment:
        return cls(
            id=strawberry.ID(to_global_id("Enrollment", row.id)),
            status=row.status,
            waitlisted_at=row.waitlisted_at,
            decided_at=row.decided_at,
            reason=row.reason,
            version=row.version,
            _row=row,
        )

    @strawberry.field(description="The session.")
    async def session(self, info: strawberry.Info) -> TrainingSession | None:
        loaders = await info.context.loaders()
        row = await loaders.session.load(self._row.session_id)
        if row is None:
            return None
        mine = self._row if self._row.employee_id == loaders.viewer.employee_id else False
        return TrainingSession.from_model(row, mine)

    @strawberry.field(description="The employee enrolled (name and number).")
    async def employee(self, info: strawberry.Info) -> Colleague | None:
        row = await (await info.context.loaders()).employee.load(self._row.employee_id)
        return Colleague.from_model(row) if row else None

    @strawberry.field(description="Who approved or rejected it, if decided.")
    async def decided_by(self, info: strawberry.Info) -> Colleague | None:
        if self._row.decided_by_id is None:
            return None
        row = await (await info.context.loaders()).employee.load(self._row.decided_by_id)
        return Colleague.from_model(row) if row else None


__all__ = [
    "Enrollment",
    "EnrollmentStatus",
    "SessionStatus",
    "TrainingSession",
]
