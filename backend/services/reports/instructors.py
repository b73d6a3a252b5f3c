"""The instructors and mentors report (讲师与导师): what the people who teach did in a period.

Who is listed: HR admins see their company's instructors and mentors, managers those who are in
their own org unit's subtree now (whoever they taught); the filter's unit, site and position narrow
the instructors and mentors themselves, its course or scenario the facts. Each list is ordered by
name (then employee number) and holds at most ``MAX_ROWS`` people (``truncated`` says when more
were found).

Instructors are the people who instructed sessions starting in the period (not cancelled; from
``training_session``). ``enrolled`` and ``attended`` are their INSTRUCTOR rollups (enrollments
holding a seat in sessions starting in the period, check-ins of the period); ``hours_delivered`` is
the sum of their sessions' lengths, ``learner_hours`` attended minutes / 60. ``average_rating`` and
``rating_count`` come from the answers to the surveys of their sessions of the period (each
answer's mean Likert value, 1–5; ``surveys.results.ratings_of``): anonymous answers count only in
cells (survey, instructor) of at least five answers, as everywhere results are shown.

Mentors' ``average_rating`` and ``rating_count`` come from the answers to module surveys that rate
them (the respondent's mentor when answering), of any time (anonymous answers carry no time), of
the filter's course when there is one; the same threshold applies.

Mentors are the people with MENTOR rollups in the period or with a mentorship in force today
(the company's local day; with a course or scenario filter, mentorships of that course, of a course
of that scenario, or of every course). Their figures are their MENTOR rollups: reviews of practice
logs (confirmed quantities, returns, how long logs waited after reaching the server) and submitted
evaluations. Against their peers (every evaluation in scope, all mentors together):

- ``z_score`` = (mentor's mean − peers' mean) / (peers' sd / √n), n the mentor's evaluations;
- a mentor ``stands_out`` with at least ``MIN_EVALUATIONS`` evaluations when |z| ≥ 3 or when 90%
  or more of their scores are full marks (a mentor who gives everyone 100 is worth a look even when
  their peers are generous too).

The score histograms (buckets 0–9, 10–19, … 90–99 and 100) read ``mentor_evaluation`` (submitted,
in the period, of the filter's course or scenario) for the mentors in scope in one statement;
the peers' histogram is their sum.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from tortoise import connections

from backend.models import EvaluationStatus, RollupRole, SessionStatus, SurveyTargetKind
from backend.services.imports.files import WriteCell
from backend.services.reports import frame, rollups
from backend.services.reports.frame import ReportFilter, Scope
from backend.services.reports.tables import Column, ReportOptions, Table
from backend.services.surveys.results import Rating, ratings_of
from backend.services.validation import invalid
from backend.services.viewer import Viewer
from backend.sql import Params

_NO_RATING = Rating(None, 0)
MAX_ROWS = 1000  # per list; a company has far fewer instructors or mentors
MIN_EVALUATIONS = 5  # below this a mentor's mean says too little to stand out
Z_LIMIT = 3.0
FULL_MARKS_LIMIT = 0.9
BUCKETS = 11  # 0–9, 10–19, …, 90–99, 100


@dataclass(frozen=True)
class Person:
    employee_id: int
    employee_no: str
    name: str


@dataclass(frozen=True)
class InstructorFigures:
    person: Person
    sessions_delivered: int  # sessions starting in the period, not cancelled
    hours_delivered: Decimal  # the sessions' lengths, hours with one decimal
    enrolled: int  # enrollments holding a seat in their sessions (INSTRUCTOR rollups)
    attended: int  # check-ins in their sessions
    attendance_rate: float | None  # attended / enrolled; None when nobody was enrolled
    learner_hours: Decimal  # attended minutes / 60, one decimal
    average_rating: float | None = None  # from learners' survey answers (1–5); None without any shown
    rating_count: int = 0  # answers counted in the rating


@dataclass(frozen=True)
class InstructorReport:
    period: frame.Period
    instructors: list[InstructorFigures]
    truncated: bool  # more than MAX_ROWS instructors: the list stops at MAX_ROWS


@dataclass(frozen=True)
class Spread:
    """Scores (percent) summed: how many, their mean and standard deviation (population)."""

    count: int
    total: int
    squares: int

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    @property
    def sd(self) -> float | None:
        if not self.count:
            return None
        mean = self.total / self.count
        return math.sqrt(max(0.0, self.squares / self.count - mean * mean))


@dataclass(frozen=True)
class MentorFigures:
    person: Person
    mentees: int  # distinct mentees with a mentorship in force today
    practice_reviews: int
    practice_confirmed: int  # quantity confirmed
    practice_returned: int
    average_review_hours: float | None  # review_seconds / practice_reviews / 3600; None without reviews
    evaluations: int
    average_score: float | None  # percent, one decimal; None without evaluations
    score_sd: float | None  # population standard deviation, one decimal
    full_marks_share: float | None  # evaluations at 100 / evaluations
    z_score: float | None  # against peers (see the module docstring); None when undefined
    stands_out: bool
    histogram: list[int]  # BUCKETS counts: 0–9 … 90–99, 100
    average_rating: float | None = None  # from mentees' module survey answers (1–5)
    rating_count: int = 0


@dataclass(frozen=True)
class MentorReport:
    period: frame.Period
    mentors: list[MentorFigures]
    truncated: bool  # more than MAX_ROWS mentors: the list stops at MAX_ROWS
    peer_evaluations: int  # every evaluation in scope
    peer_average_score: float | None
    peer_score_sd: float | None
    peer_histogram: list[int] = field(default_factory=lambda: [0] * BUCKETS)


def _ratio(part: int, whole: int, digits: int = 4) -> float | None:
    return round(part / whole, digits) if whole else None


def _hours(minutes: int) -> Decimal:
    return (Decimal(minutes) / 60).quantize(Decimal("0.1"), ROUND_HALF_UP)


def _rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _moment(value: object) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def _bounds(scope: Scope) -> tuple[datetime, datetime, ZoneInfo]:
    """The period as [start, end) instants of the company's local days, and its zone."""
    zone = await rollups.company_zone(connections.get("default"), scope.tenant_id)
    start = datetime.combine(scope.period.first, time(), zone)
    return start, datetime.combine(scope.period.last + timedelta(days=1), time(), zone), zone


