"""OJT plans and their assignments through the real HTTP app: HR's plan authoring and its
refusals; plans given on hire and on transfer (and by an import, in a fixed number of statements),
by HR for an org unit's subtree and by a manager for their team only; statuses derived from synced
facts (module progress, course completions of any version); the scheduled checks' reminders and
escalations told exactly once over reruns; waivers; skill gap plans; the feed carrying an
assignment to its employee's phone and nobody else's; pages of assignments at a constant cost."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from backend.ids import from_global_id, to_global_id
from backend.models import (
    AssignmentSource,
    AuditEntry,
    Course,
    CourseFormat,
    CourseModule,
    CourseStatus,
    Employee,
    EmployeeRole,
    EmployeeSkill,
    ModuleKind,
    Notification,
    NotificationKind,
    OjtAssignment,
    Position,
    PositionSkill,
    Role,
    SyncChange,
)
from backend.services.imports import jobs
from backend.services.imports.registry import KINDS
from backend.services.notifications import scheduler
from backend.services.ojt import assignment_checks
from tests.conftest import count_queries
from tests.factories import Company, make_company
from tests.graphql_client import gql, token_for
from tests.sync_helpers import PULL, PUSH, lesson, pull_input, push_input

ERRORS = "errors { code field message }"
HOURLY_CHECK = next(job for job in scheduler.JOBS if job.name == "ojt_assignment_checks")
ITEM = "courseId courseCode moduleId title dueOn required done"
ASSIGNMENT = (
    f"id source startsOn dueOn status completedAt dueSoon remainingCount mentorRequired mentorMissing waivedReason "
    f"escalatedAt remindedAt plan {{ id code name }} employee {{ employeeNo }} items {{ {ITEM} }}"
)
PLAN = (
    "id code name description trigger gapThreshold mentorRequired dueDays remindDays isActive version "
    "position { code } orgUnit { code } skill { code } "
    "items { courseId courseCode moduleId title dueDays required requiredCount }"
)
CREATE = f"""
mutation Create($input: CreateOjtPlanInput!) {{ createOjtPlan(input: $input) {{ plan {{ {PLAN} }} {ERRORS} }} }}"""
UPDATE = f"""
mutation Update($input: UpdateOjtPlanInput!) {{ updateOjtPlan(input: $input) {{ plan {{ {PLAN} }} {ERRORS} }} }}"""
ACTIVE = f"""
mutation Active($input: SetOjtPlanActiveInput!) {{
  setOjtPlanActive(input: $input) {{ plan {{ id isActive version }} {ERRORS} }}
}}"""
ASSIGN = f"""
mutation Assign($input: AssignOjtPlanInput!) {{
  assignOjtPlan(input: $input) {{
    assignedCount alreadyAssignedCount assignments {{ {ASSIGNMENT} }} {ERRORS}
  }}
}}"""
WAIVE = f"""
mutation Waive($input: WaiveOjtAssignmentInput!) {{
  waiveOjtAssignment(input: $input) {{ assignment {{ {ASSIGNMENT} }} {ERRORS} }}
}}"""
MINE = f"query {{ myOjtAssignments {{ {ASSIGNMENT} }} }}"
PAGE = f"""
query Page($first: Int!, $filter: OjtAssignmentFilter) {{
  ojtAssignments(first: $first, filter: $filter) {{
    totalCount edges {{ node {{ {ASSIGNMENT} assignedBy {{ employeeNo }} plan {{ items {{ title }} }} }} }}
  }}
}}"""
HIRE = f"""
mutation Hire($input: HireEmployeeInput!) {{ hireEmployee(input: $input) {{ employee {{ id }} {ERRORS} }} }}"""
TRANSFER = f"""
mutation Transfer($input: TransferEmployeeInput!) {{ transferEmployee(input: $input) {{ employee {{ id }} {ERRORS} }} }}"""
LEAVE = f"""
mutation Leave($input: LeaveEmployeeInput!) {{ leaveEmployee(input: $input) {{ employee {{ id }} {ERRORS} }} }}"""
REHIRE = f"""
mutation Rehire($input: RehireEmployeeInput!) {{ rehireEmployee(input: $input) {{ employee {{ id }} {ERRORS} }} }}"""
NAMES = {
    CREATE: "createOjtPlan",
    UPDATE: "updateOjtPlan",
    ACTIVE: "setOjtPlanActive",
    ASSIGN: "assignOjtPlan",
    WAIVE: "waiveOjtAssignment",
    HIRE: "hireEmployee",
    TRANSFER: "transferEmployee",
    LEAVE: "leaveEmployee",
    REHIRE: "rehireEmployee",
}


def gid(kind: str, row: Any) -> str:
    return to_global_id(kind, row if isinstance(row, int) else row.id)


def today_of(company: Company) -> date:
    return datetime.now(ZoneInfo(company.tenant.time_zone)).date()


async def send(client, document: str, data: dict[str, Any], token: str) -> dict[str, Any]:
    body = await gql(client, document, {"input": data}, token=token)
    assert "errors" not in body, body
    return body["data"][NAMES[document]]


def refusal(payload: dict[str, Any]) -> tuple[str, str | None]:
    (error,) = payload["errors"]
    return error["code"], error["field"]


async def position(company: Company, code: str) -> Position:
    return await Position.get(tenant_id=company.tenant.id, code=code)


async def lesson_course(company: Company, code: str, title: str, count: int = 1, previous: Course | None = None):
    """A published course of one lesson module done ``count`` times: its completion is one push away."""
    course = await Course.create(
        tenant=company.tenant,
        code=code,
        title=title,
        format=CourseFormat.ONLINE,
        status=CourseStatus.PUBLISHED,
        hours=Decimal("1.0"),
        credits=Decimal("1.0"),
        previous_version=previous,
    )
    module = await CourseModule.create(
        tenant=company.tenant,
        course=course,
        position=1,
        title=f"{title}·学习",
        kind=ModuleKind.LESSON,
        required_count=count,
    )
    company.courses[code] = course
    return course, module


def plan_input(code: str, *items: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"code": code, "name": f"{code} 培训计划", "items": list(items), **extra}


def course_item(course: Course, **extra: Any) -> dict[str, Any]:
    return {"courseId": gid("Course", course), **extra}


async def create_plan(client, token: str, data: dict[str, Any]) -> dict[str, Any]:
    payload = await send(client, CREATE, data, token)
    assert payload["errors"] == [], payload
    return payload["plan"]


async def new_notices(company: Company, kind: NotificationKind) -> list[tuple[int, str]]:
    rows = Notification.filter(tenant_id=company.tenant.id, kind=kind).order_by("id")
    return [(row.recipient_id, row.event_key) for row in await rows]


async def assignments_of(company: Company, employee: Employee | int) -> list[OjtAssignment]:
    employee_id = employee if isinstance(employee, int) else employee.id
    return await OjtAssignment.filter(tenant_id=company.tenant.id, employee_id=employee_id).order_by("id")


async def mine(client, token: str) -> list[dict[str, Any]]:
    body = await gql(client, MINE, token=token)
    assert "errors" not in body, body
    return body["data"]["myOjtAssignments"]


@pytest.fixture
async def company(password_hash) -> Company:
    return await make_company(password_hash, courses=True)


@pytest.fixture
async def hr(client, company) -> str:
    return await token_for(client, company.code, "HR1")


# --- authoring ---------------------------------------------------------------------------------------


async def test_hr_writes_a_plan_and_every_bad_input_is_refused(client, company, hr, password_hash):
    s1, s2, s3 = (company.courses[code] for code in ("S-001", "S-002", "S-003"))
    s2_practice = await CourseModule.get(course=s2, position=2)
    sales_1 = await position(company, "SAL-1")
    good = plan_input(
        "OJT-SAL-1",
        course_item(s1, dueDays=7),
        course_item(s2, moduleId=gid("CourseModule", s2_practice), dueDays=20),
        course_item(s3, required=False),
        positionId=gid("Position", sales_1),
        orgUnitId=gid("OrgUnit", company.org_units["sales"]),
        description="新员工入职 30 天内完成",
        mentorRequired=True,
    )
    refused = [
        ({**good, "items": []}, ("VALIDATION", "items")),
        ({**good, "items": [course_item(s1, dueDays=31)]}, ("VALIDATION", "items.0.dueDays")),
        ({**good, "items": [course_item(s1, dueDays=0)]}, ("VALIDATION", "items.0.dueDays")),
        ({**good, "dueDays": 3651}, ("VALIDATION", "dueDays")),
        ({**good, "items": [course_item(s1, required=False)]}, ("VALIDATION", "items")),
        ({**good, "items": [course_item(s1), course_item(s1)]}, ("VALIDATION", "items")),
        (
            {**good, "items": [course_item(s1, moduleId=gid("CourseModule", s2_practice))]},
            ("VALIDATION", "items.0.moduleId"),
        ),
        ({**good, "skillId": gid("Skill", company.skills["NEG"])}, ("VALIDATION", "gapThreshold")),
        ({**good, "gapThreshold": 3}, ("VALIDATION", "skillId")),
        ({**good, "skillId": gid("Skill", company.skills["NEG"]), "gapThreshold": 0}, ("VALIDATION", "gapThreshold")),
        ({**good, "code": "ojt sales"}, ("VALIDATION", "code")),
        ({**good, "name": " "}, ("VALIDATION", "name")),
    ]
    other = await make_company(password_hash, courses=True)
    refused += [
        ({**good, "items": [course_item(other.courses["S-001"])]}, ("NOT_FOUND", "items.0.courseId")),
        ({**good, "positionId": gid("Position", await position(other, "SAL-1"))}, ("NOT_FOUND", "positionId")),
        ({**good, "orgUnitId": gid("OrgUnit", other.org_units["sales"])}, ("NOT_FOUND", "orgUnitId")),
    ]
    for data, expected in refused:
        assert refusal(await send(client, CREATE, data, hr)) == expected, data

    plan = await create_plan(client, hr, good)
    assert (plan["code"], plan["name"], plan["trigger"], plan["dueDays"], plan["remindDays"]) == (
        "OJT-SAL-1",
        "OJT-SAL-1 培训计划",
        "PLACEMENT",
        30,
        3,
    )
    assert (plan["position"]["code"], plan["orgUnit"]["code"], plan["mentorRequired"]) == ("SAL-1", "SALES", True)
    assert [(i["courseCode"], i["dueDays"], i["required"], i["requiredCount"]) for i in plan["items"]] == [
        ("S-001", 7, True, 1),
        ("S-002", 20, True, 10),
        ("S-003", 30, False, 1),
    ]
    assert plan["items"][1]["title"] == "客户拜访实战 · 练习"
    assert refusal(await send(client, CREATE, good, hr)) == ("ALREADY_EXISTS", "code")
    learner = await token_for(client, company.code, "LRN")
    assert refusal(await send(client, CREATE, {**good, "code": "OJT-X"}, learner)) == ("FORBIDDEN", None)

    # An update checks the whole plan again; items replace the old ones; the version goes up.
    changed = await send(client, UPDATE, {"planId": plan["id"], "dueDays": 10}, hr)
    assert refusal(changed) == ("VALIDATION", "items.1.dueDays")  # 20 days no longer fits in 10
    changed = await send(client, UPDATE, {"planId": plan["id"], "items": [course_item(s1)], "orgUnitId": None}, hr)
    assert changed["errors"] == []
    assert (changed["plan"]["version"], changed["plan"]["orgUnit"], len(changed["plan"]["items"])) == (2, None, 1)
    audit = await AuditEntry.filter(tenant_id=company.tenant.id, action="ojt.plan.update").get()
    assert (audit.details["before"]["orgUnitId"], audit.details["after"]["orgUnitId"]) == (
        company.org_units["sales"].id,
        None,
    )
    assert len(audit.details["before"]["items"]) == 3 and len(audit.details["after"]["items"]) == 1
    assert await AuditEntry.filter(tenant_id=company.tenant.id, action="ojt.plan.create").count() == 1


# --- placement: hire, transfer, import ---------------------------------------------------------------


async def test_a_hire_into_the_position_gets_the_plan_and_only_they_are_told(client, company, hr):
    sales_1 = await position(company, "SAL-1")
    plan = await create_plan(
        client,
        hr,
        plan_input("OJT-NEW", course_item(company.courses["S-001"]), positionId=gid("Position", sales_1), dueDays=30),
    )
    # An org unit plan for the plant: not theirs.
    await create_plan(
        client,
        hr,
        plan_input(
            "OJT-PLANT", course_item(company.courses["S-004"]), orgUnitId=gid("OrgUnit", company.org_units["plant"])
        ),
    )
    today = today_of(company)
    hired = await send(
        client,
        HIRE,
        {
            "employeeNo": "200-01",
            "name": "贺新人",
            "orgUnitId": gid("OrgUnit", company.org_units["east"]),
            "positionId": gid("Position", sales_1),
            "managerId": gid("Employee", company.employees["MGR"]),
            "hiredOn": today.isoformat(),
        },
        hr,
    )
    assert hired["errors"] == []
    newcomer = await Employee.get(tenant_id=company.tenant.id, employee_no="200-01")
    (given,) = await assignments_of(company, newcomer)
    assert (gid("OjtPlan", given.plan_id), given.source, given.starts_on, given.due_on, given.assigned_by_id) == (
        plan["id"],
        "HIRE",
        today,
        today + timedelta(days=30),
        company.employees["HR1"].id,
    )
    assert await new_notices(company, NotificationKind.ASSIGNMENT_NEW) == [(newcomer.id, f"assignment:{given.id}:new")]
    notice = await Notification.get(tenant_id=company.tenant.id, recipient_id=newcomer.id)
    assert notice.params == {"plan": "OJT-NEW 培训计划", "dueOn": (today + timedelta(days=30)).isoformat(), "items": 1}
    assert notice.subject_id == gid("OjtAssignment", given.id)

    # Someone hired into another position gets nothing; a hire long ago (past the plan's window) neither.
    for number, place, day in (
        ("200-02", {"positionId": gid("Position", await position(company, "MGT-1"))}, today),
        ("200-03", {"positionId": gid("Position", sales_1)}, today - timedelta(days=400)),
    ):
        data = {"employeeNo": number, "name": "某人", "orgUnitId": gid("OrgUnit", company.org_units["east"])}
        assert (await send(client, HIRE, {**data, **place, "hiredOn": day.isoformat()}, hr))["errors"] == []
        person = await Employee.get(tenant_id=company.tenant.id, employee_no=number)
        assert await assignments_of(company, person) == []
    assert len(await new_notices(company, NotificationKind.ASSIGNMENT_NEW)) == 1


async def test_a_transfer_gives_the_plans_of_the_new_place_only(client, company, hr):
    plant_2 = await position(company, "PRD-2")
    learner = company.employees["LRN"]
    by_position = await create_plan(
        client, hr, plan_input("OJT-PRD", course_item(company.courses["S-004"]), positionId=gid("Position", plant_2))
    )
    by_unit = await create_plan(
        client,
        hr,
        plan_input(
            "OJT-PLANT", course_item(company.courses["A-001"]), orgUnitId=gid("OrgUnit", company.org_units["plant"])
        ),
    )
    # The learner's current place's plan (sales subtree): they had it before, so a move inside does not give it.
    await create_plan(
        client,
        hr,
        plan_input(
            "OJT-SALES", course_item(company.courses["S-001"]), orgUnitId=gid("OrgUnit", company.org_units["sales"])
        ),
    )
    day = today_of(company) - timedelta(days=2)
    moved = await send(
        client,
        TRANSFER,
        {
            "employeeId": gid("Employee", learner),
            "effectiveOn": day.isoformat(),
            "reason": "调岗",
            "orgUnitId": gid("OrgUnit", company.org_units["plant"]),
            "positionId": gid("Position", plant_2),
        },
        hr,
    )
    assert moved["errors"] == []
    given = await assignments_of(company, learner)
    assert sorted(gid("OjtPlan", a.plan_id) for a in given) == sorted([by_position["id"], by_unit["id"]])
    assert {(a.source, a.starts_on, a.due_on) for a in given} == {("TRANSFER", day, day + timedelta(days=30))}
    told = await new_notices(company, NotificationKind.ASSIGNMENT_NEW)
    assert sorted(told) == sorted((learner.id, f"assignment:{a.id}:new") for a in given)

    # A move within the plant (a new manager only) gives nothing new.
    again = await send(
        client,
        TRANSFER,
        {
            "employeeId": gid("Employee", learner),
            "effectiveOn": today_of(company).isoformat(),
            "reason": "换主管",
            "managerId": None,
        },
        hr,
    )
    assert again["errors"] == []
    assert len(await assignments_of(company, learner)) == 2
    # A plant plan written since: a new position inside the plant is no move into the plant.
    await create_plan(
        client,
        hr,
        plan_input(
            "OJT-PLANT-2", course_item(company.courses["A-002"]), orgUnitId=gid("OrgUnit", company.org_units["plant"])
        ),
    )
    inside = {
        "employeeId": gid("Employee", learner),
        "effectiveOn": today_of(company).isoformat(),
        "reason": "转岗",
        "positionId": gid("Position", await position(company, "MGT-1")),
    }
    assert (await send(client, TRANSFER, inside, hr))["errors"] == []
    assert len(await assignments_of(company, learner)) == 2


async def test_an_import_gives_the_plans_in_a_fixed_number_of_statements(client, company, hr, tmp_path: Path):
    sales_1 = await position(company, "SAL-1")
    await create_plan(
        client, hr, plan_input("OJT-NEW", course_item(company.courses["S-001"]), positionId=gid("Position", sales_1))
    )
    await create_plan(
        client,
        hr,
        plan_input(
            "OJT-EAST", course_item(company.courses["A-002"]), orgUnitId=gid("OrgUnit", company.org_units["east"])
        ),
    )
    header = "Employee no.,Name,Phone,E-mail,Org unit code,Position code,Site code,Manager no.,Mentor no.,Hired on,Roles,Left on"
    today = today_of(company).isoformat()

    async def run(count: int, prefix: str) -> list[str]:
        lines = [f"{prefix}-{n:03},新人{n},,,SALES-E,SAL-1,URC,MGR,,{today},," for n in range(count)]
        path = tmp_path / f"{prefix}.csv"
        path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
        job = await jobs.create_job(
            company.tenant.id,
            KINDS["employees"],
            path,
            path.name,
            dry_run=False,
            partial=False,
            actor_id=company.employees["HR1"].id,
        )
        with count_queries() as statements:
            done = await jobs.run_job(job, path, via="graphql", locale="en")
        assert done.problems == [] and done.created_count == count
        return [s for s in statements if "ojt_" in s]

    few, many = await run(3, "301"), await run(40, "302")
    assert len(few) == len(many) <= 4, many
    hires = await Employee.filter(tenant_id=company.tenant.id, employee_no__startswith="302-")
    given = await OjtAssignment.filter(tenant_id=company.tenant.id, employee_id__in=[e.id for e in hires])
    assert len(given) == 80 and {a.source for a in given} == {"HIRE"}
    assert len(await new_notices(company, NotificationKind.ASSIGNMENT_NEW)) == 86


# --- by hand -----------------------------------------------------------------------------------------


async def test_hr_gives_a_plan_to_an_org_unit_subtree_once(client, company, hr):
    plan = await create_plan(client, hr, plan_input("OJT-MANUAL", course_item(company.courses["S-001"])))
    assert plan["trigger"] == "MANUAL"
    start = today_of(company) - timedelta(days=3)
    data = {
        "planId": plan["id"],
        "orgUnitId": gid("OrgUnit", company.org_units["sales"]),
        "startsOn": start.isoformat(),
    }
    first = await send(client, ASSIGN, data, hr)
    assert (first["errors"], first["assignedCount"], first["alreadyAssignedCount"]) == ([], 2, 0)
    assert sorted(a["employee"]["employeeNo"] for a in first["assignments"]) == ["LRN", "MGR"]  # not OTH, not OFF
    assert {(a["source"], a["startsOn"], a["dueOn"]) for a in first["assignments"]} == {
        ("MANUAL", start.isoformat(), (start + timedelta(days=30)).isoformat())
    }
    second = await send(client, ASSIGN, data, hr)
    assert (second["errors"], second["assignedCount"], second["alreadyAssignedCount"], second["assignments"]) == (
        [],
        0,
        2,
        [],
    )
    assert len(await new_notices(company, NotificationKind.ASSIGNMENT_NEW)) == 2
    audits = await AuditEntry.filter(tenant_id=company.tenant.id, action="ojt.assign").order_by("id")
    assert [(a.details["assigned"], a.details["alreadyAssigned"]) for a in audits] == [(2, 0), (0, 2)]
    # Both employees and a unit, or neither: refused.
    both = {**data, "employeeIds": [gid("Employee", company.employees["LRN"])]}
    assert refusal(await send(client, ASSIGN, both, hr))[0] == "VALIDATION"
    assert refusal(await send(client, ASSIGN, {"planId": plan["id"]}, hr))[0] == "VALIDATION"
    # The inactive employee and a switched-off plan.
    off = {"planId": plan["id"], "employeeIds": [gid("Employee", company.employees["OFF"])]}
    assert refusal(await send(client, ASSIGN, off, hr)) == ("VALIDATION", "employeeIds")
    assert (await send(client, ACTIVE, {"planId": plan["id"], "active": False}, hr))["errors"] == []
    oth = {"planId": plan["id"], "employeeIds": [gid("Employee", company.employees["OTH"])]}
    assert refusal(await send(client, ASSIGN, oth, hr)) == ("VALIDATION", "planId")


async def test_a_manager_gives_plans_to_their_team_only(client, company, hr, password_hash):
    plan = await create_plan(client, hr, plan_input("OJT-TEAM", course_item(company.courses["S-001"])))
    manager = await token_for(client, company.code, "MGR")
    learner = await token_for(client, company.code, "LRN")
    mine_ = {"planId": plan["id"], "employeeIds": [gid("Employee", company.employees["LRN"])]}
    done = await send(client, ASSIGN, mine_, manager)
    assert (done["errors"], done["assignedCount"]) == ([], 1)
    assert done["assignments"][0]["employee"]["employeeNo"] == "LRN"
    outside = {"planId": plan["id"], "employeeIds": [gid("Employee", company.employees["OTH"])]}
    assert refusal(await send(client, ASSIGN, outside, manager)) == ("FORBIDDEN", "employeeIds")
    unit = {"planId": plan["id"], "orgUnitId": gid("OrgUnit", company.org_units["plant"])}
    assert refusal(await send(client, ASSIGN, unit, manager)) == ("FORBIDDEN", "orgUnitId")
    other = await make_company(password_hash, courses=True)
    foreign = {"planId": plan["id"], "employeeIds": [gid("Employee", other.employees["LRN"])]}
    assert refusal(await send(client, ASSIGN, foreign, manager)) == ("NOT_FOUND", "employeeIds")
    other_hr = await token_for(client, other.code, "HR1")
    assert refusal(await send(client, ASSIGN, mine_, other_hr)) == ("NOT_FOUND", "planId")
    assert refusal(await send(client, ASSIGN, mine_, learner)) == ("FORBIDDEN", None)
    assert await OjtAssignment.filter(tenant_id=company.tenant.id).count() == 1
    assert await OjtAssignment.filter(tenant_id=other.tenant.id).count() == 0

    # Managers read their team's, HR the company's; an employee only their own.
    team = await gql(client, PAGE, {"first": 10}, token=manager)
    assert [e["node"]["employee"]["employeeNo"] for e in team["data"]["ojtAssignments"]["edges"]] == ["LRN"]
    assert (await gql(client, PAGE, {"first": 10}, token=learner))["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    outside_unit = {"first": 10, "filter": {"orgUnitId": gid("OrgUnit", company.org_units["plant"])}}
    assert (await gql(client, PAGE, outside_unit, token=manager))["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert [a["employee"]["employeeNo"] for a in await mine(client, learner)] == ["LRN"]
    assert await mine(client, await token_for(client, company.code, "OTH")) == []


async def test_who_gives_a_plan_to_themselves_is_not_told_of_it(client, company, hr):
    """The person who caused an event is never told of it (docs/notification-events.md): a
    manager giving their whole unit a plan (themselves included) tells the others only."""
    plan = await create_plan(client, hr, plan_input("OJT-SELF", course_item(company.courses["S-001"])))
    manager = await token_for(client, company.code, "MGR")
    done = await send(
        client, ASSIGN, {"planId": plan["id"], "orgUnitId": gid("OrgUnit", company.org_units["sales"])}, manager
    )
    assert (done["errors"], done["assignedCount"]) == ([], 2)  # MGR and LRN
    learner = company.employees["LRN"]
    (given,) = await assignments_of(company, learner)
    assert await new_notices(company, NotificationKind.ASSIGNMENT_NEW) == [(learner.id, f"assignment:{given.id}:new")]


# --- statuses ----------------------------------------------------------------------------------------


async def test_status_follows_progress_and_completions_of_any_version(client, company, hr):
    c1, m1 = await lesson_course(company, "OJT-C1", "岗位安全须知")
    c2, m2 = await lesson_course(company, "OJT-C2", "设备操作", count=2)
    c1_v2, _ = await lesson_course(company, "OJT-C1-V2", "岗位安全须知（2026版）", previous=c1)
    plan = await create_plan(
        client,
        hr,
        plan_input(
            "OJT-STATUS",
            course_item(c1),
            course_item(c2, moduleId=gid("CourseModule", m2), dueDays=10),
            course_item(company.courses["A-002"], required=False),
        ),
    )
    by_version = await create_plan(client, hr, plan_input("OJT-V2", course_item(c1_v2)))
    learner = company.employees["LRN"]
    for made in (plan, by_version):
        data = {"planId": made["id"], "employeeIds": [gid("Employee", learner)]}
        assert (await send(client, ASSIGN, data, hr))["errors"] == []
    token = await token_for(client, company.code, "LRN")

    async def states() -> dict[str, dict[str, Any]]:
        return {a["plan"]["code"]: a for a in await mine(client, token)}

    first = await states()
    assert first["OJT-STATUS"]["status"] == "NOT_STARTED" and first["OJT-STATUS"]["remainingCount"] == 2
    assert [(i["title"], i["done"]) for i in first["OJT-STATUS"]["items"]] == [
        ("岗位安全须知", False),
        ("设备操作 · 设备操作·学习", False),
        ("Fire Safety 消防演练", False),
    ]
    start = date.fromisoformat(first["OJT-STATUS"]["startsOn"])
    assert first["OJT-STATUS"]["items"][1]["dueOn"] == (start + timedelta(days=10)).isoformat()

    pulled = (await gql(client, PULL, pull_input(), token=token))["data"]["syncPull"]["cursor"]
    pushed = await gql(client, PUSH, push_input([lesson(m2.id, 1)]), token=token)
    assert pushed["data"]["syncPush"]["results"][0]["status"] == "ACCEPTED", pushed
    second = await states()
    assert (second["OJT-STATUS"]["status"], second["OJT-STATUS"]["remainingCount"]) == ("IN_PROGRESS", 2)

    pushed = await gql(client, PUSH, push_input([lesson(m1.id, 2)]), token=token)  # completes OJT-C1
    assert pushed["data"]["syncPush"]["results"][0]["status"] == "ACCEPTED", pushed
    third = await states()
    assert (third["OJT-STATUS"]["status"], third["OJT-STATUS"]["remainingCount"]) == ("IN_PROGRESS", 1)
    assert third["OJT-V2"]["status"] == "COMPLETED"  # an earlier version of its course was completed
    # The completion reached the phone's copy of both assignments at once (not only at the next check).
    changes = (await gql(client, PULL, pull_input(pulled), token=token))["data"]["syncPull"]["changes"]
    fed = {c["data"]["plan"]["code"]: c["data"] for c in changes if c["entity"] == "OJT_ASSIGNMENT"}
    assert fed["OJT-V2"]["status"] == "COMPLETED"
    assert [i["done"] for i in fed["OJT-STATUS"]["items"]] == [True, False, False]

    pushed = await gql(client, PUSH, push_input([lesson(m2.id, 3)]), token=token)
    assert pushed["data"]["syncPush"]["results"][0]["status"] == "ACCEPTED", pushed
    fourth = await states()
    assert (fourth["OJT-STATUS"]["status"], fourth["OJT-STATUS"]["remainingCount"]) == ("COMPLETED", 0)
    assert fourth["OJT-STATUS"]["completedAt"] is not None

    # The checks store what the facts say, once.
    assert await assignment_checks.run_checks(company.tenant.id, datetime.now(UTC)) == 2
    stored = await assignments_of(company, learner)
    assert {(a.status, a.completed_at is not None) for a in stored} == {("COMPLETED", True)}
    assert await assignment_checks.run_checks(company.tenant.id, datetime.now(UTC)) == 0


# --- the scheduled checks ------------------------------------------------------------------------------


async def test_overdue_is_told_to_the_employee_and_escalated_once(client, company, hr):
    plan = await create_plan(client, hr, plan_input("OJT-LATE", course_item(company.courses["A-002"]), dueDays=30))
    start = today_of(company) - timedelta(days=40)
    data = {
        "planId": plan["id"],
        "employeeIds": [gid("Employee", company.employees[n]) for n in ("LRN", "OTH")],
        "startsOn": start.isoformat(),
    }
    assert (await send(client, ASSIGN, data, hr))["errors"] == []
    # A second HR admin: OTH has no manager, so both HR admins hear of it.
    hr2 = await Employee.create(
        tenant=company.tenant, employee_no="HR2", name="贺人事", password_hash="", org_unit=company.org_units["root"]
    )
    await EmployeeRole.create(tenant=company.tenant, employee=hr2, role=Role.HR_ADMIN)
    now = datetime.now(UTC)
    assert await assignment_checks.run_checks(company.tenant.id, now) == 2
    assert await assignment_checks.run_checks(company.tenant.id, now + timedelta(hours=1)) == 0

    learner, other, manager = (company.employees[n] for n in ("LRN", "OTH", "MGR"))
    stored = {a.employee_id: a for a in await OjtAssignment.filter(tenant_id=company.tenant.id)}
    assert {a.status for a in stored.values()} == {"OVERDUE"}
    assert all(a.escalated_at is not None and a.reminded_at is None for a in stored.values())
    overdue = await new_notices(company, NotificationKind.ASSIGNMENT_OVERDUE)
    assert sorted(overdue) == sorted(
        [
            (learner.id, f"assignment:{stored[learner.id].id}:overdue:{stored[learner.id].due_on}"),
            (other.id, f"assignment:{stored[other.id].id}:overdue:{stored[other.id].due_on}"),
        ]
    )
    escalated = await new_notices(company, NotificationKind.ASSIGNMENT_ESCALATED)
    assert sorted(escalated) == sorted(
        [
            (manager.id, f"assignment:{stored[learner.id].id}:escalated:{stored[learner.id].due_on}"),
            (company.employees["HR1"].id, f"assignment:{stored[other.id].id}:escalated:{stored[other.id].due_on}"),
            (hr2.id, f"assignment:{stored[other.id].id}:escalated:{stored[other.id].due_on}"),
        ]
    )
    told = await Notification.get(recipient_id=manager.id, kind=NotificationKind.ASSIGNMENT_ESCALATED)
    assert told.params == {
        "employee": "李学员",
        "plan": "OJT-LATE 培训计划",
        "dueOn": (start + timedelta(days=30)).isoformat(),
        "remaining": 1,
    }
    # Even if the stored marks were lost, a rerun tells nobody twice (the event keys).
    await OjtAssignment.filter(tenant_id=company.tenant.id).update(escalated_at=None, status="IN_PROGRESS")
    await assignment_checks.run_checks(company.tenant.id, now + timedelta(hours=2))
    assert len(await new_notices(company, NotificationKind.ASSIGNMENT_ESCALATED)) == 3
    assert len(await new_notices(company, NotificationKind.ASSIGNMENT_OVERDUE)) == 2
    # The team view: the manager filters overdue ones.
    token = await token_for(client, company.code, "MGR")
    page = await gql(client, PAGE, {"first": 10, "filter": {"overdueOnly": True}}, token=token)
    assert [e["node"]["status"] for e in page["data"]["ojtAssignments"]["edges"]] == ["OVERDUE"]


async def test_an_overdue_one_goes_to_hr_when_the_manager_cannot_act_on_it(client, company, hr):
    """A manager named on the employee who holds no manager role (or has left) can neither open
    nor waive the assignment: the HR admins are told instead, as for someone without a manager."""
    plan = await create_plan(client, hr, plan_input("OJT-LATE2", course_item(company.courses["A-002"]), dueDays=30))
    learner, other = company.employees["LRN"], company.employees["OTH"]
    await Employee.filter(id=learner.id).update(manager_id=other.id)  # OTH: an employee, no manager role
    start = today_of(company) - timedelta(days=40)
    data = {"planId": plan["id"], "employeeIds": [gid("Employee", learner)], "startsOn": start.isoformat()}
    assert (await send(client, ASSIGN, data, hr))["errors"] == []
    (given,) = await assignments_of(company, learner)
    # What the named manager would see of it: nothing.
    oth = await token_for(client, company.code, "OTH")
    found = await gql(
        client, "query($id: ID!) { ojtAssignment(id: $id) { id } }", {"id": gid("OjtAssignment", given)}, token=oth
    )
    assert found["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert await assignment_checks.run_checks(company.tenant.id, datetime.now(UTC)) == 1
    assert await new_notices(company, NotificationKind.ASSIGNMENT_ESCALATED) == [
        (company.employees["HR1"].id, f"assignment:{given.id}:escalated:{given.due_on}")
    ]


async def test_due_soon_is_told_once_and_waived_ones_are_left_alone(client, company, hr):
    plan = await create_plan(
        client, hr, plan_input("OJT-SOON", course_item(company.courses["A-002"]), dueDays=10, remindDays=3)
    )
    learner, other = company.employees["LRN"], company.employees["OTH"]
    start = today_of(company) - timedelta(days=8)  # due in two days
    data = {"planId": plan["id"], "employeeIds": [gid("Employee", learner), gid("Employee", other)]}
    assert (await send(client, ASSIGN, {**data, "startsOn": start.isoformat()}, hr))["errors"] == []
    by_employee = {a.employee_id: a for a in await OjtAssignment.filter(tenant_id=company.tenant.id)}

    manager = await token_for(client, company.code, "MGR")
    waive = {"assignmentId": gid("OjtAssignment", by_employee[learner.id].id), "reason": " "}
    assert refusal(await send(client, WAIVE, waive, manager)) == ("VALIDATION", "reason")
    waived = await send(client, WAIVE, {**waive, "reason": "已有同类资质证书"}, manager)
    assert waived["errors"] == []
    assert (waived["assignment"]["status"], waived["assignment"]["waivedReason"]) == ("WAIVED", "已有同类资质证书")
    assert refusal(await send(client, WAIVE, waive | {"reason": "again"}, manager)) == (
        "ALREADY_DECIDED",
        "assignmentId",
    )
    not_team = {"assignmentId": gid("OjtAssignment", by_employee[other.id].id), "reason": "不需要"}
    assert refusal(await send(client, WAIVE, not_team, manager)) == ("FORBIDDEN", "assignmentId")
    own = await token_for(client, company.code, "OTH")
    assert refusal(await send(client, WAIVE, not_team, own)) == ("FORBIDDEN", None)
    audit = await AuditEntry.get(tenant_id=company.tenant.id, action="ojt.assignment.waive")
    assert audit.details["after"] == {"status": "WAIVED", "waivedReason": "已有同类资质证书"}

    now = datetime.now(UTC)
    assert await assignment_checks.run_checks(company.tenant.id, now) == 1
    await assignment_checks.run_checks(company.tenant.id, now + timedelta(hours=1))
    assert await new_notices(company, NotificationKind.ASSIGNMENT_DUE_SOON) == [
        (other.id, f"assignment:{by_employee[other.id].id}:due-soon:{by_employee[other.id].due_on}")
    ]
    stored = await OjtAssignment.get(id=by_employee[other.id].id)
    assert (stored.status, stored.reminded_at is not None, stored.escalated_at) == ("NOT_STARTED", True, None)
    assert (await OjtAssignment.get(id=by_employee[learner.id].id)).status == "WAIVED"
    # Ten days later the reminded one is overdue (told once more, escalated); the waived one never.
    await assignment_checks.run_checks(company.tenant.id, now + timedelta(days=3))
    assert [r for r, _ in await new_notices(company, NotificationKind.ASSIGNMENT_OVERDUE)] == [other.id]
    assert learner.id not in [r for r, _ in await new_notices(company, NotificationKind.ASSIGNMENT_DUE_SOON)]


async def test_a_skill_gap_gives_the_plan_to_those_far_enough_behind(client, company, hr, password_hash):
    sales_1 = await position(company, "SAL-1")
    neg = company.skills["NEG"]
    await PositionSkill.create(tenant=company.tenant, position=sales_1, skill=neg, required_level=60)
    learner = company.employees["LRN"]
    await EmployeeSkill.create(tenant=company.tenant, employee=learner, skill=neg, level=20)  # gap 40
    close = await Employee.create(
        tenant=company.tenant,
        employee_no="SAL-02",
        name="近达标",
        password_hash=password_hash,
        org_unit=company.org_units["east"],
        position=sales_1,
    )
    await EmployeeSkill.create(tenant=company.tenant, employee=close, skill=neg, level=50)  # gap 10
    none_yet = await Employee.create(
        tenant=company.tenant,
        employee_no="SAL-03",
        name="无记录",
        password_hash=password_hash,
        org_unit=company.org_units["plant"],
        position=sales_1,
    )  # no level: gap 60, but outside the plan's org unit
    plan = await create_plan(
        client,
        hr,
        plan_input(
            "OJT-NEG",
            course_item(company.courses["S-003"]),
            skillId=gid("Skill", neg),
            gapThreshold=30,
            orgUnitId=gid("OrgUnit", company.org_units["sales"]),
        ),
    )
    assert plan["trigger"] == "SKILL_GAP" and plan["gapThreshold"] == 30
    now = datetime.now(UTC)
    await assignment_checks.run_checks(company.tenant.id, now)
    await assignment_checks.run_checks(company.tenant.id, now)
    given = await OjtAssignment.filter(tenant_id=company.tenant.id)
    assert [(a.employee_id, a.source, a.starts_on) for a in given] == [(learner.id, "SKILL_GAP", today_of(company))]
    assert await assignments_of(company, close) == [] and await assignments_of(company, none_yet) == []
    assert await new_notices(company, NotificationKind.ASSIGNMENT_NEW) == [
        (learner.id, f"assignment:{given[0].id}:new")
    ]
    # A skill gap plan is not given on hire: the gap is what calls for it.
    hired = await send(
        client,
        HIRE,
        {
            "employeeNo": "200-09",
            "name": "新销售",
            "orgUnitId": gid("OrgUnit", company.org_units["east"]),
            "positionId": gid("Position", sales_1),
            "hiredOn": today_of(company).isoformat(),
        },
        hr,
    )
    assert hired["errors"] == [] and await OjtAssignment.filter(tenant_id=company.tenant.id).count() == 1


REQUIRE = f"""
mutation Require($input: SetPositionSkillRequirementInput!) {{
  setPositionSkillRequirement(input: $input) {{ position {{ code }} {ERRORS} }}
}}"""


async def test_a_skill_gap_that_grows_past_the_threshold_gives_the_plan_at_the_next_hourly_check(client, company, hr):
    """The hourly check (the worker's ``ojt_assignment_checks`` job) gives nothing while the gap is
    below the plan's threshold; once HR raises the requirement, the next run gives the plan and
    tells the employee, once; later runs give and tell nothing more."""
    sales_1, neg = await position(company, "SAL-1"), company.skills["NEG"]
    learner = company.employees["LRN"]
    await EmployeeSkill.create(tenant=company.tenant, employee=learner, skill=neg, level=30)

    async def require(level: int) -> None:
        given = {"positionId": gid("Position", sales_1), "skillId": gid("Skill", neg), "requiredLevel": level}
        body = await gql(client, REQUIRE, {"input": given}, token=hr)
        assert body["data"]["setPositionSkillRequirement"]["errors"] == [], body

    async def hourly_check(at: datetime) -> list[int | None]:
        ran = await scheduler.run_due(at, jobs=[HOURLY_CHECK], tenant_ids=[company.tenant.id])
        return [run.result for run in ran]

    await require(50)  # gap 20
    await create_plan(
        client,
        hr,
        plan_input("OJT-GAP", course_item(company.courses["S-003"]), skillId=gid("Skill", neg), gapThreshold=25),
    )
    now = datetime.now(UTC).replace(minute=5, second=0, microsecond=0)
    assert await hourly_check(now) == [0]
    assert await OjtAssignment.filter(tenant_id=company.tenant.id).count() == 0
    assert await new_notices(company, NotificationKind.ASSIGNMENT_NEW) == []

    await require(60)  # gap 30: past the threshold
    assert await OjtAssignment.filter(tenant_id=company.tenant.id).count() == 0  # not until the check runs
    assert await hourly_check(now + timedelta(minutes=30)) == []  # not due again within the hour
    assert await hourly_check(now + timedelta(hours=1)) == [1]
    (given,) = await OjtAssignment.filter(tenant_id=company.tenant.id)
    assert (given.employee_id, given.source) == (learner.id, AssignmentSource.SKILL_GAP)
    told = [(learner.id, f"assignment:{given.id}:new")]
    assert await new_notices(company, NotificationKind.ASSIGNMENT_NEW) == told
    assert [a["plan"]["code"] for a in await mine(client, await token_for(client, company.code, "LRN"))] == ["OJT-GAP"]

    # Later runs, and a requirement raised further, give and tell nothing more.
    await require(80)
    for hours in (2, 3):
        assert await hourly_check(now + timedelta(hours=hours)) == [0]
    assert await OjtAssignment.filter(tenant_id=company.tenant.id).count() == 1
    assert await new_notices(company, NotificationKind.ASSIGNMENT_NEW) == told
    assert await Notification.filter(tenant_id=company.tenant.id).exclude(recipient_id=learner.id).count() == 0


# --- the feed and the cost of a page ------------------------------------------------------------------


async def test_the_feed_carries_an_assignment_to_its_employee_only(client, company, hr):
    c1, _ = await lesson_course(company, "OJT-F1", "师带徒")
    plan = await create_plan(client, hr, plan_input("OJT-FEED", course_item(c1), mentorRequired=True))
    learner, other = company.employees["LRN"], company.employees["OTH"]
    data = {"planId": plan["id"], "employeeIds": [gid("Employee", learner), gid("Employee", other)]}
    assert (await send(client, ASSIGN, data, hr))["errors"] == []
    rows = {a.employee_id: a for a in await OjtAssignment.filter(tenant_id=company.tenant.id)}

    async def fed(number: str, device: str) -> dict[str, Any]:
        token = await token_for(client, company.code, number, device_id=device)
        body = await gql(client, PULL, pull_input(device_id=device), token=token)
        changes = body["data"]["syncPull"]["changes"]
        return {c["id"]: c for c in changes if c["entity"] == "OJT_ASSIGNMENT"}

    mine_ = await fed("LRN", "phone-lrn")
    assert list(mine_) == [gid("OjtAssignment", rows[learner.id].id)]
    row = next(iter(mine_.values()))["data"]
    assert row["plan"] == {"id": plan["id"], "code": "OJT-FEED", "name": "OJT-FEED 培训计划"}
    assert (row["source"], row["status"], row["mentorRequired"], row["mentorMissing"]) == (
        "MANUAL",
        "NOT_STARTED",
        True,
        False,
    )
    assert row["items"] == [
        {
            "courseId": gid("Course", c1),
            "moduleId": None,
            "title": "师带徒",
            "dueOn": row["dueOn"],
            "required": True,
            "done": False,
        }
    ]
    theirs = await fed("OTH", "phone-oth")
    assert list(theirs) == [gid("OjtAssignment", rows[other.id].id)]
    assert theirs[gid("OjtAssignment", rows[other.id].id)]["data"]["mentorMissing"] is True  # OTH has no mentor
    # Nobody's feed holds another person's row.
    assert not await SyncChange.filter(
        tenant_id=company.tenant.id, entity="OJT_ASSIGNMENT", entity_id=str(rows[learner.id].id), audience=other.id
    ).exists()


async def test_a_page_of_assignments_costs_the_same_whatever_its_size(client, password_hash):
    async def world(size: int) -> tuple[Company, str]:
        company = await make_company(password_hash, courses=True)
        for n in range(size):
            await Employee.create(
                tenant=company.tenant,
                employee_no=f"P{n:03}",
                name=f"员工{n}",
                password_hash=password_hash,
                org_unit=company.org_units["east"],
            )
        hr = await token_for(client, company.code, "HR1")
        c1, _ = await lesson_course(company, "OJT-Q1", "课程一")
        plan = await create_plan(
            client,
            hr,
            plan_input(
                "OJT-Q", course_item(c1), course_item(company.courses["S-002"], required=False), mentorRequired=True
            ),
        )
        unit = {"planId": plan["id"], "orgUnitId": gid("OrgUnit", company.org_units["root"])}
        assert (await send(client, ASSIGN, unit, hr))["errors"] == []
        return company, hr

    async def page(token: str) -> tuple[int, int]:
        with count_queries() as statements:
            body = await gql(client, PAGE, {"first": 50}, token=token)
        assert "errors" not in body, body
        return len(statements), len(body["data"]["ojtAssignments"]["edges"])

    small, big = await world(2), await world(30)
    (small_count, small_size), (big_count, big_size) = await page(small[1]), await page(big[1])
    assert (small_size, big_size) == (2 + 4, 30 + 4)  # HR1, MGR, LRN, OTH and the new ones; not OFF
    assert small_count == big_count, (small_count, big_count)


async def test_who_comes_back_gets_a_fresh_window_not_an_escalation_for_an_old_due_date(client, company, hr):
    sales_1 = await position(company, "SAL-1")
    plan = await create_plan(
        client,
        hr,
        plan_input("OJT-BACK", course_item(company.courses["S-001"]), positionId=gid("Position", sales_1), dueDays=30),
    )
    learner = company.employees["LRN"]
    today = today_of(company)
    # Given when they first joined, left open when they left: its window ended two months ago.
    old = await OjtAssignment.create(
        tenant=company.tenant,
        employee=learner,
        plan_id=from_global_id(plan["id"])[1],
        source=AssignmentSource.HIRE,
        starts_on=today - timedelta(days=90),
        due_on=today - timedelta(days=60),
    )
    left = await send(
        client,
        LEAVE,
        {"employeeId": gid("Employee", learner), "leftOn": str(today - timedelta(days=50)), "reason": "离职"},
        hr,
    )
    assert left["errors"] == []
    back = {
        "employeeId": gid("Employee", learner),
        "effectiveOn": str(today),
        "orgUnitId": gid("OrgUnit", company.org_units["east"]),
        "positionId": gid("Position", sales_1),
    }
    assert (await send(client, REHIRE, back, hr))["errors"] == []
    (row,) = await assignments_of(company, learner)
    assert row.id == old.id
    assert (row.starts_on, row.due_on, row.status, row.escalated_at) == (
        today,
        today + timedelta(days=30),
        "NOT_STARTED",
        None,
    )
    assert await new_notices(company, NotificationKind.ASSIGNMENT_NEW) == [
        (learner.id, f"assignment:{old.id}:new:{today.isoformat()}")
    ]
    await assignment_checks.run_checks(company.tenant.id, datetime.now(UTC))
    assert await new_notices(company, NotificationKind.ASSIGNMENT_OVERDUE) == []
    assert await new_notices(company, NotificationKind.ASSIGNMENT_ESCALATED) == []
