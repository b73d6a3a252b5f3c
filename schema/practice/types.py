"""Mentorship and practice log types."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum

import strawberry

from backend import models
from backend.models import PracticeStatus as DomainPracticeStatus
from backend.services.catalog import course_catalog
from backend.services.ojt.practice import PracticePage
from schema.catalog.types import Course, CourseModule
from schema.connection import PageInfo
from schema.ids import to_global_id
from schema.people.types import Colleague

PracticeStatus = strawberry.enum(
    DomainPracticeStatus,
    name="PracticeStatus",
    description="Where a practice log stands: PENDING (waiting for the mentor), CONFIRMED (counts "
    "towards the module) or REJECTED (does not count).",
)


@strawberry.enum(description="A mentor's decision on a practice log.")
class PracticeDecision(Enum):
    CONFIRMED = strawberry.enum_value("CONFIRMED", description="The practice happened: it counts.")
    REJECTED = strawberry.enum_value("REJECTED", description="It does not count (a note says why).")


async def _colleague(info: strawberry.Info, employee_id: int | None) -> Colleague | None:
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
        return await _colleague(info, self._row.mentor_id)

    @strawberry.field(description="The mentee (徒弟) (name and number).")
    async def mentee(self, info: strawberry.Info) -> Colleague | None:
        return await _colleague(info, self._row.mentee_id)

    @strawberry.field(description="The OJT plan's course; null when the mentorship covers every course.")
    async def course(self, info: strawberry.Info) -> Course | None:
        if self._row.course_id is None:
            return None
        row = await course_catalog.get_course(await info.context.require_viewer(), self._row.course_id)
        return Course.from_model(row) if row else None

    @strawberry.field(description="Whether the mentorship covers every course of the mentee.")
    def all_courses(self) -> bool:
        return self._row.course_id is None


@strawberry.type(description="Practice an employee logged for a PRACTICE module, and the mentor's decision.")
class PracticeLog:
    id: strawberry.ID = strawberry.field(description="Global ID of the practice log (practiceId when reviewing).")
    quantity: int = strawberry.field(description="How many times it was practised (e.g. 3 role-plays).")
    note: str = strawberry.field(description="The employee's note.")
    practiced_at: datetime = strawberry.field(description="When it was practised (corrected device time).")
    status: PracticeStatus = strawberry.field(description="PENDING, CONFIRMED or REJECTED.")
    reviewed_at: datetime | None = strawberry.field(description="When the mentor decided; null while pending.")
    review_note: str = strawberry.field(description="The mentor's note (always given with a rejection).")
    _row: strawberry.Private[models.PracticeLog]

    @classmethod
    def from_model(cls, row: models.PracticeLog) -> PracticeLog:
        return cls(
            id=strawberry.ID(to_global_id("PracticeLog", row.id)),
            quantity=row.quantity,
            note=row.note,
            practiced_at=row.practiced_at,
            status=DomainPracticeStatus(row.status),
            reviewed_at=row.reviewed_at,
            review_note=row.review_note,
            _row=row,
        )

    @strawberry.field(description="The PRACTICE module practised.")
    def module(self) -> CourseModule:
        return CourseModule.from_model(self._row.module)

    @strawberry.field(description="Global ID of the module's course.")
    def course_id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("Course", self._row.course_id))

    @strawberry.field(description="Who practised (name and number).")
    async def employee(self, info: strawberry.Info) -> Colleague | None:
        return await _colleague(info, self._row.employee_id)

    @strawberry.field(description="The mentor who decided (name and number); null while pending.")
    async def reviewer(self, info: strawberry.Info) -> Colleague | None:
        return await _colleague(info, self._row.reviewer_id)


@strawberry.type(description="A practice log in a connection, with its cursor.")
class PracticeLogEdge:
    cursor: str = strawberry.field(description="Opaque cursor of this log.")
    node: PracticeLog = strawberry.field(description="The practice log.")


@strawberry.type(description="A page of practice logs (Relay connection).")
class PracticeLogConnection:
    edges: list[PracticeLogEdge] = strawberry.field(description="Logs of this page.")
    page_info: PageInfo = strawberry.field(description="Paging information.")
    _page: strawberry.Private[PracticePage]

    @strawberry.field(description="Number of logs matching, across all pages.")
    async def total_count(self) -> int:
        return await self._page.count_total()

    @classmethod
    def from_page(cls, page: PracticePage) -> PracticeLogConnection:
        edges = [PracticeLogEdge(cursor=page.cursor_of(log), node=PracticeLog.from_model(log)) for log in page.logs]
        return cls(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=page.has_previous_page,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            _page=page,
        )


__all__ = [
    "Mentorship",
    "PracticeDecision",
    "PracticeLog",
    "PracticeLogConnection",
    "PracticeLogEdge",
    "PracticeStatus",
]
