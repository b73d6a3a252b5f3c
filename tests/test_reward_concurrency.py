"""Redemption under concurrency, on SQLite and PostgreSQL: 50 simultaneous redemptions against a
stock, or a balance, that allows 10 succeed exactly 10 times; stock is never oversold, a balance
never goes negative and always equals the sum of its entries."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from tortoise.functions import Sum
from tortoise.transactions import in_transaction

from backend.ids import to_global_id
from backend.models import (
    CreditAccount,
    CreditEntry,
    CreditEntryKind,
    Employee,
    EmployeeRole,
    Redemption,
    Reward,
    RewardCategory,
    Role,
)
from backend.services.credits import ledger
from backend.services.feed import ChangeSet
from tests.factories import make_company
from tests.graphql_client import gql, token_for

REDEEM = """mutation R($input: RedeemRewardInput!) {
  redeemReward(input: $input) { result { status code } errors { code message } } }"""
NOW = datetime.now(UTC)


async def give(company, employee: Employee, tenths: int) -> None:
    async with in_transaction() as connection:
        changes = ChangeSet(company.tenant.id)
        await ledger.post(
            connection,
            changes,
            company.tenant.id,
            ledger.Posting(
                employee_id=employee.id,
                kind=CreditEntryKind.EARN,
                amount=tenths,
                entry_key=f"test:{uuid.uuid4()}",
                occurred_at=NOW - timedelta(days=1),
            ),
            NOW,
        )
        await changes.publish(connection, NOW)


async def redeem(client, token: str, reward: Reward) -> str:
    body = await gql(client, REDEEM, {"input": {"rewardId": to_global_id("Reward", reward.id)}}, token)
    assert "errors" not in body, body
    payload = body["data"]["redeemReward"]
    assert payload["errors"] == [], payload
    result = payload["result"]
    return "ACCEPTED" if result["status"] == "ACCEPTED" else result["code"]


async def sum_of_entries(employee_id: int) -> int:
    total = await CreditEntry.filter(employee_id=employee_id).annotate(s=Sum("amount")).values_list("s", flat=True)
    return total[0] or 0


async def test_fifty_employees_at_once_never_oversell_a_stock_of_ten(client, password_hash):
    company = await make_company(password_hash)
    reward = await Reward.create(
        tenant=company.tenant,
        code="LIMITED",
        name="年度优秀学员荣誉证书",
        category=RewardCategory.HONOUR,
        cost=50,
        stock=10,
    )
    tokens = []
    for index in range(50):
        employee = await Employee.create(
            tenant=company.tenant,
            employee_no=f"C{index:02d}",
            name=f"员工{index}",
            password_hash=password_hash,
            org_unit=company.org_units["east"],
            site=company.sites["hq"],
        )
        await EmployeeRole.create(tenant=company.tenant, employee=employee, role=Role.EMPLOYEE)
        await give(company, employee, 100)
        tokens.append(await token_for(client, company.code, employee.employee_no))

    outcomes = await asyncio.gather(*(redeem(client, token, reward) for token in tokens))
    assert sorted(outcomes) == ["ACCEPTED"] * 10 + ["OUT_OF_STOCK"] * 40
    assert (await Reward.get(id=reward.id)).stock == 0
    assert await Redemption.filter(reward_id=reward.id).count() == 10
    spends = await CreditEntry.filter(tenant=company.tenant, kind=CreditEntryKind.REDEEM)
    assert len(spends) == 10 and all(entry.amount == -50 for entry in spends)
    for account in await CreditAccount.filter(tenant=company.tenant):
        assert account.balance == await sum_of_entries(account.employee_id)
        assert account.balance in (50, 100)


async def test_one_employee_on_many_devices_never_overspends(client, password_hash):
    company = await make_company(password_hash)
    reward = await Reward.create(
        tenant=company.tenant, code="UNLIMITED", name="学习积分兑换咖啡券", category=RewardCategory.GIFT, cost=15
    )  # 1.5 credits, unlimited stock
    learner = company.employees["LRN"]
    await give(company, learner, 150)  # exactly ten
    tokens = [await token_for(client, company.code, "LRN", device_id=f"phone-{n}") for n in range(5)]

    outcomes = await asyncio.gather(*(redeem(client, tokens[n % 5], reward) for n in range(50)))
    assert sorted(outcomes) == ["ACCEPTED"] * 10 + ["INSUFFICIENT_CREDITS"] * 40
    account = await CreditAccount.get(employee=learner)
    assert account.balance == 0 == await sum_of_entries(learner.id)
    assert account.lifetime_earned == 150
    assert await CreditEntry.filter(employee=learner, kind=CreditEntryKind.REDEEM).count() == 10
    assert (await Reward.get(id=reward.id)).stock is None
