"""Course catalog fields: the course list and a course by ID, and setCourseStatus (HR admins).
Thin: each calls backend.services.catalog.course_catalog (course_versions for the status)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from backend import models
from backend.services.catalog import course_catalog, course_versions
from backend.services.viewer import Viewer
from schema.catalog.types import Course, CourseFilter, CourseStatus, course_status
from schema.common import UserError
from schema.connection import Connection, selects
from schema.ids import expect_global_id
from schema.payloads import mutate


@strawberry.input(description="A new lifecycle status for a course.")
class SetCourseStatusInput:
    course_id: strawberry.ID = strawberry.field(description="The course.")
    status: CourseStatus = strawberry.field(
        description="DRAFT, PUBLISHED or RETIRED (ARCHIVED, the old name, reads as RETIRED)."
    )


@strawberry.type(description="Result of a change to a course (setCourseStatus and the course authoring mutations).")
class CoursePayload:
    course: Course | None = strawberry.field(description="The course after the change.")
    errors: list[UserError] = strawberry.field(description="Expected failures; empty on success.")


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
        statuses=tuple(course_status(status) for status in given.statuses) if given.statuses else None,
    )


@strawberry.type
class CatalogQueries:
    @strawberry.field(description="Courses the viewer may see, in code order, as a Relay connection.")
    async def courses(
        self,
        info: strawberry.Info,
        first: Annotated[int, strawberry.argument(description="Page size, 0 to the configured maximum (100).")] = 20,
        after: Annotated[str | None, strawberry.argument(description="endCursor of the previous page.")] = None,
        filter: Annotated[
            CourseFilter | None, strawberry.argument(description="Conditions to narrow the list.")
        ] = None,
    ) -> Connection[Course]:
        viewer = await info.context.require_viewer()
        loaders = await info.context.loaders()
        page = await course_catalog.list_courses(
            viewer,
            first,
            after,
            _course_filter(filter),
            info.context.settings.max_page_size,
            learner=await loaders.learner() if filter and filter.eligible_only else None,
        )
        # The page's modules and skills in one statement each, when asked for: its courses then
        # answer them without a loader call each (the loader keeps them for progress).
        ids = [row.id for row in page.items]
        modules = skills = None
        if ids and selects(info, "edges", "node", "modules"):
            modules = await course_catalog.modules_by_course(viewer.tenant_id, ids)
            loaders.modules_by_course.prime_many({course_id: modules.get(course_id, []) for course_id in ids})
        if ids and selects(info, "edges", "node", "skills"):
            skills = await course_catalog.skills_by_course(viewer.tenant_id, ids)
        return Connection[Course].from_page(page, lambda row: Course.from_model(row, modules, skills))

    @strawberry.field(description="A course by ID; null if missing or not visible.")
    async def course(
        self,
        info: strawberry.Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Global ID of the course.")],
    ) -> Course | None:
        viewer = await info.context.require_viewer()
        row = await course_catalog.get_course(viewer, expect_global_id(id, "Course"))
        return Course.from_model(row) if row else None


@strawberry.type
class CatalogMutations:
    @strawberry.mutation(
        description="Move a course through its life (HR admins), by the rules of publishCourse and retireCourse; "
        "back to DRAFT only from PUBLISHED while nobody has started it (STILL_IN_USE). Any other change is "
        "INVALID_STATUS_CHANGE; the status it already has changes nothing."
    )
    async def set_course_status(
        self,
        info: strawberry.Info,
        input: Annotated[SetCourseStatusInput, strawberry.argument(description="Course and status.")],
    ) -> CoursePayload:
        async def work(viewer: Viewer) -> models.Course:
            course_id = expect_global_id(input.course_id, "Course", "courseId")
            return await course_versions.change_status(viewer, course_id, course_status(input.status))

        return await mutate(
            info,
            work,
            lambda row, errors: CoursePayload(course=Course.from_model(row) if row else None, errors=errors),
        )
