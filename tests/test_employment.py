"""Employment administration through the real HTTP app: hiring (with a one-time activation code),
editing, transfers with back-dating and the history in order, manager cycles, a manager's team
handed over in the same request (and the old manager refused at once), leaving (the phone cut off,
mentorships ended), coming back, roles and the last HR admin, audit rows with before and after, and
nothing half-written after a refusal."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from backend.ids import to_global_id
from backend.models import AuditEntry, Employee, EmployeeAssignment, EmployeeRole, Mentorship, OrgUnit
from tests.factories import Company, make_company
from tests.graphql_client import gql, login, token_for
from tests.test_accounts import NEW_PASSWORD, activate

PERSON = "id employeeNo name isActive roles orgUnit { code } position { code } manager { employeeNo } site { code }"
ERRORS = "errors { code field message }"
HIRE = f"""
mutation Hire($input: HireEmployeeInput!) {{
  hireEmployee(input: $input) {{ employee {{ {PERSON} }} activationCode {{ code employee {{ employeeNo }} }} {ERRORS} }}
}}"""
UPDATE = f"""
mutation Update($input: UpdateEmployeeInput!) {{
  updateEmployee(input: $input) {{ employee {{ {PERSON} phone }} {ERRORS} }}
}}"""
TRANSFER = f"""
mutation Transfer($input: TransferEmployeeInput!) {{
  transferEmployee(input: $input) {{
    employee {{ {PERSON} }} reassignedReports {{ employeeNo manager {{ employeeNo }} }} {ERRORS}
  }}
}}"""
LEAVE = f"""
mutation Leave($input: LeaveEmployeeInput!) {{
  leaveEmployee(input: $input) {{
    employee {{ {PERSON} }} reassignedReports {{ employeeNo manager {{ employeeNo }} }} {ERRORS}
  }}
}}"""
REHIRE = f"""
mutation Rehire($input: RehireEmployeeInput!) {{
  rehireEmployee(input: $input) {{ employee {{ {PERSON} }} activationCode {{ code }} {ERRORS} }}
}}"""
ROLES = f"""
mutation Roles($input: SetEmployeeRolesInput!) {{
  setEmployeeRoles(input: $input) {{ employee {{ employeeNo roles }} {ERRORS} }}
}}"""
HISTORY = """
query History($id: ID!) {
  employeeHistory(employeeId: $id) {
    kind effectiveOn reason recordedAt orgUnit { code } position { code } site { code }
    manager { employeeNo } recordedBy { employeeNo }
  }
}"""
NAMES = {
    HIRE: "hireEmployee",
    UPDATE: "updateEmployee",
    TRANSFER: "transferEmployee",
    LEAVE: "leaveEmployee",
    REHIRE: "rehireEmployee",
    ROLES: "setEmployeeRoles",
}


def gid(kind: str, row: Any) -> str:
    return to_global_id(kind, row if isinstance(row, int) else row.id)


def today_of(company: Company) -> date:
    return datetime.now(ZoneInfo(company.tenant.time_zone)).date()


async def send(client, document: str, data: dict[str, Any], token: str, language: str | None = None) -> dict:
    """The payload of one of the mutations above (the request itself must be fine)."""
    body = await gql(client, document, {"input": data}, token=token, language=language)
    assert "errors" not in body, body
    return body["data"][NAMES[document]]


def refusal(payload: dict[str, Any]) -> tuple[str, str | None]:
    (error,) = payload["errors"]
    return error["code"], error["field"]


def hire_input(company: Company, number: str = "100-01", **extra: Any) -> dict[str, Any]:
    return {
        "employeeNo": number,
        "name": "贺新人",
        "orgUnitId": gid("OrgUnit", company.org_units["east"]),
        "hiredOn": today_of(company).isoformat(),
        **extra,
    }


async def history(client, token: str, employee: Employee | int) -> list[dict[str, Any]]:
    body = await gql(client, HISTORY, {"id": gid("Employee", employee)}, token=token)
    assert "errors" not in body, body
    return body["data"]["employeeHistory"]


async def audits(company: Company, action: str) -> list[AuditEntry]:
    return await AuditEntry.filter(tenant_id=company.tenant.id, action=action).order_by("id")


async def snapshot(company: Company) -> tuple[int, ...]:
    """Counts of everything an employment write touches: all equal before and after a refusal."""
    tenant_id = company.tenant.id
    return (
        await Employee.filter(tenant_id=tenant_id).count(),
        await Employee.filter(tenant_id=tenant_id, is_active=True).count(),
        await EmployeeAssignment.filter(tenant_id=tenant_id).count(),
        await EmployeeRole.filter(tenant_id=tenant_id).count(),
        await AuditEntry.filter(tenant_id=tenant_id, action__startswith="employee.").count(),
    )


@pytest.fixture
async def company(password_hash) -> Company:
    return await make_company(password_hash, courses=False)


@pytest.fixture
async def hr(client, company) -> str:
    return await token_for(client, company.code, "HR1")


# --- hiring -------------------------------------------------------------------------------------


async def test_a_hire_gets_a_one_time_code_and_signs_in_with_it(client, company, hr):
    mgr = company.employees["MGR"]
    data = hire_input(
        company,
        "100-ab",
        roles=["MENTOR"],
        managerId=gid("Employee", mgr),
        siteId=gid("Site", company.sites["hq"]),
        phone="+86 138-0000-0001",
        email="he.xinren@example.com",
        issueActivationCode=True,
    )
    payload = await send(client, HIRE, data, hr)
    assert payload["errors"] == [], payload
    hired = payload["employee"]
    assert hired["employeeNo"] == "100-AB" and hired["isActive"] is True  # stored upper-case
    assert hired["roles"] == ["EMPLOYEE", "MENTOR"] and hired["manager"]["employeeNo"] == "MGR"
    code = payload["activationCode"]["code"]
    assert payload["activationCode"]["employee"]["employeeNo"] == "100-AB"

    # No usable password until the code is used; the code works once.
    assert [e["code"] for e in (await login(client, company.code, "100-AB", "anything 123"))["errors"]] == [
        "INVALID_CREDENTIALS"
    ]
    first = await activate(client, company, "100-ab", code)
    assert first["errors"] == [] and first["tokens"]["viewer"]["employeeNo"] == "100-AB"
    assert [e["code"] for e in (await activate(client, company, "100-AB", code))["errors"]] == [
        "ACTIVATION_CODE_INVALID"
    ]
    assert (await login(client, company.code, "100-AB", NEW_PASSWORD))["errors"] == []

    employee = await Employee.get(tenant_id=company.tenant.id, employee_no="100-AB")
    assert employee.hired_on == today_of(company)
    (step,) = await history(client, hr, employee)
    assert step["kind"] == "HIRE" and step["orgUnit"]["code"] == "SALES-E" and step["manager"]["employeeNo"] == "MGR"
    assert step["recordedBy"]["employeeNo"] == "HR1"
    (row,) = await audits(company, "employee.hire")
    assert row.actor_id == company.employees["HR1"].id and row.entity_id == str(employee.id)
    assert row.details["before"] is None
    assert row.details["after"]["employeeNo"] == "100-AB" and row.details["after"]["managerId"] == mgr.id
    assert row.details["after"]["roles"] == ["EMPLOYEE", "MENTOR"]
    assert "password" not in str(row.details).lower() and code not in str(row.details)


async def test_a_hire_may_be_dated_tomorrow_but_not_later(client, company, hr):
    tomorrow = today_of(company) + timedelta(days=1)
    later = await send(
        client, HIRE, hire_input(company, "101-01", hiredOn=(tomorrow + timedelta(days=1)).isoformat()), hr
    )
    assert refusal(later) == ("VALIDATION", "hiredOn")
    assert tomorrow.isoformat() in later["errors"][0]["message"]
    ok = await send(client, HIRE, hire_input(company, "101-01", hiredOn=tomorrow.isoformat()), hr)
    assert ok["errors"] == [] and ok["activationCode"] is None


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"employeeNo": "E0001"}, "VALIDATION", "employeeNo"),  # not the default standard 001-01
        ({"employeeNo": "１２３-01"}, "VALIDATION", "employeeNo"),  # full-width digits
        ({"employeeNo": "x" * 10_000}, "VALIDATION", "employeeNo"),
        ({"name": ""}, "VALIDATION", "name"),
        ({"name": "名" * 10_000}, "VALIDATION", "name"),
        ({"name": "a\u0000b"}, "VALIDATION", "name"),
        ({"phone": "call me"}, "VALIDATION", "phone"),
        ({"email": "not-an-address"}, "VALIDATION", "email"),
        ({"orgUnitId": "bm90LWFuLWlk"}, "VALIDATION", "orgUnitId"),
        ({"managerId": to_global_id("Employee", 2**31 - 1)}, "NOT_FOUND", "managerId"),
        ({"positionId": to_global_id("Position", 2**31 - 1)}, "NOT_FOUND", "positionId"),
        ({"siteId": to_global_id("Site", 2**31 - 1)}, "NOT_FOUND", "siteId"),
        ({"hiredOn": "2199-12-31"}, "VALIDATION", "hiredOn"),
    ],
)
async def test_hire_refusals_name_the_field_and_write_nothing(client, company, hr, change, code, field):
    before = await snapshot(company)
    body = await gql(client, HIRE, {"input": hire_input(company, **change)}, token=hr)
    if "errors" in body:  # refused where GraphQL reads the value (schema/scalars.py)
        assert [(e["extensions"]["code"], e["extensions"]["field"]) for e in body["errors"]] == [
            (code, f"input.{field}")
        ]
    else:
        payload = body["data"]["hireEmployee"]
        assert refusal(payload) == (code, field) and payload["employee"] is None
    assert await snapshot(company) == before


async def test_hire_refusals_that_need_the_company(client, company, hr, password_hash):
    before = await snapshot(company)
    standard = await send(client, HIRE, hire_input(company, "E0001"), hr, language="en")
    assert refusal(standard) == ("VALIDATION", "employeeNo")
    assert (
        "[0-9]{3,10}-[0-9A-Z]{2,10}" in standard["errors"][0]["message"]
        and "001-01" in standard["errors"][0]["message"]
    )
    closed = await OrgUnit.create(tenant=company.tenant, code="OLD", name="旧部门", path="", closed_on=date(2025, 1, 1))
    assert refusal(await send(client, HIRE, hire_input(company, orgUnitId=gid("OrgUnit", closed)), hr)) == (
        "VALIDATION",
        "orgUnitId",
    )
    inactive = gid("Employee", company.employees["OFF"])
    assert refusal(await send(client, HIRE, hire_input(company, managerId=inactive), hr)) == ("VALIDATION", "managerId")
    other = await make_company(password_hash, courses=False)
    foreign = {"orgUnitId": gid("OrgUnit", other.org_units["east"])}
    assert refusal(await send(client, HIRE, hire_input(company, **foreign), hr)) == ("NOT_FOUND", "orgUnitId")
    foreign_manager = {"managerId": gid("Employee", other.employees["MGR"])}
    assert refusal(await send(client, HIRE, hire_input(company, **foreign_manager), hr)) == ("NOT_FOUND", "managerId")
    assert await snapshot(company) == before

    assert (await send(client, HIRE, hire_input(company, "102-01"), hr))["errors"] == []
    duplicate = await send(client, HIRE, hire_input(company, "102-01"), hr, language="en")
    assert refusal(duplicate) == ("ALREADY_EXISTS", "employeeNo") and "102-01" in duplicate["errors"][0]["message"]


async def test_two_hires_of_one_number_at_once_make_one_employee(client, company, hr):
    results = await asyncio.gather(*(send(client, HIRE, hire_input(company, "103-01"), hr) for _ in range(2)))
    assert sorted(tuple(e["code"] for e in r["errors"]) for r in results) == [(), ("ALREADY_EXISTS",)]
    assert await Employee.filter(tenant_id=company.tenant.id, employee_no="103-01").count() == 1


@pytest.mark.parametrize("caller", ["LRN", "MGR"])
async def test_only_hr_admins_administer_employees(client, company, caller):
    token = await token_for(client, company.code, caller)
    lrn = gid("Employee", company.employees["LRN"])
    unit = gid("OrgUnit", company.org_units["plant"])
    day = today_of(company).isoformat()
    calls = {
        HIRE: hire_input(company),
        UPDATE: {"employeeId": lrn, "name": "x"},
        TRANSFER: {"employeeId": lrn, "effectiveOn": day, "orgUnitId": unit, "reason": "x"},
        LEAVE: {"employeeId": lrn, "leftOn": day, "reason": "x"},
        REHIRE: {"employeeId": lrn, "effectiveOn": day, "orgUnitId": unit},
        ROLES: {"employeeId": lrn, "roles": ["HR_ADMIN"]},
    }
    before = await snapshot(company)
    for document, data in calls.items():
        assert refusal(await send(client, document, data, token)) == ("FORBIDDEN", None), document
    assert await snapshot(company) == before


# --- the profile ----------------------------------------------------------------------------------


async def test_update_changes_the_profile_and_checks_only_a_changed_number(client, company, hr):
    lrn = company.employees["LRN"]
    # LRN's number predates the standard: kept as it is, even when sent again in another case.
    same = {"employeeId": gid("Employee", lrn), "employeeNo": "lrn", "name": "李新名", "phone": None, "locale": "en"}
    payload = await send(client, UPDATE, same, hr)
    assert payload["errors"] == [] and payload["employee"]["name"] == "李新名" and payload["employee"]["phone"] is None
    row = await Employee.get(id=lrn.id)
    assert (row.employee_no, row.phone, row.locale, row.email) == ("LRN", None, "en", None)
    (audit,) = await audits(company, "employee.update")
    assert audit.details["before"]["name"] == "李学员" and audit.details["after"]["name"] == "李新名"
    assert audit.details["before"]["phone"] == "13800000000" and audit.details["after"]["phone"] is None

    changed = await send(client, UPDATE, {"employeeId": gid("Employee", lrn), "employeeNo": "LRN2"}, hr)
    assert refusal(changed) == ("VALIDATION", "employeeNo")
    assert (await send(client, HIRE, hire_input(company, "104-01"), hr))["errors"] == []
    taken = await send(client, UPDATE, {"employeeId": gid("Employee", lrn), "employeeNo": "104-01"}, hr)
    assert refusal(taken) == ("ALREADY_EXISTS", "employeeNo")
    renumbered = await send(client, UPDATE, {"employeeId": gid("Employee", lrn), "employeeNo": "105-01"}, hr)
    assert renumbered["errors"] == [] and renumbered["employee"]["employeeNo"] == "105-01"
    assert refusal(await send(client, UPDATE, {"employeeId": gid("Employee", lrn), "name": None}, hr)) == (
        "VALIDATION",
        "name",
    )
    assert refusal(await send(client, UPDATE, {"employeeId": gid("Employee", lrn), "locale": "fr"}, hr)) == (
        "VALIDATION",
        "locale",
    )
    assert len(await audits(company, "employee.update")) == 2


# --- transfers --------------------------------------------------------------------------------------


async def test_transfers_keep_an_ordered_history_and_may_be_back_dated(client, company, hr):
    lrn, day = company.employees["LRN"], today_of(company)
    move = {"employeeId": gid("Employee", lrn), "reason": "轮岗"}
    plant, sales = gid("OrgUnit", company.org_units["plant"]), gid("OrgUnit", company.org_units["sales"])
    first = await send(client, TRANSFER, {**move, "effectiveOn": str(day - timedelta(days=10)), "orgUnitId": plant}, hr)
    assert first["errors"] == [] and first["employee"]["orgUnit"]["code"] == "PLANT"
    assert first["employee"]["manager"]["employeeNo"] == "MGR"  # not given: unchanged

    before = await snapshot(company)
    too_early = await send(
        client, TRANSFER, {**move, "effectiveOn": str(day - timedelta(days=11)), "orgUnitId": sales}, hr
    )
    assert refusal(too_early) == ("VALIDATION", "effectiveOn")
    future = await send(client, TRANSFER, {**move, "effectiveOn": str(day + timedelta(days=1)), "orgUnitId": sales}, hr)
    assert refusal(future) == ("VALIDATION", "effectiveOn")
    nothing = await send(client, TRANSFER, {**move, "effectiveOn": str(day), "orgUnitId": plant}, hr)
    assert refusal(nothing) == ("VALIDATION", None)
    closed = await OrgUnit.create(tenant=company.tenant, code="OLD", name="旧部门", path="", closed_on=day)
    shut = await send(client, TRANSFER, {**move, "effectiveOn": str(day), "orgUnitId": gid("OrgUnit", closed)}, hr)
    assert refusal(shut) == ("VALIDATION", "orgUnitId")
    no_unit = await send(client, TRANSFER, {**move, "effectiveOn": str(day), "orgUnitId": None}, hr)
    assert refusal(no_unit) == ("VALIDATION", "orgUnitId")
    long_reason = {**move, "reason": "因" * 301, "effectiveOn": str(day), "orgUnitId": sales}
    assert refusal(await send(client, TRANSFER, long_reason, hr)) == ("VALIDATION", "reason")
    assert await snapshot(company) == before

    # Back-dated, but not before the latest step; the same day twice keeps the order of recording.
    position = gid("Position", (await company.employees["OTH"]).position_id)
    second = {**move, "effectiveOn": str(day - timedelta(days=5)), "positionId": position, "managerId": None}
    assert (await send(client, TRANSFER, second, hr))["errors"] == []
    third = {**move, "effectiveOn": str(day - timedelta(days=5)), "siteId": gid("Site", company.sites["hq"])}
    done = await send(client, TRANSFER, third, hr)
    assert done["errors"] == [] and done["employee"]["manager"] is None and done["employee"]["site"]["code"] == "HQ"

    steps = await history(client, hr, lrn)
    assert [(s["kind"], s["effectiveOn"]) for s in steps] == [
        ("TRANSFER", str(day - timedelta(days=10))),
        ("TRANSFER", str(day - timedelta(days=5))),
        ("TRANSFER", str(day - timedelta(days=5))),
    ]
    assert [s["position"] and s["position"]["code"] for s in steps] == ["SAL-1", "PRD-2", "PRD-2"]
    assert [s["site"]["code"] for s in steps] == ["URC", "URC", "HQ"] and steps[0]["reason"] == "轮岗"
    rows = await audits(company, "employee.transfer")
    assert len(rows) == 3
    assert rows[0].details["before"]["orgUnitId"] == company.org_units["east"].id
    assert rows[0].details["after"]["orgUnitId"] == company.org_units["plant"].id
    assert rows[1].details["before"]["managerId"] == company.employees["MGR"].id
    assert rows[1].details["after"]["managerId"] is None


async def test_a_manager_chain_never_loops(client, company, hr):
    mgr, lrn, oth = company.employees["MGR"], company.employees["LRN"], company.employees["OTH"]
    day = str(today_of(company))
    before = await snapshot(company)
    for employee, manager in ((mgr, lrn), (lrn, lrn)):  # A manages B manages A; oneself
        data = {"employeeId": gid("Employee", employee), "effectiveOn": day, "reason": "x"}
        payload = await send(client, TRANSFER, {**data, "managerId": gid("Employee", manager)}, hr, language="en")
        assert refusal(payload) == ("WOULD_CREATE_CYCLE", "managerId")
        assert "manager chain" in payload["errors"][0]["message"]
    # Longer: OTH reports to LRN (who reports to MGR); MGR may not then report to OTH.
    data = {"employeeId": gid("Employee", oth), "effectiveOn": day, "reason": "x", "managerId": gid("Employee", lrn)}
    assert (await send(client, TRANSFER, data, hr))["errors"] == []
    data = {"employeeId": gid("Employee", mgr), "effectiveOn": day, "reason": "x", "managerId": gid("Employee", oth)}
    assert refusal(await send(client, TRANSFER, data, hr)) == ("WOULD_CREATE_CYCLE", "managerId")
    assert (await snapshot(company))[2] == before[2] + 1


async def test_two_moves_racing_into_a_loop_leave_one_refused(client, company, hr):
    mgr, oth = company.employees["MGR"], company.employees["OTH"]
    day = str(today_of(company))
    moves = [
        {"employeeId": gid("Employee", a), "effectiveOn": day, "reason": "x", "managerId": gid("Employee", b)}
        for a, b in ((mgr, oth), (oth, mgr))
    ]
    results = await asyncio.gather(*(send(client, TRANSFER, move, hr) for move in moves))
    assert sorted(tuple(e["code"] for e in r["errors"]) for r in results) == [(), ("WOULD_CREATE_CYCLE",)]


async def _team_manager(client, company: Company, hr: str) -> tuple[Employee, Employee]:
    """MGR with a manager (HR1) and a second report NEW who, unlike LRN, is not MGR's mentee."""
    mgr = company.employees["MGR"]
    await Employee.filter(id=mgr.id).update(manager_id=company.employees["HR1"].id)
    hired = await send(client, HIRE, hire_input(company, "106-01", managerId=gid("Employee", mgr)), hr)
    assert hired["errors"] == []
    return mgr, await Employee.get(tenant_id=company.tenant.id, employee_no="106-01")


