"""The skill matrix: levels derived from evidence, recommendations, and gap lists for HR.

A skill level is the highest level an employee has demonstrated. A quiz attempt or a submitted
mentor evaluation of a module demonstrates, for every skill its course teaches, the course's
target level scaled by the score: 85% in a course aiming for 80 in 云计算 demonstrates 68. Each
piece of evidence is kept (which record, which score, the level before and after) and counted
once: (employee, skill, source) is unique, so a retried or reprocessed record changes nothing.
A weaker later result never lowers a level.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient

from backend.errors import DomainError, ErrorCode
from backend.models import (
    Course,
    CourseCompletion,
    CourseModule,
    CourseSkill,
    CourseStatus,
    Employee,
    EmployeeSkill,
    OrgUnit,
    PositionSkill,
    Role,
    Skill,
    SkillEvidence,
)
from backend.services.catalog.course_catalog import LearnerProfile, ineligible_course_ids, learner_profile
from backend.services.feed import ChangeSet, Entity
from backend.services.ojt import mentoring
from backend.services.pagination import Keyset, Page, check_page_size, whole_list_count
from backend.services.people.directory import can_view_employee
from backend.services.records.work import UnitOfWork
from backend.services.viewer import Viewer
from backend.sql import db_time, db_uuid, placeholders

QUIZ_ATTEMPT = "QUIZ_ATTEMPT"
MENTOR_EVALUATION = "MENTOR_EVALUATION"


def demonstrated_level(target_level: int, percent: int) -> int:
    """The level a score demonstrates in a course aiming for ``target_level``."""
    return max(0, min(100, (target_level * percent + 50) // 100))


async def record_evidence(
    context: UnitOfWork,
    employee_id: int,
    module: CourseModule,
    source_kind: str,
    source_id: str,
    record_id: UUID | None,
    percent: int,
    occurred_at: datetime,
) -> None:
    """Raise the employee's levels in the skills of ``module``'s course as ``percent`` shows,
    keeping the evidence; in the caller's transaction. Idempotent per source."""
    connection, tenant_id = context.connection, context.viewer.tenant_id
    targets = (
        await CourseSkill.filter(tenant_id=tenant_id, course_id=module.course_id)
        .using_db(connection)
        .values_list("skill_id", "target_level")
    )
    if not targets:
        return
    current = dict(
        await EmployeeSkill.filter(tenant_id=tenant_id, employee_id=employee_id, skill_id__in=[s for s, _ in targets])
        .using_db(connection)
        .values_list("skill_id", "level")
    )
    now = db_time(connection, context.received_at)
    for skill_id, target in targets:
        before = current.get(skill_id, 0)
        after = max(before, demonstrated_level(target, percent))
        inserted = await connection.execute_query_dict(
            "INSERT INTO skill_evidence (tenant_id, employee_id, skill_id, source_kind, source_id, record_id,"
            " module_id, score_percent, level_before, level_after, occurred_at, created_at, updated_at)"
            f" VALUES ({placeholders(connection, 13)})"
            " ON CONFLICT (employee_id, skill_id, source_kind, source_id) DO NOTHING RETURNING id",
            [
                tenant_id,
                employee_id,
                skill_id,
                source_kind,
                source_id,
                db_uuid(connection, record_id) if record_id else None,
                module.id,
                percent,
                before,
                after,
                db_time(connection, occurred_at),
                now,
                now,
            ],
        )
        if not inserted or after <= before:
            continue
        # Monotone in the database too: a concurrent higher level is never overwritten.
        await connection.execute_query(
            "INSERT INTO employee_skill (tenant_id, employee_id, skill_id, level, created_at, updated_at)"
            f" VALUES ({placeholders(connection, 6)}) ON CONFLICT (employee_id, skill_id) DO UPDATE SET"
            " level = CASE WHEN employee_skill.level < excluded.level THEN excluded.level"
            " ELSE employee_skill.level END, updated_at = excluded.updated_at",
            [tenant_id, employee_id, skill_id, after, now, now],
        )
        context.changes.touch(Entity.SKILL_LEVEL, skill_id, audience=employee_id)


# --- reading the matrix ------------------------------------------------------------------------
#
# Who may see an employee's skills: the employee, their manager, their current mentors (any
# course) and HR admins. Recommendations are the viewer's own. The "who is below level L" list is
# for HR admins (any org unit) and managers (their own unit's subtree).


