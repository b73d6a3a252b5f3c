"""Mentorship fields: the viewer's mentees and mentors, and HR's createMentorship / endMentorship."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import strawberry

from backend.models import Mentorship as MentorshipRow
from backend.services.ojt import mentoring
from backend.services.viewer import Viewer
from schema.common import UserError
from schema.ids import expect_global_id
from schema.mentoring.types import Mentorship
from schema.payloads import mutate


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

    @classmethod
    def of(cls, row: MentorshipRow | None, errors: list[UserError]) -> MentorshipPayload:
        return cls(mentorship=Mentorship.from_model(row) if row else None, errors=errors)


@strawberry.type
class MentoringQueries:
    @strawberry.field(description="The viewer's current mentees (the viewer as mentor), with pending practice counts.")
    async def my_mentees(self, info: strawberry.Info) -> list[Mentorship]:
        viewer = await info.context.require_viewer()
        return [Mentorship.from_model(row, pending) for row, pending in await mentoring.my_mentees(viewer)]

    @strawberry.field(description="The viewer's current mentors (the viewer as mentee).")
    async def my_mentors(self, info: strawberry.Info) -> list[Mentorship]:
        viewer = await info.context.require_viewer()
        return [Mentorship.from_model(row, pending) for row, pending in await mentoring.my_mentors(viewer)]


@strawberry.type
class MentoringMutations:
    @strawberry.mutation(description="Make someone a mentor of a mentee (HR admins). Audited.")
    async def create_mentorship(
        self,
        info: strawberry.Info,
        input: Annotated[CreateMentorshipInput, strawberry.argument(description="The mentorship.")],
    ) -> MentorshipPayload:
        async def work(viewer: Viewer) -> MentorshipRow:
            return await mentoring.create_mentorship(
                viewer,
                expect_global_id(input.mentor_id, "Employee", "mentorId"),
                expect_global_id(input.mentee_id, "Employee", "menteeId"),
                expect_global_id(input.course_id, "Course", "courseId") if input.course_id else None,
                input.starts_on,
                input.ends_on,
            )

        return await mutate(info, work, MentorshipPayload.of)

    @strawberry.mutation(description="Set the last day of a mentorship (HR admins). Audited.")
    async def end_mentorship(
        self,
        info: strawberry.Info,
        input: Annotated[EndMentorshipInput, strawberry.argument(description="The mentorship and its last day.")],
    ) -> MentorshipPayload:
        async def work(viewer: Viewer) -> MentorshipRow:
            mentorship_id = expect_global_id(input.mentorship_id, "Mentorship", "mentorshipId")
            return await mentoring.end_mentorship(viewer, mentorship_id, input.ends_on)

        return await mutate(info, work, MentorshipPayload.of)