async def test_a_manager_who_moves_loses_the_old_team_in_the_same_request(client, company, hr):
    mgr, new = await _team_manager(client, company, hr)
    manager_token = await token_for(client, company.code, "MGR")
    node = "query N($id: ID!) { node(id: $id) { id } }"
    assert (await gql(client, node, {"id": gid("Employee", new)}, token=manager_token))["data"]["node"] is not None
    assert len(await history(client, manager_token, new)) == 1

    day = today_of(company)
    data = {
        "employeeId": gid("Employee", mgr),
        "effectiveOn": str(day),
        "orgUnitId": gid("OrgUnit", company.org_units["plant"]),
        "reason": "调任生产部",
    }
    payload = await send(client, TRANSFER, data, hr)
    assert payload["errors"] == [], payload
    assert {(r["employeeNo"], r["manager"]["employeeNo"]) for r in payload["reassignedReports"]} == {
        ("LRN", "HR1"),
        ("106-01", "HR1"),
    }
    # The old manager's very next requests: the team is gone.
    body = await gql(client, HISTORY, {"id": gid("Employee", new)}, token=manager_token)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await gql(client, node, {"id": gid("Employee", new)}, token=manager_token))["data"]["node"] is None
    team = await gql(client, "{ myTeamCredits { members { employee { employeeNo } } } }", token=manager_token)
    assert team["data"]["myTeamCredits"]["members"] == []
    listed = await gql(client, "{ employees(first: 10) { totalCount } }", token=manager_token)
    assert listed["data"]["employees"]["totalCount"] == 0

    steps = await history(client, hr, new)
    assert [s["kind"] for s in steps] == ["HIRE", "TRANSFER"] and steps[1]["manager"]["employeeNo"] == "HR1"
    assert "MGR" in steps[1]["reason"]
    rows = await audits(company, "employee.transfer")
    assert {row.entity_id for row in rows} == {str(mgr.id), str(new.id), str(company.employees["LRN"].id)}
    follows = next(row for row in rows if row.entity_id == str(new.id))
    assert follows.details["before"]["managerId"] == mgr.id and follows.details["followsEmployeeId"] == mgr.id


