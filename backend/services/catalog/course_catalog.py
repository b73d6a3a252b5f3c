"""The course catalog as learners and HR see it: listing, search, eligibility.

Learners see published courses only; HR admins and instructors see every status. Eligibility is a
pure function of the course's rules and prerequisites and the learner's profile, so the list
filter (``eligible_only``), the per-course answer and later enrollment checks agree by design.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import NamedTuple, cast

from tortoise import connections
from tortoise.fields import CharField
from tortoise.filters import escape_like

from backend.models import (
    Course,
    CourseCompletion,
    CourseEligibilityRule,
    CourseFormat,
    CourseModule,
    CoursePrerequisite,
    CourseStatus,
    ModuleKind,
    Position,
    Role,
)
from backend.services.pagination import Keyset, Page, check_page_size
from backend.services.validation import invalid
from backend.services.viewer import Viewer
from backend.sql import Params

# Courses in code order (codes are unique in a tenant); the cursor is the code.
COURSE_ORDER: Keyset[Course] = Keyset("course", ("code",), (str,))
# Lists read only what they show: skipping the audit timestamps saves parsing two datetimes a row.
COURSE_FIELDS = (
    "id",
    "tenant_id",
    "code",
    "title",
    "summary",
    "scenario",
    "format",
    "version",
    "status",
    "hours",
    "credits",
    "requires_approval",
    "previous_version_id",
)
MODULE_FIELDS = (
    "id",
    "course_id",
    "position",
    "title",
    "kind",
    "credits",
    "required_count",
    "requirement",
    "is_required",
    "pass_score",
    "rubric_id",
)
MAX_SEARCH_LENGTH = 100


@dataclass(frozen=True)
class CourseFilter:
    """What a catalog list may be narrowed by. Empty means everything the viewer may see."""

    search: str | None = None
    scenario: str | None = None
    format: CourseFormat | None = None
    skill_id: int | None = None
    eligible_only: bool = False
    statuses: tuple[CourseStatus, ...] | None = None


@dataclass(frozen=True)
class LearnerProfile:
    """What eligibility looks at: position family and grade, org unit path, completed courses.

    ``completed_versions``: every version of each course completed (its lineage through
    ``Course.previous_version``), so a prerequisite is met by completing any version of it."""

    position_family: str | None
    grade: int | None
    org_path: str | None
    completed_course_ids: frozenset[int] = field(default_factory=frozenset)
    position_id: int | None = None
    completed_versions: frozenset[int] = field(default_factory=frozenset)

    def has_completed(self, course_id: int) -> bool:
        """Whether the learner completed ``course_id`` or another version of it."""
        return course_id in self.completed_course_ids or course_id in self.completed_versions


@dataclass(frozen=True)
class EligibilityReason:
    """Why a learner may not take a course. ``code`` is stable, ``params`` fill the message."""

    code: str
    params: dict[str, object]
    required_course: Course | None = None


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    reasons: tuple[EligibilityReason, ...] = ()


def sees_all_statuses(viewer: Viewer) -> bool:
    return viewer.has_role(Role.HR_ADMIN, Role.INSTRUCTOR)


def _visible(viewer: Viewer, statuses: tuple[CourseStatus, ...] | None):
    query = Course.filter(tenant_id=viewer.tenant_id)
    if not sees_all_statuses(viewer):
        return query.filter(status=CourseStatus.PUBLISHED)
    if statuses:
        return query.filter(status__in=list(statuses))
    return query


def _visible_where(p: Params, viewer: Viewer, statuses: tuple[CourseStatus, ...] | None = None) -> list[str]:
    """``_visible`` in plain SQL: the viewer's tenant and the statuses they may see (or asked for)."""
    conditions = [f"tenant_id = {p(viewer.tenant_id)}"]
    if not sees_all_statuses(viewer):
        conditions.append(f"status = {p(CourseStatus.PUBLISHED.value)}")
    elif statuses:
        conditions.append(f"status {p.among([status.value for status in statuses], 'varchar')}")
    return conditions


async def get_course(viewer: Viewer, course_id: int) -> Course | None:
    """A course the viewer may see, or None (another tenant's course looks exactly missing). One
    fixed statement: building it through the ORM cost more than running it, on the API's most
    common small read."""
    connection = connections.get("default")
    p = Params(connection)
    visible = " AND ".join(_visible_where(p, viewer))
    rows = await connection.execute_query_dict(
        f"SELECT {_course_columns()} FROM course WHERE {visible} AND id = {p(course_id)}", p.values
    )
    return Course._init_from_db(**rows[0]) if rows else None


@lru_cache(maxsize=1)
def _course_columns() -> str:
    return ", ".join(sorted(Course._meta.db_fields))


