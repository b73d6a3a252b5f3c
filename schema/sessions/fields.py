"""Session scheduling and enrollment fields. Thin: each calls backend.services.sessions.training_sessions
or backend.services.sessions.enrollment (requestEnrollment runs the same code as the
ENROLLMENT_REQUESTED record kind)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

import strawberry

from backend import models
from backend.services.sessions import enrollment as enrollment_service
from backend.services.sessions import training_sessions as session_service
from backend.services.viewer import Viewer
from schema.catalog.types import EligibilityReason
from schema.common import UserError
from schema.connection import Connection
from schema.ids import expect_global_id
from schema.payloads import mutate
from schema.sessions.types import Enrollment, TrainingSession


@strawberry.input(description="Narrows the session list. All given conditions must hold.")
class SessionFilter:
    course_id: strawberry.ID | None = strawberry.field(default=None, description="Only this course's sessions.")
    site_id: strawberry.ID | None = strawberry.field(default=None, description="Only sessions at this site.")


@strawberry.input(description="A new training session.")
class CreateSessionInput:
    course_id: strawberry.ID = strawberry.field(description="The course taught.")
    module_id: strawberry.ID | None = strawberry.field(default=None, description="The module, if only one.")
    title: str = strawberry.field(description="Title of the session.")
    instructor_id: strawberry.ID = strawberry.field(description="An employee holding the INSTRUCTOR role.")
    site_id: strawberry.ID = strawberry.field(description="Where it takes place.")
    location: str = strawberry.field(default="", description="Room or place at the site.")
    starts_at: datetime = strawberry.field(description="Start, with a time zone offset.")
    ends_at: datetime = strawberry.field(description="End, after the start.")
    capacity: int = strawberry.field(description="Seats, at least 1.")
    check_in_opens_minutes: int = strawberry.field(
        default=30, description="Check-in opens this many minutes before the start."
    )
    late_after_minutes: int = strawberry.field(
        default=10, description="Check-ins this many minutes after the start are late."
    )
    allows_walk_in: bool = strawberry.field(
        default=False, description="Whether employees without an enrollment may check in."
    )
    check_in_rotation_seconds: int = strawberry.field(
        default=15, description="How often the check-in code changes, 5–300 seconds."
    )


@strawberry.input(description="Changes to a session; omitted fields stay as they are.")
class UpdateSessionInput:
    session_id: strawberry.ID = strawberry.field(description="The session.")
    course_id: strawberry.ID | None = strawberry.field(default=None, description="Another course.")
    module_id: strawberry.ID | None = strawberry.field(default=None, description="Another module of the course.")
    title: str | None = strawberry.field(default=None, description="New title.")
    instructor_id: strawberry.ID | None = strawberry.field(default=None, description="Another instructor.")
    site_id: strawberry.ID | None = strawberry.field(default=None, description="Another site.")
    location: str | None = strawberry.field(default=None, description="New room or place.")
    starts_at: datetime | None = strawberry.field(default=None, description="New start.")
    ends_at: datetime | None = strawberry.field(default=None, description="New end.")
    capacity: int | None = strawberry.field(
        default=None, description="New capacity; never below the seats taken. More seats promote waiting employees."
    )
    check_in_opens_minutes: int | None = strawberry.field(
        default=None, description="New check-in opening, minutes before the start."
    )
    late_after_minutes: int | None = strawberry.field(
        default=None, description="New lateness threshold, minutes after the start."
    )
    allows_walk_in: bool | None = strawberry.field(default=None, description="Whether walk-ins may check in.")
    check_in_rotation_seconds: int | None = strawberry.field(
        default=None, description="New check-in code rotation, 5–300 seconds."
    )


@strawberry.input(description="Cancel a session.")
class CancelSessionInput:
    session_id: strawberry.ID = strawberry.field(description="The session.")
    reason: str = strawberry.field(default="", description="Why (kept in the audit log).")


@strawberry.input(description="Ask for a place in a session.")
class RequestEnrollmentInput:
    session_id: strawberry.ID = strawberry.field(description="The session.")


@strawberry.input(description="Approve or reject a pending enrollment.")
class DecideEnrollmentInput:
    enrollment_id: strawberry.ID = strawberry.field(description="The PENDING enrollment.")
    approve: bool = strawberry.field(description="True to approve, false to reject.")
    reason: str = strawberry.field(default="", description="Reason; required for a rejection.")


@strawberry.input(description="Give up a place in a session (or leave its waiting list).")
class CancelEnrollmentInput:
    enrollment_id: strawberry.ID = strawberry.field(description="The viewer's enrollment.")


@strawberry.type(description="Result of createSession, updateSession and cancelSession.")
class SessionPayload:
    session: TrainingSession | None = strawberry.field(description="The session after the change.")
    errors: list[UserError] = strawberry.field(description="Expected failures; empty on success.")


@strawberry.type(description="Result of requestEnrollment, decideEnrollment and cancelEnrollment.")
class EnrollmentPayload:
    enrollment: Enrollment | None = strawberry.field(description="The enrollment after the change.")
    ineligible_reasons: list[EligibilityReason] = strawberry.field(
        description="With NOT_ELIGIBLE: every reason the viewer may not take the course."
    )
    errors: list[UserError] = strawberry.field(description="Expected failures; empty on success.")


def _id(value: strawberry.ID | None, type_name: str, field: str) -> int | None:
    return expect_global_id(value, type_name, field) if value is not None else None


def _session_input(given: CreateSessionInput | UpdateSessionInput) -> session_service.SessionInput:
    return session_service.SessionInput(
        course_id=_id(given.course_id, "Course", "courseId"),
        module_id=_id(given.module_id, "CourseModule", "moduleId"),
        title=given.title,
        instructor_id=_id(given.instructor_id, "Employee", "instructorId"),
        site_id=_id(given.site_id, "Site", "siteId"),
        location=given.location,
        starts_at=given.starts_at,
        ends_at=given.ends_at,
        capacity=given.capacity,
        checkin_opens_minutes=given.check_in_opens_minutes,
        late_after_minutes=given.late_after_minutes,
        allows_walk_in=given.allows_walk_in,
        rotation_seconds=given.check_in_rotation_seconds,
    )


def _session_payload(row: models.TrainingSession | None, errors: list[UserError]) -> SessionPayload:
    return SessionPayload(session=TrainingSession.from_model(row) if row else None, errors=errors)


def _enrollment_payload(
    info: strawberry.Info,
) -> Callable[[models.Enrollment | None, list[UserError]], EnrollmentPayload]:
    """Shapes an EnrollmentPayload, listing the reasons of a NOT_ELIGIBLE refusal beside it."""

    def shape(row: models.Enrollment | None, errors: list[UserError]) -> EnrollmentPayload:
        refusals = [error.cause for error in errors if isinstance(error.cause, enrollment_service.NotEligible)]
        return EnrollmentPayload(
            enrollment=Enrollment.from_model(row) if row else None,
            ineligible_reasons=[
                EligibilityReason.from_domain(r, info) for refusal in refusals for r in refusal.reasons
            ],
            errors=errors,
        )

    return shape


@strawberry.type
class SessionQueries:
    @strawberry.field(
        description="Upcoming sessions in start-time order. Employees see the sessions they may attend "
        "(published, eligible, not cancelled); HR admins and instructors see every upcoming one."
    )
    async def sessions(
        self,
        info: strawberry.Info,
        first: Annotated[int, strawberry.argument(description="Page size, 0 to the configured maximum (100).")] = 20,
        after: Annotated[str | None, strawberry.argument(description="endCursor of the previous page.")] = None,
        filter: Annotated[
            SessionFilter | None, strawberry.argument(description="Conditions to narrow the list.")
        ] = None,
    ) -> Connection[TrainingSession]:
        viewer = await info.context.require_viewer()
        wanted = session_service.SessionFilter(
            course_id=_id(filter.course_id, "Course", "filter.courseId") if filter else None,
            site_id=_id(filter.site_id, "Site", "filter.siteId") if filter else None,
        )
        page = await session_service.list_sessions(
            viewer,
            first,
            after,
            wanted,
            info.context.settings.max_page_size,
            learner=None
            if session_service.manages_sessions(viewer)
            else await (await info.context.loaders()).learner(),
        )
        mine = await enrollment_service.my_enrollments(viewer, [s.id for s in page.items])
        return Connection[TrainingSession].from_page(page, lambda s: TrainingSession.from_model(s, mine.get(s.id)))

    @strawberry.field(description="A session by ID; null if missing or not visible.")
    async def session(
        self,
        info: strawberry.Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Global ID of the session.")],
    ) -> TrainingSession | None:
        viewer = await info.context.require_viewer()
        row = await session_service.get_session(viewer, expect_global_id(id, "TrainingSession"))
        return TrainingSession.from_model(row) if row else None

    @strawberry.field(
        description="Enrollment requests awaiting a decision: the viewer's direct reports' (managers), "
        "or the whole company's (HR admins). Oldest first; the first 500 only.",
        deprecation_reason="Use pendingEnrollmentConnection (pages, totalCount).",
    )
    async def pending_enrollments(self, info: strawberry.Info) -> list[Enrollment]:
        viewer = await info.context.require_viewer()
        return [Enrollment.from_model(row) for row in await enrollment_service.pending_enrollments(viewer)]

    @strawberry.field(
        description="Enrollment requests awaiting a decision: the viewer's direct reports' (managers), "
        "or the whole company's (HR admins). Oldest first, as a Relay connection."
    )
    async def pending_enrollment_connection(
        self,
        info: strawberry.Info,
        first: Annotated[int, strawberry.argument(description="Page size, 0 to the configured maximum (100).")] = 20,
        after: Annotated[str | None, strawberry.argument(description="endCursor of the previous page.")] = None,
    ) -> Connection[Enrollment]:
        viewer = await info.context.require_viewer()
        page = await enrollment_service.pending_enrollment_page(
            viewer, first, after, info.context.settings.max_page_size
        )
        return Connection[Enrollment].from_page(page, Enrollment.from_model)


@strawberry.type
class SessionMutations:
    @strawberry.mutation(description="Schedule a session (HR admins; instructors for themselves).")
    async def create_session(
        self,
        info: strawberry.Info,
        input: Annotated[CreateSessionInput, strawberry.argument(description="The session.")],
    ) -> SessionPayload:
        async def work(viewer: Viewer) -> models.TrainingSession:
            return await session_service.create_session(info.context.settings, viewer, _session_input(input))

        return await mutate(info, work, _session_payload)

    @strawberry.mutation(description="Change a session (HR admins, or its instructor).")
    async def update_session(
        self,
        info: strawberry.Info,
        input: Annotated[UpdateSessionInput, strawberry.argument(description="The changes.")],
    ) -> SessionPayload:
        async def work(viewer: Viewer) -> models.TrainingSession:
            session_id = expect_global_id(input.session_id, "TrainingSession", "sessionId")
            return await session_service.update_session(viewer, session_id, _session_input(input))

        return await mutate(info, work, _session_payload)

    @strawberry.mutation(description="Cancel a session (HR admins, or its instructor).")
    async def cancel_session(
        self,
        info: strawberry.Info,
        input: Annotated[CancelSessionInput, strawberry.argument(description="The session.")],
    ) -> SessionPayload:
        async def work(viewer: Viewer) -> models.TrainingSession:
            session_id = expect_global_id(input.session_id, "TrainingSession", "sessionId")
            return await session_service.cancel_session(viewer, session_id, input.reason)

        return await mutate(info, work, _session_payload)

    @strawberry.mutation(
        description="Ask for a place: ENROLLED, PENDING (the course needs the manager's approval) or "
        "WAITLISTED (the session is full). Refusals: NOT_ELIGIBLE with reasons, ALREADY_ENROLLED, "
        "SESSION_CANCELLED, SESSION_ENDED, ENROLLMENT_REJECTED."
    )
    async def request_enrollment(
        self,
        info: strawberry.Info,
        input: Annotated[RequestEnrollmentInput, strawberry.argument(description="The session.")],
    ) -> EnrollmentPayload:
        async def work(viewer: Viewer) -> models.Enrollment:
            session_id = expect_global_id(input.session_id, "TrainingSession", "sessionId")
            return await enrollment_service.request_enrollment(viewer, session_id)

        return await mutate(info, work, _enrollment_payload(info))

    @strawberry.mutation(description="Approve or reject a pending request (the employee's manager, or HR admins).")
    async def decide_enrollment(
        self,
        info: strawberry.Info,
        input: Annotated[DecideEnrollmentInput, strawberry.argument(description="The decision.")],
    ) -> EnrollmentPayload:
        async def work(viewer: Viewer) -> models.Enrollment:
            enrollment_id = expect_global_id(input.enrollment_id, "Enrollment", "enrollmentId")
            return await enrollment_service.decide_enrollment(viewer, enrollment_id, input.approve, input.reason)

        return await mutate(info, work, _enrollment_payload(info))

    @strawberry.mutation(description="Give up a place (its seat goes to the first waiting employee).")
    async def cancel_enrollment(
        self,
        info: strawberry.Info,
        input: Annotated[CancelEnrollmentInput, strawberry.argument(description="The enrollment.")],
    ) -> EnrollmentPayload:
        async def work(viewer: Viewer) -> models.Enrollment:
            enrollment_id = expect_global_id(input.enrollment_id, "Enrollment", "enrollmentId")
            return await enrollment_service.cancel_enrollment(viewer, enrollment_id)

        return await mutate(info, work, _enrollment_payload(info))