@dataclass(frozen=True)
class SkillStanding:
    """An employee's level in one skill beside what their position requires (None: not required)."""

    skill: Skill
    level: int
    required_level: int | None

    @property
    def gap(self) -> int:
        return max(0, (self.required_level or 0) - self.level)


@dataclass(frozen=True)
class GapReason:
    """One gap a recommended course closes: from ``current_level`` towards ``required_level``,
    aiming for ``target_level``."""

    skill: Skill
    current_level: int
    required_level: int
    target_level: int


@dataclass(frozen=True)
class Recommendation:
    """A course worth taking, ``score`` being the levels it would close in the viewer's gaps."""

    course: Course
    score: int
    reasons: tuple[GapReason, ...]


@dataclass(frozen=True)
class GapEntry:
    """An employee below the asked level, with the courses that would bring them up."""

    employee_id: int
    employee_no: str
    name: str
    level: int
    courses: tuple[Course, ...]


# Lowest level first, then by employee number (unique in a company).
SKILL_GAP: Keyset[GapEntry] = Keyset("skill-gap", ("level", "employee_no"), (int, str))


async def _mentors_now(tenant_id: int, mentor_id: int, mentee_id: int) -> bool:
    """Whether ``mentor_id`` mentors ``mentee_id`` (any course) on the mentee's local day today."""
    return bool(
        await mentoring.current_mentorships(tenant_id, datetime.now(UTC), mentor_id=mentor_id, mentee_id=mentee_id)
    )


async def employee_for_skills(viewer: Viewer, employee_id: int) -> Employee:
    """The employee whose skills ``viewer`` asks for: themself, a direct report, a current mentee
    (any course) or, for HR admins, anyone. Someone the viewer may see but not assess is
    FORBIDDEN, anyone else NOT_FOUND (exactly like a missing employee)."""
    employee = await Employee.filter(tenant_id=viewer.tenant_id, id=employee_id).first()
    if employee is None:
        raise DomainError(ErrorCode.NOT_FOUND)
    if (
        employee.id == viewer.employee_id
        or viewer.has_role(Role.HR_ADMIN)
        or employee.manager_id == viewer.employee_id
        or await _mentors_now(viewer.tenant_id, viewer.employee_id, employee.id)
    ):
        return employee
    if can_view_employee(viewer, employee):
        raise DomainError(ErrorCode.FORBIDDEN)
    raise DomainError(ErrorCode.NOT_FOUND)


async def standings(tenant_id: int, employee: Employee) -> list[SkillStanding]:
    """Every skill ``employee`` has a level in or their position requires, largest gap first
    (then by skill code). Two queries."""
    required: dict[int, tuple[Skill, int]] = {}
    if employee.position_id is not None:
        for row in await PositionSkill.filter(tenant_id=tenant_id, position_id=employee.position_id).select_related(
            "skill"
        ):
            required[row.skill_id] = (row.skill, row.required_level)
    levels: dict[int, tuple[Skill, int]] = {
        row.skill_id: (row.skill, row.level)
        for row in await EmployeeSkill.filter(tenant_id=tenant_id, employee_id=employee.id).select_related("skill")
    }
    result = []
    for skill_id in required.keys() | levels.keys():
        skill = (levels.get(skill_id) or required[skill_id])[0]
        result.append(
            SkillStanding(
                skill=skill,
                level=levels[skill_id][1] if skill_id in levels else 0,
                required_level=required[skill_id][1] if skill_id in required else None,
            )
        )
    result.sort(key=lambda s: (-s.gap, s.skill.code))
    return result


async def evidence_by_skill(tenant_id: int, employee_id: int, skill_ids: list[int]) -> dict[int, list[SkillEvidence]]:
    """The employee's evidence for each skill, newest first, modules included (one query)."""
    grouped: dict[int, list[SkillEvidence]] = {}
    if not skill_ids:
        return grouped
    rows = (
        await SkillEvidence.filter(tenant_id=tenant_id, employee_id=employee_id, skill_id__in=skill_ids)
        .select_related("module")
        .order_by("-occurred_at", "-id")
    )
    for row in rows:
        grouped.setdefault(row.skill_id, []).append(row)
    return grouped


