"""The training-effect report (培训效果): how many took part, completed, passed and earned.

Every figure but ``sessions_held`` and the module drop-off is read from the LEARNER rollups of the
people in scope (``frame``): the sums from the rollup rows, the distinct people and person-courses
(the "learners") from the learning months (``ReportActivity``), a few statements run at once;
docs/reports.md ("Speed") says what they cost. What the rates mean, exactly:

- participation rate (参训率) = check-ins / enrollments of the period (sessions starting in it;
  walk-ins can take it past 1);
- completion rate (完成率) = courses completed / distinct (person, course) pairs with any learning
  activity in the period (enrolled, attended, a lesson, module or course completed, a quiz taken,
  practice confirmed, an evaluation). A completion is itself activity, so the rate is at most 1;
  the pairs are counted over the learning months (day rows at the period's ragged edges), never
  by scanning records;
- pass rate (通过率) = quizzes passed / quiz takers (first attempts of the period), capped at 1: a
  quiz first tried in an earlier period and passed in this one counts a pass without a taker;
- averages are sums over counts (quiz: per graded attempt; evaluation: per evaluation).

``sessions_held`` counts training sessions starting in the period, not cancelled, of the filter's
site, course or scenario: sessions belong to no person, so org-unit and position filters do not
narrow it. The drop-off (``modules``, when the filter names a course) reads ``module_progress``,
which holds where people stand now, not what happened in the period.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from tortoise import connections

from backend.models import SPAN_YEARS, RollupRole, SessionStatus
from backend.services.credits.ledger import from_tenths
from backend.services.imports.files import WriteCell
from backend.services.reports import frame, rollups
from backend.services.reports.frame import Dimension, ReportFilter, Scope
from backend.services.reports.tables import Column, ReportOptions, Table
from backend.services.validation import invalid
from backend.services.viewer import Viewer
from backend.sql import Params

_SUMS = (
    "enrolled",
    "attended",
    "attended_minutes",
    "courses_completed",
    "quiz_takers",
    "quizzes_passed",
    "quiz_attempts",
    "quiz_percent_sum",
    "practice_confirmed",
    "evaluations",
    "evaluation_percent_sum",
    "credits_earned",
)
_LEARNERS = ("participants", "course_learners")


@dataclass(frozen=True)
class Figures:
    """The figures of the report, for the whole scope, one month or one breakdown key."""

    enrolled: int  # enrollments in sessions starting in the period
    attended: int  # check-ins
    sessions_held: int | None  # sessions starting in the period (None where it has no meaning)
    participation_rate: float | None  # attended / enrolled, None when nobody was enrolled
    participants: int  # distinct people with any learning activity
    course_learners: int  # distinct (person, course) pairs with any learning activity
    courses_completed: int
    completion_rate: float | None  # courses_completed / course_learners, None when 0
    quiz_takers: int
    quizzes_passed: int
    pass_rate: float | None  # quizzes_passed / quiz_takers capped at 1, None when no takers
    quiz_attempts: int  # graded attempts
    average_quiz_score: float | None  # percent, per graded attempt
    practice_confirmed: int
    evaluations: int
    average_evaluation_score: float | None  # percent, per evaluation
    hours: Decimal  # attended minutes / 60, one decimal
    credits_earned: Decimal


@dataclass(frozen=True)
class Month:
    month: date  # its first day
    figures: Figures


@dataclass(frozen=True)
class BreakdownEntry:
    key: object  # an id (org unit, site, course) or a text; None for "none"
    label: str  # "" for none
    figures: Figures


@dataclass(frozen=True)
class ModuleDropOff:
    """How many of the people in scope who started the course completed this module."""

    module_id: int
    position: int
    title: str
    started: int  # people in scope with any progress in the course
    completed: int  # of them, those whose progress meets the module's required count


@dataclass(frozen=True)
class TrainingEffect:
    period: frame.Period
    total: Figures
    series: list[Month]  # every month of the period, zeros included
    breakdown: list[BreakdownEntry] = field(default_factory=list)  # empty unless asked
    modules: list[ModuleDropOff] = field(default_factory=list)  # only when the filter names a course


def _ratio(part: int, whole: int, cap: bool = False, digits: int = 4) -> float | None:
    if not whole:
        return None
    value = part / whole
    return round(min(value, 1.0) if cap else value, digits)


def _figures(row: Mapping[str, Any], sessions_held: int | None) -> Figures:
    n = {name: int(row.get(name) or 0) for name in (*_SUMS, "participants", "course_learners")}
    minutes = Decimal(n["attended_minutes"]) / 60
    return Figures(
        enrolled=n["enrolled"],
        attended=n["attended"],
        sessions_held=sessions_held,
        participation_rate=_ratio(n["attended"], n["enrolled"]),
        participants=n["participants"],
        course_learners=n["course_learners"],
        courses_completed=n["courses_completed"],
        completion_rate=_ratio(n["courses_completed"], n["course_learners"], cap=True),
        quiz_takers=n["quiz_takers"],
        quizzes_passed=n["quizzes_passed"],
        pass_rate=_ratio(n["quizzes_passed"], n["quiz_takers"], cap=True),
        quiz_attempts=n["quiz_attempts"],
        average_quiz_score=_ratio(n["quiz_percent_sum"], n["quiz_attempts"], digits=1),
        practice_confirmed=n["practice_confirmed"],
        evaluations=n["evaluations"],
        average_evaluation_score=_ratio(n["evaluation_percent_sum"], n["evaluations"], digits=1),
        hours=minutes.quantize(Decimal("0.1"), ROUND_HALF_UP),
        credits_earned=from_tenths(n["credits_earned"]),
    )


# --- the sums: rollup rows ------------------------------------------------------------------------


async def _sums(scope: Scope, dimension: Dimension | None = None) -> list[dict[str, Any]]:
    """The summed figures of the scope's LEARNER rollups per date, or per key of ``dimension``
    (``k``). Two statements, not one grouped by both: a two-column grouping cost more than both."""
    connection = connections.get("default")
    p = Params(connection)
    if dimension is None:
        # Per date (a month row is dated its month's first day, a day row its day), added up into
        # months by the caller: cheaper than working out each row's month in SQL.
        key, joins = "r.day", ""
    else:
        group = frame.dimension_sql(dimension, "e", "r")
        key, joins = _group_key(dimension, group.key), group.joins
    # The company's rollup rows are its people's: the whole company needs no join (a scan fewer).
    people = frame.narrows_people(scope) or dimension in _PEOPLE_DIMENSIONS
    sums = ", ".join(f"CAST(SUM(r.{name}) AS BIGINT) AS {name}" for name in _SUMS)
    sql = (
        f"SELECT {key} AS k, {sums} FROM report_rollup r"
        + (" JOIN employee e ON e.id = r.employee_id" if people else "")
        + f"{joins} WHERE r.role = {p(RollupRole.LEARNER.value)} AND {frame.rollup_sql(p, scope, 'r')}"
        + (f" AND {frame.people_sql(p, scope, 'e')}" if people else "")
        # Rows of nothing this report counts (a redemption's) would only make empty groups.
        + f" AND ({rollups.learning_sql('r')} OR r.credits_earned <> 0) GROUP BY {key}"
    )
    return await connection.execute_query_dict(sql, p.values)


# --- the learners: distinct people and person-courses ---------------------------------------------
# Counted over the learning months (``ReportActivity``: one row per person, course and five years)
# for the period's whole months, and over day rows for its ragged edges only.


def _spans(first: date, end: date) -> dict[date, int]:
    """The months [first, end) as span rows' first months and the bits of those months."""
    spans: dict[date, int] = {}
    for month in frame.Period(first, end - timedelta(days=1)).months():
        span, bit = rollups.span_of(month)
        spans[span] = spans.get(span, 0) | 1 << bit
    return spans


