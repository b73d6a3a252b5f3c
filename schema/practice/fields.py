"""Mentorship and practice fields: mentorships (HR), practice logs (PRACTICE_LOG online twin),
and the mentor's confirm / reject (PRACTICE_REVIEW online twin: the same services as synced records)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import strawberry

from backend.models import PracticeStatus as DomainPracticeStatus
from backend.services.ojt import mentoring, practice
from schema.common import UserError
from schema.ids import expect_global_id
from schema.payloads import mutate
from schema.practice.types import (
    Mentorship,
    PracticeDecision,
    PracticeLogConnection,
    PracticeStatus,
)
from schema.sync.records import RecordPayload, submit_record
from schema.sync.types import utc


@strawberry.input(description="A new mentorship: who mentors whom, in which OJT plan, from when.")
class CreateMentorshipInput:
    mentor_id: strawberry.ID = strawberry.field(description="The mentor, an active employee.")
    mentee_id: strawberry.ID = strawberry.field(description="The mentee, another active employee.")
    course_id: strawberry.ID | None = strawberry.field(
        default=None, description="The OJT plan's course; null for every course of the mentee."
    )
    starts_on: date = strawberry.field(description="First day.")
    ends_on: date | None = strawberry.field(default=None, description="Last day (inclusive); null for open-ended.")


@strawberry.input(description="The last day of a mentorship.")
class EndMentorshipInput:
    mentorship_id: strawberry.ID = strawberry.field(description="The mentorship.")
    ends_on: date = strawberry.field(description="Last day (inclusive), not before its first day.")


@strawberry.type(description="Result of createMentorship and endMentorship.")
class MentorshipPayload:
    mentorship: Mentorship | None = strawberry.field(description="The mentorship after the change.")
    errors: list[UserError] = strawberry.field(description="Expected failures; empty on success.")


@strawberry.input(description="Practice done for a PRACTICE module, online.")
class LogPracticeInput:
    client_id: strawberry.ID | None = strawberry.field(default=None, description="UUID for safe retries.")
    module_id: strawberry.ID = strawberry.field(description="The PRACTICE CourseModule.")
    quantity: int = strawberry.field(default=1, description="How many times, 1–100 (e.g. 3 role-plays).")
    note: str = strawberry.field(default="", description="What was practised, up to 1000 characters.")
    practiced_at: datetime | None = strawberry.field(default=None, description="When; now if omitted.")


@strawberry.input(description="A mentor's decision on a mentee's pending practice log, online.")
class ReviewPracticeInput:
    client_id: strawberry.ID | None = strawberry.field(default=None, description="UUID for safe retries.")
    practice_id: strawberry.ID = strawberry.field(description="The PracticeLog.")
    decision: PracticeDecision = strawberry.field(description="CONFIRMED or REJECTED.")
    note: str = strawberry.field(default="", description="Feedback; required for REJECTED (up to 1000 characters).")


async def _mentorship_payload(info: strawberry.Info, work) -> MentorshipPayload:
    return await mutate(
        info,
        work,
        lambda row, errors: MentorshipPayload(mentorship=Mentorship.from_model(row) if row else None, errors=errors),
    )


@strawberry.type
class PracticeQueries:
    @strawberry.field(description="The viewer's current mentees (the viewer as mentor), with pending practice counts.")
    async def my_mentees(self, info: strawberry.Info) -> list[Mentorship]:
        viewer = await info.context.require_viewer()
        return [Mentorship.from_model(row, pending) for row, pending in await mentoring.my_mentees(viewer)]

    @strawberry.field(description="The viewer's current mentors (the viewer as mentee).")
    async def my_mentors(self, info: strawberry.Info) -> list[Mentorship]:
        viewer = await info.context.require_viewer()
        return [Mentorship.from_model(row, pending) for row, pending in await mentoring.my_mentors(viewer)]

    @strawberry.field(
        description="An employee's practice logs, newest first: the viewer's own by default; another "
        "employee's for their manager, HR admins, or their current mentor (the courses mentored). "
        "NOT_FOUND otherwise."
    )
    async def practice_logs(
        self,
        info: strawberry.Info,
        employee_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="The employee; the viewer if omitted.")
        ] = None,
        module_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this PRACTICE module's logs.")
        ] = None,
        status: Annotated[PracticeStatus | None, strawberry.argument(description="Only logs in this status.")] = None,
        first: Annotated[int, strawberry.argument(description="Page size, 0 to the configured maximum (100).")] = 20,
        after: Annotated[str | None, strawberry.argument(description="endCursor of the previous page.")] = None,
    ) -> PracticeLogConnection:
        viewer = await info.context.require_viewer()
        wanted = practice.PracticeFilter(
            employee_id=expect_global_id(employee_id, "Employee", "employeeId") if employee_id else None,
            module_id=expect_global_id(module_id, "CourseModule", "moduleId") if module_id else None,
            status=DomainPracticeStatus(status.value) if status else None,
        )
        page = await practice.practice_logs(viewer, wanted, first, after, info.context.settings.max_page_size)
        return PracticeLogConnection.from_page(page)

    @strawberry.field(description="Practice logs waiting for the viewer's decision as a current mentor, oldest first.")
    async def pending_practice_reviews(
        self,
        info: strawberry.Info,
        first: Annotated[int, strawberry.argument(description="Page size, 0 to the configured maximum (100).")] = 20,
        after: Annotated[str | None, strawberry.argument(description="endCursor of the previous page.")] = None,
    ) -> PracticeLogConnection:
        viewer = await info.context.require_viewer()
        page = await practice.pending_reviews(viewer, first, after, info.context.settings.max_page_size)
        return PracticeLogConnection.from_page(page)


@strawberry.type
class PracticeMutations:
    @strawberry.mutation(description="Make someone a mentor of a mentee (HR admins). Audited.")
    async def create_mentorship(
        self,
        info: strawberry.Info,
        input: Annotated[CreateMentorshipInput, strawberry.argument(description="The mentorship.")],
    ) -> MentorshipPayload:
        async def work(viewer):
            return await mentoring.create_mentorship(
                viewer,
                expect_global_id(input.mentor_id, "Employee", "mentorId"),
                expect_global_id(input.mentee_id, "Employee", "menteeId"),
                expect_global_id(input.course_id, "Course", "courseId") if input.course_id else None,
                input.starts_on,
                input.ends_on,
            )

        return await _mentorship_payload(info, work)

    @strawberry.mutation(description="Set the last day of a mentorship (HR admins). Audited.")
    async def end_mentorship(
        self,
        info: strawberry.Info,
        input: Annotated[EndMentorshipInput, strawberry.argument(description="The mentorship and its last day.")],
    ) -> MentorshipPayload:
        async def work(viewer):
            mentorship_id = expect_global_id(input.mentorship_id, "Mentorship", "mentorshipId")
            return await mentoring.end_mentorship(viewer, mentorship_id, input.ends_on)

        return await _mentorship_payload(info, work)

    @strawberry.mutation(description="Log practice online: the PRACTICE_LOG kind (PENDING until the mentor decides).")
    async def log_practice(
        self,
        info: strawberry.Info,
        input: Annotated[LogPracticeInput, strawberry.argument(description="The practice.")],
    ) -> RecordPayload:
        payload = {"moduleId": str(input.module_id), "quantity": input.quantity, "note": input.note}
        practiced_at = utc(input.practiced_at) if input.practiced_at else None
        return await submit_record(info, input.client_id, practice.PRACTICE_LOG, practiced_at, payload)

    @strawberry.mutation(
        description="Confirm or reject a mentee's practice online: the PRACTICE_REVIEW kind. "
        "NOT_YOUR_MENTEE unless the viewer is the employee's current mentor for the course; "
        "ALREADY_REVIEWED once decided."
    )
    async def review_practice(
        self,
        info: strawberry.Info,
        input: Annotated[ReviewPracticeInput, strawberry.argument(description="The decision.")],
    ) -> RecordPayload:
        payload = {"practiceId": str(input.practice_id), "decision": input.decision.value, "note": input.note}
        return await submit_record(info, input.client_id, practice.PRACTICE_REVIEW, None, payload)
