"""Org structure administration through the real HTTP app: org units (create, rename, move,
close, reopen), sites, positions with their skill requirements, and skills — the role matrix,
tenant isolation, every validation error, audit rows with before and after, the feed rows phones
see, and moves that two HR admins race."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from backend.errors import DomainError, ErrorCode
from backend.ids import to_global_id as gid
from backend.models import AuditEntry, EmployeeRole, EmployeeSkill, OrgUnit, Position, PositionSkill, Role, Site, Skill
from backend.services.people.org_units import check_org_unit
from backend.services.people.positions import check_grade, check_position
from backend.services.people.sites import check_site
from backend.services.people.skill_catalog import SkillFields, check_skill
from backend.services.people.standards import DEFAULTS, Standards
from tests.conftest import count_queries
from tests.factories import Company, make_company
from tests.graphql_client import gql, token_for
from tests.sync_helpers import PULL, pull_input
from tests.test_quizzes import make_quiz

ERRORS = "errors { code field message }"
UNIT = "orgUnit { id code name closedOn depth parent { code } }"
SITE = "site { code name address latitude longitude timeZone isHeadquarters }"
POSITION_FIELDS = "code family sequence level grade title skillRequirements { skill { code } requiredLevel }"
POSITION = f"position {{ {POSITION_FIELDS} }}"
SKILL = "skill { code name category }"


def mutation(name: str, input_type: str, shape: str) -> str:
    return f"mutation M($input: {input_type}!) {{ {name}(input: $input) {{ {shape} {ERRORS} }} }}"


CREATE_UNIT = mutation("createOrgUnit", "CreateOrgUnitInput", UNIT)
UPDATE_UNIT = mutation("updateOrgUnit", "UpdateOrgUnitInput", UNIT)
MOVE_UNIT = mutation("moveOrgUnit", "MoveOrgUnitInput", UNIT)
CLOSE_UNIT = mutation("closeOrgUnit", "CloseOrgUnitInput", UNIT)
REOPEN_UNIT = f"mutation M($unitId: ID!) {{ reopenOrgUnit(unitId: $unitId) {{ {UNIT} {ERRORS} }} }}"
CREATE_SITE = mutation("createSite", "CreateSiteInput", SITE)
UPDATE_SITE = mutation("updateSite", "UpdateSiteInput", SITE)
CREATE_POSITION = mutation("createPosition", "CreatePositionInput", POSITION)
UPDATE_POSITION = mutation("updatePosition", "UpdatePositionInput", POSITION)
SET_REQUIREMENT = mutation("setPositionSkillRequirement", "SetPositionSkillRequirementInput", POSITION)
REMOVE_REQUIREMENT = mutation("removePositionSkillRequirement", "RemovePositionSkillRequirementInput", POSITION)
CREATE_SKILL = mutation("createSkill", "CreateSkillInput", SKILL)
UPDATE_SKILL = mutation("updateSkill", "UpdateSkillInput", SKILL)
TREE = "query { orgUnits(first: 100) { edges { node { code depth parent { code } closedOn } } } }"
POSITIONS = f"query {{ positions(first: 50) {{ edges {{ node {{ {POSITION_FIELDS} }} }} }} }}"


@pytest.fixture
async def company(password_hash) -> Company:
    return await make_company(password_hash, courses=False)


@pytest.fixture
async def hr(client, company) -> str:
    return await token_for(client, company.code, "HR1")


async def call(client, token: str, document: str, variables: dict[str, Any], language: str | None = None):
    """The mutation's payload (the one root field of the answer)."""
    body = await gql(client, document, variables, token=token, language=language)
    assert "errors" not in body, body
    [payload] = body["data"].values()
    return payload


def refusal(payload: dict[str, Any]) -> tuple[str, str | None]:
    [error] = payload["errors"]
    assert all(value is None for key, value in payload.items() if key != "errors"), payload
    return error["code"], error["field"]


async def audits(company: Company, action: str) -> list[AuditEntry]:
    return await AuditEntry.filter(tenant_id=company.tenant.id, action=action).order_by("id")


async def structure_audited(*tenant_ids: int) -> bool:
    """Whether any change of the structure was audited (sign-ins are audited too)."""
    entities = ("OrgUnit", "Site", "Position", "Skill")
    return await AuditEntry.filter(tenant_id__in=tenant_ids, entity__in=entities).exists()


async def tree(client, token: str) -> list[str]:
    body = await gql(client, TREE, token=token)
    return [edge["node"]["code"] for edge in body["data"]["orgUnits"]["edges"]]


async def pull_all(client, token: str, cursor: str | None = None) -> tuple[list[dict[str, Any]], str]:
    changes: list[dict[str, Any]] = []
    while True:
        page = (await gql(client, PULL, pull_input(cursor), token=token))["data"]["syncPull"]
        changes += page["changes"]
        cursor = page["cursor"]
        if not page["hasMore"]:
            return changes, cursor


def unit_id(company: Company, key: str) -> str:
    return gid("OrgUnit", company.org_units[key].id)


# --- who may -------------------------------------------------------------------------------------


