"""The growth profile (成长档案): one employee's whole OJT timeline and where they stand.

The timeline merges the facts each domain keeps, newest first, ordered by (time, kind, id), all
descending:

- LESSON_COMPLETED: lesson credit events (``credit_event``, the fact the rollups count), at when
  the lesson was done; title the module, course its course;
- CHECK_IN: PRESENT or LATE attendance, at its check-in time (a manual mark has none: the
  session's start), title the session, detail the attendance status;
- QUIZ_ATTEMPT: submitted attempts (title the quiz; percent, passed, detail the attempt number
  and, while it waits for a person, NEEDS_MANUAL_GRADING);
- PRACTICE_LOGGED: practice logs at their practice time (quantity; detail the status now);
  PRACTICE_CONFIRMED: confirmed logs at their review time (person the reviewer);
- EVALUATION: evaluations received, submitted or later superseded (percent, person the mentor,
  detail the status), at submission;
- SKILL_CHANGE: skill evidence that moved a level (title the skill; level before and after);
- CREDIT: ledger entries (amount in tenths, detail the entry kind, title its reason);
- COURSE_COMPLETED: course completions;
- CERTIFICATE: certificates earned (``certificate``, at when earned; title the program, detail the
  last valid day, or REVOKED; derived status is the certificates API's).

A page is one statement: each source reads its own rows after the cursor, newest first, at most
``first + 1`` of them (the (tenant, employee, time) indexes make that a short range read whatever
the history holds), and the union of those is ordered and cut once more. The optional period (the
company's local days) narrows every source the same way.

Who may see a profile: the employee themself, their manager (current, direct), a current mentor
(a mentorship in force today, any course) and HR admins; anyone else FORBIDDEN; an employee of
another company NOT_FOUND.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from tortoise import connections

from backend.errors import DomainError, ErrorCode
from backend.models import (
    AttemptStatus,
    AttendanceStatus,
    CreditActivity,
    Employee,
    EvaluationStatus,
    PracticeStatus,
    Role,
)
from backend.services.credits.credit_accounts import balance_of
from backend.services.credits.ledger import from_tenths
from backend.services.imports.files import WriteCell
from backend.services.ojt import mentoring
from backend.services.pagination import BigInt, Keyset, Page, check_page_size
from backend.services.reports import frame, rollups
from backend.services.reports.tables import Column, ReportOptions, Table
from backend.services.validation import invalid
from backend.services.viewer import Viewer
from backend.sql import Params

EXPORT_PAGE = 500


class EventKind(StrEnum):
    """What a timeline entry is (see the module docstring)."""

    LESSON_COMPLETED = "LESSON_COMPLETED"
    CHECK_IN = "CHECK_IN"
    QUIZ_ATTEMPT = "QUIZ_ATTEMPT"
    PRACTICE_LOGGED = "PRACTICE_LOGGED"
    PRACTICE_CONFIRMED = "PRACTICE_CONFIRMED"
    EVALUATION = "EVALUATION"
    SKILL_CHANGE = "SKILL_CHANGE"
    CREDIT = "CREDIT"
    COURSE_COMPLETED = "COURSE_COMPLETED"
    CERTIFICATE = "CERTIFICATE"


@dataclass(frozen=True)
class GrowthEvent:
    """One fact of the timeline; fields a kind does not have are None (see the module docstring)."""

    kind: EventKind
    at: datetime
    id: int  # the source row's id (of the table the kind names)
    title: str | None
    course_title: str | None
    percent: int | None
    passed: bool | None
    quantity: int | None
    amount: int | None  # tenths of a credit (CREDIT)
    level_before: int | None
    level_after: int | None
    person: str | None  # the mentor, reviewer
    detail: str | None


EVENTS: Keyset[GrowthEvent] = Keyset("growth", ("at", "kind", "id"), (datetime, str, BigInt), descending=True)


@dataclass(frozen=True)
class SkillStanding:
    """A skill the employee holds or their position requires (levels 0–100; None: not held / not required)."""

    skill_id: int
    name: str
    level: int | None
    required: int | None


@dataclass(frozen=True)
class MentorNow:
    """A mentorship in force today: the mentor and its course (None: every course)."""

    mentor_id: int
    name: str
    course_title: str | None


@dataclass(frozen=True)
class GrowthSummary:
    courses_completed: int
    credit_balance: int  # tenths
    lifetime_earned: int  # tenths
    skills: list[SkillStanding]  # by skill name
    mentors: list[MentorNow]


@dataclass(frozen=True)
class GrowthProfile:
    employee: Employee
    summary: GrowthSummary
    events: Page[GrowthEvent]


async def _visible_employee(viewer: Viewer, employee_id: int, now: datetime) -> Employee:
    """The employee, if the viewer may see their profile (see the module docstring)."""
    employee = await Employee.filter(tenant_id=viewer.tenant_id, id=employee_id).first()
    if employee is None:
        raise DomainError(ErrorCode.NOT_FOUND, field="employeeId")
    if employee.id == viewer.employee_id or viewer.has_role(Role.HR_ADMIN):
        return employee
    if employee.manager_id == viewer.employee_id:
        return employee
    mine = await mentoring.current_mentorships(
        viewer.tenant_id, now, mentor_id=viewer.employee_id, mentee_id=employee.id
    )
    if mine:
        return employee
    raise DomainError(ErrorCode.FORBIDDEN)


async def growth_profile(
    viewer: Viewer,
    employee_id: int,
    first: int,
    after: str | None,
    max_page_size: int = 100,
    since: date | None = None,
    until: date | None = None,
    now: datetime | None = None,
) -> GrowthProfile:
    """The profile of ``employee_id``: its summary and one page of the timeline, narrowed to the
    company's local days ``since`` to ``until`` (both included; None: open)."""
    now = now or datetime.now(UTC)
    employee = await _visible_employee(viewer, employee_id, now)
    first = check_page_size(first, max_page_size)
    if since is not None and until is not None and until < since:
        raise invalid("period", "reason.ends_before_start")
    events = await timeline_page(viewer.tenant_id, employee.id, first, after, since, until)
    return GrowthProfile(employee, await summary_of(viewer.tenant_id, employee, now), events)


