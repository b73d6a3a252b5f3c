"""The `history` and `opening_balances` import kinds through the job (run_job, as the CLI and the
API run it) and the CLI: GBK CSV with Chinese activity names, XLSX with Excel dates, a dry run
writes nothing, every row problem and partial runs, re-import unchanged, a changed score refused,
file order not mattering, history deriving what the live path derives, export → import unchanged,
opening balances posted once and audited."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import xlsxwriter

from backend.models import (
    ActivityRecord,
    AuditEntry,
    CourseCompletion,
    CourseModule,
    CreditAccount,
    CreditEntry,
    CreditEntryKind,
    CreditEvent,
    CreditRule,
    EmployeeSkill,
    ImportJob,
    ModuleKind,
    ModuleProgress,
    Quiz,
    SkillEvidence,
    SyncChange,
)
from backend.services.credits.credit_accounts import verify_accounts
from backend.services.imports import jobs
from backend.services.imports.exports import write_export
from backend.services.imports.files import FileFormat
from backend.services.imports.registry import KINDS
from tests.factories import Company, make_company
from tests.graphql_client import gql, token_for
from tests.sync_helpers import PUSH, lesson, push_input
from tests.test_tenant_cli import xuefen

ZH = "工号,课程编码,模块序号,活动,发生时间,成绩,次数,来源"
EN = "Employee no.,Course code,Module no,Activity,Occurred at,Score,Count,Source"
OPENING = "Employee no.,Opening balance,As of,Source"


@pytest.fixture
async def company(password_hash) -> Company:
    company = await make_company(password_hash, courses=True)
    # A-001 (OJT, teaches SAFE to 60) gets a quiz (pass mark 80) and an assessment (passScore 70).
    course = company.courses["A-001"]
    quiz = await CourseModule.create(
        tenant=company.tenant, course=course, position=3, title="测验", kind=ModuleKind.QUIZ
    )
    await Quiz.create(tenant=company.tenant, module=quiz, title="安全测验", pass_mark=80)
    await CourseModule.create(
        tenant=company.tenant, course=course, position=4, title="考核", kind=ModuleKind.ASSESSMENT, pass_score=70
    )
    return company


async def run(
    company: Company,
    tmp_path: Path,
    lines: list[str],
    *,
    kind: str = "history",
    header: str = ZH,
    encoding: str = "utf-8",
    dry_run: bool = False,
    partial: bool = False,
    name: str = "history.csv",
) -> ImportJob:
    path = tmp_path / name
    path.write_bytes(("\n".join([header, *lines]) + "\n").encode(encoding))
    return await run_file(company, path, kind=kind, dry_run=dry_run, partial=partial)


async def run_file(
    company: Company, path: Path, *, kind: str = "history", dry_run: bool = False, partial: bool = False
) -> ImportJob:
    actor = company.employees["HR1"].id
    job = await jobs.create_job(
        company.tenant.id, KINDS[kind], path, path.name, dry_run=dry_run, partial=partial, actor_id=actor
    )
    return await jobs.run_job(job, path, via="graphql", locale="en")


def counts(job: ImportJob) -> tuple[int, int, int, int]:
    return job.created_count, job.updated_count, job.unchanged_count, job.skipped_count


def found(job: ImportJob) -> list[tuple[Any, ...]]:
    return [(p["row"], p["column"], p["code"]) for p in job.problems]


async def written(company: Company) -> tuple[int, ...]:
    """What an import may write, counted."""
    tenant = company.tenant.id
    return (
        await ActivityRecord.filter(tenant_id=tenant).count(),
        await ModuleProgress.filter(tenant_id=tenant).count(),
        await CreditEvent.filter(tenant_id=tenant).count(),
        await CreditEntry.filter(tenant_id=tenant).count(),
        await SkillEvidence.filter(tenant_id=tenant).count(),
        await CourseCompletion.filter(tenant_id=tenant).count(),
        await SyncChange.filter(tenant_id=tenant).count(),
    )


async def rules(company: Company) -> None:
    """Demo-like rules: lessons with a daily cap, attendance, quizzes and evaluations above 80,
    every 3 practices, modules and courses."""
    for key, activity, credits, extra in (
        ("LESSON", "LESSON_COMPLETED", 5, {"cap_per_day": 10}),
        ("ATTEND", "ATTENDANCE", 10, {"min_score": 100}),
        ("QUIZ-80", "QUIZ_PASSED", 20, {"min_score": 80}),
        ("EVAL-80", "EVALUATION_SCORED", 30, {"min_score": 80}),
        ("PRACTICE-3", "PRACTICE_CONFIRMED", 10, {"every_n": 3}),
        ("MODULE", "MODULE_COMPLETED", 5, {}),
        ("COURSE", "COURSE_COMPLETED", 20, {}),
    ):
        await CreditRule.create(
            tenant=company.tenant, rule_key=key, name=key, activity=activity, credits=credits, **extra
        )


async def earned(company: Company, who: str) -> list[tuple[str, int, datetime]]:
    entries = await CreditEntry.filter(employee=company.employees[who], kind=CreditEntryKind.EARN).values_list(
        "entry_key", "amount", "occurred_at"
    )
    return sorted((key.split(":")[1].split("@")[0], amount, at) for key, amount, at in entries)


def zone(company: Company) -> ZoneInfo:
    return ZoneInfo(company.tenant.time_zone)


# --- history --------------------------------------------------------------------------------------


HISTORY = [
    "LRN,A-002,1,课程学习,2025-03-03 09:30,,,旧学习平台",
    "LRN,A-002,2,实操,2025-03-04 10:00,,10,旧学习平台",
    "LRN,A-001,1,出勤,2025-03-05,,,旧学习平台",
    "LRN,A-001,3,测验,2025-03-06 14:00,85,,旧学习平台",
    "LRN,A-001,4,考核,2025-03-07 15:00,90,1,旧学习平台",
    "oth,A-002,1,LESSON,2025-04-01 08:00,,2,",
]


async def test_a_gbk_csv_with_chinese_names_derives_progress_credits_and_skills(company, tmp_path):
    await rules(company)
    job = await run(company, tmp_path, HISTORY, encoding="gbk")

    assert (job.status.value, job.written, job.problems) == ("DONE", True, [])
    assert counts(job) == (6, 0, 0, 0) and job.total_rows == 6
    lrn, oth = company.employees["LRN"], company.employees["OTH"]
    a1, a2 = company.courses["A-001"], company.courses["A-002"]
    progress = {
        (row.employee_id, row.course_id, position, row.completed_count)
        for row, position in [
            (row, (await CourseModule.get(id=row.module_id)).position)
            for row in await ModuleProgress.filter(tenant_id=company.tenant.id)
        ]
    }
    # Lessons and practice count; a passed quiz and an assessment at its bar count the module once.
    assert progress == {
        (lrn.id, a2.id, 1, 1),
        (lrn.id, a2.id, 2, 10),
        (lrn.id, a1.id, 3, 1),
        (lrn.id, a1.id, 4, 1),
        (oth.id, a2.id, 1, 2),
    }
    # A-002 completed when its last required module was done, not when imported.
    completion = await CourseCompletion.get(employee=lrn, course=a2)
    assert completion.completed_at == datetime(2025, 3, 4, 10, 0, tzinfo=zone(company))
    assert not await CourseCompletion.filter(employee=oth, course=a2).exists()
    totals: dict[str, int] = {}
    for key, amount, _ in await earned(company, "LRN"):
        totals[key] = totals.get(key, 0) + amount
    # Four modules done, the practice crossing 3 three times, the course once.
    assert totals == {
        "ATTEND": 10, "COURSE": 20, "EVAL-80": 30, "LESSON": 5, "MODULE": 20, "PRACTICE-3": 30, "QUIZ-80": 20,
    }  # fmt: skip
    records = await ActivityRecord.filter(tenant_id=company.tenant.id, employee=lrn)
    attendance = next(record for record in records if record.payload["activity"] == "ATTENDANCE")
    assert attendance.occurred_at == datetime(2025, 3, 5, 12, 0, tzinfo=zone(company))  # a date alone: noon
    assert (await EmployeeSkill.get(employee=lrn, skill=company.skills["SAFE"])).level == 54  # 90% of 60
    assert await verify_accounts(company.tenant.id) == []
    # Phones see it: progress and credits carry feed rows for the employee.
    assert await SyncChange.filter(tenant_id=company.tenant.id, entity="CREDIT_ENTRY", audience=lrn.id).exists()
    assert await SyncChange.filter(tenant_id=company.tenant.id, entity="MODULE_PROGRESS", audience=oth.id).exists()
    # One audit entry for the job, with what it wrote.
    audit = await AuditEntry.get(tenant_id=company.tenant.id, action="import.activityrecord.create")
    assert audit.details["after"]["created"] == 6 and audit.details["importJob"] == job.id

    before = await written(company)
    again = await run(company, tmp_path, HISTORY, encoding="gbk")
    assert counts(again) == (0, 0, 6, 0) and again.written
    assert await written(company) == before


async def test_history_derives_what_the_same_lessons_synced_live_derive(company, client, tmp_path):
    await rules(company)
    target = await CourseModule.get(course=company.courses["A-002"], position=1)
    phone = await token_for(client, company.code, "OTH", device_id="oth-phone")
    now = datetime.now(UTC).replace(microsecond=0)
    records = [lesson(target.id, seq, occurred_at=now - timedelta(hours=3 - seq)) for seq in (1, 2)]
    pushed = await gql(client, PUSH, push_input(records, device_id="oth-phone"), token=phone)
    assert [r["status"] for r in pushed["data"]["syncPush"]["results"]] == ["ACCEPTED"] * 2
    local = [(now - timedelta(hours=3 - seq)).astimezone(zone(company)).strftime("%Y-%m-%d %H:%M:%S") for seq in (1, 2)]

    job = await run(company, tmp_path, [f"LRN,A-002,1,LESSON,{at},,," for at in local])

    assert counts(job) == (2, 0, 0, 0)
    mine = await ModuleProgress.get(employee=company.employees["LRN"], module=target)
    live = await ModuleProgress.get(employee=company.employees["OTH"], module=target)
    assert mine.completed_count == live.completed_count == 2
    # The phone's times are corrected by its clock offset (milliseconds here); HR's are as given.
    assert abs(mine.last_completed_at - live.last_completed_at) < timedelta(seconds=1)
    assert [(k, a) for k, a, _ in await earned(company, "LRN")] == [(k, a) for k, a, _ in await earned(company, "OTH")]
    assert len(await earned(company, "LRN")) == 3  # two lessons and the module


async def test_xlsx_with_english_headers_excel_dates_and_date_times(company, tmp_path):
    path = tmp_path / "history.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet()
    day, moment = (
        workbook.add_format({"num_format": "yyyy-mm-dd"}),
        workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"}),
    )
    sheet.write_row(0, 0, EN.split(","))
    sheet.write_row(1, 0, ["LRN", "S-001", 2, "PRACTICE"])
    sheet.write_datetime(1, 4, datetime(2025, 5, 6), day)
    sheet.write_number(1, 6, 3)
    sheet.write_row(2, 0, ["LRN", "S-001", 2, "practice"])
    sheet.write_datetime(2, 4, datetime(2025, 5, 7, 16, 45), moment)
    sheet.write_row(3, 0, ["LRN", "A-001", 3, "QUIZ", "2025-05-08T09:00:00+00:00", 70])
    workbook.close()

    job = await run_file(company, path)

    assert (job.status.value, job.problems, counts(job)) == ("DONE", [], (3, 0, 0, 0))
    times = sorted(await ActivityRecord.filter(tenant_id=company.tenant.id).values_list("occurred_at", flat=True))
    tz = zone(company)
    assert times == [
        datetime(2025, 5, 6, 12, 0, tzinfo=tz),
        datetime(2025, 5, 7, 16, 45, tzinfo=tz),
        datetime(2025, 5, 8, 9, 0, tzinfo=UTC),
    ]
    practice = await ModuleProgress.get(employee=company.employees["LRN"], course=company.courses["S-001"])
    assert practice.completed_count == 4  # 3 + 1
    quiz = await CourseModule.get(course=company.courses["A-001"], position=3)
    assert not await ModuleProgress.filter(module=quiz).exists()  # 70 is below the pass mark of 80


async def test_a_dry_run_checks_and_counts_and_writes_nothing(company, tmp_path):
    await rules(company)
    await run(company, tmp_path, HISTORY[:2])
    before = await written(company)

    job = await run(company, tmp_path, HISTORY, dry_run=True)

    assert (job.status.value, job.written, counts(job)) == ("DONE", False, (4, 0, 2, 0))
    assert await written(company) == before


async def test_every_row_problem_then_partial_writes_the_good_rows(company, tmp_path):
    future = (datetime.now(zone(company)) + timedelta(days=2)).strftime("%Y-%m-%d %H:%M")
    lines = [
        "LRN,A-002,1,LESSON,2025-03-03 09:30,,,",  # 2 good
        "NOBODY,A-002,1,LESSON,2025-03-03 09:30,,,",  # 3 unknown employee
        "LRN,X-999,1,LESSON,2025-03-03 09:30,,,",  # 4 unknown course
        "LRN,A-002,7,LESSON,2025-03-03 09:30,,,",  # 5 unknown module
        "LRN,A-002,1,PRACTICE,2025-03-03 09:30,,,",  # 6 does not fit a LESSON module
        "LRN,A-002,1,ATTENDANCE,2025-03-03 09:30,,,",  # 7 an ONLINE course has no attendance
        f"LRN,A-002,1,LESSON,{future},,,",  # 8 future
        "LRN,A-002,1,LESSON,2025-13-03,,,",  # 9 not a date
        "LRN,A-001,3,QUIZ,2025-03-03 09:30,,,",  # 10 a quiz needs a score
        "LRN,A-002,1,LESSON,2025-03-04 09:30,80,,",  # 11 a lesson has none
        "LRN,A-001,3,QUIZ,2025-03-05 09:30,101,,",  # 12 score range
        "LRN,A-002,1,LESSON,2025-03-06 09:30,,１,",  # 13 full-width digit
        "LRN,A-002,1,LESSON,2025-03-07 09:30,,1001,",  # 14 count range
        "LRN,A-002,1,WATCHED,2025-03-08 09:30,,,",  # 15 no such activity
        "LRN,A-002,1,LESSON,2025-03-03 09:30,,,",  # 16 the same fact as row 2
        "LRN,A-002,x,LESSON,2025-03-09 09:30,,,",  # 17 module no not a number
        "OTH,A-001,4,EVALUATION,2025-03-10 09:30,88,,Excel",  # 18 good
    ]

    job = await run(company, tmp_path, lines, header=EN)

    assert sorted(found(job)) == [
        (3, "Employee no.", "UNKNOWN_REFERENCE"),
        (4, "Course code", "UNKNOWN_REFERENCE"),
        (5, "Module no", "UNKNOWN_REFERENCE"),
        (6, "Activity", "HISTORY_ACTIVITY"),
        (7, "Activity", "HISTORY_ACTIVITY"),
        (8, "Occurred at", "FUTURE_DATE"),
        (9, "Occurred at", "BAD_DATE"),
        (10, "Score", "REQUIRED"),
        (11, "Score", "SCORE_NOT_USED"),
        (12, "Score", "SCORE_RANGE"),
        (13, "Count", "BAD_NUMBER"),
        (14, "Count", "HISTORY_COUNT"),
        (15, "Activity", "HISTORY_ACTIVITY_NAME"),
        (16, "Employee no.", "DUPLICATE_KEY"),
        (17, "Module no", "BAD_NUMBER"),
    ]
    assert all(p["messages"]["zh-CN"] and p["messages"]["en"] for p in job.problems)
    assert (job.written, await written(company)) == (False, await written(company))
    assert not await ActivityRecord.filter(tenant_id=company.tenant.id).exists()

    partial = await run(company, tmp_path, lines, header=EN, partial=True)

    assert partial.written and counts(partial) == (2, 0, 0, 15)
    assert await ActivityRecord.filter(tenant_id=company.tenant.id).count() == 2


async def test_a_result_imported_before_with_another_score_is_refused(company, tmp_path):
    await run(company, tmp_path, ["LRN,A-001,3,QUIZ,2025-03-06 14:00,85,,Excel"])

    job = await run(
        company,
        tmp_path,
        ["LRN,A-001,3,QUIZ,2025-03-06 14:00,60,,Excel", "LRN,A-001,3,QUIZ,2025-03-07 14:00,60,,Excel"],
    )

    assert found(job) == [(2, "成绩", "HISTORY_CHANGED")] and not job.written
    assert "85" in job.problems[0]["messages"]["en"]
    # From another source it is another result.
    assert counts(await run(company, tmp_path, ["LRN,A-001,3,QUIZ,2025-03-06 14:00,60,,LMS"])) == (1, 0, 0, 0)


async def test_the_file_order_does_not_matter_each_employee_in_time_order(company, tmp_path):
    """The first evaluation of a module is the one credited (as live): the March 90 after the
    January 50 earns nothing, even listed first."""
    await rules(company)
    job = await run(
        company,
        tmp_path,
        [
            "LRN,A-001,4,EVALUATION,2025-03-01 10:00,90,,",
            "OTH,A-001,4,EVALUATION,2025-03-01 10:00,90,,",
            "LRN,A-001,4,EVALUATION,2025-01-15 10:00,50,,",
        ],
    )
    assert counts(job) == (3, 0, 0, 0)
    assert "EVAL-80" not in [key for key, _, _ in await earned(company, "LRN")]
    assert "EVAL-80" in [key for key, _, _ in await earned(company, "OTH")]
    event = await CreditEvent.get(employee=company.employees["LRN"], activity="EVALUATION_SCORED")
    assert event.score == 50


async def test_export_then_import_changes_nothing(company, tmp_path):
    await run(company, tmp_path, HISTORY)
    for fmt in FileFormat:
        path = tmp_path / f"export.{fmt.value}"
        assert await write_export(KINDS["history"], company.tenant.id, path, fmt, "en") == 6
        again = await run_file(company, path)
        assert (again.problems, counts(again)) == ([], (0, 0, 6, 0))


async def test_the_cli_imports_history(company, database_url, test_settings, tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("\n".join([ZH, *HISTORY]) + "\n", encoding="gbk")
    done = xuefen(database_url, test_settings, "import", "history", str(path), "--tenant", company.code)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "6 created" in done.stdout
    assert await ActivityRecord.filter(tenant_id=company.tenant.id).count() == 6


# --- opening balances -----------------------------------------------------------------------------


async def test_opening_balances_posted_once_audited_and_round_tripped(company, tmp_path):
    lines = ["LRN,120.5,2025-12-31,旧学分系统", "oth,30,2025-12-31,旧学分系统"]
    dry = await run(company, tmp_path, lines, kind="opening_balances", header=OPENING, dry_run=True)
    assert (dry.written, counts(dry)) == (False, (2, 0, 0, 0))
    assert not await CreditEntry.filter(tenant_id=company.tenant.id).exists()

    job = await run(company, tmp_path, lines, kind="opening_balances", header=OPENING)

    assert (job.problems, counts(job)) == ([], (2, 0, 0, 0))
    account = await CreditAccount.get(employee=company.employees["LRN"])
    assert (account.balance, account.lifetime_earned) == (1205, 0)
    entry = await CreditEntry.get(employee=company.employees["LRN"])
    assert (entry.kind, entry.reason) == (CreditEntryKind.OPENING_BALANCE, "旧学分系统 · 2025-12-31")
    audits = await AuditEntry.filter(tenant_id=company.tenant.id, action="import.creditentry.create")
    assert sorted(a.details["after"]["employeeNo"] for a in audits) == ["LRN", "OTH"]
    assert audits[0].details["before"] is None and audits[0].actor_id == company.employees["HR1"].id
    assert await verify_accounts(company.tenant.id) == []

    again = await run(company, tmp_path, lines, kind="opening_balances", header=OPENING)
    assert counts(again) == (0, 0, 2, 0)
    for fmt in FileFormat:
        path = tmp_path / f"opening.{fmt.value}"
        assert await write_export(KINDS["opening_balances"], company.tenant.id, path, fmt, "zh-CN") == 2
        exported = await run_file(company, path, kind="opening_balances")
        assert (exported.problems, counts(exported)) == ([], (0, 0, 2, 0))
    assert await CreditEntry.filter(tenant_id=company.tenant.id).count() == 2


async def test_opening_balance_problems(company, tmp_path):
    await run(company, tmp_path, ["LRN,100,2025-12-31,旧学分系统"], kind="opening_balances", header=OPENING)
    tomorrow = (datetime.now(zone(company)).date() + timedelta(days=1)).isoformat()
    lines = [
        "LRN,99,2025-12-31,旧学分系统",  # 2 another amount than posted
        "NOBODY,10,2025-12-31,旧学分系统",  # 3 unknown employee
        "OTH,0,2025-12-31,旧学分系统",  # 4 not more than 0
        "OTH,1.25,2025-12-31,旧学分系统",  # 5 two decimal places
        f"OTH,10,{tomorrow},旧学分系统",  # 6 in the future
        "OTH,10,2025-12-31,",  # 7 no source
        "MGR,10,2025-12-31,旧学分系统",  # 8 good
        "mgr,10,2025-12-31,旧学分系统",  # 9 the same employee again
    ]

    job = await run(company, tmp_path, lines, kind="opening_balances", header=OPENING, partial=True)

    assert sorted(found(job)) == [
        (2, "Opening balance", "OPENING_BALANCE_POSTED"),
        (3, "Employee no.", "UNKNOWN_REFERENCE"),
        (4, "Opening balance", "OPENING_AMOUNT"),
        (5, "Opening balance", "OPENING_AMOUNT"),
        (6, "As of", "FUTURE_DATE"),
        (7, "Source", "REQUIRED"),
        (9, "Employee no.", "DUPLICATE_KEY"),
    ]
    assert counts(job) == (1, 0, 0, 7)
    assert await CreditEntry.filter(employee=company.employees["MGR"]).values_list("amount", flat=True) == [100]
    assert (await CreditEntry.get(employee=company.employees["LRN"])).amount == Decimal(1000)
    assert date.today()  # the as-of day is checked in the company's time zone (tomorrow there is refused)


@pytest.mark.parametrize("order", ["grouped", "interleaved"])
async def test_a_failure_part_way_writes_nothing(company, tmp_path, monkeypatch, order):
    """Whether the rows are applied as read (each employee's together) or staged first, the
    whole file is one transaction: a failure after some employees were written leaves nothing."""
    from backend.services.imports import history_import

    calls = []
    real = history_import.ingest_history

    async def failing(*args, **kwargs):
        calls.append(len(args[2]))
        if len(calls) == 2:
            raise RuntimeError("boom")
        return await real(*args, **kwargs)

    monkeypatch.setattr(history_import, "ingest_history", failing)
    monkeypatch.setattr(history_import, "APPLY_ROWS", 1)
    monkeypatch.setattr(history_import.HistoryKind, "chunk_size", 1)
    lines = ["LRN,A-002,1,LESSON,2025-03-03 09:30,,,", "OTH,A-002,1,LESSON,2025-03-04 09:30,,,"]
    lines += ["LRN,A-002,1,LESSON,2025-03-05 09:30,,,"] if order == "interleaved" else []
    before = await written(company)

    job = await run(company, tmp_path, lines)

    assert (job.status.value, job.written, job.error_code) == ("FAILED", False, "INTERNAL")
    assert len(calls) == 2 and await written(company) == before
