"""Rubric types: weighted criteria scored on one scale, with what each score means."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from backend import models
from backend.services.ojt import rubrics
from schema.ids import to_global_id


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
            descriptors=[RubricDescriptor(score=s, text=t) for s, t in rubrics.descriptors_of(row)],
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

    @classmethod
    async def load(cls, row: models.Rubric) -> Rubric:
        """The rubric with its criteria (one query)."""
        criteria = await rubrics.criteria_of(row.tenant_id, [row.id])
        return cls.from_model(row, criteria[row.id])


__all__ = ["Rubric", "RubricCriterion", "RubricDescriptor"]