async def visible_courses(viewer: Viewer, course_ids: list[int]) -> dict[int, Course]:
    """``get_course`` for many at once, by id (those the viewer may not see are left out)."""
    return {course.id: course for course in await _visible(viewer, None).filter(id__in=course_ids)}


async def next_versions(viewer: Viewer, course_ids: list[int]) -> dict[int, Course]:
    """The version replacing each course the viewer may see, by the replaced course's id."""
    rows = await _visible(viewer, None).filter(previous_version_id__in=course_ids)
    return {row.previous_version_id: row for row in rows if row.previous_version_id is not None}


async def list_courses(
    viewer: Viewer,
    first: int,
    after: str | None,
    course_filter: CourseFilter,
    max_page_size: int,
    learner: LearnerProfile | None = None,
) -> Page[Course]:
    """A page of courses in code order, after the ``after`` cursor, narrowed by the filter."""
    first = check_page_size(first, max_page_size)
    scenario_max = cast(CharField, Course._meta.fields_map["scenario"]).max_length
    if course_filter.scenario is not None and len(course_filter.scenario) > scenario_max:
        # No course has a scenario longer than its column: the client's input, not a question.
        raise invalid("scenario", "reason.too_long", max=scenario_max)
    ineligible: list[int] = []
    if course_filter.eligible_only:
        learner = learner or await learner_profile(viewer)
        ineligible = sorted(await ineligible_course_ids(viewer.tenant_id, learner))
    connection = connections.get("default")
    p = Params(connection)
    where = _list_where(p, viewer, course_filter, ineligible)
    if after:
        where += f" AND {COURSE_ORDER.sql_after(p, after)}"
    # Plain SQL, the conditions written as the ORM writes them (the list's most common request
    # is a phone opening the catalog: building the statement through the ORM cost more than it).
    rows = await connection.execute_query_dict(
        f"SELECT {', '.join(COURSE_FIELDS)} FROM course WHERE {where}"
        f" ORDER BY {COURSE_ORDER.sql_order()} LIMIT {p(first + 1)}",
        p.values,
    )
    course_of = Course.reader(COURSE_FIELDS)

    async def count_total() -> int:
        q = Params(connection)
        counted = await connection.execute_query_dict(
            f"SELECT COUNT(*) AS n FROM course WHERE {_list_where(q, viewer, course_filter, ineligible)}", q.values
        )
        return int(counted[0]["n"])

    return COURSE_ORDER.page([course_of(row) for row in rows], first, after, count_total)


def _list_where(p: Params, viewer: Viewer, course_filter: CourseFilter, ineligible: list[int]) -> str:
    """The conditions of a course list, as the ORM would write them: the viewer's tenant, the
    statuses they may see (or asked for), each search term in the code or the title (any case;
    LIKE's wildcards in a term match themselves), the scenario, format and skill asked for, and
    not the courses the learner is not eligible for."""
    conditions = _visible_where(p, viewer, course_filter.statuses)
    if course_filter.search:
        for term in course_filter.search.strip()[:MAX_SEARCH_LENGTH].split():
            pattern = p(f"%{escape_like(term)}%")
            conditions.append(
                f"(UPPER(CAST(code AS VARCHAR)) LIKE UPPER({pattern}) ESCAPE '\\'"
                f" OR UPPER(CAST(title AS VARCHAR)) LIKE UPPER({pattern}) ESCAPE '\\')"
            )
    if course_filter.scenario:
        conditions.append(f"scenario = {p(course_filter.scenario)}")
    if course_filter.format:
        conditions.append(f"format = {p(CourseFormat(course_filter.format).value)}")
    if course_filter.skill_id is not None:
        conditions.append(
            "id IN (SELECT course_id FROM course_skill"
            f" WHERE tenant_id = {p(viewer.tenant_id)} AND skill_id = {p(course_filter.skill_id)})"
        )
    if ineligible:
        conditions.append(f"NOT (id {p.among(ineligible, 'int')})")
    return " AND ".join(conditions)


# --- batched lookups (the GraphQL loaders call these with many course ids at once) -------------


def _group(rows: Iterable, key: str) -> dict[int, list]:
    grouped: dict[int, list] = defaultdict(list)
    for row in rows:
        grouped[getattr(row, key)].append(row)
    return grouped


class ModuleSummary(NamedTuple):
    """A module as its course shows it (the columns of MODULE_FIELDS, in order): read as values,
    not as a model object, since a page of courses reads a few hundred (a named tuple: built in a
    fifth of a frozen dataclass's time)."""

    id: int
    course_id: int
    position: int
    title: str
    kind: ModuleKind
    credits: Decimal
    required_count: int
    requirement: str
    is_required: bool
    pass_score: int | None
    rubric_id: int | None