def _edges(period: frame.Period) -> list[frame.Period]:
    """The parts of the period that are not whole months, each within one month."""
    whole = period.whole_months()
    if whole is None:  # within a month, or the ends of two (one between them would be whole)
        last_month = period.last.replace(day=1)
        if period.first >= last_month:
            return [period]
        return [frame.Period(period.first, last_month - timedelta(days=1)), frame.Period(last_month, period.last)]
    edges = []
    if period.first < whole[0]:
        edges.append(frame.Period(period.first, whole[0] - timedelta(days=1)))
    if period.last >= whole[1]:
        edges.append(frame.Period(whole[1], period.last))
    return edges


def _people_in_scope(p: Params, scope: Scope, r: str) -> str:
    """`` AND`` the person of alias ``r`` is one of the scope's people ("" for the whole company)."""
    if not frame.narrows_people(scope):
        return ""
    return f" AND {r}.employee_id IN (SELECT e.id FROM employee e WHERE {frame.people_sql(p, scope, 'e')})"


def _span_rows(p: Params, scope: Scope, span: date, bits: int) -> str:
    """Conditions on ``report_activity a``: the scope's rows of ``span`` with a bit among ``bits``."""
    return (
        f"a.tenant_id = {p(scope.tenant_id)} AND a.first_month = {frame.day_value(p, span)}"
        f" AND (a.months & {bits}) <> 0{frame.course_sql(p, scope, 'a')}{_people_in_scope(p, scope, 'a')}"
    )


