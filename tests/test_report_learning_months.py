"""The learning months (``ReportActivity``) and the learners the training-effect report counts
from them, against a recount from the day rows.

Random facts (lessons, enrollments, quizzes… and some taken back again, as a cancellation does)
are added through the product's own write path (``rollups.Tally.flush``) from October 2025 to
March 2026, across the boundary of two five-year spans (2021–2025 and 2026–2030). Then:

- the stored learning months always equal what the stored month rows show;
- for periods of every shape (whole months in one span or in two, ragged edges, two partial
  months, one day, a course or scenario filter, a subtree) the report's distinct people and
  person-courses, in total, per month and per breakdown key, equal a plain recount over the day
  rows.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest
from tortoise.transactions import in_transaction

from backend.models import Employee, Role, RollupGrain, RollupRole
from backend.services.reports import rollups, training_effect
from backend.services.reports.frame import Dimension, Period, ReportFilter
from tests.factories import Company, make_company
from tests.report_world import viewer_of

FIRST_DAY, LAST_DAY = date(2025, 10, 1), date(2026, 3, 31)
PEOPLE = ("HR1", "MGR", "LRN", "OTH")
COURSES = ("A-001", "A-002", "S-001")  # two of the 安全 scenario, one of 销售


@pytest.fixture(scope="module")
async def company(password_hash) -> Company:
    company = await make_company(password_hash)
    rng = random.Random(2026)
    courses = [0, *(company.courses[code].id for code in COURSES)]
    given: list[tuple[int, int, datetime, str]] = []  # what was added, to take some of it back
    for _ in range(12):  # a dozen transactions, as pushes and HR's corrections would come
        tally = rollups.Tally()
        for _ in range(25):
            if given and rng.random() < 0.2:
                employee_id, course_id, at, measure = given.pop(rng.randrange(len(given)))
                tally.add(RollupRole.LEARNER, employee_id, course_id, at, **{measure: -1})
                continue
            employee_id = company.employees[rng.choice(PEOPLE)].id
            course_id = rng.choice(courses)
            day = FIRST_DAY + timedelta(days=rng.randrange((LAST_DAY - FIRST_DAY).days + 1))
            at = datetime(day.year, day.month, day.day, 4, tzinfo=UTC)  # noon in Shanghai
            measure = rng.choice((*rollups.LEARNING, "credits_earned"))
            tally.add(RollupRole.LEARNER, employee_id, course_id, at, **{measure: 1})
            given.append((employee_id, course_id, at, measure))
        async with in_transaction() as connection:
            await tally.flush(connection, company.tenant.id)
    return company


async def test_learning_months_follow_the_month_rows(company: Company) -> None:
    async with in_transaction() as connection:
        found = await rollups.stored(connection, company.tenant.id)
        months = await rollups.stored_activity(connection, company.tenant.id)
    assert months == rollups.activity_of(found)
    spans = {first for first, _, _ in months}
    assert spans == {date(2021, 1, 1), date(2026, 1, 1)}, spans  # both sides of the boundary
    taken = sum(bin(bits).count("1") for bits in months.values())
    assert 0 < taken < len([key for key in found if key[0] is RollupRole.LEARNER and key[1] is RollupGrain.MONTH])


def test_spans_from_year_1_to_9999() -> None:
    assert rollups.span_of(date(1, 1, 1)) == (date(1, 1, 1), 0)
    assert rollups.span_of(date(2025, 12, 1)) == (date(2021, 1, 1), 59)
    assert rollups.span_of(date(2026, 1, 1)) == (date(2026, 1, 1), 0)
    assert rollups.span_of(date(9999, 12, 1)) == (date(9996, 1, 1), 47)


PERIODS = [
    (date(2025, 12, 1), date(2026, 1, 31)),  # whole months of two spans
    (date(2026, 1, 1), date(2026, 3, 31)),  # whole months of one span
    (date(2025, 10, 1), date(2026, 3, 31)),  # everything
    (date(2025, 12, 15), date(2026, 1, 10)),  # two partial months, no whole one
    (date(2025, 11, 10), date(2026, 2, 20)),  # ragged edges around whole months of two spans
    (date(2026, 2, 3), date(2026, 2, 17)),  # within a month
    (date(2026, 1, 1), date(2026, 1, 1)),  # one day
    (date(2026, 1, 1), date(2026, 12, 31)),  # a year with months of nothing
]


def _recount(found: dict, people: dict[int, Employee], period: Period, courses: set[int] | None) -> dict:
    """Learners from the day rows: pairs with learning in ``period``, per month and per key."""
    pairs: dict[str, set[tuple[int, int]]] = defaultdict(set)
    learning = [rollups.MEASURES.index(name) for name in rollups.LEARNING]
    for (role, grain, day, employee_id, course_id), amounts in found.items():
        if role is not RollupRole.LEARNER or grain is not RollupGrain.DAY or not period.first <= day <= period.last:
            continue
        if employee_id not in people or (courses is not None and course_id not in courses):
            continue
        if any(amounts[i] > 0 for i in learning):
            pairs[day.strftime("%Y-%m")].add((employee_id, course_id))
            pairs["total"].add((employee_id, course_id))

    def counted(some: set[tuple[int, int]]) -> tuple[int, int]:
        return len({e for e, _ in some}), sum(1 for _, c in some if c)

    result = {key: counted(some) for key, some in pairs.items()}
    for first in period.months():
        result.setdefault(first.strftime("%Y-%m"), (0, 0))
    total = pairs["total"]
    result["units"] = {
        unit: counted({(e, c) for e, c in total if people[e].org_unit_id == unit})
        for unit in {people[e].org_unit_id for e, _ in total}
    }
    result["courses"] = {course or None: counted({(e, c) for e, c in total if c == course}) for _, course in total}
    return result


@pytest.mark.parametrize(("first", "last"), PERIODS)
@pytest.mark.parametrize("narrowed", ["company", "course", "scenario", "subtree"])
async def test_learners_equal_a_recount_of_the_day_rows(company: Company, first, last, narrowed) -> None:
    period = Period(first, last)
    tenant_id = company.tenant.id
    everyone = {e.id: e for e in await Employee.filter(tenant_id=tenant_id)}
    people, courses, report_filter = everyone, None, ReportFilter(period=period)
    if narrowed == "course":
        course = company.courses["A-002"].id
        courses, report_filter = {course}, ReportFilter(period=period, course_id=course)
    elif narrowed == "scenario":
        courses = {company.courses[code].id for code in ("A-001", "A-002")}
        report_filter = ReportFilter(period=period, scenario="安全")
    elif narrowed == "subtree":
        sales = company.org_units["sales"]
        units = {sales.id, company.org_units["east"].id}
        people = {i: e for i, e in everyone.items() if e.org_unit_id in units}
        report_filter = ReportFilter(period=period, org_unit_id=sales.id)
    async with in_transaction() as connection:
        found = await rollups.stored(connection, tenant_id)
    expected = _recount(found, people, period, courses)
    hr = viewer_of(company, "HR1", Role.HR_ADMIN)

    def learners(figures) -> tuple[int, int]:
        return figures.participants, figures.course_learners

    report = await training_effect.training_effect(hr, report_filter, Dimension.ORG_UNIT)
    assert learners(report.total) == expected.get("total", (0, 0))
    assert {m.month.strftime("%Y-%m"): learners(m.figures) for m in report.series} == {
        key: value for key, value in expected.items() if key[:1].isdigit()
    }
    by_unit = {entry.key: learners(entry.figures) for entry in report.breakdown if learners(entry.figures) != (0, 0)}
    assert by_unit == expected["units"]
    report = await training_effect.training_effect(hr, report_filter, Dimension.COURSE)
    assert learners(report.total) == expected.get("total", (0, 0))
    by_course = {entry.key: learners(entry.figures) for entry in report.breakdown if learners(entry.figures) != (0, 0)}
    assert by_course == expected["courses"]


@pytest.mark.postgres_only
async def test_postgres_keeps_day_and_month_rollups_in_partitions_of_their_own(company: Company) -> None:
    """Migration 0016: ``report_rollup`` is partitioned by grain, so a year's month rows are read
    from pages of month rows only, whatever order the facts arrived in."""
    async with in_transaction() as connection:
        (table,) = await connection.execute_query_dict(
            "SELECT relkind::text AS relkind FROM pg_class WHERE relname = 'report_rollup'"
        )
        rows = await connection.execute_query_dict(
            "SELECT tableoid::regclass::text AS part, grain, COUNT(*) AS n FROM report_rollup"
            " WHERE tenant_id = $1 GROUP BY 1, 2",
            [company.tenant.id],
        )
    assert table["relkind"] == "p"  # partitioned
    assert {(row["part"], row["grain"]) for row in rows} == {
        ("report_rollup_day", "DAY"),
        ("report_rollup_month", "MONTH"),
    }
    assert all(row["n"] > 0 for row in rows)


@pytest.mark.parametrize(
    ("first", "last"),
    [
        (date(1900, 1, 1), date(1909, 12, 29)),  # ten years from the first day a report may ask about
        (date(2190, 1, 3), date(2199, 12, 31)),  # ten ragged years to the last, over three spans
        (date(2021, 6, 15), date(2031, 6, 14)),  # ten years around the data: 121 months, three spans
    ],
)
async def test_ten_year_periods_at_the_edges_of_the_calendar(company: Company, first, last) -> None:
    """The longest periods, at both ends of the range a report accepts, cross spans and have
    ragged ends: every month of the series is there and the learners still equal the recount."""
    period = Period.of(first, last)
    async with in_transaction() as connection:
        found = await rollups.stored(connection, company.tenant.id)
    everyone = {e.id: e for e in await Employee.filter(tenant_id=company.tenant.id)}
    expected = _recount(found, everyone, period, None)
    hr = viewer_of(company, "HR1", Role.HR_ADMIN)
    report = await training_effect.training_effect(hr, ReportFilter(period=period), Dimension.COURSE)
    assert len(report.series) == len(period.months())
    assert (report.total.participants, report.total.course_learners) == expected.get("total", (0, 0))
    series = {m.month.strftime("%Y-%m"): (m.figures.participants, m.figures.course_learners) for m in report.series}
    assert series == {key: value for key, value in expected.items() if key[:1].isdigit()}
