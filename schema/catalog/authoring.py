"""Course authoring mutations (HR admins): courses, modules, eligibility, prerequisites, skills
taught, the lifecycle and new versions. Thin: each calls backend.services.catalog.course_authoring,
course_modules, course_requirements or course_versions. Quizzes and rubrics are attached to modules
by setModuleQuiz and setModuleRubric."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from backend import models
from backend.errors import DomainError, ErrorCode
from backend.services.catalog import (
    course_authoring,
    course_catalog,
    course_modules,
    course_requirements,
    course_versions,
)
from backend.services.viewer import Viewer
from schema.catalog.authoring_types import (
    AddModuleInput,
    CourseLifecycleInput,
    CreateCourseInput,
    CreateCourseVersionInput,
    ModulePayload,
    MoveModuleInput,
    RemoveModuleInput,
    RemoveModulePayload,
    ReorderModulesInput,
    SetCourseEligibilityInput,
    SetCoursePrerequisitesInput,
    SetCourseSkillsInput,
    UpdateCourseInput,
    UpdateModuleInput,
)
from schema.catalog.fields import CoursePayload
from schema.catalog.types import Course, CourseModule
from schema.common import UserError
from schema.ids import expect_global_id, to_global_id
from schema.payloads import mutate


def _course_payload(row: models.Course | None, errors: list[UserError]) -> CoursePayload:
    return CoursePayload(course=Course.from_model(row) if row else None, errors=errors)


def _module_payload(result: tuple[models.CourseModule, models.Course] | None, errors: list[UserError]) -> ModulePayload:
    if result is None:
        return ModulePayload(module=None, course=None, errors=errors)
    module, course = result
    return ModulePayload(module=CourseModule.from_model(module), course=Course.from_model(course), errors=errors)


async def _with_course(viewer: Viewer, module: models.CourseModule) -> tuple[models.CourseModule, models.Course]:
    course = await course_catalog.get_course(viewer, module.course_id)
    if course is None:  # HR admins see every course of the company; this is for the type checker
        raise DomainError(ErrorCode.NOT_FOUND)
    return module, course


def _given(source: object, names: tuple[str, ...]) -> dict[str, Any]:
    """The fields of an input that were given (null: leave as it is)."""
    return {name: getattr(source, name) for name in names if getattr(source, name) is not None}


COURSE_FIELDS = ("code", "title", "summary", "scenario", "format", "hours", "credits", "requires_approval")
MODULE_FIELDS = ("title", "kind", "credits", "required_count", "requirement", "is_required")


@strawberry.type
class CourseAuthoringMutations:
    @strawberry.mutation(
        description="Create a course as a DRAFT, version 1 (HR admins). A code outside the company's standard is "
        "VALIDATION (the message shows the pattern), one already used ALREADY_EXISTS."
    )
    async def create_course(
        self, info: strawberry.Info, input: Annotated[CreateCourseInput, strawberry.argument(description="The course.")]
    ) -> CoursePayload:
        async def work(viewer: Viewer) -> models.Course:
            return await course_authoring.create_course(viewer, _given(input, COURSE_FIELDS))

        return await mutate(info, work, _course_payload)

    @strawberry.mutation(
        description="Change a course's fields (HR admins), in any status; a new code is checked like a new course's."
    )
    async def update_course(
        self,
        info: strawberry.Info,
        input: Annotated[UpdateCourseInput, strawberry.argument(description="The changes.")],
    ) -> CoursePayload:
        async def work(viewer: Viewer) -> models.Course:
            course_id = expect_global_id(input.course_id, "Course", "courseId")
            return await course_authoring.update_course(viewer, course_id, _given(input, COURSE_FIELDS))

        return await mutate(info, work, _course_payload)

    @strawberry.mutation(description="Add a module to a course (HR admins), last or at a position.")
    async def add_module(
        self, info: strawberry.Info, input: Annotated[AddModuleInput, strawberry.argument(description="The module.")]
    ) -> ModulePayload:
        async def work(viewer: Viewer) -> tuple[models.CourseModule, models.Course]:
            course_id = expect_global_id(input.course_id, "Course", "courseId")
            module = await course_modules.add_module(viewer, course_id, _given(input, MODULE_FIELDS), input.position)
            return await _with_course(viewer, module)

        return await mutate(info, work, _module_payload)

    @strawberry.mutation(
        description="Change a module's fields (HR admins). Its kind stays once learners have records on it "
        "(STILL_IN_USE: make a new version of the course); a published course keeps a required module, and a "
        "retired course's modules do not change (VALIDATION)."
    )
    async def update_module(
        self,
        info: strawberry.Info,
        input: Annotated[UpdateModuleInput, strawberry.argument(description="The changes.")],
    ) -> ModulePayload:
        async def work(viewer: Viewer) -> tuple[models.CourseModule, models.Course]:
            module_id = expect_global_id(input.module_id, "CourseModule", "moduleId")
            module = await course_modules.update_module(viewer, module_id, _given(input, MODULE_FIELDS))
            return await _with_course(viewer, module)

        return await mutate(info, work, _module_payload)

    @strawberry.mutation(description="Move a module to another position of its course (HR admins).")
    async def move_module(
        self, info: strawberry.Info, input: Annotated[MoveModuleInput, strawberry.argument(description="The move.")]
    ) -> ModulePayload:
        async def work(viewer: Viewer) -> tuple[models.CourseModule, models.Course]:
            module_id = expect_global_id(input.module_id, "CourseModule", "moduleId")
            return await _with_course(viewer, await course_modules.move_module(viewer, module_id, input.position))

        return await mutate(info, work, _module_payload)

    @strawberry.mutation(description="Put all of a course's modules in a new order (HR admins).")
    async def reorder_modules(
        self,
        info: strawberry.Info,
        input: Annotated[ReorderModulesInput, strawberry.argument(description="The order.")],
    ) -> CoursePayload:
        async def work(viewer: Viewer) -> models.Course | None:
            course_id = expect_global_id(input.course_id, "Course", "courseId")
            ids = [expect_global_id(i, "CourseModule", "moduleIds") for i in input.module_ids]
            await course_modules.reorder_modules(viewer, course_id, ids)
            return await course_catalog.get_course(viewer, course_id)

        return await mutate(info, work, _course_payload)

    @strawberry.mutation(
        description="Remove a module (HR admins). Once learners have records on it, or a credit rule or session "
        "names it, it is STILL_IN_USE: make a new version of the course instead. A published course's last "
        "required module, or a retired course's module, is VALIDATION."
    )
    async def remove_module(
        self, info: strawberry.Info, input: Annotated[RemoveModuleInput, strawberry.argument(description="The module.")]
    ) -> RemoveModulePayload:
        async def work(viewer: Viewer) -> tuple[models.CourseModule, models.Course]:
            module_id = expect_global_id(input.module_id, "CourseModule", "moduleId")
            return await _with_course(viewer, await course_modules.remove_module(viewer, module_id))

        def payload(
            result: tuple[models.CourseModule, models.Course] | None, errors: list[UserError]
        ) -> RemoveModulePayload:
            if result is None:
                return RemoveModulePayload(removed_module_id=None, course=None, errors=errors)
            module, course = result
            return RemoveModulePayload(
                removed_module_id=strawberry.ID(to_global_id("CourseModule", module.id)),
                course=Course.from_model(course),
                errors=errors,
            )

        return await mutate(info, work, payload)

    @strawberry.mutation(description="Replace who may take a course (HR admins).")
    async def set_course_eligibility(
        self,
        info: strawberry.Info,
        input: Annotated[SetCourseEligibilityInput, strawberry.argument(description="The course and its rules.")],
    ) -> CoursePayload:
        async def work(viewer: Viewer) -> models.Course:
            course_id = expect_global_id(input.course_id, "Course", "courseId")
            rules = []
            for index, rule in enumerate(input.rules):
                field = f"rules.{index}"
                rules.append(
                    course_requirements.check_rule(
                        position_id=expect_global_id(rule.position_id, "Position", f"{field}.positionId")
                        if rule.position_id is not None
                        else None,
                        position_family=rule.position_family,
                        min_grade=rule.min_grade,
                        max_grade=rule.max_grade,
                        org_unit_id=expect_global_id(rule.org_unit_id, "OrgUnit", f"{field}.orgUnitId")
                        if rule.org_unit_id is not None
                        else None,
                        field=field,
                    )
                )
            return await course_requirements.set_course_eligibility(viewer, course_id, rules)

        return await mutate(info, work, _course_payload)

    @strawberry.mutation(
        description="Replace the courses to complete before a course (HR admins). The course itself or a course "
        "that already needs it, directly or not, is WOULD_CREATE_CYCLE."
    )
    async def set_course_prerequisites(
        self,
        info: strawberry.Info,
        input: Annotated[SetCoursePrerequisitesInput, strawberry.argument(description="The course and its needs.")],
    ) -> CoursePayload:
        async def work(viewer: Viewer) -> models.Course:
            course_id = expect_global_id(input.course_id, "Course", "courseId")
            required = [expect_global_id(i, "Course", "requiredCourseIds") for i in input.required_course_ids]
            return await course_requirements.set_course_prerequisites(viewer, course_id, required)

        return await mutate(info, work, _course_payload)

    @strawberry.mutation(description="Replace the skills a course teaches and their target levels (HR admins).")
    async def set_course_skills(
        self,
        info: strawberry.Info,
        input: Annotated[SetCourseSkillsInput, strawberry.argument(description="The course and its skills.")],
    ) -> CoursePayload:
        async def work(viewer: Viewer) -> models.Course:
            course_id = expect_global_id(input.course_id, "Course", "courseId")
            skills: list[tuple[int, object]] = [
                (expect_global_id(s.skill_id, "Skill", f"skills.{i}.skillId"), s.target_level)
                for i, s in enumerate(input.skills)
            ]
            return await course_requirements.set_course_skills(viewer, course_id, skills)

        return await mutate(info, work, _course_payload)

    @strawberry.mutation(
        description="Publish a DRAFT course (HR admins): it needs a module, and a required one. Publishing a new "
        "version retires the version it replaces; a version once replaced is not published again (VALIDATION). From "
        "another status: INVALID_STATUS_CHANGE."
    )
    async def publish_course(
        self,
        info: strawberry.Info,
        input: Annotated[CourseLifecycleInput, strawberry.argument(description="The course.")],
    ) -> CoursePayload:
        async def work(viewer: Viewer) -> models.Course:
            return await course_versions.publish_course(viewer, expect_global_id(input.course_id, "Course", "courseId"))

        return await mutate(info, work, _course_payload)

    @strawberry.mutation(
        description="Retire a PUBLISHED course (HR admins): learners keep their completions, progress and credits; "
        "nobody new starts it. From another status: INVALID_STATUS_CHANGE."
    )
    async def retire_course(
        self,
        info: strawberry.Info,
        input: Annotated[CourseLifecycleInput, strawberry.argument(description="The course.")],
    ) -> CoursePayload:
        async def work(viewer: Viewer) -> models.Course:
            return await course_versions.retire_course(viewer, expect_global_id(input.course_id, "Course", "courseId"))

        return await mutate(info, work, _course_payload)

    @strawberry.mutation(
        description="Make a new DRAFT version of a published or retired course (HR admins): version + 1, "
        "everything copied (modules with their quiz and rubric, eligibility, prerequisites, skills); the old one "
        "keeps its history. One next version per course (ALREADY_EXISTS)."
    )
    async def create_course_version(
        self,
        info: strawberry.Info,
        input: Annotated[CreateCourseVersionInput, strawberry.argument(description="The course and the new code.")],
    ) -> CoursePayload:
        async def work(viewer: Viewer) -> models.Course:
            course_id = expect_global_id(input.course_id, "Course", "courseId")
            return await course_versions.create_course_version(viewer, course_id, input.code)

        return await mutate(info, work, _course_payload)