def _person(row: Mapping[str, Any]) -> Person:
    return Person(int(row["employee_id"]), row["employee_no"], row["name"])


def _ordered(people: list[Person]) -> tuple[list[Person], bool]:
    people.sort(key=lambda person: (person.name, person.employee_no))
    return people[:MAX_ROWS], len(people) > MAX_ROWS


def _course_sql(p: Params, scope: Scope, course: str) -> str:
    """The filter's course or scenario on a course id column."""
    f = scope.filter
    sql = ""
    if f.course_id is not None:
        sql += f" AND {course} = {p(f.course_id)}"
    if f.scenario is not None:
        sql += (
            f" AND {course} IN (SELECT c.id FROM course c WHERE c.tenant_id = {p(scope.tenant_id)}"
            f" AND c.scenario = {p(f.scenario)})"
        )
    return sql


async def _rollup_sums(scope: Scope, role: RollupRole, measures: Sequence[str]) -> list[dict[str, Any]]:
    """Per person in scope: name and the sums of ``measures`` of their ``role`` rollups."""
    connection = connections.get("default")
    p = Params(connection)
    sums = ", ".join(f"CAST(SUM(r.{name}) AS BIGINT) AS {name}" for name in measures)
    return await connection.execute_query_dict(
        f"SELECT e.id AS employee_id, e.employee_no, e.name, {sums}"
        " FROM report_rollup r JOIN employee e ON e.id = r.employee_id"
        f" WHERE r.role = {p(role.value)} AND {frame.rollup_sql(p, scope, 'r')} AND {frame.people_sql(p, scope, 'e')}"
        " GROUP BY e.id, e.employee_no, e.name",
        p.values,
    )


