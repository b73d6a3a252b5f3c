"""The credit-distribution report over HTTP: earned in the period and balances of the company in
tests/report_world.py (plus an HR adjustment of +45.0 to S2 on 2026-11-25), histograms and
percentiles, targets prorated to the period, who is behind or ahead, redemptions by reward — all
computed by hand — the manager's subtree, the roles, other companies' ids, and the export table
read in chunks."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from tortoise.transactions import in_transaction

from backend.models import CreditEntryKind, Role
from backend.services.credits import ledger
from backend.services.feed import ChangeSet
from backend.services.reports import credit_distribution
from backend.services.reports.frame import Period, ReportFilter
from backend.services.reports.tables import ReportOptions
from tests.factories import make_company
from tests.graphql_client import gql, token_for
from tests.report_world import World, build, viewer_of

STANDING = "employeeNo name orgUnit earned expected"
REPORT = f"""
query R($filter: ReportFilterInput!, $first: Int! = 20) {{
  creditDistribution(filter: $filter, first: $first) {{
    from to headcount totalEarned
    earned {{ buckets {{ low high count }} percentiles {{ percent credits }} }}
    balances {{ buckets {{ low high count }} percentiles {{ percent credits }} }}
    targets {{ positionFamily grade headcount target expected averageEarned reached behind ahead }}
    behind {{ {STANDING} }} ahead {{ {STANDING} }}
    redemptions {{ rewardId code name count credits }}
  }}
}}
"""


@pytest.fixture(scope="module")
async def world(client, password_hash) -> World:
    world = await build(client, password_hash)
    company, now = world.company, datetime.now(UTC)
    async with in_transaction() as connection:  # an HR adjustment counts as earned
        changes = ChangeSet(company.tenant.id)
        posting = ledger.Posting(
            employee_id=company.employees["S2"].id,
            kind=CreditEntryKind.ADJUSTMENT,
            amount=450,
            entry_key=f"test:{uuid.uuid4()}",
            occurred_at=datetime(2026, 11, 25, 2, tzinfo=UTC),
            reason="竞赛奖励",
        )
        await ledger.post(connection, changes, company.tenant.id, posting, now)
        await changes.publish(connection, now)
    return world


async def ask(client, world: World, who: str, first: int = 20, **filters) -> dict:
    token = await token_for(client, world.code, who)
    variables = {"filter": {"from": "2026-09-01", "to": "2026-11-30", **filters}, "first": first}
    return await gql(client, REPORT, variables, token=token)


def error_code(body: dict) -> str:
    assert body.get("errors"), body
    return body["errors"][0]["extensions"]["code"]


def buckets(width: int, counts: dict[int, int]) -> list[dict]:
    return [{"low": f"{i * width}.0", "high": f"{(i + 1) * width}.0", "count": counts.get(i, 0)} for i in range(10)]


def percentiles(*values: str) -> list[dict]:
    return [{"percent": p, "credits": v} for p, v in zip((10, 25, 50, 75, 90), values, strict=True)]


async def test_distribution_targets_and_redemptions(client, world: World) -> None:
    body = await ask(client, world, "HR1", first=2)
    report = body["data"]["creditDistribution"]
    # Active people: HR1, MGR, LRN, OTH, S2, P2 (OFF has left). Earned Sep–Nov: one lesson (2.0)
    # each for S2, LRN and OTH, S2's adjustment 45.0; P2's lesson was in August.
    assert (report["from"], report["to"], report["headcount"], report["totalEarned"]) == (
        "2026-09-01",
        "2026-11-30",
        6,
        "51.0",
    )
    # Earned 0, 0, 0, 2, 2, 47: the largest / 10 rounds up to buckets 5 credits wide.
    assert report["earned"] == {
        "buckets": buckets(5, {0: 5, 9: 1}),
        "percentiles": percentiles("0.0", "0.0", "0.0", "2.0", "47.0"),
    }
    # Balances now: 0, 0, LRN 0.5 (2.0 less the 1.5 reward), OTH 2.0, P2 2.0, S2 47.0.
    assert report["balances"] == {
        "buckets": buckets(5, {0: 5, 9: 1}),
        "percentiles": percentiles("0.0", "0.0", "0.5", "2.0", "47.0"),
    }
    # 91 of 2026's 365 days: 249,315 millionths of the yearly targets, in tenths rounded down.
    assert report["targets"] == [
        {
            "positionFamily": "生产族",
            "grade": 2,
            "headcount": 2,
            "target": "40.0",
            "expected": "9.9",
            "averageEarned": "1.0",
            "reached": 0,
            "behind": 2,
            "ahead": 0,
        },
        {
            "positionFamily": "销售族",
            "grade": 1,
            "headcount": 2,
            "target": "12.0",
            "expected": "2.9",
            "averageEarned": "24.5",
            "reached": 1,
            "behind": 1,
            "ahead": 1,
        },
    ]
    # Behind: P2 by 9.9, OTH by 7.9, LRN by 0.9 (first: 2); ahead: S2 by 44.1.
    assert report["behind"] == [
        {"employeeNo": "P2", "name": "员工P2", "orgUnit": "生产部", "earned": "0.0", "expected": "9.9"},
        {"employeeNo": "OTH", "name": "欧阳工", "orgUnit": "生产部", "earned": "2.0", "expected": "9.9"},
    ]
    assert report["ahead"] == [
        {"employeeNo": "S2", "name": "员工S2", "orgUnit": "销售部", "earned": "47.0", "expected": "2.9"}
    ]
    reward = world.id("Reward", world.reward.id)
    assert report["redemptions"] == [
        {"rewardId": reward, "code": "GIFT-1", "name": "定制水杯", "count": 1, "credits": "1.5"}
    ]
    # Before the redemption (11-20) and the adjustment: October only.
    body = await ask(client, world, "HR1", to="2026-10-31")
    report = body["data"]["creditDistribution"]
    assert (report["totalEarned"], report["redemptions"]) == ("4.0", [])
    # 61 days: 167,123 millionths; 12.0 expects 2.0 (20.05 tenths, rounded down).
    assert report["targets"][1]["expected"] == "2.0"


def test_period_share() -> None:
    share = credit_distribution.period_share
    assert share(Period(date(2026, 1, 1), date(2026, 12, 31)), 12) == 1_000_000
    assert share(Period(date(2026, 9, 1), date(2026, 11, 30)), 12) == 249_315
    # Across two yearly periods: 184/365 of 2025 and 181/365 of 2026.
    assert share(Period(date(2025, 7, 1), date(2026, 6, 30)), 12) == 504_109 + 495_890
    # Half-year periods: two whole ones; a quarter: one day of October 2026 is 1/92 of it.
    assert share(Period(date(2025, 7, 1), date(2026, 6, 30)), 6) == 2_000_000
    assert share(Period(date(2026, 10, 1), date(2026, 10, 1)), 3) == 1_000_000 // 92


async def test_manager_subtree_roles_and_ids(client, world: World, password_hash) -> None:
    body = await ask(client, world, "MGR")
    report = body["data"]["creditDistribution"]
    # MGR, LRN and S2 (销售部 and 华东销售组).
    assert (report["headcount"], report["totalEarned"]) == (3, "49.0")
    assert [p["employeeNo"] for p in report["behind"]] == ["LRN"]
    plant = world.id("OrgUnit", world.company.org_units["plant"].id)
    assert error_code(await ask(client, world, "MGR", orgUnitId=plant)) == "FORBIDDEN"
    assert error_code(await ask(client, world, "LRN")) == "FORBIDDEN"
    assert error_code(await ask(client, world, "HR1", first=101)) == "VALIDATION"
    other = await make_company(password_hash)
    body = await ask(client, world, "HR1", orgUnitId=world.id("OrgUnit", other.org_units["plant"].id))
    assert error_code(body) == "NOT_FOUND"
    token = await token_for(client, world.code, "HR1")
    body = await gql(client, REPORT, {"filter": {"from": "2026-09-01", "to": "2026-08-31"}}, token=token)
    assert error_code(body) == "VALIDATION"


async def test_export_table_in_chunks(world: World, monkeypatch) -> None:
    monkeypatch.setattr(credit_distribution, "EXPORT_CHUNK", 2)  # three chunks of two people
    hr = viewer_of(world.company, "HR1", Role.HR_ADMIN)
    options = ReportOptions(filter=ReportFilter(Period(date(2026, 9, 1), date(2026, 11, 30))))
    table = await credit_distribution.export_table(hr, options)
    assert [column.header("en") for column in table.columns] == [
        "Employee no.",
        "Name",
        "Org unit",
        "Position family",
        "Grade",
        "Earned in period",
        "Balance now",
        "Expected in period",
        "Behind",
    ]
    assert table.columns[0].header("zh-CN") == "工号"
    rows = [list(row) async for row in table.rows]
    d = Decimal
    assert rows == [
        ["HR1", "韩人事", "总部", "管理族", 2, d("0.0"), d("0.0"), None, None],
        ["LRN", "李学员", "华东销售组", "销售族", 1, d("2.0"), d("0.5"), d("2.9"), True],
        ["MGR", "孟经理", "销售部", "管理族", 2, d("0.0"), d("0.0"), None, None],
        ["OTH", "欧阳工", "生产部", "生产族", 2, d("2.0"), d("2.0"), d("9.9"), True],
        ["P2", "员工P2", "生产部", "生产族", 2, d("0.0"), d("2.0"), d("9.9"), True],
        ["S2", "员工S2", "销售部", "销售族", 1, d("47.0"), d("47.0"), d("2.9"), False],
    ]
