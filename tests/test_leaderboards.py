"""Leaderboards: company, org unit (with its subtree) and site boards ranked by credits earned in
a period (spending and what fell outside the period do not count), competition ranks with ties
kept in employee-number order, zero earners last, inactive people left out, the window around the
viewer, anonymised boards that name nobody but the viewer, other companies' scopes, and a board
of 20 costing the same statements as a board of 5."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from tortoise.transactions import in_transaction

from backend.ids import to_global_id
from backend.models import CreditEntryKind, CreditProgram, Employee, EmployeeRole, Position, Role
from backend.services.credits import credit_engine, ledger
from backend.services.feed import ChangeSet
from tests.conftest import count_queries
from tests.factories import make_company
from tests.graphql_client import gql, token_for

EARN, REDEEM, ADJUSTMENT = CreditEntryKind.EARN, CreditEntryKind.REDEEM, CreditEntryKind.ADJUSTMENT
START_2025 = datetime(2024, 12, 31, 16, tzinfo=UTC)  # 1 January 2025, Asia/Shanghai
IN_2025 = datetime(2025, 5, 1, tzinfo=UTC)
JUST_BEFORE_2025 = datetime(2024, 12, 31, 15, 59, 59, tzinfo=UTC)

BOARD = """
query L($scope: LeaderboardScope!, $id: ID, $period: Date, $first: Int = 20, $around: Int) {
  leaderboard(scope: $scope, scopeId: $id, period: $period, first: $first, aroundMe: $around) {
    scope periodStart periodEnd anonymised size
    entries { rank displayName earned isMe employee { id employeeNo name } }
    me { rank earned }
  }
}
"""


def code(body: dict) -> str:
    assert body.get("errors"), body
    return body["errors"][0]["extensions"]["code"]


async def give(company, employee: str, kind: CreditEntryKind, amount: int, when: datetime) -> None:
    now = datetime.now(UTC)
    async with in_transaction() as connection:
        changes = ChangeSet(company.tenant.id)
        await ledger.post(
            connection,
            changes,
            company.tenant.id,
            ledger.Posting(
                employee_id=company.employees[employee].id,
                kind=kind,
                amount=amount,
                entry_key=f"test:{uuid.uuid4()}",
                occurred_at=when,
            ),
            now,
        )
        await changes.publish(connection, now)


async def _ranked_company(password_hash):
    """2025 (tenths): MGR 50; LRN 30 (20 + an adjustment of 10; a spend of 15 changes nothing);
    OTH 30; HR1 10; Z01 and Z02 nothing; OFF (inactive) 100. LRN earned 50 just before 2025."""
    company = await make_company(password_hash, courses=False)
    position = await Position.get(tenant=company.tenant, code="PRD-2")
    for no in ("Z02", "Z01"):
        employee = await Employee.create(
            tenant=company.tenant,
            employee_no=no,
            name=f"零分{no}",
            password_hash=password_hash,
            org_unit=company.org_units["plant"],
            site=company.sites["hq"],
            position=position,
        )
        await EmployeeRole.create(tenant=company.tenant, employee=employee, role=Role.EMPLOYEE)
        company.employees[no] = employee
    await give(company, "MGR", EARN, 50, IN_2025)
    await give(company, "LRN", EARN, 20, START_2025)
    await give(company, "LRN", ADJUSTMENT, 10, IN_2025)
    await give(company, "LRN", REDEEM, -15, IN_2025)
    await give(company, "LRN", ADJUSTMENT, -5, IN_2025)
    await give(company, "LRN", EARN, 50, JUST_BEFORE_2025)
    await give(company, "OTH", EARN, 30, IN_2025)
    await give(company, "HR1", EARN, 10, IN_2025)
    await give(company, "OFF", EARN, 100, IN_2025)
    return company


def places(board: dict) -> list[tuple]:
    return [(e["rank"], e["employee"]["employeeNo"] if e["employee"] else None, e["earned"]) for e in board["entries"]]


async def board_of(client, token, scope="COMPANY", scope_id=None, period="2025-08-08", **extra) -> dict:
    body = await gql(client, BOARD, {"scope": scope, "id": scope_id, "period": period, **extra}, token=token)
    assert "errors" not in body, body
    return body["data"]["leaderboard"]


async def test_company_board_ranks_ties_and_zero_earners(client, password_hash):
    company = await _ranked_company(password_hash)
    lrn = await token_for(client, company.code, "LRN")
    board = await board_of(client, lrn)
    assert board["scope"] == "COMPANY" and board["anonymised"] is False and board["size"] == 6
    assert datetime.fromisoformat(board["periodStart"]) == START_2025
    assert places(board) == [
        (1, "MGR", "5.0"),
        (2, "LRN", "3.0"),
        (2, "OTH", "3.0"),
        (4, "HR1", "1.0"),
        (5, "Z01", "0.0"),
        (5, "Z02", "0.0"),
    ]
    assert [e["displayName"] for e in board["entries"]] == ["孟经理", "你", "欧阳工", "韩人事", "零分Z01", "零分Z02"]
    assert [e["isMe"] for e in board["entries"]] == [False, True, False, False, False, False]
    assert board["me"] == {"rank": 2, "earned": "3.0"}
    assert "冯离职" not in json.dumps(board, ensure_ascii=False)  # inactive: not ranked

    english = await gql(client, BOARD, {"scope": "COMPANY", "period": "2025-08-08"}, token=lrn, language="en")
    assert english["data"]["leaderboard"]["entries"][1]["displayName"] == "You"

    hr = await token_for(client, company.code, "HR1")
    top = await board_of(client, hr, first=2)
    assert places(top) == [(1, "MGR", "5.0"), (2, "LRN", "3.0")] and top["me"] == {"rank": 4, "earned": "1.0"}
    assert (await board_of(client, hr, first=0))["entries"] == []

    previous = await board_of(client, lrn, period="2024-12-31")  # LRN's 5.0 just before 2025 began
    assert places(previous)[0] == (1, "LRN", "5.0") and {p[0] for p in places(previous)[1:]} == {2}
    assert [p[1] for p in places(previous)[1:]] == ["HR1", "MGR", "OTH", "Z01", "Z02"]

    today = await board_of(client, lrn, period=None)  # nobody earned in the current period
    start, _ = credit_engine.Program().period_of(datetime.now(UTC))
    assert datetime.fromisoformat(today["periodStart"]) == start
    assert {e["rank"] for e in today["entries"]} == {1} and today["me"] == {"rank": 1, "earned": "0.0"}


async def test_org_unit_and_site_boards(client, password_hash):
    company = await _ranked_company(password_hash)
    lrn = await token_for(client, company.code, "LRN")
    own_unit = await board_of(client, lrn, "ORG_UNIT")  # 华东销售组
    assert places(own_unit) == [(1, "LRN", "3.0")] and own_unit["size"] == 1
    sales = to_global_id("OrgUnit", company.org_units["sales"].id)
    subtree = await board_of(client, lrn, "ORG_UNIT", sales)  # 销售部 and 华东销售组 below it
    assert places(subtree) == [(1, "MGR", "5.0"), (2, "LRN", "3.0")] and subtree["me"]["rank"] == 2
    root = await board_of(client, lrn, "ORG_UNIT", to_global_id("OrgUnit", company.org_units["root"].id))
    assert root["size"] == 6

    hr = await token_for(client, company.code, "HR1")
    outside = await board_of(client, hr, "ORG_UNIT", sales)
    assert outside["me"] is None and all(not e["isMe"] for e in outside["entries"])
    assert (await board_of(client, hr, "ORG_UNIT", sales, around=2))["entries"] == []

    own_site = await board_of(client, lrn, "SITE")  # 乌鲁木齐办事处
    assert places(own_site) == [(1, "LRN", "3.0")]
    hq = to_global_id("Site", company.sites["hq"].id)
    at_hq = await board_of(client, lrn, "SITE", hq)
    assert places(at_hq) == [
        (1, "MGR", "5.0"),
        (2, "OTH", "3.0"),
        (3, "HR1", "1.0"),
        (4, "Z01", "0.0"),
        (4, "Z02", "0.0"),
    ]
    assert at_hq["me"] is None
    # COMPANY ignores a scope id.
    assert (await board_of(client, lrn, "COMPANY", hq))["size"] == 6


async def test_around_me_shows_only_the_viewer_and_neighbours(client, password_hash):
    company = await _ranked_company(password_hash)
    oth = await token_for(client, company.code, "OTH")
    window = await board_of(client, oth, around=1)
    assert places(window) == [(2, "LRN", "3.0"), (2, "OTH", "3.0"), (4, "HR1", "1.0")]
    assert window["me"] == {"rank": 2, "earned": "3.0"}
    assert places(await board_of(client, oth, around=0)) == [(2, "OTH", "3.0")]
    mgr = await token_for(client, company.code, "MGR")
    assert places(await board_of(client, mgr, around=2)) == [(1, "MGR", "5.0"), (2, "LRN", "3.0"), (2, "OTH", "3.0")]
    z02 = await token_for(client, company.code, "Z02")
    assert [p[1] for p in places(await board_of(client, z02, around=50, first=1))] == [
        "MGR",
        "LRN",
        "OTH",
        "HR1",
        "Z01",
        "Z02",
    ]
    for bad in ({"around": -1}, {"around": 51}, {"first": 101}, {"first": -1}):
        body = await gql(client, BOARD, {"scope": "COMPANY", **bad}, token=oth)
        assert code(body) == "VALIDATION", bad


async def test_anonymised_boards_name_nobody_but_the_viewer(client, password_hash):
    company = await _ranked_company(password_hash)
    await CreditProgram.create(tenant=company.tenant, anonymise_leaderboards=True)
    lrn = await token_for(client, company.code, "LRN")
    for extra in ({}, {"around": 1}, {"first": 3}):
        body = await gql(client, BOARD, {"scope": "COMPANY", "period": "2025-08-08", **extra}, token=lrn)
        board = body["data"]["leaderboard"]
        assert board["anonymised"] is True
        text = json.dumps(body, ensure_ascii=False)
        for no, employee in company.employees.items():
            if no == "LRN":
                continue
            assert employee.name not in text and to_global_id("Employee", employee.id) not in text, no
            assert f'"{no}"' not in text, no
        mine = [e for e in board["entries"] if e["isMe"]]
        assert mine == [
            {
                "rank": 2,
                "displayName": "你",
                "earned": "3.0",
                "isMe": True,
                "employee": {
                    "id": to_global_id("Employee", company.employees["LRN"].id),
                    "employeeNo": "LRN",
                    "name": "李学员",
                },
            }
        ]
        for entry in board["entries"]:
            if not entry["isMe"]:
                assert entry["employee"] is None and entry["displayName"] == f"同事 #{entry['rank']}"
    full = await board_of(client, lrn)
    assert [e["displayName"] for e in full["entries"]] == ["同事 #1", "你", "同事 #2", "同事 #4", "同事 #5", "同事 #5"]
    assert [e["earned"] for e in full["entries"]] == ["5.0", "3.0", "3.0", "1.0", "0.0", "0.0"]


async def test_other_companies_scopes_are_not_found(client, password_hash):
    company = await make_company(password_hash, courses=False)
    other = await make_company(password_hash, courses=False)
    lrn = await token_for(client, company.code, "LRN")
    for scope, scope_id in (
        ("ORG_UNIT", to_global_id("OrgUnit", other.org_units["sales"].id)),
        ("SITE", to_global_id("Site", other.sites["hq"].id)),
    ):
        assert code(await gql(client, BOARD, {"scope": scope, "id": scope_id}, token=lrn)) == "NOT_FOUND"
    wrong_type = to_global_id("Site", company.sites["hq"].id)
    body = await gql(client, BOARD, {"scope": "ORG_UNIT", "id": wrong_type}, token=lrn)
    assert code(body) == "VALIDATION" and body["errors"][0]["extensions"]["field"] == "scopeId"
    assert code(await gql(client, BOARD, {"scope": "COMPANY"})) == "UNAUTHENTICATED"
    # The other company's credits never reach this company's board.
    await give(other, "LRN", EARN, 990, IN_2025)
    board = await board_of(client, lrn)
    assert {e["earned"] for e in board["entries"]} == {"0.0"} and board["size"] == 4


async def test_a_board_costs_the_same_statements_whatever_its_size(client, password_hash):
    company = await _ranked_company(password_hash)
    position = await Position.get(tenant=company.tenant, code="PRD-2")
    for n in range(20):
        employee = await Employee.create(
            tenant=company.tenant,
            employee_no=f"X{n:02d}",
            name=f"员工{n}",
            password_hash=password_hash,
            org_unit=company.org_units["plant"],
            site=company.sites["hq"],
            position=position,
        )
        company.employees[employee.employee_no] = employee
        await give(company, employee.employee_no, EARN, n + 1, IN_2025)
    lrn = await token_for(client, company.code, "LRN")
    plant = to_global_id("OrgUnit", company.org_units["plant"].id)
    costs = {}
    for scope, scope_id in (("COMPANY", None), ("ORG_UNIT", plant)):
        for first in (20, 5):
            with count_queries() as statements:
                board = await board_of(client, lrn, scope, scope_id, first=first)
            assert len(board["entries"]) == first
            costs[(scope, first)] = len(statements)
    assert costs[("COMPANY", 20)] == costs[("COMPANY", 5)]
    assert costs[("ORG_UNIT", 20)] == costs[("ORG_UNIT", 5)]