def _learning_sql(p: Params, scope: Scope) -> str:
    """The (employee_id, course_id) pairs with learning in the period, each once: the span rows
    with a bit among the whole months, and the learning day rows of the edges."""
    whole = scope.period.whole_months()
    parts = [
        f"SELECT a.employee_id, a.course_id FROM report_activity a WHERE {_span_rows(p, scope, span, bits)}"
        for span, bits in (_spans(*whole) if whole else {}).items()
    ]
    parts += [
        "SELECT DISTINCT r.employee_id, r.course_id FROM report_rollup r"
        f" WHERE r.role = {p(RollupRole.LEARNER.value)} AND {frame.rollup_sql(p, frame.with_period(scope, edge), 'r')}"
        f" AND {rollups.learning_sql('r')}{_people_in_scope(p, scope, 'r')}"
        for edge in _edges(scope.period)
    ]
    # One span's rows are one per pair, an edge's pairs distinct on their own (a smaller hash than
    # the day rows in the union's); UNION makes them so together.
    return " UNION ".join(parts)


async def _learners(scope: Scope, dimension: Dimension | None = None) -> list[dict[str, Any]]:
    """Distinct people (``participants``) and person-courses (``course_learners``) with learning
    in the period: one row, or one per key ``k`` of ``dimension``."""
    connection = connections.get("default")
    p = Params(connection)
    learning = _learning_sql(p, scope)  # the scope's people only
    courses = "CAST(SUM(CASE WHEN r.course_id <> 0 THEN 1 ELSE 0 END) AS BIGINT)"
    if dimension in (Dimension.COURSE, Dimension.SCENARIO):
        group = frame.dimension_sql(dimension, "e", "r")
        key = _group_key(dimension, group.key)
        # A course's pairs are its people; a scenario's may hold a person twice.
        participants = "COUNT(*)" if dimension is Dimension.COURSE else "COUNT(DISTINCT r.employee_id)"
        sql = (
            f"SELECT {key} AS k, {participants} AS participants, {courses} AS course_learners"
            f" FROM ({learning}) r{group.joins} GROUP BY {key}"
        )
    else:
        # Per person first (how many courses), then per group of people: nobody is counted twice.
        per_person = f"SELECT r.employee_id, {courses} AS courses FROM ({learning}) r GROUP BY r.employee_id"
        sql = (
            f"SELECT COUNT(*) AS participants, CAST(SUM(x.courses) AS BIGINT) AS course_learners FROM ({per_person}) x"
        )
        if dimension is not None:
            group = frame.dimension_sql(dimension, "e", "r")
            key = _group_key(dimension, group.key)
            sql = (
                f"SELECT {key} AS k, COUNT(*) AS participants, CAST(SUM(x.courses) AS BIGINT) AS course_learners"
                f" FROM ({per_person}) x JOIN employee e ON e.id = x.employee_id{group.joins} GROUP BY {key}"
            )
    return await connection.execute_query_dict(sql, p.values)


