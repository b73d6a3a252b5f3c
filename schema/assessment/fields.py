"""Mentor evaluation fields: reading evaluations, saving or submitting one (the MENTOR_EVALUATION
online twin), and HR's supersedeEvaluation."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from backend import models
from backend.errors import DomainError, ErrorCode
from backend.services.ojt import assessment
from backend.services.viewer import Viewer
from schema.assessment.types import MentorEvaluation
from schema.common import UserError
from schema.connection import Connection
from schema.evidence.types import EvidenceInput, with_attachments
from schema.ids import expect_global_id
from schema.payloads import mutate
from schema.sync.records import RecordPayload, submit_record


@strawberry.input(description="A mentor's evaluation draft or submission, online.")
class SaveMentorEvaluationInput:
    client_id: strawberry.ID | None = strawberry.field(default=None, description="UUID for safe retries.")
    evaluation_id: strawberry.ID = strawberry.field(description="The evaluation's UUID (new: choose one).")
    mentee_id: strawberry.ID = strawberry.field(description="The mentee (Employee).")
    module_id: strawberry.ID = strawberry.field(description="The PRACTICE or ASSESSMENT CourseModule.")
    base_version: int = strawberry.field(description="The version this write is based on; 0 to create.")
    scores: JSON = strawberry.field(description='{"<RubricCriterion id>": score}; a draft may leave some out.')
    comment: str = strawberry.field(default="", description="Comment, at most 2000 characters.")
    submit: bool = strawberry.field(default=False, description="True to submit (final; every criterion needed).")
    evaluated_at: datetime | None = strawberry.field(default=None, description="When; now if omitted.")
    attachments: list[EvidenceInput] | None = strawberry.field(
        default=None,
        description="Evidence (photos, voice notes, videos, PDFs), at most 10; uploaded afterwards; "
        "one named by an earlier write of this evaluation stays the same attachment.",
    )


@strawberry.input(description="HR's replacement of a submitted evaluation.")
class SupersedeEvaluationInput:
    evaluation_id: strawberry.ID = strawberry.field(description="The submitted evaluation to replace.")
    scores: JSON = strawberry.field(description='{"<RubricCriterion id>": score} for every criterion.')
    comment: str = strawberry.field(default="", description="Comment of the replacement.")
    reason: str = strawberry.field(description="Why it is replaced (required; kept in the audit log).")


@strawberry.type(description="Result of supersedeEvaluation.")
class EvaluationPayload:
    evaluation: MentorEvaluation | None = strawberry.field(description="The replacement evaluation.")
    errors: list[UserError] = strawberry.field(description="Expected failures; empty on success.")

    @classmethod
    async def of(cls, row: models.MentorEvaluation | None, errors: list[UserError]) -> EvaluationPayload:
        return cls(evaluation=(await MentorEvaluation.load([row]))[0] if row else None, errors=errors)


def _uid(value: str, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise DomainError(ErrorCode.VALIDATION, field=field, reason_key="reason.bad_id") from exc


@strawberry.type
class AssessmentQueries:
    @strawberry.field(
        description="A mentor evaluation: its mentor sees drafts too; the mentee, their manager and HR "
        "admins see submitted ones. NOT_FOUND otherwise."
    )
    async def evaluation(
        self,
        info: strawberry.Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The evaluation's UUID.")],
    ) -> MentorEvaluation:
        viewer = await info.context.require_viewer()
        row = await assessment.get_evaluation(viewer, _uid(id, "id"))
        return (await MentorEvaluation.load([row]))[0]

    @strawberry.field(description="Mentor evaluations the viewer may read, oldest first.")
    async def evaluations(
        self,
        info: strawberry.Info,
        mentee_id: Annotated[strawberry.ID | None, strawberry.argument(description="Only this mentee's.")] = None,
        module_id: Annotated[strawberry.ID | None, strawberry.argument(description="Only this module's.")] = None,
        first: Annotated[int, strawberry.argument(description="Page size, 0 to the configured maximum (100).")] = 20,
        after: Annotated[str | None, strawberry.argument(description="endCursor of the previous page.")] = None,
    ) -> Connection[MentorEvaluation]:
        viewer = await info.context.require_viewer()
        page = await assessment.list_evaluations(
            viewer,
            expect_global_id(mentee_id, "Employee", "menteeId") if mentee_id else None,
            expect_global_id(module_id, "CourseModule", "moduleId") if module_id else None,
            first,
            after,
            info.context.settings.max_page_size,
        )
        nodes = dict(zip([row.id for row in page.items], await MentorEvaluation.load(page.items)))
        return Connection[MentorEvaluation].from_page(page, lambda row: nodes[row.id])


@strawberry.type
class AssessmentMutations:
    @strawberry.mutation(description="Save or submit a mentor evaluation online: the MENTOR_EVALUATION kind.")
    async def save_mentor_evaluation(
        self,
        info: strawberry.Info,
        input: Annotated[SaveMentorEvaluationInput, strawberry.argument(description="The evaluation.")],
    ) -> RecordPayload:
        payload = {
            "evaluationId": str(input.evaluation_id),
            "menteeId": str(input.mentee_id),
            "moduleId": str(input.module_id),
            "baseVersion": input.base_version,
            "scores": input.scores,
            "comment": input.comment,
            "submit": input.submit,
        }
        payload = with_attachments(payload, input.attachments)
        return await submit_record(info, input.client_id, assessment.MENTOR_EVALUATION, input.evaluated_at, payload)

    @strawberry.mutation(
        description="Replace a submitted evaluation (HR admins, with a reason): the original becomes "
        "SUPERSEDED and the replacement is submitted at once."
    )
    async def supersede_evaluation(
        self,
        info: strawberry.Info,
        input: Annotated[SupersedeEvaluationInput, strawberry.argument(description="The replacement.")],
    ) -> EvaluationPayload:
        async def work(viewer: Viewer) -> models.MentorEvaluation:
            uid = _uid(input.evaluation_id, "evaluationId")
            return await assessment.supersede_evaluation(viewer, uid, input.scores, input.comment, input.reason)

        return await mutate(info, work, EvaluationPayload.of)
