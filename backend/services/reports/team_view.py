"""The manager's team view (团队视图): each active direct report on one phone screen.

Per person: courses in progress, completed and overdue (counts and the titles of the first few
open ones), credits earned in the current credit period against their target
(``targets.progress_of``) and when they were last active. What the states mean, exactly:

- completed: a course the person has a ``course_completion`` of;
- overdue (until OJT plans bring due dates): a course the person is ENROLLED in a session of, the
  session (not cancelled) has ended, they have no PRESENT or LATE attendance of that session, and
  they have not completed the course;
- in progress: a course, neither completed nor overdue, with any module progress of the person, a
  PRESENT or LATE attendance of one of its sessions, or an ENROLLED seat in a session that has not
  ended;
- last activity: the latest of their accepted activity records' times, module completions and
  check-ins (None when nothing is known).

A team costs the same number of statements whatever its size: the people, their courses, the
credit program and their credits (four; HR asking about another manager adds the check that the
manager exists).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise import connections

from backend.errors import DomainError, ErrorCode
from backend.models import AttendanceStatus, Employee, EnrollmentStatus, RecordStatus, Role, SessionStatus
from backend.services.credits import targets
from backend.services.credits.ledger import from_tenths
from backend.services.imports.files import WriteCell
from backend.services.reports import rollups
from backend.services.reports.tables import Column, ReportOptions, Table
from backend.services.viewer import Viewer
from backend.sql import Params

MAX_TITLES = 3  # course titles listed per state: a phone shows a line, the counts say the rest
_COMPLETED, _OVERDUE, _IN_PROGRESS = "C", "O", "P"


@dataclass(frozen=True)
class TeamMember:
    """One direct report. Credits are tenths (``earned``, ``target``, ``expected_by_now``)."""

    employee_id: int
    employee_no: str
    name: str
    position_family: str | None
    position_level: str | None
    in_progress: int
    completed: int
    overdue: int
    in_progress_titles: list[str]  # at most MAX_TITLES, by course code
    overdue_titles: list[str]  # at most MAX_TITLES, by course code
    earned: int
    target: int | None
    expected_by_now: int | None
    last_activity_at: datetime | None


@dataclass(frozen=True)
class TeamView:
    """A manager's active direct reports by employee number, and the credit period shown."""

    manager_id: int
    period: targets.Period
    members: list[TeamMember]


async def team_view(viewer: Viewer, manager_id: int | None, now: datetime | None = None) -> TeamView:
    """The team of ``manager_id`` (the viewer when None): managers their own, HR admins any
    manager's (NOT_FOUND for an id outside the company), anyone else FORBIDDEN."""
    manager_id = manager_id or viewer.employee_id
    if manager_id == viewer.employee_id:
        viewer.require_role(Role.MANAGER, Role.HR_ADMIN)
    else:
        viewer.require_role(Role.HR_ADMIN)
        if not await Employee.filter(tenant_id=viewer.tenant_id, id=manager_id).exists():
            raise DomainError(ErrorCode.NOT_FOUND)
    now = now or datetime.now(UTC)
    tenant_id = viewer.tenant_id
    people = await _people(tenant_id, manager_id)
    ids = [int(row["id"]) for row in people]
    courses = await _courses(tenant_id, ids, now)
    period, progress = await targets.progress_of(tenant_id, ids, now=now)
    members = []
    for row in people:
        employee_id = int(row["id"])
        states = courses.get(employee_id, {})
        by_state: dict[str, list[str]] = {_COMPLETED: [], _OVERDUE: [], _IN_PROGRESS: []}
        for _code, (state, title) in sorted(states.items()):
            by_state[state].append(title)
        credits = progress.get(employee_id)
        members.append(
            TeamMember(
                employee_id=employee_id,
                employee_no=row["employee_no"],
                name=row["name"],
                position_family=row["family"],
                position_level=row["level"],
                in_progress=len(by_state[_IN_PROGRESS]),
                completed=len(by_state[_COMPLETED]),
                overdue=len(by_state[_OVERDUE]),
                in_progress_titles=by_state[_IN_PROGRESS][:MAX_TITLES],
                overdue_titles=by_state[_OVERDUE][:MAX_TITLES],
                earned=credits.earned if credits else 0,
                target=credits.target if credits else None,
                expected_by_now=credits.expected_by_now if credits else None,
                last_activity_at=_latest(row["last_record"], row["last_module"], row["last_checkin"]),
            )
        )
    return TeamView(manager_id, period, members)


