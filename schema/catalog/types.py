"""Course catalog types: courses, modules, skills taught, eligibility, the course filter."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from enum import Enum
from typing import Any
from weakref import WeakKeyDictionary

import strawberry
from strawberry.dataloader import DataLoader

from backend import models
from backend.services.catalog import course_catalog
from schema.common import Node
from schema.execution import answered_by
from schema.ids import to_global_id
from schema.loaders import Loaders
from schema.organisation.types import OrgUnit, Position, Skill
from schema.progress.types import CourseProgress, course_progress

# The domain enums are the GraphQL enums: strawberry.enum registers each one in place.
CourseFormat = models.CourseFormat
ModuleKind = models.ModuleKind
strawberry.enum(CourseFormat, name="CourseFormat", description="How a course is delivered.")
strawberry.enum(ModuleKind, name="ModuleKind", description="What a module asks of the learner.")


@strawberry.enum(
    name="CourseStatus",
    description="Lifecycle of a course: DRAFT → PUBLISHED → RETIRED; learners only see PUBLISHED ones.",
)
class CourseStatus(Enum):
    """The API's own enum, not the model's: the contract only grows, so ARCHIVED (the name of
    RETIRED before migration 0011) stays readable and reads as RETIRED (``course_status``)."""

    DRAFT = strawberry.enum_value("DRAFT", description="Being written; only HR admins and instructors see it.")
    PUBLISHED = strawberry.enum_value("PUBLISHED", description="Open to learners.")
    RETIRED = strawberry.enum_value(
        "RETIRED", description="Kept for history (completions, progress, credits stay); no new learners."
    )
    ARCHIVED = strawberry.enum_value(
        "ARCHIVED",
        description="The old name of RETIRED; sent by a client it reads as RETIRED, and answers never use it.",
        deprecation_reason="Use RETIRED.",
    )

    @classmethod
    def of(cls, status: models.CourseStatus) -> CourseStatus:
        """The API value of a stored status."""
        return cls(models.CourseStatus(status).value)


def course_status(status: CourseStatus) -> models.CourseStatus:
    """The stored status a client's value means (ARCHIVED is RETIRED)."""
    return models.CourseStatus.RETIRED if status is CourseStatus.ARCHIVED else models.CourseStatus(status.value)


@strawberry.enum(description="Why a learner may not take a course.")
class EligibilityReasonCode(Enum):
    NOT_PUBLISHED = strawberry.enum_value("NOT_PUBLISHED", description="The course is not published.")
    POSITION_FAMILY = strawberry.enum_value("POSITION_FAMILY", description="The course is for another position family.")
    GRADE_TOO_LOW = strawberry.enum_value(
        "GRADE_TOO_LOW", description="The viewer's position grade is below the minimum."
    )
    GRADE_TOO_HIGH = strawberry.enum_value(
        "GRADE_TOO_HIGH", description="The viewer's position grade is above the maximum."
    )
    ORG_UNIT = strawberry.enum_value("ORG_UNIT", description="The course is for another part of the organisation.")
    POSITION = strawberry.enum_value("POSITION", description="The course is for another position.")
    PREREQUISITE_MISSING = strawberry.enum_value(
        "PREREQUISITE_MISSING", description="A prerequisite course is not completed yet."
    )


@strawberry.type(description="One step of a course, in order.")
class CourseModule(Node):
    position: int = strawberry.field(description="Order within the course, from 1.")
    title: str = strawberry.field(description="Title of the module.")
    kind: ModuleKind = strawberry.field(description="Lesson, practice, quiz or assessment.")
    credits: Decimal = strawberry.field(description="Credits this module is worth.")
    required_count: int = strawberry.field(description="How many times it must be done, e.g. 10 practice sessions.")
    requirement: str = strawberry.field(description="The requirement in words.")
    is_required: bool = strawberry.field(
        description="Whether the course's completion waits for this module (false: optional)."
    )
    pass_score: int | None = strawberry.field(
        description="ASSESSMENT modules: the percent a mentor evaluation must reach to count."
    )

    @classmethod
    def from_model(cls, row: models.CourseModule | course_catalog.ModuleSummary) -> CourseModule:
        return cls(
            id=strawberry.ID(to_global_id("CourseModule", row.id)),
            position=row.position,
            title=row.title,
            kind=row.kind,
            credits=row.credits,
            required_count=row.required_count,
            requirement=row.requirement,
            is_required=row.is_required,
            pass_score=row.pass_score,
        )


@strawberry.type(description="A skill a course teaches and the level it aims for.")
class CourseSkill:
    skill: Skill = strawberry.field(description="The skill.")
    target_level: int = strawberry.field(description="Target level, 0–100.")