async def _learners_by_month(scope: Scope) -> dict[str, dict[str, Any]]:
    """``_learners`` per month (``YYYY-MM``): whole months from the span rows, partial months from
    their day rows."""
    whole = scope.period.whole_months()
    spans = [_span_learners(scope, span, bits) for span, bits in (_spans(*whole) if whole else {}).items()]
    edges = _edges(scope.period)
    by_span, by_edge = await asyncio.gather(
        asyncio.gather(*spans), asyncio.gather(*(_learners(frame.with_period(scope, edge)) for edge in edges))
    )
    found: dict[str, dict[str, Any]] = {}
    for part in by_span:
        found.update(part)
    for edge, rows in zip(edges, by_edge, strict=True):
        found[edge.first.strftime("%Y-%m")] = rows[0]
    return found


async def _span_learners(scope: Scope, span: date, bits: int) -> dict[str, dict[str, Any]]:
    """Learners of each month of one span's ``bits``: people from each person's rows folded into
    one (bitwise OR), person-courses from the rows as they are; bit arithmetic only (a ``CASE`` or
    an aggregate per month and person cost several times more)."""
    connection = connections.get("default")
    months = [bit for bit in range(SPAN_YEARS * 12) if bits >> bit & 1]

    def rows_sql(p: Params) -> str:
        return f" FROM report_activity a WHERE {_span_rows(p, scope, span, bits)}"

    people_p, pairs_p = Params(connection), Params(connection)
    if connection.capabilities.dialect == "postgres":
        folded = f"SELECT BIT_OR(a.months) AS months{rows_sql(people_p)} GROUP BY a.employee_id"
        people = ", ".join(f"CAST(SUM((x.months >> {bit}) & 1) AS BIGINT) AS p{bit}" for bit in months)
    else:  # SQLite has no BIT_OR: a person's bit of each month, one by one
        per_month = ", ".join(f"MAX((a.months >> {bit}) & 1) AS p{bit}" for bit in months)
        folded = f"SELECT {per_month}{rows_sql(people_p)} GROUP BY a.employee_id"
        people = ", ".join(f"SUM(x.p{bit}) AS p{bit}" for bit in months)
    pairs = ", ".join(f"CAST(SUM((a.months >> {bit}) & 1) AS BIGINT) AS c{bit}" for bit in months)
    (people_row,), (pairs_row,) = await asyncio.gather(
        connection.execute_query_dict(f"SELECT {people} FROM ({folded}) x", people_p.values),
        connection.execute_query_dict(f"SELECT {pairs}{rows_sql(pairs_p)} AND a.course_id <> 0", pairs_p.values),
    )
    return {
        date(span.year + bit // 12, bit % 12 + 1, 1).strftime("%Y-%m"): {
            "participants": people_row[f"p{bit}"] or 0,
            "course_learners": pairs_row[f"c{bit}"] or 0,
        }
        for bit in months
    }


def _group_key(dimension: Dimension | None, key: str) -> str:
    """A breakdown's key with one "none" group: no unit, site or position (NULL), course 0, an empty text."""
    none = "0" if dimension is Dimension.COURSE else "''" if dimension in _TEXT_KEYS else None
    return f"NULLIF({key}, {none})" if none else key


# --- sessions held -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Session:
    month: date
    course_id: int
    site_id: int
    scenario: str


async def _sessions(scope: Scope) -> list[_Session]:
    """The period's sessions (not cancelled) of the filter's site, course or scenario."""
    connection = connections.get("default")
    zone = await rollups.company_zone(connection, scope.tenant_id)
    start = datetime.combine(scope.period.first, time(), zone)
    end = datetime.combine(scope.period.last + timedelta(days=1), time(), zone)
    f = scope.filter
    p = Params(connection)
    sql = (
        "SELECT s.starts_at, s.course_id, s.site_id, c.scenario FROM training_session s"
        " JOIN course c ON c.id = s.course_id"
        f" WHERE s.tenant_id = {p(scope.tenant_id)} AND s.starts_at >= {p(start)} AND s.starts_at < {p(end)}"
        f" AND s.status <> {p(SessionStatus.CANCELLED.value)}"
    )
    if f.site_id is not None:
        sql += f" AND s.site_id = {p(f.site_id)}"
    if f.course_id is not None:
        sql += f" AND s.course_id = {p(f.course_id)}"
    if f.scenario is not None:
        sql += f" AND c.scenario = {p(f.scenario)}"
    rows = await connection.execute_query_dict(sql, p.values)
    return [
        _Session(
            _local_day(row["starts_at"], zone).replace(day=1),
            int(row["course_id"]),
            int(row["site_id"]),
            row["scenario"],
        )
        for row in rows
    ]