async def test_reports_go_where_hr_says(client, company, hr):
    mgr, new = await _team_manager(client, company, hr)
    day = str(today_of(company))
    base = {"employeeId": gid("Employee", mgr), "effectiveOn": day, "reason": "x"}
    unit = gid("OrgUnit", company.org_units["plant"])
    unused = await send(client, TRANSFER, {**base, "siteId": None, "reportsTo": gid("Employee", new)}, hr)
    assert refusal(unused) == ("VALIDATION", "reportsTo")
    itself = await send(client, TRANSFER, {**base, "orgUnitId": unit, "reportsTo": gid("Employee", mgr)}, hr)
    assert refusal(itself) == ("VALIDATION", "reportsTo")
    off = await send(
        client, TRANSFER, {**base, "orgUnitId": unit, "reportsTo": gid("Employee", company.employees["OFF"])}, hr
    )
    assert refusal(off) == ("VALIDATION", "reportsTo")
    # A report named as the new manager moves one level up and takes the others.
    payload = await send(client, TRANSFER, {**base, "orgUnitId": unit, "reportsTo": gid("Employee", new)}, hr)
    assert payload["errors"] == []
    assert {(r["employeeNo"], r["manager"]["employeeNo"]) for r in payload["reassignedReports"]} == {
        ("LRN", "106-01"),
        ("106-01", "HR1"),
    }