async def test_only_hr_admins_change_the_structure_and_are_told_before_their_input_is_judged(client, company):
    await EmployeeRole.create(tenant=company.tenant, employee=company.employees["OTH"], role=Role.INSTRUCTOR)
    bad_id = "not-an-id"
    calls = [
        (CREATE_UNIT, {"code": "x", "name": ""}),
        (UPDATE_UNIT, {"unitId": bad_id, "code": "x"}),
        (MOVE_UNIT, {"unitId": bad_id, "parentId": bad_id}),
        (CLOSE_UNIT, {"unitId": bad_id, "closedOn": "2026-01-01"}),
        (CREATE_SITE, {"code": "x", "name": "", "latitude": 1e30, "timeZone": "Mars/Base"}),
        (UPDATE_SITE, {"siteId": bad_id, "longitude": 500.0}),
        (CREATE_POSITION, {"code": "x", "family": "", "sequence": "", "level": "", "grade": 99}),
        (UPDATE_POSITION, {"positionId": bad_id, "grade": 0}),
        (SET_REQUIREMENT, {"positionId": bad_id, "skillId": bad_id, "requiredLevel": 1000}),
        (REMOVE_REQUIREMENT, {"positionId": bad_id, "skillId": bad_id}),
        (CREATE_SKILL, {"code": "x", "name": ""}),
        (UPDATE_SKILL, {"skillId": bad_id, "code": "x"}),
    ]
    for employee_no in ("LRN", "MGR", "OTH"):
        token = await token_for(client, company.code, employee_no)
        for document, variables in calls:
            assert refusal(await call(client, token, document, {"input": variables})) == ("FORBIDDEN", None)
        assert refusal(await call(client, token, REOPEN_UNIT, {"unitId": bad_id})) == ("FORBIDDEN", None)
    assert not await structure_audited(company.tenant.id)


async def test_another_companys_rows_look_missing(client, company, hr, password_hash):
    other = await make_company(password_hash, courses=False)
    unit = unit_id(other, "sales")
    site = gid("Site", other.sites["hq"].id)
    position = gid("Position", (await Position.get(tenant_id=other.tenant.id, code="SAL-1")).id)
    skill = gid("Skill", (await Skill.create(tenant=other.tenant, code="NEG", name="谈判")).id)
    mine = gid("Position", (await Position.get(tenant_id=company.tenant.id, code="SAL-1")).id)
    own_skill = gid("Skill", (await Skill.create(tenant=company.tenant, code="NEG", name="谈判")).id)
    cases = [
        (CREATE_UNIT, {"code": "NEW", "name": "新部门", "parentId": unit}, "parentId"),
        (UPDATE_UNIT, {"unitId": unit, "name": "改名"}, "unitId"),
        (MOVE_UNIT, {"unitId": unit}, "unitId"),
        (MOVE_UNIT, {"unitId": unit_id(company, "east"), "parentId": unit}, "parentId"),
        (CLOSE_UNIT, {"unitId": unit, "closedOn": "2026-01-01"}, "unitId"),
        (UPDATE_SITE, {"siteId": site, "name": "改名"}, "siteId"),
        (UPDATE_POSITION, {"positionId": position, "family": "改名"}, "positionId"),
        (SET_REQUIREMENT, {"positionId": position, "skillId": own_skill, "requiredLevel": 50}, "positionId"),
        (SET_REQUIREMENT, {"positionId": mine, "skillId": skill, "requiredLevel": 50}, "skillId"),
        (REMOVE_REQUIREMENT, {"positionId": mine, "skillId": skill}, "skillId"),
        (UPDATE_SKILL, {"skillId": skill, "name": "改名"}, "skillId"),
    ]
    for document, variables, field in cases:
        assert refusal(await call(client, hr, document, {"input": variables})) == ("NOT_FOUND", field), variables
    assert refusal(await call(client, hr, REOPEN_UNIT, {"unitId": unit})) == ("NOT_FOUND", "unitId")
    assert (await OrgUnit.get(id=other.org_units["sales"].id)).name == "销售部"
    assert not await structure_audited(company.tenant.id, other.tenant.id)


# --- org units -----------------------------------------------------------------------------------


async def test_create_org_units_in_the_tree_audited(client, company, hr):
    created = await call(
        client,
        hr,
        CREATE_UNIT,
        {"input": {"code": "SALES-N", "name": " 华北销售组 ", "parentId": unit_id(company, "sales")}},
    )
    assert created["errors"] == []
    assert created["orgUnit"] | {"id": None} == {
        "id": None,
        "code": "SALES-N",
        "name": "华北销售组",
        "closedOn": None,
        "depth": 2,
        "parent": {"code": "SALES"},
    }
    team = await OrgUnit.get(tenant_id=company.tenant.id, code="SALES-N")
    assert team.path == f"{company.org_units['sales'].path}{team.id}."
    root = await call(client, hr, CREATE_UNIT, {"input": {"code": "SUB-2", "name": "子公司"}})
    assert root["orgUnit"]["depth"] == 0 and root["orgUnit"]["parent"] is None
    assert await tree(client, hr) == ["ROOT", "SALES", "SALES-E", "SALES-N", "PLANT", "SUB-2"]
    [first, _] = await audits(company, "org_unit.create")
    assert first.entity == "OrgUnit" and first.entity_id == str(team.id)
    assert first.details == {
        "before": None,
        "after": {
            "code": "SALES-N",
            "name": "华北销售组",
            "parentId": company.org_units["sales"].id,
            "path": team.path,
            "closedOn": None,
        },
    }


@pytest.mark.parametrize(
    ("code", "name", "field", "words"),
    [
        ("sales-x", "组", "code", "[A-Z0-9][A-Z0-9-]{0,63}"),  # the pattern is in the message
        ("-SALES", "组", "code", "upper-case letters"),
        ("ＳＡＬＥＳ", "组", "code", "upper-case letters"),  # full-width letters
        ("SALES X", "组", "code", "upper-case letters"),
        ("A" * 65, "组", "code", "at most 64"),
        ("", "组", "code", "must not be empty"),
        ("SALES-X", "", "name", "must not be empty"),
        ("SALES-X", "组" * 201, "name", "at most 200"),
        ("SALES-X", "组" * 10_000, "name", "at most 200"),
    ],
)
async def test_org_unit_text_rules(client, company, hr, code, name, field, words):
    payload = await call(client, hr, CREATE_UNIT, {"input": {"code": code, "name": name}}, language="en")
    assert refusal(payload) == ("VALIDATION", field)
    assert words in payload["errors"][0]["message"]
    assert await OrgUnit.filter(tenant_id=company.tenant.id).count() == 4


