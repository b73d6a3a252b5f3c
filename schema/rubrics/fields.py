"""Rubric fields: reading a rubric (by ID or of a module), and HR's createRubric and
setModuleRubric."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import strawberry

from backend import models
from backend.services.ojt import rubrics
from backend.services.viewer import Viewer
from schema.catalog.types import CourseModule
from schema.common import UserError
from schema.ids import expect_global_id
from schema.payloads import mutate
from schema.rubrics.types import Rubric


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

    @classmethod
    async def of(cls, row: models.Rubric | None, errors: list[UserError]) -> RubricPayload:
        return cls(rubric=await Rubric.load(row) if row else None, errors=errors)


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

    @classmethod
    async def of(
        cls, done: tuple[models.CourseModule, models.Rubric | None] | None, errors: list[UserError]
    ) -> ModuleRubricPayload:
        if done is None:
            return cls(module=None, rubric=None, errors=errors)
        module, rubric = done
        return cls(
            module=CourseModule.from_model(module), rubric=await Rubric.load(rubric) if rubric else None, errors=errors
        )


@strawberry.type
class RubricQueries:
    @strawberry.field(description="A rubric of the company by ID; null if missing.")
    async def rubric(
        self,
        info: strawberry.Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Global ID of the rubric.")],
    ) -> Rubric | None:
        viewer = await info.context.require_viewer()
        row = await rubrics.get_rubric(viewer, expect_global_id(id, "Rubric"))
        return await Rubric.load(row) if row else None

    @strawberry.field(description="The rubric of a module the viewer may see; null if it has none.")
    async def module_rubric(
        self,
        info: strawberry.Info,
        module_id: Annotated[strawberry.ID, strawberry.argument(description="The CourseModule.")],
    ) -> Rubric | None:
        viewer = await info.context.require_viewer()
        row = await rubrics.module_rubric(viewer, expect_global_id(module_id, "CourseModule", "moduleId"))
        return await Rubric.load(row) if row else None


@strawberry.type
class RubricMutations:
    @strawberry.mutation(description="Create a rubric (HR admins).")
    async def create_rubric(
        self,
        info: strawberry.Info,
        input: Annotated[CreateRubricInput, strawberry.argument(description="The rubric.")],
    ) -> RubricPayload:
        async def work(viewer: Viewer) -> models.Rubric:
            criteria = [
                rubrics.CriterionSpec(c.title, c.weight, [(d.score, d.text) for d in c.descriptors])
                for c in input.criteria
            ]
            return await rubrics.create_rubric(
                viewer, input.code, input.title, input.scale_min, input.scale_max, criteria
            )

        return await mutate(info, work, RubricPayload.of)

    @strawberry.mutation(
        description="Set or clear the rubric and pass bar of a PRACTICE or ASSESSMENT module (HR admins)."
    )
    async def set_module_rubric(
        self,
        info: strawberry.Info,
        input: Annotated[SetModuleRubricInput, strawberry.argument(description="Module, rubric and bar.")],
    ) -> ModuleRubricPayload:
        async def work(viewer: Viewer) -> tuple[models.CourseModule, models.Rubric | None]:
            return await rubrics.set_module_rubric(
                viewer,
                expect_global_id(input.module_id, "CourseModule", "moduleId"),
                expect_global_id(input.rubric_id, "Rubric", "rubricId") if input.rubric_id else None,
                input.pass_score,
            )

        return await mutate(info, work, ModuleRubricPayload.of)
