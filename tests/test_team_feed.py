"""The feed follows people's moves: a manager's phone holds their direct reports (TEAM_MEMBER), gets
an entry when someone joins the team and a tombstone when someone leaves it (transfer, a manager's
own move, leaving the company), an updated row on a rename; a person's PROFILE follows their roles.
Existing companies' managers get their team on the first sync (the backfill)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from backend.ids import to_global_id
from backend.models import Employee, EmployeeSkill, Position, PositionSkill
from tests.factories import Company, make_company
from tests.graphql_client import token_for
from tests.test_employment import HIRE, LEAVE, ROLES, TRANSFER, UPDATE, gid, hire_input, send
from tests.test_quizzes import make_quiz
from tests.test_sync_pull import pull_all


def team(changes: list[dict[str, Any]]) -> dict[str, dict[str, Any] | None]:
    """The TEAM_MEMBER changes of a pull: id → data (None for a tombstone), the last one winning."""
    return {c["id"]: c["data"] for c in changes if c["entity"] == "TEAM_MEMBER"}


def today(company: Company) -> str:
    return datetime.now(ZoneInfo(company.tenant.time_zone)).date().isoformat()


@pytest.fixture
async def company(password_hash) -> Company:
    return await make_company(password_hash, courses=False)


async def signed_in(client, company: Company, *numbers: str) -> dict[str, tuple[str, str | None]]:
    """Each person's token and the cursor after their first (full) sync."""
    found = {}
    for number in numbers:
        token = await token_for(client, company.code, number)
        _, cursor, _ = await pull_all(client, token)
        found[number] = (token, cursor)
    return found


async def next_team(client, phones: dict[str, tuple[str, str | None]], number: str) -> dict[str, Any]:
    token, cursor = phones[number]
    changes, cursor, _ = await pull_all(client, token, cursor)
    phones[number] = (token, cursor)
    return team(changes)


async def test_a_managers_first_sync_holds_the_team(client, company):
    lrn = company.employees["LRN"]
    changes, _, _ = await pull_all(client, await token_for(client, company.code, "MGR"))
    assert team(changes) == {
        to_global_id("Employee", lrn.id): {
            "id": to_global_id("Employee", lrn.id),
            "employeeNo": "LRN",
            "name": "李学员",
            "orgUnit": {"id": to_global_id("OrgUnit", company.org_units["east"].id), "name": "华东销售组"},
            "position": {"id": to_global_id("Position", lrn.position_id), "title": "销售族-客户经理序列-初级"},
            "active": True,
        }
    }
    learner, _, _ = await pull_all(client, await token_for(client, company.code, "LRN"))
    assert team(learner) == {}  # nobody reports to LRN


async def test_a_transfer_moves_the_row_from_the_old_manager_to_the_new(client, company):
    phones = await signed_in(client, company, "HR1", "MGR", "OTH")
    lrn = gid("Employee", company.employees["LRN"])
    data = {"employeeId": lrn, "effectiveOn": today(company), "managerId": gid("Employee", company.employees["OTH"])}
    assert (await send(client, TRANSFER, {**data, "reason": "换上级"}, phones["HR1"][0]))["errors"] == []
    assert await next_team(client, phones, "MGR") == {lrn: None}  # the exit
    entry = (await next_team(client, phones, "OTH"))[lrn]
    assert entry is not None and entry["employeeNo"] == "LRN" and entry["active"] is True
    assert await next_team(client, phones, "HR1") == {}


async def test_a_manager_who_moves_sends_the_team_to_the_one_above(client, company):
    mgr = company.employees["MGR"]
    await Employee.filter(id=mgr.id).update(manager_id=company.employees["HR1"].id)
    phones = await signed_in(client, company, "HR1", "MGR")
    data = {
        "employeeId": gid("Employee", mgr),
        "effectiveOn": today(company),
        "orgUnitId": gid("OrgUnit", company.org_units["plant"]),
        "reason": "调任",
    }
    assert (await send(client, TRANSFER, data, phones["HR1"][0]))["errors"] == []
    lrn = gid("Employee", company.employees["LRN"])
    assert await next_team(client, phones, "MGR") == {lrn: None}
    above = await next_team(client, phones, "HR1")
    assert set(above) == {lrn, gid("Employee", mgr)}  # the moved manager too: HR1 manages them
    assert above[gid("Employee", mgr)]["orgUnit"]["name"] == "生产部"