@strawberry.type(description="One reason a learner may not take a course.")
class EligibilityReason:
    code: EligibilityReasonCode = strawberry.field(description="Stable reason code.")
    message: str = strawberry.field(description="The reason in the viewer's language.")
    required_course: Course | None = strawberry.field(
        description="For PREREQUISITE_MISSING: the course to complete first."
    )

    @classmethod
    def from_domain(cls, reason: course_catalog.EligibilityReason, info: strawberry.Info) -> EligibilityReason:
        """The reason, its message in the viewer's language."""
        return cls(
            code=EligibilityReasonCode(reason.code),
            message=info.context.t(f"eligibility.{reason.code}", **reason.params),
            required_course=Course.from_model(reason.required_course) if reason.required_course else None,
        )


# The next version of each course, batched per request (a page of courses costs one query). Kept
# beside the request's Loaders, not cached: a mutation's answer shows the version it just made.
_NEXT_VERSIONS: WeakKeyDictionary[Loaders, DataLoader[int, models.Course | None]] = WeakKeyDictionary()


async def _next_version(info: strawberry.Info, course_id: int) -> models.Course | None:
    loaders = await info.context.loaders()
    loader = _NEXT_VERSIONS.get(loaders)
    if loader is None:
        viewer = loaders.viewer

        async def load(keys: Sequence[int]) -> list[models.Course | None]:
            found = await course_catalog.next_versions(viewer, list(keys))
            return [found.get(key) for key in keys]

        loader = _NEXT_VERSIONS[loaders] = DataLoader(load_fn=load, cache=False)
    return await loader.load(course_id)


@strawberry.type(description="One eligibility rule of a course: it matches a learner when every condition set holds.")
class CourseEligibilityRule:
    position: Position | None = strawberry.field(description="Only this position, if set.")
    position_family: str | None = strawberry.field(description="Only this position family, e.g. 销售族, if set.")
    min_grade: int | None = strawberry.field(description="Lowest position grade, if set.")
    max_grade: int | None = strawberry.field(description="Highest position grade, if set.")
    org_unit: OrgUnit | None = strawberry.field(description="Only employees of this unit and those below it, if set.")

    @classmethod
    def from_model(cls, row: models.CourseEligibilityRule) -> CourseEligibilityRule:
        return cls(
            position=Position.from_model(row.position) if row.position is not None else None,
            position_family=row.position_family,
            min_grade=row.min_grade,
            max_grade=row.max_grade,
            org_unit=OrgUnit.from_model(row.org_unit) if row.org_unit is not None else None,
        )


@strawberry.type(description="Whether the viewer may take a course, and why not.")
class Eligibility:
    eligible: bool = strawberry.field(description="True when nothing stands in the way.")
    reasons: list[EligibilityReason] = strawberry.field(description="Every reason against; empty when eligible.")