async def modules_by_course(tenant_id: int, course_ids: list[int]) -> dict[int, list[ModuleSummary]]:
    # Plain SQL: building this statement through the ORM cost more than running it.
    connection = connections.get("default")
    p = Params(connection)
    rows = await connection.execute_query_dict(
        f"SELECT {', '.join(MODULE_FIELDS)} FROM course_module WHERE tenant_id = {p(tenant_id)}"
        f" AND course_id {p.among(course_ids, 'int')} ORDER BY course_id, position",
        p.values,
    )
    values = CourseModule.values_of(MODULE_FIELDS)
    return _group(map(ModuleSummary._make, map(values, rows)), "course_id")


class SkillSummary(NamedTuple):
    """A skill as a course shows it, read as values (not a model object)."""

    id: int
    code: str
    name: str
    category: str


class TaughtSkill(NamedTuple):
    """A skill a course teaches and the level it aims for."""

    course_id: int
    skill: SkillSummary
    target_level: int


async def skills_by_course(tenant_id: int, course_ids: list[int]) -> dict[int, list[TaughtSkill]]:
    # Only the columns shown: a page's skills as model objects with every timestamp parsed cost
    # more than the rest of the page's rows together.
    # Plain SQL (integers and text: nothing to convert on either engine).
    connection = connections.get("default")
    p = Params(connection)
    rows = await connection.execute_query_dict(
        "SELECT cs.course_id, cs.target_level, s.id, s.code, s.name, s.category"
        " FROM course_skill cs JOIN skill s ON s.id = cs.skill_id AND s.tenant_id = cs.tenant_id"
        f" WHERE cs.tenant_id = {p(tenant_id)} AND cs.course_id {p.among(course_ids, 'int')}"
        " ORDER BY cs.course_id, s.code",
        p.values,
    )
    return _group(
        (
            TaughtSkill(
                row["course_id"],
                SkillSummary(row["id"], row["code"], row["name"], row["category"]),
                row["target_level"],
            )
            for row in rows
        ),
        "course_id",
    )


async def rules_by_course(
    tenant_id: int, course_ids: list[int] | None = None
) -> dict[int, list[CourseEligibilityRule]]:
    query = CourseEligibilityRule.filter(tenant_id=tenant_id)
    if course_ids is not None:
        query = query.filter(course_id__in=course_ids)
    return _group(await query.select_related("org_unit", "position").order_by("id"), "course_id")


async def prerequisites_by_course(
    tenant_id: int, course_ids: list[int] | None = None
) -> dict[int, list[CoursePrerequisite]]:
    query = CoursePrerequisite.filter(tenant_id=tenant_id)
    if course_ids is not None:
        query = query.filter(course_id__in=course_ids)
    return _group(await query.select_related("required_course").order_by("id"), "course_id")


# --- eligibility -------------------------------------------------------------------------------


async def lineage_roots(tenant_id: int, connection=None) -> dict[int, int]:
    """For every course that has another version: course id -> the id of its lineage's first
    version (courses with one version are left out). One query over the links."""
    query = Course.filter(tenant_id=tenant_id, previous_version_id__isnull=False)
    links: dict[int, int] = dict(await query.using_db(connection).values_list("id", "previous_version_id"))
    roots: dict[int, int] = {}
    for course_id in links:
        root, seen = course_id, {course_id}
        while root in links and links[root] not in seen:
            root = links[root]
            seen.add(root)
        roots[course_id] = roots[root] = root
    return roots


def versions_of(course_ids: Iterable[int], roots: dict[int, int]) -> set[int]:
    """``course_ids`` and every other version of each of them (``roots`` from ``lineage_roots``)."""
    wanted = {roots.get(course_id, course_id) for course_id in course_ids}
    return set(course_ids) | {course_id for course_id, root in roots.items() if root in wanted}


async def learner_profile(viewer: Viewer, connection=None) -> LearnerProfile:
    """The viewer's position, org unit and completed courses (three queries). ``connection``: read
    completions in the caller's transaction (a sync batch sees what its earlier records completed)."""
    employee = viewer.employee
    await employee.fetch_related("position", "org_unit")
    completions = CourseCompletion.filter(tenant_id=viewer.tenant_id, employee_id=employee.id)
    completed = frozenset(course_id for (course_id,) in await completions.using_db(connection).values_list("course_id"))
    roots = await lineage_roots(viewer.tenant_id, connection) if completed else {}
    return LearnerProfile(
        position_family=employee.position.family if employee.position else None,
        grade=employee.position.grade if employee.position else None,
        org_path=employee.org_unit.path if employee.org_unit else None,
        completed_course_ids=completed,
        position_id=employee.position_id,
        completed_versions=frozenset(versions_of(completed, roots)),
    )


