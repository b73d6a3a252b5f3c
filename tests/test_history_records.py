"""Historical training records and opening balances (backend/services/imports/history_records.py,
history_kind.py, ledger.post_opening_balances): history goes through the one ingest path and
derives progress, completions, skills and credits as the live path does, dated at its real time;
a re-import changes nothing; bad rows are refused alone; only the import device may write
HISTORY_RESULT and no phone can pose as it; one import is one transaction; an opening balance is
posted once, explained, and the ledger verifies."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from tortoise.transactions import in_transaction

from backend.errors import DomainError, ErrorCode
from backend.ids import to_global_id
from backend.models import (
    ActivityRecord,
    CourseCompletion,
    CourseModule,
    CourseStatus,
    CreditAccount,
    CreditEntry,
    CreditEntryKind,
    CreditEvent,
    CreditRule,
    Device,
    EmployeeSkill,
    ModuleKind,
    ModuleProgress,
    Quiz,
    SkillEvidence,
)
from backend.services.credits import ledger
from backend.services.credits.credit_accounts import verify_accounts
from backend.services.feed import ChangeSet
from backend.services.imports import history_job
from backend.services.imports.history_records import (
    HistoryRow,
    OpeningRow,
    RowStatus,
    ingest_history,
    post_opening_balances,
)
from backend.services.people.devices import IMPORT_DEVICE_UID
from tests.factories import Company, make_company
from tests.graphql_client import gql, login, token_for
from tests.sync_helpers import PULL, PUSH, lesson, pull_input, push_input

T1 = datetime(2025, 3, 3, 9, 30, tzinfo=UTC)
T2 = datetime(2025, 6, 17, 14, 0, tzinfo=UTC)
T3 = datetime(2025, 9, 1, 8, 0, tzinfo=UTC)


async def run(company: Company, *rows: HistoryRow) -> list:
    async with in_transaction() as connection:
        return await ingest_history(connection, company.tenant.id, rows)


async def module(company: Company, course: str, kind: ModuleKind) -> CourseModule:
    return await CourseModule.get(course=company.courses[course], kind=kind)


def row(company: Company, who: str, target: CourseModule, activity: str, when: datetime, **extra) -> HistoryRow:
    return HistoryRow(company.employees[who].id, target.id, activity, when, source="Excel 2023", **extra)


async def scored_modules(company: Company) -> tuple[CourseModule, CourseModule]:
    """A QUIZ module (quiz passed at 80) and an ASSESSMENT module (passScore 70) on A-001 (OJT,
    teaching SAFE to level 60)."""
    course = company.courses["A-001"]
    quiz_module = await CourseModule.create(
        tenant=company.tenant, course=course, position=3, title="测验", kind=ModuleKind.QUIZ
    )
    await Quiz.create(tenant=company.tenant, module=quiz_module, title="安全测验", pass_mark=80)
    assessment = await CourseModule.create(
        tenant=company.tenant, course=course, position=4, title="考核", kind=ModuleKind.ASSESSMENT, pass_score=70
    )
    return quiz_module, assessment


async def rule(company: Company, key: str, activity: str, credits: int, **extra) -> None:
    await CreditRule.create(tenant=company.tenant, rule_key=key, name=key, activity=activity, credits=credits, **extra)


async def progress_of(company: Company, who: str, target: CourseModule) -> int:
    found = await ModuleProgress.get_or_none(employee=company.employees[who], module=target)
    return found.completed_count if found else 0


async def events_of(company: Company, who: str) -> list[tuple[str, int | None, int, datetime]]:
    return sorted(
        (e.activity.value, e.score, e.quantity, e.occurred_at)
        for e in await CreditEvent.filter(employee=company.employees[who])
    )


async def earned(company: Company, who: str) -> list[tuple[int, datetime]]:
    return sorted(
        (e.amount, e.occurred_at)
        for e in await CreditEntry.filter(employee=company.employees[who], kind=CreditEntryKind.EARN)
    )


async def test_a_lesson_derives_what_the_same_lesson_synced_live_derives(client, password_hash):
    company = await make_company(password_hash)
    await rule(company, "LESSON", "LESSON_COMPLETED", 10)
    await rule(company, "MODULE", "MODULE_COMPLETED", 5)
    target = await module(company, "A-002", ModuleKind.LESSON)
    phone = await token_for(client, company.code, "OTH", device_id="oth-phone")
    pushed = await gql(client, PUSH, push_input([lesson(target.id, 1)], device_id="oth-phone"), token=phone)
    assert pushed["data"]["syncPush"]["results"][0]["status"] == "ACCEPTED"

    (outcome,) = await run(company, row(company, "LRN", target, "LESSON", T1))

    assert outcome.status == RowStatus.CREATED and outcome.error is None
    assert await progress_of(company, "LRN", target) == await progress_of(company, "OTH", target) == 1
    live = [(a, s, q) for a, s, q, _ in await events_of(company, "OTH")]
    assert [(a, s, q) for a, s, q, _ in await events_of(company, "LRN")] == live
    assert live == [("LESSON_COMPLETED", None, 1), ("MODULE_COMPLETED", None, 1)]
    assert [amount for amount, _ in await earned(company, "LRN")] == [a for a, _ in await earned(company, "OTH")]
    # Dated at its real time, not when it was imported (nor 30 days before, as a late phone's would be).
    assert await earned(company, "LRN") == [(5, T1), (10, T1)]
    stored = await ActivityRecord.get(id=outcome.record_id)
    assert (stored.kind, stored.occurred_at, stored.status.value) == ("HISTORY_RESULT", T1, "ACCEPTED")
    assert (await Device.get(id=stored.device_id)).device_uid == IMPORT_DEVICE_UID
    assert await verify_accounts(company.tenant.id) == []


async def test_counts_practice_attendance_and_a_course_completed_when_it_happened(password_hash):
    company = await make_company(password_hash)
    await rule(company, "PRACTICE", "PRACTICE_CONFIRMED", 10, every_n=5)
    await rule(company, "ATTEND", "ATTENDANCE", 20, min_score=100)
    await rule(company, "COURSE", "COURSE_COMPLETED", 30)
    lesson_module = await module(company, "A-002", ModuleKind.LESSON)
    practice = await module(company, "A-002", ModuleKind.PRACTICE)  # required 10 times
    ojt_lesson = await module(company, "A-001", ModuleKind.LESSON)  # an OJT course

    outcomes = await run(
        company,
        row(company, "OTH", practice, "PRACTICE", T3, count=6),
        row(company, "OTH", lesson_module, "LESSON", T1, count=2),
        row(company, "OTH", practice, "PRACTICE", T2, count=4),
        row(company, "OTH", ojt_lesson, "ATTENDANCE", T2, count=2),
    )

    assert [o.status for o in outcomes] == [RowStatus.CREATED] * 4
    assert await progress_of(company, "OTH", lesson_module) == 2
    assert await progress_of(company, "OTH", practice) == 10
    completion = await CourseCompletion.get(employee=company.employees["OTH"], course=company.courses["A-002"])
    assert completion.completed_at == T3  # when the tenth practice was done
    events = await events_of(company, "OTH")
    assert ("COURSE_COMPLETED", None, 1, T3) in events
    assert [e for e in events if e[0] == "ATTENDANCE"] == [("ATTENDANCE", 100, 1, T2)] * 2
    assert [e for e in events if e[0] == "PRACTICE_CONFIRMED"] == [
        ("PRACTICE_CONFIRMED", None, 4, T2),
        ("PRACTICE_CONFIRMED", None, 6, T3),
    ]
    # Every 5 confirmed: 4 then 6 (10 in all) crosses two multiples with the second, in time order.
    assert await earned(company, "OTH") == [(20, T2), (20, T2), (20, T3), (30, T3)]
    assert await verify_accounts(company.tenant.id) == []


async def test_quiz_and_evaluation_scores_pass_as_live_and_raise_skills(password_hash):
    company = await make_company(password_hash)
    await rule(company, "QUIZ", "QUIZ_PASSED", 20)
    await rule(company, "EVAL", "EVALUATION_SCORED", 10, min_score=60)
    quiz_module, assessment = await scored_modules(company)
    practice = await module(company, "A-001", ModuleKind.PRACTICE)

    outcomes = await run(
        company,
        row(company, "LRN", quiz_module, "QUIZ", T1, score=70),  # below the quiz's 80: skill evidence only
        row(company, "LRN", quiz_module, "QUIZ", T2, score=90),  # the first pass: counts the module
        row(company, "LRN", quiz_module, "QUIZ", T3, score=100),  # a second pass: the same fact
        row(company, "LRN", assessment, "EVALUATION", T2, score=65),  # below passScore 70
        row(company, "LRN", assessment, "EVALUATION", T3, score=75),
        row(company, "LRN", practice, "EVALUATION", T3, score=95),  # scored practice: no progress
    )

    assert [o.status for o in outcomes] == [RowStatus.CREATED] * 6
    records = {r.id: r for r in await ActivityRecord.filter(employee=company.employees["LRN"])}
    assert [records[o.record_id].outcome for o in outcomes] == [
        {"result": {"passed": passed}} for passed in (False, True, True, False, True, True)
    ]
    assert await progress_of(company, "LRN", quiz_module) == 1
    assert await progress_of(company, "LRN", assessment) == 1
    assert await progress_of(company, "LRN", practice) == 0
    events = await events_of(company, "LRN")
    assert [e for e in events if e[0] == "QUIZ_PASSED"] == [("QUIZ_PASSED", 90, 1, T2)]
    # One creditable evaluation per module (as live): the first one noted, in time order.
    assert sorted(e for e in events if e[0] == "EVALUATION_SCORED") == [
        ("EVALUATION_SCORED", 65, 1, T2),
        ("EVALUATION_SCORED", 95, 1, T3),
    ]
    assert await earned(company, "LRN") == [(10, T2), (10, T3), (20, T2)]
    evidence = await SkillEvidence.filter(employee=company.employees["LRN"]).order_by("occurred_at", "id")
    assert len(evidence) == 6 and {e.source_kind for e in evidence} == {"QUIZ_ATTEMPT", "MENTOR_EVALUATION"}
    assert max(e.level_after for e in evidence) == 60  # 100% of the course's target 60
    level = await EmployeeSkill.get(employee=company.employees["LRN"], skill=company.skills["SAFE"])
    assert level.level == 60


async def test_importing_again_changes_nothing_and_other_values_are_refused(password_hash):
    company = await make_company(password_hash)
    await rule(company, "LESSON", "LESSON_COMPLETED", 10)
    quiz_module, _ = await scored_modules(company)
    target = await module(company, "A-002", ModuleKind.LESSON)
    rows = [
        row(company, "LRN", target, "LESSON", T1, count=3),
        row(company, "LRN", quiz_module, "QUIZ", T2, score=85),
    ]
    first = await run(company, *rows)
    before = (await events_of(company, "LRN"), await earned(company, "LRN"), await progress_of(company, "LRN", target))

    again = await run(company, *rows, rows[0])

    assert [o.status for o in first] == [RowStatus.CREATED] * 2
    assert [o.status for o in again] == [RowStatus.UNCHANGED] * 3
    assert [o.record_id for o in again[:2]] == [o.record_id for o in first]
    after = (await events_of(company, "LRN"), await earned(company, "LRN"), await progress_of(company, "LRN", target))
    assert after == before and before[2] == 3
    (changed,) = await run(company, row(company, "LRN", quiz_module, "QUIZ", T2, score=40))
    assert changed.status == RowStatus.REJECTED and changed.error.code == ErrorCode.ID_REUSED
    # The same moment from another source is another fact.
    (other,) = await run(company, replace(row(company, "LRN", target, "LESSON", T1, count=3), source="Excel 2024"))
    assert other.status == RowStatus.CREATED and await progress_of(company, "LRN", target) == 6


async def test_bad_rows_are_refused_alone_and_leave_nothing(password_hash):
    company = await make_company(password_hash)
    other = await make_company(password_hash)
    quiz_module, _ = await scored_modules(company)
    lesson_module = await module(company, "A-002", ModuleKind.LESSON)
    practice = await module(company, "A-002", ModuleKind.PRACTICE)
    future = datetime.now(UTC) + timedelta(days=2)
    bad = {
        "future": (row(company, "LRN", lesson_module, "LESSON", future), "VALIDATION", "occurredAt"),
        "wrong kind": (row(company, "LRN", practice, "LESSON", T1), "VALIDATION", "activity"),
        "online attendance": (row(company, "LRN", lesson_module, "ATTENDANCE", T1), "VALIDATION", "activity"),
        "no score": (row(company, "LRN", quiz_module, "QUIZ", T1), "VALIDATION", "score"),
        "score unused": (row(company, "LRN", lesson_module, "LESSON", T1, score=90), "VALIDATION", "score"),
        "score range": (row(company, "LRN", quiz_module, "QUIZ", T1, score=101), "VALIDATION", "score"),
        "count": (row(company, "LRN", lesson_module, "LESSON", T1, count=1001), "VALIDATION", "count"),
        "quiz count": (row(company, "LRN", quiz_module, "QUIZ", T1, score=90, count=2), "VALIDATION", "count"),
        "activity": (row(company, "LRN", lesson_module, "WATCHED", T1), "VALIDATION", "activity"),
        "source": (
            HistoryRow(company.employees["LRN"].id, lesson_module.id, "LESSON", T1, source="x" * 65),
            None,
            "source",
        ),
        "unstorable source": (
            HistoryRow(company.employees["LRN"].id, lesson_module.id, "LESSON", T1, source="旧\x00系统"),
            None,
            "source",
        ),
        "other tenant's module": (
            row(company, "LRN", await module(other, "A-002", ModuleKind.LESSON), "LESSON", T1),
            "NOT_FOUND",
            "moduleId",
        ),
        "other tenant's employee": (
            HistoryRow(other.employees["LRN"].id, lesson_module.id, "LESSON", T1),
            "NOT_FOUND",
            "employeeId",
        ),
        "no time zone": (row(company, "LRN", lesson_module, "LESSON", T1.replace(tzinfo=None)), None, "occurredAt"),
    }
    good = row(company, "LRN", lesson_module, "LESSON", T1)

    # Each from its own source (the same fact with other values would be ID_REUSED).
    outcomes = await run(
        company, *(replace(case, source=case.source + name) for name, (case, _, _) in bad.items()), good
    )

    for (name, (_, code, field)), outcome in zip(bad.items(), outcomes):
        assert outcome.status == RowStatus.REJECTED, name
        assert outcome.error.code == ErrorCode(code or "VALIDATION") and outcome.error.field == field, name
        assert outcome.error.message("zh-CN") and outcome.error.message("en"), name
    assert outcomes[-1].status == RowStatus.CREATED
    # Refused rows leave no record behind: fixed, the same row imports.
    assert await ActivityRecord.filter(tenant=company.tenant).count() == 1
    assert await progress_of(company, "LRN", lesson_module) == 1
    (retried,) = await run(company, row(company, "LRN", practice, "PRACTICE", T1))
    assert retried.status == RowStatus.CREATED


async def test_retired_courses_take_history(password_hash):
    company = await make_company(password_hash)
    course = company.courses["A-002"]
    course.status = CourseStatus.RETIRED
    await course.save(update_fields=["status"])
    (outcome,) = await run(
        company, row(company, "LRN", await module(company, "A-002", ModuleKind.LESSON), "LESSON", T1)
    )
    assert outcome.status == RowStatus.CREATED


async def test_one_import_is_one_transaction(password_hash, monkeypatch):
    company = await make_company(password_hash)
    await rule(company, "LESSON", "LESSON_COMPLETED", 10)
    quiz_module, _ = await scored_modules(company)
    target = await module(company, "A-002", ModuleKind.LESSON)
    rows = [row(company, "LRN", target, "LESSON", T1), row(company, "OTH", quiz_module, "QUIZ", T2, score=90)]

    async def written() -> tuple[int, ...]:
        tenant = company.tenant
        return (
            await ActivityRecord.filter(tenant=tenant).count(),
            await ModuleProgress.filter(tenant=tenant, module_id__in=[target.id, quiz_module.id]).count(),
            await CreditEvent.filter(tenant=tenant).count(),
            await CreditEntry.filter(tenant=tenant).count(),
            await Device.filter(tenant=tenant, device_uid=IMPORT_DEVICE_UID).count(),
        )

    with pytest.raises(RuntimeError):  # the job fails after the history was applied
        async with in_transaction() as connection:
            await ingest_history(connection, company.tenant.id, rows)
            raise RuntimeError("a later step of the job")
    assert await written() == (0, 0, 0, 0, 0)

    def broken(context, job, evidence):  # OTH's batch (a quiz) fails after LRN's was written
        if evidence:
            raise RuntimeError("disk full")

    monkeypatch.setattr(history_job, "note_evidence", broken)
    with pytest.raises(RuntimeError):
        await run(company, *rows)
    assert await written() == (0, 0, 0, 0, 0)
    monkeypatch.undo()
    assert [o.status for o in await run(company, *rows)] == [RowStatus.CREATED] * 2
    assert await written() == (2, 2, 4, 1, 2)


async def test_phones_cannot_write_history_nor_pose_as_the_importer(client, password_hash, test_settings):
    company = await make_company(password_hash)
    target = await module(company, "A-002", ModuleKind.LESSON)
    await run(company, row(company, "LRN", target, "LESSON", T1))
    phone = await token_for(client, company.code, "LRN", device_id="lrn-phone")
    payload = {"moduleId": to_global_id("CourseModule", target.id), "activity": "LESSON", "count": 1}
    records = [
        {"id": str(i), "seq": seq, "kind": "HISTORY_RESULT", "occurredAt": T1.isoformat(), "payload": p}
        for seq, (i, p) in enumerate(
            (
                ("0b2f0a42-5d6c-4e0e-9b7e-7f6d8f1e2a01", payload),
                ("0b2f0a42-5d6c-4e0e-9b7e-7f6d8f1e2a02", {"activity": "nonsense"}),  # shapes are not told either
            ),
            1,
        )
    ]
    pushed = await gql(client, PUSH, push_input(records, device_id="lrn-phone"), token=phone)
    assert [(r["status"], r["code"]) for r in pushed["data"]["syncPush"]["results"]] == [("REJECTED", "FORBIDDEN")] * 2
    assert await progress_of(company, "LRN", target) == 1

    for device_id in (IMPORT_DEVICE_UID, " Xuefen-Import ", "xuefen-anything"):
        refused = await login(client, company.code, "LRN", device_id=device_id)
        assert refused["tokens"] is None
        assert [(e["code"], e["field"]) for e in refused["errors"]] == [("VALIDATION", "deviceId")]
    body = await gql(client, "{ myDevices { tag current } }", token=phone)
    assert [d["current"] for d in body["data"]["myDevices"]] == [True]  # the phone only
    hr = await token_for(client, company.code, "HR1", device_id="hr-desk")
    query = "query D($id: ID!) { employeeDevices(employeeId: $id) { tag } }"
    listed = await gql(client, query, {"id": to_global_id("Employee", company.employees["LRN"].id)}, token=hr)
    assert len(listed["data"]["employeeDevices"]) == 1


async def opening(company: Company, *rows: OpeningRow) -> list:
    async with in_transaction() as connection:
        return await post_opening_balances(connection, company.tenant.id, rows)


async def test_an_opening_balance_is_posted_once_explained_and_verified(client, password_hash):
    company = await make_company(password_hash)
    lrn, oth = company.employees["LRN"], company.employees["OTH"]
    as_of = date(2025, 12, 31)

    first = await opening(
        company,
        OpeningRow(lrn.id, Decimal("120.5"), as_of, "旧学分系统"),
        OpeningRow(oth.id, "30", as_of, "旧学分系统"),
        OpeningRow(lrn.id, "120.5", as_of, "旧学分系统"),  # the same again in one file: nothing more
    )
    again = await opening(
        company,
        OpeningRow(lrn.id, "120.50", as_of, "旧学分系统"),
        OpeningRow(oth.id, "31", as_of, "旧学分系统"),
    )

    assert [o.status for o in first] == [RowStatus.CREATED, RowStatus.CREATED, RowStatus.UNCHANGED]
    assert [o.status for o in again] == [RowStatus.UNCHANGED, RowStatus.REJECTED]
    refused = again[1].error
    assert (refused.code, refused.field, refused.params["reason_key"]) == (
        ErrorCode.VALIDATION,
        "amount",
        "reason.opening_balance_posted",
    )
    assert "30.0" in refused.message("en") and "adjustCredits" in refused.message("en")
    account = await CreditAccount.get(employee=lrn)
    assert (account.balance, account.lifetime_earned) == (1205, 0)  # spendable, never earned here
    entry = await CreditEntry.get(employee=lrn)
    assert (entry.id, entry.kind, entry.entry_key) == (
        first[0].entry_id,
        CreditEntryKind.OPENING_BALANCE,
        f"opening:{lrn.id}",
    )
    assert await verify_accounts(company.tenant.id) == []

    token = await token_for(client, company.code, "LRN", device_id="lrn-phone")
    ledger = await gql(
        client, "{ creditLedger { edges { node { kind amount reason occurredAt balanceAfter } } } }", token=token
    )
    (node,) = [edge["node"] for edge in ledger["data"]["creditLedger"]["edges"]]
    assert node["kind"] == "OPENING_BALANCE" and node["amount"] == "120.5" and node["balanceAfter"] == "120.5"
    assert node["reason"] == "旧学分系统 · 2025-12-31" and node["occurredAt"].startswith("2025-12-30T16:00:00")
    pulled = await gql(client, PULL, pull_input(device_id="lrn-phone"), token=token)
    entries = [c["data"] for c in pulled["data"]["syncPull"]["changes"] if c["entity"] == "CREDIT_ENTRY"]
    assert [e["kind"] for e in entries] == ["OPENING_BALANCE"]


async def test_opening_balances_refuse_bad_rows_alone(password_hash):
    company = await make_company(password_hash)
    other = await make_company(password_hash)
    lrn = company.employees["LRN"]
    today = datetime.now(UTC).date()
    cases = [
        (OpeningRow(lrn.id, "0", today, "旧系统"), "amount"),
        (OpeningRow(lrn.id, "-5", today, "旧系统"), "amount"),
        (OpeningRow(lrn.id, "1.55", today, "旧系统"), "amount"),
        (OpeningRow(lrn.id, "1e30", today, "旧系统"), "amount"),
        (OpeningRow(lrn.id, "1000000.1", today, "旧系统"), "amount"),
        (OpeningRow(lrn.id, "１０", today, "旧系统"), "amount"),
        (OpeningRow(lrn.id, "10", today + timedelta(days=2), "旧系统"), "asOf"),
        (OpeningRow(lrn.id, "10", date(1, 1, 1), "旧系统"), "asOf"),
        (OpeningRow(lrn.id, "10", today, " "), "source"),
        (OpeningRow(lrn.id, "10", today, "旧\x00系统"), "source"),
        (OpeningRow(lrn.id, "10", today, "x" * 65), "source"),
        (OpeningRow(other.employees["LRN"].id, "10", today, "旧系统"), "employeeId"),
    ]
    outcomes = await opening(company, *(case for case, _ in cases), OpeningRow(lrn.id, "1000000", today, "旧系统"))
    for (case, field), outcome in zip(cases, outcomes):
        assert outcome.status == RowStatus.REJECTED and outcome.error.field == field, case
        assert isinstance(outcome.error, DomainError) and outcome.error.message("zh-CN"), case
    assert outcomes[-1].status == RowStatus.CREATED
    assert (await CreditAccount.get(employee=lrn)).balance == 10_000_000
    assert await opening(company) == [] and await run(company) == []
    assert not await CreditEntry.filter(employee=other.employees["LRN"]).exists()


EXPIRE = """
mutation E($input: ExpireCreditsInput!) { expireCredits(input: $input) { accounts expired errors { code } } }
"""


async def test_an_opening_balance_lapses_like_credits_earned_on_its_as_of_day(client, password_hash):
    """LRN brought 100 credits as of 2025-06-30 and earned 50 on 2025-03-01 and 20 on 2025-09-01,
    then spent 30 (oldest first: from the March credits). A cut-off of 2025-04-01 lapses what is
    left of March (20), never the opening balance taken after it; a cut-off of 2025-08-01 then
    lapses the opening balance too; what was earned after stays."""
    company = await make_company(password_hash)
    lrn = company.employees["LRN"]
    await opening(company, OpeningRow(lrn.id, "100", date(2025, 6, 30), "旧学分系统"))
    async with in_transaction() as connection:
        changes = ChangeSet(company.tenant.id)
        for key, kind, amount, at in (
            ("march", CreditEntryKind.EARN, 500, datetime(2025, 3, 1, tzinfo=UTC)),
            ("september", CreditEntryKind.EARN, 200, datetime(2025, 9, 1, tzinfo=UTC)),
            ("spent", CreditEntryKind.ADJUSTMENT, -300, datetime(2025, 10, 1, tzinfo=UTC)),
        ):
            posting = ledger.Posting(employee_id=lrn.id, kind=kind, amount=amount, entry_key=key, occurred_at=at)
            await ledger.post(connection, changes, company.tenant.id, posting, datetime.now(UTC))
        await changes.publish(connection)
    hr = await token_for(client, company.code, "HR1")

    async def expire(before: datetime) -> dict:
        variables = {"input": {"before": before.isoformat(), "reason": "年度清零"}}
        return (await gql(client, EXPIRE, variables, token=hr))["data"]["expireCredits"]

    assert await expire(datetime(2025, 4, 1, tzinfo=UTC)) == {"accounts": 1, "expired": "20.0", "errors": []}
    assert (await CreditAccount.get(employee=lrn)).balance == 1000 + 200
    assert await expire(datetime(2025, 8, 1, tzinfo=UTC)) == {"accounts": 1, "expired": "100.0", "errors": []}
    account = await CreditAccount.get(employee=lrn)
    assert (account.balance, account.lifetime_earned) == (200, 700)  # earned stays earned
    assert await verify_accounts(company.tenant.id) == []


async def test_a_course_is_completed_when_its_last_requirement_was_met_not_at_a_later_repeat(password_hash):
    """Second reader: LRN did A-002's lesson at T1, its ten practices at T2 (the course is done then,
    as live), and the lesson once more at T3. The module and the course were completed at T1 and
    T2, not at the repeat."""
    company = await make_company(password_hash)
    await rule(company, "MODULE", "MODULE_COMPLETED", 5)
    await rule(company, "COURSE", "COURSE_COMPLETED", 30)
    lesson_module = await module(company, "A-002", ModuleKind.LESSON)
    practice = await module(company, "A-002", ModuleKind.PRACTICE)  # required 10 times

    outcomes = await run(
        company,
        row(company, "LRN", lesson_module, "LESSON", T1),
        row(company, "LRN", practice, "PRACTICE", T2, count=10),
        row(company, "LRN", lesson_module, "LESSON", T3),
    )

    assert [o.status for o in outcomes] == [RowStatus.CREATED] * 3
    completion = await CourseCompletion.get(employee=company.employees["LRN"], course=company.courses["A-002"])
    assert completion.completed_at == T2
    events = await events_of(company, "LRN")
    assert ("COURSE_COMPLETED", None, 1, T2) in events
    assert sorted(e[3] for e in events if e[0] == "MODULE_COMPLETED") == [T1, T2]
    assert await earned(company, "LRN") == [(5, T1), (5, T2), (30, T2)]


async def test_a_phone_on_a_lookalike_of_the_import_device_cannot_write_history(client, password_hash):
    """Second reader: a device id that only looks like the import device's (fullwidth letters, a
    zero-width space) is not it: HISTORY_RESULT stays FORBIDDEN."""
    company = await make_company(password_hash)
    target = await module(company, "A-002", ModuleKind.LESSON)
    payload = {"moduleId": to_global_id("CourseModule", target.id), "activity": "LESSON", "count": 1}
    for n, device_id in enumerate(("ｘｕｅｆｅｎ-import", "\u200bxuefen-import", "xuefen\u2010import")):
        phone = await token_for(client, company.code, "LRN", device_id=device_id)
        record = {
            "id": f"0b2f0a42-5d6c-4e0e-9b7e-7f6d8f1e2b0{n}",
            "seq": 1,
            "kind": "HISTORY_RESULT",
            "occurredAt": T1.isoformat(),
            "payload": payload,
        }
        pushed = await gql(client, PUSH, push_input([record], device_id=device_id), token=phone)
        assert [(r["status"], r["code"]) for r in pushed["data"]["syncPush"]["results"]] == [
            ("REJECTED", "FORBIDDEN")
        ], device_id
    assert await progress_of(company, "LRN", target) == 0


async def test_caps_first_time_rules_and_every_n_count_what_earlier_imports_granted(password_hash):
    """Second reader: a second import (another call, as a later job) is judged with what the
    first one granted, as live: the day's cap and the first-time rule are used up, "every N"
    goes on counting."""
    company = await make_company(password_hash)
    await rule(company, "LESSON", "LESSON_COMPLETED", 10, cap_per_day=15)
    await rule(company, "FIRST", "LESSON_COMPLETED", 7, first_time_only=True)
    await rule(company, "PRACTICE", "PRACTICE_CONFIRMED", 20, every_n=5)
    target = await module(company, "A-002", ModuleKind.LESSON)
    practice = await module(company, "A-002", ModuleKind.PRACTICE)

    await run(
        company, row(company, "LRN", target, "LESSON", T1), row(company, "LRN", practice, "PRACTICE", T1, count=4)
    )
    later = T1 + timedelta(hours=2)  # the same day
    outcomes = await run(
        company,
        replace(row(company, "LRN", target, "LESSON", later, count=2), source="Excel 2024"),
        row(company, "LRN", target, "LESSON", T2),
        row(company, "LRN", practice, "PRACTICE", T2, count=3),
    )

    assert [o.status for o in outcomes] == [RowStatus.CREATED] * 3
    assert await earned(company, "LRN") == [(5, later), (7, T1), (10, T1), (10, T2), (20, T2)]
    assert await verify_accounts(company.tenant.id) == []


async def test_a_phone_gets_the_balance_history_credited(client, password_hash):
    """Second reader: credits posted by an import reach the phone with the account (its balance),
    as a live credit does, not only the entries."""
    company = await make_company(password_hash)
    await rule(company, "LESSON", "LESSON_COMPLETED", 10)
    target = await module(company, "A-002", ModuleKind.LESSON)
    token = await token_for(client, company.code, "LRN", device_id="lrn-phone")
    cursor, more = None, True
    while more:
        page = (await gql(client, PULL, pull_input(cursor, device_id="lrn-phone"), token=token))["data"]["syncPull"]
        cursor, more = page["cursor"], page["hasMore"]

    await run(company, row(company, "LRN", target, "LESSON", T1))

    page = (await gql(client, PULL, pull_input(cursor, device_id="lrn-phone"), token=token))["data"]["syncPull"]
    entities = {change["entity"] for change in page["changes"]}
    assert {"CREDIT_ENTRY", "CREDIT_ACCOUNT", "MODULE_PROGRESS"} <= entities
