"""Rubric and mentor evaluation fields: rubrics, evaluation drafts and submission (the
MENTOR_EVALUATION online twin), HR supersede."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from backend.errors import DomainError, ErrorCode
from backend.services.ojt import assessment, rubrics
from schema.assessment.types import (
    MentorEvaluation,
    MentorEvaluationConnection,
    Rubric,
    evaluations_of,
    rubric_of,
)
from schema.catalog.types import CourseModule
from schema.common import UserError
from schema.ids import expect_global_id
from schema.sync.records import RecordPayload, submit_record


@strawberry.input(description="What one score of a new criterion means.")
class RubricDescriptorInput:
    score: int = strawberry.field(description="The score, on the rubric's scale.")
    text: str = strawberry.field(description="What earns it.")


@strawberry.input(description="A criterion of a new rubric.")
class RubricCriterionInput:
    title: str = strawberry.field(description="What is scored.")
    weight: Decimal = strawberry.field(description="Weight, above 0 (two decimals at most).")
    descriptors: list[RubricDescriptorInput] = strawberry.field(
        default_factory=list, description="What the scores mean (scores on the scale, each once)."
    )


@strawberry.input(description="A new rubric.")
class CreateRubricInput:
    code: str = strawberry.field(description="Code, unique in the company.")
    title: str = strawberry.field(description="Title.")
    scale_min: int = strawberry.field(description="Lowest score, 0 or more.")
    scale_max: int = strawberry.field(description="Highest score, above scaleMin, 100 at most.")
    criteria: list[RubricCriterionInput] = strawberry.field(description="The criteria, in order (1 to 50).")


@strawberry.type(description="Result of createRubric.")
class RubricPayload:
    rubric: Rubric | None = strawberry.field(description="The new rubric.")
    errors: list[UserError] = strawberry.field(description="Expected failures; empty on success.")


@strawberry.input(description="The rubric and pass bar of a PRACTICE or ASSESSMENT module.")
class SetModuleRubricInput:
    module_id: strawberry.ID = strawberry.field(description="The module.")
    rubric_id: strawberry.ID | None = strawberry.field(default=None, description="The rubric; null to clear.")
    pass_score: int | None = strawberry.field(
        default=None, description="Percent an evaluation must reach (0–100); null for the default 60."
    )


@strawberry.type(description="Result of setModuleRubric.")
class ModuleRubricPayload:
    module: CourseModule | None = strawberry.field(description="The module after the change.")
    rubric: Rubric | None = strawberry.field(description="Its rubric (null when cleared).")
    errors: list[UserError] = strawberry.field(description="Expected failures; empty on success.")


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


def _uid(value: str, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise DomainError(ErrorCode.VALIDATION, field=field, reason_key="reason.bad_id") from exc


@strawberry.type
class EvaluationQueries:
    @strawberry.field(description="A rubric of the company by ID; null if missing.")
    async def rubric(
        self,
        info: strawberry.Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Global ID of the rubric.")],
    ) -> Rubric | None:
        viewer = await info.context.require_viewer()
        row = await rubrics.get_rubric(viewer, expect_global_id(id, "Rubric"))
        return await rubric_of(row) if row else None

    @strawberry.field(description="The rubric of a module the viewer may see; null if it has none.")
    async def module_rubric(
        self,
        info: strawberry.Info,
        module_id: Annotated[strawberry.ID, strawberry.argument(description="The CourseModule.")],
    ) -> Rubric | None:
        viewer = await info.context.require_viewer()
        row = await rubrics.module_rubric(viewer, expect_global_id(module_id, "CourseModule", "moduleId"))
        return await rubric_of(row) if row else None

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
        return (await evaluations_of([row]))[0]

    @strawberry.field(description="Mentor evaluations the viewer may read, oldest first.")
    async def evaluations(
        self,
        info: strawberry.Info,
        mentee_id: Annotated[strawberry.ID | None, strawberry.argument(description="Only this mentee's.")] = None,
        module_id: Annotated[strawberry.ID | None, strawberry.argument(description="Only this module's.")] = None,
        first: Annotated[int, strawberry.argument(description="Page size, 0 to the configured maximum (100).")] = 20,
        after: Annotated[str | None, strawberry.argument(description="endCursor of the previous page.")] = None,
    ) -> MentorEvaluationConnection:
        viewer = await info.context.require_viewer()
        page = await assessment.list_evaluations(
            viewer,
            expect_global_id(mentee_id, "Employee", "menteeId") if mentee_id else None,
            expect_global_id(module_id, "CourseModule", "moduleId") if module_id else None,
            first,
            after,
            info.context.settings.max_page_size,
        )
        return await MentorEvaluationConnection.from_page(page)


@strawberry.type
class EvaluationMutations:
    @strawberry.mutation(description="Create a rubric (HR admins).")
    async def create_rubric(
        self,
        info: strawberry.Info,
        input: Annotated[CreateRubricInput, strawberry.argument(description="The rubric.")],
    ) -> RubricPayload:
        viewer = await info.context.require_viewer()
        try:
            row = await rubrics.create_rubric(
                viewer,
                input.code,
                input.title,
                input.scale_min,
                input.scale_max,
                [
                    rubrics.CriterionSpec(c.title, c.weight, [(d.score, d.text) for d in c.descriptors])
                    for c in input.criteria
                ],
            )
        except DomainError as error:
            return RubricPayload(rubric=None, errors=[UserError.from_domain(error, info.context.locale)])
        return RubricPayload(rubric=await rubric_of(row), errors=[])

    @strawberry.mutation(
        description="Set or clear the rubric and pass bar of a PRACTICE or ASSESSMENT module (HR admins)."
    )
    async def set_module_rubric(
        self,
        info: strawberry.Info,
        input: Annotated[SetModuleRubricInput, strawberry.argument(description="Module, rubric and bar.")],
    ) -> ModuleRubricPayload:
        viewer = await info.context.require_viewer()
        try:
            module, rubric = await rubrics.set_module_rubric(
                viewer,
                expect_global_id(input.module_id, "CourseModule", "moduleId"),
                expect_global_id(input.rubric_id, "Rubric", "rubricId") if input.rubric_id else None,
                input.pass_score,
            )
        except DomainError as error:
            return ModuleRubricPayload(
                module=None, rubric=None, errors=[UserError.from_domain(error, info.context.locale)]
            )
        return ModuleRubricPayload(
            module=CourseModule.from_model(module), rubric=await rubric_of(rubric) if rubric else None, errors=[]
        )

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
        viewer = await info.context.require_viewer()
        try:
            row = await assessment.supersede_evaluation(
                viewer, _uid(input.evaluation_id, "evaluationId"), input.scores, input.comment, input.reason
            )
        except DomainError as error:
            return EvaluationPayload(evaluation=None, errors=[UserError.from_domain(error, info.context.locale)])
        return EvaluationPayload(evaluation=(await evaluations_of([row]))[0], errors=[])