# --- leaving and coming back ------------------------------------------------------------------------


async def test_leaving_cuts_the_phone_off_and_ends_mentorships(client, company, hr, test_settings):
    lrn, mgr = company.employees["LRN"], company.employees["MGR"]
    phone = await login(client, company.code, "LRN", device_id="lrn-phone")
    access, refresh = phone["tokens"]["accessToken"], phone["tokens"]["refreshToken"]
    later = await Mentorship.create(
        tenant=company.tenant, mentor=lrn, mentee=company.employees["OTH"], starts_on=date(2199, 1, 1)
    )
    day = today_of(company)
    data = {"employeeId": gid("Employee", lrn), "leftOn": str(day), "reason": "个人原因"}
    assert refusal(await send(client, LEAVE, {**data, "leftOn": str(day + timedelta(days=1))}, hr)) == (
        "VALIDATION",
        "leftOn",
    )
    payload = await send(client, LEAVE, data, hr)
    assert payload["errors"] == [] and payload["employee"]["isActive"] is False
    assert payload["employee"]["manager"] is None and payload["employee"]["orgUnit"]["code"] == "SALES-E"

    # The phone's next request fails, and so does its refresh.
    me = await gql(client, "{ me { employeeNo } }", token=access)
    assert me["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    refreshed = await gql(
        client,
        "mutation R($input: RefreshTokenInput!) { refreshToken(input: $input) { errors { code } } }",
        {"input": {"refreshToken": refresh, "deviceId": "lrn-phone"}},
    )
    assert refreshed["data"]["refreshToken"]["errors"][0]["code"] in {"INVALID_REFRESH_TOKEN", "ACCOUNT_DISABLED"}
    assert [e["code"] for e in (await login(client, company.code, "LRN"))["errors"]] == ["ACCOUNT_DISABLED"]

    mentorship = await Mentorship.get(tenant_id=company.tenant.id, mentor_id=mgr.id, mentee_id=lrn.id)
    assert mentorship.ends_on == day
    assert not await Mentorship.filter(id=later.id).exists()  # never began: removed
    row = await Employee.get(id=lrn.id)
    assert (row.left_on, row.mentor_id, row.manager_id) == (day, None, None)
    steps = await history(client, hr, lrn)
    assert steps[-1]["kind"] == "LEAVE" and steps[-1]["reason"] == "个人原因" and steps[-1]["manager"] is None
    (audit,) = await audits(company, "employee.leave")
    assert audit.details["before"]["isActive"] is True and audit.details["after"]["isActive"] is False
    assert audit.details["endedSessions"] >= 1 and len(audit.details["mentorships"]) == 2
    assert len(await audits(company, "mentorship.end")) == 1 and len(await audits(company, "mentorship.delete")) == 1

    again = await send(client, LEAVE, data, hr)
    assert refusal(again) == ("VALIDATION", "employeeId")