# --- the timeline ----------------------------------------------------------------------------------


def _sources(p: Params, tenant: str, who: str) -> list[str]:
    """Each source as a SELECT of the timeline's columns (kind, at, id, title, course_title, percent,
    passed, quantity, amount, level_before, level_after, person, detail)."""
    no_int, no_big, no_text = "CAST(NULL AS INTEGER)", "CAST(NULL AS BIGINT)", "CAST(NULL AS VARCHAR(300))"

    def columns(
        kind: EventKind,
        at: str,
        id_: str,
        title: str = no_text,
        course: str = no_text,
        percent: str = no_int,
        passed: str = no_int,
        quantity: str = no_int,
        amount: str = no_big,
        before: str = no_int,
        after: str = no_int,
        person: str = no_text,
        detail: str = no_text,
    ) -> str:
        return (
            f"SELECT '{kind.value}' AS kind, {at} AS at, CAST({id_} AS BIGINT) AS id, {title} AS title,"
            f" {course} AS course_title, {percent} AS percent, {passed} AS passed, {quantity} AS quantity,"
            f" {amount} AS amount, {before} AS level_before, {after} AS level_after, {person} AS person,"
            f" {detail} AS detail"
        )

    lesson = p(CreditActivity.LESSON_COMPLETED.value)
    present = p.among([AttendanceStatus.PRESENT.value, AttendanceStatus.LATE.value], "text")
    confirmed = p(PracticeStatus.CONFIRMED.value)
    draft = p(EvaluationStatus.DRAFT.value)
    manual = p(AttemptStatus.NEEDS_MANUAL_GRADING.value)
    return [
        columns(EventKind.LESSON_COMPLETED, "x.occurred_at", "x.id", "m.title", "c.title")
        + " FROM credit_event x LEFT JOIN course_module m ON m.id = x.module_id LEFT JOIN course c ON c.id = x.course_id"
        + f" WHERE x.tenant_id = {tenant} AND x.employee_id = {who} AND x.activity = {lesson}",
        columns(
            EventKind.CHECK_IN,
            "COALESCE(x.checked_in_at, s.starts_at)",
            "x.id",
            "s.title",
            "c.title",
            detail="x.status",
        )
        + " FROM attendance x JOIN training_session s ON s.id = x.session_id JOIN course c ON c.id = s.course_id"
        + f" WHERE x.tenant_id = {tenant} AND x.employee_id = {who} AND x.status {present}",
        columns(
            EventKind.QUIZ_ATTEMPT,
            "x.submitted_at",
            "x.id",
            "q.title",
            "c.title",
            percent="x.percent",
            passed="CASE WHEN x.passed THEN 1 ELSE 0 END",
            detail=f"CASE WHEN x.status = {manual} THEN 'attempt ' || CAST(x.attempt_no AS VARCHAR(8))"
            " || ' NEEDS_MANUAL_GRADING' ELSE 'attempt ' || CAST(x.attempt_no AS VARCHAR(8)) END",
        )
        + " FROM quiz_attempt x JOIN quiz q ON q.id = x.quiz_id JOIN course_module m ON m.id = q.module_id"
        + " JOIN course c ON c.id = m.course_id"
        + f" WHERE x.tenant_id = {tenant} AND x.employee_id = {who}",
        columns(
            EventKind.PRACTICE_LOGGED,
            "x.practiced_at",
            "x.id",
            "m.title",
            "c.title",
            quantity="x.quantity",
            detail="x.status",
        )
        + " FROM practice_log x JOIN course_module m ON m.id = x.module_id JOIN course c ON c.id = x.course_id"
        + f" WHERE x.tenant_id = {tenant} AND x.employee_id = {who}",
        columns(
            EventKind.PRACTICE_CONFIRMED,
            "x.reviewed_at",
            "x.id",
            "m.title",
            "c.title",
            quantity="x.quantity",
            person="r.name",
        )
        + " FROM practice_log x JOIN course_module m ON m.id = x.module_id JOIN course c ON c.id = x.course_id"
        + " LEFT JOIN employee r ON r.id = x.reviewer_id"
        + f" WHERE x.tenant_id = {tenant} AND x.employee_id = {who} AND x.status = {confirmed}"
        + " AND x.reviewed_at IS NOT NULL",
        columns(
            EventKind.EVALUATION,
            "x.submitted_at",
            "x.id",
            "m.title",
            "c.title",
            percent="x.percent",
            person="r.name",
            detail="x.status",
        )
        + " FROM mentor_evaluation x JOIN course_module m ON m.id = x.module_id JOIN course c ON c.id = m.course_id"
        + " LEFT JOIN employee r ON r.id = x.mentor_id"
        + f" WHERE x.tenant_id = {tenant} AND x.mentee_id = {who} AND x.status <> {draft}"
        + " AND x.submitted_at IS NOT NULL",
        columns(
            EventKind.SKILL_CHANGE,
            "x.occurred_at",
            "x.id",
            "k.name",
            percent="x.score_percent",
            before="x.level_before",
            after="x.level_after",
            detail="x.source_kind",
        )
        + " FROM skill_evidence x JOIN skill k ON k.id = x.skill_id"
        + f" WHERE x.tenant_id = {tenant} AND x.employee_id = {who} AND x.level_after <> x.level_before",
        columns(EventKind.CREDIT, "x.occurred_at", "x.id", "x.reason", "c.title", amount="x.amount", detail="x.kind")
        + " FROM credit_entry x LEFT JOIN credit_event v ON v.id = x.event_id LEFT JOIN course c ON c.id = v.course_id"
        + f" WHERE x.tenant_id = {tenant} AND x.employee_id = {who}",
        columns(EventKind.COURSE_COMPLETED, "x.completed_at", "x.id", "c.title", "c.title")
        + " FROM course_completion x JOIN course c ON c.id = x.course_id"
        + f" WHERE x.tenant_id = {tenant} AND x.employee_id = {who}",
        columns(
            EventKind.CERTIFICATE,
            "x.earned_at",
            "x.id",
            "g.name",
            detail="CASE WHEN x.revoked_at IS NOT NULL THEN 'REVOKED' ELSE CAST(x.expires_on AS VARCHAR(10)) END",
        )
        + " FROM certificate x JOIN certificate_program g ON g.id = x.program_id"
        + f" WHERE x.tenant_id = {tenant} AND x.employee_id = {who}",
    ]


