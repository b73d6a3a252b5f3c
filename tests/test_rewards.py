"""The rewards store through the real ASGI app: HR manages rewards (validation, audit, the role
matrix), the store view (what is on sale, per-viewer counts and affordability, no N+1), redeeming
online and offline (REWARD_REDEEMED) with a clear reason for every refusal and nothing written by
one, retries spending once, the approval flow (held, kept, refunded by a reversal entry, decided
once) and the REWARD / REDEMPTION feed rows.

Credits are given by posting EARN entries with the ledger (setup data); rewards for redemption
tests are set up with the ORM, everything under test goes over HTTP.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from tortoise.functions import Sum
from tortoise.transactions import in_transaction

from backend.ids import to_global_id
from backend.models import (
    AuditEntry,
    CreditAccount,
    CreditEntry,
    CreditEntryKind,
    Redemption,
    Reward,
    RewardCategory,
)
from backend.services.credits import ledger
from backend.services.feed import ChangeSet
from tests.conftest import count_queries
from tests.factories import make_company
from tests.graphql_client import gql, token_for
from tests.sync_helpers import PULL, pull_input, push_input

REWARD_FIELDS = (
    "id code name description category cost stockLeft perPersonLimit activeFrom activeUntil "
    "requiresApproval retired version myRedemptionCount affordable"
)
ERRORS = "errors { code message field }"
CREATE = f"""mutation C($input: CreateRewardInput!) {{
  createReward(input: $input) {{ reward {{ {REWARD_FIELDS} }} {ERRORS} }} }}"""
UPDATE = f"""mutation U($input: UpdateRewardInput!) {{
  updateReward(input: $input) {{ reward {{ {REWARD_FIELDS} }} {ERRORS} }} }}"""
RETIRE = f"""mutation R($id: ID!) {{ retireReward(rewardId: $id) {{ reward {{ {REWARD_FIELDS} }} {ERRORS} }} }}"""
STORE = f"""query S($first: Int!, $after: String, $all: Boolean!) {{
  rewards(first: $first, after: $after, includeRetired: $all) {{
    balance totalCount pageInfo {{ hasNextPage endCursor }} edges {{ node {{ {REWARD_FIELDS} }} }} }} }}"""
REDEMPTION_FIELDS = (
    "id reward { id code name category } employee { employeeNo } cost status requestedAt decidedAt reason"
)
MINE = f"""query M {{ myRedemptions(first: 20) {{ edges {{ node {{ {REDEMPTION_FIELDS} }} }} }} }}"""
ALL = f"""query A($status: RedemptionStatus) {{
  redemptions(status: $status, first: 20) {{ edges {{ node {{ {REDEMPTION_FIELDS} }} }} }} }}"""
REDEEM = """mutation R($input: RedeemRewardInput!) {
  redeemReward(input: $input) { result { status code message result originalStatus } errors { code message } } }"""
CANCEL = f"""mutation C($input: CancelRedemptionInput!) {{
  cancelRedemption(input: $input) {{ redemption {{ {REDEMPTION_FIELDS} }} {ERRORS} }} }}"""
DECIDE = f"""mutation D($input: DecideRedemptionInput!) {{
  decideRedemption(input: $input) {{ redemption {{ {REDEMPTION_FIELDS} }} {ERRORS} }} }}"""
PUSH = """mutation Push($input: SyncPushInput!) {
  syncPush(input: $input) { appliedSeq results { id seq status code message originalStatus result } errors { code } } }"""

NOW = datetime.now(UTC)


# --- helpers ------------------------------------------------------------------------------------


async def give(company, employee: str, credits: str) -> None:
    """Credits for a test, as an EARN entry posted through the ledger."""
    async with in_transaction() as connection:
        changes = ChangeSet(company.tenant.id)
        await ledger.post(
            connection,
            changes,
            company.tenant.id,
            ledger.Posting(
                employee_id=company.employees[employee].id,
                kind=CreditEntryKind.EARN,
                amount=ledger.to_tenths(credits),
                entry_key=f"test:{uuid.uuid4()}",
                occurred_at=NOW - timedelta(days=1),
            ),
            NOW,
        )
        await changes.publish(connection, NOW)


async def make_reward(company, code: str = "GIFT-1", **fields) -> Reward:
    values = {"name": "定制保温杯", "category": RewardCategory.GIFT, "cost": 100, **fields}
    return await Reward.create(tenant=company.tenant, code=code, **values)


def gid(row) -> str:
    return to_global_id("Reward", row.id)


async def state(company, reward: Reward | None = None, employee: str = "LRN") -> tuple:
    """(balance, stock, entries) — and the balance always equals the sum of the entries."""
    person = company.employees[employee]
    account = await CreditAccount.get_or_none(employee=person)
    balance = account.balance if account else 0
    total = (await CreditEntry.filter(employee=person).annotate(s=Sum("amount")).values_list("s", flat=True))[0] or 0
    assert balance == total and balance >= 0
    stock = (await Reward.get(id=reward.id)).stock if reward else None
    return balance, stock, await CreditEntry.filter(employee=person).count()


async def redeem(client, token, reward_id: str, client_id: str | None = None) -> dict:
    body = await gql(client, REDEEM, {"input": {"rewardId": reward_id, "clientId": client_id}}, token)
    assert "errors" not in body, body
    payload = body["data"]["redeemReward"]
    assert payload["errors"] == [], payload
    return payload["result"]


def redeemed(reward_id: str, occurred_at: datetime, seq: int) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "seq": seq,
        "kind": "REWARD_REDEEMED",
        "occurredAt": occurred_at.isoformat(),
        "payload": {"rewardId": reward_id},
    }


def reward_input(**overrides) -> dict:
    return {
        "input": {
            "code": "SUB-2026",
            "name": "外部培训补贴（500元）",
            "description": "报销外部培训费用",
            "category": "TRAINING_SUBSIDY",
            "cost": "12.5",
            "stock": 5,
            "perPersonLimit": 2,
            "requiresApproval": True,
            **overrides,
        }
    }


def error_codes(payload: dict) -> list[str]:
    return [e["code"] for e in payload["errors"]]


# --- HR manages rewards ---------------------------------------------------------------------


async def test_hr_creates_updates_and_retires_rewards_with_validation_and_audit(client, password_hash):
    company = await make_company(password_hash)
    hr = await token_for(client, company.code, "HR1")
    created = (
        await gql(
            client,
            CREATE,
            reward_input(
                activeFrom=(NOW - timedelta(days=1)).isoformat(),
                activeUntil=(NOW + timedelta(days=30)).isoformat(),
            ),
            hr,
        )
    )["data"]["createReward"]
    assert created["errors"] == []
    reward = created["reward"]
    assert (
        reward["name"],
        reward["category"],
        reward["cost"],
        reward["stockLeft"],
        reward["perPersonLimit"],
        reward["requiresApproval"],
        reward["retired"],
        reward["version"],
    ) == ("外部培训补贴（500元）", "TRAINING_SUBSIDY", "12.5", 5, 2, True, False, 1)
    assert (reward["myRedemptionCount"], reward["affordable"]) == (0, False)

    for overrides, field in (
        ({}, "code"),  # the code is taken
        ({"code": "X1", "cost": "0"}, "cost"),
        ({"code": "X2", "cost": "1.25"}, "cost"),
        ({"code": "X3", "cost": "-3"}, "cost"),
        ({"code": "X4", "stock": -1}, "stock"),
        ({"code": "X5", "perPersonLimit": 0}, "perPersonLimit"),
        ({"code": "X6", "name": "  "}, "name"),
        (
            {"code": "X7", "activeFrom": NOW.isoformat(), "activeUntil": (NOW - timedelta(hours=1)).isoformat()},
            "activeUntil",
        ),
    ):
        payload = (await gql(client, CREATE, reward_input(**overrides), hr))["data"]["createReward"]
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [("VALIDATION", field)], (overrides, payload)
    assert await Reward.filter(tenant=company.tenant).count() == 1

    updated = (
        await gql(
            client,
            UPDATE,
            {
                "input": {
                    "rewardId": reward["id"],
                    "stock": 3,
                    "name": "外部培训补贴",
                    "perPersonLimit": None,
                    "cost": "20",
                }
            },
            hr,
        )
    )["data"]["updateReward"]
    assert updated["errors"] == []
    assert (
        updated["reward"]["stockLeft"],
        updated["reward"]["name"],
        updated["reward"]["perPersonLimit"],
        updated["reward"]["cost"],
        updated["reward"]["version"],
        updated["reward"]["description"],
    ) == (3, "外部培训补贴", None, "20.0", 2, "报销外部培训费用")
    for changes, field in (
        ({"stock": -1}, "stock"),
        ({"cost": "0.01"}, "cost"),
        ({"activeUntil": (NOW - timedelta(days=2)).isoformat()}, "activeUntil"),
    ):
        payload = (await gql(client, UPDATE, {"input": {"rewardId": reward["id"], **changes}}, hr))["data"][
            "updateReward"
        ]
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [("VALIDATION", field)]
    other = await gql(client, CREATE, reward_input(code="CERT-1", category="CERTIFICATE", stock=None), hr)
    payload = (
        await gql(
            client,
            UPDATE,
            {"input": {"rewardId": other["data"]["createReward"]["reward"]["id"], "code": "SUB-2026"}},
            hr,
        )
    )["data"]["updateReward"]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("VALIDATION", "code")]

    retired = (await gql(client, RETIRE, {"id": reward["id"]}, hr))["data"]["retireReward"]
    assert (retired["reward"]["retired"], retired["reward"]["version"]) == (True, 3)
    again = (await gql(client, RETIRE, {"id": reward["id"]}, hr))["data"]["retireReward"]
    assert again["reward"]["version"] == 3  # retiring twice changes nothing

    actions = [a.action for a in await AuditEntry.filter(tenant=company.tenant, entity="Reward").order_by("id")]
    assert actions == ["reward.create", "reward.update", "reward.create", "reward.retire"]
    update_audit = await AuditEntry.get(tenant=company.tenant, action="reward.update")
    assert update_audit.details["before"]["stock"] == 5 and update_audit.details["changes"]["stock"] == 3

    # The store hides the retired reward; HR can still list it.
    lrn = await token_for(client, company.code, "LRN")
    shown = (await gql(client, STORE, {"first": 10, "all": False}, lrn))["data"]["rewards"]
    assert [e["node"]["code"] for e in shown["edges"]] == ["CERT-1"]
    everything = (await gql(client, STORE, {"first": 10, "all": True}, hr))["data"]["rewards"]
    assert [e["node"]["code"] for e in everything["edges"]] == ["SUB-2026", "CERT-1"]
    forbidden = await gql(client, STORE, {"first": 10, "all": True}, lrn)
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_role_matrix(client, password_hash):
    company = await make_company(password_hash)
    elsewhere = await make_company(password_hash)
    reward = await make_reward(company, requires_approval=True, stock=5)
    await give(company, "LRN", "10")
    lrn = await token_for(client, company.code, "LRN")
    pending = await redeem(client, lrn, gid(reward))
    redemption_id = pending["result"]["redemptionId"]

    for number in ("MGR", "LRN"):
        token = await token_for(client, company.code, number)
        assert error_codes((await gql(client, CREATE, reward_input(), token))["data"]["createReward"]) == ["FORBIDDEN"]
        update = await gql(client, UPDATE, {"input": {"rewardId": gid(reward), "stock": 0}}, token)
        assert error_codes(update["data"]["updateReward"]) == ["FORBIDDEN"]
        assert error_codes((await gql(client, RETIRE, {"id": gid(reward)}, token))["data"]["retireReward"]) == [
            "FORBIDDEN"
        ]
        decide = await gql(client, DECIDE, {"input": {"redemptionId": redemption_id, "approve": True}}, token)
        assert error_codes(decide["data"]["decideRedemption"]) == ["FORBIDDEN"]
        listed = await gql(client, ALL, {}, token)
        assert listed["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    oth = await token_for(client, company.code, "OTH")
    cancel = await gql(client, CANCEL, {"input": {"redemptionId": redemption_id}}, oth)
    assert error_codes(cancel["data"]["cancelRedemption"]) == ["FORBIDDEN"]

    # Another company's HR admin and employee see nothing of this one.
    other_hr = await token_for(client, elsewhere.code, "HR1")
    update = await gql(client, UPDATE, {"input": {"rewardId": gid(reward), "stock": 0}}, other_hr)
    assert error_codes(update["data"]["updateReward"]) == ["NOT_FOUND"]
    assert error_codes((await gql(client, RETIRE, {"id": gid(reward)}, other_hr))["data"]["retireReward"]) == [
        "NOT_FOUND"
    ]
    decide = await gql(client, DECIDE, {"input": {"redemptionId": redemption_id, "approve": True}}, other_hr)
    assert error_codes(decide["data"]["decideRedemption"]) == ["NOT_FOUND"]
    assert (await gql(client, ALL, {}, other_hr))["data"]["redemptions"]["edges"] == []
    await give(elsewhere, "LRN", "10")
    other_lrn = await token_for(client, elsewhere.code, "LRN")
    result = await redeem(client, other_lrn, gid(reward))
    assert (result["status"], result["code"]) == ("REJECTED", "NOT_FOUND")
    assert (await Reward.get(id=reward.id)).stock == 4

    hr = await token_for(client, company.code, "HR1")
    decided = await gql(client, DECIDE, {"input": {"redemptionId": redemption_id, "approve": True}}, hr)
    assert decided["data"]["decideRedemption"]["redemption"]["status"] == "APPROVED"


# --- the store ----------------------------------------------------------------------------------


async def test_the_store_shows_what_is_on_sale_with_the_viewers_counts_in_a_fixed_number_of_queries(
    client, password_hash
):
    company = await make_company(password_hash)
    await make_reward(company, "OPEN", cost=50, per_person_limit=3, stock=10)
    await make_reward(company, "DEAR", cost=500)
    await make_reward(company, "LATER", active_from=NOW + timedelta(days=1))
    await make_reward(company, "OVER", active_until=NOW - timedelta(days=1))
    await make_reward(company, "OLD", retired=True)
    await give(company, "LRN", "20")
    lrn = await token_for(client, company.code, "LRN")
    opened = await Reward.get(tenant=company.tenant, code="OPEN")
    assert (await redeem(client, lrn, gid(opened)))["status"] == "ACCEPTED"

    first = (await gql(client, STORE, {"first": 1, "all": False}, lrn))["data"]["rewards"]
    assert first["balance"] == "15.0" and first["pageInfo"]["hasNextPage"]
    node = first["edges"][0]["node"]
    assert (
        node["code"],
        node["cost"],
        node["stockLeft"],
        node["perPersonLimit"],
        node["myRedemptionCount"],
        node["affordable"],
    ) == ("OPEN", "5.0", 9, 3, 1, True)
    rest = await gql(client, STORE, {"first": 10, "after": first["pageInfo"]["endCursor"], "all": False}, lrn)
    rest = rest["data"]["rewards"]
    assert [(e["node"]["code"], e["node"]["affordable"], e["node"]["myRedemptionCount"]) for e in rest["edges"]] == [
        ("DEAR", False, 0)
    ]
    assert not rest["pageInfo"]["hasNextPage"]
    assert first["totalCount"] == rest["totalCount"] == 2

    # No N+1: the same number of statements for 2 rewards as for 8.
    with count_queries() as few:
        await gql(client, STORE, {"first": 20, "all": False}, lrn)
    for n in range(6):
        await make_reward(company, f"MORE-{n}", cost=10 + n)
    with count_queries() as many:
        page = (await gql(client, STORE, {"first": 20, "all": False}, lrn))["data"]["rewards"]
    assert len(page["edges"]) == 8
    assert len(many) == len(few)


# --- redeeming ----------------------------------------------------------------------------------


async def test_redeeming_online_spends_once_and_takes_one_from_stock(client, password_hash):
    company = await make_company(password_hash)
    reward = await make_reward(company, cost=35, stock=3, name="《销售心理学》图书")
    await give(company, "LRN", "10")
    lrn = await token_for(client, company.code, "LRN")
    client_id = str(uuid.uuid4())
    result = await redeem(client, lrn, gid(reward), client_id)
    assert result["status"] == "ACCEPTED" and result["result"]["status"] == "APPROVED"
    redemption = await Redemption.get(record_id=client_id)
    assert result["result"]["redemptionId"] == to_global_id("Redemption", redemption.id)
    assert await state(company, reward) == (65, 2, 2)
    entry = await CreditEntry.get(redemption_id=redemption.id)
    assert (entry.kind, entry.amount, entry.entry_key) == (CreditEntryKind.REDEEM, -35, f"redeem:{redemption.id}")

    retry = await redeem(client, lrn, gid(reward), client_id)
    assert (retry["status"], retry["originalStatus"], retry["result"]) == ("DUPLICATE", "ACCEPTED", result["result"])
    assert await state(company, reward) == (65, 2, 2)

    mine = (await gql(client, MINE, {}, lrn))["data"]["myRedemptions"]["edges"]
    assert [(m["node"]["reward"]["name"], m["node"]["cost"], m["node"]["status"]) for m in mine] == [
        ("《销售心理学》图书", "3.5", "APPROVED")
    ]


async def test_every_refusal_has_a_clear_reason_and_writes_nothing(client, password_hash):
    company = await make_company(password_hash)
    elsewhere = await make_company(password_hash)
    foreign = await make_reward(elsewhere, "FOREIGN")
    later = await make_reward(company, "LATER", active_from=NOW + timedelta(hours=1), stock=5)
    over = await make_reward(company, "OVER", active_until=NOW - timedelta(hours=1), stock=5)
    retired = await make_reward(company, "OLD", retired=True, stock=5)
    once = await make_reward(company, "ONCE", cost=10, per_person_limit=1, stock=5)
    dear = await make_reward(company, "DEAR", cost=1000, stock=5)
    gone = await make_reward(company, "GONE", cost=10, stock=0)
    await give(company, "LRN", "30")
    lrn = await token_for(client, company.code, "LRN")
    assert (await redeem(client, lrn, gid(once)))["status"] == "ACCEPTED"
    before = {row.code: await state(company, row) for row in (later, over, retired, once, dear, gone)}

    cases = [
        (foreign, "NOT_FOUND"),
        (later, "REWARD_NOT_AVAILABLE"),
        (over, "REWARD_NOT_AVAILABLE"),
        (retired, "REWARD_NOT_AVAILABLE"),
        (once, "REDEMPTION_LIMIT_REACHED"),
        (dear, "INSUFFICIENT_CREDITS"),
        (gone, "OUT_OF_STOCK"),
    ]
    for reward, code in cases:
        result = await redeem(client, lrn, gid(reward))
        assert (result["status"], result["code"], result["result"]) == ("REJECTED", code, None), (reward.code, result)
    for reward in (later, over, retired, once, dear, gone):
        assert await state(company, reward) == before[reward.code]
    assert await Redemption.filter(tenant=company.tenant).count() == 1

    # The messages say why, with the numbers (zh-CN by default, English on request).
    limit = await gql(client, REDEEM, {"input": {"rewardId": gid(once)}}, lrn)
    assert "1" in limit["data"]["redeemReward"]["result"]["message"]
    short = await gql(client, REDEEM, {"input": {"rewardId": gid(dear)}}, lrn, language="en")
    assert (
        short["data"]["redeemReward"]["result"]["message"]
        == "Not enough credits to spend (needs 100.0, 29.0 available)."
    )
    bad = await gql(client, REDEEM, {"input": {"rewardId": to_global_id("Course", 1)}}, lrn)
    assert bad["data"]["redeemReward"]["result"]["code"] == "INVALID_PAYLOAD"


async def test_queued_redemptions_are_judged_when_they_arrive(client, password_hash):
    company = await make_company(password_hash)
    closed = await make_reward(company, "CLOSED", active_until=NOW - timedelta(hours=1))
    opened_late = await make_reward(company, "OPENED", active_from=NOW - timedelta(hours=1))
    open_all_along = await make_reward(company, "OPEN", cost=40, stock=2, active_from=NOW - timedelta(days=1))
    await give(company, "LRN", "10")
    lrn = await token_for(client, company.code, "LRN")
    two_hours_ago = NOW - timedelta(hours=2)
    records = [
        redeemed(gid(closed), two_hours_ago, 1),  # made while open, arrived after it closed
        redeemed(gid(opened_late), two_hours_ago, 2),  # made before it opened
        redeemed(gid(open_all_along), two_hours_ago, 3),
        redeemed(gid(open_all_along), two_hours_ago, 4),
        redeemed(gid(open_all_along), two_hours_ago, 5),  # 80 of 100 spent: 20 left for a cost of 40
    ]
    body = await gql(client, PUSH, push_input(records), lrn)
    results = body["data"]["syncPush"]["results"]
    assert [(r["status"], r["code"]) for r in results] == [
        ("REJECTED", "REWARD_NOT_AVAILABLE"),
        ("REJECTED", "REWARD_NOT_AVAILABLE"),
        ("ACCEPTED", None),
        ("ACCEPTED", None),
        ("REJECTED", "INSUFFICIENT_CREDITS"),
    ]
    assert results[2]["result"]["status"] == "APPROVED"
    assert await state(company, open_all_along) == (20, 0, 3)
    requested = await Redemption.filter(tenant=company.tenant).order_by("id").first()
    assert abs(requested.requested_at - two_hours_ago) < timedelta(seconds=5)

    # The phone did not hear back and sends the batch again: every record is a DUPLICATE, spent once.
    again = (await gql(client, PUSH, push_input(records), lrn))["data"]["syncPush"]["results"]
    assert [(r["status"], r["originalStatus"]) for r in again] == [
        ("DUPLICATE", "REJECTED"),
        ("DUPLICATE", "REJECTED"),
        ("DUPLICATE", "ACCEPTED"),
        ("DUPLICATE", "ACCEPTED"),
        ("DUPLICATE", "REJECTED"),
    ]
    assert again[2]["result"] == results[2]["result"]
    assert await state(company, open_all_along) == (20, 0, 3)


# --- approval, rejection, cancellation ----------------------------------------------------------


async def test_approval_holds_credits_and_stock_and_refusals_refund_them_by_reversal(client, password_hash):
    company = await make_company(password_hash)
    reward = await make_reward(
        company, "SUB", category=RewardCategory.TRAINING_SUBSIDY, cost=30, stock=3, requires_approval=True
    )
    await give(company, "LRN", "13")
    lrn = await token_for(client, company.code, "LRN")
    hr = await token_for(client, company.code, "HR1")
    ids = []
    for _ in range(3):
        result = await redeem(client, lrn, gid(reward))
        assert result["result"]["status"] == "PENDING"
        ids.append(result["result"]["redemptionId"])
    assert await state(company, reward) == (40, 0, 4)  # held while pending
    assert (await redeem(client, lrn, gid(reward)))["code"] == "OUT_OF_STOCK"

    pending = (await gql(client, ALL, {"status": "PENDING"}, hr))["data"]["redemptions"]["edges"]
    assert [p["node"]["id"] for p in pending] == list(reversed(ids))
    assert {p["node"]["employee"]["employeeNo"] for p in pending} == {"LRN"}

    approved = await gql(client, DECIDE, {"input": {"redemptionId": ids[0], "approve": True}}, hr)
    assert approved["data"]["decideRedemption"]["redemption"]["status"] == "APPROVED"
    assert await state(company, reward) == (40, 0, 4)  # approval keeps them
    twice = await gql(client, DECIDE, {"input": {"redemptionId": ids[0], "approve": False, "reason": "改主意"}}, hr)
    payload = twice["data"]["decideRedemption"]
    assert error_codes(payload) == ["ALREADY_DECIDED"] and "APPROVED" in payload["errors"][0]["message"]

    no_reason = await gql(client, DECIDE, {"input": {"redemptionId": ids[1], "approve": False}}, hr)
    assert [(e["code"], e["field"]) for e in no_reason["data"]["decideRedemption"]["errors"]] == [
        ("VALIDATION", "reason")
    ]
    rejected = await gql(
        client, DECIDE, {"input": {"redemptionId": ids[1], "approve": False, "reason": "本季度补贴名额已满"}}, hr
    )
    node = rejected["data"]["decideRedemption"]["redemption"]
    assert (node["status"], node["reason"]) == ("REJECTED", "本季度补贴名额已满") and node["decidedAt"]
    assert await state(company, reward) == (70, 1, 5)
    refund = await CreditEntry.get(employee=company.employees["LRN"], kind=CreditEntryKind.REVERSAL)
    spend = await CreditEntry.get(id=refund.reverses_id)
    assert (spend.kind, spend.amount, refund.amount) == (CreditEntryKind.REDEEM, -30, 30)
    assert spend.redemption_id == refund.redemption_id == (await Redemption.get(id=int(spend.redemption_id))).id

    cancelled = await gql(client, CANCEL, {"input": {"redemptionId": ids[2], "reason": "不需要了"}}, lrn)
    assert cancelled["data"]["cancelRedemption"]["redemption"]["status"] == "CANCELLED"
    assert await state(company, reward) == (100, 2, 6)
    for mutation, variables in (
        (CANCEL, {"redemptionId": ids[2]}),
        (CANCEL, {"redemptionId": ids[0]}),
        (DECIDE, {"redemptionId": ids[2], "approve": True}),
    ):
        token = hr if mutation is DECIDE else lrn
        answer = (await gql(client, mutation, {"input": variables}, token))["data"]
        assert error_codes(next(iter(answer.values()))) == ["ALREADY_DECIDED"]
    assert await state(company, reward) == (100, 2, 6)
    account = await CreditAccount.get(employee=company.employees["LRN"])
    assert account.lifetime_earned == 130  # refunds and spends never change what was earned
    actions = sorted(a.action for a in await AuditEntry.filter(tenant=company.tenant, entity="Redemption"))
    assert actions == ["redemption.approved", "redemption.cancelled", "redemption.rejected"]

    # Unlimited stock stays unlimited through a refund.
    free = await make_reward(company, "FREE", cost=10, requires_approval=True)
    result = await redeem(client, lrn, gid(free))
    await gql(client, CANCEL, {"input": {"redemptionId": result["result"]["redemptionId"]}}, lrn)
    assert await state(company, free) == (100, None, 8)


# --- the feed -----------------------------------------------------------------------------------


async def test_the_feed_carries_rewards_to_everyone_and_redemptions_to_their_employee(client, password_hash):
    company = await make_company(password_hash)
    hr = await token_for(client, company.code, "HR1")
    created = (
        await gql(
            client,
            CREATE,
            reward_input(code="MUG", name="纪念马克杯", category="GIFT", cost="2", requiresApproval=False),
            hr,
        )
    )["data"]["createReward"]["reward"]
    await give(company, "LRN", "10")
    lrn = await token_for(client, company.code, "LRN")
    result = await redeem(client, lrn, created["id"])

    async def feed(token):
        body = await gql(client, PULL, pull_input(), token)
        return {(c["entity"], c["id"]): c for c in body["data"]["syncPull"]["changes"]}

    mine = await feed(lrn)
    row = mine[("REWARD", created["id"])]["data"]
    assert (row["name"], row["cost"], row["stockLeft"], row["category"]) == ("纪念马克杯", "2.0", 4, "GIFT")
    assert "affordable" not in row and "myRedemptionCount" not in row
    redemption = mine[("REDEMPTION", result["result"]["redemptionId"])]["data"]
    assert (redemption["rewardId"], redemption["cost"], redemption["status"], redemption["decidedAt"]) == (
        created["id"],
        "2.0",
        "APPROVED",
        None,
    )
    assert redemption["requestedAt"]
    oth = await feed(await token_for(client, company.code, "OTH"))
    assert ("REWARD", created["id"]) in oth
    assert ("REDEMPTION", result["result"]["redemptionId"]) not in oth

    await gql(client, RETIRE, {"id": created["id"]}, hr)
    after = await feed(lrn)
    assert after[("REWARD", created["id"])]["op"] == "DELETE"
