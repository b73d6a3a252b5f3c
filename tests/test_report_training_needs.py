"""The training-needs heatmap: every cell, row and column of a small company computed by hand, the
courses that close each skill's gaps, the unit's own people above the rows' depth, the filters,
the role matrix, a statement count that stays the same when units, skills and people double, and
the export's rows.

The company (tests/factories.py make_company, plus S2 and P2):

| who | unit | position (requires) | levels |
| --- | --- | --- | --- |
| HR1 | 总部 | MGT-1 (NEG 80) | NEG 90 |
| MGR | 销售部 | MGT-1 (NEG 80) | NEG 60 |
| LRN | 华东销售组 | SAL-1 (NEG 60, SAFE 40) | NEG 50 |
| S2 | 华东销售组 | SAL-1 (NEG 60, SAFE 40) | NEG 70, SAFE 40 |
| OTH | 生产部 | PRD-2 (SAFE 70) | SAFE 30 |
| P2 | 生产部 | PRD-2 (SAFE 70) | none |
| OFF | 生产部, inactive | PRD-2 | none (not counted) |

Courses teaching NEG (published): S-001 40, S-003 70, S-005 85; S-007 95 is a draft. SAFE:
A-001 60, A-002 50.
"""

from __future__ import annotations

from datetime import date

import pytest

from backend.ids import to_global_id
from backend.models import (
    CourseSkill,
    Employee,
    EmployeeRole,
    EmployeeSkill,
    OrgUnit,
    Position,
    PositionSkill,
    Role,
    Skill,
)
from backend.services.reports import training_needs
from backend.services.reports.frame import Period, ReportFilter
from backend.services.reports.tables import ReportOptions
from tests.conftest import count_queries
from tests.factories import Company, make_company
from tests.graphql_client import gql, token_for
from tests.report_world import viewer_of

NEEDS = """
query N($unit: ID, $depth: Int, $site: ID, $family: String, $level: String) {
  trainingNeeds(orgUnitId: $unit, depth: $depth, siteId: $site, positionFamily: $family, positionLevel: $level) {
    unit { name } depth headcount total { headcount below shareBelow averageGap }
    columns { skill { id code } requiredLevel total { headcount below shareBelow averageGap }
      courses { course { code } targetLevel } }
    rows { unit { name } ownPeopleOnly headcount total { headcount below shareBelow averageGap }
      cells { skillId need { headcount below shareBelow averageGap } } }
  }
}
"""


async def _person(company: Company, no: str, unit: str, position: str, password_hash: str) -> Employee:
    employee = await Employee.create(
        tenant=company.tenant,
        employee_no=no,
        name=f"员工{no}",
        password_hash=password_hash,
        org_unit=company.org_units[unit],
        site=company.sites["hq"],
        position=await Position.get(tenant=company.tenant, code=position),
    )
    await EmployeeRole.create(tenant=company.tenant, employee=employee, role=Role.EMPLOYEE)
    company.employees[no] = employee
    return employee


async def _requires(company: Company, position: str, skill: Skill, level: int) -> None:
    found = await Position.get(tenant=company.tenant, code=position)
    await PositionSkill.create(tenant=company.tenant, position=found, skill=skill, required_level=level)


async def _level(company: Company, no: str, skill: str, level: int) -> None:
    await EmployeeSkill.create(
        tenant=company.tenant, employee=company.employees[no], skill=company.skills[skill], level=level
    )


@pytest.fixture
async def company(password_hash):
    company = await make_company(password_hash)
    await _person(company, "S2", "east", "SAL-1", password_hash)
    await _person(company, "P2", "plant", "PRD-2", password_hash)
    neg, safe = company.skills["NEG"], company.skills["SAFE"]
    await _requires(company, "MGT-1", neg, 80)
    await _requires(company, "SAL-1", neg, 60)
    await _requires(company, "SAL-1", safe, 40)
    await _requires(company, "PRD-2", safe, 70)
    for no, skill, level in (
        ("HR1", "NEG", 90),
        ("MGR", "NEG", 60),
        ("LRN", "NEG", 50),
        ("S2", "NEG", 70),
        ("S2", "SAFE", 40),
        ("OTH", "SAFE", 30),
    ):
        await _level(company, no, skill, level)
    tenant = company.tenant
    await CourseSkill.create(tenant=tenant, course=company.courses["S-005"], skill=neg, target_level=85)
    await CourseSkill.create(tenant=tenant, course=company.courses["S-007"], skill=neg, target_level=95)
    await CourseSkill.create(tenant=tenant, course=company.courses["A-002"], skill=safe, target_level=50)
    return company


def gid(type_name: str, row_id: int) -> str:
    return to_global_id(type_name, row_id)


