"""Credit program settings, credit targets, managers' team views and HR's "who is behind" list:
what counts as earned in a period (earns and positive adjustments inside it; not spending, not
reversals, not what fell just before the start), expected-by-now maths at a fixed moment, the
order and paging of who is behind, and the role matrix of every field."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from tortoise.transactions import in_transaction

from backend.ids import to_global_id
from backend.models import (
    AuditEntry,
    CreditEntryKind,
    CreditProgram,
    CreditTarget,
    Employee,
    EmployeeRole,
    Position,
    Role,
)
from backend.services.credits import ledger, targets
from backend.services.feed import ChangeSet
from backend.services.viewer import Viewer
from tests.factories import make_company
from tests.graphql_client import gql, token_for

EARN, REDEEM, REVERSAL, ADJUSTMENT = (
    CreditEntryKind.EARN,
    CreditEntryKind.REDEEM,
    CreditEntryKind.REVERSAL,
    CreditEntryKind.ADJUSTMENT,
)
# Periods are calendar years in Asia/Shanghai by default: 2025 is [2024-12-31T16:00Z, 2025-12-31T16:00Z).
START_2025 = datetime(2024, 12, 31, 16, tzinfo=UTC)
IN_2025 = datetime(2025, 3, 1, 2, tzinfo=UTC)
JUST_BEFORE_2025 = datetime(2024, 12, 31, 15, 59, 59, tzinfo=UTC)
IN_2024 = datetime(2024, 6, 1, tzinfo=UTC)

PROGRAM = "query { creditProgram { periodMonths timeZone anonymiseLeaderboards currentPeriodStart currentPeriodEnd } }"
UPDATE_PROGRAM = """
mutation U($input: UpdateCreditProgramInput!) { updateCreditProgram(input: $input) {
  program { periodMonths timeZone anonymiseLeaderboards currentPeriodStart currentPeriodEnd }
  errors { code field message } } }
"""
TARGETS = "query { creditTargets { id positionFamily grade credits } }"
SET_TARGET = """
mutation S($input: SetCreditTargetInput!) { setCreditTarget(input: $input) {
  target { id positionFamily grade credits } errors { code field } } }
"""
REMOVE_TARGET = """
mutation R($id: ID!) { removeCreditTarget(targetId: $id) { removedTargetId errors { code field } } }
"""
PROGRESS = "employee { id employeeNo name } earned target progressPercent expectedByNow shortfall behind"
TEAM = f"""
query T($period: Date, $manager: ID) {{ myTeamCredits(period: $period, managerId: $manager) {{
  periodStart periodEnd elapsedPercent members {{ {PROGRESS} }} }} }}
"""
BEHIND = f"""
query B($unit: ID, $period: Date, $first: Int = 50, $after: String) {{
  creditsBehind(orgUnitId: $unit, period: $period, first: $first, after: $after) {{
    periodStart periodEnd totalCount pageInfo {{ hasNextPage hasPreviousPage endCursor }}
    edges {{ cursor node {{ {PROGRESS} }} }} }} }}
