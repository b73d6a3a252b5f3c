"""Root query."""

from __future__ import annotations

from typing import Annotated

import strawberry

from backend.services.catalog import course_catalog
from backend.services.people import directory
from schema.assessment.fields import EvaluationQueries
from schema.catalog.types import Course, CourseConnection, CourseFilter, CourseModule
from schema.checkin.fields import CheckInQueries
from schema.common import Node
from schema.credits.fields import CreditQueries
from schema.ids import expect_global_id, from_global_id
from schema.leaderboards.fields import LeaderboardQueries
from schema.organisation.types import OrgUnit, Position, Site, Skill
from schema.people.types import Employee
from schema.practice.fields import PracticeQueries
from schema.quizzes.fields import QuizQueries
from schema.rewards.fields import RewardQueries
from schema.sessions.fields import SessionQueries
from schema.skills.fields import SkillQueries
from schema.sync.fields import SyncQueries

_ROW_TYPES = {"OrgUnit": OrgUnit, "Site": Site, "Position": Position, "Skill": Skill}


@strawberry.type(description="Read access to Xuefen. Everything requires a signed-in viewer.")
class Query(
    CheckInQueries,
    CreditQueries,
    EvaluationQueries,
    LeaderboardQueries,
    PracticeQueries,
    QuizQueries,
    RewardQueries,
    SessionQueries,
    SkillQueries,
    SyncQueries,
):
    @strawberry.field(description="The signed-in employee: profile, roles, org unit, site, position.")
    async def me(self, info: strawberry.Info) -> Employee:
        viewer = await info.context.require_viewer()
        return Employee.from_model(viewer.employee)

    @strawberry.field(description="Courses the viewer may see, in code order, as a Relay connection.")
    async def courses(
        self,
        info: strawberry.Info,
        first: Annotated[int, strawberry.argument(description="Page size, 0 to the configured maximum (100).")] = 20,
        after: Annotated[str | None, strawberry.argument(description="endCursor of the previous page.")] = None,
        filter: Annotated[
            CourseFilter | None, strawberry.argument(description="Conditions to narrow the list.")
        ] = None,
    ) -> CourseConnection:
        viewer = await info.context.require_viewer()
        page = await course_catalog.list_courses(
            viewer,
            first,
            after,
            _course_filter(filter),
            info.context.settings.max_page_size,
            learner=await (await info.context.loaders()).learner() if filter and filter.eligible_only else None,
        )
        return CourseConnection.from_page(page)

    @strawberry.field(description="A course by ID; null if missing or not visible.")
    async def course(
        self,
        info: strawberry.Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Global ID of the course.")],
    ) -> Course | None:
        viewer = await info.context.require_viewer()
        row = await course_catalog.get_course(viewer, expect_global_id(id, "Course"))
        return Course.from_model(row) if row else None

    @strawberry.field(description="Any object by global ID; null if missing or not visible.")
    async def node(
        self,
        info: strawberry.Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Global ID of any object.")],
    ) -> Node | None:
        viewer = await info.context.require_viewer()
        type_name, row_id = from_global_id(id)
        if type_name == "Course":
            row = await course_catalog.get_course(viewer, row_id)
            return Course.from_model(row) if row else None
        if type_name == "CourseModule":
            module = await course_catalog.get_module(viewer, row_id)
            return CourseModule.from_model(module) if module else None
        if type_name == "Employee":
            employee = await directory.get_employee(viewer, row_id)
            return Employee.from_model(employee) if employee else None
        if type_name not in _ROW_TYPES:
            # A valid ID of a type that has its own field (session, rubric, practice log, …).
            return None
        row = await directory.get_tenant_row(viewer, type_name, row_id)
        return _ROW_TYPES[type_name].from_model(row) if row else None


def _course_filter(given: CourseFilter | None) -> course_catalog.CourseFilter:
    if given is None:
        return course_catalog.CourseFilter()
    skill_id = expect_global_id(given.skill_id, "Skill", "filter.skillId") if given.skill_id else None
    return course_catalog.CourseFilter(
        search=given.search,
        scenario=given.scenario,
        format=given.format,
        skill_id=skill_id,
        eligible_only=given.eligible_only,
        statuses=tuple(given.statuses) if given.statuses else None,
    )
