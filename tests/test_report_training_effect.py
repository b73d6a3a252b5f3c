"""The training-effect report over HTTP: every figure of a small company's September–November 2026
(tests/report_world.py) computed by hand — the total, each month, a breakdown by org unit and by
course, a course's module drop-off, a period with ragged edges (day rows and month rows) — the
manager's subtree, the roles, other companies' ids, bad periods, and the export table."""

from __future__ import annotations

from datetime import date

import pytest

from backend.errors import DomainError, ErrorCode
from backend.models import Role
from backend.services.reports import training_effect
from backend.services.reports.frame import Dimension, Period, ReportFilter
from backend.services.reports.tables import ReportOptions
from tests.factories import make_company
from tests.graphql_client import gql, token_for
from tests.report_world import World, build, viewer_of

FIGURES = (
    "enrolled attended sessionsHeld participationRate participants courseLearners coursesCompleted completionRate"
    " quizTakers quizzesPassed passRate quizAttempts averageQuizScore practiceConfirmed evaluations"
    " averageEvaluationScore hours creditsEarned"
)
REPORT = f"""
query R($filter: ReportFilterInput!, $breakdown: ReportDimension) {{
  trainingEffect(filter: $filter, breakdown: $breakdown) {{
    from to total {{ {FIGURES} }} series {{ month figures {{ {FIGURES} }} }}
    breakdown {{ key label figures {{ {FIGURES} }} }}
    modules {{ moduleId position title started completed }}
  }}
}}
"""


def figures(*values) -> dict:
    return dict(zip(FIGURES.split(), values, strict=True))


#                enr att held part  ppl pairs done rate  takers passed rate attempts avg  prac evals avg  hours credits
TOTAL = figures(3, 2, 2, 0.6667, 3, 5, 2, 0.4, 2, 2, 1.0, 3, 66.7, 20, 2, 85.0, "4.0", "6.0")
SEPTEMBER = figures(0, 0, 0, None, 1, 1, 0, 0.0, 0, 0, None, 0, None, 0, 0, None, "0.0", "2.0")
OCTOBER = figures(3, 2, 1, 0.6667, 3, 5, 1, 0.2, 2, 1, 0.5, 2, 50.0, 10, 1, 80.0, "4.0", "2.0")
NOVEMBER = figures(0, 0, 1, None, 2, 2, 1, 0.5, 0, 1, None, 1, 100.0, 10, 1, 90.0, "0.0", "2.0")


@pytest.fixture(scope="module")
async def world(client, password_hash) -> World:
    return await build(client, password_hash)


async def ask(client, world: World, who: str, breakdown: str | None = None, **filters) -> dict:
    token = await token_for(client, world.code, who)
    variables = {"filter": {"from": "2026-09-01", "to": "2026-11-30", **filters}, "breakdown": breakdown}
    return await gql(client, REPORT, variables, token=token)


def error_code(body: dict) -> str:
    assert body.get("errors"), body
    return body["errors"][0]["extensions"]["code"]


async def test_total_and_monthly_series(client, world: World) -> None:
    body = await ask(client, world, "HR1")
    report = body["data"]["trainingEffect"]
    assert (report["from"], report["to"]) == ("2026-09-01", "2026-11-30")
    assert report["total"] == TOTAL
    assert report["series"] == [
        {"month": "2026-09", "figures": SEPTEMBER},
        {"month": "2026-10", "figures": OCTOBER},
        {"month": "2026-11", "figures": NOVEMBER},
    ]
    assert report["breakdown"] == [] and report["modules"] == []


async def test_breakdown_by_org_unit_and_by_course(client, world: World) -> None:
    units = world.company.org_units
    body = await ask(client, world, "HR1", "ORG_UNIT")
    assert body["data"]["trainingEffect"]["breakdown"] == [
        {  # LRN
            "key": world.id("OrgUnit", units["east"].id),
            "label": "华东销售组",
            "figures": figures(1, 1, None, 1.0, 1, 2, 0, 0.0, 1, 1, 1.0, 2, 50.0, 0, 0, None, "2.0", "2.0"),
        },
        {  # OTH
            "key": world.id("OrgUnit", units["plant"].id),
            "label": "生产部",
            "figures": figures(1, 1, None, 1.0, 1, 1, 1, 1.0, 0, 0, None, 0, None, 10, 1, 90.0, "2.0", "2.0"),
        },
        {  # S2
            "key": world.id("OrgUnit", units["sales"].id),
            "label": "销售部",
            "figures": figures(1, 0, None, 0.0, 1, 2, 1, 0.5, 1, 1, 1.0, 1, 100.0, 10, 1, 80.0, "0.0", "2.0"),
        },
    ]
    courses = world.company.courses
    body = await ask(client, world, "HR1", "COURSE")
    assert body["data"]["trainingEffect"]["breakdown"] == [
        {
            "key": world.id("Course", courses["A-001"].id),
            "label": "A-001 安全生产操作规程",
            "figures": figures(3, 2, 1, 0.6667, 3, 3, 1, 0.3333, 0, 0, None, 0, None, 10, 1, 90.0, "4.0", "2.0"),
        },
        {
            "key": world.id("Course", courses["S-001"].id),
            "label": "S-001 销售基础",
            "figures": figures(0, 0, 1, None, 2, 2, 1, 0.5, 2, 2, 1.0, 3, 66.7, 10, 1, 80.0, "0.0", "4.0"),
        },
    ]