async def test_codes_are_unique_in_a_company_only(client, company, hr, password_hash):
    payload = await call(client, hr, CREATE_UNIT, {"input": {"code": "SALES", "name": "又一个"}}, language="zh-CN")
    assert refusal(payload) == ("ALREADY_EXISTS", "code")
    assert payload["errors"][0]["message"] == "组织 SALES 已存在。"
    renamed = await call(
        client, hr, UPDATE_UNIT, {"input": {"unitId": unit_id(company, "east"), "code": "PLANT"}}, language="en"
    )
    assert refusal(renamed) == ("ALREADY_EXISTS", "code")
    assert renamed["errors"][0]["message"] == "org unit PLANT already exists."
    other = await make_company(password_hash, courses=False)
    other_hr = await token_for(client, other.code, "HR1")
    assert (await call(client, other_hr, CREATE_UNIT, {"input": {"code": "SALES-N", "name": "华北"}}))["errors"] == []
    assert (await call(client, hr, CREATE_UNIT, {"input": {"code": "SALES-N", "name": "华北"}}))["errors"] == []


async def test_a_path_that_would_not_fit_is_refused(client, company, hr):
    deep = company.org_units["plant"]
    deep.path = "9" * 510 + "."  # a tree this deep: one more level overflows the 512-character path
    await deep.save(update_fields=["path"])
    payload = await call(
        client, hr, CREATE_UNIT, {"input": {"code": "DEEP", "name": "太深", "parentId": unit_id(company, "plant")}}
    )
    assert refusal(payload) == ("VALIDATION", "parentId")
    moved = await call(
        client, hr, MOVE_UNIT, {"input": {"unitId": unit_id(company, "sales"), "parentId": unit_id(company, "plant")}}
    )
    assert refusal(moved) == ("VALIDATION", "parentId")
    assert not await OrgUnit.filter(tenant_id=company.tenant.id, code="DEEP").exists()


async def test_rename_reaches_the_phones_of_the_units_people(client, company, hr):
    learner = await token_for(client, company.code, "LRN")
    manager = await token_for(client, company.code, "MGR")
    _, cursor = await pull_all(client, learner)
    _, manager_cursor = await pull_all(client, manager)
    payload = await call(client, hr, UPDATE_UNIT, {"input": {"unitId": unit_id(company, "east"), "name": "华东大区"}})
    assert payload["orgUnit"]["name"] == "华东大区" and payload["orgUnit"]["code"] == "SALES-E"
    changes, cursor = await pull_all(client, learner, cursor)
    [profile] = [c["data"] for c in changes if c["entity"] == "PROFILE"]
    assert profile["orgUnit"]["name"] == "华东大区"
    # MGR works in SALES (no new profile) but manages LRN: their team row shows the new name.
    team = (await pull_all(client, manager, manager_cursor))[0]
    assert [(c["entity"], c["data"]["orgUnit"]["name"]) for c in team] == [("TEAM_MEMBER", "华东大区")]
    # A new code only: nothing for phones (the profile shows the name), but audited.
    await call(client, hr, UPDATE_UNIT, {"input": {"unitId": unit_id(company, "east"), "code": "SALES-EAST"}})
    assert (await pull_all(client, learner, cursor))[0] == []
    first, second = await audits(company, "org_unit.update")
    assert (first.details["before"]["name"], first.details["after"]["name"]) == ("华东销售组", "华东大区")
    assert (second.details["before"]["code"], second.details["after"]["code"]) == ("SALES-E", "SALES-EAST")
    # The same values again change nothing and write nothing.
    await call(client, hr, UPDATE_UNIT, {"input": {"unitId": unit_id(company, "east"), "code": "SALES-EAST"}})
    assert len(await audits(company, "org_unit.update")) == 2


async def test_move_rewrites_the_subtree_and_refuses_cycles(client, company, hr):
    await call(
        client, hr, CREATE_UNIT, {"input": {"code": "EAST-1", "name": "一班", "parentId": unit_id(company, "east")}}
    )
    await call(
        client,
        hr,
        CREATE_UNIT,
        {
            "input": {
                "code": "EAST-1-A",
                "name": "一班甲",
                "parentId": gid("OrgUnit", (await OrgUnit.get(tenant_id=company.tenant.id, code="EAST-1")).id),
            }
        },
    )
    assert await tree(client, hr) == ["ROOT", "SALES", "SALES-E", "EAST-1", "EAST-1-A", "PLANT"]
    moved = await call(
        client, hr, MOVE_UNIT, {"input": {"unitId": unit_id(company, "east"), "parentId": unit_id(company, "plant")}}
    )
    assert moved["errors"] == [] and moved["orgUnit"]["parent"] == {"code": "PLANT"} and moved["orgUnit"]["depth"] == 2
    assert await tree(client, hr) == ["ROOT", "SALES", "PLANT", "SALES-E", "EAST-1", "EAST-1-A"]
    units = {unit.code: unit for unit in await OrgUnit.filter(tenant_id=company.tenant.id)}
    for code, unit in units.items():  # every path is its parent's path plus its id
        assert unit.path == (units_by_id(units)[unit.parent_id].path if unit.parent_id else "") + f"{unit.id}.", code
    # Under itself or anything below it: a cycle.
    for parent in ("east", "plant"):
        target = unit_id(company, parent)
        unit = unit_id(company, "east") if parent == "east" else unit_id(company, "root")
        payload = await call(client, hr, MOVE_UNIT, {"input": {"unitId": unit, "parentId": target}}, language="en")
        assert refusal(payload) == ("WOULD_CREATE_CYCLE", "parentId")
        assert payload["errors"][0]["message"] == "This change would create a cycle (org unit)."
    deepest = gid("OrgUnit", units["EAST-1-A"].id)
    payload = await call(client, hr, MOVE_UNIT, {"input": {"unitId": unit_id(company, "root"), "parentId": deepest}})
    assert refusal(payload) == ("WOULD_CREATE_CYCLE", "parentId")
    # To the top.
    top = await call(client, hr, MOVE_UNIT, {"input": {"unitId": unit_id(company, "east")}})
    assert top["orgUnit"]["depth"] == 0 and top["orgUnit"]["parent"] is None
    assert await tree(client, hr) == ["ROOT", "SALES", "PLANT", "SALES-E", "EAST-1", "EAST-1-A"]
    assert (
        await OrgUnit.get(id=units["EAST-1-A"].id)
    ).path == f"{units['SALES-E'].id}.{units['EAST-1'].id}.{units['EAST-1-A'].id}."
    first, second = await audits(company, "org_unit.move")
    assert first.details["before"]["parentId"] == company.org_units["sales"].id
    assert first.details["after"]["parentId"] == company.org_units["plant"].id
    assert second.details["after"]["path"] == f"{units['SALES-E'].id}."