# --- instructors ---------------------------------------------------------------------------------


async def instructor_report(viewer: Viewer, report_filter: ReportFilter) -> InstructorReport:
    """The period's instructors in the viewer's scope (see the module docstring)."""
    scope = await frame.scope_of(viewer, report_filter)
    start, end, _ = await _bounds(scope)
    connection = connections.get("default")
    p = Params(connection)
    sessions = await connection.execute_query_dict(
        "SELECT e.id AS employee_id, e.employee_no, e.name, s.id AS session_id, s.starts_at, s.ends_at"
        " FROM training_session s JOIN employee e ON e.id = s.instructor_id"
        f" WHERE s.tenant_id = {p(scope.tenant_id)} AND s.starts_at >= {p(start)} AND s.starts_at < {p(end)}"
        f" AND s.status <> {p(SessionStatus.CANCELLED.value)}{_course_sql(p, scope, 's.course_id')}"
        f" AND {frame.people_sql(p, scope, 'e')}",
        p.values,
    )
    delivered: dict[int, int] = defaultdict(int)
    minutes: dict[int, int] = defaultdict(int)
    people: dict[int, Person] = {}
    for row in sessions:
        person = people.setdefault(int(row["employee_id"]), _person(row))
        delivered[person.employee_id] += 1
        length = _moment(row["ends_at"]) - _moment(row["starts_at"])
        minutes[person.employee_id] += max(0, int(length.total_seconds()) // 60)
    sums = {
        int(row["employee_id"]): row
        for row in await _rollup_sums(scope, RollupRole.INSTRUCTOR, ("enrolled", "attended", "attended_minutes"))
    }
    page, truncated = _ordered(list(people.values()))
    ratings = await ratings_of(
        scope.tenant_id,
        SurveyTargetKind.SESSION,
        [person.employee_id for person in page],
        session_ids=sorted({int(row["session_id"]) for row in sessions}),
    )
    instructors = []
    for person in page:
        row = sums.get(person.employee_id, {})
        enrolled, attended = int(row.get("enrolled") or 0), int(row.get("attended") or 0)
        instructors.append(
            InstructorFigures(
                person=person,
                sessions_delivered=delivered[person.employee_id],
                hours_delivered=_hours(minutes[person.employee_id]),
                enrolled=enrolled,
                attended=attended,
                attendance_rate=_ratio(attended, enrolled),
                learner_hours=_hours(int(row.get("attended_minutes") or 0)),
                average_rating=ratings.get(person.employee_id, _NO_RATING).average,
                rating_count=ratings.get(person.employee_id, _NO_RATING).count,
            )
        )
    return InstructorReport(scope.period, instructors, truncated)


# --- mentors -------------------------------------------------------------------------------------

_MENTOR_SUMS = (
    "practice_reviews",
    "practice_confirmed",
    "practice_returned",
    "review_seconds",
    "evaluations",
    "evaluation_percent_sum",
    "evaluation_percent_sq_sum",
    "evaluation_full_marks",
)


async def _mentees(scope: Scope, zone: ZoneInfo) -> list[dict[str, Any]]:
    """Per mentor in scope: the distinct mentees of mentorships in force on the company's day."""
    connection = connections.get("default")
    p = Params(connection)
    today = frame.day_value(p, datetime.now(zone).date())
    f = scope.filter
    course = ""
    if f.course_id is not None or f.scenario is not None:
        course = f" AND (m.course_id IS NULL OR (1 = 1{_course_sql(p, scope, 'm.course_id')}))"
    return await connection.execute_query_dict(
        "SELECT e.id AS employee_id, e.employee_no, e.name, COUNT(DISTINCT m.mentee_id) AS mentees"
        " FROM mentorship m JOIN employee e ON e.id = m.mentor_id"
        f" WHERE m.tenant_id = {p(scope.tenant_id)} AND m.starts_on <= {today}"
        f" AND (m.ends_on IS NULL OR m.ends_on >= {today}){course} AND {frame.people_sql(p, scope, 'e')}"
        " GROUP BY e.id, e.employee_no, e.name",
        p.values,
    )


async def _histograms(scope: Scope, start: datetime, end: datetime) -> dict[int, list[int]]:
    """Per mentor in scope: their submitted evaluations of the period by score bucket."""
    connection = connections.get("default")
    p = Params(connection)
    rows = await connection.execute_query_dict(
        "SELECT v.mentor_id, CASE WHEN v.percent >= 100 THEN 10 ELSE v.percent / 10 END AS bucket, COUNT(*) AS n"
        " FROM mentor_evaluation v JOIN course_module cm ON cm.id = v.module_id"
        " JOIN employee e ON e.id = v.mentor_id"
        f" WHERE v.tenant_id = {p(scope.tenant_id)} AND v.status = {p(EvaluationStatus.SUBMITTED.value)}"
        f" AND v.percent IS NOT NULL AND v.submitted_at >= {p(start)} AND v.submitted_at < {p(end)}"
        f"{_course_sql(p, scope, 'cm.course_id')} AND {frame.people_sql(p, scope, 'e')}"
        " GROUP BY v.mentor_id, CASE WHEN v.percent >= 100 THEN 10 ELSE v.percent / 10 END",
        p.values,
    )
    found: dict[int, list[int]] = defaultdict(lambda: [0] * BUCKETS)
    for row in rows:
        found[int(row["mentor_id"])][int(row["bucket"])] += int(row["n"])
    return found


def _stands_out(z: float | None, full_share: float | None, count: int) -> bool:
    if count < MIN_EVALUATIONS:
        return False
    return (z is not None and abs(z) >= Z_LIMIT) or (full_share is not None and full_share >= FULL_MARKS_LIMIT)


async def mentor_report(viewer: Viewer, report_filter: ReportFilter) -> MentorReport:
    """The period's mentors in the viewer's scope, against their peers (see the module docstring)."""
    scope = await frame.scope_of(viewer, report_filter)
    start, end, zone = await _bounds(scope)
    sums = {int(row["employee_id"]): row for row in await _rollup_sums(scope, RollupRole.MENTOR, _MENTOR_SUMS)}
    mentees = {int(row["employee_id"]): row for row in await _mentees(scope, zone)}
    histograms = await _histograms(scope, start, end)
    people = {key: _person(row) for key, row in (sums | mentees).items()}
    peers = Spread(
        sum(int(row["evaluations"] or 0) for row in sums.values()),
        sum(int(row["evaluation_percent_sum"] or 0) for row in sums.values()),
        sum(int(row["evaluation_percent_sq_sum"] or 0) for row in sums.values()),
    )
    page, truncated = _ordered(list(people.values()))
    ratings = await ratings_of(
        scope.tenant_id,
        SurveyTargetKind.MODULE,
        [person.employee_id for person in page],
        course_ids=None if scope.filter.course_id is None else [scope.filter.course_id],
    )
    mentors = []
    for person in page:
        row = sums.get(person.employee_id, {})
        n = {name: int(row.get(name) or 0) for name in _MENTOR_SUMS}
        own = Spread(n["evaluations"], n["evaluation_percent_sum"], n["evaluation_percent_sq_sum"])
        z = None
        if own.mean is not None and peers.mean is not None and peers.sd:
            z = (own.mean - peers.mean) / (peers.sd / math.sqrt(own.count))
        full_share = _ratio(n["evaluation_full_marks"], own.count)
        reviews = n["practice_reviews"]
        mentors.append(
            MentorFigures(
                person=person,
                mentees=int(mentees.get(person.employee_id, {}).get("mentees") or 0),
                practice_reviews=reviews,
                practice_confirmed=n["practice_confirmed"],
                practice_returned=n["practice_returned"],
                average_review_hours=_rounded(n["review_seconds"] / reviews / 3600, 2) if reviews else None,
                evaluations=own.count,
                average_score=_rounded(own.mean),
                score_sd=_rounded(own.sd),
                full_marks_share=full_share,
                z_score=_rounded(z, 2),
                stands_out=_stands_out(z, full_share, own.count),
                histogram=list(histograms.get(person.employee_id, [0] * BUCKETS)),
                average_rating=ratings.get(person.employee_id, _NO_RATING).average,
                rating_count=ratings.get(person.employee_id, _NO_RATING).count,
            )
        )
    peer_histogram = [sum(counts[i] for counts in histograms.values()) for i in range(BUCKETS)]
    return MentorReport(
        scope.period,
        mentors,
        truncated,
        peers.count,
        _rounded(peers.mean),
        _rounded(peers.sd),
        peer_histogram,
    )


# --- exports -------------------------------------------------------------------------------------

_PERSON_COLUMNS = (Column("工号", "Employee no.", 12), Column("姓名", "Name", 14))

_INSTRUCTOR_COLUMNS = (
    *_PERSON_COLUMNS,
    Column("授课场次", "Sessions delivered"),
    Column("授课学时", "Hours delivered"),
    Column("报名人次", "Enrolled"),
    Column("签到人次", "Attended"),
    Column("到课率", "Attendance rate"),
    Column("学员学时", "Learner hours"),
    Column("评分", "Average rating"),
    Column("评分人次", "Ratings"),
)

_MENTOR_COLUMNS = (
    *_PERSON_COLUMNS,
    Column("带教学员", "Mentees"),
    Column("实操审核", "Practice reviews"),
    Column("实操确认", "Practice confirmed"),
    Column("实操退回", "Practice returned"),
    Column("平均审核时长(小时)", "Average review hours"),
    Column("评价次数", "Evaluations"),
    Column("平均分", "Average score"),
    Column("标准差", "Score SD"),
    Column("满分比例", "Full-marks share"),
    Column("Z 值", "Z-score"),
    Column("需关注", "Stands out"),
    Column("评分", "Average rating"),
    Column("评分人次", "Ratings"),
    *(
        Column(f"{low}–{low + 9} 分", f"Scores {low}–{low + 9}", 8) if low < 100 else Column("100 分", "Scores 100", 8)
        for low in range(0, 101, 10)
    ),
)


async def export_instructors(viewer: Viewer, options: ReportOptions) -> Table:
    """One row per instructor, every figure a column (at most ``MAX_ROWS``)."""
    if options.filter is None:
        raise invalid("filter")
    report = await instructor_report(viewer, options.filter)
    lines: list[list[WriteCell]] = [
        [
            i.person.employee_no,
            i.person.name,
            i.sessions_delivered,
            i.hours_delivered,
            i.enrolled,
            i.attended,
            i.attendance_rate,
            i.learner_hours,
            i.average_rating,
            i.rating_count,
        ]
        for i in report.instructors
    ]
    return Table.of_lines("讲师", "Instructors", _INSTRUCTOR_COLUMNS, lines)


async def export_mentors(viewer: Viewer, options: ReportOptions) -> Table:
    """One row per mentor, every figure a column, the histogram's buckets last (at most ``MAX_ROWS``)."""
    if options.filter is None:
        raise invalid("filter")
    report = await mentor_report(viewer, options.filter)
    lines: list[list[WriteCell]] = [
        [
            m.person.employee_no,
            m.person.name,
            m.mentees,
            m.practice_reviews,
            m.practice_confirmed,
            m.practice_returned,
            m.average_review_hours,
            m.evaluations,
            m.average_score,
            m.score_sd,
            m.full_marks_share,
            m.z_score,
            m.stands_out,
            m.average_rating,
            m.rating_count,
            *m.histogram,
        ]
        for m in report.mentors
    ]
    return Table.of_lines("导师", "Mentors", _MENTOR_COLUMNS, lines)
