"""The growth profile over HTTP on the known company of tests/report_world.py, where LRN also logs
practice (pushed, 11-21) that MGR, their mentor, confirms (pushed, 11-22) and scores 5 on every
criterion of the role-play rubric (pushed, 11-23): the whole timeline in
order with its figures, paged with ``after``, narrowed to a period, the summary, who may see whose
profile, one statement per page, and the export read page by page.

LRN's facts, newest first (times 02:00 UTC; pushed records carry a millisecond or so of clock
correction, so times are compared to the second):

| when | kind | what |
| --- | --- | --- |
| 11-23 | SKILL_CHANGE | 消防安全 0 → 60 (the evaluation's 100 % of the course's 60) |
| 11-23 | EVALUATION | 练习 (安全生产操作规程) 100 % by 孟经理, SUBMITTED |
| 11-22 | PRACTICE_CONFIRMED | 练习 (安全生产操作规程) ×3 by 孟经理 |
| 11-21 | PRACTICE_LOGGED | 练习 ×3, CONFIRMED now |
| 11-20 | CREDIT | REDEEM −1.5 定制水杯 |
| 11-03 | SKILL_CHANGE | 谈判技巧 0 → 40 (the quiz's 100 %) |
| 11-03 | QUIZ_ATTEMPT | 销售基础测验 100 % passed, attempt 2 |
| 10-15 | CHECK_IN | 场次A, PRESENT (marked by HR: at the session's start) |
| 10-09 | QUIZ_ATTEMPT | 0 %, attempt 1 |
| 10-08 | LESSON_COMPLETED | 学习 (销售基础) |
| 10-08 | CREDIT | EARN 2.0 (the lesson rule) |
| 10-01 | COURSE_COMPLETED | 销售基础 (the factory's completion) |
"""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from backend.errors import DomainError, ErrorCode
from backend.ids import to_global_id
from backend.models import (
    CourseModule,
    Employee,
    EmployeeRole,
    Mentorship,
    ModuleKind,
    PositionSkill,
    PracticeLog,
    Role,
    RubricCriterion,
)
from backend.services.reports import growth_profile
from backend.services.reports.frame import Period, ReportFilter
from backend.services.reports.tables import ReportOptions
from tests.conftest import count_queries
from tests.factories import make_company
from tests.graphql_client import gql, token_for
from tests.report_world import World, _push, at, build, viewer_of

EVENT = "kind at sourceId title courseTitle percent passed quantity amount levelBefore levelAfter person detail"
PROFILE = f"""
query G($employee: ID!, $first: Int, $after: String, $from: Date, $to: Date) {{
  growthProfile(employeeId: $employee, first: $first, after: $after, from: $from, to: $to) {{
    employeeId employeeNo name
    summary {{ coursesCompleted creditBalance lifetimeEarned skills {{ name level required }}
      mentors {{ name courseTitle }} }}
    events {{ totalCount pageInfo {{ hasNextPage hasPreviousPage endCursor }} edges {{ cursor node {{ {EVENT} }} }} }}
  }}
}}
"""


def event(kind: str, day: str, title: str | None, course: str | None, **figures) -> dict:
    """An expected event: ``day`` is MM-DD of 2026 at 02:00 UTC (compared to the second)."""
    shown = {
        "kind": kind,
        "at": f"2026-{day}T02:00:00" if kind != "COURSE_COMPLETED" else f"2026-{day}T00:00:00",
        "title": title,
        "courseTitle": course,
        "percent": None,
        "passed": None,
        "quantity": None,
        "amount": None,
        "levelBefore": None,
        "levelAfter": None,
        "person": None,
        "detail": None,
    }
    shown.update(figures)
    return shown


SAFETY, SALES = "安全生产操作规程", "销售基础"
TIMELINE = [
    event(
        "SKILL_CHANGE", "11-23", "消防安全", None, percent=100, levelBefore=0, levelAfter=60, detail="MENTOR_EVALUATION"
    ),
    event("EVALUATION", "11-23", "练习", SAFETY, percent=100, person="孟经理", detail="SUBMITTED"),
    event("PRACTICE_CONFIRMED", "11-22", "练习", SAFETY, quantity=3, person="孟经理"),
    event("PRACTICE_LOGGED", "11-21", "练习", SAFETY, quantity=3, detail="CONFIRMED"),
    event("CREDIT", "11-20", "定制水杯", None, amount="-1.5", detail="REDEEM"),
    event("SKILL_CHANGE", "11-03", "谈判技巧", None, percent=100, levelBefore=0, levelAfter=40, detail="QUIZ_ATTEMPT"),
    event("QUIZ_ATTEMPT", "11-03", "销售基础测验", SALES, percent=100, passed=True, detail="attempt 2"),
    event("CHECK_IN", "10-15", "场次A", SAFETY, detail="PRESENT"),
    event("QUIZ_ATTEMPT", "10-09", "销售基础测验", SALES, percent=0, passed=False, detail="attempt 1"),
    event("LESSON_COMPLETED", "10-08", "学习", SALES),
    event("CREDIT", "10-08", "", SALES, amount="2.0", detail="EARN"),
    event("COURSE_COMPLETED", "10-01", SALES, SALES),
]


