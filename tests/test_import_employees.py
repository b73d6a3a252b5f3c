"""The `employees` import kind: hires with managers and mentors in any order, updates, transfers,
role changes and leavers, every row problem of the kind, partial runs, idempotent re-import and
export → import, audit rows and feed rows; through the job (run_job) as the CLI and the API run
it, and the CLI itself once."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from backend.models import (
    ActivationCode,
    AssignmentKind,
    AuditEntry,
    CourseModule,
    Employee,
    EmployeeAssignment,
    EmployeeRole,
    EmployeeSkill,
    ImportJob,
    ImportStatus,
    Mentorship,
    OrgUnit,
    Quiz,
    Role,
    SyncChange,
)
from backend.services.imports import jobs
from backend.services.imports.exports import write_export
from backend.services.imports.files import FileFormat
from backend.services.imports.registry import KINDS
from tests.factories import Company, make_company
from tests.graphql_client import gql, token_for
from tests.test_tenant_cli import xuefen

HEADER = (
    "Employee no.,Name,Phone,E-mail,Org unit code,Position code,Site code,Manager no.,Mentor no.,Hired on,Roles,Left on"
)
ZH_HEADER = "工号,姓名,手机号,邮箱,组织编码,岗位编码,地点编码,上级工号,导师工号,入职日期,角色,离职日期"


@pytest.fixture
async def company(password_hash) -> Company:
    return await make_company(password_hash, courses=True)


def today_of(company: Company) -> date:
    return datetime.now(ZoneInfo(company.tenant.time_zone)).date()


async def run(
    company: Company,
    tmp_path: Path,
    lines: list[str],
    *,
    header: str = HEADER,
    dry_run: bool = False,
    partial: bool = False,
    name: str = "employees.csv",
) -> ImportJob:
    path = tmp_path / name
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return await run_file(company, path, dry_run=dry_run, partial=partial)


async def run_file(company: Company, path: Path, *, dry_run: bool = False, partial: bool = False) -> ImportJob:
    actor = company.employees["HR1"].id
    job = await jobs.create_job(
        company.tenant.id, KINDS["employees"], path, path.name, dry_run=dry_run, partial=partial, actor_id=actor
    )
    return await jobs.run_job(job, path, via="graphql", locale="en")


def counts(job: ImportJob) -> tuple[int, int, int, int]:
    return job.created_count, job.updated_count, job.unchanged_count, job.skipped_count


def found(job: ImportJob) -> list[tuple[Any, ...]]:
    return [(p["row"], p["column"], p["code"]) for p in job.problems]


async def person(company: Company, number: str) -> Employee:
    return await Employee.get(tenant_id=company.tenant.id, employee_no=number)


async def roles(employee: Employee) -> list[str]:
    return sorted(await EmployeeRole.filter(employee_id=employee.id).values_list("role", flat=True))


async def steps(employee: Employee) -> list[tuple[str, date, int | None, str]]:
    rows = await EmployeeAssignment.filter(employee_id=employee.id).order_by("effective_on", "id")
    return [(s.kind, s.effective_on, s.manager_id, s.reason) for s in rows]


async def audits(company: Company, prefix: str = "import.") -> list[AuditEntry]:
    return await AuditEntry.filter(tenant_id=company.tenant.id, action__startswith=prefix).order_by("id")


async def fed(company: Company, entity: str, entity_id: int, audience: int) -> bool:
    return await SyncChange.filter(
        tenant_id=company.tenant.id, entity=entity, entity_id=str(entity_id), audience=audience
    ).exists()


# --- hiring -----------------------------------------------------------------------------------------


async def test_new_employees_with_managers_in_any_order_mentors_roles_and_former_ones(company, tmp_path):
    today = today_of(company)
    lines = [
        # a report before their manager, whose own manager comes later still
        "101-01,李一,138 0000 0001,li@example.com,SALES-E,SAL-1,URC,100-02,100-01,2023-05-04,,",
        "100-02,张主管,,,SALES,MGT-1,HQ,100-01,,2021-01-01,经理,",
        "100-01,王经理,,,SALES,MGT-1,HQ,MGR,,2020-03-01,MANAGER;导师,",
        f"102-01,赵前员工,,,PLANT,,,100-01,,2019-01-01,,{today - timedelta(days=30)}",
        "103-01,钱新人,,,PLANT,PRD-2,,,,,,",
    ]
    job = await run(company, tmp_path, lines)
    assert (job.status, job.written, job.problems) == (ImportStatus.DONE, True, [])
    assert counts(job) == (5, 0, 0, 0)

    report, lead, boss = [await person(company, n) for n in ("101-01", "100-02", "100-01")]
    former, newcomer = await person(company, "102-01"), await person(company, "103-01")
    assert (report.manager_id, lead.manager_id, boss.manager_id) == (lead.id, boss.id, company.employees["MGR"].id)
    assert (report.name, report.phone, report.email) == ("李一", "138 0000 0001", "li@example.com")
    assert (report.org_unit_id, report.site_id) == (company.org_units["east"].id, company.sites["remote"].id)
    assert report.password_hash == "" and report.is_active and report.hired_on == date(2023, 5, 4)
    assert await roles(boss) == ["EMPLOYEE", "MANAGER", "MENTOR"] and await roles(lead) == ["EMPLOYEE", "MANAGER"]
    assert (former.is_active, former.left_on, former.manager_id) == (False, today - timedelta(days=30), None)
    assert newcomer.hired_on == today and newcomer.position_id is not None

    # History: a HIRE step holding the place, a former employee's LEAVE step after it.
    assert await steps(report) == [("HIRE", date(2023, 5, 4), lead.id, "")]
    assert [s[:2] for s in await steps(former)] == [
        ("HIRE", date(2019, 1, 1)),
        ("LEAVE", today - timedelta(days=30)),
    ]
    assert (await steps(former))[1][3].startswith("Import (job ")
    # The mentor named: a mentorship for every course from today, open-ended.
    mentorship = await Mentorship.get(mentee_id=report.id)
    assert (mentorship.mentor_id, mentorship.course_id, mentorship.starts_on, mentorship.ends_on) == (
        boss.id,
        None,
        today,
        None,
    )

    entries = await audits(company)
    assert sorted(a.action for a in entries) == ["import.employee.create"] * 5 + ["import.mentorship.create"]
    hire = next(a for a in entries if a.entity_id == str(report.id))
    assert hire.actor_id == company.employees["HR1"].id and hire.details["before"] is None
    assert hire.details["after"] == {
        "employeeNo": "101-01",
        "name": "李一",
        "phone": "138 0000 0001",
        "email": "li@example.com",
        "locale": None,
        "orgUnitId": company.org_units["east"].id,
        "positionId": report.position_id,
        "managerId": lead.id,
        "siteId": company.sites["remote"].id,
        "hiredOn": "2023-05-04",
        "leftOn": None,
        "isActive": True,
        "roles": ["EMPLOYEE"],
    }
    assert hire.details["importJob"] == job.id and hire.details["via"] == "graphql"
    # Phones: each new person's profile, their managers' team rows, the mentorship to both people.
    assert await fed(company, "PROFILE", report.id, report.id)
    assert await fed(company, "TEAM_MEMBER", report.id, lead.id)
    assert await fed(company, "TEAM_MEMBER", boss.id, company.employees["MGR"].id)
    assert await fed(company, "MENTORSHIP", mentorship.id, boss.id)
    assert await fed(company, "MENTORSHIP", mentorship.id, report.id)

    again = await run(company, tmp_path, lines)
    assert counts(again) == (0, 0, 5, 0) and again.written
    assert len(await audits(company)) == 6  # nothing new
    assert await Mentorship.filter(mentee_id=report.id).count() == 1


async def test_chinese_headers_and_a_dry_run_that_writes_nothing(company, tmp_path):
    before = (await Employee.filter(tenant_id=company.tenant.id).count(), await AuditEntry.all().count())
    lines = ["200-01,孙一,,,PLANT,,,OTH,,,,", "OTH,欧阳工,13800000000,,PLANT,PRD-2,HQ,,,,,"]
    job = await run(company, tmp_path, lines, header=ZH_HEADER, dry_run=True)
    assert (job.status, job.written, job.problems) == (ImportStatus.DONE, False, [])
    assert counts(job) == (1, 0, 1, 0)  # what a real run would do
    assert (await Employee.filter(tenant_id=company.tenant.id).count(), await AuditEntry.all().count()) == before


# --- changes to people the company has --------------------------------------------------------------


async def test_updates_transfers_roles_and_a_new_mentor(company, tmp_path):
    today = today_of(company)
    module = await CourseModule.filter(course_id=company.courses["S-004"].id).first()  # S-004: only 生产部
    await Quiz.create(tenant=company.tenant, module=module, title="生产测验")
    lrn, mgr, hr1 = company.employees["LRN"], company.employees["MGR"], company.employees["HR1"]
    await EmployeeSkill.create(tenant=company.tenant, employee=lrn, skill=company.skills["NEG"], level=40)
    lines = [
        # LRN moves to 生产部 as 生产族 grade 2 under OTH, with HR1 as mentor; phone and e-mail columns are left out
        "LRN,李学员,PLANT,PRD-2,URC,OTH,HR1,,",
        "MGR,孟经理（新）,SALES,MGT-1,HQ,,,,MANAGER",  # renamed, no longer a mentor
        "HR1,韩人事,ROOT,MGT-1,HQ,,,,HR_ADMIN",  # as it is
    ]
    header = "Employee no.,Name,Org unit code,Position code,Site code,Manager no.,Mentor no.,Hired on,Roles"
    job = await run(company, tmp_path, lines, header=header)
    assert job.problems == [] and counts(job) == (0, 2, 1, 0)

    moved = await person(company, "LRN")
    assert (moved.org_unit_id, moved.manager_id) == (company.org_units["plant"].id, company.employees["OTH"].id)
    assert moved.phone == "13800000000"  # a column left out keeps its value
    assert await steps(moved) == [("TRANSFER", today, company.employees["OTH"].id, f"Import (job {job.id})")]
    assert (await person(company, "MGR")).name == "孟经理（新）" and await roles(mgr) == ["EMPLOYEE", "MANAGER"]
    assert await steps(mgr) == []  # a new name is no move

    # The mentor: the former all-course mentorship ended yesterday, HR1's begins today.
    old = await Mentorship.get(mentor_id=mgr.id, mentee_id=lrn.id)
    new = await Mentorship.get(mentor_id=hr1.id, mentee_id=lrn.id)
    assert (old.ends_on, new.starts_on, new.ends_on) == (today - timedelta(days=1), today, None)

    entries = {(a.action, a.entity_id): a.details for a in await audits(company)}
    transfer = entries[("import.employee.update", str(lrn.id))]
    assert (transfer["before"]["orgUnitId"], transfer["after"]["orgUnitId"]) == (
        company.org_units["east"].id,
        company.org_units["plant"].id,
    )
    assert (transfer["before"]["managerId"], transfer["after"]["managerId"]) == (mgr.id, company.employees["OTH"].id)
    roles_change = entries[("import.employee.update", str(mgr.id))]
    assert (roles_change["before"]["roles"], roles_change["after"]["roles"]) == (
        ["EMPLOYEE", "MANAGER", "MENTOR"],
        ["EMPLOYEE", "MANAGER"],
    )
    ended = entries[("import.mentorship.end", str(old.id))]
    assert (ended["before"]["endsOn"], ended["after"]["endsOn"]) == (None, (today - timedelta(days=1)).isoformat())
    assert ("import.mentorship.create", str(new.id)) in entries

    # Phones: the old manager drops LRN, the new one gets them; LRN's quizzes are sent again (who
    # may take S-004 changed) and so are their mentorships.
    assert await fed(company, "TEAM_MEMBER", lrn.id, mgr.id)
    assert await fed(company, "TEAM_MEMBER", lrn.id, company.employees["OTH"].id)
    assert await fed(company, "QUIZ", module.id, lrn.id)
    assert await fed(company, "SKILL_LEVEL", company.skills["NEG"].id, lrn.id)  # the new position's requirement
    assert await fed(company, "MENTORSHIP", old.id, mgr.id) and await fed(company, "MENTORSHIP", new.id, hr1.id)

    again = await run(company, tmp_path, lines, header=header)
    assert counts(again) == (0, 0, 3, 0)


async def test_leaving_ends_sessions_codes_and_mentorships(company, tmp_path, client):
    today = today_of(company)
    lrn, mgr = company.employees["LRN"], company.employees["MGR"]
    token = await token_for(client, company.code, "LRN")
    await ActivationCode.create(
        tenant=company.tenant,
        employee=lrn,
        code_hash="x" * 64,
        expires_at=datetime.now(ZoneInfo("UTC")) + timedelta(days=1),
    )
    left = today - timedelta(days=2)
    job = await run(company, tmp_path, [f"LRN,李学员,,,SALES-E,SAL-1,URC,MGR,,,,{left}"])
    assert job.problems == [] and counts(job) == (0, 1, 0, 0)

    gone = await person(company, "LRN")
    assert (gone.is_active, gone.left_on, gone.manager_id) == (False, left, None)
    assert [s[:3] for s in await steps(gone)] == [("LEAVE", left, None)]
    assert (await Mentorship.get(mentee_id=lrn.id)).ends_on == left
    assert await ActivationCode.filter(employee_id=lrn.id, voided_at__isnull=True).count() == 0
    me = await gql(client, "{ me { employeeNo } }", token=token)
    assert me["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    leave = (await audits(company, "import.employee.leave"))[0].details
    assert (leave["before"]["isActive"], leave["after"]["isActive"], leave["after"]["leftOn"]) == (
        True,
        False,
        left.isoformat(),
    )
    assert await fed(company, "TEAM_MEMBER", lrn.id, mgr.id)  # gone from the manager's team

    # The same file again: a former employee is as the file says.
    again = await run(company, tmp_path, [f"LRN,李学员,,,SALES-E,SAL-1,URC,MGR,,,,{left}"])
    assert counts(again) == (0, 0, 1, 0) and again.problems == []


async def test_a_leaving_manager_needs_the_new_manager_of_the_reports_in_the_file(company, tmp_path):
    today = today_of(company)
    alone = await run(company, tmp_path, [f"MGR,孟经理,,,SALES,MGT-1,HQ,,,,MANAGER;MENTOR,{today}"])
    assert found(alone) == [(2, "Left on", "STILL_MANAGES")]
    assert "still manages active employees (e.g. LRN)" in alone.problems[0]["messages"]["en"]
    lines = [f"MGR,孟经理,,,SALES,MGT-1,HQ,,,,MANAGER;MENTOR,{today}", "LRN,李学员,,,SALES-E,SAL-1,URC,HR1,,,,"]
    with_reports = await run(company, tmp_path, lines)
    assert with_reports.problems == [] and counts(with_reports) == (0, 2, 0, 0)
    assert (await person(company, "LRN")).manager_id == company.employees["HR1"].id
    assert not (await person(company, "MGR")).is_active


# --- problems ---------------------------------------------------------------------------------------


async def test_every_row_problem_then_partial_writes_the_good_rows(company, tmp_path):
    today = today_of(company)
    await OrgUnit.create(tenant=company.tenant, code="SHUT", name="已关闭", closed_on=today, path="")
    await Employee.filter(id=company.employees["OTH"].id).update(hired_on=date(2018, 1, 1))
    lines = [
        "300-01,好员工,,,PLANT,,,HR1,,,,",  # 2: good
        "bad number,坏工号,,,PLANT,,,,,,,",  # 3: CODE_FORMAT (a new number breaks the standard)
        "HR1,韩人事（改）,,,ROOT,MGT-1,HQ,,,,HR_ADMIN,",  # 4: good: an old number stays valid
        "301-01,无组织,,,NOPE,NOPE-1,NOPE,,,,,",  # 5: UNKNOWN_REFERENCE ×3
        "302-01,关闭组织,,,SHUT,,,,,,,",  # 6: ORG_UNIT_CLOSED
        "303-01,甲,,,PLANT,,,304-01,,,,",  # 7: CYCLE
        "304-01,乙,,,PLANT,,,303-01,,,,",  # 8: CYCLE
        "MGR,孟经理,,,SALES,MGT-1,HQ,LRN,,,MANAGER;MENTOR,",  # 9: CYCLE through the company (LRN reports to MGR)
        "305-01,自己,,,PLANT,,,305-01,305-01,,,",  # 10: CYCLE (self as manager)
        "306-01,自导,,,PLANT,,,,306-01,,,",  # 11: SELF_MENTORING
        "300-01,重复,,,PLANT,,,,,,,",  # 12: DUPLICATE_KEY
        f"307-01,未来,,,PLANT,,,,,{today + timedelta(days=2)},,",  # 13: FUTURE_DATE (hired on)
        f"308-01,未来离职,,,PLANT,,,,,,,{today + timedelta(days=1)}",  # 14: FUTURE_DATE (left on)
        "309-01,坏日期,,,PLANT,,,,,2024-02-30,,",  # 15: BAD_DATE
        "310-01,离职上级,,,PLANT,,,OFF,,,,",  # 16: INACTIVE_EMPLOYEE (OFF has left)
        "311-01,坏电话,abc,,PLANT,,,,,,,",  # 17: PHONE_FORMAT
        "312-01,坏角色,,,PLANT,,,,,,BOSS,",  # 18: ROLE
        "OTH,欧阳工,,,PLANT,PRD-2,HQ,,,2019-01-01,,",  # 19: HIRED_ON_CHANGED
        "313-01,跟随,,,PLANT,,,301-01,,,,",  # 20: DEPENDS_ON_BAD_ROW (row 5)
        "OFF,冯离职,,,ROOT,PRD-2,HQ,,,,,",  # 21: INACTIVE_EMPLOYEE (a former employee does not move)
        "314-01,坏邮箱,,not-an-email,PLANT,,,,,,,",  # 22: EMAIL_FORMAT
        "315-01,,,,PLANT,,,,,,,",  # 23: REQUIRED
    ]
    job = await run(company, tmp_path, lines)
    assert (job.status, job.written) == (ImportStatus.DONE, False)
    assert found(job) == [
        (3, "Employee no.", "CODE_FORMAT"),
        (5, "Org unit code", "UNKNOWN_REFERENCE"),
        (5, "Position code", "UNKNOWN_REFERENCE"),
        (5, "Site code", "UNKNOWN_REFERENCE"),
        (6, "Org unit code", "ORG_UNIT_CLOSED"),
        (7, "Manager no.", "CYCLE"),
        (8, "Manager no.", "CYCLE"),
        (9, "Manager no.", "CYCLE"),
        (10, "Manager no.", "CYCLE"),
        (11, "Mentor no.", "SELF_MENTORING"),
        (12, "Employee no.", "DUPLICATE_KEY"),
        (13, "Hired on", "FUTURE_DATE"),
        (14, "Left on", "FUTURE_DATE"),
        (15, "Hired on", "BAD_DATE"),
        (16, "Manager no.", "INACTIVE_EMPLOYEE"),
        (17, "Phone", "PHONE_FORMAT"),
        (18, "Roles", "ROLE"),
        (19, "Hired on", "HIRED_ON_CHANGED"),
        (20, "Manager no.", "DEPENDS_ON_BAD_ROW"),
        (21, "Org unit code", "INACTIVE_EMPLOYEE"),
        (22, "E-mail", "EMAIL_FORMAT"),
        (23, "Name", "REQUIRED"),
    ]
    messages = {p["row"]: p["messages"] for p in job.problems}
    assert "[0-9]{3,10}-[0-9A-Z]{2,10}" in messages[3]["en"] and "001-01" in messages[3]["zh-CN"]
    assert messages[7]["en"] == "303-01 would create a cycle (manager chain)"
    assert messages[19]["en"] == "the hire date on record is 2018-01-01; an import does not change it"
    assert not await Employee.filter(tenant_id=company.tenant.id, employee_no="300-01").exists()
    assert await audits(company) == []

    partial = await run(company, tmp_path, lines, partial=True)
    assert (partial.written, counts(partial)) == (True, (1, 1, 0, 20))
    assert (await person(company, "300-01")).manager_id == company.employees["HR1"].id
    assert (await person(company, "HR1")).name == "韩人事（改）"
    assert (await person(company, "MGR")).manager_id is None  # its row was skipped


async def test_the_company_keeps_an_active_hr_admin(company, tmp_path):
    job = await run(company, tmp_path, ["HR1,韩人事,,,ROOT,MGT-1,HQ,,,,MANAGER,"])
    assert found(job) == [(2, "Roles", "STILL_IN_USE")]
    assert "the company needs at least one active HR admin" in job.problems[0]["messages"]["en"]
    handed_over = await run(
        company, tmp_path, ["HR1,韩人事,,,ROOT,MGT-1,HQ,,,,,", "OTH,欧阳工,,,PLANT,PRD-2,HQ,,,,HR_ADMIN,"]
    )
    assert handed_over.problems == [] and counts(handed_over) == (0, 2, 0, 0)
    assert await roles(company.employees["HR1"]) == ["EMPLOYEE"]
    assert await roles(company.employees["OTH"]) == ["EMPLOYEE", "HR_ADMIN"]


async def test_managers_and_mentors_must_be_active_and_known(company, tmp_path):
    today = today_of(company)
    lines = [
        f"400-01,要离职,,,PLANT,,,,,,,{today}",  # a former employee from the start
        "401-01,跟离职者,,,PLANT,,,400-01,400-01,,,",  # INACTIVE_EMPLOYEE ×2
        "402-01,无此人,,,PLANT,,,999-99,,,,",  # UNKNOWN_REFERENCE
    ]
    job = await run(company, tmp_path, lines)
    assert found(job) == [
        (3, "Manager no.", "INACTIVE_EMPLOYEE"),
        (3, "Mentor no.", "INACTIVE_EMPLOYEE"),
        (4, "Manager no.", "UNKNOWN_REFERENCE"),
    ]


# --- export, round trip, CLI ------------------------------------------------------------------------


async def test_export_then_import_changes_nothing(company, tmp_path):
    # The company's first HR admin has no org unit (xuefen tenant create): exported as they are.
    admin = await Employee.create(tenant=company.tenant, employee_no="A0001", name="首位管理员", password_hash="")
    for role in (Role.EMPLOYEE, Role.HR_ADMIN):
        await EmployeeRole.create(tenant=company.tenant, employee=admin, role=role)
    await run(
        company,
        tmp_path,
        ["500-01,新经理,13900000000,m@example.com,SALES,MGT-1,HQ,MGR,HR1,2022-02-02,MANAGER;INSTRUCTOR,"],
    )
    total = await Employee.filter(tenant_id=company.tenant.id).count()
    for fmt in FileFormat:
        for locale in ("zh-CN", "en"):
            path = tmp_path / f"export-{locale}.{fmt.value}"
            assert await write_export(KINDS["employees"], company.tenant.id, path, fmt, locale) == total
            job = await run_file(company, path)
            assert (job.problems, counts(job)) == ([], (0, 0, total, 0)), (fmt, locale)


async def test_the_cli_imports_employees(company, database_url, test_settings, tmp_path):
    path = tmp_path / "员工.csv"
    path.write_text(ZH_HEADER + "\n600-01,周新人,,,PLANT,PRD-2,HQ,OTH,,,,\n", encoding="gbk")
    tenant = ("--tenant", company.code)
    dry = xuefen(database_url, test_settings, "import", "employees", str(path), "--dry-run", *tenant)
    assert dry.returncode == 0 and "Employees: 1 rows; 1 created, 0 updated, 0 unchanged, 0 skipped" in dry.stdout
    done = xuefen(database_url, test_settings, "import", "employees", str(path), *tenant)
    assert done.returncode == 0, done.stdout + done.stderr
    hired = await person(company, "600-01")
    assert hired.manager_id == company.employees["OTH"].id and hired.password_hash == ""
    audit = await AuditEntry.get(tenant_id=company.tenant.id, action="import.employee.create")
    assert audit.actor_id is None and audit.details["via"] == "cli"
    assert [s[0] for s in await steps(hired)] == [AssignmentKind.HIRE]
    assert await roles(hired) == [Role.EMPLOYEE]


async def test_a_new_employee_needs_an_org_unit_and_nobody_is_moved_into_none(company, tmp_path):
    job = await run(company, tmp_path, ["600-01,无组织,,,,,,,,2022-02-02,,", "LRN,学员,,,,,,,,,,"])
    assert sorted(found(job)) == [(2, "Org unit code", "REQUIRED"), (3, "Org unit code", "REQUIRED")]
    assert counts(job) == (0, 0, 0, 2)
    assert not await Employee.filter(tenant_id=company.tenant.id, employee_no="600-01").exists()