async def _people(tenant_id: int, manager_id: int) -> list[dict[str, Any]]:
    """The active direct reports with their position and the three "last active" times."""
    connection = connections.get("default")
    p = Params(connection)
    sql = (
        "SELECT e.id, e.employee_no, e.name, ps.family, ps.level,"
        " (SELECT MAX(a.occurred_at) FROM activity_record a WHERE a.tenant_id = e.tenant_id"
        f" AND a.employee_id = e.id AND a.status = {p(RecordStatus.ACCEPTED.value)}) AS last_record,"
        " (SELECT MAX(m.last_completed_at) FROM module_progress m WHERE m.tenant_id = e.tenant_id"
        " AND m.employee_id = e.id) AS last_module,"
        " (SELECT MAX(t.checked_in_at) FROM attendance t WHERE t.tenant_id = e.tenant_id"
        " AND t.employee_id = e.id) AS last_checkin"
        " FROM employee e LEFT JOIN position ps ON ps.id = e.position_id"
        f" WHERE e.tenant_id = {p(tenant_id)} AND e.manager_id = {p(manager_id)} AND e.is_active = {p(True)}"
        " ORDER BY e.employee_no"
    )
    return await connection.execute_query_dict(sql, p.values)


def _latest(*values: Any) -> datetime | None:
    moments = [rollups.moment(value) for value in values if value is not None]
    return max(moments) if moments else None


async def _courses(tenant_id: int, ids: list[int], now: datetime) -> dict[int, dict[str, tuple[str, str]]]:
    """Per person, per course code: (state, title), the strongest state winning (completed over
    overdue over in progress). One statement for the whole team."""
    if not ids:
        return {}
    connection = connections.get("default")
    p = Params(connection)
    people = p.among(ids, "int")
    enrolled = (
        "SELECT en.employee_id, s.course_id, s.id AS session_id, s.ends_at FROM enrollment en"
        " JOIN training_session s ON s.id = en.session_id"
        f" WHERE en.tenant_id = {p(tenant_id)} AND en.employee_id {people}"
        f" AND en.status = {p(EnrollmentStatus.ENROLLED.value)} AND s.status <> {p(SessionStatus.CANCELLED.value)}"
    )
    attended = p.among([AttendanceStatus.PRESENT.value, AttendanceStatus.LATE.value], "text")
    sql = (
        "SELECT x.employee_id, c.code, c.title, x.state FROM ("
        f"SELECT cc.employee_id, cc.course_id, '{_COMPLETED}' AS state FROM course_completion cc"
        f" WHERE cc.tenant_id = {p(tenant_id)} AND cc.employee_id {people}"
        f" UNION SELECT n.employee_id, n.course_id, '{_OVERDUE}' FROM ({enrolled}) n WHERE n.ends_at < {p(now)}"
        " AND NOT EXISTS (SELECT 1 FROM attendance t WHERE t.session_id = n.session_id"
        f" AND t.employee_id = n.employee_id AND t.status {attended})"
        f" UNION SELECT n.employee_id, n.course_id, '{_IN_PROGRESS}' FROM ({enrolled}) n WHERE n.ends_at >= {p(now)}"
        f" UNION SELECT t.employee_id, s.course_id, '{_IN_PROGRESS}' FROM attendance t"
        " JOIN training_session s ON s.id = t.session_id"
        f" WHERE t.tenant_id = {p(tenant_id)} AND t.employee_id {people} AND t.status {attended}"
        f" UNION SELECT m.employee_id, m.course_id, '{_IN_PROGRESS}' FROM module_progress m"
        f" WHERE m.tenant_id = {p(tenant_id)} AND m.employee_id {people}"
        ") x JOIN course c ON c.id = x.course_id"
    )
    rows = await connection.execute_query_dict(sql, p.values)
    strength = {_IN_PROGRESS: 0, _OVERDUE: 1, _COMPLETED: 2}
    found: dict[int, dict[str, tuple[str, str]]] = {}
    for row in rows:
        mine = found.setdefault(int(row["employee_id"]), {})
        held = mine.get(row["code"])
        if held is None or strength[row["state"]] > strength[held[0]]:
            mine[row["code"]] = (row["state"], row["title"])
    return found


# --- export ----------------------------------------------------------------------------------------

COLUMNS = (
    Column("工号", "Employee no."),
    Column("姓名", "Name"),
    Column("职位族", "Position family"),
    Column("层级", "Level"),
    Column("进行中", "In progress", 10),
    Column("已完成", "Completed", 10),
    Column("逾期", "Overdue", 10),
    Column("进行中课程", "Courses in progress", 40),
    Column("逾期课程", "Overdue courses", 40),
    Column("本期学分", "Credits this period"),
    Column("目标学分", "Target"),
    Column("最近活动", "Last activity", 20),
)


async def export_table(viewer: Viewer, options: ReportOptions) -> Table:
    """One row per direct report of ``options.manager_id`` (the viewer when None)."""
    view = await team_view(viewer, options.manager_id)

    async def rows() -> AsyncIterator[Sequence[WriteCell]]:
        for m in view.members:
            yield (
                m.employee_no,
                m.name,
                m.position_family or "",
                m.position_level or "",
                m.in_progress,
                m.completed,
                m.overdue,
                "、".join(m.in_progress_titles),
                "、".join(m.overdue_titles),
                from_tenths(m.earned),
                None if m.target is None else from_tenths(m.target),
                m.last_activity_at,
            )

    return Table("团队视图", "Team view", COLUMNS, rows(), total=len(view.members))