def units_by_id(units: dict[str, OrgUnit]) -> dict[int, OrgUnit]:
    return {unit.id: unit for unit in units.values()}


async def test_two_crossing_moves_at_once_cannot_make_a_cycle(client, company, hr):
    # SALES under a unit below PLANT, and PLANT under a unit below SALES: the two moves lock no row
    # in common, so only the company-wide lock keeps them from making a cycle together.
    below_plant = await call(
        client, hr, CREATE_UNIT, {"input": {"code": "PLANT-1", "name": "一车间", "parentId": unit_id(company, "plant")}}
    )
    sales, plant = unit_id(company, "sales"), unit_id(company, "plant")
    second_hr = await token_for(client, company.code, "HR1", device_id="device-2")
    answers = await asyncio.gather(
        call(client, hr, MOVE_UNIT, {"input": {"unitId": sales, "parentId": below_plant["orgUnit"]["id"]}}),
        call(client, second_hr, MOVE_UNIT, {"input": {"unitId": plant, "parentId": unit_id(company, "east")}}),
    )
    outcomes = sorted(answer["errors"][0]["code"] if answer["errors"] else "OK" for answer in answers)
    assert outcomes == ["OK", "WOULD_CREATE_CYCLE"]
    units = {unit.id: unit for unit in await OrgUnit.filter(tenant_id=company.tenant.id)}
    for unit in units.values():  # still a tree: every chain of parents ends at a root
        seen, current = set(), unit
        while current.parent_id is not None:
            assert current.id not in seen
            seen.add(current.id)
            current = units[current.parent_id]
        assert unit.path.startswith(f"{current.id}.")


async def test_close_and_reopen(client, company, hr):
    east, sales = unit_id(company, "east"), unit_id(company, "sales")
    # Open children first, then active people.
    payload = await call(client, hr, CLOSE_UNIT, {"input": {"unitId": sales, "closedOn": "2026-06-30"}}, language="en")
    assert refusal(payload) == ("STILL_IN_USE", "unitId")
    assert payload["errors"][0]["message"] == "Still in use: the org unit has open units below it."
    payload = await call(
        client, hr, CLOSE_UNIT, {"input": {"unitId": east, "closedOn": "2026-06-30"}}, language="zh-CN"
    )
    assert refusal(payload) == ("STILL_IN_USE", "unitId")
    assert payload["errors"][0]["message"] == "仍在使用中：该组织还有在职员工。"
    # Once LRN works elsewhere (an inactive employee does not count), it closes.
    learner = company.employees["LRN"]
    learner.org_unit_id = company.org_units["plant"].id
    await learner.save(update_fields=["org_unit_id"])
    company.employees["OFF"].org_unit_id = company.org_units["east"].id
    await company.employees["OFF"].save(update_fields=["org_unit_id"])
    closed = await call(client, hr, CLOSE_UNIT, {"input": {"unitId": east, "closedOn": "2026-06-30"}})
    assert closed["errors"] == [] and closed["orgUnit"]["closedOn"] == "2026-06-30"
    # A closed unit takes no children, and cannot close twice.
    payload = await call(client, hr, CREATE_UNIT, {"input": {"code": "EAST-2", "name": "二班", "parentId": east}})
    assert refusal(payload) == ("VALIDATION", "parentId")
    payload = await call(client, hr, MOVE_UNIT, {"input": {"unitId": unit_id(company, "plant"), "parentId": east}})
    assert refusal(payload) == ("VALIDATION", "parentId")
    payload = await call(client, hr, CLOSE_UNIT, {"input": {"unitId": east, "closedOn": "2026-07-01"}})
    assert refusal(payload) == ("VALIDATION", "unitId")
    # SALES has no open child now, but MGR works there.
    payload = await call(client, hr, CLOSE_UNIT, {"input": {"unitId": sales, "closedOn": "2026-06-30"}})
    assert refusal(payload) == ("STILL_IN_USE", "unitId")
    assert (
        "active employees"
        in (await call(client, hr, CLOSE_UNIT, {"input": {"unitId": sales, "closedOn": "2026-06-30"}}, language="en"))[
            "errors"
        ][0]["message"]
    )
    # Reopen: only a closed unit.
    reopened = await call(client, hr, REOPEN_UNIT, {"unitId": east})
    assert reopened["errors"] == [] and reopened["orgUnit"]["closedOn"] is None
    assert refusal(await call(client, hr, REOPEN_UNIT, {"unitId": east})) == ("VALIDATION", "unitId")
    [closing] = await audits(company, "org_unit.close")
    assert (closing.details["before"]["closedOn"], closing.details["after"]["closedOn"]) == (None, "2026-06-30")
    [reopening] = await audits(company, "org_unit.reopen")
    assert (reopening.details["before"]["closedOn"], reopening.details["after"]["closedOn"]) == ("2026-06-30", None)