async def test_a_manager_who_leaves_hands_the_team_over(client, company, hr):
    mgr, new = await _team_manager(client, company, hr)
    data = {"employeeId": gid("Employee", mgr), "leftOn": str(today_of(company)), "reason": "离职"}
    payload = await send(client, LEAVE, {**data, "reportsTo": gid("Employee", company.employees["OTH"])}, hr)
    assert payload["errors"] == []
    assert {(r["employeeNo"], r["manager"]["employeeNo"]) for r in payload["reassignedReports"]} == {
        ("LRN", "OTH"),
        ("106-01", "OTH"),
    }
    steps = await history(client, hr, new)
    assert steps[-1]["kind"] == "TRANSFER" and steps[-1]["manager"]["employeeNo"] == "OTH"


async def test_the_last_active_hr_admin_stays(client, company, hr):
    hr1 = company.employees["HR1"]
    day = str(today_of(company))
    before = await snapshot(company)
    alone = await send(client, LEAVE, {"employeeId": gid("Employee", hr1), "leftOn": day, "reason": "x"}, hr, "en")
    assert refusal(alone) == ("STILL_IN_USE", "employeeId") and "HR admin" in alone["errors"][0]["message"]
    roles = await send(client, ROLES, {"employeeId": gid("Employee", hr1), "roles": ["EMPLOYEE"]}, hr)
    assert refusal(roles) == ("STILL_IN_USE", "roles")
    assert await snapshot(company) == before

    # With a second HR admin, HR1 may leave, even by themself; the other then cannot drop the role.
    oth = company.employees["OTH"]
    granted = await send(client, ROLES, {"employeeId": gid("Employee", oth), "roles": ["HR_ADMIN"]}, hr)
    assert granted["errors"] == [] and granted["employee"]["roles"] == ["EMPLOYEE", "HR_ADMIN"]
    (audit,) = await audits(company, "employee.roles")
    assert audit.details == {"before": {"roles": ["EMPLOYEE"]}, "after": {"roles": ["EMPLOYEE", "HR_ADMIN"]}}
    oth_token = await token_for(client, company.code, "OTH")  # the role counts at once
    assert "errors" not in await gql(client, "{ auditLog(first: 1) { totalCount } }", token=oth_token)
    assert (await send(client, LEAVE, {"employeeId": gid("Employee", hr1), "leftOn": day, "reason": "x"}, hr))[
        "errors"
    ] == []
    last = await send(client, ROLES, {"employeeId": gid("Employee", oth), "roles": []}, oth_token)
    assert refusal(last) == ("STILL_IN_USE", "roles")


