"""The ``courses`` import kind: courses with their modules, one row per module, through the CLI and
``run_job``: new courses with skills and prerequisites, every row problem (standard, references,
cycles, duplicates, rows that disagree, module gaps, lifecycle and structure rules), dry run,
partial, idempotent re-import, export → import round trip, audit rows and feed marks."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from backend.models import (
    AuditEntry,
    Course,
    CourseModule,
    CoursePrerequisite,
    CourseSkill,
    CourseStatus,
    ImportJob,
    ModuleKind,
    ModuleProgress,
    Quiz,
    SyncChange,
)
from backend.services.imports import jobs
from backend.services.imports.exports import write_export
from backend.services.imports.files import FileFormat
from backend.services.imports.registry import KINDS
from tests.factories import Company, make_company
from tests.test_tenant_cli import xuefen

EN = (
    "Course code,Title,Format,Status,Skills taught,Prerequisites,"
    "Module no,Module title,Module kind,Module credits,Required count,Optional"
)
ZH = "课程编码,课程名称,形式,状态,所授技能,先修课程,模块序号,模块名称,模块类型,模块学分,要求次数,选修"


@pytest.fixture
async def company(password_hash) -> Company:
    return await make_company(password_hash, courses=True)


def write(
    tmp_path: Path, rows: list[str], header: str = EN, name: str = "courses.csv", encoding: str = "utf-8"
) -> Path:
    path = tmp_path / name
    path.write_text(header + "\n" + "".join(f"{row}\n" for row in rows), encoding=encoding)
    return path


async def run(company: Company, path: Path, *, dry_run: bool = False, partial: bool = False) -> ImportJob:
    job = await jobs.create_job(
        company.tenant.id,
        KINDS["courses"],
        path,
        path.name,
        dry_run=dry_run,
        partial=partial,
        actor_id=company.employees["HR1"].id,
    )
    return await jobs.run_job(job, path, via="graphql", locale="en")


def counts(job: ImportJob) -> tuple[int, int, int, int]:
    return job.created_count, job.updated_count, job.unchanged_count, job.skipped_count


def found(job: ImportJob) -> list[tuple[Any, ...]]:
    return [(p["row"], p["column"], p["code"]) for p in job.problems]


def message(job: ImportJob, row: int, code: str) -> str:
    return next(p["messages"]["en"] for p in job.problems if p["row"] == row and p["code"] == code)


async def audits(company: Company) -> list[AuditEntry]:
    return await AuditEntry.filter(tenant_id=company.tenant.id, action__startswith="import.").order_by("id")


async def feed_since(company: Company, seq: int) -> set[tuple[str, str, int]]:
    rows = SyncChange.filter(tenant_id=company.tenant.id, seq__gt=seq)
    return {
        (entity, entity_id, audience)
        for entity, entity_id, audience in await rows.values_list("entity", "entity_id", "audience")
    }


async def last_seq(company: Company) -> int:
    latest = await SyncChange.filter(tenant_id=company.tenant.id).order_by("-seq").first()
    return latest.seq if latest else 0


async def course(company: Company, code: str) -> Course:
    return await Course.get(tenant_id=company.tenant.id, code=code)


async def modules(company: Company, code: str) -> list[tuple[Any, ...]]:
    rows = CourseModule.filter(course__tenant_id=company.tenant.id, course__code=code).order_by("position")
    return [tuple(row) for row in await rows.values_list("position", "title", "kind", "credits", "is_required")]


NEW_COURSES = [
    # T-200-01 needs T-100-01, which comes later in the file; its rows are not next to each other.
    "T-200-01,大客户谈判,BLENDED,已发布,NEG:60;SAFE:40,T-100-01,1,谈判原理,课程,1.5,,",
    "T-100-01,销售入门,线上,,,,1,产品知识,LESSON,1,,",
    "T-200-01,大客户谈判,BLENDED,已发布,NEG:60;SAFE:40,T-100-01,2,谈判测验,测验,2,,否",
    "T-200-01,大客户谈判,BLENDED,已发布,NEG:60;SAFE:40,T-100-01,3,角色扮演,PRACTICE,0,10,是",
    "T-300-01,待编写,OJT,,,,,,,,,",  # the course alone, no modules yet
]


# --- the happy path ---------------------------------------------------------------------------------


async def test_cli_creates_courses_with_modules_skills_prerequisites_and_the_same_file_again_changes_nothing(
    company, database_url, test_settings, tmp_path
):
    path = write(tmp_path, NEW_COURSES, header=ZH, encoding="gbk")
    tenant = ("--tenant", company.code)
    before = await last_seq(company)
    done = xuefen(database_url, test_settings, "import", "courses", str(path), *tenant)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Courses: 5 rows; 5 created, 0 updated, 0 unchanged, 0 skipped" in done.stdout

    new = await course(company, "T-200-01")
    assert (new.title, new.format, new.status, new.version) == ("大客户谈判", "BLENDED", CourseStatus.PUBLISHED, 1)
    assert await modules(company, "T-200-01") == [
        (1, "谈判原理", ModuleKind.LESSON, Decimal("1.5"), True),
        (2, "谈判测验", ModuleKind.QUIZ, Decimal("2.0"), True),
        (3, "角色扮演", ModuleKind.PRACTICE, Decimal("0.0"), False),
    ]
    assert (await CourseModule.get(course_id=new.id, position=3)).required_count == 10
    skills = (
        await CourseSkill.filter(course_id=new.id).order_by("skill__code").values_list("skill__code", "target_level")
    )
    assert skills == [("NEG", 60), ("SAFE", 40)]
    needs = await CoursePrerequisite.filter(course_id=new.id).values_list("required_course__code", flat=True)
    assert needs == ["T-100-01"]
    assert (await course(company, "T-100-01")).status == CourseStatus.DRAFT
    assert await modules(company, "T-300-01") == []

    entries = await audits(company)
    assert sorted({(a.action, a.entity) for a in entries}) == [
        ("import.course.create", "Course"),
        ("import.course.prerequisites", "Course"),
        ("import.course.skills", "Course"),
        ("import.module.create", "CourseModule"),
    ]
    created = next(a for a in entries if a.action == "import.course.create" and a.entity_id == str(new.id))
    assert created.actor_id is None and created.details["via"] == "cli" and created.details["before"] is None
    assert created.details["after"]["status"] == "PUBLISHED" and created.details["after"]["credits"] == "0.0"
    quiz = await CourseModule.get(course_id=new.id, position=2)
    module_audit = next(a for a in entries if a.action == "import.module.create" and a.entity_id == str(quiz.id))
    assert module_audit.details["after"] == {
        "courseId": new.id,
        "position": 2,
        "title": "谈判测验",
        "kind": "QUIZ",
        "credits": "2.0",
        "requiredCount": 1,
        "requirement": "",
        "isRequired": True,
        "rubricId": None,
        "passScore": None,
    }
    prerequisites = next(a for a in entries if a.action == "import.course.prerequisites")
    required = (await course(company, "T-100-01")).id
    assert prerequisites.details["before"] == {"requiredCourseIds": []}
    assert prerequisites.details["after"] == {"requiredCourseIds": [required]}
    # A published course and its modules reach the phones; its quiz module's quiz too.
    feed = await feed_since(company, before)
    assert {("COURSE", str(new.id), 0), ("COURSE_MODULE", str(quiz.id), 0), ("QUIZ", str(quiz.id), 0)} <= feed

    again = xuefen(database_url, test_settings, "import", "courses", str(path), *tenant, language="zh_CN.UTF-8")
    assert again.returncode == 0 and "课程：共 5 行；新建 0，更新 0，未变 5，跳过 0" in again.stdout, again.stdout
    assert len(await audits(company)) == len(entries)


async def test_updates_existing_courses_and_marks_what_phones_show(company, tmp_path):
    s1, s7 = company.courses["S-001"], company.courses["S-007"]
    practice = await CourseModule.get(course_id=s1.id, position=2)
    learner = company.employees["LRN"]
    await ModuleProgress.create(
        tenant_id=company.tenant.id, employee=learner, module=practice, course_id=s1.id, completed_count=3
    )
    before = await last_seq(company)
    rows = [
        # S-001 predates the COURSE_CODE standard: it stays valid. New title; practice needs 5, not 10.
        "S-001,销售基础（新版）,ONLINE,,NEG:50,,1,学习,LESSON,1,,",
        "S-001,销售基础（新版）,ONLINE,,NEG:50,,2,练习,PRACTICE,2,5,",
        # The draft S-007 is published, with a third module.
        "S-007,草稿课程,ONLINE,PUBLISHED,,S-001,1,学习,LESSON,1,,",
        "S-007,草稿课程,ONLINE,PUBLISHED,,S-001,2,练习,PRACTICE,2,10,",
        "S-007,草稿课程,ONLINE,PUBLISHED,,S-001,3,测验,QUIZ,0,,",
        # Nothing differs.
        "A-002,Fire Safety 消防演练,ONLINE,PUBLISHED,,,1,学习,LESSON,1,,",
    ]
    job = await run(company, write(tmp_path, rows))
    assert job.problems == [] and counts(job) == (1, 4, 1, 0)
    assert (await course(company, "S-001")).title == "销售基础（新版）"
    assert (await CourseModule.get(id=practice.id)).required_count == 5
    assert (await course(company, "S-007")).status == CourseStatus.PUBLISHED
    assert [m[0] for m in await modules(company, "S-007")] == [1, 2, 3]
    assert await CoursePrerequisite.filter(course_id=s7.id).values_list("required_course_id", flat=True) == [s1.id]

    entries = {(a.action, a.entity_id): a.details for a in await audits(company)}
    update = entries[("import.course.update", str(s1.id))]
    assert (update["before"]["title"], update["after"]["title"]) == ("销售基础", "销售基础（新版）")
    assert update["before"]["summary"] == update["after"]["summary"] == "销售基础的课程简介"  # no column: kept
    assert entries[("import.course.publish", str(s7.id))]["after"]["status"] == "PUBLISHED"
    changed = entries[("import.module.update", str(practice.id))]
    assert (changed["before"]["requiredCount"], changed["after"]["requiredCount"]) == (10, 5)
    skills = entries[("import.course.skills", str(s1.id))]
    assert skills["before"]["skills"][0]["targetLevel"] == 40 and skills["after"]["skills"][0]["targetLevel"] == 50
    assert not any(entity_id == str(company.courses["A-002"].id) for _, entity_id in entries)

    feed = await feed_since(company, before)
    assert ("MODULE_PROGRESS", str(practice.id), learner.id) in feed  # the learner's progress shows the count
    assert ("COURSE", str(s1.id), 0) in feed and ("COURSE", str(s7.id), 0) in feed
    s7_modules = await CourseModule.filter(course_id=s7.id).values_list("id", flat=True)
    assert {("COURSE_MODULE", str(m), 0) for m in s7_modules} <= feed  # published: all its modules


async def test_publishing_a_new_version_retires_the_old_one(company, tmp_path):
    old = await Course.create(
        tenant_id=company.tenant.id, code="T-700-01", title="旧版", format="ONLINE", status=CourseStatus.PUBLISHED
    )
    new = await Course.create(
        tenant_id=company.tenant.id, code="T-700-02", title="新版", format="ONLINE", version=2, previous_version=old
    )
    for row in (old, new):
        await CourseModule.create(tenant_id=company.tenant.id, course=row, position=1, title="学习", kind="LESSON")
    both = ["T-700-01,旧版,ONLINE,PUBLISHED,,,1,学习,LESSON,0,,", "T-700-02,新版,ONLINE,PUBLISHED,,,1,学习,LESSON,0,,"]
    kept = await run(company, write(tmp_path, both))
    assert found(kept) == [(2, "Status", "COURSE_REPLACED")] and not kept.written
    assert "T-700-02" in message(kept, 2, "COURSE_REPLACED")

    job = await run(company, write(tmp_path, both[1:]))
    assert job.problems == [] and counts(job) == (0, 2, 0, 0)  # the old version counts as updated
    assert (await Course.get(id=old.id)).status == CourseStatus.RETIRED
    assert (await Course.get(id=new.id)).status == CourseStatus.PUBLISHED
    actions = {(a.action, a.entity_id) for a in await audits(company)}
    assert {("import.course.retire", str(old.id)), ("import.course.publish", str(new.id))} <= actions


# --- problems -----------------------------------------------------------------------------------------


async def test_every_row_problem_is_reported_and_nothing_is_written(company, tmp_path):
    s1 = company.courses["S-001"]
    await ModuleProgress.create(
        tenant_id=company.tenant.id,
        employee=company.employees["LRN"],
        module=await CourseModule.get(course_id=s1.id, position=1),
        course_id=s1.id,
        completed_count=1,
    )
    rows = [
        "t-1,坏编码,ONLINE,,,,1,学习,LESSON,,,",  # 2: a new code outside the standard
        "T-101-01,未知技能,ONLINE,,NOPE:50,,1,学习,LESSON,,,",  # 3
        "T-102-01,未知先修,ONLINE,,,X-999-01,1,学习,LESSON,,,",  # 4
        "T-103-01,循环甲,ONLINE,,,T-104-01,1,学习,LESSON,,,",  # 5: CYCLE with row 6
        "T-104-01,循环乙,ONLINE,,,T-103-01,1,学习,LESSON,,,",  # 6
        "T-105-01,重复,ONLINE,,,,1,学习,LESSON,,,",  # 7
        "T-105-01,重复,ONLINE,,,,1,再学,LESSON,,,",  # 8: DUPLICATE_KEY
        "T-106-01,名称甲,ONLINE,,,,1,学习,LESSON,,,",  # 9
        "T-106-01,名称乙,ONLINE,,,,2,练习,LESSON,,,",  # 10: ROWS_DISAGREE
        "T-107-01,缺模块,ONLINE,,,,1,学习,LESSON,,,",  # 11: MODULE_GAP with row 12
        "T-107-01,缺模块,ONLINE,,,,3,练习,LESSON,,,",  # 12
        "T-108-01,坏类型,ONLINE,,,,1,视频,VIDEO,,,",  # 13
        "T-109-01,坏技能,ONLINE,,NEG,,1,学习,LESSON,,,",  # 14
        "T-110-01,等级,ONLINE,,NEG:150,,1,学习,LESSON,,,",  # 15
        "S-007,草稿课程,ONLINE,RETIRED,,,,,,,,",  # 16: a draft of the company's: DRAFT → RETIRED
        "T-112-01,全选修,ONLINE,PUBLISHED,,,1,学习,LESSON,,,是",  # 17: no required module
        "T-113-01,学分,ONLINE,,,,1,学习,LESSON,1e30,,",  # 18
        "S-001,销售基础,ONLINE,DRAFT,NEG:40,,1,学习,QUIZ,1,,",  # 19: a module with progress keeps its kind
        "S-001,销售基础,ONLINE,DRAFT,NEG:40,,2,练习,PRACTICE,2,10,",  # 20: S-001 has learners
        "T-114-01,自己,ONLINE,,,T-114-01,1,学习,LESSON,,,",  # 21: needs itself
        "T-115-01,重复技能,ONLINE,,NEG:1;NEG:2,,1,学习,LESSON,,,",  # 22
    ]
    job = await run(company, write(tmp_path, rows))
    assert not job.written
    assert found(job) == [
        (2, "Course code", "CODE_FORMAT"),
        (3, "Skills taught", "UNKNOWN_REFERENCE"),
        (4, "Prerequisites", "UNKNOWN_REFERENCE"),
        (5, "Prerequisites", "CYCLE"),
        (6, "Prerequisites", "CYCLE"),
        (8, "Course code", "DUPLICATE_KEY"),
        (10, "Title", "ROWS_DISAGREE"),
        (11, "Module no", "MODULE_GAP"),
        (12, "Module no", "MODULE_GAP"),
        (13, "Module kind", "CHOICE"),
        (14, "Skills taught", "BAD_SKILL_LEVEL"),
        (15, "Skills taught", "COUNT_RANGE"),
        (16, "Status", "INVALID_STATUS_CHANGE"),
        (17, "Status", "COURSE_WITHOUT_REQUIRED_MODULE"),
        (18, "Module credits", "DECIMAL_FORMAT"),
        (19, "Module kind", "STILL_IN_USE"),
        (19, "Status", "STILL_IN_USE"),
        (20, "Status", "STILL_IN_USE"),
        (21, "Prerequisites", "CYCLE"),
        (22, "Skills taught", "DUPLICATES"),
    ]
    assert "[A-Z]{1,4}-[0-9A-Z]{1,10}-[0-9]{2}" in message(job, 2, "CODE_FORMAT")  # the pattern is shown
    assert message(job, 3, "UNKNOWN_REFERENCE") == "NOPE is neither in the file nor in the company"
    assert message(job, 5, "CYCLE") == "T-103-01 would create a cycle (course prerequisites)"
    assert message(job, 8, "DUPLICATE_KEY") == "T-105-01 #1 repeats row 7"
    assert message(job, 10, "ROWS_DISAGREE").startswith("T-106-01: every row of one course code must agree")
    assert "2 is missing" in message(job, 11, "MODULE_GAP")
    assert "Module kind must be one of: LESSON" in message(job, 13, "CHOICE")
    assert "records on this module" in message(job, 19, "STILL_IN_USE")
    assert message(job, 16, "INVALID_STATUS_CHANGE") == "Cannot change from status DRAFT to RETIRED."
    assert not await Course.filter(tenant_id=company.tenant.id, code__startswith="T-").exists()
    assert (await course(company, "S-001")).status == CourseStatus.PUBLISHED
    assert await audits(company) == []


async def test_a_new_course_may_come_in_retired_or_published_if_it_could_be_published(company, tmp_path):
    # Migrating history needs old courses that are retired already: a NEW course may take any status,
    # provided it satisfies what publishing requires (a required module).
    rows = [
        "T-140-01,旧课程,ONLINE,已停用,,,1,学习,LESSON,,,",  # 2: retired, with a required module
        "T-140-01,旧课程,ONLINE,已停用,,,2,练习,PRACTICE,,,是",  # 3
        "T-141-01,旧课程乙,OFFLINE,RETIRED,,,,,,,,",  # 4: retired without modules
        "T-142-01,旧课程丙,ONLINE,RETIRED,,,1,学习,LESSON,,,是",  # 5: retired, only optional modules
        "T-143-01,新课程,ONLINE,PUBLISHED,,T-140-01,1,学习,LESSON,,,",  # 6: published, needs a retired one
    ]
    job = await run(company, write(tmp_path, rows))
    assert found(job) == [(4, "Status", "COURSE_WITHOUT_MODULES"), (5, "Status", "COURSE_WITHOUT_REQUIRED_MODULE")]
    job = await run(company, write(tmp_path, [rows[0], rows[1], rows[4]]))
    assert job.written and job.problems == [] and counts(job) == (3, 0, 0, 0)
    assert (await course(company, "T-140-01")).status == CourseStatus.RETIRED
    assert (await course(company, "T-143-01")).status == CourseStatus.PUBLISHED
    created = [entry for entry in await audits(company) if entry.action == "import.course.create"]
    assert [entry.details["after"]["status"] for entry in created] == ["RETIRED", "PUBLISHED"]
    again = await run(company, write(tmp_path, [rows[0], rows[1], rows[4]]))
    assert again.problems == [] and counts(again) == (0, 0, 3, 0)
    path = tmp_path / "export.csv"
    written = await write_export(KINDS["courses"], company.tenant.id, path, FileFormat.CSV, "en")
    job = await run(company, path)
    assert job.problems == [] and counts(job) == (0, 0, written, 0)
    # Once in the company, a course's status moves one step at a time, as setCourseStatus.
    job = await run(company, write(tmp_path, ["T-143-01,新课程,ONLINE,DRAFT,,T-140-01,1,学习,LESSON,,,"]))
    assert job.problems == [] and (await course(company, "T-143-01")).status == CourseStatus.DRAFT
    job = await run(company, write(tmp_path, ["T-143-01,新课程,ONLINE,RETIRED,,T-140-01,1,学习,LESSON,,,"]))
    assert found(job) == [(2, "Status", "INVALID_STATUS_CHANGE")]


async def test_cycles_through_the_company_and_through_versions(company, tmp_path):
    # S-002 needs S-001: S-001 needing a new course that needs S-002 closes the loop.
    rows = [
        "T-120-01,新课,ONLINE,,,S-002,1,学习,LESSON,,,",
        "S-001,销售基础,ONLINE,,NEG:40,T-120-01,1,学习,LESSON,1,,",
    ]
    job = await run(company, write(tmp_path, rows))
    assert found(job) == [(2, "Prerequisites", "CYCLE"), (3, "Prerequisites", "CYCLE")]
    # A course needing another version of itself needs itself.
    old = company.courses["S-003"]
    await Course.create(
        tenant_id=company.tenant.id, code="T-121-02", title="新版", format="ONLINE", version=2, previous_version=old
    )
    versions = await run(company, write(tmp_path, ["T-121-02,新版,ONLINE,,,S-003,,,,,,"]))
    assert found(versions) == [(2, "Prerequisites", "CYCLE")]


async def test_a_retired_courses_modules_do_not_change(company, tmp_path):
    await Course.filter(id=company.courses["A-002"].id).update(status=CourseStatus.RETIRED)
    rows = [
        "A-002,消防演练（改名可以）,ONLINE,,,,1,学习,LESSON,1,,",  # words of the course may change
        "A-002,消防演练（改名可以）,ONLINE,,,,2,练习（改）,PRACTICE,2,10,",  # its modules may not
        "A-002,消防演练（改名可以）,ONLINE,,,,3,新增,LESSON,0,,",
    ]
    job = await run(company, write(tmp_path, rows), partial=True)
    assert found(job) == [(3, "Module no", "COURSE_RETIRED"), (4, "Module no", "COURSE_RETIRED")]
    assert counts(job) == (0, 1, 0, 2) and job.written
    assert (await course(company, "A-002")).title == "消防演练（改名可以）"
    assert [m[1] for m in await modules(company, "A-002")] == ["学习", "练习"]


async def test_a_module_with_a_quiz_keeps_its_kind_and_a_published_course_a_required_module(company, tmp_path):
    a1 = company.courses["A-001"]
    lesson = await CourseModule.get(course_id=a1.id, position=1)
    await Quiz.create(tenant_id=company.tenant.id, module=lesson, title="测验")
    rows = [
        "A-001,安全生产操作规程,OJT,,SAFE:60,,1,学习,QUIZ,1,,",  # a quiz is attached: the kind stays
        "A-002,Fire Safety 消防演练,ONLINE,,,,1,学习,LESSON,1,,是",  # both modules optional: refused
        "A-002,Fire Safety 消防演练,ONLINE,,,,2,练习,PRACTICE,2,10,是",
    ]
    job = await run(company, write(tmp_path, rows))
    assert found(job) == [
        (2, "Module kind", "STILL_IN_USE"),
        (3, "Optional", "PUBLISHED_NEEDS_REQUIRED_MODULE"),
        (4, "Optional", "PUBLISHED_NEEDS_REQUIRED_MODULE"),
    ]
    assert "has a quiz" in message(job, 2, "STILL_IN_USE")


# --- dry run, partial, round trip ---------------------------------------------------------------------


async def test_dry_run_counts_and_writes_nothing(company, tmp_path):
    before = (await Course.filter(tenant_id=company.tenant.id).count(), await AuditEntry.all().count())
    seq = await last_seq(company)
    job = await run(company, write(tmp_path, NEW_COURSES), dry_run=True)
    assert (job.dry_run, job.written, job.problems) == (True, False, [])
    assert counts(job) == (5, 0, 0, 0)  # what a real run would do
    assert (await Course.filter(tenant_id=company.tenant.id).count(), await AuditEntry.all().count()) == before
    assert await last_seq(company) == seq


async def test_partial_writes_the_good_courses_and_skips_those_naming_bad_ones(company, tmp_path):
    rows = [
        "T-130-01,好课,ONLINE,,NEG:30,,1,学习,LESSON,,,",  # 2
        "T-130-01,好课,ONLINE,,NEG:30,,2,练习,PRACTICE,,5,",  # 3
        "T-131-01,缺模块,ONLINE,,,,2,练习,LESSON,,,",  # 4: MODULE_GAP
        "T-132-01,依赖坏课,ONLINE,,,T-131-01;T-130-01,1,学习,LESSON,,,",  # 5: DEPENDS_ON_BAD_ROW
        "T-133-01,好课二,ONLINE,,,T-130-01,1,学习,LESSON,,,",  # 6
        "T-134-01,坏学时,ONLINE,,,,1,学习,LESSON,-1,,",  # 7
    ]
    refused = await run(company, write(tmp_path, rows))
    assert not refused.written and not await Course.filter(tenant_id=company.tenant.id, code="T-130-01").exists()
    job = await run(company, write(tmp_path, rows), partial=True)
    assert found(job) == [
        (4, "Module no", "MODULE_GAP"),
        (5, "Prerequisites", "DEPENDS_ON_BAD_ROW"),
        (7, "Module credits", "AMOUNT_RANGE"),
    ]
    assert job.written and counts(job) == (3, 0, 0, 3)
    codes = await Course.filter(tenant_id=company.tenant.id, code__startswith="T-").values_list("code", flat=True)
    assert sorted(codes) == ["T-130-01", "T-133-01"]
    needs = await CoursePrerequisite.filter(course__tenant_id=company.tenant.id, course__code="T-133-01").values_list(
        "required_course__code", flat=True
    )
    assert needs == ["T-130-01"]


@pytest.mark.parametrize("fmt", list(FileFormat))
async def test_export_then_import_changes_nothing(company, tmp_path, fmt):
    assert (await run(company, write(tmp_path, NEW_COURSES))).created_count == 5
    path = tmp_path / f"courses.{fmt.value}"
    written = await write_export(KINDS["courses"], company.tenant.id, path, fmt, "en")
    assert written == await CourseModule.filter(course__tenant_id=company.tenant.id).count() + 1  # T-300-01 alone
    audited = len(await audits(company))
    job = await run(company, path)
    assert job.problems == [] and counts(job) == (0, 0, written, 0)
    assert len(await audits(company)) == audited
