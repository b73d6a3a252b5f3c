"""Mentorship types: who mentors whom, in which OJT plan, from when to when."""

from __future__ import annotations

from datetime import date

import strawberry

from backend import models
from schema.catalog.types import Course
from schema.ids import to_global_id
from schema.people.types import Colleague


async def colleague(info: strawberry.Info, employee_id: int | None) -> Colleague | None:
    """The employee as a colleague, through the request's loader (None for no one)."""
    if employee_id is None:
        return None
    row = await (await info.context.loaders()).employee.load(employee_id)
    return Colleague.from_model(row) if row else None


@strawberry.type(description="A mentor guiding a mentee through an OJT plan (one course, or all), with dates.")
class Mentorship:
    id: strawberry.ID = strawberry.field(description="Global ID of the mentorship.")
    starts_on: date = strawberry.field(description="First day (the mentee's local day).")
    ends_on: date | None = strawberry.field(description="Last day, inclusive; null while open-ended.")
    pending_practice_count: int = strawberry.field(
        description="The mentee's practice logs in this mentorship's scope waiting for a decision."
    )
    _row: strawberry.Private[models.Mentorship]

    @classmethod
    def from_model(cls, row: models.Mentorship, pending: int = 0) -> Mentorship:
        return cls(
            id=strawberry.ID(to_global_id("Mentorship", row.id)),
            starts_on=row.starts_on,
            ends_on=row.ends_on,
            pending_practice_count=pending,
            _row=row,
        )

    @strawberry.field(description="The mentor (师傅) (name and number).")
    async def mentor(self, info: strawberry.Info) -> Colleague | None:
        return await colleague(info, self._row.mentor_id)

    @strawberry.field(description="The mentee (徒弟) (name and number).")
    async def mentee(self, info: strawberry.Info) -> Colleague | None:
        return await colleague(info, self._row.mentee_id)

    @strawberry.field(description="The OJT plan's course; null when the mentorship covers every course.")
    async def course(self, info: strawberry.Info) -> Course | None:
        if self._row.course_id is None:
            return None
        row = await (await info.context.loaders()).visible_course.load(self._row.course_id)
        return Course.from_model(row) if row else None

    @strawberry.field(description="Whether the mentorship covers every course of the mentee.")
    def all_courses(self) -> bool:
        return self._row.course_id is None


__all__ = ["Mentorship", "colleague"]
