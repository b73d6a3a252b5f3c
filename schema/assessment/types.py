"""Mentor evaluation types: a mentor's rubric score of a mentee's module, criterion by criterion."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from backend import models
from backend.services.content import evidence
from backend.services.ojt import assessment
from schema.catalog.types import CourseModule
from schema.evidence.types import EvidenceAttachment
from schema.people.types import Colleague
from schema.rubrics.types import Rubric, RubricCriterion

EvaluationStatus = models.EvaluationStatus
strawberry.enum(
    EvaluationStatus,
    name="EvaluationStatus",
    description="DRAFT (mutable, versioned, seen by its mentor only), SUBMITTED (final) or SUPERSEDED "
    "(replaced by HR with a reason).",
)


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
    _supersedes_uid: strawberry.Private[uuid.UUID | None]
    _row: strawberry.Private[models.MentorEvaluation | None] = None

    @classmethod
    def from_detail(cls, detail: assessment.EvaluationDetail) -> MentorEvaluation:
        row = detail.evaluation
        scores = row.scores or {}
        return cls(
            id=strawberry.ID(str(row.uid)),
            mentee=Colleague.from_model(detail.mentee),
            mentor=Colleague.from_model(detail.mentor),
            module=CourseModule.from_model(detail.module),
            rubric=Rubric.from_model(detail.rubric, detail.criteria),
            scores=[
                CriterionScore(criterion=RubricCriterion.from_model(c), score=scores.get(str(c.id)))
                for c in detail.criteria
            ],
            comment=row.comment,
            version=row.version,
            status=EvaluationStatus(row.status),
            percent=row.percent,
            submitted_at=row.submitted_at,
            superseded_reason=row.superseded_reason,
            _supersedes_uid=detail.supersedes_uid,
            _row=row,
        )

    @classmethod
    async def load(cls, rows: list[models.MentorEvaluation]) -> list[MentorEvaluation]:
        """``rows`` shaped, in order, with a fixed number of queries however many there are."""
        return [cls.from_detail(detail) for detail in await assessment.with_details(rows)]

    @strawberry.field(
        description="Photos, videos, voice notes and files the mentor attached (by any write of the evaluation), "
        'oldest first; PENDING ones are "evidence pending". Shown to the mentor, the mentee and HR admins '
        "(empty for anyone else who may read the evaluation)."
    )
    async def evidence(self, info: strawberry.Info) -> list[EvidenceAttachment]:
        row = self._row
        if row is None:
            return []
        viewer = await info.context.require_viewer()
        if viewer.employee_id not in (row.mentor_id, row.mentee_id) and not evidence.sees_all(viewer):
            return []
        loaders = await info.context.loaders()
        key = (evidence.MENTOR_EVALUATION, row.mentor_id, str(row.uid))
        return EvidenceAttachment.shown(info, await loaders.evidence_by_owner.load(key))

    @strawberry.field(description="For a replacement: the evaluation it replaced (null if not visible).")
    async def supersedes(self, info: strawberry.Info) -> MentorEvaluation | None:
        if not self._supersedes_uid:
            return None
        detail = await (await info.context.loaders()).readable_evaluation.load(self._supersedes_uid)
        return MentorEvaluation.from_detail(detail) if detail else None


__all__ = ["CriterionScore", "EvaluationStatus", "MentorEvaluation"]