async def test_course_filter_and_module_drop_off(client, world: World) -> None:
    course = world.company.courses["S-001"]
    body = await ask(client, world, "HR1", courseId=world.id("Course", course.id))
    report = body["data"]["trainingEffect"]
    assert report["total"] == figures(0, 0, 1, None, 2, 2, 1, 0.5, 2, 2, 1.0, 3, 66.7, 10, 1, 80.0, "0.0", "4.0")
    modules = [(m["position"], m["title"], m["started"], m["completed"]) for m in report["modules"]]
    # S2 finished every module; LRN the lesson and the quiz, not the ten practice rounds.
    assert modules == [(1, "学习", 2, 2), (2, "练习", 2, 1), (3, "测验", 2, 2)]
    assert report["modules"][2]["moduleId"] == world.id("CourseModule", world.quiz_module.id)


async def test_ragged_period_reads_day_and_month_rows(client, world: World) -> None:
    token = await token_for(client, world.code, "HR1")
    body = await gql(client, REPORT, {"filter": {"from": "2026-09-15", "to": "2026-11-12"}}, token=token)
    report = body["data"]["trainingEffect"]
    total = report["total"]
    # In: all of October, LRN's pass 11-03, session B, OTH's lesson 11-12.
    # Out: S2's lesson 09-10, OTH's practice and completion 11-13, OTH's evaluation 11-14.
    assert (total["practiceConfirmed"], total["evaluations"], total["coursesCompleted"]) == (10, 1, 1)
    assert (total["sessionsHeld"], total["quizAttempts"], total["creditsEarned"]) == (2, 3, "4.0")
    assert (total["participants"], total["courseLearners"]) == (3, 5)
    months = [(m["month"], m["figures"]["practiceConfirmed"], m["figures"]["creditsEarned"]) for m in report["series"]]
    assert months == [("2026-09", 0, "0.0"), ("2026-10", 10, "2.0"), ("2026-11", 0, "2.0")]


async def test_manager_sees_own_subtree_only(client, world: World) -> None:
    body = await ask(client, world, "MGR")
    # S2 and LRN (销售部 and 华东销售组); sessions are not narrowed by units.
    assert body["data"]["trainingEffect"]["total"] == figures(
        2, 1, 2, 0.5, 2, 4, 1, 0.25, 2, 2, 1.0, 3, 66.7, 10, 1, 80.0, "2.0", "4.0"
    )
    east = world.id("OrgUnit", world.company.org_units["east"].id)
    body = await ask(client, world, "MGR", orgUnitId=east)
    assert body["data"]["trainingEffect"]["total"]["creditsEarned"] == "2.0"
    plant = world.id("OrgUnit", world.company.org_units["plant"].id)
    assert error_code(await ask(client, world, "MGR", orgUnitId=plant)) == "FORBIDDEN"
    body = await ask(client, world, "HR1", orgUnitId=plant)
    assert body["data"]["trainingEffect"]["total"]["participants"] == 1


async def test_roles_ids_and_periods(client, world: World, password_hash) -> None:
    assert error_code(await ask(client, world, "LRN")) == "FORBIDDEN"
    other = await make_company(password_hash)
    for name, type_name, row_id in (
        ("orgUnitId", "OrgUnit", other.org_units["root"].id),
        ("siteId", "Site", other.sites["hq"].id),
        ("courseId", "Course", other.courses["S-001"].id),
    ):
        assert error_code(await ask(client, world, "HR1", **{name: world.id(type_name, row_id)})) == "NOT_FOUND"
    token = await token_for(client, world.code, "HR1")
    # Reversed, and 3,660 days apart (over ten years).
    for first, last in (("2026-11-30", "2026-09-01"), ("2016-01-01", "2026-01-08")):
        body = await gql(client, REPORT, {"filter": {"from": first, "to": last}}, token=token)
        assert error_code(body) == "VALIDATION"
    body = await gql(client, REPORT, {"filter": {"from": "2016-01-01", "to": "2026-01-07"}}, token=token)
    assert len(body["data"]["trainingEffect"]["series"]) == 121  # 3,659 days: accepted


async def test_service_and_export_table(world: World) -> None:
    report_filter = ReportFilter(Period.of(date(2026, 9, 1), date(2026, 11, 30)))
    hr = viewer_of(world.company, "HR1", Role.HR_ADMIN)
    report = await training_effect.training_effect(hr, report_filter, Dimension.SITE)
    # Session A and B's sites: HQ (S2, OTH, session A) and the remote site (LRN, session B).
    held = {entry.label: entry.figures.sessions_held for entry in report.breakdown}
    assert held == {"上海总部": 1, "乌鲁木齐办事处": 1}
    table = await training_effect.export_table(hr, ReportOptions(filter=report_filter))
    assert [column.header("en") for column in table.columns][:3] == ["Month", "Enrolled", "Attended"]
    assert table.columns[0].header("zh-CN") == "月份"
    rows = [list(row) async for row in table.rows]
    assert [row[0] for row in rows] == ["2026-09", "2026-10", "2026-11"]
    assert rows[1][:4] == ["2026-10", 3, 2, 1]
    assert str(rows[2][-1]) == "2.0" and table.total == 3
    table = await training_effect.export_table(hr, ReportOptions(filter=report_filter, breakdown=Dimension.COURSE))
    rows = [list(row) async for row in table.rows]
    assert [row[0] for row in rows] == ["A-001 安全生产操作规程", "S-001 销售基础"]
    with pytest.raises(DomainError) as refused:
        await training_effect.training_effect(viewer_of(world.company, "LRN"), report_filter)
    assert refused.value.code == ErrorCode.FORBIDDEN
