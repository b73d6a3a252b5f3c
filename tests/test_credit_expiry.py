"""Credit expiry: unspent credits earned before a cut-off lapse (oldest spent first), once per
cut-off, never below zero, lifetime earned untouched; HR only, audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tortoise.transactions import in_transaction

from backend.models import AuditEntry, CreditAccount, CreditEntry, CreditEntryKind
from backend.services.credits import credit_accounts, ledger
from backend.services.feed import ChangeSet
from tests.factories import make_company
from tests.graphql_client import gql, token_for

EXPIRE = """
mutation E($input: ExpireCreditsInput!) { expireCredits(input: $input) { accounts expired errors { code field } } }
"""
NOW = datetime.now(UTC)
OLD, RECENT = NOW - timedelta(days=400), NOW - timedelta(days=30)
CUT_OFF = NOW - timedelta(days=365)


async def entries(company, employee, *postings):
    async with in_transaction() as connection:
        changes = ChangeSet(company.tenant.id)
        for n, (kind, amount, at) in enumerate(postings):
            await ledger.post(
                connection,
                changes,
                company.tenant.id,
                ledger.Posting(
                    employee_id=company.employees[employee].id,
                    kind=kind,
                    amount=amount,
                    entry_key=f"test:{employee}:{n}:{at.isoformat()}",
                    occurred_at=at,
                ),
                NOW,
            )
        await changes.publish(connection, NOW)


async def account(company, employee):
    return await CreditAccount.get(employee=company.employees[employee])


async def test_unspent_old_credits_lapse_oldest_spent_first_once_per_cut_off(client, password_hash):
    company = await make_company(password_hash)
    # LRN: 30 old, 10 spent, 20 recent -> 20 of the old lapse; OTH: 5 old, all spent -> nothing.
    await entries(
        company,
        "LRN",
        (CreditEntryKind.EARN, 300, OLD),
        (CreditEntryKind.REDEEM, -100, RECENT),
        (CreditEntryKind.EARN, 200, RECENT),
    )
    await entries(company, "OTH", (CreditEntryKind.EARN, 50, OLD), (CreditEntryKind.REDEEM, -50, RECENT))
    hr = await token_for(client, company.code, "HR1")
    variables = {"input": {"before": CUT_OFF.isoformat(), "reason": "年度学分清零：一年前获得且未使用的学分"}}
    body = await gql(client, EXPIRE, variables, token=hr)
    assert body["data"]["expireCredits"] == {"accounts": 1, "expired": "20.0", "errors": []}
    lrn = await account(company, "LRN")
    assert (lrn.balance, lrn.lifetime_earned) == (200, 500)  # what was earned stays earned
    expiry = await CreditEntry.get(tenant=company.tenant, kind=CreditEntryKind.EXPIRY)
    assert (expiry.amount, expiry.employee_id) == (-200, company.employees["LRN"].id)
    again = await gql(client, EXPIRE, variables, token=hr)
    assert again["data"]["expireCredits"] == {"accounts": 0, "expired": "0.0", "errors": []}
    assert await AuditEntry.filter(tenant_id=company.tenant.id, action="credits.expire").count() == 2
    assert await credit_accounts.verify_accounts(company.tenant.id) == []


async def test_a_later_cut_off_expires_only_what_the_earlier_left(client, password_hash):
    company = await make_company(password_hash)
    await entries(
        company, "LRN", (CreditEntryKind.EARN, 100, OLD), (CreditEntryKind.EARN, 100, RECENT - timedelta(days=60))
    )
    hr = await token_for(client, company.code, "HR1")
    first = await gql(client, EXPIRE, {"input": {"before": CUT_OFF.isoformat(), "reason": "清零"}}, token=hr)
    assert first["data"]["expireCredits"]["expired"] == "10.0"
    later = await gql(client, EXPIRE, {"input": {"before": RECENT.isoformat(), "reason": "清零"}}, token=hr)
    assert later["data"]["expireCredits"]["expired"] == "10.0"
    assert (await account(company, "LRN")).balance == 0


async def test_expiry_is_for_hr_with_a_reason_and_a_past_cut_off(client, password_hash):
    company = await make_company(password_hash)
    await entries(company, "LRN", (CreditEntryKind.EARN, 100, OLD))
    for employee in ("MGR", "LRN"):
        token = await token_for(client, company.code, employee, device_id=f"{employee}-x")
        body = await gql(client, EXPIRE, {"input": {"before": CUT_OFF.isoformat(), "reason": "清零"}}, token=token)
        assert body["data"]["expireCredits"]["errors"] == [{"code": "FORBIDDEN", "field": None}]
    hr = await token_for(client, company.code, "HR1")
    blank = await gql(client, EXPIRE, {"input": {"before": CUT_OFF.isoformat(), "reason": "  "}}, token=hr)
    assert blank["data"]["expireCredits"]["errors"] == [{"code": "VALIDATION", "field": "reason"}]
    future = await gql(
        client, EXPIRE, {"input": {"before": (NOW + timedelta(days=1)).isoformat(), "reason": "x"}}, token=hr
    )
    assert future["data"]["expireCredits"]["errors"] == [{"code": "VALIDATION", "field": "before"}]
    assert (await account(company, "LRN")).balance == 100


async def test_a_refunded_spend_does_not_shield_old_credits(client, password_hash):
    """10 earned long ago, spent, then refunded: the 10 are unspent again and lapse."""
    company = await make_company(password_hash)
    await entries(company, "LRN", (CreditEntryKind.EARN, 100, OLD))
    async with in_transaction() as connection:
        changes = ChangeSet(company.tenant.id)
        spend = await ledger.post(
            connection,
            changes,
            company.tenant.id,
            ledger.Posting(
                employee_id=company.employees["LRN"].id,
                kind=CreditEntryKind.REDEEM,
                amount=-100,
                entry_key="spend",
                occurred_at=RECENT,
            ),
            NOW,
        )
        await ledger.reverse(
            connection,
            changes,
            company.tenant.id,
            await CreditEntry.get(id=spend).using_db(connection),
            "退款",
            None,
            NOW,
        )
        await changes.publish(connection, NOW)
    hr = await token_for(client, company.code, "HR1")
    body = await gql(client, EXPIRE, {"input": {"before": CUT_OFF.isoformat(), "reason": "清零"}}, token=hr)
    assert body["data"]["expireCredits"]["expired"] == "10.0"
    assert (await account(company, "LRN")).balance == 0