async def test_roles_always_keep_employee(client, company, hr):
    lrn = gid("Employee", company.employees["LRN"])
    payload = await send(client, ROLES, {"employeeId": lrn, "roles": ["MANAGER", "MENTOR"]}, hr)
    assert payload["errors"] == [] and payload["employee"]["roles"] == ["EMPLOYEE", "MANAGER", "MENTOR"]
    payload = await send(client, ROLES, {"employeeId": lrn, "roles": []}, hr)
    assert payload["employee"]["roles"] == ["EMPLOYEE"]
    assert len(await audits(company, "employee.roles")) == 2


async def test_a_former_employee_comes_back(client, company, hr):
    lrn, day = company.employees["LRN"], today_of(company)
    leave = {"employeeId": gid("Employee", lrn), "leftOn": str(day - timedelta(days=3)), "reason": "x"}
    back = {"employeeId": gid("Employee", lrn), "orgUnitId": gid("OrgUnit", company.org_units["plant"])}
    assert refusal(await send(client, REHIRE, {**back, "effectiveOn": str(day)}, hr)) == ("VALIDATION", "employeeId")
    assert (await send(client, LEAVE, leave, hr))["errors"] == []
    early = await send(client, REHIRE, {**back, "effectiveOn": str(day - timedelta(days=4))}, hr)
    assert refusal(early) == ("VALIDATION", "effectiveOn")
    payload = await send(
        client,
        REHIRE,
        {
            **back,
            "effectiveOn": str(day),
            "managerId": gid("Employee", company.employees["OTH"]),
            "issueActivationCode": True,
        },
        hr,
    )
    assert payload["errors"] == [] and payload["employee"]["isActive"] is True
    assert payload["employee"]["manager"]["employeeNo"] == "OTH" and payload["activationCode"]["code"]
    assert (await activate(client, company, "LRN", payload["activationCode"]["code"]))["errors"] == []
    steps = await history(client, hr, lrn)
    assert [s["kind"] for s in steps] == ["LEAVE", "REHIRE"] and steps[1]["orgUnit"]["code"] == "PLANT"
    (audit,) = await audits(company, "employee.rehire")
    assert audit.details["before"]["isActive"] is False and audit.details["after"]["isActive"] is True
    assert audit.details["after"]["roles"] == ["EMPLOYEE"]