"""


def code(body: dict) -> str:
    assert body.get("errors"), body
    return body["errors"][0]["extensions"]["code"]


async def give(company, employee: str, kind: CreditEntryKind, amount: int, when: datetime) -> None:
    """Post one ledger entry (tenths) for an employee at a chosen occurred_at."""
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
                reason="测试",
            ),
            now,
        )
        await changes.publish(connection, now)


async def add_person(
    company, password_hash, no: str, unit: str, position_code: str, manager: str | None = None, active: bool = True
) -> Employee:
    position = await Position.get(tenant=company.tenant, code=position_code)
    employee = await Employee.create(
        tenant=company.tenant,
        employee_no=no,
        name=f"员工{no}",
        password_hash=password_hash,
        org_unit=company.org_units[unit],
        site=company.sites["hq"],
        position=position,
        manager=company.employees[manager] if manager else None,
        is_active=active,
    )
    await EmployeeRole.create(tenant=company.tenant, employee=employee, role=Role.EMPLOYEE)
    company.employees[no] = employee
    return employee


async def set_target(client, token, family, grade, credits) -> dict:
    body = await gql(
        client, SET_TARGET, {"input": {"positionFamily": family, "grade": grade, "credits": credits}}, token=token
    )
    return body["data"]["setCreditTarget"]


# --- program settings -----------------------------------------------------------------------------


async def test_hr_reads_and_changes_the_program_with_validation_and_audit(client, password_hash):
    company = await make_company(password_hash, courses=False)
    hr = await token_for(client, company.code, "HR1")
    body = await gql(client, PROGRAM, token=hr)
    program = body["data"]["creditProgram"]
    now = datetime.now(UTC)
    local_year = now.astimezone(targets.ZoneInfo("Asia/Shanghai")).year
    assert (program["periodMonths"], program["timeZone"], program["anonymiseLeaderboards"]) == (
        12,
        "Asia/Shanghai",
        False,
    )
    assert datetime.fromisoformat(program["currentPeriodStart"]) == datetime(
        local_year, 1, 1, tzinfo=targets.ZoneInfo("Asia/Shanghai")
    )
    assert not await CreditProgram.filter(tenant=company.tenant).exists()  # defaults until saved

    changed = (await gql(client, UPDATE_PROGRAM, {"input": {"periodMonths": 3, "timeZone": "Asia/Urumqi"}}, token=hr))[
        "data"
    ]["updateCreditProgram"]
    assert changed["errors"] == []
    assert (changed["program"]["periodMonths"], changed["program"]["timeZone"]) == (3, "Asia/Urumqi")
    start = datetime.fromisoformat(changed["program"]["currentPeriodStart"])
    end = datetime.fromisoformat(changed["program"]["currentPeriodEnd"])
    local = now.astimezone(targets.ZoneInfo("Asia/Urumqi"))
    quarter = (local.month - 1) // 3 * 3 + 1
    assert start == datetime(local.year, quarter, 1, tzinfo=targets.ZoneInfo("Asia/Urumqi"))
    assert start <= now < end

    again = await gql(client, UPDATE_PROGRAM, {"input": {"anonymiseLeaderboards": True}}, token=hr)
    assert again["data"]["updateCreditProgram"]["program"]["periodMonths"] == 3  # left out: kept
    row = await CreditProgram.get(tenant=company.tenant)
    assert (row.period_months, row.time_zone, row.anonymise_leaderboards) == (3, "Asia/Urumqi", True)
    assert await CreditProgram.filter(tenant=company.tenant).count() == 1
    audits = await AuditEntry.filter(tenant=company.tenant, action="credits.program.update").order_by("id")
    assert len(audits) == 2 and audits[0].details["before"]["periodMonths"] == 12
    assert audits[0].details["after"]["timeZone"] == "Asia/Urumqi"

    for bad, field in (
        ({"periodMonths": 5}, "periodMonths"),
        ({"periodMonths": 0}, "periodMonths"),
        ({"periodMonths": 24}, "periodMonths"),
        ({"timeZone": "Mars/Olympus"}, "timeZone"),
        ({"timeZone": ""}, "timeZone"),
        ({"timeZone": "../../etc/passwd"}, "timeZone"),
        ({"timeZone": "北京时间"}, "timeZone"),
    ):
        result = (await gql(client, UPDATE_PROGRAM, {"input": bad}, token=hr))["data"]["updateCreditProgram"]
        assert result["program"] is None and [(e["code"], e["field"]) for e in result["errors"]] == [
            ("VALIDATION", field)
        ], bad
    row = await CreditProgram.get(tenant=company.tenant)
    assert (row.period_months, row.time_zone) == (3, "Asia/Urumqi")


async def test_only_hr_admins_see_or_change_the_program(client, password_hash):
    company = await make_company(password_hash, courses=False)
    for who in ("MGR", "LRN", "OTH"):
        token = await token_for(client, company.code, who)
        assert code(await gql(client, PROGRAM, token=token)) == "FORBIDDEN"
        result = await gql(client, UPDATE_PROGRAM, {"input": {"periodMonths": 6}}, token=token)
        assert [e["code"] for e in result["data"]["updateCreditProgram"]["errors"]] == ["FORBIDDEN"]
    assert not await CreditProgram.filter(tenant=company.tenant).exists()
    assert code(await gql(client, PROGRAM)) == "UNAUTHENTICATED"


# --- targets ----------------------------------------------------------------------------------------


async def test_targets_are_set_replaced_listed_and_removed_by_hr(client, password_hash):
    company = await make_company(password_hash, courses=False)
    other = await make_company(password_hash, courses=False)
    hr = await token_for(client, company.code, "HR1")
    first = await set_target(client, hr, "销售族", 1, "20.5")
    assert first["errors"] == [] and first["target"]["credits"] == "20.5"
    replaced = await set_target(client, hr, "  销售族 ", 1, "30")
    assert replaced["target"]["id"] == first["target"]["id"] and replaced["target"]["credits"] == "30.0"
    await set_target(client, hr, "生产族", 2, "0")
    listed = (await gql(client, TARGETS, token=hr))["data"]["creditTargets"]
    assert [(t["positionFamily"], t["grade"], t["credits"]) for t in listed] == [
        ("生产族", 2, "0.0"),
        ("销售族", 1, "30.0"),
    ]
    assert (await CreditTarget.get(tenant=company.tenant, position_family="销售族", grade=1)).credits == 300
    audits = await AuditEntry.filter(tenant=company.tenant, action="credits.target.set").order_by("id")
    assert len(audits) == 3 and audits[1].details["before"] == "20.5" and audits[1].details["credits"] == "30.0"

    for family, grade, credits, field in (
        ("销售族", 1, "-1", "credits"),
        ("销售族", 1, "0.05", "credits"),
        ("", 1, "5", "positionFamily"),
        ("   ", 1, "5", "positionFamily"),
        ("族" * 65, 1, "5", "positionFamily"),
        ("销售族", 0, "5", "grade"),
        ("销售族", 1000, "5", "grade"),
    ):
        result = await set_target(client, hr, family, grade, credits)
        assert result["target"] is None and [(e["code"], e["field"]) for e in result["errors"]] == [
            ("VALIDATION", field)
        ], (family, grade, credits)

    removed = (await gql(client, REMOVE_TARGET, {"id": first["target"]["id"]}, token=hr))["data"]["removeCreditTarget"]
    assert removed == {"removedTargetId": first["target"]["id"], "errors": []}
    assert [t["positionFamily"] for t in (await gql(client, TARGETS, token=hr))["data"]["creditTargets"]] == ["生产族"]
    again = (await gql(client, REMOVE_TARGET, {"id": first["target"]["id"]}, token=hr))["data"]["removeCreditTarget"]
    assert [e["code"] for e in again["errors"]] == ["NOT_FOUND"]
    assert await AuditEntry.filter(tenant=company.tenant, action="credits.target.remove").count() == 1

    foreign = await CreditTarget.create(tenant=other.tenant, position_family="销售族", grade=1, credits=10)
    result = await gql(client, REMOVE_TARGET, {"id": to_global_id("CreditTarget", foreign.id)}, token=hr)
    assert [e["code"] for e in result["data"]["removeCreditTarget"]["errors"]] == ["NOT_FOUND"]
    assert await CreditTarget.filter(id=foreign.id).exists()
    bad_id = (await gql(client, REMOVE_TARGET, {"id": to_global_id("Reward", 1)}, token=hr))["data"][
        "removeCreditTarget"
    ]
    assert [(e["code"], e["field"]) for e in bad_id["errors"]] == [("VALIDATION", "targetId")]


async def test_target_role_matrix(client, password_hash):
    company = await make_company(password_hash, courses=False)
    target = await CreditTarget.create(tenant=company.tenant, position_family="销售族", grade=1, credits=100)
    target_id = to_global_id("CreditTarget", target.id)
    for who, may_list in (("HR1", True), ("MGR", True), ("LRN", False), ("OTH", False)):
        token = await token_for(client, company.code, who)
        listed = await gql(client, TARGETS, token=token)
        if may_list:
            assert [t["credits"] for t in listed["data"]["creditTargets"]] == ["10.0"], who
        else:
            assert code(listed) == "FORBIDDEN", who
        if who == "HR1":
            continue
        result = await set_target(client, token, "销售族", 1, "99")
        assert [e["code"] for e in result["errors"]] == ["FORBIDDEN"], who
        removed = (await gql(client, REMOVE_TARGET, {"id": target_id}, token=token))["data"]["removeCreditTarget"]
        assert [e["code"] for e in removed["errors"]] == ["FORBIDDEN"], who
    assert (await CreditTarget.get(id=target.id)).credits == 100


# --- what counts as earned, team views ----------------------------------------------------------


async def _earned_history(company) -> None:
    """LRN: 12.0 earned in 2025 (10 + 2), whatever was spent, reversed or taken back; 7.0 just
    before 2025 began and 4.0 earlier in 2024."""
    await give(company, "LRN", EARN, 100, IN_2025)
    await give(company, "LRN", ADJUSTMENT, 20, datetime(2025, 12, 31, 15, 59, tzinfo=UTC))
    await give(company, "LRN", EARN, 70, JUST_BEFORE_2025)
    await give(company, "LRN", EARN, 40, IN_2024)
    await give(company, "LRN", REDEEM, -50, datetime(2025, 4, 1, tzinfo=UTC))
    await give(company, "LRN", ADJUSTMENT, -10, datetime(2025, 5, 1, tzinfo=UTC))
    await give(company, "LRN", REVERSAL, -30, datetime(2025, 6, 1, tzinfo=UTC))
    await give(company, "LRN", EARN, 90, datetime(2025, 12, 31, 16, tzinfo=UTC))  # 2026 already


async def test_team_view_counts_earned_in_the_period_only(client, password_hash):
    company = await make_company(password_hash, courses=False)
    await add_person(company, password_hash, "NEW", "sales", "MGT-1", manager="MGR")
    await add_person(company, password_hash, "GON", "sales", "SAL-1", manager="MGR", active=False)
    await CreditTarget.create(tenant=company.tenant, position_family="销售族", grade=1, credits=200)
    await _earned_history(company)
    await give(company, "GON", EARN, 10, IN_2025)
    mgr = await token_for(client, company.code, "MGR")

    body = await gql(client, TEAM, {"period": "2025-06-15"}, token=mgr)
    team = body["data"]["myTeamCredits"]
    assert datetime.fromisoformat(team["periodStart"]) == START_2025
    assert datetime.fromisoformat(team["periodEnd"]) == datetime(2025, 12, 31, 16, tzinfo=UTC)
    assert team["elapsedPercent"] == "100.0000"  # a past period has fully elapsed
    lrn, new = team["members"]
    assert lrn["employee"]["employeeNo"] == "LRN" and lrn["employee"]["name"] == "李学员"
    assert (
        lrn["earned"],
        lrn["target"],
        lrn["progressPercent"],
        lrn["expectedByNow"],
        lrn["shortfall"],
        lrn["behind"],
    ) == ("12.0", "20.0", 60, "20.0", "8.0", True)
    assert new["employee"]["employeeNo"] == "NEW"  # a report without a target: never behind
    assert (new["earned"], new["target"], new["progressPercent"], new["expectedByNow"], new["behind"]) == (
        "0.0",
        None,
        None,
        None,
        False,
    )

    previous = (await gql(client, TEAM, {"period": "2024-12-31"}, token=mgr))["data"]["myTeamCredits"]
    assert previous["members"][0]["earned"] == "11.0"  # 7.0 just before 2025 + 4.0 in June 2024
    assert previous["members"][0]["progressPercent"] == 55

    hr = await token_for(client, company.code, "HR1")
    as_hr = await gql(
        client,
        TEAM,
        {"period": "2025-06-15", "manager": to_global_id("Employee", company.employees["MGR"].id)},
        token=hr,
    )
    assert [m["employee"]["employeeNo"] for m in as_hr["data"]["myTeamCredits"]["members"]] == ["LRN", "NEW"]
    hr_own = await gql(client, TEAM, {"period": "2025-06-15"}, token=hr)
    assert hr_own["data"]["myTeamCredits"]["members"] == []


async def test_team_view_role_matrix(client, password_hash):
    company = await make_company(password_hash, courses=False)
    other = await make_company(password_hash, courses=False)
    mgr_id = to_global_id("Employee", company.employees["MGR"].id)
    hr_id = to_global_id("Employee", company.employees["HR1"].id)
    foreign_mgr = to_global_id("Employee", other.employees["MGR"].id)
    cases = (
        ("LRN", None, "FORBIDDEN"),
        ("OTH", None, "FORBIDDEN"),
        ("LRN", mgr_id, "FORBIDDEN"),
        ("MGR", hr_id, "FORBIDDEN"),
        ("MGR", mgr_id, None),
        ("MGR", None, None),
        ("HR1", mgr_id, None),
        ("HR1", foreign_mgr, "NOT_FOUND"),
    )
    for who, manager, expected in cases:
        token = await token_for(client, company.code, who)
        body = await gql(client, TEAM, {"manager": manager}, token=token)
        if expected is None:
            assert "errors" not in body, (who, body)
        else:
            assert code(body) == expected, (who, manager)
    hr = await token_for(client, company.code, "HR1")
    assert code(await gql(client, TEAM, {"manager": to_global_id("OrgUnit", 1)}, token=hr)) == "VALIDATION"


async def test_expected_by_now_is_the_elapsed_share_of_the_target(password_hash):
    company = await make_company(password_hash, courses=False)
    await CreditTarget.create(tenant=company.tenant, position_family="销售族", grade=1, credits=200)
    await _earned_history(company)
    manager = company.employees["MGR"]
    viewer = Viewer(company.tenant.id, manager, frozenset({Role.EMPLOYEE, Role.MANAGER}), uuid.uuid4(), "d")
    # 183 of 365 days of 2025 have passed at Shanghai midnight on 3 July.
    now = datetime(2025, 7, 2, 16, tzinfo=UTC)
    team = await targets.team_progress(viewer, None, date(2025, 5, 1), now=now)
    assert team.period.elapsed_millionths == 183 * 1_000_000 // 365 == 501369
    lrn = team.members[0]
    assert (lrn.earned, lrn.target, lrn.expected_by_now, lrn.behind, lrn.shortfall) == (120, 200, 100, False, 0)

    await CreditTarget.filter(tenant=company.tenant).update(credits=300)
    lrn = (await targets.team_progress(viewer, None, date(2025, 5, 1), now=now)).members[0]
    assert (lrn.expected_by_now, lrn.behind, lrn.shortfall, lrn.progress_percent) == (150, True, 30, 40)

    # Today's period when no day is given; a period that has not begun expects nothing yet.
    assert (await targets.team_progress(viewer, None, None, now=now)).period.start == START_2025
    future = await targets.team_progress(viewer, None, date(2026, 2, 1), now=now)
    assert future.period.elapsed_millionths == 0 and future.members[0].expected_by_now == 0
    assert not future.members[0].behind

    # Quarterly periods: 3 July is 2 days into Q3 (92 days).
    await CreditProgram.create(tenant=company.tenant, period_months=3)
    quarter = await targets.team_progress(viewer, None, None, now=now)
    assert quarter.period.start == datetime(2025, 6, 30, 16, tzinfo=UTC)
    assert quarter.period.elapsed_millionths == 2 * 1_000_000 // 92
    period, progress = await targets.progress_of(
        company.tenant.id, [company.employees["LRN"].id], date(2025, 12, 31), now=now
    )
    assert period.start == datetime(2025, 9, 30, 16, tzinfo=UTC)
    assert progress[company.employees["LRN"].id].earned == 20  # the adjustment of 31 December


# --- who is behind ----------------------------------------------------------------------------------


async def _behind_company(password_hash):
    """Targets 销售族/1 = 20 and 生产族/2 = 10 for 2025. Behind: P01 by 20, P02 and P03 by 15 (a tie,
    by number), OTH by 10, LRN by 8. Not listed: P04 (ahead), managers (no target), OFF and P05
    (inactive)."""
    company = await make_company(password_hash, courses=False)
    await CreditTarget.create(tenant=company.tenant, position_family="销售族", grade=1, credits=200)
    await CreditTarget.create(tenant=company.tenant, position_family="生产族", grade=2, credits=100)
    for no, unit in (("P01", "plant"), ("P03", "sales"), ("P02", "east"), ("P04", "east")):
        await add_person(company, password_hash, no, unit, "SAL-1")
    await add_person(company, password_hash, "P05", "east", "SAL-1", active=False)
    await give(company, "LRN", EARN, 120, IN_2025)
    await give(company, "P02", EARN, 50, IN_2025)
    await give(company, "P03", ADJUSTMENT, 50, IN_2025)
    await give(company, "P03", EARN, 200, JUST_BEFORE_2025)
    await give(company, "P04", EARN, 250, IN_2025)
    await give(company, "P04", REDEEM, -200, IN_2025)
    return company


async def test_credits_behind_lists_the_largest_shortfall_first_in_pages(client, password_hash):
    company = await _behind_company(password_hash)
    hr = await token_for(client, company.code, "HR1")
    whole = (await gql(client, BEHIND, {"period": "2025-02-01"}, token=hr))["data"]["creditsBehind"]
    assert whole["totalCount"] == 5
    assert [
        (e["node"]["employee"]["employeeNo"], e["node"]["shortfall"], e["node"]["earned"]) for e in whole["edges"]
    ] == [
        ("P01", "20.0", "0.0"),
        ("P02", "15.0", "5.0"),
        ("P03", "15.0", "5.0"),
        ("OTH", "10.0", "0.0"),
        ("LRN", "8.0", "12.0"),
    ]
    assert all(e["node"]["behind"] for e in whole["edges"])
    assert datetime.fromisoformat(whole["periodStart"]) == START_2025

    seen, after, pages = [], None, 0
    while True:
        page = await gql(client, BEHIND, {"period": "2025-02-01", "first": 2, "after": after}, token=hr)
        page = page["data"]["creditsBehind"]
        pages += 1
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        seen += [e["node"]["employee"]["employeeNo"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ["P01", "P02", "P03", "OTH", "LRN"] and pages == 3

    sales = to_global_id("OrgUnit", company.org_units["sales"].id)
    in_sales = (await gql(client, BEHIND, {"period": "2025-02-01", "unit": sales}, token=hr))["data"]["creditsBehind"]
    assert [e["node"]["employee"]["employeeNo"] for e in in_sales["edges"]] == ["P02", "P03", "LRN"]
    assert in_sales["totalCount"] == 3
    # 2024: only P03's 20.0 just before 2025 began; everyone else is behind by the whole target.
    earlier = (await gql(client, BEHIND, {"period": "2024-03-01"}, token=hr))["data"]["creditsBehind"]
    assert [e["node"]["employee"]["employeeNo"] for e in earlier["edges"]] == ["LRN", "P01", "P02", "P04", "OTH"]


async def test_credits_behind_is_for_hr_only_and_checks_its_input(client, password_hash):
    company = await _behind_company(password_hash)
    other = await make_company(password_hash, courses=False)
    for who in ("MGR", "LRN", "OTH"):
        token = await token_for(client, company.code, who)
        assert code(await gql(client, BEHIND, {"period": "2025-02-01"}, token=token)) == "FORBIDDEN", who
    hr = await token_for(client, company.code, "HR1")
    foreign = to_global_id("OrgUnit", other.org_units["sales"].id)
    assert code(await gql(client, BEHIND, {"unit": foreign}, token=hr)) == "NOT_FOUND"
    assert code(await gql(client, BEHIND, {"unit": to_global_id("Site", 1)}, token=hr)) == "VALIDATION"
    assert code(await gql(client, BEHIND, {"after": "not-a-cursor"}, token=hr)) == "VALIDATION"
    assert code(await gql(client, BEHIND, {"first": 101}, token=hr)) == "VALIDATION"
    empty = (await gql(client, BEHIND, {"period": "2025-02-01", "first": 0}, token=hr))["data"]["creditsBehind"]
    assert empty["edges"] == [] and empty["pageInfo"]["hasNextPage"] is True and empty["totalCount"] == 5