async def recommended_courses(
    viewer: Viewer, first: int, max_page_size: int, learner: LearnerProfile | None = None
) -> list[Recommendation]:
    """Published courses that close the viewer's largest skill gaps for their position.

    Per gap skill (required above current) a course counts only when it aims above the current
    level, and for no more than the position requires: its score is the sum over the gap skills it
    teaches of ``min(target, required) - current``. Best score first, then the largest single gap
    it addresses, then course code. Courses already completed, or that the viewer is not eligible
    for (rules, prerequisites), are left out.
    """
    first = check_page_size(first, max_page_size)
    employee = viewer.employee
    if first == 0 or employee.position_id is None:
        return []
    tenant_id = viewer.tenant_id
    required = dict(
        await PositionSkill.filter(tenant_id=tenant_id, position_id=employee.position_id).values_list(
            "skill_id", "required_level"
        )
    )
    if not required:
        return []
    levels = dict(
        await EmployeeSkill.filter(
            tenant_id=tenant_id, employee_id=employee.id, skill_id__in=list(required)
        ).values_list("skill_id", "level")
    )
    gaps = {
        skill_id: (levels.get(skill_id, 0), level)
        for skill_id, level in required.items()
        if level > levels.get(skill_id, 0)
    }
    if not gaps:
        return []
    teaching = await CourseSkill.filter(
        tenant_id=tenant_id, skill_id__in=list(gaps), course__status=CourseStatus.PUBLISHED
    ).select_related("course", "skill")
    learner = learner or await learner_profile(viewer)
    excluded = set(learner.completed_course_ids) | await ineligible_course_ids(tenant_id, learner)
    reasons: dict[int, list[GapReason]] = {}
    courses: dict[int, Course] = {}
    for row in teaching:
        current, needed = gaps[row.skill_id]
        if row.course_id in excluded or row.target_level <= current:
            continue
        courses[row.course_id] = row.course
        reasons.setdefault(row.course_id, []).append(GapReason(row.skill, current, needed, row.target_level))

    def closes(reason: GapReason) -> int:
        return min(reason.target_level, reason.required_level) - reason.current_level

    ranked = []
    for course_id, course_reasons in reasons.items():
        course_reasons.sort(key=lambda r: (-closes(r), r.skill.code))
        score = sum(closes(r) for r in course_reasons)
        largest = max(r.required_level - r.current_level for r in course_reasons)
        ranked.append(
            (
                -score,
                -largest,
                courses[course_id].code,
                Recommendation(courses[course_id], score, tuple(course_reasons)),
            )
        )
    ranked.sort(key=lambda entry: entry[:3])
    return [entry[3] for entry in ranked[:first]]


def _marks(connection: BaseDBAsyncClient, count: int) -> list[str]:
    return placeholders(connection, count).split(", ")


