"""Credit rules through the real app: HR creates, edits (new versions) and retires rules; records
pushed by phones (and their online twins) are credited by every condition (course, module,
scenario, minimum quiz score, every N confirmed practices), within caps per local day / week /
period (Asia/Shanghai), once for first-time-only rules (across versions too), after HR approval
where required, never twice for a retried push; editing changes future credits only; two
concurrent edits cannot both win; only HR admins may manage rules."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from backend.ids import to_global_id
from backend.models import (
    AuditEntry,
    CourseModule,
    ModuleKind,
    PracticeLog,
    Question,
    QuestionKind,
    Quiz,
    QuizQuestion,
)
from tests.factories import make_company
from tests.graphql_client import gql, token_for
from tests.sync_helpers import lesson, push_input

SHANGHAI = ZoneInfo("Asia/Shanghai")
RULE_FIELDS = """id ruleKey version name activity courseId moduleId scenario minScore everyN credits
                 capPerDay capPerWeek capPerPeriod firstTimeOnly requiresApproval status"""
CREATE = f"""
mutation C($input: CreateCreditRuleInput!) {{
  createCreditRule(input: $input) {{ rule {{ {RULE_FIELDS} }} errors {{ code field message }} }}
}}
"""
UPDATE = f"""
mutation U($input: UpdateCreditRuleInput!) {{
  updateCreditRule(input: $input) {{ rule {{ {RULE_FIELDS} }} errors {{ code field message }} }}
}}
"""
RETIRE = f"""
mutation R($id: ID!, $reason: String!) {{
  retireCreditRule(ruleId: $id, reason: $reason) {{ rule {{ {RULE_FIELDS} }} errors {{ code field }} }}
}}
"""
RULES = f"query L($h: Boolean) {{ creditRules(includeHistory: $h) {{ {RULE_FIELDS} }} }}"
RULE_PAGE = """
query P($h: Boolean, $first: Int, $after: String) {
  creditRuleConnection(includeHistory: $h, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage hasPreviousPage endCursor } edges { cursor node { id ruleKey version status } }
  }
}
"""
ME = """
query { me { credits { balance lifetimeEarned pending periodEarned periodStart periodEnd target progressPercent } } }
"""
LEDGER = """
query G($first: Int, $after: String, $employeeId: ID) {
  creditLedger(first: $first, after: $after, employeeId: $employeeId) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id kind amount occurredAt postedAt reason balanceAfter
      rule { ruleKey version name activity }
      source { activity eventKey recordId score quantity course { code } module { id position } }
      reverses { id } redemptionId actor { employeeNo } } }
  }
}
"""
PENDING = """
query P($first: Int, $after: String) {
  pendingCredits(first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { node { id amount status employee { employeeNo } rule { ruleKey version } source { eventKey } } }
  }
}
"""
DECIDE = """
mutation D($input: DecidePendingCreditInput!) {
  decidePendingCredit(input: $input) {
    claim { id status reason } credits { balance lifetimeEarned pending } errors { code field }
  }
}
"""
REVIEW = """
mutation R($input: ReviewPracticeInput!) { reviewPractice(input: $input) { result { status code } errors { code } } }
"""
PUSH_WITH_CREDITS = """
mutation Push($input: SyncPushInput!) {
  syncPush(input: $input) {
    appliedSeq results { id status code originalStatus } errors { code }
    credits { balance lifetimeEarned pending }
  }
}
"""


# --- helpers shared by the credit test files ------------------------------------------------


class Phone:
    """One signed-in device of one employee, with its own record sequence."""

    def __init__(self, client, company, employee_no: str, token: str, device: str) -> None:
        self.client, self.company, self.employee_no, self.token, self.device = (
            client,
            company,
            employee_no,
            token,
            device,
        )
        self.seq = 0

    @classmethod
    async def sign_in(cls, client, company, employee_no: str) -> Phone:
        device = f"phone-{employee_no}-{uuid.uuid4().hex[:6]}"
        return cls(client, company, employee_no, await token_for(client, company.code, employee_no, device), device)

    async def gql(self, query: str, variables: dict | None = None) -> dict:
        return await gql(self.client, query, variables, self.token)

    async def push(self, records: list[dict]) -> dict:
        body = await self.gql(PUSH_WITH_CREDITS, push_input(records, device_id=self.device))
        assert "errors" not in body, body
        payload = body["data"]["syncPush"]
        assert payload["errors"] == [], payload
        return payload

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    async def lessons(self, module_id: int, *moments: datetime) -> dict:
        """Push one LESSON_COMPLETED record per moment (all accepted)."""
        records = [lesson(module_id, self.next_seq(), occurred_at=moment) for moment in moments]
        payload = await self.push(records)
        assert [r["status"] for r in payload["results"]] == ["ACCEPTED"] * len(records), payload
        return payload

    async def credits(self) -> dict:
        body = await self.gql(ME)
        assert "errors" not in body, body
        return body["data"]["me"]["credits"]

    async def balance(self) -> Decimal:
        return Decimal((await self.credits())["balance"])

    async def ledger(self, first: int = 100, **variables) -> list[dict]:
        body = await self.gql(LEDGER, {"first": first, **variables})
        assert "errors" not in body, body
        return [edge["node"] for edge in body["data"]["creditLedger"]["edges"]]


async def module_of(company, course: str, position: int = 1) -> CourseModule:
    return await CourseModule.get(course=company.courses[course], position=position)


def local(day, hour: int, minute: int = 0) -> datetime:
    """A Shanghai wall-clock moment, in UTC."""
    return datetime.combine(day, time(hour, minute), SHANGHAI).astimezone(UTC)


def last_monday():
    """The Monday of last week (Shanghai): its days and the Sunday before are all in the past."""
    today = datetime.now(SHANGHAI).date()
    return today - timedelta(days=today.weekday() + 7)


async def create_rule(phone: Phone, **fields) -> dict:
    data = {
        "name": "学习奖励",
        "activity": "LESSON_COMPLETED",
        "credits": "1",
        "firstTimeOnly": False,
        "requiresApproval": False,
        **fields,
    }
    body = await phone.gql(CREATE, {"input": data})
    assert "errors" not in body, body
    payload = body["data"]["createCreditRule"]
    assert payload["errors"] == [], payload
    return payload["rule"]


async def rule_errors(phone: Phone, mutation: str, data: dict) -> list[dict]:
    body = await phone.gql(mutation, {"input": data})
    assert "errors" not in body, body
    return next(iter(body["data"].values()))["errors"]


async def update_rule(phone: Phone, rule: dict, **changes) -> dict:
    keep = {
        k: rule[k]
        for k in (
            "name",
            "activity",
            "courseId",
            "moduleId",
            "scenario",
            "minScore",
            "everyN",
            "credits",
            "capPerDay",
            "capPerWeek",
            "capPerPeriod",
            "firstTimeOnly",
            "requiresApproval",
        )
    }
    body = await phone.gql(UPDATE, {"input": {**keep, **changes, "ruleId": rule["id"]}})
    assert "errors" not in body, body
    return body["data"]["updateCreditRule"]


def gid(type_name: str, row) -> str:
    return to_global_id(type_name, row if isinstance(row, int) else row.id)


async def people(client, company) -> tuple[Phone, Phone, Phone]:
    return (
        await Phone.sign_in(client, company, "HR1"),
        await Phone.sign_in(client, company, "MGR"),
        await Phone.sign_in(client, company, "LRN"),
    )


async def make_quiz(company, course: str, questions: int = 5) -> CourseModule:
    """A QUIZ module (pass mark 60) of single-choice questions, each answered right with "A"."""
    tenant, row = company.tenant, company.courses[course]
    module = await CourseModule.create(
        tenant=tenant, course=row, position=3, title="测验", kind=ModuleKind.QUIZ, credits=Decimal("1.0")
    )
    quiz = await Quiz.create(tenant=tenant, module=module, title="小测验", pass_mark=60)
    options = [{"key": "A", "text": "对"}, {"key": "B", "text": "错"}]
    for position in range(1, questions + 1):
        question = await Question.create(
            tenant=tenant,
            course=row,
            kind=QuestionKind.SINGLE_CHOICE,
            prompt=f"第{position}题",
            options=options,
            answer_key=["A"],
            points=Decimal(1),
        )
        await QuizQuestion.create(tenant=tenant, quiz=quiz, question=question, position=position)
    module.questions = list(await QuizQuestion.filter(quiz=quiz).order_by("position"))
    return module


def quiz_record(module: CourseModule, right: int, seq: int, at: datetime) -> dict:
    answers = {str(q.question_id): ("A" if n < right else "B") for n, q in enumerate(module.questions)}
    return {
        "id": str(uuid.uuid4()),
        "seq": seq,
        "kind": "QUIZ_SUBMISSION",
        "occurredAt": at.isoformat(),
        "payload": {"quizId": gid("CourseModule", module), "answers": answers},
    }


async def confirmed_practice(learner: Phone, mentor: Phone, module: CourseModule, quantity: int, at: datetime) -> None:
    record = {
        "id": str(uuid.uuid4()),
        "seq": learner.next_seq(),
        "kind": "PRACTICE_LOG",
        "occurredAt": at.isoformat(),
        "payload": {"moduleId": gid("CourseModule", module), "quantity": quantity, "note": "角色扮演"},
    }
    payload = await learner.push([record])
    assert payload["results"][0]["status"] == "ACCEPTED", payload
    log = await PracticeLog.get(record_id=record["id"])
    body = await mentor.gql(REVIEW, {"input": {"practiceId": gid("PracticeLog", log), "decision": "CONFIRMED"}})
    assert body["data"]["reviewPractice"]["result"]["status"] == "ACCEPTED", body


# --- tests --------------------------------------------------------------------------------------


@pytest.fixture
async def company(password_hash):
    return await make_company(password_hash)


YESTERDAY = datetime.now(UTC) - timedelta(days=1)


async def test_hr_manages_rules_and_everything_else_is_forbidden_or_invalid(client, company, password_hash):
    hr, mgr, lrn = await people(client, company)
    other = await make_company(password_hash)
    s1, a2 = company.courses["S-001"], company.courses["A-002"]
    a2_lesson = await module_of(company, "A-002")
    rule = await create_rule(
        hr, ruleKey="LESSON-S1", name="销售基础学习", courseId=gid("Course", s1), credits="1.5", capPerDay="3"
    )
    assert (rule["ruleKey"], rule["version"], rule["status"], rule["credits"], rule["capPerDay"]) == (
        "LESSON-S1",
        1,
        "ACTIVE",
        "1.5",
        "3.0",
    )
    generated = await create_rule(hr, name="无键规则")
    assert generated["ruleKey"].startswith("R-")

    base = {
        "name": "x",
        "activity": "LESSON_COMPLETED",
        "credits": "1",
        "firstTimeOnly": False,
        "requiresApproval": False,
    }
    for changes, field in (
        ({"credits": "0"}, "credits"),
        ({"credits": "-1"}, "credits"),
        ({"credits": "1.25"}, "credits"),
        ({"name": "  "}, "name"),
        ({"minScore": 80}, "minScore"),
        ({"activity": "QUIZ_PASSED", "minScore": 101}, "minScore"),
        ({"everyN": 5}, "everyN"),
        ({"activity": "PRACTICE_CONFIRMED", "everyN": 0}, "everyN"),
        ({"capPerDay": "0"}, "capPerDay"),
        ({"capPerWeek": "0.05"}, "capPerWeek"),
        ({"courseId": gid("Course", other.courses["S-001"])}, "courseId"),
        ({"courseId": gid("Course", s1), "moduleId": gid("CourseModule", a2_lesson)}, "moduleId"),
        ({"ruleKey": "LESSON-S1"}, "ruleKey"),
        ({"ruleKey": "含 空格"}, "ruleKey"),
    ):
        errors = await rule_errors(hr, CREATE, {**base, **changes})
        assert [(e["code"], e["field"]) for e in errors] == [("VALIDATION", field)], (changes, errors)
    ok = await rule_errors(
        hr,
        CREATE,
        {
            **base,
            "courseId": gid("Course", a2),
            "moduleId": gid("CourseModule", a2_lesson),
            "activity": "QUIZ_PASSED",
            "minScore": 0,
        },
    )
    assert ok == []

    for phone in (mgr, lrn):
        assert [e["code"] for e in await rule_errors(phone, CREATE, base)] == ["FORBIDDEN"]
        assert [e["code"] for e in (await update_rule(phone, rule, credits="9"))["errors"]] == ["FORBIDDEN"]
        body = await phone.gql(RETIRE, {"id": rule["id"], "reason": "停用"})
        assert [e["code"] for e in body["data"]["retireCreditRule"]["errors"]] == ["FORBIDDEN"]
        body = await phone.gql(RULES)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # another tenant's HR admin cannot reach this tenant's rules
    other_hr = await Phone.sign_in(client, other, "HR1")
    assert [e["code"] for e in (await update_rule(other_hr, rule, credits="9"))["errors"]] == ["NOT_FOUND"]
    body = await other_hr.gql(RETIRE, {"id": rule["id"], "reason": "停用"})
    assert [e["code"] for e in body["data"]["retireCreditRule"]["errors"]] == ["NOT_FOUND"]
    assert {r["ruleKey"] for r in (await other_hr.gql(RULES))["data"]["creditRules"]} == set()

    audited = await AuditEntry.filter(tenant=company.tenant, action="credit_rule.create").count()
    assert audited == 3


async def test_course_module_and_scenario_conditions(client, company):
    hr, _, lrn = await people(client, company)
    await create_rule(hr, ruleKey="S1", courseId=gid("Course", company.courses["S-001"]), credits="1")
    await create_rule(
        hr, ruleKey="A2-LESSON", moduleId=gid("CourseModule", await module_of(company, "A-002")), credits="2"
    )
    await create_rule(hr, ruleKey="SAFETY", scenario="安全", credits="0.5")
    await lrn.lessons((await module_of(company, "S-001")).id, YESTERDAY)
    assert await lrn.balance() == Decimal("1.0")
    await lrn.lessons((await module_of(company, "A-002")).id, YESTERDAY)
    assert await lrn.balance() == Decimal("3.5")  # module rule 2 + scenario 0.5
    await lrn.lessons((await module_of(company, "A-001")).id, YESTERDAY)
    await lrn.lessons((await module_of(company, "S-003")).id, YESTERDAY)  # matches nothing
    assert await lrn.balance() == Decimal("4.0")
    keys = sorted(entry["rule"]["ruleKey"] for entry in await lrn.ledger())
    assert keys == ["A2-LESSON", "S1", "SAFETY", "SAFETY"]


async def test_min_score_on_a_quiz(client, company):
    hr, _, lrn = await people(client, company)
    low, high = await make_quiz(company, "A-002"), await make_quiz(company, "S-001")
    await create_rule(hr, ruleKey="QUIZ-90", activity="QUIZ_PASSED", minScore=90, credits="3")
    payload = await lrn.push([quiz_record(low, 4, lrn.next_seq(), YESTERDAY)])  # 80 %: passed, below 90
    assert payload["results"][0]["status"] == "ACCEPTED" and payload["credits"]["balance"] == "0.0"
    payload = await lrn.push([quiz_record(high, 5, lrn.next_seq(), YESTERDAY)])  # 100 %
    assert payload["credits"]["balance"] == "3.0"
    (entry,) = await lrn.ledger()
    assert entry["source"]["score"] == 100 and entry["source"]["course"]["code"] == "S-001"


async def test_every_n_confirmed_practices(client, company):
    hr, mgr, lrn = await people(client, company)
    practice = await module_of(company, "A-002", 2)
    await create_rule(
        hr,
        ruleKey="PRACTICE-5",
        activity="PRACTICE_CONFIRMED",
        everyN=5,
        credits="2",
        moduleId=gid("CourseModule", practice),
    )
    await confirmed_practice(lrn, mgr, practice, 3, YESTERDAY)
    assert await lrn.balance() == 0
    await confirmed_practice(lrn, mgr, practice, 4, YESTERDAY)  # 7: passed 5
    assert await lrn.balance() == Decimal("2.0")
    await confirmed_practice(lrn, mgr, practice, 5, YESTERDAY)  # 12: passed 10
    assert await lrn.balance() == Decimal("4.0")
    assert [e["source"]["quantity"] for e in await lrn.ledger()] == [5, 4]


async def test_caps_per_local_day_week_and_period(client, company):
    hr, _, lrn = await people(client, company)
    monday = last_monday()
    day_module, week_module, period_module = [await module_of(company, code) for code in ("S-001", "A-001", "S-003")]
    await create_rule(hr, ruleKey="DAY", moduleId=gid("CourseModule", day_module), credits="1", capPerDay="1.5")
    await create_rule(hr, ruleKey="WEEK", moduleId=gid("CourseModule", week_module), credits="1", capPerWeek="2")
    await create_rule(
        hr, ruleKey="PERIOD", moduleId=gid("CourseModule", period_module), credits="1", capPerPeriod="1.5"
    )
    # 10:00 and 23:00 Shanghai are the same local day; 00:30 the next day is the same UTC day as 23:00
    await lrn.lessons(day_module.id, local(monday, 10), local(monday, 23))
    assert await lrn.balance() == Decimal("1.5")
    await lrn.lessons(day_module.id, local(monday + timedelta(days=1), 0, 30))
    assert await lrn.balance() == Decimal("2.5")
    # Monday, Tuesday, Wednesday of one week: 2 at most; the Sunday before is another week
    await lrn.lessons(
        week_module.id, local(monday, 9), local(monday + timedelta(days=1), 9), local(monday + timedelta(days=2), 9)
    )
    assert await lrn.balance() == Decimal("4.5")
    await lrn.lessons(week_module.id, local(monday - timedelta(days=1), 9))
    assert await lrn.balance() == Decimal("5.5")
    await lrn.lessons(period_module.id, YESTERDAY, YESTERDAY, YESTERDAY)
    assert await lrn.balance() == Decimal("7.0")
    amounts = {}
    for entry in await lrn.ledger():
        amounts.setdefault(entry["rule"]["ruleKey"], []).append(entry["amount"])
    assert sorted(amounts["DAY"]) == ["0.5", "1.0", "1.0"] and amounts["PERIOD"] == ["0.5", "1.0"]


async def test_first_time_only_across_events_and_versions(client, company):
    hr, _, lrn = await people(client, company)
    a2 = await module_of(company, "A-002")
    rule = await create_rule(hr, ruleKey="FIRST", moduleId=gid("CourseModule", a2), credits="5", firstTimeOnly=True)
    await lrn.lessons(a2.id, YESTERDAY)
    await lrn.lessons(a2.id, YESTERDAY)
    assert await lrn.balance() == Decimal("5.0")
    edited = await update_rule(hr, rule, credits="6")
    assert edited["errors"] == [] and edited["rule"]["version"] == 2
    await lrn.lessons(a2.id, YESTERDAY)
    assert await lrn.balance() == Decimal("5.0")
    other = await Phone.sign_in(client, company, "OTH")  # someone else's first time still counts
    await other.lessons(a2.id, YESTERDAY)
    assert await other.balance() == Decimal("6.0")


async def test_approval_flow(client, company):
    hr, mgr, lrn = await people(client, company)
    s1 = await module_of(company, "S-001")
    await create_rule(hr, ruleKey="APPROVE", moduleId=gid("CourseModule", s1), credits="2", requiresApproval=True)
    payload = await lrn.lessons(s1.id, YESTERDAY, YESTERDAY)
    assert payload["credits"] == {"balance": "0.0", "lifetimeEarned": "0.0", "pending": "4.0"}
    own = (await lrn.gql(PENDING))["data"]["pendingCredits"]["edges"]
    assert [e["node"]["employee"]["employeeNo"] for e in own] == ["LRN", "LRN"]
    assert (await mgr.gql(PENDING))["data"]["pendingCredits"]["edges"] == []
    page = (await hr.gql(PENDING, {"first": 1}))["data"]["pendingCredits"]
    first = page["edges"][0]["node"]
    assert first["rule"] == {"ruleKey": "APPROVE", "version": 1} and page["pageInfo"]["hasNextPage"]
    second = (await hr.gql(PENDING, {"first": 1, "after": page["pageInfo"]["endCursor"]}))["data"]["pendingCredits"][
        "edges"
    ][0]["node"]

    for phone in (mgr, lrn):
        body = await phone.gql(DECIDE, {"input": {"claimId": first["id"], "approve": True}})
        assert [e["code"] for e in body["data"]["decidePendingCredit"]["errors"]] == ["FORBIDDEN"]
    body = await hr.gql(DECIDE, {"input": {"claimId": first["id"], "approve": True}})
    decided = body["data"]["decidePendingCredit"]
    assert decided["claim"]["status"] == "APPROVED"
    assert decided["credits"] == {"balance": "2.0", "lifetimeEarned": "2.0", "pending": "2.0"}
    body = await hr.gql(DECIDE, {"input": {"claimId": second["id"], "approve": False}})
    assert [(e["code"], e["field"]) for e in body["data"]["decidePendingCredit"]["errors"]] == [
        ("VALIDATION", "reason")
    ]
    body = await hr.gql(DECIDE, {"input": {"claimId": second["id"], "approve": False, "reason": "重复学习"}})
    assert body["data"]["decidePendingCredit"]["credits"] == {
        "balance": "2.0",
        "lifetimeEarned": "2.0",
        "pending": "0.0",
    }
    for claim in (first, second):
        body = await hr.gql(DECIDE, {"input": {"claimId": claim["id"], "approve": True}})
        assert [e["code"] for e in body["data"]["decidePendingCredit"]["errors"]] == ["ALREADY_DECIDED"]
    assert (await lrn.credits())["balance"] == "2.0"
    (entry,) = await lrn.ledger()
    assert entry["kind"] == "EARN" and entry["rule"]["ruleKey"] == "APPROVE" and entry["actor"]["employeeNo"] == "HR1"
    assert await AuditEntry.filter(tenant=company.tenant, action__in=["credits.approve", "credits.reject"]).count() == 2


async def test_editing_changes_future_credits_only_and_one_concurrent_edit_wins(client, company):
    hr, _, lrn = await people(client, company)
    a1 = await module_of(company, "A-001")
    v1 = await create_rule(hr, ruleKey="EDIT", moduleId=gid("CourseModule", a1), credits="1")
    await lrn.lessons(a1.id, YESTERDAY)
    v2 = (await update_rule(hr, v1, credits="3", name="安全学习（新）"))["rule"]
    await lrn.lessons(a1.id, YESTERDAY)
    entries = await lrn.ledger()
    assert [(e["rule"]["version"], e["amount"]) for e in entries] == [(2, "3.0"), (1, "1.0")]
    assert entries[1]["rule"]["name"] == "学习奖励"  # history keeps the version that granted it
    history = (await hr.gql(RULES, {"h": True}))["data"]["creditRules"]
    assert [(r["version"], r["status"]) for r in history if r["ruleKey"] == "EDIT"] == [
        (2, "ACTIVE"),
        (1, "SUPERSEDED"),
    ]
    current = (await hr.gql(RULES))["data"]["creditRules"]
    assert [(r["version"], r["credits"]) for r in current if r["ruleKey"] == "EDIT"] == [(2, "3.0")]
    stale = await update_rule(hr, v1, credits="5")
    assert [e["code"] for e in stale["errors"]] == ["VERSION_CONFLICT"]

    results = await asyncio.gather(update_rule(hr, v2, credits="4"), update_rule(hr, v2, credits="5"))
    winners = [r for r in results if not r["errors"]]
    assert len(winners) == 1 and winners[0]["rule"]["version"] == 3
    assert [e["code"] for r in results if r["errors"] for e in r["errors"]] == ["VERSION_CONFLICT"]
    history = (await hr.gql(RULES, {"h": True}))["data"]["creditRules"]
    assert [(r["version"], r["status"]) for r in history if r["ruleKey"] == "EDIT"] == [
        (3, "ACTIVE"),
        (2, "SUPERSEDED"),
        (1, "SUPERSEDED"),
    ]
    await lrn.lessons(a1.id, YESTERDAY)
    assert await lrn.balance() == Decimal("4.0") + Decimal(winners[0]["rule"]["credits"])
    assert await AuditEntry.filter(tenant=company.tenant, action="credit_rule.update").count() == 2


async def test_rule_pages_list_what_the_deprecated_list_does(client, company):
    hr, _, lrn = await people(client, company)
    first = await create_rule(hr, ruleKey="B-RULE", credits="1")
    await update_rule(hr, first, credits="2")
    await create_rule(hr, ruleKey="A-RULE", credits="1")
    await create_rule(hr, ruleKey="C-RULE", credits="1")
    pages = {}
    for history in (False, True):
        listed = [(r["ruleKey"], r["version"]) for r in (await hr.gql(RULES, {"h": history}))["data"]["creditRules"]]
        paged, after = [], None
        while True:
            body = await hr.gql(RULE_PAGE, {"h": history, "first": 1, "after": after})
            assert "errors" not in body, body
            page = body["data"]["creditRuleConnection"]
            assert page["totalCount"] == len(listed) and page["pageInfo"]["hasPreviousPage"] == (after is not None)
            paged += [(e["node"]["ruleKey"], e["node"]["version"]) for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert paged == listed  # by rule key, newest version first
        pages[history] = paged
    assert ("B-RULE", 1) in pages[True] and ("B-RULE", 1) not in pages[False]
    bad = await hr.gql(RULE_PAGE, {"after": "xf1-not-a-cursor"})
    assert bad["errors"][0]["extensions"]["code"] == "VALIDATION"
    assert (await lrn.gql(RULE_PAGE))["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_retiring_stops_credits(client, company):
    hr, _, lrn = await people(client, company)
    a1 = await module_of(company, "A-001")
    rule = await create_rule(hr, ruleKey="RETIRE", moduleId=gid("CourseModule", a1), credits="1")
    await lrn.lessons(a1.id, YESTERDAY)
    body = await hr.gql(RETIRE, {"id": rule["id"], "reason": ""})
    assert [(e["code"], e["field"]) for e in body["data"]["retireCreditRule"]["errors"]] == [("VALIDATION", "reason")]
    body = await hr.gql(RETIRE, {"id": rule["id"], "reason": "活动结束"})
    assert body["data"]["retireCreditRule"]["rule"]["status"] == "RETIRED"
    body = await hr.gql(RETIRE, {"id": rule["id"], "reason": "活动结束"})
    assert [e["code"] for e in body["data"]["retireCreditRule"]["errors"]] == ["VERSION_CONFLICT"]
    await lrn.lessons(a1.id, YESTERDAY)
    assert await lrn.balance() == Decimal("1.0")
    listed = (await hr.gql(RULES))["data"]["creditRules"]
    assert [(r["ruleKey"], r["status"]) for r in listed] == [("RETIRE", "RETIRED")]
    assert await AuditEntry.filter(tenant=company.tenant, action="credit_rule.retire").count() == 1


async def test_a_retried_push_credits_nothing_more(client, company):
    hr, _, lrn = await people(client, company)
    a1 = await module_of(company, "A-001")
    await create_rule(hr, ruleKey="RETRY", moduleId=gid("CourseModule", a1), credits="1")
    records = [lesson(a1.id, lrn.next_seq(), occurred_at=YESTERDAY) for _ in range(3)]
    first = await lrn.push(records)
    again = await lrn.push(records)
    assert [r["status"] for r in again["results"]] == ["DUPLICATE"] * 3
    assert first["credits"] == again["credits"] == {"balance": "3.0", "lifetimeEarned": "3.0", "pending": "0.0"}
    assert len(await lrn.ledger()) == 3


async def test_backdated_records_cannot_each_claim_a_days_cap(client, company):
    """A fact arriving late is credited, but caps judge it no earlier than 30 days before it
    arrived: forty lessons dated every other day over 80 days get fifteen days' caps plus one."""
    hr, _, lrn = await people(client, company)
    module = await module_of(company, "A-001")
    await create_rule(hr, ruleKey="DAILY", moduleId=gid("CourseModule", module), credits="1", capPerDay="1")
    now = datetime.now(UTC)
    moments = [now - timedelta(days=2 * n + 1) for n in range(40)]  # 1, 3, …, 79 days ago
    await lrn.lessons(module.id, *moments)
    assert await lrn.balance() == Decimal("16")  # 15 days within the 30, the other 25 share one day