async def test_a_return_gives_back_neither_roles_nor_the_old_password(client, company, hr):
    mgr, day = company.employees["MGR"], today_of(company)
    await send(client, ROLES, {"employeeId": gid("Employee", mgr), "roles": ["MANAGER", "HR_ADMIN"]}, hr)
    leave = {"employeeId": gid("Employee", mgr), "leftOn": str(day), "reason": "x", "reportsTo": None}
    assert (await send(client, LEAVE, leave, hr))["errors"] == []
    back = {"employeeId": gid("Employee", mgr), "orgUnitId": gid("OrgUnit", company.org_units["sales"])}
    payload = await send(client, REHIRE, {**back, "effectiveOn": str(day)}, hr)
    assert payload["errors"] == [] and payload["employee"]["roles"] == ["EMPLOYEE"]
    (audit,) = await audits(company, "employee.rehire")
    assert set(audit.details["before"]["roles"]) == {"EMPLOYEE", "HR_ADMIN", "MANAGER"}
    with pytest.raises(AssertionError):
        await token_for(client, company.code, "MGR")  # the password from before no longer signs in


# --- who sees the history; other companies -------------------------------------------------------------


async def test_history_is_for_hr_and_the_manager(client, company, hr, password_hash):
    lrn = company.employees["LRN"]
    assert await history(client, await token_for(client, company.code, "MGR"), lrn) == []  # no steps yet
    body = await gql(
        client,
        HISTORY,
        {"id": gid("Employee", company.employees["OTH"])},
        token=await token_for(client, company.code, "MGR"),
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await gql(client, HISTORY, {"id": gid("Employee", lrn)}, token=await token_for(client, company.code, "LRN"))
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    other = await make_company(password_hash, courses=False)
    body = await gql(client, HISTORY, {"id": gid("Employee", other.employees["LRN"])}, token=hr)
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    foreign = gid("Employee", other.employees["LRN"])
    day = str(today_of(company))
    calls = {
        UPDATE: {"employeeId": foreign, "name": "x"},
        TRANSFER: {"employeeId": foreign, "effectiveOn": day, "siteId": None, "reason": "x"},
        LEAVE: {"employeeId": foreign, "leftOn": day, "reason": "x"},
        REHIRE: {"employeeId": foreign, "effectiveOn": day, "orgUnitId": gid("OrgUnit", company.org_units["plant"])},
        ROLES: {"employeeId": foreign, "roles": []},
    }
    for document, data in calls.items():
        assert refusal(await send(client, document, data, hr)) == ("NOT_FOUND", "employeeId"), document
    assert (await Employee.get(id=other.employees["LRN"].id)).is_active is True
