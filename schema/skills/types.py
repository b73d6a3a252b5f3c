"""Skill matrix types: an employee's levels with their evidence, course recommendations, and the
"who is below level L in skill S" connection."""

from __future__ import annotations

import asyncio
from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from backend import models
from backend.services.ojt import skills
from backend.services.pagination import check_page_size
from schema.catalog.types import Course, CourseModule
from schema.connection import Connection, Edge
from schema.ids import to_global_id
from schema.organisation.types import Skill
from schema.people.types import Colleague


@strawberry.enum(description="What kind of record showed a skill level.")
class SkillEvidenceSource(Enum):
    QUIZ_ATTEMPT = strawberry.enum_value(skills.QUIZ_ATTEMPT, description="A graded quiz attempt.")
    MENTOR_EVALUATION = strawberry.enum_value(
        skills.MENTOR_EVALUATION, description="A submitted mentor evaluation (rubric score)."
    )


@strawberry.type(description="One result that showed a skill level, and what it changed.")
class SkillEvidence:
    source_kind: SkillEvidenceSource = strawberry.field(description="Quiz attempt or mentor evaluation.")
    source_id: strawberry.ID = strawberry.field(
        description="Id of the quiz attempt or mentor evaluation, as the source kind names it."
    )
    record_id: strawberry.ID | None = strawberry.field(
        description="The activity record (the app's clientId / record UUID) that carried the result."
    )
    module: CourseModule | None = strawberry.field(
        description="The module the result was for; null if it has been removed."
    )
    score_percent: int = strawberry.field(description="The score, in percent.")
    level_before: int = strawberry.field(description="The level before this result, 0–100.")
    level_after: int = strawberry.field(
        description="The level after it (never lower than before: a weaker result lowers nothing)."
    )
    occurred_at: datetime = strawberry.field(description="When the result was achieved.")

    @classmethod
    def from_model(cls, row: models.SkillEvidence) -> SkillEvidence:
        return cls(
            source_kind=SkillEvidenceSource(row.source_kind),
            source_id=strawberry.ID(row.source_id),
            record_id=strawberry.ID(str(row.record_id)) if row.record_id else None,
            module=CourseModule.from_model(row.module) if row.module else None,
            score_percent=row.score_percent,
            level_before=row.level_before,
            level_after=row.level_after,
            occurred_at=row.occurred_at,
        )


class _EvidenceBatch:
    """Evidence for every skill of one list, read in one query the first time any item asks."""

    def __init__(self, tenant_id: int, employee_id: int, skill_ids: list[int]) -> None:
        self._args = (tenant_id, employee_id, skill_ids)
        self._future: asyncio.Future[dict[int, list[models.SkillEvidence]]] | None = None

    async def of(self, skill_id: int) -> list[models.SkillEvidence]:
        # Items resolve concurrently: share the pending read, not only its result.
        if self._future is None:
            self._future = asyncio.ensure_future(skills.evidence_by_skill(*self._args))
        return (await self._future).get(skill_id, [])


@strawberry.type(description="An employee's level in one skill beside what their position requires.")
class SkillLevel:
    skill: Skill = strawberry.field(description="The skill.")
    level: int = strawberry.field(description="Level shown so far, 0–100 (0 when none).")
    required_level: int | None = strawberry.field(
        description="Level the employee's position requires; null if it does not require the skill."
    )
    gap: int = strawberry.field(description="How far below the required level: max(0, required - level).")
    _skill_id: strawberry.Private[int]
    _batch: strawberry.Private[_EvidenceBatch]

    @strawberry.field(description="The results behind the level, newest first.")
    async def evidence(
        self,
        info: strawberry.Info,
        first: Annotated[int, strawberry.argument(description="How many, 0 to the configured maximum (100).")] = 5,
    ) -> list[SkillEvidence]:
        first = check_page_size(first, info.context.settings.max_page_size)
        rows = await self._batch.of(self._skill_id)
        return [SkillEvidence.from_model(row) for row in rows[:first]]


def skill_levels(tenant_id: int, employee_id: int, rows: list[skills.SkillStanding]) -> list[SkillLevel]:
    batch = _EvidenceBatch(tenant_id, employee_id, [row.skill.id for row in rows])
    return [
        SkillLevel(
            skill=Skill.from_model(row.skill),
            level=row.level,
            required_level=row.required_level,
            gap=row.gap,
            _skill_id=row.skill.id,
            _batch=batch,
        )
        for row in rows
    ]


@strawberry.type(description="A skill gap a recommended course closes.")
class SkillGapReason:
    skill: Skill = strawberry.field(description="The skill.")
    current_level: int = strawberry.field(description="The viewer's level now, 0–100.")
    required_level: int = strawberry.field(description="Level the viewer's position requires.")
    target_level: int = strawberry.field(description="Level the course aims for.")


@strawberry.type(description="A course recommended to close the viewer's skill gaps.")
class CourseRecommendation:
    course: Course = strawberry.field(description="The course.")
    score: int = strawberry.field(
        description="Levels it would close: sum over its gap skills of min(target, required) - current."
    )
    reasons: list[SkillGapReason] = strawberry.field(description="The gaps it closes, the one it closes most first.")

    @classmethod
    def from_domain(cls, found: skills.Recommendation) -> CourseRecommendation:
        return cls(
            course=Course.from_model(found.course),
            score=found.score,
            reasons=[
                SkillGapReason(
                    skill=Skill.from_model(r.skill),
                    current_level=r.current_level,
                    required_level=r.required_level,
                    target_level=r.target_level,
                )
                for r in found.reasons
            ],
        )


@strawberry.type(description="An employee below the asked level in a skill.")
class SkillGapEntry:
    employee: Colleague = strawberry.field(
        description="The employee (name and number; node(id) for the profile, by its visibility rules)."
    )
    level: int = strawberry.field(description="Their level in the skill, 0–100 (0 when none).")
    recommended_courses: list[Course] = strawberry.field(
        description="Published courses teaching the skill that aim for the asked level or more (when "
        "none does, those aiming highest), best target first; not ones already completed."
    )

    @classmethod
    def from_entry(cls, entry: skills.GapEntry) -> SkillGapEntry:
        return cls(
            employee=Colleague(
                id=strawberry.ID(to_global_id("Employee", entry.employee_id)),
                employee_no=entry.employee_no,
                name=entry.name,
            ),
            level=entry.level,
            recommended_courses=[Course.from_model(course) for course in entry.courses],
        )


@strawberry.type(name="SkillGapEdge", description="An employee in a skill gap connection, with its cursor.")
class SkillGapEdge(Edge[SkillGapEntry]):
    pass


@strawberry.type(
    name="SkillGapConnection",
    description="A page of employees below a level in a skill (Relay connection), lowest level first, "
    "then by employee number.",
)
class SkillGapConnection(Connection[SkillGapEntry]):
    # Named as before (not SkillGapEntryEdge).
    edge_type = SkillGapEdge
    edges: list[SkillGapEdge] = strawberry.field(  # type: ignore[assignment]  # a list of the subclass
        description="Employees of this page, lowest level first, then by employee number."
    )


__all__ = [
    "CourseRecommendation",
    "SkillEvidence",
    "SkillEvidenceSource",
    "SkillGapConnection",
    "SkillGapEdge",
    "SkillGapEntry",
    "SkillGapReason",
    "SkillLevel",
    "skill_levels",
]