async def test_a_unit_under_a_closed_one_cannot_reopen(client, company, hr):
    team = await call(
        client, hr, CREATE_UNIT, {"input": {"code": "NEW-1", "name": "新部", "parentId": unit_id(company, "root")}}
    )
    child = await call(
        client, hr, CREATE_UNIT, {"input": {"code": "NEW-1-A", "name": "新部甲", "parentId": team["orgUnit"]["id"]}}
    )
    for unit in (child, team):
        assert (
            await call(client, hr, CLOSE_UNIT, {"input": {"unitId": unit["orgUnit"]["id"], "closedOn": "2026-01-31"}})
        )["errors"] == []
    assert refusal(await call(client, hr, REOPEN_UNIT, {"unitId": child["orgUnit"]["id"]})) == ("VALIDATION", "unitId")


async def test_a_unit_closes_today_at_the_latest(client, company, hr):
    # Closing applies at once: a later day would have refused hires into it from now on.
    team = await call(client, hr, CREATE_UNIT, {"input": {"code": "NEW-2", "name": "新部"}})
    unit = team["orgUnit"]["id"]
    today = datetime.now(ZoneInfo(company.tenant.time_zone)).date()
    for day in (today + timedelta(days=1), date(2199, 12, 31)):
        payload = await call(client, hr, CLOSE_UNIT, {"input": {"unitId": unit, "closedOn": str(day)}}, language="en")
        assert refusal(payload) == ("VALIDATION", "closedOn") and today.isoformat() in payload["errors"][0]["message"]
    assert (await OrgUnit.get(code="NEW-2", tenant_id=company.tenant.id)).closed_on is None
    assert not await audits(company, "org_unit.close")
    closed = await call(client, hr, CLOSE_UNIT, {"input": {"unitId": unit, "closedOn": str(today)}})
    assert closed["errors"] == [] and closed["orgUnit"]["closedOn"] == str(today)


# --- sites ---------------------------------------------------------------------------------------


async def test_create_sites_with_the_company_time_zone_and_one_headquarters(client, company, hr):
    company.tenant.time_zone = "Asia/Urumqi"
    await company.tenant.save(update_fields=["time_zone"])
    payload = await call(
        client,
        hr,
        CREATE_SITE,
        {
            "input": {
                "code": "SZ",
                "name": "深圳办事处",
                "address": "深圳市南山区",
                "latitude": 22.54,
                "longitude": 113.93,
            }
        },
    )
    assert payload == {
        "site": {
            "code": "SZ",
            "name": "深圳办事处",
            "address": "深圳市南山区",
            "latitude": 22.54,
            "longitude": 113.93,
            "timeZone": "Asia/Urumqi",  # the company's
            "isHeadquarters": False,
        },
        "errors": [],
    }
    hq = await call(
        client,
        hr,
        CREATE_SITE,
        {"input": {"code": "BJ", "name": "北京总部", "timeZone": "Asia/Shanghai", "isHeadquarters": True}},
    )
    assert hq["site"]["isHeadquarters"] is True and hq["site"]["latitude"] is None
    headquarters = await Site.filter(tenant_id=company.tenant.id, is_headquarters=True).values_list("code", flat=True)
    assert headquarters == ["BJ"]
    created = await audits(company, "site.create")
    assert [row.details["after"]["code"] for row in created] == ["SZ", "BJ"] and created[0].details["before"] is None
    [former] = await audits(company, "site.update")  # the former headquarters, audited too
    assert former.entity_id == str(company.sites["hq"].id)
    assert (former.details["before"]["isHeadquarters"], former.details["after"]["isHeadquarters"]) == (True, False)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"timeZone": "Mars/Olympus"}, "timeZone"),
        ({"timeZone": "../etc/passwd"}, "timeZone"),
        ({"latitude": 31.2}, "longitude"),  # both or neither
        ({"longitude": 121.5}, "latitude"),
        ({"latitude": 1e30, "longitude": 121.5}, "latitude"),
        ({"latitude": 90.5, "longitude": 121.5}, "latitude"),
        ({"latitude": 31.2, "longitude": -180.01}, "longitude"),
        ({"address": "路" * 301}, "address"),
        ({"code": "sz"}, "code"),
        ({"code": "HQ"}, "code"),  # ALREADY_EXISTS
        ({"name": "  "}, "name"),
    ],
)
async def test_site_rules(client, company, hr, changes, field):
    payload = await call(client, hr, CREATE_SITE, {"input": {"code": "SZ", "name": "深圳办事处", **changes}})
    assert refusal(payload) == ("ALREADY_EXISTS" if changes.get("code") == "HQ" else "VALIDATION", field)
    assert await Site.filter(tenant_id=company.tenant.id).count() == 2
    # The same rules for a change of an existing site.
    payload = await call(
        client, hr, UPDATE_SITE, {"input": {"siteId": gid("Site", company.sites["remote"].id), **changes}}
    )
    assert refusal(payload)[1] == field
    assert (await Site.get(id=company.sites["remote"].id)).time_zone == "Asia/Urumqi"
    assert not await structure_audited(company.tenant.id)