async def timeline_page(
    tenant_id: int,
    employee_id: int,
    first: int,
    after: str | None,
    since: date | None = None,
    until: date | None = None,
) -> Page[GrowthEvent]:
    """One page of the timeline, newest first (no authorisation: callers decide who may see)."""
    connection = connections.get("default")
    p = Params(connection)
    limit = p(first + 1)
    span: list[datetime | None] = [None, None]
    if since is not None or until is not None:
        zone = await rollups.company_zone(connection, tenant_id)
        span[0] = datetime.combine(since, time(), zone) if since is not None else None
        span[1] = datetime.combine(until + timedelta(days=1), time(), zone) if until is not None else None

    def within(q: Params) -> str:
        """The period's condition (the page and its total count the same events)."""
        return (f" AND b.at >= {q(span[0])}" if span[0] else "") + (f" AND b.at < {q(span[1])}" if span[1] else "")

    narrowing = within(p)
    if after:
        narrowing += f" AND {EVENTS.sql_after(p, after, 'b.')}"
    order = EVENTS.sql_order("b.")
    branches = [
        f"SELECT * FROM (SELECT * FROM ({source}) b WHERE 1 = 1{narrowing} ORDER BY {order} LIMIT {limit}) b"
        for source in _sources(p, p(tenant_id), p(employee_id))
    ]
    sql = f"SELECT * FROM ({' UNION ALL '.join(branches)}) b ORDER BY {order} LIMIT {limit}"
    rows = await connection.execute_query_dict(sql, p.values)
    events = [_event(row) for row in rows]

    async def count_total() -> int:
        counting = Params(connection)
        parts = " UNION ALL ".join(
            f"SELECT COUNT(*) AS n FROM ({source}) b WHERE 1 = 1{within(counting)}"
            for source in _sources(counting, counting(tenant_id), counting(employee_id))
        )
        counted = await connection.execute_query_dict(f"SELECT SUM(n) AS n FROM ({parts}) t", counting.values)
        return int(counted[0]["n"] or 0)

    return EVENTS.page(events, first, after, count_total)