async def test_hiring_renaming_and_leaving_reach_the_managers_phone(client, company):
    phones = await signed_in(client, company, "HR1", "MGR")
    hr = phones["HR1"][0]
    hired = await send(
        client, HIRE, hire_input(company, "300-01", managerId=gid("Employee", company.employees["MGR"])), hr
    )
    new = hired["employee"]["id"]
    assert (await next_team(client, phones, "MGR"))[new]["employeeNo"] == "300-01"

    assert (await send(client, UPDATE, {"employeeId": new, "name": "贺改名"}, hr))["errors"] == []
    assert (await next_team(client, phones, "MGR"))[new]["name"] == "贺改名"

    leave = {"employeeId": new, "leftOn": today(company), "reason": "离职"}
    assert (await send(client, LEAVE, leave, hr))["errors"] == []
    assert await next_team(client, phones, "MGR") == {new: None}


async def test_roles_and_moves_reach_the_persons_own_profile(client, company):
    phones = await signed_in(client, company, "HR1", "LRN")
    hr, (token, cursor) = phones["HR1"][0], phones["LRN"]
    lrn = gid("Employee", company.employees["LRN"])
    assert (await send(client, ROLES, {"employeeId": lrn, "roles": ["MENTOR"]}, hr))["errors"] == []
    move = {"employeeId": lrn, "effectiveOn": today(company), "orgUnitId": gid("OrgUnit", company.org_units["plant"])}
    assert (await send(client, TRANSFER, {**move, "reason": "轮岗"}, hr))["errors"] == []
    changes, _, _ = await pull_all(client, token, cursor)
    (profile,) = [c["data"] for c in changes if c["entity"] == "PROFILE"]
    assert profile["roles"] == ["EMPLOYEE", "MENTOR"] and profile["orgUnit"]["name"] == "生产部"


async def test_a_move_resends_what_depends_on_where_someone_works(client, password_hash):
    # Quizzes reach only people who may take their course, and a skill level shows what the
    # person's position requires: a new org unit or position changes both.
    company = await make_company(password_hash)
    quiz_module, _, _ = await make_quiz(company, course="S-004")  # 生产部 only
    plant_2 = await Position.get(tenant_id=company.tenant.id, code="PRD-2")
    negotiation = company.skills["NEG"]
    await EmployeeSkill.create(tenant=company.tenant, employee=company.employees["LRN"], skill=negotiation, level=30)
    await PositionSkill.create(tenant=company.tenant, position=plant_2, skill=negotiation, required_level=50)
    phones = await signed_in(client, company, "HR1", "LRN")
    hr, (token, cursor) = phones["HR1"][0], phones["LRN"]
    quiz, skill = gid("CourseModule", quiz_module.id), gid("Skill", negotiation.id)
    lrn = gid("Employee", company.employees["LRN"])
    move = {
        "employeeId": lrn,
        "effectiveOn": today(company),
        "orgUnitId": gid("OrgUnit", company.org_units["plant"]),
        "positionId": gid("Position", plant_2.id),
        "reason": "轮岗",
    }
    assert (await send(client, TRANSFER, move, hr))["errors"] == []
    changes, cursor, _ = await pull_all(client, token, cursor)
    rows = {(c["entity"], c["id"]): c for c in changes}
    assert rows[("QUIZ", quiz)]["op"] == "UPSERT"
    assert rows[("SKILL_LEVEL", skill)]["data"]["requiredLevel"] == 50

    back = {**move, "orgUnitId": gid("OrgUnit", company.org_units["east"])}
    back["positionId"] = gid("Position", (await Position.get(tenant_id=company.tenant.id, code="SAL-1")).id)
    assert (await send(client, TRANSFER, back, hr))["errors"] == []
    changes, _, _ = await pull_all(client, token, cursor)
    rows = {(c["entity"], c["id"]): c for c in changes}
    assert rows[("QUIZ", quiz)]["op"] == "DELETE"
    assert rows[("SKILL_LEVEL", skill)]["data"]["requiredLevel"] is None