async def test_site_changes_reach_the_phones_of_its_people(client, company, hr):
    learner = await token_for(client, company.code, "LRN")  # works at the remote site
    _, cursor = await pull_all(client, learner)
    remote = gid("Site", company.sites["remote"].id)
    payload = await call(
        client,
        hr,
        UPDATE_SITE,
        {
            "input": {
                "siteId": remote,
                "name": "新疆办事处",
                "timeZone": "Asia/Shanghai",
                "latitude": 43.8,
                "longitude": 87.6,
            }
        },
    )
    assert payload["errors"] == [] and payload["site"]["timeZone"] == "Asia/Shanghai"
    changes, cursor = await pull_all(client, learner, cursor)
    [profile] = [c["data"] for c in changes if c["entity"] == "PROFILE"]
    assert profile["site"]["name"] == "新疆办事处" and profile["site"]["timeZone"] == "Asia/Shanghai"
    # Coordinates only: nothing for phones. Null clears them, together.
    cleared = await call(client, hr, UPDATE_SITE, {"input": {"siteId": remote, "latitude": None, "longitude": None}})
    assert (cleared["site"]["latitude"], cleared["site"]["longitude"], cleared["site"]["name"]) == (
        None,
        None,
        "新疆办事处",
    )
    assert (await pull_all(client, learner, cursor))[0] == []
    half = await call(client, hr, UPDATE_SITE, {"input": {"siteId": remote, "latitude": 43.8}})
    assert refusal(half) == ("VALIDATION", "longitude")
    # Made the headquarters: the former one stops being it in the same change.
    await call(client, hr, UPDATE_SITE, {"input": {"siteId": remote, "isHeadquarters": True}})
    assert await Site.filter(tenant_id=company.tenant.id, is_headquarters=True).values_list("code", flat=True) == [
        "URC"
    ]
    rows = await audits(company, "site.update")
    assert rows[0].details["before"]["name"] == "乌鲁木齐办事处" and rows[0].details["after"]["name"] == "新疆办事处"
    assert {row.entity_id for row in rows[-2:]} == {str(company.sites["hq"].id), str(company.sites["remote"].id)}


async def test_two_new_headquarters_at_once_leave_one(client, company, hr):
    second_hr = await token_for(client, company.code, "HR1", device_id="device-2")
    await asyncio.gather(
        call(client, hr, CREATE_SITE, {"input": {"code": "HQ-A", "name": "甲", "isHeadquarters": True}}),
        call(client, second_hr, CREATE_SITE, {"input": {"code": "HQ-B", "name": "乙", "isHeadquarters": True}}),
    )
    assert await Site.filter(tenant_id=company.tenant.id, is_headquarters=True).count() == 1


# --- positions and skills ------------------------------------------------------------------------


def new_position(**changes: Any) -> dict[str, Any]:
    return {
        "input": {
            "code": "SAL-AM-2",
            "family": "销售族",
            "sequence": "客户经理序列",
            "level": "中级",
            "grade": 2,
            **changes,
        }
    }


async def test_positions_created_and_changed(client, company, hr):
    payload = await call(client, hr, CREATE_POSITION, new_position())
    assert payload["position"] == {
        "code": "SAL-AM-2",
        "family": "销售族",
        "sequence": "客户经理序列",
        "level": "中级",
        "grade": 2,
        "title": "销售族-客户经理序列-中级",
        "skillRequirements": [],
    }
    assert refusal(await call(client, hr, CREATE_POSITION, new_position(family="营销族"))) == ("ALREADY_EXISTS", "code")
    for changes, field in (
        ({"grade": 0}, "grade"),
        ({"grade": 21}, "grade"),
        ({"family": "族" * 65}, "family"),
        ({"sequence": ""}, "sequence"),
        ({"level": " "}, "level"),
        ({"code": "SAL_AM_3"}, "code"),  # not the 族-序列-层级 standard
    ):
        assert refusal(await call(client, hr, CREATE_POSITION, new_position(**{"code": "SAL-AM-3", **changes}))) == (
            "VALIDATION",
            field,
        )
    assert not await Position.filter(tenant_id=company.tenant.id, code="SAL-AM-3").exists()
    # A new title reaches the phones of the position's people (LRN holds SAL-1).
    learner = await token_for(client, company.code, "LRN")
    _, cursor = await pull_all(client, learner)
    sal_1 = gid("Position", (await Position.get(tenant_id=company.tenant.id, code="SAL-1")).id)
    changed = await call(client, hr, UPDATE_POSITION, {"input": {"positionId": sal_1, "level": "专员", "grade": 3}})
    assert changed["position"]["title"] == "销售族-客户经理序列-专员" and changed["position"]["code"] == "SAL-1"
    changes, _ = await pull_all(client, learner, cursor)
    [profile] = [c["data"] for c in changes if c["entity"] == "PROFILE"]
    assert profile["position"]["title"] == "销售族-客户经理序列-专员"
    bad = await call(client, hr, UPDATE_POSITION, {"input": {"positionId": sal_1, "code": "SAL-AM-2"}})
    assert refusal(bad) == ("ALREADY_EXISTS", "code")
    [update] = await audits(company, "position.update")
    assert update.details["before"] == {
        "code": "SAL-1",
        "family": "销售族",
        "sequence": "客户经理序列",
        "level": "初级",
        "grade": 1,
    }
    assert update.details["after"]["level"] == "专员" and update.details["after"]["grade"] == 3
    [create] = await audits(company, "position.create")
    assert create.details["before"] is None and create.details["after"]["code"] == "SAL-AM-2"