async def skill_gap(
    viewer: Viewer,
    org_unit_id: int,
    skill_id: int,
    below: int,
    first: int,
    after: str | None,
    max_page_size: int,
) -> Page[GapEntry]:
    """Active employees of an org unit's subtree whose level in a skill is below ``below`` (no
    level counts as 0), lowest level first, then by employee number, each with the published
    courses that would raise them: those aiming at ``below`` or more, the smallest step over the
    bar first (the basics course before the advanced one), or when none reaches it those with the
    highest target; minus courses the employee completed or that aim no higher than their level.

    HR admins may ask about any org unit, managers about their own unit's subtree. A page costs
    the same number of queries however large it is.
    """
    viewer.require_role(Role.HR_ADMIN, Role.MANAGER)  # before any input is read
    first = check_page_size(first, max_page_size)
    if not 0 <= below <= 100:
        raise DomainError(ErrorCode.VALIDATION, field="below", reason_key="reason.field", name="below")
    cursor = SKILL_GAP.decode(after) if after else None
    tenant_id = viewer.tenant_id
    unit = await OrgUnit.filter(tenant_id=tenant_id, id=org_unit_id).first()
    skill = await Skill.filter(tenant_id=tenant_id, id=skill_id).first()
    if unit is None or skill is None:
        raise DomainError(ErrorCode.NOT_FOUND)
    if not viewer.has_role(Role.HR_ADMIN):
        own = (
            await OrgUnit.filter(tenant_id=tenant_id, id=viewer.employee.org_unit_id).first()
            if viewer.employee.org_unit_id
            else None
        )
        if own is None or not unit.path.startswith(own.path):
            raise DomainError(ErrorCode.FORBIDDEN)

    connection = connections.get("default")
    # Employees without a level row have level 0, hence the outer join; the path prefix is the
    # subtree (paths hold only digits and dots, so LIKE needs no escaping).
    base_params: list[object] = [skill.id, tenant_id, tenant_id, True, tenant_id, f"{unit.path}%", below]
    m = _marks(connection, len(base_params) + 4)
    base = (
        " FROM employee e JOIN org_unit u ON u.id = e.org_unit_id"
        f" LEFT JOIN employee_skill s ON s.employee_id = e.id AND s.skill_id = {m[0]} AND s.tenant_id = {m[1]}"
        f" WHERE e.tenant_id = {m[2]} AND e.is_active = {m[3]} AND u.tenant_id = {m[4]}"
        f" AND u.path LIKE {m[5]} AND COALESCE(s.level, 0) < {m[6]}"
    )
    params = list(base_params)
    where_after = ""
    if cursor is not None:
        where_after = (
            f" AND (COALESCE(s.level, 0) > {m[7]} OR (COALESCE(s.level, 0) = {m[8]} AND e.employee_no > {m[9]}))"
        )
        params += [cursor[0], cursor[0], cursor[1]]
    limit_mark = m[len(params)]
    params.append(first + 1)
    rows = await connection.execute_query_dict(
        "SELECT e.id AS id, e.employee_no AS employee_no, e.name AS name, COALESCE(s.level, 0) AS level"
        f"{base}{where_after} ORDER BY level, e.employee_no LIMIT {limit_mark}",
        params,
    )
    page = rows[:first]

    teaching = (
        await CourseSkill.filter(tenant_id=tenant_id, skill_id=skill.id, course__status=CourseStatus.PUBLISHED)
        .select_related("course")
        .order_by("-target_level", "course__code")
    )
    reaching = courses_reaching(teaching, below)
    completed: set[tuple[int, int]] = set()
    if page and reaching:
        completed = set(
            await CourseCompletion.filter(
                tenant_id=tenant_id,
                employee_id__in=[r["id"] for r in page],
                course_id__in=[row.course_id for row in reaching],
            ).values_list("employee_id", "course_id")
        )
    entries = [
        GapEntry(
            employee_id=r["id"],
            employee_no=r["employee_no"],
            name=r["name"],
            level=int(r["level"]),
            courses=tuple(
                row.course
                for row in reaching
                if row.target_level > int(r["level"]) and (r["id"], row.course_id) not in completed
            ),
        )
        for r in page
    ]

    async def count_total() -> int:
        counted = await connection.execute_query_dict(f"SELECT COUNT(*) AS n{base}", base_params)
        return int(counted[0]["n"])

    # ``entries`` holds only the page; one more row in ``rows`` says another page follows.
    has_next = len(rows) > first
    return Page(
        entries, has_next, bool(after), SKILL_GAP.cursor_of, whole_list_count(after, has_next, entries, count_total)
    )


def courses_reaching(teaching: Sequence[CourseSkill], bar: int) -> list[CourseSkill]:
    """Of the published courses teaching a skill (``CourseSkill`` rows with their course), those
    that raise people towards level ``bar``: the ones aiming at ``bar`` or more, the smallest step
    over the bar first (the basics course before the advanced one), or when none reaches it those
    with the highest target (by code). The gap list and the training-needs report share it."""
    reaching = sorted(
        (row for row in teaching if row.target_level >= bar), key=lambda row: (row.target_level, row.course.code)
    )
    if reaching:
        return reaching
    highest = max((row.target_level for row in teaching), default=None)
    return sorted((row for row in teaching if row.target_level == highest), key=lambda row: row.course.code)


async def mark_feed_rows(tenant_id: int, changes: ChangeSet) -> None:
    """Every level row goes to its employee's phone."""
    for employee_id, skill_id in await EmployeeSkill.filter(tenant_id=tenant_id).values_list("employee_id", "skill_id"):
        changes.touch(Entity.SKILL_LEVEL, skill_id, audience=employee_id)