@pytest.fixture(scope="module")
async def world(client, password_hash) -> World:
    world = await build(client, password_hash)
    company = world.company
    practice = await CourseModule.get(course=company.courses["A-001"], kind=ModuleKind.PRACTICE)
    log = {
        "id": str(uuid.uuid4()),
        "seq": 4,
        "kind": "PRACTICE_LOG",
        "occurredAt": at(11, 21).isoformat(),
        "payload": {"moduleId": to_global_id("CourseModule", practice.id), "quantity": 3},
    }
    await _push(client, company, "LRN", [log])
    logged = await PracticeLog.get(employee_id=company.employees["LRN"].id)
    review = {
        "id": str(uuid.uuid4()),
        "seq": 1,
        "kind": "PRACTICE_REVIEW",
        "occurredAt": at(11, 22).isoformat(),
        "payload": {"practiceId": to_global_id("PracticeLog", logged.id), "decision": "CONFIRMED"},
    }
    # MGR then scores LRN's practice on the role-play rubric: 5 on every criterion (100 %).
    await CourseModule.filter(id=practice.id).update(rubric_id=company.rubrics["ROLEPLAY"].id)
    criteria = await RubricCriterion.filter(rubric_id=company.rubrics["ROLEPLAY"].id).order_by("position")
    evaluation = {
        "id": str(uuid.uuid4()),
        "seq": 2,
        "kind": "MENTOR_EVALUATION",
        "occurredAt": at(11, 23).isoformat(),
        "payload": {
            "evaluationId": str(uuid.uuid4()),
            "menteeId": to_global_id("Employee", company.employees["LRN"].id),
            "moduleId": to_global_id("CourseModule", practice.id),
            "baseVersion": 0,
            "scores": {to_global_id("RubricCriterion", c.id): 5 for c in criteria},
            "submit": True,
        },
    }
    await _push(client, company, "MGR", [review, evaluation])
    # MEN mentors LRN since 11-01 (not their manager); OLD mentored them until 06-30.
    for no, starts, ends in (("MEN", date(2026, 11, 1), None), ("OLD", date(2026, 1, 1), date(2026, 6, 30))):
        person = await Employee.create(
            tenant=company.tenant,
            employee_no=no,
            name=f"导师{no}",
            password_hash=password_hash,
            org_unit=company.org_units["sales"],
            site=company.sites["hq"],
        )
        company.employees[no] = person
        for role in (Role.EMPLOYEE, Role.MENTOR):
            await EmployeeRole.create(tenant=company.tenant, employee=person, role=role)
        await Mentorship.create(
            tenant=company.tenant, mentor=person, mentee=company.employees["LRN"], starts_on=starts, ends_on=ends
        )
    await PositionSkill.create(
        tenant=company.tenant,
        position_id=company.employees["LRN"].position_id,
        skill=company.skills["SAFE"],
        required_level=60,
    )
    return world


async def ask(client, world: World, who: str, whose: str = "LRN", **variables) -> dict:
    token = await token_for(client, world.code, who)
    employee = world.id("Employee", world.company.employees[whose].id)
    return await gql(client, PROFILE, {"employee": employee, **variables}, token=token)


def shown(edges: list[dict]) -> list[dict]:
    nodes = []
    for edge in edges:
        node = {key: value for key, value in edge["node"].items() if key != "sourceId"}
        node["at"] = node["at"][:19]
        nodes.append(node)
    return nodes


def error_code(body: dict) -> str:
    assert body.get("errors"), body
    return body["errors"][0]["extensions"]["code"]


