"""The ledger's write path (backend/services/credits/ledger.py): keyed, append-only entries whose account
sums never drift and never go negative, on both databases."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from tortoise.exceptions import DoesNotExist
from tortoise.transactions import in_transaction

from backend.errors import DomainError, ErrorCode
from backend.models import CreditAccount, CreditEntry, CreditEntryKind, CreditEvent, CreditRule, PendingCredit
from backend.services.credits import ledger
from backend.services.feed import ChangeSet
from tests.factories import make_company

NOW = datetime(2026, 11, 20, 8, tzinfo=UTC)


async def post(company, kind, amount, key, employee="LRN"):
    async with in_transaction() as connection:
        changes = ChangeSet(company.tenant.id)
        entry_id = await ledger.post(
            connection,
            changes,
            company.tenant.id,
            ledger.Posting(
                employee_id=company.employees[employee].id,
                kind=kind,
                amount=amount,
                entry_key=key,
                occurred_at=NOW,
            ),
            NOW,
        )
        await changes.publish(connection, NOW)
        return entry_id


async def account(company, employee="LRN"):
    return await CreditAccount.get(employee=company.employees[employee])


def test_tenths_are_exact_and_refuse_more_precision():
    assert ledger.to_tenths(Decimal("1.5")) == 15 and ledger.to_tenths("20") == 200
    assert ledger.from_tenths(15) == Decimal("1.5") and str(ledger.from_tenths(-200)) == "-20.0"
    for bad in ("0.05", "abc", "NaN", "1e20"):
        with pytest.raises(DomainError) as error:
            ledger.to_tenths(bad)
        assert error.value.code == ErrorCode.VALIDATION


async def test_a_key_posts_once_and_the_sums_follow_the_entries(password_hash):
    company = await make_company(password_hash)
    first = await post(company, CreditEntryKind.EARN, 30, "rule:1:event:1")
    again = await post(company, CreditEntryKind.EARN, 30, "rule:1:event:1")
    assert first is not None and again is None
    await post(company, CreditEntryKind.ADJUSTMENT, 5, "adjust:a")
    await post(company, CreditEntryKind.REDEEM, -20, "redeem:1")
    await post(company, CreditEntryKind.ADJUSTMENT, -5, "adjust:b")
    row = await account(company)
    assert (row.balance, row.lifetime_earned, row.pending) == (10, 35, 0)
    assert await CreditEntry.filter(employee=company.employees["LRN"]).count() == 4


async def test_a_spend_beyond_the_balance_writes_nothing(password_hash):
    company = await make_company(password_hash)
    await post(company, CreditEntryKind.EARN, 10, "earn")
    with pytest.raises(DomainError) as error:
        await post(company, CreditEntryKind.REDEEM, -11, "redeem:too-much")
    assert error.value.code == ErrorCode.INSUFFICIENT_CREDITS
    assert error.value.params == {"needed": "1.1", "available": "1.0"}
    assert (await account(company)).balance == 10
    assert not await CreditEntry.filter(entry_key="redeem:too-much").exists()


async def test_an_entry_is_reversed_once_and_a_reversal_never_overdraws(password_hash):
    company = await make_company(password_hash)
    await post(company, CreditEntryKind.EARN, 10, "earn")
    spend_id = await post(company, CreditEntryKind.REDEEM, -8, "redeem:1")
    earn = await CreditEntry.get(tenant=company.tenant, entry_key="earn")
    async with in_transaction() as connection:
        changes = ChangeSet(company.tenant.id)
        with pytest.raises(DomainError) as error:  # only 2 left: taking back 10 would overdraw
            await ledger.reverse(connection, changes, company.tenant.id, earn, "刷学分", None, NOW)
        assert error.value.code == ErrorCode.INSUFFICIENT_CREDITS
        refund = await ledger.reverse(
            connection,
            changes,
            company.tenant.id,
            await CreditEntry.get(id=spend_id).using_db(connection),
            "退款",
            None,
            NOW,
        )
        with pytest.raises(DomainError) as twice:
            await ledger.reverse(
                connection,
                changes,
                company.tenant.id,
                await CreditEntry.get(id=spend_id).using_db(connection),
                "again",
                None,
                NOW,
            )
        assert twice.value.code == ErrorCode.ALREADY_REVERSED
        await changes.publish(connection, NOW)
    row = await account(company)
    assert (row.balance, row.lifetime_earned) == (10, 10)
    assert (await CreditEntry.get(id=refund)).reverses_id == spend_id


async def test_pending_credits_count_only_when_approved_and_are_decided_once(password_hash):
    company = await make_company(password_hash)
    tenant, lrn = company.tenant, company.employees["LRN"]
    rule = await CreditRule.create(
        tenant=tenant, rule_key="R", name="导师认可", activity="PRACTICE_CONFIRMED", credits=20
    )
    claims = []
    async with in_transaction() as connection:
        changes = ChangeSet(tenant.id)
        for n in (1, 2):
            event = await CreditEvent.create(
                tenant=tenant,
                employee=lrn,
                activity="PRACTICE_CONFIRMED",
                event_key=f"practice:{n}",
                occurred_at=NOW,
                using_db=connection,
            )
            claims.append(
                await ledger.add_pending(
                    connection,
                    changes,
                    tenant.id,
                    ledger.Posting(
                        employee_id=lrn.id,
                        kind=CreditEntryKind.EARN,
                        amount=20,
                        entry_key=f"rule:{rule.id}:practice:{n}",
                        occurred_at=NOW,
                        rule_id=rule.id,
                        event_id=event.id,
                    ),
                    NOW,
                )
            )
        await changes.publish(connection, NOW)
    assert ((await account(company)).balance, (await account(company)).pending) == (0, 40)
    hr = company.employees["HR1"].id
    async with in_transaction() as connection:
        changes = ChangeSet(tenant.id)
        await ledger.settle_pending(connection, changes, tenant.id, claims[0], True, hr, "", NOW)
        await ledger.settle_pending(connection, changes, tenant.id, claims[1], False, hr, "重复提交", NOW)
        with pytest.raises(DomainError) as error:
            await ledger.settle_pending(connection, changes, tenant.id, claims[0], True, hr, "", NOW)
        assert (error.value.code, error.value.params) == (ErrorCode.ALREADY_DECIDED, {"status": "APPROVED"})
        await changes.publish(connection, NOW)
    row = await account(company)
    assert (row.balance, row.lifetime_earned, row.pending) == (20, 20, 0)
    assert [c.status.value for c in await PendingCredit.filter(employee=lrn).order_by("id")] == ["APPROVED", "REJECTED"]


async def test_concurrent_spends_never_overdraw(password_hash):
    """Twelve spends of 10 against a balance of 50, all at once: exactly five succeed."""
    company = await make_company(password_hash)
    await post(company, CreditEntryKind.EARN, 50, "earn")

    async def spend(n):
        try:
            return await post(company, CreditEntryKind.REDEEM, -10, f"redeem:{n}")
        except DomainError as error:
            return error.code

    results = await asyncio.gather(*(spend(n) for n in range(12)))
    assert sum(isinstance(r, int) for r in results) == 5
    assert results.count(ErrorCode.INSUFFICIENT_CREDITS) == 7
    row = await account(company)
    assert (
        row.balance
        == 0
        == 50 + sum(e.amount for e in await CreditEntry.filter(kind="REDEEM", employee=company.employees["LRN"]))
    )


async def test_accounts_of_another_tenants_employees_are_never_locked_for_this_one(password_hash):
    """Locking many accounts at once refuses an employee of another tenant (whose account exists)
    instead of leaving them out, so nothing is ever posted across tenants."""
    ours, theirs = await make_company(password_hash), await make_company(password_hash)
    now = datetime.now(UTC)
    async with in_transaction() as connection:
        await ledger.lock_account(connection, theirs.tenant.id, theirs.employees["LRN"].id, now)
    with pytest.raises(DoesNotExist):
        async with in_transaction() as connection:
            await ledger.lock_accounts(
                connection, ours.tenant.id, [ours.employees["LRN"].id, theirs.employees["LRN"].id], now
            )
    assert not await CreditAccount.filter(employee_id=ours.employees["LRN"].id).exists()  # rolled back
    async with in_transaction() as connection:
        found = await ledger.lock_accounts(connection, ours.tenant.id, [ours.employees["LRN"].id], now)
    assert found == {ours.employees["LRN"].id: (0, 0)}