def need(headcount, below, share, gap):
    return {"headcount": headcount, "below": below, "shareBelow": share, "averageGap": gap}


async def _ask(client, company, no="HR1", **variables):
    token = await token_for(client, company.code, no)
    return await gql(client, NEEDS, variables, token=token)


def _report(body):
    assert "errors" not in body, body
    return body["data"]["trainingNeeds"]


def _rows(report):
    """Row name -> (own people only, headcount, total, {skill code: cell need})."""
    codes = {column["skill"]["id"]: column["skill"]["code"] for column in report["columns"]}
    return {
        (row["unit"] or {}).get("name"): (
            row["ownPeopleOnly"],
            row["headcount"],
            row["total"],
            {codes[cell["skillId"]]: cell["need"] for cell in row["cells"]},
        )
        for row in report["rows"]
    }


async def test_every_cell_row_and_column_of_the_units_below_the_root(client, company):
    root = gid("OrgUnit", company.org_units["root"].id)
    report = _report(await _ask(client, company, unit=root))
    assert (report["unit"], report["depth"], report["headcount"]) == ({"name": "总部"}, 1, 6)
    # Rows by unit name: 总部 (HR1, its own people: above depth 1), 生产部, 销售部 (its subtree).
    assert [(r["unit"]["name"], r["ownPeopleOnly"]) for r in report["rows"]] == [
        ("总部", True),
        ("生产部", False),
        ("销售部", False),
    ]
    assert _rows(report) == {
        "总部": (True, 1, need(1, 0, 0.0, None), {"NEG": need(1, 0, 0.0, None)}),
        # OTH 30 < 70 (gap 40), P2 none < 70 (gap 70); OFF is inactive.
        "生产部": (False, 2, need(2, 2, 1.0, 55.0), {"SAFE": need(2, 2, 1.0, 55.0)}),
        # NEG: LRN 50 < 60 (10), S2 70 ≥ 60, MGR 60 < 80 (20); SAFE: LRN none < 40 (40), S2 40 ≥ 40.
        "销售部": (
            False,
            3,
            need(5, 3, 0.6, 23.3),
            {"NEG": need(3, 2, 0.6667, 15.0), "SAFE": need(2, 1, 0.5, 40.0)},
        ),
    }
    assert [
        (
            c["skill"]["code"],
            c["requiredLevel"],
            c["total"],
            [(x["course"]["code"], x["targetLevel"]) for x in c["courses"]],
        )
        for c in report["columns"]
    ] == [
        # NEG's bar is 80 (MGT-1): S-005 (85) reaches it; S-007 is a draft.
        ("NEG", 80, need(4, 2, 0.5, 15.0), [("S-005", 85)]),
        # SAFE's bar is 70: nothing reaches it, so the highest target, A-001 (60).
        ("SAFE", 70, need(4, 3, 0.75, 50.0), [("A-001", 60)]),
    ]
    # Weighted by headcount: 5 of 8 requirements below, gaps 10+20+40+40+70 over 5.
    assert report["total"] == need(8, 5, 0.625, 36.0)


async def test_the_whole_company_deeper_rows_and_filters(client, company):
    # The whole company at depth 1 is the root's subtree as one row.
    report = _report(await _ask(client, company))
    assert report["unit"] is None
    assert _rows(report)["总部"][:3] == (False, 6, need(8, 5, 0.625, 36.0))
    # Depth 2 from the company: the departments, and 总部's own people.
    report = _report(await _ask(client, company, depth=2))
    assert sorted(_rows(report)) == ["总部", "生产部", "销售部"]
    # Depth 2 from the root: 华东销售组 (LRN, S2); MGR is 销售部's own; 生产部 has no units below.
    root = gid("OrgUnit", company.org_units["root"].id)
    rows = _rows(_report(await _ask(client, company, unit=root, depth=2)))
    assert rows == {
        "总部": (True, 1, need(1, 0, 0.0, None), {"NEG": need(1, 0, 0.0, None)}),
        "生产部": (True, 2, need(2, 2, 1.0, 55.0), {"SAFE": need(2, 2, 1.0, 55.0)}),
        "销售部": (True, 1, need(1, 1, 1.0, 20.0), {"NEG": need(1, 1, 1.0, 20.0)}),
        "华东销售组": (
            False,
            2,
            need(4, 2, 0.5, 25.0),
            {"NEG": need(2, 1, 0.5, 10.0), "SAFE": need(2, 1, 0.5, 40.0)},
        ),
    }
    # Position family: 销售族 only (LRN, S2); a unit with nobody of it still shows, empty.
    rows = _rows(_report(await _ask(client, company, unit=root, family="销售族")))
    assert rows == {
        "生产部": (False, 0, need(0, 0, None, None), {}),
        "销售部": (
            False,
            2,
            need(4, 2, 0.5, 25.0),
            {"NEG": need(2, 1, 0.5, 10.0), "SAFE": need(2, 1, 0.5, 40.0)},
        ),
    }
    # Site: LRN works at the remote office.
    remote = gid("Site", company.sites["remote"].id)
    report = _report(await _ask(client, company, unit=root, site=remote))
    assert report["headcount"] == 1 and report["total"] == need(2, 2, 1.0, 25.0)
    body = await _ask(client, company, unit=root, depth=0)
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION", body