def _local_day(value: object, zone: ZoneInfo) -> date:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(zone).date()


_TEXT_KEYS = (Dimension.SCENARIO, Dimension.POSITION_FAMILY, Dimension.POSITION_LEVEL)
_SESSION_KEY = {
    Dimension.COURSE: lambda s: s.course_id,
    Dimension.SITE: lambda s: s.site_id,
    Dimension.SCENARIO: lambda s: s.scenario,
}


# --- the report ----------------------------------------------------------------------------------


# Breakdowns by where people are: each person falls in one group, so the groups add up to the total.
_PEOPLE_DIMENSIONS = (Dimension.ORG_UNIT, Dimension.SITE, Dimension.POSITION_FAMILY, Dimension.POSITION_LEVEL)


async def training_effect(
    viewer: Viewer, report_filter: ReportFilter, breakdown: Dimension | None = None
) -> TrainingEffect:
    """The report for the viewer's scope (HR admins: the company; managers: their subtree).

    Its statements run at once (on PostgreSQL each on a connection of its own): the sums per month
    (they add up to the total's) and per breakdown key, the learners per month, per breakdown key,
    and in total unless the breakdown is by people (then its groups add up to it)."""
    scope = await frame.scope_of(viewer, report_filter)
    by_people = breakdown in _PEOPLE_DIMENSIONS
    (
        sessions,
        (month_sums, month_learners),
        (group_sums, group_learners),
        total_learners,
        modules,
    ) = await asyncio.gather(
        _sessions(scope),
        asyncio.gather(_sums(scope), _learners_by_month(scope)),
        asyncio.gather(_sums(scope, breakdown), _learners(scope, breakdown)) if breakdown else _none_of_two(),
        _nothing() if by_people else _learners(scope),
        _drop_off(scope) if report_filter.course_id is not None else _nothing(),
    )
    by_month = _by_month(month_sums)
    series = []
    for first in scope.period.months():
        key = first.strftime("%Y-%m")
        figures = {**by_month.get(key, {}), **month_learners.get(key, {})}
        series.append(Month(first, _figures(figures, sum(s.month == first for s in sessions))))
    learners = _added(group_learners, _LEARNERS) if by_people else total_learners[0]
    total = _figures({**_added(month_sums, _SUMS), **learners}, len(sessions))
    entries = []
    if breakdown:
        learned = {_key(row["k"]): row for row in group_learners}
        groups = [{**row, **learned.get(_key(row["k"]), {})} for row in group_sums]
        entries = await _breakdown(scope, breakdown, groups, sessions)
    return TrainingEffect(scope.period, total, series, entries, modules)