def _event(row: dict[str, Any]) -> GrowthEvent:
    def number(name: str) -> int | None:
        return None if row[name] is None else int(row[name])

    passed = number("passed")
    return GrowthEvent(
        kind=EventKind(row["kind"]),
        at=rollups.moment(row["at"]),
        id=int(row["id"]),
        title=row["title"],
        course_title=row["course_title"],
        percent=number("percent"),
        passed=None if passed is None else bool(passed),
        quantity=number("quantity"),
        amount=number("amount"),
        level_before=number("level_before"),
        level_after=number("level_after"),
        person=row["person"],
        detail=row["detail"],
    )


# --- the summary -----------------------------------------------------------------------------------


async def summary_of(tenant_id: int, employee: Employee, now: datetime) -> GrowthSummary:
    connection = connections.get("default")
    p = Params(connection)
    completed = await connection.execute_query_dict(
        "SELECT COUNT(DISTINCT course_id) AS n FROM course_completion"
        f" WHERE tenant_id = {p(tenant_id)} AND employee_id = {p(employee.id)}",
        p.values,
    )
    balance = await balance_of(tenant_id, employee.id)
    p = Params(connection)
    # Skills held, and skills the position requires (held or not).
    skills = await connection.execute_query_dict(
        "SELECT k.id, k.name, h.level, r.required_level FROM skill k"
        f" LEFT JOIN employee_skill h ON h.skill_id = k.id AND h.employee_id = {p(employee.id)}"
        f" LEFT JOIN position_skill r ON r.skill_id = k.id AND r.position_id = {p(employee.position_id or 0)}"
        f" WHERE k.tenant_id = {p(tenant_id)} AND (h.id IS NOT NULL OR r.id IS NOT NULL)",
        p.values,
    )
    mentorships = await mentoring.current_mentorships(tenant_id, now, mentee_id=employee.id)
    names = dict(
        await Employee.filter(tenant_id=tenant_id, id__in=[m.mentor_id for m in mentorships]).values_list("id", "name")
    )
    courses = await _course_titles([m.course_id for m in mentorships if m.course_id is not None])
    return GrowthSummary(
        courses_completed=int(completed[0]["n"]),
        credit_balance=balance.balance,
        lifetime_earned=balance.lifetime_earned,
        skills=[
            SkillStanding(
                int(row["id"]),
                row["name"],
                None if row["level"] is None else int(row["level"]),
                None if row["required_level"] is None else int(row["required_level"]),
            )
            # By name in code point order, the same on both engines (PostgreSQL would collate).
            for row in sorted(skills, key=lambda row: (row["name"], int(row["id"])))
        ],
        mentors=[
            MentorNow(m.mentor_id, str(names.get(m.mentor_id, "")), courses.get(m.course_id) if m.course_id else None)
            for m in mentorships
        ],
    )


