"""Skill matrix fields: the viewer's skills with evidence, recommendedCourses, and HR's
"who is below level L in skill S" list."""

from __future__ import annotations

from typing import Annotated

import strawberry

from backend.services.ojt import skills
from schema.ids import expect_global_id
from schema.skills.types import CourseRecommendation, SkillGapConnection, SkillGapEntry, SkillLevel, skill_levels


@strawberry.type
class SkillQueries:
    @strawberry.field(
        description="The viewer's skills: every skill they have a level in or their position "
        "requires, largest gap first."
    )
    async def my_skills(self, info: strawberry.Info) -> list[SkillLevel]:
        viewer = await info.context.require_viewer()
        rows = await skills.standings(viewer.tenant_id, viewer.employee)
        return skill_levels(viewer.tenant_id, viewer.employee_id, rows)

    @strawberry.field(
        description="An employee's skills, for the employee, their manager, their current mentors "
        "and HR admins; NOT_FOUND (or FORBIDDEN when the profile is visible) for anyone else."
    )
    async def employee_skills(
        self,
        info: strawberry.Info,
        employee_id: Annotated[strawberry.ID, strawberry.argument(description="Global ID of the employee.")],
    ) -> list[SkillLevel]:
        viewer = await info.context.require_viewer()
        employee = await skills.employee_for_skills(viewer, expect_global_id(employee_id, "Employee", "employeeId"))
        rows = await skills.standings(viewer.tenant_id, employee)
        return skill_levels(viewer.tenant_id, employee.id, rows)

    @strawberry.field(
        description="Published courses that close the viewer's largest skill gaps for their "
        "position, best first; completed courses and courses the viewer is not eligible for are "
        "left out."
    )
    async def recommended_courses(
        self,
        info: strawberry.Info,
        first: Annotated[int, strawberry.argument(description="How many, 0 to the configured maximum (100).")] = 10,
    ) -> list[CourseRecommendation]:
        viewer = await info.context.require_viewer()
        found = await skills.recommended_courses(
            viewer,
            first,
            info.context.settings.max_page_size,
            learner=await (await info.context.loaders()).learner(),
        )
        return [CourseRecommendation.from_domain(item) for item in found]

    @strawberry.field(
        description="Active employees of an org unit (and the units below it) whose level in a "
        "skill is below `below`, lowest first, each with courses that would raise them. HR admins: "
        "any org unit; managers: their own unit's subtree; others FORBIDDEN."
    )
    async def skill_gap(
        self,
        info: strawberry.Info,
        org_unit_id: Annotated[strawberry.ID, strawberry.argument(description="Global ID of the org unit.")],
        skill_id: Annotated[strawberry.ID, strawberry.argument(description="Global ID of the skill.")],
        below: Annotated[int, strawberry.argument(description="The level, 0–100, to be below.")],
        first: Annotated[int, strawberry.argument(description="Page size, 0 to the configured maximum (100).")] = 50,
        after: Annotated[str | None, strawberry.argument(description="endCursor of the previous page.")] = None,
    ) -> SkillGapConnection:
        viewer = await info.context.require_viewer()
        page = await skills.skill_gap(
            viewer,
            expect_global_id(org_unit_id, "OrgUnit", "orgUnitId"),
            expect_global_id(skill_id, "Skill", "skillId"),
            below,
            first,
            after,
            info.context.settings.max_page_size,
        )
        return SkillGapConnection.from_page(page, SkillGapEntry.from_entry)
