"""Practice log types: practice an employee logged and their mentor's decision (pages of them are
``Connection[PracticeLog]``)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from backend import models
from backend.services.content import evidence
from schema.catalog.types import CourseModule
from schema.evidence.types import EvidenceAttachment
from schema.ids import to_global_id
from schema.mentoring.types import colleague
from schema.people.types import Colleague

PracticeStatus = models.PracticeStatus
strawberry.enum(
    PracticeStatus,
    name="PracticeStatus",
    description="Where a practice log stands: PENDING (waiting for the mentor), CONFIRMED (counts "
    "towards the module) or REJECTED (does not count).",
)


@strawberry.enum(description="A mentor's decision on a practice log.")
class PracticeDecision(Enum):
    CONFIRMED = strawberry.enum_value("CONFIRMED", description="The practice happened: it counts.")
    REJECTED = strawberry.enum_value("REJECTED", description="It does not count (a note says why).")


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
            status=PracticeStatus(row.status),
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
        return await colleague(info, self._row.employee_id)

    @strawberry.field(description="The mentor who decided (name and number); null while pending.")
    async def reviewer(self, info: strawberry.Info) -> Colleague | None:
        return await colleague(info, self._row.reviewer_id)

    @strawberry.field(
        description="Photos, videos, voice notes and files attached to the log, oldest first; PENDING ones are "
        '"evidence pending". Shown to the employee, the reviewer, their current mentors for the course and HR '
        "admins (empty for anyone else who may read the log)."
    )
    async def evidence(self, info: strawberry.Info) -> list[EvidenceAttachment]:
        row = self._row
        viewer = await info.context.require_viewer()
        loaders = await info.context.loaders()
        allowed = (
            viewer.employee_id in (row.employee_id, row.reviewer_id)
            or evidence.sees_all(viewer)
            or await loaders.mentors_today.load((row.employee_id, row.course_id))
        )
        if not allowed:
            return []
        return EvidenceAttachment.shown(info, await loaders.evidence_by_record.load(row.record_id))


__all__ = ["PracticeDecision", "PracticeLog", "PracticeStatus"]
