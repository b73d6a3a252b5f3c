"""Practice fields: practice logs, the mentor's pending reviews, logPractice (the PRACTICE_LOG online
twin) and the mentor's confirm / reject (the PRACTICE_REVIEW online twin: the same services as synced
records)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from backend.services.ojt import practice
from schema.connection import Connection
from schema.evidence.types import EvidenceInput, with_attachments
from schema.ids import expect_global_id
from schema.practice.types import PracticeDecision, PracticeLog, PracticeStatus
from schema.sync.records import RecordPayload, submit_record
from schema.sync.types import utc


@strawberry.input(description="Practice done for a PRACTICE module, online.")
class LogPracticeInput:
    client_id: strawberry.ID | None = strawberry.field(default=None, description="UUID for safe retries.")
    module_id: strawberry.ID = strawberry.field(description="The PRACTICE CourseModule.")
    quantity: int = strawberry.field(default=1, description="How many times, 1–100 (e.g. 3 role-plays).")
    note: str = strawberry.field(default="", description="What was practised, up to 1000 characters.")
    practiced_at: datetime | None = strawberry.field(default=None, description="When; now if omitted.")
    attachments: list[EvidenceInput] | None = strawberry.field(
        default=None, description="Evidence (photos, voice notes, videos, PDFs), at most 10; uploaded afterwards."
    )


@strawberry.input(description="A mentor's decision on a mentee's pending practice log, online.")
class ReviewPracticeInput:
    client_id: strawberry.ID | None = strawberry.field(default=None, description="UUID for safe retries.")
    practice_id: strawberry.ID = strawberry.field(description="The PracticeLog.")
    decision: PracticeDecision = strawberry.field(description="CONFIRMED or REJECTED.")
    note: str = strawberry.field(default="", description="Feedback; required for REJECTED (up to 1000 characters).")


@strawberry.type
class PracticeQueries:
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
    ) -> Connection[PracticeLog]:
        viewer = await info.context.require_viewer()
        wanted = practice.PracticeFilter(
            employee_id=expect_global_id(employee_id, "Employee", "employeeId") if employee_id else None,
            module_id=expect_global_id(module_id, "CourseModule", "moduleId") if module_id else None,
            status=status,
        )
        page = await practice.practice_logs(viewer, wanted, first, after, info.context.settings.max_page_size)
        return Connection[PracticeLog].from_page(page, PracticeLog.from_model)

    @strawberry.field(description="Practice logs waiting for the viewer's decision as a current mentor, oldest first.")
    async def pending_practice_reviews(
        self,
        info: strawberry.Info,
        first: Annotated[int, strawberry.argument(description="Page size, 0 to the configured maximum (100).")] = 20,
        after: Annotated[str | None, strawberry.argument(description="endCursor of the previous page.")] = None,
    ) -> Connection[PracticeLog]:
        viewer = await info.context.require_viewer()
        page = await practice.pending_reviews(viewer, first, after, info.context.settings.max_page_size)
        return Connection[PracticeLog].from_page(page, PracticeLog.from_model)


@strawberry.type
class PracticeMutations:
    @strawberry.mutation(description="Log practice online: the PRACTICE_LOG kind (PENDING until the mentor decides).")
    async def log_practice(
        self,
        info: strawberry.Info,
        input: Annotated[LogPracticeInput, strawberry.argument(description="The practice.")],
    ) -> RecordPayload:
        payload = {"moduleId": str(input.module_id), "quantity": input.quantity, "note": input.note}
        payload = with_attachments(payload, input.attachments)
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