@strawberry.type(description="A course of the catalog.")
class Course(Node):
    code: str = strawberry.field(description="Course code, e.g. T-001-01.")
    title: str = strawberry.field(description="Title.")
    summary: str = strawberry.field(description="What the course is about.")
    scenario: str = strawberry.field(description="Scenario or category, e.g. 销售, 安全.")
    format: CourseFormat = strawberry.field(description="Online, offline, OJT or blended.")
    version: int = strawberry.field(
        description="Version number, from 1; a new version is a new course (see previousVersion, nextVersion)."
    )
    status: CourseStatus = strawberry.field(description="Draft, published or retired.")
    hours: Decimal = strawberry.field(description="Expected study hours.")
    credits: Decimal = strawberry.field(description="Credits for completing the course.")
    requires_approval: bool = strawberry.field(description="Whether enrolling needs the manager's approval.")
    _row: strawberry.Private[models.Course]
    # Its modules and skills when the page that lists it read them for all its courses at once
    # (``courses`` does when the operation asks): then these fields are plain answers, which the
    # executor completes with the course's other fields (answered_by), with no resolver call or
    # loader each.
    _modules: strawberry.Private[list[CourseModule] | None] = None
    _skills: strawberry.Private[list[CourseSkill] | None] = None

    @classmethod
    def from_model(
        cls,
        row: models.Course,
        modules: dict[int, list[course_catalog.ModuleSummary]] | None = None,
        skills: dict[int, list[course_catalog.TaughtSkill]] | None = None,
    ) -> Course:
        """The course of ``row``; ``modules`` and ``skills`` (by course id), when given, are
        those of every course of its page."""
        return cls(
            id=strawberry.ID(to_global_id("Course", row.id)),
            code=row.code,
            title=row.title,
            summary=row.summary,
            scenario=row.scenario,
            format=row.format,
            version=row.version,
            status=CourseStatus.of(row.status),
            hours=row.hours,
            credits=row.credits,
            requires_approval=row.requires_approval,
            _row=row,
            _modules=[CourseModule.from_model(m) for m in modules.get(row.id, ())] if modules is not None else None,
            _skills=_course_skills(skills.get(row.id, [])) if skills is not None else None,
        )

    # modules and skills answer at once when the page brought them (no coroutine, no loader, per
    # course), else through the request's loader: hence a plain function that may return an
    # awaitable, which the executor awaits.
    @strawberry.field(description="Modules in order.", graphql_type=list[CourseModule])
    @answered_by("_modules")
    def modules(self, info: strawberry.Info) -> Any:
        if self._modules is not None:
            return self._modules
        return self._load_modules(info)

    async def _load_modules(self, info: strawberry.Info) -> list[CourseModule]:
        rows = await (await info.context.loaders()).modules_by_course.load(self._row.id)
        return [CourseModule.from_model(row) for row in rows]

    @strawberry.field(description="Skills taught, with target levels.", graphql_type=list[CourseSkill])
    @answered_by("_skills")
    def skills(self, info: strawberry.Info) -> Any:
        if self._skills is not None:
            return self._skills
        return self._load_skills(info)

    async def _load_skills(self, info: strawberry.Info) -> list[CourseSkill]:
        return _course_skills(await (await info.context.loaders()).skills_by_course.load(self._row.id))

    @strawberry.field(description="Courses to complete before this one.")
    async def prerequisites(self, info: strawberry.Info) -> list[Course]:
        rows = await (await info.context.loaders()).prerequisites_by_course.load(self._row.id)
        return [Course.from_model(row.required_course) for row in rows]

    @strawberry.field(
        description="Who may take the course: alternatives, one matching rule is enough; empty: everyone."
    )
    async def eligibility_rules(self, info: strawberry.Info) -> list[CourseEligibilityRule]:
        rows = await (await info.context.loaders()).rules_by_course.load(self._row.id)
        return [CourseEligibilityRule.from_model(row) for row in rows]

    @strawberry.field(
        description="The version this one replaces (its completions, progress and credits stay on it); null for "
        "a first version or one the viewer may not see."
    )
    async def previous_version(self, info: strawberry.Info) -> Course | None:
        if self._row.previous_version_id is None:
            return None
        row = await (await info.context.loaders()).visible_course.load(self._row.previous_version_id)
        return Course.from_model(row) if row else None

    @strawberry.field(description="The version that replaces this one; null when none (or not visible to the viewer).")
    async def next_version(self, info: strawberry.Info) -> Course | None:
        row = await _next_version(info, self._row.id)
        return Course.from_model(row) if row else None

    @strawberry.field(description="The viewer's progress in this course.")
    async def progress(self, info: strawberry.Info) -> CourseProgress:
        loaders = await info.context.loaders()
        modules = await loaders.modules_by_course.load(self._row.id)
        done = await loaders.progress_by_course.load(self._row.id)
        completion = await loaders.completion_by_course.load(self._row.id)
        return course_progress(modules, done, completion)

    @strawberry.field(description="Whether the viewer may take this course, with reasons.")
    async def eligibility(self, info: strawberry.Info) -> Eligibility:
        loaders = await info.context.loaders()
        rules = await loaders.rules_by_course.load(self._row.id)
        prerequisites = await loaders.prerequisites_by_course.load(self._row.id)
        verdict = course_catalog.judge_eligibility(self._row, rules, prerequisites, await loaders.learner())
        return Eligibility(
            eligible=verdict.eligible,
            reasons=[EligibilityReason.from_domain(reason, info) for reason in verdict.reasons],
        )


def _course_skills(rows: list[course_catalog.TaughtSkill]) -> list[CourseSkill]:
    return [CourseSkill(skill=Skill.from_model(row.skill), target_level=row.target_level) for row in rows]


@strawberry.input(description="Narrows the course list. All given conditions must hold.")
class CourseFilter:
    search: str | None = strawberry.field(
        default=None,
        description="Words to find in the code or title (Chinese works); every word must match.",
    )
    scenario: str | None = strawberry.field(default=None, description="Exact scenario, e.g. 安全.")
    format: CourseFormat | None = strawberry.field(default=None, description="Delivery format.")
    skill_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only courses teaching this skill (a Skill ID)."
    )
    eligible_only: bool = strawberry.field(default=False, description="Only courses the viewer is eligible for.")
    statuses: list[CourseStatus] | None = strawberry.field(
        default=None,
        description="Statuses to include (HR admins and instructors; learners always see published courses only).",
    )
