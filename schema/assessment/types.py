"""Rubric and mentor evaluation types."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import strawberry

from backend import models
from backend.models import EvaluationStatus as DomainEvaluationStatus
from backend.services.ojt import assessment
from backend.services.ojt import rubrics as rubric_service
from schema.catalog.types import CourseModule
from schema.connection import PageInfo
from schema.ids import to_global_id
from schema.people.types import Colleague

EvaluationStatus = strawberry.enum(
    DomainEvaluationStatus,
    name="EvaluationStatus",
    description="DRAFT (mutable, versioned, seen by its mentor only), SUBMITTED (final) or SUPERSEDED "
    "(replaced by HR with a reason).",
)


@strawberry.type(description="What one score of a criterion means.")
class RubricDescriptor:
    score: int = strawberry.field(description="The score, on the rubric's scale.")
    text: str = strawberry.field(description="What earns it, e.g. 熟练做到.")


@strawberry.type(description="One weighted criterion of a rubric.")
class RubricCriterion:
    id: strawberry.ID = strawberry.field(description="Global ID: the key of its score in `scores`.")
    position: int = strawberry.field(description="Order within the rubric, from 1.")
    title: str = strawberry.field(description="What is scored, e.g. 需求挖掘.")
    weight: Decimal = strawberry.field(description="Weight in the percent (relative to the other criteria).")
    descriptors: list[RubricDescriptor] = strawberry.field(description="What the scores mean, lowest first.")

    @classmethod
    def from_model(cls, row: models.RubricCriterion) -> RubricCriterion:
        return cls(
            id=strawberry.ID(to_global_id("RubricCriterion", row.id)),
            position=row.position,
            title=row.title,
            weight=Decimal(str(row.weight)),
            descriptors=[RubricDescriptor(score=s, text=t) for s, t in rubric_service.descriptors_of(row)],
        )


@strawberry.type(description="A scoring rubric: weighted criteria scored on one scale.")
class Rubric:
    id: strawberry.ID = strawberry.field(description="Global ID of the rubric.")
    code: str = strawberry.field(description="Code, unique in the company, e.g. ROLEPLAY.")
    title: str = strawberry.field(description="Title.")
    scale_min: int = strawberry.field(description="Lowest score of every criterion.")
    scale_max: int = strawberry.field(description="Highest score of every criterion.")
    criteria: list[RubricCriterion] = strawberry.field(description="The criteria, in order.")

    @classmethod
    def from_model(cls, row: models.Rubric, criteria: list[models.RubricCriterion]) -> Rubric:
        return cls(
            id=strawberry.ID(to_global_id("Rubric", row.id)),
            code=row.code,
            title=row.title,
            scale_min=row.scale_min,
            scale_max=row.scale_max,
            criteria=[RubricCriterion.from_model(c) for c in criteria],
        )


async def rubric_of(row: models.Rubric) -> Rubric:
    criteria = await rubric_service.criteria_of(row.tenant_id, [row.id])
    return Rubric.from_model(row, criteria[row.id])


@strawberry.type(description="The score of one criterion.")
class CriterionScore:
    criterion: RubricCriterion = strawberry.field(description="The criterion.")
    score: int | None = strawberry.field(description="The score; null while a draft leaves it open.")


@strawberry.type(description="A mentor's rubric score of a mentee's practice or assessment module.")
class MentorEvaluation:
    id: strawberry.ID = strawberry.field(description="The evaluation's UUID (chosen by the phone that began it).")
    mentee: Colleague = strawberry.field(description="Who was scored.")
    mentor: Colleague = strawberry.field(description="Who scored (an HR admin for a replacement).")
    module: CourseModule = strawberry.field(description="The module scored.")
    rubric: Rubric = strawberry.field(description="The rubric scored with.")
    scores: list[CriterionScore] = strawberry.field(description="One entry per criterion, in order.")
    comment: str = strawberry.field(description="The mentor's comment.")
    version: int = strawberry.field(description="Accepted writes so far: the baseVersion of the next edit.")
    status: EvaluationStatus = strawberry.field(description="DRAFT, SUBMITTED or SUPERSEDED.")
    percent: int | None = strawberry.field(description="Weighted score as a percent, once submitted.")
    submitted_at: datetime | None = strawberry.field(description="When it was submitted.")
    superseded_reason: str = strawberry.field(description="For a replacement: why HR replaced the original.")
    _supersedes_uid: strawberry.Private[str | None]

    @strawberry.field(description="For a replacement: the evaluation it replaced (null if not visible).")
    async def supersedes(self, info: strawberry.Info) -> MentorEvaluation | None:
        if not self._supersedes_uid:
            return None
        viewer = await info.context.require_viewer()
        rows = await assessment.readable_evaluations(viewer, [uuid.UUID(self._supersedes_uid)])
        shaped = await evaluations_of(list(rows.values()))
        return shaped[0] if shaped else None


async def evaluations_of(rows: list[models.MentorEvaluation]) -> list[MentorEvaluation]:
    """Shape evaluations with a fixed number of queries however many there are."""
    if not rows:
        return []
    tenant_id = rows[0].tenant_id
    employees = {
        e.id: e
        for e in await models.Employee.filter(
            tenant_id=tenant_id, id__in=list({r.mentee_id for r in rows} | {r.mentor_id for r in rows})
        )
    }
    modules = {
        m.id: m for m in await models.CourseModule.filter(tenant_id=tenant_id, id__in=list({r.module_id for r in rows}))
    }
    rubric_ids = list({r.rubric_id for r in rows})
    rubrics = {r.id: r for r in await models.Rubric.filter(tenant_id=tenant_id, id__in=rubric_ids)}
    criteria = await rubric_service.criteria_of(tenant_id, rubric_ids)
    superseded = [r.supersedes_id for r in rows if r.supersedes_id]
    links = (
        dict(await models.MentorEvaluation.filter(tenant_id=tenant_id, id__in=superseded).values_list("id", "uid"))
        if superseded
        else {}
    )
    shaped = []
    for row in rows:
        scores = row.scores or {}
        shaped.append(
            MentorEvaluation(
                id=strawberry.ID(str(row.uid)),
                mentee=Colleague.from_model(employees[row.mentee_id]),
                mentor=Colleague.from_model(employees[row.mentor_id]),
                module=CourseModule.from_model(modules[row.module_id]),
                rubric=Rubric.from_model(rubrics[row.rubric_id], criteria[row.rubric_id]),
                scores=[
                    CriterionScore(criterion=RubricCriterion.from_model(c), score=scores.get(str(c.id)))
                    for c in criteria[row.rubric_id]
                ],
                comment=row.comment,
                version=row.version,
                status=DomainEvaluationStatus(row.status),
                percent=row.percent,
                submitted_at=row.submitted_at,
                superseded_reason=row.superseded_reason,
                _supersedes_uid=str(links[row.supersedes_id]) if row.supersedes_id in links else None,
            )
        )
    return shaped


@strawberry.type(description="An evaluation in a connection, with its cursor.")
class MentorEvaluationEdge:
    cursor: str = strawberry.field(description="Opaque cursor of this evaluation.")
    node: MentorEvaluation = strawberry.field(description="The evaluation.")


@strawberry.type(description="A page of mentor evaluations (Relay connection), oldest first.")
class MentorEvaluationConnection:
    edges: list[MentorEvaluationEdge] = strawberry.field(description="Evaluations of this page.")
    page_info: PageInfo = strawberry.field(description="Paging information.")
    _page: strawberry.Private[assessment.EvaluationPage]

    @strawberry.field(description="Number of evaluations matching, across all pages.")
    async def total_count(self) -> int:
        return await self._page.count_total()

    @classmethod
    async def from_page(cls, page: assessment.EvaluationPage) -> MentorEvaluationConnection:
        nodes = await evaluations_of(page.evaluations)
        edges = [
            MentorEvaluationEdge(cursor=assessment.cursor_of(row), node=node)
            for row, node in zip(page.evaluations, nodes)
        ]
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