def _by_month(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """Sums per date added up per month (``YYYY-MM``, from a date or its ISO text)."""
    months: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        months.setdefault(str(row["k"])[:7], []).append(row)
    return {month: _added(some, _SUMS) for month, some in months.items()}


async def _nothing() -> list[Any]:
    return []


async def _none_of_two() -> tuple[list[Any], list[Any]]:
    return [], []


def _added(rows: Iterable[Mapping[str, Any]], names: Sequence[str]) -> dict[str, int]:
    """Rows' figures ``names`` added up (months; groups of people: nobody is in two)."""
    return {name: sum(int(row.get(name) or 0) for row in rows) for name in names}


async def _breakdown(
    scope: Scope, dimension: Dimension, rows: list[dict[str, Any]], sessions: Sequence[_Session]
) -> list[BreakdownEntry]:
    keys = [_key(row["k"]) for row in rows]
    names = await frame.labels(scope.tenant_id, dimension, keys)
    held = _SESSION_KEY.get(dimension)
    entries = []
    for key, row in zip(keys, rows, strict=True):
        count = None if held is None else sum(1 for s in sessions if (held(s) or None) == key)
        entries.append(BreakdownEntry(key, names.get(key, ""), _figures(row, count)))
    return sorted(entries, key=lambda entry: (entry.label, str(entry.key)))


def _key(value: object) -> object:
    return None if value is None or value == "" or value == 0 else value


async def _drop_off(scope: Scope) -> list[ModuleDropOff]:
    connection = connections.get("default")
    p = Params(connection)
    course_id = scope.filter.course_id
    people = f"SELECT e.id FROM employee e WHERE {frame.people_sql(p, scope, 'e')}"
    rows = await connection.execute_query_dict(
        "SELECT m.id, m.position, m.title,"
        " (SELECT COUNT(DISTINCT g.employee_id) FROM module_progress g"
        f"  WHERE g.tenant_id = m.tenant_id AND g.course_id = m.course_id AND g.completed_count > 0"
        f"  AND g.employee_id IN ({people})) AS started,"
        " (SELECT COUNT(*) FROM module_progress g"
        "  WHERE g.tenant_id = m.tenant_id AND g.module_id = m.id AND g.completed_count >= m.required_count"
        f"  AND g.employee_id IN ({people})) AS completed"
        f" FROM course_module m WHERE m.tenant_id = {p(scope.tenant_id)} AND m.course_id = {p(course_id)}"
        " ORDER BY m.position, m.id",
        p.values,
    )
    return [
        ModuleDropOff(int(row["id"]), int(row["position"]), row["title"], int(row["started"]), int(row["completed"]))
        for row in rows
    ]


# --- export --------------------------------------------------------------------------------------

_COLUMNS = (
    Column("参训人次(报名)", "Enrolled"),
    Column("签到人次", "Attended"),
    Column("举办场次", "Sessions held"),
    Column("参训率", "Participation rate"),
    Column("学习人数", "Participants"),
    Column("人·课程数", "Person-courses"),
    Column("完成课程数", "Courses completed"),
    Column("完成率", "Completion rate"),
    Column("考试人数", "Quiz takers"),
    Column("考试通过", "Quizzes passed"),
    Column("通过率", "Pass rate"),
    Column("答卷数", "Graded attempts"),
    Column("平均分", "Average quiz score"),
    Column("实操确认", "Practice confirmed"),
    Column("评价次数", "Evaluations"),
    Column("平均评价分", "Average evaluation score"),
    Column("学时", "Hours"),
    Column("获得学分", "Credits earned"),
)


def _cells(figures: Figures) -> list[WriteCell]:
    return [
        figures.enrolled,
        figures.attended,
        figures.sessions_held,
        figures.participation_rate,
        figures.participants,
        figures.course_learners,
        figures.courses_completed,
        figures.completion_rate,
        figures.quiz_takers,
        figures.quizzes_passed,
        figures.pass_rate,
        figures.quiz_attempts,
        figures.average_quiz_score,
        figures.practice_confirmed,
        figures.evaluations,
        figures.average_evaluation_score,
        figures.hours,
        figures.credits_earned,
    ]


async def export_table(viewer: Viewer, options: ReportOptions) -> Table:
    """The report as a table: one row per breakdown key when a breakdown is asked, else one per
    month of the period; every figure a column. The rows are few (months or keys), so the report
    is computed once and its rows handed out as they are written."""
    if options.filter is None:
        raise invalid("filter")
    report = await training_effect(viewer, options.filter, options.breakdown)
    if options.breakdown is not None:
        first = Column("分组", "Group", 28)
        lines: list[list[WriteCell]] = [[entry.label, *_cells(entry.figures)] for entry in report.breakdown]
    else:
        first = Column("月份", "Month", 10)
        lines = [[month.month.strftime("%Y-%m"), *_cells(month.figures)] for month in report.series]
    return Table.of_lines("培训效果", "Training effect", (first, *_COLUMNS), lines)