async def _course_titles(ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    connection = connections.get("default")
    p = Params(connection)
    rows = await connection.execute_query_dict(f"SELECT id, title FROM course WHERE id {p.among(ids, 'int')}", p.values)
    return {int(row["id"]): row["title"] for row in rows}


# --- export ----------------------------------------------------------------------------------------

COLUMNS = (
    Column("时间", "When", 20),
    Column("类型", "Kind", 18),
    Column("名称", "Title", 30),
    Column("课程", "Course", 24),
    Column("得分%", "Percent", 8),
    Column("通过", "Passed", 8),
    Column("数量", "Quantity", 8),
    Column("学分", "Credits", 10),
    Column("原等级", "Level before", 10),
    Column("新等级", "Level after", 10),
    Column("人员", "Person", 12),
    Column("说明", "Detail", 20),
    Column("来源编号", "Source id", 12),
)


async def export_table(viewer: Viewer, options: ReportOptions) -> Table:
    """Every event of ``options.employee_id``'s timeline, newest first, read a page at a time."""
    if options.employee_id is None:
        raise DomainError(ErrorCode.VALIDATION, field="employee", reason_key="reason.required")
    employee = await _visible_employee(viewer, options.employee_id, datetime.now(UTC))
    if options.filter is not None:
        frame.reads_only(options.filter)  # the period only: a profile is one person's, whole
    period = options.filter.period if options.filter is not None else None
    since, until = (period.first, period.last) if period is not None else (None, None)

    async def rows() -> AsyncIterator[Sequence[WriteCell]]:
        after: str | None = None
        while True:
            page = await timeline_page(viewer.tenant_id, employee.id, EXPORT_PAGE, after, since, until)
            for e in page.items:
                yield (
                    e.at,
                    e.kind.value,
                    e.title,
                    e.course_title,
                    e.percent,
                    e.passed,
                    e.quantity,
                    None if e.amount is None else from_tenths(e.amount),
                    e.level_before,
                    e.level_after,
                    e.person,
                    e.detail,
                    e.id,
                )
            if not page.has_next_page or not page.items:
                return
            after = EVENTS.cursor_of(page.items[-1])

    return Table(f"成长档案 {employee.name}", f"Growth profile {employee.name}", COLUMNS, rows())
