"""HR administration lists through the real HTTP app: orgUnits (tree order), sites, positions,
skills, employees and auditLog — keyset pages read to the end, totalCount, every filter, the role
matrix, tenant isolation, refused cursors and IDs, and a constant number of statements per page."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tortoise import connections

from backend.ids import to_global_id
from backend.models import AuditEntry, Employee, EmployeeRole, OrgUnit, Position, Role, Site, Skill
from backend.services.audit import audit
from backend.services.viewer import Viewer
from tests.conftest import count_queries
from tests.factories import Company, make_company
from tests.graphql_client import gql, token_for

PAGE = "pageInfo { hasNextPage hasPreviousPage endCursor } totalCount"

ORG_UNITS = f"""
query Units($first: Int!, $after: String, $parentId: ID, $search: String) {{
  orgUnits(first: $first, after: $after, parentId: $parentId, search: $search) {{
    edges {{ cursor node {{ id code name depth childCount parent {{ code }} }} }} {PAGE}
  }}
}}
"""
SITES = f"""
query Sites($first: Int!, $after: String, $search: String) {{
  sites(first: $first, after: $after, search: $search) {{
    edges {{ node {{ id code name address latitude longitude timeZone isHeadquarters }} }} {PAGE}
  }}
}}
"""
POSITIONS = f"""
query Positions($first: Int!, $after: String, $family: String, $search: String) {{
  positions(first: $first, after: $after, family: $family, search: $search) {{
    edges {{ node {{ id code family sequence level grade title }} }} {PAGE}
  }}
}}
"""
SKILLS = f"""
query Skills($first: Int!, $after: String, $search: String) {{
  skills(first: $first, after: $after, search: $search) {{
    edges {{ node {{ id code name category }} }} {PAGE}
  }}
}}
"""
EMPLOYEES = f"""
query Employees($first: Int!, $after: String, $filter: EmployeeFilter) {{
  employees(first: $first, after: $after, filter: $filter) {{
    edges {{ node {{
      id employeeNo name isActive phone roles
      orgUnit {{ code }} site {{ code }} position {{ code }} manager {{ employeeNo }} mentor {{ employeeNo }}
    }} }} {PAGE}
  }}
}}
"""
# The same page with what costs a read per employee unless batched: learning and credits.
EMPLOYEES_IN_DEPTH = EMPLOYEES.replace(
    "mentor {{ employeeNo }}".replace("{{", "{").replace("}}", "}"),
    "mentor { employeeNo } learning { course { code } } credits { balance periodEarned target progressPercent }",
)
AUDIT_LOG = f"""
query Audit($first: Int!, $after: String, $filter: AuditLogFilter) {{
  auditLog(first: $first, after: $after, filter: $filter) {{
    edges {{ node {{ id action entity entityId at details actor {{ employeeNo name }} }} }} {PAGE}
  }}
}}
"""

LISTS = {"orgUnits": ORG_UNITS, "sites": SITES, "positions": POSITIONS, "skills": SKILLS}


def error_code(body: dict[str, Any]) -> str:
    assert body.get("data") is None or all(value is None for value in body["data"].values()), body
    return body["errors"][0]["extensions"]["code"]


async def walk(client, token: str, query: str, field: str, first: int, **variables: Any) -> list[dict[str, Any]]:
    """Every node of a list, page by page with ``after``: asserts the paging flags and that every
    page tells the same totalCount, which equals what was read."""
    nodes: list[dict[str, Any]] = []
    after = None
    totals = set()
    while True:
        body = await gql(client, query, {"first": first, "after": after, **variables}, token=token)
        assert "errors" not in body, body
        page = body["data"][field]
        assert len(page["edges"]) <= first
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        nodes += [edge["node"] for edge in page["edges"]]
        totals.add(page["totalCount"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        assert len(page["edges"]) == first
        after = page["pageInfo"]["endCursor"]
    ids = [node.get("id") for node in nodes]
    assert len(ids) == len(set(ids)), "a row came twice"
    assert totals == {len(nodes)}, (totals, len(nodes))
    return nodes


async def _unit(company: Company, code: str, name: str, parent: OrgUnit | None) -> OrgUnit:
    unit = await OrgUnit.create(tenant=company.tenant, code=code, name=name, parent=parent)
    unit.path = f"{parent.path if parent else ''}{unit.id}."
    await unit.save(update_fields=["path"])
    company.org_units[code] = unit
    return unit


async def big_company(password_hash: str) -> Company:
    """make_company plus a deeper tree (12 more units, some deep), sites, positions, skills and
    employees enough for several pages of each list."""
    company = await make_company(password_hash)
    tenant = company.tenant
    units = company.org_units
    for index in range(4):
        team = await _unit(company, f"SALES-T{index}", f"销售{index}组", units["sales"])
        await _unit(company, f"SALES-T{index}-A", f"销售{index}组甲班", team)
    deep = await _unit(company, "PLANT-W", "车间", units["plant"])
    for index in range(3):
        deep = await _unit(company, f"PLANT-W{index}", f"车间{index}段", deep)
    await _unit(company, "ROOT2", "子公司", None)
    for index in range(8):
        company.sites[f"S{index}"] = await Site.create(
            tenant=tenant,
            code=f"S{index:02d}",
            name=f"{index}号办事处",
            address=f"深圳市南山区{index}号",
            latitude=22.5,
        )
    for index in range(8):
        await Position.create(
            tenant=tenant,
            code=f"SAL-{index + 2}",
            family="销售族",
            sequence="客户经理序列",
            level=f"{index + 2}级",
            grade=index + 2,
        )
    for index in range(8):
        company.skills[f"K{index}"] = await Skill.create(
            tenant=tenant, code=f"K{index:02d}", name=f"技能{index}", category="通用"
        )
    sales_1 = await Position.get(tenant_id=tenant.id, code="SAL-1")
    manager = company.employees["MGR"]
    for index in range(12):
        unit = units[f"SALES-T{index % 4}-A"] if index % 2 else units["PLANT-W1"]
        employee = await Employee.create(
            tenant=tenant,
            employee_no=f"E{index:03d}",
            name=f"王{index}号" if index % 3 else f"张{index}号",
            password_hash=password_hash,
            org_unit=unit,
            site=company.sites["hq"],
            position=sales_1 if index % 2 else None,
            manager=manager if index < 6 else None,
            phone="13900000000",
            is_active=index != 11,
        )
        await EmployeeRole.create(tenant=tenant, employee=employee, role=Role.EMPLOYEE)
        company.employees[employee.employee_no] = employee
    return company


@pytest.fixture
async def two_companies(password_hash) -> tuple[Company, Company]:
    """Two companies: every list of the first must leave out every row of the second."""
    return await big_company(password_hash), await big_company(password_hash)


def gid(type_name: str, row_id: int) -> str:
    return to_global_id(type_name, row_id)


def tree_order(units: list[OrgUnit]) -> list[str]:
    """Codes in pre-order: a unit, then its subtree (children in path order), then its siblings."""
    children: dict[int | None, list[OrgUnit]] = {}
    for unit in units:
        children.setdefault(unit.parent_id, []).append(unit)
    for kids in children.values():
        kids.sort(key=lambda unit: unit.path.encode())
    order: list[str] = []

    def visit(parent: int | None) -> None:
        for unit in children.get(parent, []):
            order.append(unit.code)
            visit(unit.id)

    visit(None)
    return order


# --- org units ---------------------------------------------------------------------------------


async def test_org_units_read_like_the_tree_page_by_page(client, two_companies):
    company, other = two_companies
    units = await OrgUnit.filter(tenant_id=company.tenant.id)
    by_code = {unit.code: unit for unit in units}
    token = await token_for(client, company.code, "LRN")  # any employee may read the structure
    for first in (1, 3, 50):
        nodes = await walk(client, token, ORG_UNITS, "orgUnits", first)
        assert [node["code"] for node in nodes] == tree_order(units)
    assert len(nodes) == 17
    # Depth, parent and children count, as the tree says.
    shown = {node["code"]: node for node in nodes}
    assert shown["ROOT"] == {**shown["ROOT"], "depth": 0, "childCount": 2, "parent": None}
    assert shown["SALES"]["depth"] == 1 and shown["SALES"]["childCount"] == 5
    assert shown["SALES-T2-A"]["depth"] == 3 and shown["SALES-T2-A"]["parent"] == {"code": "SALES-T2"}
    assert shown["PLANT-W2"]["depth"] == 5 and shown["PLANT-W2"]["childCount"] == 0
    assert shown["ROOT2"] == {**shown["ROOT2"], "depth": 0, "childCount": 0, "parent": None}
    # Each unit's subtree follows it at once.
    codes = [node["code"] for node in nodes]
    for code, unit in by_code.items():
        subtree = [c for c in codes if by_code[c].path.startswith(unit.path)]
        start = codes.index(code)
        assert codes[start : start + len(subtree)] == subtree
    # Nothing of the other company.
    assert not {node["id"] for node in nodes} & {gid("OrgUnit", u.id) for u in other.org_units.values()}


async def test_org_units_children_of_a_parent_and_search(client, two_companies):
    company, other = two_companies
    units = company.org_units
    token = await token_for(client, company.code, "OTH")
    children = await walk(client, token, ORG_UNITS, "orgUnits", 2, parentId=gid("OrgUnit", units["sales"].id))
    assert sorted(node["code"] for node in children) == ["SALES-E", "SALES-T0", "SALES-T1", "SALES-T2", "SALES-T3"]
    assert {node["parent"]["code"] for node in children} == {"SALES"}
    leaf = await walk(client, token, ORG_UNITS, "orgUnits", 2, parentId=gid("OrgUnit", units["PLANT-W2"].id))
    assert leaf == []
    # Chinese search, each word must match (code or name), ignoring case.
    found = await walk(client, token, ORG_UNITS, "orgUnits", 2, search="销售")
    by_code = {unit.code: unit for unit in units.values()}
    assert [n["code"] for n in found] == [c for c in tree_order(list(units.values())) if "销售" in by_code[c].name]
    assert len(found) == 10
    assert [n["code"] for n in await walk(client, token, ORG_UNITS, "orgUnits", 2, search="销售 甲班 t3")] == [
        "SALES-T3-A"
    ]
    assert await walk(client, token, ORG_UNITS, "orgUnits", 2, search="plant-w2")  # code, lower case
    assert await walk(client, token, ORG_UNITS, "orgUnits", 2, search="100%") == []  # % is a character
    # Another company's unit as parent looks missing.
    body = await gql(
        client, ORG_UNITS, {"first": 5, "parentId": gid("OrgUnit", other.org_units["sales"].id)}, token=token
    )
    assert error_code(body) == "NOT_FOUND"


# --- sites, positions, skills ------------------------------------------------------------------


async def test_sites_positions_skills_in_code_order_with_search_and_family(client, two_companies):
    company, other = two_companies
    token = await token_for(client, company.code, "MGR")
    tenant_id = company.tenant.id
    for query, field, model in ((SITES, "sites", Site), (POSITIONS, "positions", Position), (SKILLS, "skills", Skill)):
        codes = sorted(await model.filter(tenant_id=tenant_id).values_list("code", flat=True))
        other_ids = {
            gid(model.__name__, row)
            for row in await model.filter(tenant_id=other.tenant.id).values_list("id", flat=True)
        }
        for first in (1, 3):
            nodes = await walk(client, token, query, field, first)
            assert [node["code"] for node in nodes] == codes
            assert not {node["id"] for node in nodes} & other_ids
    site = next(n for n in await walk(client, token, SITES, "sites", 10, search="s03"))
    assert site == {
        **site,
        "code": "S03",
        "name": "3号办事处",
        "address": "深圳市南山区3号",
        "latitude": 22.5,
        "longitude": None,
    }
    assert [n["code"] for n in await walk(client, token, SITES, "sites", 2, search="南山区")] == [
        f"S{i:02d}" for i in range(8)
    ]
    assert [n["code"] for n in await walk(client, token, SITES, "sites", 2, search="乌鲁木齐")] == ["URC"]
    family = await walk(client, token, POSITIONS, "positions", 2, family="销售族")
    assert [n["code"] for n in family] == ["SAL-1", *(f"SAL-{i}" for i in range(2, 10))]
    assert family[0]["title"] == "销售族-客户经理序列-初级"
    assert [n["code"] for n in await walk(client, token, POSITIONS, "positions", 2, family="销售族", search="3级")] == [
        "SAL-3"
    ]
    assert [n["code"] for n in await walk(client, token, POSITIONS, "positions", 2, search="操作员")] == ["PRD-2"]
    assert await walk(client, token, POSITIONS, "positions", 2, family="销售") == []  # the family exactly
    assert [n["code"] for n in await walk(client, token, SKILLS, "skills", 2, search="谈判")] == ["NEG"]
    assert [n["code"] for n in await walk(client, token, SKILLS, "skills", 4, search="通用")] == [
        f"K{i:02d}" for i in range(8)
    ]


# --- employees -----------------------------------------------------------------------------------


async def test_hr_lists_every_employee_with_each_filter(client, two_companies):
    company, other = two_companies
    token = await token_for(client, company.code, "HR1")
    everyone = await walk(client, token, EMPLOYEES, "employees", 4)
    numbers = sorted(company.employees)
    assert [n["employeeNo"] for n in everyone] == numbers and len(numbers) == 17
    assert not {n["id"] for n in everyone} & {gid("Employee", e.id) for e in other.employees.values()}
    lrn = next(n for n in everyone if n["employeeNo"] == "LRN")
    assert lrn == {
        **lrn,
        "name": "李学员",
        "phone": "13800000000",  # HR admins see the phone
        "orgUnit": {"code": "SALES-E"},
        "site": {"code": "URC"},
        "position": {"code": "SAL-1"},
        "manager": {"employeeNo": "MGR"},
        "mentor": {"employeeNo": "MGR"},
        "roles": ["EMPLOYEE"],
    }

    async def numbers_for(**conditions: Any) -> list[str]:
        return [n["employeeNo"] for n in await walk(client, token, EMPLOYEES, "employees", 3, filter=conditions)]

    # Search by name (Chinese) or number (any case); every word must match.
    assert await numbers_for(search="王") == [f"E{i:03d}" for i in range(12) if i % 3]
    assert await numbers_for(search="李学") == ["LRN"]
    assert await numbers_for(search="lrn") == ["LRN"]
    assert await numbers_for(search="e00") == [f"E{i:03d}" for i in range(10)]
    assert await numbers_for(search="张 E00") == ["E000", "E003", "E006", "E009"]
    assert await numbers_for(search="  ") == numbers
    # Org subtree: the unit and every unit below it.
    units = company.org_units
    assert await numbers_for(orgUnitId=gid("OrgUnit", units["sales"].id)) == sorted(
        ["MGR", "LRN", *(f"E{i:03d}" for i in range(12) if i % 2)]
    )
    assert await numbers_for(orgUnitId=gid("OrgUnit", units["SALES-T1"].id)) == ["E001", "E005", "E009"]
    assert await numbers_for(orgUnitId=gid("OrgUnit", units["PLANT-W"].id)) == [f"E{i:03d}" for i in range(0, 12, 2)]
    assert await numbers_for(orgUnitId=gid("OrgUnit", units["PLANT-W2"].id)) == []
    assert await numbers_for(orgUnitId=gid("OrgUnit", units["root"].id)) == numbers
    # Status.
    assert await numbers_for(status="INACTIVE") == ["E011", "OFF"]
    active = await numbers_for(status="ACTIVE")
    assert "OFF" not in active and "E011" not in active and len(active) == 15
    # Position, and every condition together.
    sales_1 = await Position.get(tenant_id=company.tenant.id, code="SAL-1")
    assert await numbers_for(positionId=gid("Position", sales_1.id)) == sorted(
        ["LRN", *(f"E{i:03d}" for i in range(12) if i % 2)]
    )
    assert await numbers_for(
        positionId=gid("Position", sales_1.id),
        orgUnitId=gid("OrgUnit", units["sales"].id),
        status="ACTIVE",
        search="王",
    ) == ["E001", "E005", "E007"]


async def test_managers_list_their_direct_reports_and_see_no_phones(client, two_companies):
    company, _ = two_companies
    token = await token_for(client, company.code, "MGR")
    reports = await walk(client, token, EMPLOYEES, "employees", 2)
    assert [n["employeeNo"] for n in reports] == sorted(["LRN", *(f"E{i:03d}" for i in range(6))])
    assert {n["phone"] for n in reports} == {None}  # the phone is the person's and HR's
    # Filters narrow the manager's list; they never widen it.
    units = company.org_units
    narrowed = await walk(
        client, token, EMPLOYEES, "employees", 2, filter={"orgUnitId": gid("OrgUnit", units["PLANT-W"].id)}
    )
    assert [n["employeeNo"] for n in narrowed] == ["E000", "E002", "E004"]
    assert await walk(client, token, EMPLOYEES, "employees", 2, filter={"search": "欧阳"}) == []


async def test_role_matrix(client, two_companies):
    """Org units, sites, positions, skills: everyone signed in. Employees: HR admins and managers.
    Audit log: HR admins only. Not signed in: UNAUTHENTICATED everywhere."""
    company, _ = two_companies
    await _entries(company, datetime(2026, 1, 1, tzinfo=UTC))
    tokens = {number: await token_for(client, company.code, number) for number in ("HR1", "MGR", "LRN", "OTH")}
    allowed = {
        **{field: {"HR1", "MGR", "LRN", "OTH"} for field in LISTS},
        "employees": {"HR1", "MGR"},
        "auditLog": {"HR1"},
    }
    queries = {**LISTS, "employees": EMPLOYEES, "auditLog": AUDIT_LOG}
    for field, query in queries.items():
        for number, token in tokens.items():
            body = await gql(client, query, {"first": 1}, token=token)
            if number in allowed[field]:
                assert "errors" not in body and body["data"][field]["totalCount"] >= 1, (field, number, body)
            else:
                assert error_code(body) == "FORBIDDEN", (field, number)
        assert error_code(await gql(client, query, {"first": 1})) == "UNAUTHENTICATED"
    # The role is checked before the input: an employee probing with a bad ID learns FORBIDDEN.
    body = await gql(client, EMPLOYEES, {"first": 1, "filter": {"orgUnitId": "nonsense"}}, token=tokens["LRN"])
    assert error_code(body) == "FORBIDDEN"
    body = await gql(client, AUDIT_LOG, {"first": 1, "after": "nonsense"}, token=tokens["MGR"])
    assert error_code(body) == "FORBIDDEN"


# --- audit log -----------------------------------------------------------------------------------


async def _entries(company: Company, start: datetime) -> list[AuditEntry]:
    """Seven entries an hour apart, by HR1 and MGR and the system (no actor), on two kinds of row."""
    connection = connections.get("default")
    hr, manager = company.employees["HR1"], company.employees["MGR"]
    plan = [
        (hr, "rubric.create", "Rubric", 1, {"code": "R1"}),
        (manager, "session.create", "TrainingSession", 7, {"title": "消防演练"}),
        (hr, "rubric.update", "Rubric", 1, {"before": {"title": "旧"}, "after": {"title": "新"}}),
        (None, "credits.expire", "CreditAccount", 3, {"amount": "-2.5"}),
        (hr, "rubric.create", "Rubric", 2, {"code": "R2"}),
        (manager, "session.cancel", "TrainingSession", 7, {"reason": "台风"}),
        (hr, "rubric.create", "Rubric", 3, {"code": "R3"}),
    ]
    created = []
    for index, (actor, action, entity, entity_id, details) in enumerate(plan):
        viewer = Viewer(company.tenant.id, actor, frozenset(), uuid.uuid4(), "device-1") if actor else None
        await audit(connection, viewer, company.tenant.id, action, entity, entity_id, details)
        row = await AuditEntry.filter(tenant_id=company.tenant.id).order_by("-id").first()
        assert row is not None
        await AuditEntry.filter(id=row.id).update(at=start + timedelta(hours=index))
        created.append(row)
    # Two written in the same instant: their ids order them.
    await AuditEntry.filter(id=created[-1].id).update(at=start + timedelta(hours=5))
    return created


async def test_audit_log_newest_first_with_every_filter(client, two_companies):
    company, other = two_companies
    start = datetime(2026, 3, 1, 9, tzinfo=UTC)
    created = await _entries(company, start)
    await _entries(other, start)
    token = await token_for(client, company.code, "HR1")
    other_token = await token_for(client, other.code, "HR1")
    # Signing in is audited too (auth.login, written now): this test reads the entries above only.
    await AuditEntry.filter(action="auth.login").delete()
    entries = await walk(client, token, AUDIT_LOG, "auditLog", 2)
    # Newest first; the last two share an instant and come by id, highest first.
    assert [e["id"] for e in entries] == [str(row.id) for row in (created[6], created[5], *reversed(created[:5]))]
    first = entries[-1]
    assert first == {
        "id": str(created[0].id),
        "action": "rubric.create",
        "entity": "Rubric",
        "entityId": "1",
        "at": "2026-03-01T09:00:00+00:00",
        "details": {"code": "R1"},
        "actor": {"employeeNo": "HR1", "name": "韩人事"},
    }
    assert next(e for e in entries if e["action"] == "credits.expire")["actor"] is None
    assert next(e for e in entries if e["action"] == "rubric.update")["details"] == {
        "before": {"title": "旧"},
        "after": {"title": "新"},
    }

    async def actions(**conditions: Any) -> list[str]:
        return [e["action"] for e in await walk(client, token, AUDIT_LOG, "auditLog", 2, filter=conditions)]

    hr, manager = company.employees["HR1"], company.employees["MGR"]
    assert await actions(actorId=gid("Employee", manager.id)) == ["session.cancel", "session.create"]
    assert await actions(actorId=gid("Employee", hr.id), action="rubric.create") == ["rubric.create"] * 3
    assert await actions(entity="TrainingSession") == ["session.cancel", "session.create"]
    assert await actions(entity="Rubric", action="rubric.update") == ["rubric.update"]
    # from is inclusive, to exclusive; times in any offset.
    assert await actions(**{"from": "2026-03-01T19:00:00+08:00", "to": "2026-03-01T13:00:00Z"}) == [
        "credits.expire",
        "rubric.update",
    ]
    assert await actions(**{"from": "2026-03-01T14:00:00Z"}) == ["rubric.create", "session.cancel"]
    assert await actions(to="2026-03-01T09:00:00.000001Z") == ["rubric.create"]
    assert await actions(**{"from": "2026-03-02T00:00:00Z"}) == []
    # The other company's log is its own.
    other_entries = await walk(client, other_token, AUDIT_LOG, "auditLog", 50)
    assert not {e["id"] for e in other_entries} & {e["id"] for e in entries} and len(other_entries) == 7
    # Refused filters.
    body = await gql(
        client,
        AUDIT_LOG,
        {"first": 5, "filter": {"from": "2026-03-02T00:00:00Z", "to": "2026-03-01T00:00:00Z"}},
        token=token,
    )
    assert error_code(body) == "VALIDATION" and body["errors"][0]["extensions"]["field"] == "filter.to"
    body = await gql(client, AUDIT_LOG, {"first": 5, "filter": {"from": "2026-03-02T00:00:00"}}, token=token)
    assert error_code(body) == "VALIDATION"  # no offset
    body = await gql(
        client, AUDIT_LOG, {"first": 5, "filter": {"actorId": gid("Employee", other.employees["HR1"].id)}}, token=token
    )
    assert error_code(body) == "NOT_FOUND"
    body = await gql(client, AUDIT_LOG, {"first": 5, "filter": {"actorId": gid("Skill", 1)}}, token=token)
    assert error_code(body) == "VALIDATION" and body["errors"][0]["extensions"]["field"] == "filter.actorId"
    body = await gql(client, AUDIT_LOG, {"first": 5, "filter": {"entity": "x" * 33}}, token=token)
    assert error_code(body) == "VALIDATION" and body["errors"][0]["extensions"]["field"] == "filter.entity"


async def test_a_real_change_shows_in_the_audit_log(client, password_hash):
    """An HR change made through the API (a new rubric) is in the log, newest first, with its actor."""
    company = await make_company(password_hash, courses=False)
    token = await token_for(client, company.code, "HR1")
    body = await gql(
        client,
        """mutation { createRubric(input: {code: "AUDITED", title: "审计评分表", scaleMin: 1, scaleMax: 5,
             criteria: [{title: "沟通", weight: "1"}]}) { rubric { id } errors { code field } } }""",
        token=token,
    )
    assert "errors" not in body and body["data"]["createRubric"]["errors"] == [], body
    entries = await walk(client, token, AUDIT_LOG, "auditLog", 5)
    assert entries[0] == {
        **entries[0],
        "action": "rubric.create",
        "entity": "Rubric",
        "details": {"code": "AUDITED"},
        "actor": {"employeeNo": "HR1", "name": "韩人事"},
    }


# --- refused input -------------------------------------------------------------------------------


async def test_bad_cursors_ids_and_sizes_are_validation(client, two_companies):
    company, other = two_companies
    token = await token_for(client, company.code, "HR1")
    queries = {**LISTS, "employees": EMPLOYEES, "auditLog": AUDIT_LOG}
    await _entries(company, datetime(2026, 1, 1, tzinfo=UTC))
    cursors = {}
    for field, query in queries.items():
        body = await gql(client, query, {"first": 1}, token=token)
        cursors[field] = body["data"][field]["pageInfo"]["endCursor"]
    for field, query in queries.items():
        foreign = next(cursor for name, cursor in cursors.items() if name != field)
        for bad in ("nonsense", "eGYxOlsib3JnLXVuaXQiLFsxLDJdXQ", foreign, cursors[field][:-3]):
            body = await gql(client, query, {"first": 1, "after": bad}, token=token)
            assert error_code(body) == "VALIDATION", (field, bad)
            assert body["errors"][0]["extensions"]["field"] == "after"
        for size in (-1, 101):
            body = await gql(client, query, {"first": size}, token=token)
            assert error_code(body) == "VALIDATION" and body["errors"][0]["extensions"]["field"] == "first"
        body = await gql(
            client, query, {"first": 1, "search": "长" * 101} if field in LISTS else {"first": 1}, token=token
        )
        if field in LISTS:
            assert error_code(body) == "VALIDATION" and body["errors"][0]["extensions"]["field"] == "search"
    body = await gql(client, ORG_UNITS, {"first": 1, "parentId": gid("Skill", 1)}, token=token)
    assert error_code(body) == "VALIDATION" and body["errors"][0]["extensions"]["field"] == "parentId"
    body = await gql(client, ORG_UNITS, {"first": 1, "parentId": "bm90IGFuIGlk"}, token=token)
    assert error_code(body) == "VALIDATION"
    for conditions, field in (
        ({"orgUnitId": "nonsense"}, "filter.orgUnitId"),
        ({"orgUnitId": gid("Position", 1)}, "filter.orgUnitId"),
        ({"positionId": gid("OrgUnit", 1)}, "filter.positionId"),
        ({"search": "x" * 101}, "filter.search"),
        ({"status": "GONE"}, None),
    ):
        body = await gql(client, EMPLOYEES, {"first": 1, "filter": conditions}, token=token)
        assert body["errors"], conditions
        if field is not None:
            assert error_code(body) == "VALIDATION" and body["errors"][0]["extensions"]["field"] == field
    # Rows of another company look missing.
    for conditions in (
        {"orgUnitId": gid("OrgUnit", other.org_units["root"].id)},
        {"positionId": gid("Position", (await Position.filter(tenant_id=other.tenant.id).first()).id)},  # type: ignore[union-attr]
    ):
        body = await gql(client, EMPLOYEES, {"first": 1, "filter": conditions}, token=token)
        assert error_code(body) == "NOT_FOUND", conditions
    body = await gql(client, POSITIONS, {"first": 1, "family": ""}, token=token)
    assert error_code(body) == "VALIDATION" and body["errors"][0]["extensions"]["field"] == "family"


# --- cost -----------------------------------------------------------------------------------------


async def test_a_page_costs_the_same_statements_whatever_its_size(client, two_companies):
    company, _ = two_companies
    await _entries(company, datetime(2026, 2, 1, tzinfo=UTC))
    await _entries(company, datetime(2026, 2, 2, tzinfo=UTC))
    token = await token_for(client, company.code, "HR1")

    async def statements(query: str, field: str, first: int) -> int:
        with count_queries() as sent:
            body = await gql(client, query, {"first": first}, token=token)
        assert "errors" not in body, body
        assert len(body["data"][field]["edges"]) == first
        # totalCount's count is left out: a page that is the whole list knows it without one.
        return len([statement for statement in sent if "COUNT(" not in statement.upper()])

    for field, query in {**LISTS, "employees": EMPLOYEES, "auditLog": AUDIT_LOG}.items():
        small, large = await statements(query, field, 2), await statements(query, field, 10)
        assert small == large, (field, small, large)
    assert "learning" in EMPLOYEES_IN_DEPTH
    small, large = (
        await statements(EMPLOYEES_IN_DEPTH, "employees", 2),
        await statements(EMPLOYEES_IN_DEPTH, "employees", 10),
    )
    assert small == large, ("employees with learning and credits", small, large)