async def test_position_skill_requirements(client, company, hr, password_hash):
    position = await Position.get(tenant_id=company.tenant.id, code="SAL-1")
    skills = {code: await Skill.create(tenant=company.tenant, code=code, name=code) for code in ("NEG", "CRM")}
    await EmployeeSkill.create(tenant=company.tenant, employee=company.employees["LRN"], skill=skills["NEG"], level=40)
    learner = await token_for(client, company.code, "LRN")
    _, cursor = await pull_all(client, learner)
    ids = {"positionId": gid("Position", position.id), "skillId": gid("Skill", skills["NEG"].id)}
    for level in (60, 80):
        payload = await call(client, hr, SET_REQUIREMENT, {"input": {**ids, "requiredLevel": level}})
        assert payload["position"]["skillRequirements"] == [{"skill": {"code": "NEG"}, "requiredLevel": level}]
    await call(
        client, hr, SET_REQUIREMENT, {"input": {**ids, "skillId": gid("Skill", skills["CRM"].id), "requiredLevel": 0}}
    )
    # LRN's level row in NEG shows what their position requires now.
    changes, cursor = await pull_all(client, learner, cursor)
    [level_row] = [c["data"] for c in changes if c["entity"] == "SKILL_LEVEL"]
    assert (level_row["code"], level_row["level"], level_row["requiredLevel"]) == ("NEG", 40, 80)
    for bad in (101, -1):
        assert refusal(await call(client, hr, SET_REQUIREMENT, {"input": {**ids, "requiredLevel": bad}})) == (
            "VALIDATION",
            "requiredLevel",
        )
    rows = await audits(company, "position.skill.set")
    assert [(row.details["before"], row.details["after"]) for row in rows[:2]] == [
        (None, {"positionId": position.id, "skillId": skills["NEG"].id, "requiredLevel": 60}),
        (
            {"positionId": position.id, "skillId": skills["NEG"].id, "requiredLevel": 60},
            {"positionId": position.id, "skillId": skills["NEG"].id, "requiredLevel": 80},
        ),
    ]
    removed = await call(client, hr, REMOVE_REQUIREMENT, {"input": ids})
    assert removed["position"]["skillRequirements"] == [{"skill": {"code": "CRM"}, "requiredLevel": 0}]
    assert refusal(await call(client, hr, REMOVE_REQUIREMENT, {"input": ids})) == ("NOT_FOUND", "skillId")
    [removal] = await audits(company, "position.skill.remove")
    assert removal.details["after"] is None and removal.details["before"]["requiredLevel"] == 80
    changes, _ = await pull_all(client, learner, cursor)
    assert [c["data"]["requiredLevel"] for c in changes if c["entity"] == "SKILL_LEVEL"] == [None]


async def test_a_page_of_positions_reads_their_requirements_in_one_query(client, company, hr):
    skill = await Skill.create(tenant=company.tenant, code="NEG", name="谈判")
    for position in await Position.filter(tenant_id=company.tenant.id):
        await PositionSkill.create(tenant=company.tenant, position=position, skill=skill, required_level=50)

    async def statements() -> int:
        with count_queries() as sent:
            body = await gql(client, POSITIONS, token=hr)
        nodes = [edge["node"] for edge in body["data"]["positions"]["edges"]]
        assert all(node["skillRequirements"] == [{"skill": {"code": "NEG"}, "requiredLevel": 50}] for node in nodes)
        return len(sent)

    few = await statements()
    for index in range(6):
        position = await Position.create(
            tenant=company.tenant, code=f"SAL-AM-{index}", family="销售族", sequence="序列", level="级", grade=1
        )
        await PositionSkill.create(tenant=company.tenant, position=position, skill=skill, required_level=50)
    assert await statements() == few


async def test_skills_created_and_renamed(client, company, hr):
    payload = await call(client, hr, CREATE_SKILL, {"input": {"code": "NEG", "name": "谈判技巧", "category": "销售"}})
    assert payload == {"skill": {"code": "NEG", "name": "谈判技巧", "category": "销售"}, "errors": []}
    assert refusal(await call(client, hr, CREATE_SKILL, {"input": {"code": "NEG", "name": "又一个"}})) == (
        "ALREADY_EXISTS",
        "code",
    )
    assert refusal(await call(client, hr, CREATE_SKILL, {"input": {"code": "neg", "name": "谈判"}})) == (
        "VALIDATION",
        "code",
    )
    assert refusal(
        await call(client, hr, CREATE_SKILL, {"input": {"code": "X", "name": "谈", "category": "类" * 65}})
    ) == ("VALIDATION", "category")
    skill = await Skill.get(tenant_id=company.tenant.id, code="NEG")
    await EmployeeSkill.create(tenant=company.tenant, employee=company.employees["LRN"], skill=skill, level=40)
    learner = await token_for(client, company.code, "LRN")
    _, cursor = await pull_all(client, learner)
    renamed = await call(
        client, hr, UPDATE_SKILL, {"input": {"skillId": gid("Skill", skill.id), "name": "商务谈判", "category": None}}
    )
    assert renamed == {"skill": {"code": "NEG", "name": "商务谈判", "category": ""}, "errors": []}
    changes, _ = await pull_all(client, learner, cursor)
    assert [c["data"]["name"] for c in changes if c["entity"] == "SKILL_LEVEL"] == ["商务谈判"]
    [row] = await audits(company, "skill.update")
    assert row.details == {
        "before": {"code": "NEG", "name": "谈判技巧", "category": "销售"},
        "after": {"code": "NEG", "name": "商务谈判", "category": ""},
    }


# --- who may take courses changes with the structure ----------------------------------------------


async def _quiz_rows(client, token: str, cursor: str | None, module_id: int) -> tuple[list[str], str]:
    """The ops of one QUIZ row in a pull from ``cursor``, and the next cursor."""
    changes, cursor = await pull_all(client, token, cursor)
    key = gid("CourseModule", module_id)
    return [c["op"] for c in changes if c["entity"] == "QUIZ" and c["id"] == key], cursor