def position_label(position: Position) -> str:
    """A position as people read it: 销售族-客户经理序列-初级."""
    return f"{position.family}-{position.sequence}-{position.level}"


def _rule_failures(rule: CourseEligibilityRule, learner: LearnerProfile) -> list[EligibilityReason]:
    failures: list[EligibilityReason] = []
    if rule.position is not None and learner.position_id != rule.position_id:
        failures.append(EligibilityReason("POSITION", {"position": position_label(rule.position)}))
    if rule.position_family is not None and learner.position_family != rule.position_family:
        failures.append(EligibilityReason("POSITION_FAMILY", {"family": rule.position_family}))
    if rule.min_grade is not None and (learner.grade is None or learner.grade < rule.min_grade):
        failures.append(EligibilityReason("GRADE_TOO_LOW", {"min_grade": rule.min_grade}))
    if rule.max_grade is not None and (learner.grade is None or learner.grade > rule.max_grade):
        failures.append(EligibilityReason("GRADE_TOO_HIGH", {"max_grade": rule.max_grade}))
    if rule.org_unit is not None and not (learner.org_path and learner.org_path.startswith(rule.org_unit.path)):
        failures.append(EligibilityReason("ORG_UNIT", {"org_unit": rule.org_unit.name}))
    return failures


def judge_eligibility(
    course: Course,
    rules: list[CourseEligibilityRule],
    prerequisites: list[CoursePrerequisite],
    learner: LearnerProfile,
) -> Eligibility:
    """Whether ``learner`` may take ``course``, and every reason if not.

    Rules are alternatives: one matching rule is enough; a rule matches when all its set conditions
    hold (position, position family, grade range, org unit subtree). When none matches, the reasons are those
    of the closest rule (fewest unmet conditions), which tells the learner what would change it.
    Prerequisites must all be completed.
    """
    reasons: list[EligibilityReason] = []
    if course.status != CourseStatus.PUBLISHED:
        reasons.append(EligibilityReason("NOT_PUBLISHED", {}))
    if rules:
        failures_per_rule = [_rule_failures(rule, learner) for rule in rules]
        closest = min(failures_per_rule, key=len)
        reasons.extend(closest)
    for prerequisite in prerequisites:
        if not learner.has_completed(prerequisite.required_course_id):
            required = prerequisite.required_course
            reasons.append(
                EligibilityReason(
                    "PREREQUISITE_MISSING",
                    {"code": required.code, "title": required.title},
                    required_course=required,
                )
            )
    return Eligibility(eligible=not reasons, reasons=tuple(reasons))


async def eligibility_for(
    viewer: Viewer, courses: Iterable[Course], connection=None, learner: LearnerProfile | None = None
) -> dict[int, Eligibility]:
    """The viewer's eligibility for several courses by course id, as ``judge_eligibility`` (and
    enrollment) decides it: a constant number of queries whatever the number of courses, so a
    sync batch judges all its records at once."""
    by_id = {course.id: course for course in courses}
    if not by_id:
        return {}
    learner = learner or await learner_profile(viewer, connection)
    rules = _group(
        await CourseEligibilityRule.filter(tenant_id=viewer.tenant_id, course_id__in=list(by_id))
        .select_related("org_unit", "position")
        .order_by("id")
        .using_db(connection),
        "course_id",
    )
    prerequisites = _group(
        await CoursePrerequisite.filter(tenant_id=viewer.tenant_id, course_id__in=list(by_id))
        .select_related("required_course")
        .order_by("id")
        .using_db(connection),
        "course_id",
    )
    return {
        course_id: judge_eligibility(course, rules.get(course_id, []), prerequisites.get(course_id, []), learner)
        for course_id, course in by_id.items()
    }


async def ineligible_course_ids(tenant_id: int, learner: LearnerProfile) -> set[int]:
    """Ids of the tenant's courses whose rules or prerequisites exclude ``learner``.

    Only courses with rules or prerequisites can be excluded, so this reads those two small
    tables (two queries), not the catalog.
    """
    rules = await rules_by_course(tenant_id)
    prerequisites = await prerequisites_by_course(tenant_id)
    excluded: set[int] = set()
    for course_id, course_rules in rules.items():
        if all(_rule_failures(rule, learner) for rule in course_rules):
            excluded.add(course_id)
    for course_id, course_prerequisites in prerequisites.items():
        if any(not learner.has_completed(p.required_course_id) for p in course_prerequisites):
            excluded.add(course_id)
    return excluded


async def get_module(viewer: Viewer, module_id: int) -> CourseModule | None:
    """A module of a course the viewer may see, or None."""
    module = await CourseModule.filter(tenant_id=viewer.tenant_id, id=module_id).first()
    if module is None or await get_course(viewer, module.course_id) is None:
        return None
    return module