async def test_whole_timeline_and_summary(client, world: World) -> None:
    body = await ask(client, world, "LRN", first=20)
    assert "errors" not in body, body
    profile = body["data"]["growthProfile"]
    assert (profile["employeeNo"], profile["name"]) == ("LRN", "李学员")
    assert profile["summary"] == {
        "coursesCompleted": 1,
        "creditBalance": "0.5",
        "lifetimeEarned": "2.0",
        "skills": [
            {"name": "消防安全", "level": 60, "required": 60},
            {"name": "谈判技巧", "level": 40, "required": None},
        ],
        "mentors": [{"name": "孟经理", "courseTitle": None}, {"name": "导师MEN", "courseTitle": None}],
    }
    events = profile["events"]
    assert shown(events["edges"]) == TIMELINE
    assert events["totalCount"] == 12
    assert events["pageInfo"]["hasNextPage"] is False
    # The source ids: the practice log is one row, logged and confirmed.
    log = await PracticeLog.get(employee_id=world.company.employees["LRN"].id)
    ids = [edge["node"]["sourceId"] for edge in events["edges"]]
    assert ids[2] == ids[3] == str(log.id)


async def test_paging_with_after_and_a_period(client, world: World) -> None:
    seen, after, pages = [], None, 0
    while True:
        body = await ask(client, world, "HR1", first=4, after=after)
        events = body["data"]["growthProfile"]["events"]
        seen += shown(events["edges"])
        pages += 1
        assert events["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not events["pageInfo"]["hasNextPage"]:
            break
        after = events["pageInfo"]["endCursor"]
    assert pages == 3 and seen == TIMELINE
    # Local days 10-08 to 10-15 (Asia/Shanghai): the check-in, the first attempt, the lesson and its credit.
    body = await ask(client, world, "LRN", **{"from": "2026-10-08", "to": "2026-10-15"})
    assert shown(body["data"]["growthProfile"]["events"]["edges"]) == TIMELINE[7:11]
    body = await ask(client, world, "LRN", **{"from": "2026-10-15", "to": "2026-10-08"})
    assert error_code(body) == "VALIDATION"
    assert error_code(await ask(client, world, "LRN", after="not-a-cursor")) == "VALIDATION"


async def test_who_may_see(client, world: World, password_hash) -> None:
    for who in ("LRN", "MGR", "MEN", "HR1"):
        body = await ask(client, world, who, first=1)
        assert "errors" not in body, (who, body)
    for who in ("OTH", "S2", "OLD"):
        assert error_code(await ask(client, world, who, first=1)) == "FORBIDDEN", who
    # MGR manages and mentors LRN only: S2's profile is not theirs to see.
    assert error_code(await ask(client, world, "MGR", "S2")) == "FORBIDDEN"
    other = await make_company(password_hash)
    token = await token_for(client, other.code, "HR1")
    body = await gql(
        client, PROFILE, {"employee": world.id("Employee", world.company.employees["LRN"].id)}, token=token
    )
    assert error_code(body) == "NOT_FOUND"


async def test_one_statement_per_page_and_the_export(world: World, monkeypatch) -> None:
    company = world.company
    learner = company.employees["LRN"]
    with count_queries() as statements:
        page = await growth_profile.timeline_page(company.tenant.id, learner.id, 4, None)
    assert len(statements) == 1 and len(page.items) == 4
    monkeypatch.setattr(growth_profile, "EXPORT_PAGE", 5)  # three pages for twelve events
    table = await growth_profile.export_table(viewer_of(company, "LRN"), ReportOptions(employee_id=learner.id))
    rows = [list(row) async for row in table.rows]
    assert [row[1] for row in rows] == [e["kind"] for e in TIMELINE]
    assert rows[4][1:12] == ["CREDIT", "定制水杯", None, None, None, None, rows[4][7], None, None, None, "REDEEM"]
    assert str(rows[4][7]) == "-1.5"
    assert table.title("zh-CN") == "成长档案 李学员"
    period = ReportFilter(Period.of(date(2026, 10, 8), date(2026, 10, 15)))
    table = await growth_profile.export_table(
        viewer_of(company, "HR1", Role.HR_ADMIN), ReportOptions(employee_id=learner.id, filter=period)
    )
    assert [row[1] async for row in table.rows] == ["CHECK_IN", "QUIZ_ATTEMPT", "LESSON_COMPLETED", "CREDIT"]
    with pytest.raises(DomainError) as refused:
        await growth_profile.export_table(viewer_of(company, "OTH"), ReportOptions(employee_id=learner.id))
    assert refused.value.code == ErrorCode.FORBIDDEN