async def test_a_move_resends_the_quizzes_of_courses_for_org_units(client, password_hash):
    # S-004 is for 生产部 and the units below it: moving 销售部 there opens it to LRN (华东销售组).
    company = await make_company(password_hash)
    module, _, _ = await make_quiz(company, course="S-004")
    hr, learner = await token_for(client, company.code, "HR1"), await token_for(client, company.code, "LRN")
    ops, cursor = await _quiz_rows(client, learner, None, module.id)
    assert "UPSERT" not in ops
    moved = {"unitId": unit_id(company, "sales"), "parentId": unit_id(company, "plant")}
    assert (await call(client, hr, MOVE_UNIT, {"input": moved}))["errors"] == []
    ops, cursor = await _quiz_rows(client, learner, cursor, module.id)
    assert ops == ["UPSERT"]
    # And back out: the learner's phone drops it.
    back = {"unitId": unit_id(company, "sales"), "parentId": unit_id(company, "root")}
    assert (await call(client, hr, MOVE_UNIT, {"input": back}))["errors"] == []
    assert (await _quiz_rows(client, learner, cursor, module.id))[0] == ["DELETE"]


async def test_a_new_grade_resends_the_quizzes_of_courses_for_grades(client, password_hash):
    # S-003 is for 销售族 from grade 2: LRN's SAL-1 becoming grade 2 opens it.
    company = await make_company(password_hash)
    module, _, _ = await make_quiz(company, course="S-003")
    hr, learner = await token_for(client, company.code, "HR1"), await token_for(client, company.code, "LRN")
    ops, cursor = await _quiz_rows(client, learner, None, module.id)
    assert "UPSERT" not in ops
    sal_1 = gid("Position", (await Position.get(tenant_id=company.tenant.id, code="SAL-1")).id)
    assert (await call(client, hr, UPDATE_POSITION, {"input": {"positionId": sal_1, "grade": 2}}))["errors"] == []
    ops, cursor = await _quiz_rows(client, learner, cursor, module.id)
    assert ops == ["UPSERT"]
    assert (await call(client, hr, UPDATE_POSITION, {"input": {"positionId": sal_1, "grade": 1}}))["errors"] == []
    assert (await _quiz_rows(client, learner, cursor, module.id))[0] == ["DELETE"]


# --- the pure checks imports reuse (no database) -------------------------------------------------


@pytest.mark.parametrize(
    ("latitude", "longitude", "expected"),
    [
        ("31.2", "121.5", (31.2, 121.5)),  # text from a CSV cell
        (31, Decimal("121.5"), (31.0, 121.5)),
        (" -90 ", 180, (-90.0, 180.0)),
        ("", None, (None, None)),
    ],
)
def test_coordinates_from_cells_or_graphql(latitude, longitude, expected):
    fields = check_site("SZ", "深圳", "", latitude, longitude, None, "Asia/Shanghai", "是")
    assert (fields.latitude, fields.longitude) == expected
    assert fields.time_zone == "Asia/Shanghai" and fields.is_headquarters is True


@pytest.mark.parametrize(
    ("latitude", "longitude", "field"),
    [
        (True, 1, "latitude"),
        (float("nan"), 1, "latitude"),
        (1, float("inf"), "longitude"),
        ("1e30", 1, "latitude"),
        (1e30, 1, "latitude"),
        (10**400, 1, "latitude"),
        (Decimal("NaN"), 1, "latitude"),
        (Decimal("sNaN"), 1, "latitude"),
        ("３１", 1, "latitude"),  # full-width digits
        ("31,2", 1, "latitude"),
        (31, None, "longitude"),
        ([31], 1, "latitude"),
    ],
)
def test_bad_coordinates(latitude, longitude, field):
    with pytest.raises(DomainError) as refused:
        check_site("SZ", "深圳", "", latitude, longitude, None, "Asia/Shanghai", False)
    assert (refused.value.code, refused.value.field) == (ErrorCode.VALIDATION, field)


@pytest.mark.parametrize(("value", "expected"), [("3", 3), (" 20 ", 20), (3.0, 3), (Decimal("1"), 1), ("2.0", 2)])
def test_grades(value, expected):
    assert check_grade(value) == expected


@pytest.mark.parametrize(
    "value", [True, 0, 21, "３", "2.5", 2.5, float("nan"), float("inf"), 1e30, "1e1", "", None, "-1"]
)
def test_bad_grades(value):
    with pytest.raises(DomainError) as refused:
        check_grade(value)
    assert (refused.value.code, refused.value.field) == (ErrorCode.VALIDATION, "grade")


def test_checks_name_the_graphql_fields():
    standards = Standards(dict(DEFAULTS))
    assert check_position(standards, "SAL-AM-1", "销售族", "客户经理序列", "初级", "1").grade == 1
    assert check_skill(" NEG ", "谈判", None) == SkillFields("NEG", "谈判", "")
    assert check_org_unit("SALES-EAST", "华东").code == "SALES-EAST"
    cases = [
        (lambda: check_position(standards, "sal", "族", "序列", "级", 1), "code"),
        (lambda: check_position(standards, "SAL-AM-1", "族" * 65, "序列", "级", 1), "family"),
        (lambda: check_skill("NEG", "谈判", "类" * 65), "category"),
        (lambda: check_skill("NEG", 3, ""), "name"),
        (lambda: check_org_unit("A\x00", "x"), "code"),
        (lambda: check_org_unit("A", "x\x00"), "name"),
        (lambda: check_site("SZ", "深圳", "", None, None, "Mars/Base", "Asia/Shanghai", False), "timeZone"),
        (lambda: check_site("SZ", "深圳", "", None, None, None, "Asia/Shanghai", "maybe"), "isHeadquarters"),
    ]
    for check, field in cases:
        with pytest.raises(DomainError) as refused:
            check()
        assert (refused.value.code, refused.value.field) == (ErrorCode.VALIDATION, field)
