"""Inputs and payloads of the course authoring mutations (schema/catalog/authoring.py)."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from schema.catalog.types import Course, CourseFormat, CourseModule, ModuleKind
from schema.common import UserError

# --- inputs --------------------------------------------------------------------------------------


@strawberry.input(description="A new course; it starts as a DRAFT, version 1.")
class CreateCourseInput:
    code: str = strawberry.field(
        description="Course code in the company's 类型-名称-版本 standard (default pattern like T-001-01); unique."
    )
    title: str = strawberry.field(description="Title, at most 200 characters.")
    format: CourseFormat = strawberry.field(description="Online, offline, OJT or blended.")
    summary: str = strawberry.field(default="", description="What the course is about.")
    scenario: str = strawberry.field(default="", description="Scenario or category, e.g. 销售, at most 64 characters.")
    hours: Decimal | None = strawberry.field(default=None, description="Expected study hours, 0–99999.9 (default 0).")
    credits: Decimal | None = strawberry.field(
        default=None, description="Credits for completing it, 0–99999.9 (default 0)."
    )
    requires_approval: bool = strawberry.field(
        default=False, description="Whether enrolling needs the manager's approval."
    )


@strawberry.input(description="Changes to a course; fields left null stay as they are.")
class UpdateCourseInput:
    course_id: strawberry.ID = strawberry.field(description="The course.")
    code: str | None = strawberry.field(default=None, description="A new code (checked against the standard).")
    title: str | None = strawberry.field(default=None, description="A new title.")
    summary: str | None = strawberry.field(default=None, description="A new summary.")
    scenario: str | None = strawberry.field(default=None, description="A new scenario.")
    format: CourseFormat | None = strawberry.field(default=None, description="A new format.")
    hours: Decimal | None = strawberry.field(default=None, description="New study hours, 0–99999.9.")
    credits: Decimal | None = strawberry.field(default=None, description="New credits, 0–99999.9.")
    requires_approval: bool | None = strawberry.field(default=None, description="Whether enrolling needs approval.")


@strawberry.input(description="A new module of a course.")
class AddModuleInput:
    course_id: strawberry.ID = strawberry.field(description="The course.")
    title: str = strawberry.field(description="Title, at most 200 characters.")
    kind: ModuleKind = strawberry.field(description="Lesson, practice, quiz or assessment.")
    credits: Decimal | None = strawberry.field(default=None, description="Credits it is worth, 0–99999.9 (default 0).")
    required_count: int = strawberry.field(
        default=1, description="How many times it must be done, 1–1000 (e.g. 10 practice sessions)."
    )
    requirement: str = strawberry.field(default="", description="The requirement in words, at most 300 characters.")
    is_required: bool = strawberry.field(
        default=True, description="Whether the course's completion waits for it (false: optional)."
    )
    position: int | None = strawberry.field(
        default=None, description="Where it goes, 1 = first (the modules from there move down); null: last."
    )


@strawberry.input(description="Changes to a module; fields left null stay as they are.")
class UpdateModuleInput:
    module_id: strawberry.ID = strawberry.field(description="The module.")
    title: str | None = strawberry.field(default=None, description="A new title.")
    kind: ModuleKind | None = strawberry.field(
        default=None, description="A new kind (refused once learners have records on it or a quiz is attached)."
    )
    credits: Decimal | None = strawberry.field(default=None, description="New credits, 0–99999.9.")
    required_count: int | None = strawberry.field(default=None, description="A new required count, 1–1000.")
    requirement: str | None = strawberry.field(default=None, description="The requirement in words.")
    is_required: bool | None = strawberry.field(default=None, description="Whether the completion waits for it.")


@strawberry.input(description="A module and its new place.")
class MoveModuleInput:
    module_id: strawberry.ID = strawberry.field(description="The module.")
    position: int = strawberry.field(description="Its new position, 1 = first; the others close up around it.")


@strawberry.input(description="A course's modules in a new order.")
class ReorderModulesInput:
    course_id: strawberry.ID = strawberry.field(description="The course.")
    module_ids: list[strawberry.ID] = strawberry.field(
        description="Every module of the course, once, in the new order."
    )


@strawberry.input(description="A module to remove.")
class RemoveModuleInput:
    module_id: strawberry.ID = strawberry.field(description="The module.")


@strawberry.input(
    description="One eligibility rule: it matches a learner when every condition set holds; set one at least."
)
class EligibilityRuleInput:
    position_id: strawberry.ID | None = strawberry.field(default=None, description="Only this position.")
    position_family: str | None = strawberry.field(default=None, description="Only this position family, e.g. 销售族.")
    min_grade: int | None = strawberry.field(default=None, description="Lowest position grade, 1–20.")
    max_grade: int | None = strawberry.field(default=None, description="Highest position grade, 1–20.")
    org_unit_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only employees of this unit and those below it."
    )


@strawberry.input(description="Who may take a course.")
class SetCourseEligibilityInput:
    course_id: strawberry.ID = strawberry.field(description="The course.")
    rules: list[EligibilityRuleInput] = strawberry.field(
        description="The new rules (at most 50), replacing the old: one matching rule is enough; empty: everyone."
    )


@strawberry.input(description="The courses to complete before a course.")
class SetCoursePrerequisitesInput:
    course_id: strawberry.ID = strawberry.field(description="The course.")
    required_course_ids: list[strawberry.ID] = strawberry.field(
        description="The new prerequisites (at most 20), replacing the old; completing any version of one meets it."
    )


@strawberry.input(description="A skill a course teaches.")
class CourseSkillInput:
    skill_id: strawberry.ID = strawberry.field(description="The skill.")
    target_level: int = strawberry.field(description="The level the course aims for, 0–100.")


@strawberry.input(description="The skills a course teaches.")
class SetCourseSkillsInput:
    course_id: strawberry.ID = strawberry.field(description="The course.")
    skills: list[CourseSkillInput] = strawberry.field(description="The new skills (at most 50), replacing the old.")


@strawberry.input(description="A course whose status changes.")
class CourseLifecycleInput:
    course_id: strawberry.ID = strawberry.field(description="The course.")


@strawberry.input(description="A course to make a new version of.")
class CreateCourseVersionInput:
    course_id: strawberry.ID = strawberry.field(description="The published or retired course.")
    code: str | None = strawberry.field(
        default=None,
        description="The new version's code; null: the old code with its version bumped (T-001-01 → T-001-02).",
    )


# --- payloads ------------------------------------------------------------------------------------


@strawberry.type(description="Result of a change to a module.")
class ModulePayload:
    module: CourseModule | None = strawberry.field(description="The module after the change.")
    course: Course | None = strawberry.field(description="Its course after the change.")
    errors: list[UserError] = strawberry.field(description="Expected failures; empty on success.")


@strawberry.type(description="Result of removeModule.")
class RemoveModulePayload:
    removed_module_id: strawberry.ID | None = strawberry.field(description="The ID of the module removed.")
    course: Course | None = strawberry.field(description="Its course after the change.")
    errors: list[UserError] = strawberry.field(description="Expected failures; empty on success.")