def _code(body):
    assert body.get("data") is None or body["data"].get("trainingNeeds") is None, body
    return body["errors"][0]["extensions"]["code"]


async def test_who_may_see_which_units(client, company, password_hash):
    root = gid("OrgUnit", company.org_units["root"].id)
    east = gid("OrgUnit", company.org_units["east"].id)
    # A manager: their own unit by default, and units below it; not above or beside.
    report = _report(await _ask(client, company, "MGR"))
    assert report["unit"] == {"name": "销售部"}
    assert sorted(_rows(report)) == ["华东销售组", "销售部"]
    assert _rows(report)["销售部"][:3] == (True, 1, need(1, 1, 1.0, 20.0))
    assert _report(await _ask(client, company, "MGR", unit=east))["headcount"] == 2
    assert _code(await _ask(client, company, "MGR", unit=root)) == "FORBIDDEN"
    plant = gid("OrgUnit", company.org_units["plant"].id)
    assert _code(await _ask(client, company, "MGR", unit=plant)) == "FORBIDDEN"
    # Learners never.
    assert _code(await _ask(client, company, "LRN")) == "FORBIDDEN"
    # Another company's unit is not found.
    other = await make_company(password_hash, courses=False)
    body = await _ask(client, other, "HR1", unit=root)
    assert _code(body) == "NOT_FOUND"


async def _count(client, token):
    with count_queries() as statements:
        body = await gql(client, NEEDS, {"depth": 2}, token=token)
    return list(statements), _report(body)


async def test_the_whole_matrix_costs_the_same_statements_when_it_doubles(client, company, password_hash):
    token = await token_for(client, company.code, "HR1")
    small, small_report = await _count(client, token)
    # Twice the units below the root, skills and people.
    tenant = company.tenant
    root = company.org_units["root"]
    for n in range(3):
        unit = await OrgUnit.create(tenant=tenant, code=f"NEW{n}", name=f"新部门{n}", parent=root)
        unit.path = f"{root.path}{unit.id}."
        await unit.save(update_fields=["path"])
        company.org_units[f"new{n}"] = unit
        skill = await Skill.create(tenant=tenant, code=f"K{n}", name=f"技能{n}")
        await _requires(company, "PRD-2", skill, 50)
        for i in range(3):
            await _person(company, f"N{n}{i}", f"new{n}", "PRD-2", password_hash)
    large, large_report = await _count(client, token)
    assert len(small_report["rows"]) == 3 and len(large_report["rows"]) == 6
    assert len(small_report["columns"]) == 2 and len(large_report["columns"]) == 5
    listing = "\n".join(f"  {n}. {sql}" for n, sql in enumerate(large, 1))
    assert len(small) == len(large), f"{len(small)} statements, then {len(large)}:\n{listing}"
    print(f"trainingNeeds: {len(large)} statements (sign-in check included)\n{listing}")
    # A new unit's row: 3 people, each below in SAFE (70, gap 70) and in the three K skills (50).
    cells = _rows(large_report)["新部门0"][3]
    assert cells["SAFE"] == need(3, 3, 1.0, 70.0) and cells["K0"] == need(3, 3, 1.0, 50.0)


async def test_the_export_has_a_row_per_cell(company):
    hr = viewer_of(company, "HR1", Role.HR_ADMIN)
    period = Period.of(date(2026, 11, 1), date(2026, 11, 30))
    options = ReportOptions(filter=ReportFilter(period, org_unit_id=company.org_units["root"].id))
    table = await training_needs.export_table(hr, options)
    rows = [list(row) async for row in table.rows]
    assert table.total == 4 and [c.en for c in table.columns][:3] == ["Org unit", "Own people only", "Skill code"]
    assert rows == [
        ["总部", True, "NEG", "谈判技巧", 1, 0, 0.0, None, "S-005"],
        ["生产部", False, "SAFE", "消防安全", 2, 2, 1.0, 55.0, "A-001"],
        ["销售部", False, "NEG", "谈判技巧", 3, 2, 0.6667, 15.0, "S-005"],
        ["销售部", False, "SAFE", "消防安全", 2, 1, 0.5, 40.0, "A-001"],
    ]
