"""The manager's team view over HTTP on the known company of tests/report_world.py: each direct
report's courses completed, overdue and in progress (with titles), credits of the period against
target, last activity; who may ask about whose team; and that a team costs a fixed number of
statements whatever its size."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from backend.errors import DomainError, ErrorCode
from backend.models import Employee, Role
from backend.services.reports import team_view
from backend.services.reports.tables import ReportOptions
from backend.services.sessions import enrollment
from tests.conftest import count_queries
from tests.factories import make_company
from tests.graphql_client import gql, token_for
from tests.report_world import World, _session, build, viewer_of

TEAM = """
query T($manager: ID) { teamView(managerId: $manager) { managerId periodStart periodEnd members {
  employeeId employeeNo name positionFamily positionLevel inProgress completed overdue inProgressTitles
  overdueTitles earned target lastActivityAt } } }
"""


@pytest.fixture(scope="module")
async def world(client, password_hash) -> World:
    world = await build(client, password_hash)
    company = world.company
    # MGR's team: LRN (already) and S2. LRN also holds a seat in a session ten days ahead (S-002).
    await Employee.filter(id=company.employees["S2"].id).update(manager_id=company.employees["MGR"].id)
    upcoming = await _session(company, "E", "S-002", "hq", datetime.now(UTC) + timedelta(days=10))
    await enrollment.request_enrollment(viewer_of(company, "LRN"), upcoming.id)
    return world


def error_code(body: dict) -> str:
    assert body.get("errors"), body
    return body["errors"][0]["extensions"]["code"]


# Both: 销售族 初级 (target 12.0), a lesson credited 2.0 in 2026.
# LRN: S-001 completed (before the world); A-001 attended session A (in progress), S-002 seat in
# session E ahead (in progress); last: the redemption pushed for 11-20.
# S2: S-001 completed (practice 10-06); enrolled in session A (ended 10-15), never attended: A-001
# overdue; last: the evaluation 10-20.
LRN = {
    "employeeNo": "LRN",
    "name": "李学员",
    "positionFamily": "销售族",
    "positionLevel": "初级",
    "inProgress": 2,
    "completed": 1,
    "overdue": 0,
    "inProgressTitles": ["安全生产操作规程", "客户拜访实战"],
    "overdueTitles": [],
    "earned": "2.0",
    "target": "12.0",
    "lastActivityAt": "2026-11-20T02:00:00",
}
S2 = {
    "employeeNo": "S2",
    "name": "员工S2",
    "positionFamily": "销售族",
    "positionLevel": "初级",
    "inProgress": 0,
    "completed": 1,
    "overdue": 1,
    "inProgressTitles": [],
    "overdueTitles": ["安全生产操作规程"],
    "earned": "2.0",
    "target": "12.0",
    "lastActivityAt": "2026-10-20T02:00:00",
}


def without_id(member: dict) -> dict:
    """The member without its ID, its last activity to the second (a pushed record's time is the
    device's corrected by its measured clock offset, a millisecond or so)."""
    shown = {key: value for key, value in member.items() if key != "employeeId"}
    shown["lastActivityAt"] = shown["lastActivityAt"][:19]
    return shown


async def test_manager_sees_own_team(client, world: World) -> None:
    token = await token_for(client, world.code, "MGR")
    body = await gql(client, TEAM, token=token)
    assert "errors" not in body, body
    view = body["data"]["teamView"]
    assert view["managerId"] == world.id("Employee", world.company.employees["MGR"].id)
    assert [without_id(m) for m in view["members"]] == [LRN, S2]
    assert view["members"][0]["employeeId"] == world.id("Employee", world.company.employees["LRN"].id)


async def test_hr_sees_any_managers_team_others_forbidden(client, world: World, password_hash) -> None:
    manager = world.id("Employee", world.company.employees["MGR"].id)
    hr = await token_for(client, world.code, "HR1")
    body = await gql(client, TEAM, {"manager": manager}, token=hr)
    assert [m["employeeNo"] for m in body["data"]["teamView"]["members"]] == ["LRN", "S2"]
    # HR's own team is empty: nobody reports to HR1.
    assert (await gql(client, TEAM, token=hr))["data"]["teamView"]["members"] == []
    learner = await token_for(client, world.code, "LRN")
    assert error_code(await gql(client, TEAM, token=learner)) == "FORBIDDEN"
    assert error_code(await gql(client, TEAM, {"manager": manager}, token=learner)) == "FORBIDDEN"
    mgr = await token_for(client, world.code, "MGR")
    hr_id = world.id("Employee", world.company.employees["HR1"].id)
    assert error_code(await gql(client, TEAM, {"manager": hr_id}, token=mgr)) == "FORBIDDEN"
    other = await make_company(password_hash)
    stranger = world.id("Employee", other.employees["MGR"].id)
    assert error_code(await gql(client, TEAM, {"manager": stranger}, token=hr)) == "NOT_FOUND"


async def test_service_expected_by_now_and_export(world: World) -> None:
    # 2026-12-01 00:00 UTC: 8,024 of the year's 8,760 hours (from 2025-12-31 16:00 UTC) have passed,
    # 915,981 millionths; 12.0 × that = 10.99…, rounded down to a tenth: 10.9.
    now = datetime(2026, 12, 1, tzinfo=UTC)
    view = await team_view.team_view(viewer_of(world.company, "MGR", Role.MANAGER), None, now=now)
    assert [(m.employee_no, m.earned, m.target, m.expected_by_now) for m in view.members] == [
        ("LRN", 20, 120, 109),
        ("S2", 20, 120, 109),
    ]
    table = await team_view.export_table(viewer_of(world.company, "MGR", Role.MANAGER), ReportOptions())
    assert [column.header("en") for column in table.columns][:3] == ["Employee no.", "Name", "Position family"]
    rows = [list(row) async for row in table.rows]
    assert table.total == 2
    assert rows[1][:9] == ["S2", "员工S2", "销售族", "初级", 0, 1, 1, "", "安全生产操作规程"]
    assert rows[0][7] == "安全生产操作规程、客户拜访实战"
    assert rows[0][9:11] == [Decimal("2.0"), Decimal("12.0")]
    with pytest.raises(DomainError) as refused:
        await team_view.team_view(viewer_of(world.company, "LRN"), None)
    assert refused.value.code == ErrorCode.FORBIDDEN


async def test_statements_do_not_grow_with_the_team(world: World) -> None:
    company = world.company
    manager = viewer_of(company, "MGR", Role.MANAGER)
    with count_queries() as small:
        before = await team_view.team_view(manager, None)
    # Two more reports, with facts of their own (OTH attended session A and completed A-001).
    await Employee.filter(id__in=[company.employees["OTH"].id, company.employees["P2"].id]).update(
        manager_id=company.employees["MGR"].id
    )
    with count_queries() as large:
        after = await team_view.team_view(manager, None)
    assert (len(before.members), len(after.members)) == (2, 4)
    assert len(small) == len(large) == 4
    oth = next(m for m in after.members if m.employee_no == "OTH")
    assert (oth.completed, oth.overdue, oth.in_progress) == (1, 0, 0)
