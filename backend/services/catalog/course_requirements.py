"""Who may take a course and what it teaches, as HR admins set them: eligibility rules,
prerequisites and skills taught. Each call replaces the whole set, in one audited transaction.

Prerequisites may form no cycle, of any length (A needs B needs A). Since completing any version
of a course meets a prerequisite on it, a course and its versions count as one in that check, and
a course may not need a version of itself. The check reads the company's whole prerequisite graph
(small) under a lock on the company's row, so two admins cannot close a cycle from both ends.

``check_rule`` and ``check_target_level`` read no database: imports reuse them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from backend.errors import DomainError, ErrorCode
from backend.models import (
    Course,
    CourseEligibilityRule,
    CourseModule,
    CoursePrerequisite,
    CourseSkill,
    ModuleKind,
    OrgUnit,
    Position,
    Skill,
    Tenant,
)
from backend.services.audit import audit
from backend.services.catalog.course_authoring import check_text, check_whole, locked_course, require_hr
from backend.services.catalog.course_catalog import lineage_roots
from backend.services.feed import ChangeSet, Entity
from backend.services.validation import invalid
from backend.services.viewer import Viewer

MAX_RULES = 50
MAX_PREREQUISITES = 20
MAX_SKILLS = 50
MAX_FAMILY = 64  # CourseEligibilityRule.position_family
GRADES = (1, 20)  # like Position.grade (1 = most junior in a family)
LEVELS = (0, 100)  # CourseSkill.target_level


@dataclass(frozen=True)
class RuleFields:
    """One checked eligibility rule: every condition set must hold for it to match."""

    position_id: int | None = None
    position_family: str | None = None
    min_grade: int | None = None
    max_grade: int | None = None
    org_unit_id: int | None = None


def check_rule(
    *,
    position_id: int | None = None,
    position_family: object = None,
    min_grade: object = None,
    max_grade: object = None,
    org_unit_id: int | None = None,
    field: str = "rule",
) -> RuleFields:
    """A rule's conditions checked without the database (ids are checked when written): at least
    one condition, grades 1–20 with the minimum not above the maximum."""
    family = (
        None if position_family in (None, "") else check_text(position_family, f"{field}.positionFamily", MAX_FAMILY)
    )
    low = None if min_grade in (None, "") else check_whole(min_grade, f"{field}.minGrade", *GRADES)
    high = None if max_grade in (None, "") else check_whole(max_grade, f"{field}.maxGrade", *GRADES)
    rule = RuleFields(position_id, family, low, high, org_unit_id)
    if rule == RuleFields():
        raise invalid(field, "reason.rule_empty")
    if low is not None and high is not None and low > high:
        raise invalid(f"{field}.maxGrade", "reason.grade_order")
    return rule


def check_target_level(value: object, field: str = "targetLevel") -> int:
    """The level (0–100) a course aims to bring a learner to in a skill."""
    return check_whole(value, field, *LEVELS)


async def _lock_company(connection: BaseDBAsyncClient, tenant_id: int) -> None:
    # NO KEY: rows that only point at the tenant keep being written meanwhile.
    await Tenant.filter(id=tenant_id).select_for_update(no_key=True).using_db(connection).first()


async def _missing(connection: BaseDBAsyncClient, model: Any, tenant_id: int, ids: list[int]) -> set[int]:
    found = await model.filter(tenant_id=tenant_id, id__in=ids).using_db(connection).values_list("id", flat=True)
    return set(ids) - set(found)


async def _touch_quizzes(connection: BaseDBAsyncClient, changes: ChangeSet, course_id: int) -> None:
    """Quiz rows go only to learners who may take the course: who that is just changed."""
    for module_id in (
        await CourseModule.filter(course_id=course_id, kind=ModuleKind.QUIZ)
        .using_db(connection)
        .values_list("id", flat=True)
    ):
        changes.touch(Entity.QUIZ, module_id)


# --- eligibility -----------------------------------------------------------------------------------


def _rule_json(rule: RuleFields) -> dict[str, Any]:
    return {
        "positionId": rule.position_id,
        "positionFamily": rule.position_family,
        "minGrade": rule.min_grade,
        "maxGrade": rule.max_grade,
        "orgUnitId": rule.org_unit_id,
    }


async def set_course_eligibility(viewer: Viewer, course_id: int, rules: list[RuleFields]) -> Course:
    """Replace who may take the course (HR admins): alternatives, one matching rule is enough; no
    rules, everyone. The same rule twice is VALIDATION, a position or org unit the company does
    not have NOT_FOUND."""
    require_hr(viewer)
    if len(rules) > MAX_RULES:
        raise invalid("rules", "reason.list_too_long", max=MAX_RULES)
    if len(set(rules)) != len(rules):
        raise invalid("rules", "reason.duplicates")
    tenant_id = viewer.tenant_id
    async with in_transaction() as connection:
        course = await locked_course(connection, tenant_id, course_id)
        for name, model in (("positionId", Position), ("orgUnitId", OrgUnit)):
            key = "position_id" if model is Position else "org_unit_id"
            missing = await _missing(connection, model, tenant_id, [getattr(r, key) for r in rules if getattr(r, key)])
            for index, rule in enumerate(rules):
                if getattr(rule, key) in missing:
                    raise DomainError(ErrorCode.NOT_FOUND, field=f"rules.{index}.{name}")
        existing = await CourseEligibilityRule.filter(course_id=course.id).order_by("id").using_db(connection)
        before = [
            _rule_json(RuleFields(r.position_id, r.position_family, r.min_grade, r.max_grade, r.org_unit_id))
            for r in existing
        ]
        after = [_rule_json(rule) for rule in rules]
        if before != after:
            await CourseEligibilityRule.filter(course_id=course.id).using_db(connection).delete()
            await CourseEligibilityRule.bulk_create(
                [CourseEligibilityRule(tenant_id=tenant_id, course_id=course.id, **asdict(rule)) for rule in rules],
                using_db=connection,
            )
            await audit(
                connection,
                viewer,
                tenant_id,
                "course.eligibility",
                "Course",
                course.id,
                {"before": {"rules": before}, "after": {"rules": after}},
            )
            changes = ChangeSet(tenant_id)
            await _touch_quizzes(connection, changes, course.id)
            await changes.publish(connection)
    return course


# --- prerequisites ---------------------------------------------------------------------------------


def _reaches(edges: dict[int, set[int]], start: set[int], goal: int) -> bool:
    """Whether ``goal`` can be reached from ``start`` along ``edges`` (needs → needed)."""
    seen, stack = set(start), list(start)
    while stack:
        node = stack.pop()
        if node == goal:
            return True
        for needed in edges.get(node, ()):
            if needed not in seen:
                seen.add(needed)
                stack.append(needed)
    return False


async def set_course_prerequisites(viewer: Viewer, course_id: int, required_ids: list[int]) -> Course:
    """Replace the courses to complete before this one (HR admins). The course itself (any of its
    versions) or a course that already needs it, directly or not, is WOULD_CREATE_CYCLE; a course
    the company does not have is NOT_FOUND."""
    require_hr(viewer)
    if len(required_ids) > MAX_PREREQUISITES:
        raise invalid("requiredCourseIds", "reason.list_too_long", max=MAX_PREREQUISITES)
    if len(set(required_ids)) != len(required_ids):
        raise invalid("requiredCourseIds", "reason.duplicates")
    tenant_id = viewer.tenant_id
    async with in_transaction() as connection:
        await _lock_company(connection, tenant_id)
        course = await locked_course(connection, tenant_id, course_id)
        if await _missing(connection, Course, tenant_id, required_ids):
            raise DomainError(ErrorCode.NOT_FOUND, field="requiredCourseIds")
        roots = await lineage_roots(tenant_id, connection)

        def node(course_id: int) -> int:
            return roots.get(course_id, course_id)

        edges: dict[int, set[int]] = {}
        pairs = (
            await CoursePrerequisite.filter(tenant_id=tenant_id)
            .using_db(connection)
            .values_list("course_id", "required_course_id")
        )
        for needs, needed in pairs:
            if needs != course.id:
                edges.setdefault(node(needs), set()).add(node(needed))
        if _reaches(edges, {node(r) for r in required_ids}, node(course.id)):
            raise DomainError(
                ErrorCode.WOULD_CREATE_CYCLE, field="requiredCourseIds", what_key="subject.course_prerequisites"
            )
        before = sorted(needed for needs, needed in pairs if needs == course.id)
        if before != sorted(required_ids):
            await CoursePrerequisite.filter(course_id=course.id).using_db(connection).delete()
            await CoursePrerequisite.bulk_create(
                [
                    CoursePrerequisite(tenant_id=tenant_id, course_id=course.id, required_course_id=r)
                    for r in required_ids
                ],
                using_db=connection,
            )
            await audit(
                connection,
                viewer,
                tenant_id,
                "course.prerequisites",
                "Course",
                course.id,
                {"before": {"requiredCourseIds": before}, "after": {"requiredCourseIds": sorted(required_ids)}},
            )
            changes = ChangeSet(tenant_id)
            await _touch_quizzes(connection, changes, course.id)
            await changes.publish(connection)
    return course


# --- skills taught ---------------------------------------------------------------------------------


async def set_course_skills(viewer: Viewer, course_id: int, skills: list[tuple[int, object]]) -> Course:
    """Replace the skills a course teaches (HR admins), each (skill id, target level 0–100). A
    skill listed twice is VALIDATION, one the company does not have NOT_FOUND."""
    require_hr(viewer)
    if len(skills) > MAX_SKILLS:
        raise invalid("skills", "reason.list_too_long", max=MAX_SKILLS)
    levels = [
        (skill_id, check_target_level(level, f"skills.{i}.targetLevel")) for i, (skill_id, level) in enumerate(skills)
    ]
    if len({skill_id for skill_id, _ in levels}) != len(levels):
        raise invalid("skills", "reason.duplicates")
    tenant_id = viewer.tenant_id
    async with in_transaction() as connection:
        course = await locked_course(connection, tenant_id, course_id)
        missing = await _missing(connection, Skill, tenant_id, [skill_id for skill_id, _ in levels])
        for index, (skill_id, _) in enumerate(levels):
            if skill_id in missing:
                raise DomainError(ErrorCode.NOT_FOUND, field=f"skills.{index}.skillId")
        before = sorted(
            await CourseSkill.filter(course_id=course.id).using_db(connection).values_list("skill_id", "target_level")
        )
        if before != sorted(levels):
            await CourseSkill.filter(course_id=course.id).using_db(connection).delete()
            await CourseSkill.bulk_create(
                [
                    CourseSkill(tenant_id=tenant_id, course_id=course.id, skill_id=s, target_level=level)
                    for s, level in levels
                ],
                using_db=connection,
            )
            await audit(
                connection,
                viewer,
                tenant_id,
                "course.skills",
                "Course",
                course.id,
                {
                    "before": {"skills": [{"skillId": s, "targetLevel": level} for s, level in before]},
                    "after": {"skills": [{"skillId": s, "targetLevel": level} for s, level in sorted(levels)]},
                },
            )
    return course
