"""Four eyes on credit rules: versions granting more than the program's threshold wait for a second
HR admin (never their author), who approves (ACTIVE, the old version SUPERSEDED) or rejects them,
one approver winning when two act at once; and no rule version pays its own author until another
HR admin approved it, a recalculation adding what was withheld. Raising the threshold itself waits
for a second HR admin too; lowering it applies at once."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from backend.models import AuditEntry, CreditProgram, CreditRule, Employee, EmployeeRole, Role
from tests.conftest import count_queries
from tests.factories import make_company
from tests.test_credit_rules import (
    YESTERDAY,
    Phone,
    create_rule,
    gid,
    module_of,
    update_rule,
)

RULE_VIEW = """id ruleKey version credits status approvedAt author { employeeNo } approvedBy { employeeNo }
               rejection { by { employeeNo } reason at }"""
DECIDE = f"""
mutation D($input: DecideCreditRuleInput!) {{
  decideCreditRule(input: $input) {{ rule {{ {RULE_VIEW} }} errors {{ code field }} }}
}}
"""
APPROVE, REJECT = True, False
RETIRE = """
mutation R($id: ID!, $reason: String!) { retireCreditRule(ruleId: $id, reason: $reason) { rule { status } errors { code } } }
"""
LIST = f"query L($h: Boolean) {{ creditRules(includeHistory: $h) {{ {RULE_VIEW} }} }}"
PROGRAM = """
mutation U($input: UpdateCreditProgramInput!) {
  updateCreditProgram(input: $input) { program { ruleApprovalAbove periodMonths } errors { code field } }
}
"""
RECALCULATE = """
mutation C($input: RecalculateCreditsInput!) { recalculateCredits(input: $input) { added errors { code field } } }
"""


@pytest.fixture
async def company(password_hash):
    """The test company with two more HR admins (HR2, HR3) besides HR1."""
    company = await make_company(password_hash)
    for no, name in (("HR2", "何人事"), ("HR3", "黄人事")):
        employee = await Employee.create(
            tenant=company.tenant,
            employee_no=no,
            name=name,
            password_hash=password_hash,
            org_unit=company.org_units["root"],
            site=company.sites["hq"],
        )
        for role in (Role.EMPLOYEE, Role.HR_ADMIN):
            await EmployeeRole.create(tenant=company.tenant, employee=employee, role=role)
        company.employees[no] = employee
    return company


async def sign_in(client, company, *numbers):
    return [await Phone.sign_in(client, company, no) for no in numbers]


async def decide(phone: Phone, approve: bool, rule: dict, reason: str | None = None) -> dict:
    body = await phone.gql(DECIDE, {"input": {"ruleId": rule["id"], "approve": approve, "reason": reason}})
    assert "errors" not in body, body
    return body["data"]["decideCreditRule"]


def codes(payload: dict) -> list[str]:
    return [e["code"] for e in payload["errors"]]


async def listed(hr: Phone, history: bool = False) -> dict[tuple[str, int], dict]:
    body = await hr.gql(LIST, {"h": history})
    assert "errors" not in body, body
    return {(r["ruleKey"], r["version"]): r for r in body["data"]["creditRules"]}


async def test_rules_above_the_threshold_wait_for_approval_and_the_threshold_is_hr_data(client, company):
    hr1, hr2, lrn = await sign_in(client, company, "HR1", "HR2", "LRN")
    a2 = gid("CourseModule", await module_of(company, "A-002"))
    at = await create_rule(hr1, ruleKey="AT", moduleId=a2, credits="20")  # the default threshold: 20 credits
    above = await create_rule(hr1, ruleKey="ABOVE", moduleId=a2, credits="20.1")
    assert (at["status"], above["status"]) == ("ACTIVE", "PENDING_APPROVAL")
    rules = await listed(hr2)
    assert rules[("ABOVE", 1)]["author"] == {"employeeNo": "HR1"}
    assert (rules[("ABOVE", 1)]["approvedBy"], rules[("ABOVE", 1)]["approvedAt"]) == (None, None)
    await lrn.lessons((await module_of(company, "A-002")).id, YESTERDAY)
    assert await lrn.balance() == Decimal("20.0")  # a waiting version pays nobody

    # HR sets the threshold; versions made from now on are judged by it.
    body = await hr2.gql(PROGRAM, {"input": {"ruleApprovalAbove": "5"}})
    assert body["data"]["updateCreditProgram"] == {
        "program": {"ruleApprovalAbove": "5.0", "periodMonths": 12},
        "errors": [],
    }
    for bad in ("-1", "0.05"):
        body = await hr2.gql(PROGRAM, {"input": {"ruleApprovalAbove": bad}})
        assert [(e["code"], e["field"]) for e in body["data"]["updateCreditProgram"]["errors"]] == [
            ("VALIDATION", "ruleApprovalAbove")
        ]
    body = await lrn.gql(PROGRAM, {"input": {"ruleApprovalAbove": "1000"}})
    assert codes(body["data"]["updateCreditProgram"]) == ["FORBIDDEN"]
    entry = await AuditEntry.filter(tenant=company.tenant, action="credits.program.update").first()
    assert (entry.details["before"]["ruleApprovalAbove"], entry.details["after"]["ruleApprovalAbove"]) == (
        "20.0",
        "5.0",
    )
    assert (await create_rule(hr1, ruleKey="FIVE", moduleId=a2, credits="5"))["status"] == "ACTIVE"
    assert (await create_rule(hr1, ruleKey="MORE", moduleId=a2, credits="5.1"))["status"] == "PENDING_APPROVAL"

    # An edit above it waits too; the edited version keeps paying until the new one is approved.
    edited = await update_rule(hr1, at, credits="30")
    assert edited["errors"] == [] and (edited["rule"]["version"], edited["rule"]["status"]) == (2, "PENDING_APPROVAL")
    rules = await listed(hr1)
    assert (rules[("AT", 1)]["status"], rules[("AT", 2)]["status"]) == ("ACTIVE", "PENDING_APPROVAL")
    await lrn.lessons((await module_of(company, "A-002")).id, YESTERDAY)
    assert await lrn.balance() == Decimal("45.0")  # AT v1 20 + FIVE 5
    assert codes(await update_rule(hr2, at, credits="3")) == ["VERSION_CONFLICT"]  # one version waits at a time
    actions = await AuditEntry.filter(
        tenant=company.tenant, action__in=["credit_rule.create", "credit_rule.update"]
    ).values_list("details", flat=True)
    assert sorted(d["status"] for d in actions) == [
        "ACTIVE",
        "ACTIVE",
        "PENDING_APPROVAL",
        "PENDING_APPROVAL",
        "PENDING_APPROVAL",
    ]


async def test_a_second_hr_admin_approves_never_the_author_and_credits_flow(client, company):
    hr1, hr2, mgr, lrn = await sign_in(client, company, "HR1", "HR2", "MGR", "LRN")
    a2 = await module_of(company, "A-002")
    rule = await create_rule(hr1, ruleKey="BIG", moduleId=gid("CourseModule", a2), credits="25")
    for phone, code in ((hr1, "FORBIDDEN"), (mgr, "FORBIDDEN"), (lrn, "FORBIDDEN")):
        assert codes(await decide(phone, APPROVE, rule)) == [code]
    approved = await decide(hr2, APPROVE, rule, reason="预算已核实")
    assert approved["errors"] == []
    view = approved["rule"]
    assert (view["status"], view["approvedBy"], view["author"]) == (
        "ACTIVE",
        {"employeeNo": "HR2"},
        {"employeeNo": "HR1"},
    )
    assert view["approvedAt"] is not None
    assert codes(await decide(hr2, APPROVE, rule)) == ["ALREADY_DECIDED"]
    await lrn.lessons(a2.id, YESTERDAY)
    assert await lrn.balance() == Decimal("25.0")

    # An approved edit replaces the version it edits.
    edited = (await update_rule(hr1, rule, credits="30"))["rule"]
    assert edited["status"] == "PENDING_APPROVAL"
    assert (await decide(hr2, APPROVE, edited))["rule"]["status"] == "ACTIVE"
    history = await listed(hr1, history=True)
    assert (history[("BIG", 1)]["status"], history[("BIG", 2)]["status"]) == ("SUPERSEDED", "ACTIVE")
    await lrn.lessons(a2.id, YESTERDAY)
    assert await lrn.balance() == Decimal("55.0")
    audited = await AuditEntry.filter(tenant=company.tenant, action="credit_rule.approve").order_by("id")
    assert [(a.actor_id, a.details["activated"]) for a in audited] == [(company.employees["HR2"].id, True)] * 2
    v1 = await CreditRule.get(tenant=company.tenant, rule_key="BIG", version=1)
    assert (audited[0].details["supersedes"], audited[1].details["supersedes"]) == ([], [v1.id])
    assert (audited[0].details["reason"], audited[1].details["reason"]) == ("预算已核实", "")


async def test_a_rejected_version_is_never_evaluated_and_its_author_may_withdraw_one(client, company):
    hr1, hr2, lrn = await sign_in(client, company, "HR1", "HR2", "LRN")
    a2 = await module_of(company, "A-002")
    small = await create_rule(hr1, ruleKey="R", moduleId=gid("CourseModule", a2), credits="1")
    waiting = (await update_rule(hr1, small, credits="50"))["rule"]
    for blank in (" ", None):
        assert [(e["code"], e["field"]) for e in (await decide(hr2, REJECT, waiting, reason=blank))["errors"]] == [
            ("VALIDATION", "reason")
        ]
    rejected = await decide(hr2, REJECT, waiting, reason="金额过高")
    assert rejected["errors"] == [] and rejected["rule"]["status"] == "REJECTED"
    assert rejected["rule"]["rejection"]["by"] == {"employeeNo": "HR2"}
    assert rejected["rule"]["rejection"]["reason"] == "金额过高"
    for approve, reason in ((APPROVE, None), (REJECT, "再次")):
        assert codes(await decide(hr2, approve, waiting, reason)) == ["ALREADY_DECIDED"]
    await lrn.lessons(a2.id, YESTERDAY)
    assert await lrn.balance() == Decimal("1.0")  # the ACTIVE version pays, the rejected one never
    rules = await listed(hr1)
    assert (rules[("R", 1)]["status"], rules[("R", 2)]["status"]) == ("ACTIVE", "REJECTED")
    entry = await AuditEntry.get(tenant=company.tenant, action="credit_rule.reject")
    assert entry.details["reason"] == "金额过高" and entry.actor_id == company.employees["HR2"].id

    # The rule can be edited again (the rejected version keeps its number); its author withdraws.
    again = (await update_rule(hr1, small, credits="40"))["rule"]
    assert (again["version"], again["status"]) == (3, "PENDING_APPROVAL")
    withdrawn = await decide(hr1, REJECT, again, reason="填错了")
    assert withdrawn["errors"] == [] and withdrawn["rule"]["rejection"]["by"] == {"employeeNo": "HR1"}

    # Retiring a rule rejects the version waiting to replace it (it would bring the rule back).
    waiting = (await update_rule(hr1, small, credits="45"))["rule"]
    body = await hr2.gql(RETIRE, {"id": small["id"], "reason": "活动结束"})
    assert body["data"]["retireCreditRule"] == {"rule": {"status": "RETIRED"}, "errors": []}
    rules = await listed(hr1)
    assert rules[("R", waiting["version"])]["status"] == "REJECTED"
    assert rules[("R", waiting["version"])]["rejection"]["reason"] == "活动结束"
    assert codes(await decide(hr2, APPROVE, waiting)) == ["ALREADY_DECIDED"]


async def test_two_approvers_at_once_one_wins(client, company):
    hr1, hr2, hr3 = await sign_in(client, company, "HR1", "HR2", "HR3")
    a2 = await module_of(company, "A-002")
    for round_ in range(3):
        rule = await create_rule(hr1, ruleKey=f"RACE-{round_}", moduleId=gid("CourseModule", a2), credits="100")
        results = await asyncio.gather(decide(hr2, APPROVE, rule), decide(hr3, APPROVE, rule))
        outcomes = sorted(codes(r)[0] if r["errors"] else "OK" for r in results)
        assert outcomes == ["ALREADY_DECIDED", "OK"], results
        winner = next(r["rule"] for r in results if not r["errors"])
        row = await CreditRule.get(tenant=company.tenant, rule_key=f"RACE-{round_}")
        assert (
            row.status == "ACTIVE"
            and row.approved_by_id
            == {"HR2": company.employees["HR2"].id, "HR3": company.employees["HR3"].id}[
                winner["approvedBy"]["employeeNo"]
            ]
        )
        # An approval racing a rejection: one of them decides.
        other = await create_rule(hr1, ruleKey=f"RACE-R-{round_}", moduleId=gid("CourseModule", a2), credits="100")
        results = await asyncio.gather(decide(hr2, APPROVE, other), decide(hr3, REJECT, other, reason="不同意"))
        assert sorted(codes(r)[0] if r["errors"] else "OK" for r in results) == ["ALREADY_DECIDED", "OK"]
    assert (
        await AuditEntry.filter(tenant=company.tenant, action="credit_rule.approve").count()
        + await AuditEntry.filter(tenant=company.tenant, action="credit_rule.reject").count()
        == 6
    )


async def test_an_author_earns_nothing_from_their_own_unapproved_rule_until_approved_and_recalculated(client, company):
    hr1, hr2, lrn = await sign_in(client, company, "HR1", "HR2", "LRN")
    a2 = await module_of(company, "A-002")
    rule = await create_rule(hr1, ruleKey="SELF", moduleId=gid("CourseModule", a2), credits="2")
    assert rule["status"] == "ACTIVE"  # under the threshold: active at once, but not for its author
    await hr1.lessons(a2.id, YESTERDAY)
    await lrn.lessons(a2.id, YESTERDAY)
    await hr2.lessons(a2.id, YESTERDAY)
    assert (await hr1.balance(), await lrn.balance(), await hr2.balance()) == (0, Decimal("2.0"), Decimal("2.0"))

    approved = await decide(hr2, APPROVE, rule)  # co-signing an ACTIVE version
    assert approved["errors"] == [] and approved["rule"]["status"] == "ACTIVE"
    assert approved["rule"]["approvedBy"] == {"employeeNo": "HR2"}
    await hr1.lessons(a2.id, datetime.now(UTC) - timedelta(hours=1))
    assert await hr1.balance() == Decimal("2.0")  # from now on it pays its author too

    window = {"since": (YESTERDAY - timedelta(days=1)).isoformat(), "until": datetime.now(UTC).isoformat()}
    body = await hr2.gql(RECALCULATE, {"input": {**window, "ruleKey": "SELF"}})
    assert body["data"]["recalculateCredits"] == {"added": "2.0", "errors": []}  # what was withheld
    assert (await hr1.balance(), await lrn.balance(), await hr2.balance()) == (
        Decimal("4.0"),
        Decimal("2.0"),
        Decimal("2.0"),
    )

    # A version another HR admin edits is theirs: it does not pay them until approved.
    edited = (await update_rule(hr2, rule, credits="3"))["rule"]
    assert edited["status"] == "ACTIVE"
    now = datetime.now(UTC) - timedelta(minutes=5)
    for phone in (hr1, hr2):
        await phone.lessons(a2.id, now)
    assert (await hr1.balance(), await hr2.balance()) == (Decimal("7.0"), Decimal("2.0"))


# --- four eyes on the threshold itself ------------------------------------------------------------

THRESHOLD = """
mutation U($input: UpdateCreditProgramInput!) {
  updateCreditProgram(input: $input) {
    program { ruleApprovalAbove proposedRuleApprovalAbove proposedBy { employeeNo } periodMonths }
    errors { code field }
  }
}
"""
PROGRAM_NOW = "{ creditProgram { ruleApprovalAbove proposedRuleApprovalAbove proposedBy { employeeNo } } }"


async def set_threshold(phone: Phone, value: str, **more) -> dict:
    body = await phone.gql(THRESHOLD, {"input": {"ruleApprovalAbove": value, **more}})
    assert "errors" not in body, body
    payload = body["data"]["updateCreditProgram"]
    assert payload["errors"] == [], payload
    return payload["program"]


def state(program: dict) -> tuple:
    """(threshold in force, proposed value, proposer's number)."""
    proposer = program["proposedBy"]["employeeNo"] if program["proposedBy"] else None
    return program["ruleApprovalAbove"], program["proposedRuleApprovalAbove"], proposer


async def program_now(phone: Phone) -> tuple:
    body = await phone.gql(PROGRAM_NOW)
    assert "errors" not in body, body
    return state(body["data"]["creditProgram"])


async def threshold_audits(company) -> list[tuple]:
    entries = await AuditEntry.filter(tenant=company.tenant, action="credits.program.update").order_by("id")
    numbers = {e.id: no for no, e in company.employees.items()}
    return [
        (
            numbers[a.actor_id],
            a.details["ruleApprovalAboveOutcome"],
            a.details["before"]["ruleApprovalAbove"],
            a.details["after"]["ruleApprovalAbove"],
            a.details["after"]["proposedRuleApprovalAbove"],
        )
        for a in entries
    ]


async def test_lowering_the_threshold_applies_at_once_and_raising_it_needs_a_second_hr_admin(client, company):
    hr1, hr2, hr3 = await sign_in(client, company, "HR1", "HR2", "HR3")
    a2 = gid("CourseModule", await module_of(company, "A-002"))
    assert state(await set_threshold(hr1, "10")) == ("10.0", None, None)  # stricter: at once, alone

    # One HR admin raising it only proposes; the threshold in force stays, so a generous rule still waits.
    raised = await set_threshold(hr1, "1000", periodMonths=3)
    assert state(raised) == ("10.0", "1000.0", "HR1") and raised["periodMonths"] == 3  # the rest applies
    assert (await create_rule(hr1, ruleKey="GENEROUS", moduleId=a2, credits="500"))["status"] == "PENDING_APPROVAL"
    assert state(await set_threshold(hr1, "1000")) == ("10.0", "1000.0", "HR1")  # the proposer again: pending
    assert await program_now(hr2) == ("10.0", "1000.0", "HR1")

    # Another admin proposing a different higher value replaces the proposal with theirs.
    assert state(await set_threshold(hr2, "800")) == ("10.0", "800.0", "HR2")
    assert state(await set_threshold(hr2, "800")) == ("10.0", "800.0", "HR2")
    assert (await create_rule(hr2, ruleKey="STILL", moduleId=a2, credits="500"))["status"] == "PENDING_APPROVAL"

    # A second admin setting the same value applies it.
    assert state(await set_threshold(hr1, "800")) == ("800.0", None, None)
    assert await program_now(hr3) == ("800.0", None, None)
    assert (await create_rule(hr1, ruleKey="NOW", moduleId=a2, credits="500"))["status"] == "ACTIVE"

    # Lowering clears a pending proposal.
    assert state(await set_threshold(hr3, "900")) == ("800.0", "900.0", "HR3")
    assert state(await set_threshold(hr2, "50")) == ("50.0", None, None)
    assert state(await set_threshold(hr3, "900")) == ("50.0", "900.0", "HR3")
    assert state(await set_threshold(hr1, "50")) == ("50.0", None, None)  # the same value: kept, proposal gone
    row = await CreditProgram.get(tenant=company.tenant)
    assert (row.rule_approval_above, row.proposed_rule_approval_above, row.proposed_by_id) == (500, None, None)

    assert await threshold_audits(company) == [
        ("HR1", "APPLIED", "20.0", "10.0", None),
        ("HR1", "PROPOSED", "10.0", "10.0", "1000.0"),
        ("HR1", "PROPOSED", "10.0", "10.0", "1000.0"),
        ("HR2", "PROPOSED", "10.0", "10.0", "800.0"),
        ("HR2", "PROPOSED", "10.0", "10.0", "800.0"),
        ("HR1", "APPLIED", "10.0", "800.0", None),
        ("HR3", "PROPOSED", "800.0", "800.0", "900.0"),
        ("HR2", "APPLIED", "800.0", "50.0", None),
        ("HR3", "PROPOSED", "50.0", "50.0", "900.0"),
        ("HR1", "APPLIED", "50.0", "50.0", None),
    ]
    confirmed = (await AuditEntry.filter(tenant=company.tenant, action="credits.program.update").order_by("id"))[5]
    assert confirmed.details["before"]["proposedBy"] == company.employees["HR2"].id
    assert confirmed.details["after"]["proposedBy"] is None
    assert confirmed.details["ruleApprovalAboveRequested"] == "800.0"


async def test_hr_admins_changing_the_threshold_at_once_keep_four_eyes(client, company):
    hr1, hr2, hr3 = await sign_in(client, company, "HR1", "HR2", "HR3")
    threshold = 20  # credits
    for _ in range(3):
        # Two confirmations of one proposal at once: applied, and consistent.
        current, threshold = f"{threshold}.0", threshold + 10
        value = f"{threshold}.0"
        assert state(await set_threshold(hr1, value)) == (current, value, "HR1")
        results = await asyncio.gather(set_threshold(hr2, value), set_threshold(hr3, value))
        assert [state(r) for r in results] == [(value, None, None)] * 2
        assert await program_now(hr1) == (value, None, None)

        # Two admins raising to the same value at once, nothing proposed yet: one proposes, the other
        # confirms — never two proposals left waiting, never a raise without a second admin.
        threshold += 10
        value = f"{threshold}.0"
        results = await asyncio.gather(set_threshold(hr2, value), set_threshold(hr3, value))
        assert {state(r)[1:] for r in results} in ({(None, None), (value, "HR2")}, {(None, None), (value, "HR3")}), (
            results
        )
        assert await program_now(hr1) == (value, None, None)

        # A confirmation racing a lowering: the lowering is never lost.
        lower, raised = f"{threshold - 5}.0", f"{threshold + 100}.0"
        await set_threshold(hr1, raised)
        await asyncio.gather(set_threshold(hr2, raised), set_threshold(hr3, lower))
        assert await program_now(hr1) in ((lower, None, None), (lower, raised, "HR2"))
        threshold -= 5
        assert state(await set_threshold(hr1, lower)) == (lower, None, None)  # clears what may be left
    row = await CreditProgram.get(tenant=company.tenant)
    assert (row.rule_approval_above, row.proposed_rule_approval_above, row.proposed_by_id) == (
        threshold * 10,
        None,
        None,
    )
    # Every raise that applied was proposed right before by another HR admin.
    audits = await threshold_audits(company)
    raises = [
        (before, after)
        for before, after in itertools.pairwise(audits)
        if after[1] == "APPLIED" and Decimal(after[3]) > Decimal(after[2])
    ]
    assert 3 * 2 <= len(raises) <= 3 * 3, audits  # per round 2, and 1 more when the confirmation won the race
    for before, after in raises:
        assert before[1] == "PROPOSED" and before[4] == after[3] and before[0] != after[0], (before, after)


async def test_a_page_of_rules_costs_the_same_however_many_were_rejected(client, company):
    """Each rejected version's rejection (who, when, why) comes from one batched read of the audit
    log, not a query per rule."""
    hr1, hr2 = await sign_in(client, company, "HR1", "HR2")
    a2 = gid("CourseModule", await module_of(company, "A-002"))

    async def reject_one(key: str) -> None:
        small = await create_rule(hr1, ruleKey=key, moduleId=a2, credits="1")
        waiting = (await update_rule(hr1, small, credits="50"))["rule"]
        assert (await decide(hr2, REJECT, waiting, reason=f"{key} 过高"))["errors"] == []

    async def statements() -> int:
        with count_queries() as sent:
            rules = await listed(hr1)
        rejected = [r for r in rules.values() if r["status"] == "REJECTED"]
        assert rejected and all(r["rejection"]["by"] == {"employeeNo": "HR2"} for r in rejected)
        assert {r["rejection"]["reason"] for r in rejected} == {f"{r['ruleKey']} 过高" for r in rejected}
        return len(sent)

    await reject_one("R1")
    one = await statements()
    for key in ("R2", "R3", "R4"):
        await reject_one(key)
    assert await statements() == one
