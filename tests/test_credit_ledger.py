"""The credit ledger through the real app: `me.credits` (balances, this period, target progress),
`creditLedger` explaining each entry (rule, record, when, balance after), HR adjustments and
reversals (with reasons, never overdrawn, once), an audited recalculation that adds only what is
missing, the balance in push results and online twins, the CREDIT_ACCOUNT / CREDIT_ENTRY feed rows,
who may do what, and `xuefen credits verify` catching a corrupted account."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from tortoise import connections

from backend.models import AuditEntry, CreditProgram, CreditTarget
from tests.conftest import count_queries
from tests.factories import make_company
from tests.sync_helpers import PULL, pull_input
from tests.test_credit_rules import (
    DECIDE,
    LEDGER,
    YESTERDAY,
    Phone,
    create_rule,
    gid,
    module_of,
    people,
    update_rule,
)

ADJUST = """
mutation A($input: AdjustCreditsInput!) {
  adjustCredits(input: $input) {
    entry { id kind amount reason actor { employeeNo } } credits { balance lifetimeEarned pending }
    errors { code field message }
  }
}
"""
REVERSE = """
mutation R($input: ReverseCreditEntryInput!) {
  reverseCreditEntry(input: $input) {
    entry { id kind amount reason reverses { id } rule { ruleKey } } credits { balance lifetimeEarned pending }
    errors { code field message }
  }
}
"""
RECALCULATE = """
mutation C($input: RecalculateCreditsInput!) { recalculateCredits(input: $input) { added errors { code field } } }
"""
NODE = """
query N($id: ID!) { node(id: $id) { ... on Employee { employeeNo credits { balance lifetimeEarned } } } }
"""
COMPLETE = """
mutation L($input: CompleteLessonInput!) {
  completeLesson(input: $input) { result { status } credits { balance lifetimeEarned pending } errors { code } }
}
"""


@pytest.fixture
async def company(password_hash):
    return await make_company(password_hash)


def errors_of(body: dict) -> list[tuple[str, str | None]]:
    assert "errors" not in body, body
    return [(e["code"], e["field"]) for e in next(iter(body["data"].values()))["errors"]]


async def test_me_credits_period_target_and_who_sees_them(client, company):
    hr, mgr, lrn = await people(client, company)
    # Monthly periods: a record from just before this period is still within the 30 days a
    # late record may be backdated (credits.BACKDATING_ALLOWED), so it counts in the last one.
    await CreditProgram.create(tenant=company.tenant, period_months=1)
    await CreditTarget.create(tenant=company.tenant, position_family="销售族", grade=1, credits=100)  # 10 credits
    s1 = await module_of(company, "S-001")
    await create_rule(hr, ruleKey="S1", moduleId=gid("CourseModule", s1), credits="2.5")
    await lrn.lessons(s1.id, datetime.now(UTC) - timedelta(minutes=5))  # inside this period
    credits = await lrn.credits()
    assert {
        k: credits[k] for k in ("balance", "lifetimeEarned", "pending", "periodEarned", "target", "progressPercent")
    } == {
        "balance": "2.5",
        "lifetimeEarned": "2.5",
        "pending": "0.0",
        "periodEarned": "2.5",
        "target": "10.0",
        "progressPercent": 25,
    }
    start = datetime.fromisoformat(credits["periodStart"])
    end = datetime.fromisoformat(credits["periodEnd"])
    assert start <= datetime.now(UTC) < end and start.astimezone(timezone(timedelta(hours=8))).hour == 0
    assert (await hr.credits())["target"] is None and (await hr.credits())["progressPercent"] is None
    # a record from before this period counts in the lifetime, not in the period
    await lrn.lessons(s1.id, datetime.fromisoformat(credits["periodStart"]) - timedelta(hours=1))
    credits = await lrn.credits()
    assert (credits["balance"], credits["periodEarned"], credits["progressPercent"]) == ("5.0", "2.5", 25)
    lrn_id = gid("Employee", company.employees["LRN"])
    seen = (await hr.gql(NODE, {"id": lrn_id}))["data"]["node"]
    assert seen["credits"] == {"balance": "5.0", "lifetimeEarned": "5.0"}
    assert (await mgr.gql(NODE, {"id": lrn_id}))["data"]["node"]["credits"] is None


async def test_ledger_pages_newest_first_with_explanations(client, company):
    hr, _, lrn = await people(client, company)
    a2 = await module_of(company, "A-002")
    await create_rule(hr, ruleKey="A2", name="消防学习", moduleId=gid("CourseModule", a2), credits="1.5")
    payload = await lrn.lessons(a2.id, YESTERDAY - timedelta(hours=2), YESTERDAY - timedelta(hours=1), YESTERDAY)
    record_ids = [r["id"] for r in payload["results"]]
    page = (await lrn.gql(LEDGER, {"first": 2}))["data"]["creditLedger"]
    assert page["pageInfo"]["hasNextPage"]
    rest = (await lrn.gql(LEDGER, {"first": 2, "after": page["pageInfo"]["endCursor"]}))["data"]["creditLedger"]
    assert not rest["pageInfo"]["hasNextPage"]
    assert page["totalCount"] == rest["totalCount"] == 3
    entries = [e["node"] for e in page["edges"] + rest["edges"]]
    assert [e["source"]["recordId"] for e in entries] == record_ids[::-1]
    assert [e["balanceAfter"] for e in entries] == ["4.5", "3.0", "1.5"]
    newest = entries[0]
    assert newest["kind"] == "EARN" and newest["amount"] == "1.5"
    assert newest["rule"] == {"ruleKey": "A2", "version": 1, "name": "消防学习", "activity": "LESSON_COMPLETED"}
    assert newest["source"]["activity"] == "LESSON_COMPLETED" and newest["source"]["course"]["code"] == "A-002"
    assert newest["source"]["module"]["id"] == gid("CourseModule", a2)
    assert newest["source"]["eventKey"] == f"lesson:{record_ids[-1]}"
    assert abs(datetime.fromisoformat(newest["occurredAt"]) - YESTERDAY) < timedelta(seconds=1)
    # A page costs the same few statements whatever its size: sign-in, then one statement for the
    # entries with their rules, events, courses, modules and balance, and the count of all entries
    # unless the page is the whole ledger.
    with count_queries() as one:
        await lrn.gql(LEDGER, {"first": 1})
    with count_queries() as three:
        await lrn.gql(LEDGER, {"first": 3})
    assert len(one) == 3 and len(three) == 2, (one, three)
    # HR may read anyone's ledger; others may not
    lrn_id = gid("Employee", company.employees["LRN"])
    assert len((await hr.gql(LEDGER, {"employeeId": lrn_id}))["data"]["creditLedger"]["edges"]) == 3
    other = await Phone.sign_in(client, company, "MGR")
    body = await other.gql(LEDGER, {"employeeId": lrn_id})
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    body = await lrn.gql(LEDGER, {"after": "garbage"})
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION"


async def test_adjustments_and_reversals(client, company):
    hr, _mgr, lrn = await people(client, company)
    lrn_id = gid("Employee", company.employees["LRN"])
    a1 = await module_of(company, "A-001")
    await create_rule(hr, ruleKey="A1", moduleId=gid("CourseModule", a1), credits="3")
    await lrn.lessons(a1.id, YESTERDAY)
    for amount, reason, expected in (
        ("0", "x", ("VALIDATION", "amount")),
        ("1.25", "x", ("VALIDATION", "amount")),
        ("2", " ", ("VALIDATION", "reason")),
        ("-100", "扣除", ("INSUFFICIENT_CREDITS", None)),
    ):
        body = await hr.gql(ADJUST, {"input": {"employeeId": lrn_id, "amount": amount, "reason": reason}})
        assert errors_of(body) == [expected], (amount, body)
    body = await hr.gql(ADJUST, {"input": {"employeeId": lrn_id, "amount": "2", "reason": "优秀学员奖励"}})
    adjusted = body["data"]["adjustCredits"]
    assert adjusted["entry"]["kind"] == "ADJUSTMENT" and adjusted["entry"]["actor"]["employeeNo"] == "HR1"
    assert adjusted["credits"] == {"balance": "5.0", "lifetimeEarned": "5.0", "pending": "0.0"}
    body = await hr.gql(ADJUST, {"input": {"employeeId": lrn_id, "amount": "-1.5", "reason": "违规扣分"}})
    assert body["data"]["adjustCredits"]["credits"] == {"balance": "3.5", "lifetimeEarned": "5.0", "pending": "0.0"}

    earn = next(e for e in await lrn.ledger() if e["kind"] == "EARN")
    body = await hr.gql(REVERSE, {"input": {"entryId": earn["id"], "reason": ""}})
    assert errors_of(body) == [("VALIDATION", "reason")]
    body = await hr.gql(REVERSE, {"input": {"entryId": earn["id"], "reason": "刷学分"}})
    reversed_ = body["data"]["reverseCreditEntry"]
    assert reversed_["entry"]["kind"] == "REVERSAL" and reversed_["entry"]["amount"] == "-3.0"
    assert reversed_["entry"]["reverses"]["id"] == earn["id"] and reversed_["entry"]["rule"]["ruleKey"] == "A1"
    assert reversed_["credits"] == {"balance": "0.5", "lifetimeEarned": "5.0", "pending": "0.0"}
    body = await hr.gql(REVERSE, {"input": {"entryId": earn["id"], "reason": "再来一次"}})
    assert errors_of(body) == [("ALREADY_REVERSED", None)]
    bonus = next(e for e in await lrn.ledger() if e["kind"] == "ADJUSTMENT" and e["amount"] == "2.0")
    body = await hr.gql(REVERSE, {"input": {"entryId": bonus["id"], "reason": "发错了"}})
    assert errors_of(body) == [("INSUFFICIENT_CREDITS", None)]  # only 0.5 left
    entries = await lrn.ledger()
    assert [e["kind"] for e in entries] == ["REVERSAL", "ADJUSTMENT", "ADJUSTMENT", "EARN"]
    assert entries[0]["reason"] == "刷学分" and entries[0]["balanceAfter"] == "0.5"
    assert await AuditEntry.filter(tenant=company.tenant, action="credits.adjust").count() == 2
    assert await AuditEntry.filter(tenant=company.tenant, action="credits.reverse").count() == 1


async def test_recalculation_adds_only_the_difference_and_is_audited(client, company):
    hr, _, lrn = await people(client, company)
    a1 = await module_of(company, "A-001")
    await lrn.lessons(a1.id, YESTERDAY, YESTERDAY)  # before any rule: recorded, not credited
    assert await lrn.balance() == 0
    rule = await create_rule(hr, ruleKey="LATE", moduleId=gid("CourseModule", a1), credits="1")
    window = {"since": (YESTERDAY - timedelta(days=1)).isoformat(), "until": datetime.now(UTC).isoformat()}
    body = await hr.gql(RECALCULATE, {"input": {**window, "ruleKey": "LATE"}})
    assert body["data"]["recalculateCredits"] == {"added": "2.0", "errors": []}
    assert await lrn.balance() == Decimal("2.0")
    body = await hr.gql(RECALCULATE, {"input": window})
    assert body["data"]["recalculateCredits"]["added"] == "0.0"
    await update_rule(hr, rule, credits="1.5")
    body = await hr.gql(RECALCULATE, {"input": {**window, "employeeId": gid("Employee", company.employees["LRN"])}})
    assert body["data"]["recalculateCredits"]["added"] == "1.0"  # 0.5 more for each of the two lessons
    assert await lrn.balance() == Decimal("3.0")
    assert sorted(e["amount"] for e in await lrn.ledger()) == ["0.5", "0.5", "1.0", "1.0"]
    assert await AuditEntry.filter(tenant=company.tenant, action="credits.recalculate").count() == 3
    body = await hr.gql(RECALCULATE, {"input": {"since": window["until"], "until": window["since"]}})
    assert errors_of(body) == [("VALIDATION", "until")]
    body = await hr.gql(RECALCULATE, {"input": {**window, "ruleKey": "NOPE"}})
    assert errors_of(body) == [("NOT_FOUND", None)]


async def test_every_hr_mutation_is_forbidden_to_others_and_blind_to_other_tenants(client, company, password_hash):
    hr, mgr, lrn = await people(client, company)
    s1 = await module_of(company, "S-001")
    await create_rule(hr, ruleKey="APPROVE", moduleId=gid("CourseModule", s1), credits="1", requiresApproval=True)
    await create_rule(hr, ruleKey="PLAIN", moduleId=gid("CourseModule", s1), credits="1")
    await lrn.lessons(s1.id, YESTERDAY)
    claim = (await hr.gql("query { pendingCredits { edges { node { id } } } }"))["data"]["pendingCredits"]["edges"][0][
        "node"
    ]["id"]
    entry = (await lrn.ledger())[0]["id"]
    lrn_id = gid("Employee", company.employees["LRN"])
    window = {"since": (YESTERDAY - timedelta(days=1)).isoformat(), "until": datetime.now(UTC).isoformat()}
    calls = [
        (DECIDE, {"input": {"claimId": claim, "approve": True}}),
        (ADJUST, {"input": {"employeeId": lrn_id, "amount": "1", "reason": "奖励"}}),
        (REVERSE, {"input": {"entryId": entry, "reason": "撤销"}}),
        (RECALCULATE, {"input": {**window, "employeeId": lrn_id}}),
    ]
    for phone in (mgr, lrn):
        for query, variables in calls:
            assert errors_of(await phone.gql(query, variables)) == [("FORBIDDEN", None)], query
    other = await make_company(password_hash)
    other_hr = await Phone.sign_in(client, other, "HR1")
    for query, variables in calls:
        assert errors_of(await other_hr.gql(query, variables)) == [("NOT_FOUND", None)], query
    body = await other_hr.gql(LEDGER, {"employeeId": lrn_id})
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert (await other_hr.gql("query { pendingCredits { edges { node { id } } } }"))["data"]["pendingCredits"][
        "edges"
    ] == []
    # and HR of this tenant may do each of them
    for query, variables in calls:
        assert errors_of(await hr.gql(query, variables)) == [], query


async def test_push_results_online_twins_and_the_feed_carry_the_balance(client, company):
    hr, _, lrn = await people(client, company)
    a2 = await module_of(company, "A-002")
    await create_rule(hr, ruleKey="A2", moduleId=gid("CourseModule", a2), credits="2")
    payload = await lrn.lessons(a2.id, YESTERDAY)
    assert payload["credits"] == {"balance": "2.0", "lifetimeEarned": "2.0", "pending": "0.0"}
    body = await lrn.gql(
        COMPLETE,
        {"input": {"moduleId": gid("CourseModule", a2), "secondsSpent": 30, "completedAt": YESTERDAY.isoformat()}},
    )
    assert body["data"]["completeLesson"]["credits"] == {"balance": "4.0", "lifetimeEarned": "4.0", "pending": "0.0"}

    body = await lrn.gql(PULL, pull_input(device_id=lrn.device))
    changes = body["data"]["syncPull"]["changes"]
    lrn_id = gid("Employee", company.employees["LRN"])
    (account,) = [c for c in changes if c["entity"] == "CREDIT_ACCOUNT"]
    assert account["id"] == lrn_id and account["op"] == "UPSERT"
    assert {k: account["data"][k] for k in ("balance", "lifetimeEarned", "pending", "periodEarned")} == {
        "balance": "4.0",
        "lifetimeEarned": "4.0",
        "pending": "0.0",
        "periodEarned": "4.0",
    }
    assert account["data"]["updatedAt"]
    entries = [c for c in changes if c["entity"] == "CREDIT_ENTRY"]
    ledger = await lrn.ledger()
    assert sorted(c["id"] for c in entries) == sorted(e["id"] for e in ledger)
    row = next(c["data"] for c in entries if c["id"] == ledger[0]["id"])
    assert row["amount"] == "2.0" and row["rule"]["ruleKey"] == "A2" and row["source"]["course"]["code"] == "A-002"
    assert row["source"]["recordId"] == ledger[0]["source"]["recordId"] and row["kind"] == "EARN"

    body = await hr.gql(PULL, pull_input(device_id=hr.device))
    hr_changes = body["data"]["syncPull"]["changes"]
    assert not [c for c in hr_changes if c["entity"] in ("CREDIT_ACCOUNT", "CREDIT_ENTRY") and c["op"] == "UPSERT"]


def _verify(database_url: str, tenant: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "XUEFEN_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "backend.cli", "credits", "verify", "--tenant", tenant],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_credits_verify_finds_a_corrupted_account(client, company, database_url):
    hr, _, lrn = await people(client, company)
    a1 = await module_of(company, "A-001")
    await create_rule(hr, ruleKey="A1", moduleId=gid("CourseModule", a1), credits="1")
    await lrn.lessons(a1.id, YESTERDAY)
    clean = _verify(database_url, company.code)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    connection = connections.get("default")
    employee_id = company.employees["LRN"].id
    await connection.execute_query(f"UPDATE credit_account SET balance = balance + 7 WHERE employee_id = {employee_id}")
    try:
        broken = _verify(database_url, company.code)
        assert broken.returncode == 1, broken.stdout + broken.stderr
        assert "LRN" in broken.stdout and "cached 17/10/0" in broken.stdout and "entries 10/10/0" in broken.stdout
    finally:
        await connection.execute_query(
            f"UPDATE credit_account SET balance = balance - 7 WHERE employee_id = {employee_id}"
        )
    assert _verify(database_url, company.code).returncode == 0
    assert _verify(database_url, "no-such-company").returncode == 2


async def test_hr_never_corrects_their_own_credits(client, company):
    hr, _, _ = await people(client, company)
    body = await hr.gql(
        ADJUST,
        {"input": {"employeeId": gid("Employee", company.employees["HR1"]), "amount": "100", "reason": "自己加分"}},
    )
    assert errors_of(body) == [("FORBIDDEN", None)]
