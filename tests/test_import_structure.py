"""The structure import kinds: org units (a tree, in any order, moves, closing), positions (the
POSITION_CODE standard for new codes) and position skill requirements, run as jobs (run_job, and
the CLI once): every row problem, partial runs, the same file twice, export → import, audit rows
and what phones are sent."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from backend.ids import to_global_id
from backend.models import (
    AuditEntry,
    DataStandard,
    DataStandardSubject,
    Employee,
    EmployeeSkill,
    ImportJob,
    ImportStatus,
    OrgUnit,
    Position,
    PositionSkill,
    SyncChange,
)
from backend.services.imports import jobs, structure
from backend.services.imports.exports import write_export
from backend.services.imports.files import FileFormat
from backend.services.imports.registry import KINDS
from tests.factories import Company, make_company
from tests.graphql_client import token_for
from tests.test_org_admin import pull_all
from tests.test_quizzes import make_quiz
from tests.test_tenant_cli import xuefen

ORG = "Code,Name,Parent code,Closed on\n"
POSITIONS = "Code,Family,Sequence,Level,Grade\n"
REQUIREMENTS = "Position code,Skill code,Required level\n"


@pytest.fixture
async def company(password_hash) -> Company:
    return await make_company(password_hash, courses=True)


async def run(
    company: Company, kind: str, content: str, tmp_path: Path, *, partial: bool = False, dry_run: bool = False
) -> ImportJob:
    """Import ``content`` (CSV text) as a job, from the CLI's side (no actor)."""
    path = tmp_path / f"{kind}.csv"
    path.write_text(content, encoding="utf-8")
    job = await jobs.create_job(
        company.tenant.id, KINDS[kind], path, path.name, dry_run=dry_run, partial=partial, actor_id=None
    )
    return await jobs.run_job(job, path, via="cli", locale="en")


async def test_a_nul_byte_past_the_sniffed_start_of_a_csv_is_a_problem_not_a_stuck_job(company, tmp_path):
    # The first 64 KiB are searched for control bytes; a NUL further on reaches a cell, and the
    # problem quoting it must still be saved (PostgreSQL refuses U+0000 in JSON).
    filler = "".join(f"X-{i:05d},单位{i},,\n" for i in range(6000))
    job = await run(company, "org_units", f"{ORG}{filler}Y-1,单位,,20\x0026-01-01\n", tmp_path, dry_run=True)
    assert job.status == ImportStatus.DONE and problems(job) == [(6002, "Closed on", "BAD_DATE")]
    assert "20\ufffd26-01-01" in message(job, 6002)


def counts(job: ImportJob) -> tuple[int, int, int, int]:
    return job.created_count, job.updated_count, job.unchanged_count, len(problem_rows(job))


def problems(job: ImportJob) -> list[tuple[Any, ...]]:
    return [(p["row"], p["column"], p["code"]) for p in job.problems]


def problem_rows(job: ImportJob) -> set[int]:
    return {p["row"] for p in job.problems if p["row"] is not None}


def message(job: ImportJob, row: int) -> str:
    return next(p["messages"]["en"] for p in job.problems if p["row"] == row)


async def units(company: Company) -> dict[str, OrgUnit]:
    return {unit.code: unit for unit in await OrgUnit.filter(tenant_id=company.tenant.id)}


async def audits(company: Company, action: str) -> list[AuditEntry]:
    return await AuditEntry.filter(tenant_id=company.tenant.id, action=action).order_by("id")


async def latest_seq(company: Company) -> int:
    return max(await SyncChange.filter(tenant_id=company.tenant.id).values_list("seq", flat=True), default=0)


async def feed_after(company: Company, seq: int, entity: str) -> set[tuple[str, int]]:
    """The rows of ``entity`` the feed sent after ``seq``: (entity id, audience)."""
    rows = SyncChange.filter(tenant_id=company.tenant.id, entity=entity, seq__gt=seq)
    return set(await rows.values_list("entity_id", "audience"))


async def snapshot(company: Company) -> list[tuple[Any, ...]]:
    """Everything an import of these kinds could write, to show nothing was."""
    tenant = company.tenant.id
    return [
        *await OrgUnit.filter(tenant_id=tenant).order_by("id").values_list("code", "name", "parent_id", "path"),
        *await Position.filter(tenant_id=tenant).order_by("id").values_list("code", "family", "grade"),
        *await PositionSkill.filter(tenant_id=tenant).order_by("id").values_list("id", "required_level"),
        (await AuditEntry.filter(tenant_id=tenant).count(),),
    ]


# --- org units ------------------------------------------------------------------------------------


async def test_a_tree_in_any_order_then_the_same_file_again(company, tmp_path):
    before = await units(company)
    content = ORG + "\n".join(
        [
            "EAST-1,华东一组,EAST",  # 2: its parent comes later in the file
            "EAST,华东大区,SALES",  # 3: under a unit of the company
            "NEW-ROOT,新事业部,",  # 4: a root
            "PLANT,生产制造部,ROOT",  # 5: renamed
            "SALES,销售部,ROOT",  # 6: as it is
        ]
    )
    seq = await latest_seq(company)
    job = await run(company, "org_units", content + "\n", tmp_path)
    assert (job.status, job.written, job.problems) == (ImportStatus.DONE, True, [])
    assert counts(job) == (3, 1, 1, 0)
    after = await units(company)
    sales, east, east_1 = before["SALES"], after["EAST"], after["EAST-1"]
    assert (east.parent_id, east.path) == (sales.id, f"{sales.path}{east.id}.")
    assert (east_1.parent_id, east_1.path) == (east.id, f"{east.path}{east_1.id}.")
    assert (after["NEW-ROOT"].parent_id, after["NEW-ROOT"].path) == (None, f"{after['NEW-ROOT'].id}.")
    assert after["PLANT"].name == "生产制造部" and after["PLANT"].path == before["PLANT"].path

    created = await audits(company, "import.org_unit.create")
    assert [(a.entity, a.entity_id, a.actor_id) for a in created] == [
        ("OrgUnit", str(after[code].id), None) for code in ("EAST-1", "EAST", "NEW-ROOT")
    ]
    assert created[0].details == {
        "before": None,
        "after": {"code": "EAST-1", "name": "华东一组", "parentId": east.id, "path": east_1.path, "closedOn": None},
        "importJob": job.id,
        "via": "cli",
    }
    [renamed] = await audits(company, "import.org_unit.update")
    assert (renamed.details["before"]["name"], renamed.details["after"]["name"]) == ("生产部", "生产制造部")
    assert renamed.details["before"]["path"] == renamed.details["after"]["path"] == before["PLANT"].path
    # The new name reaches the profile of OTH, who works there (and not the leaver OFF).
    oth = company.employees["OTH"].id
    assert await feed_after(company, seq, "PROFILE") == {(str(oth), oth)}

    again = await run(company, "org_units", content + "\n", tmp_path)
    assert counts(again) == (0, 0, 5, 0) and again.written
    assert len(await AuditEntry.filter(tenant_id=company.tenant.id, action__startswith="import.")) == 4


async def test_a_move_rewrites_the_paths_below_and_resends_quizzes_ruled_by_org_units(client, company, tmp_path):
    # S-004 is for 生产部 and the units below it: moving 销售部 there opens it to LRN (华东销售组).
    module, _, _ = await make_quiz(company, course="S-004")
    learner = await token_for(client, company.code, "LRN")
    _, cursor = await pull_all(client, learner)
    plant, sales, east = (company.org_units[key] for key in ("plant", "sales", "east"))
    job = await run(company, "org_units", ORG + "SALES,销售部,PLANT\n", tmp_path)
    assert counts(job) == (0, 1, 0, 0)
    after = await units(company)
    assert after["SALES"].path == f"{plant.path}{sales.id}."
    assert after["SALES-E"].path == f"{plant.path}{sales.id}.{east.id}."  # not in the file, moved along
    [moved] = await audits(company, "import.org_unit.update")
    assert (moved.details["before"]["parentId"], moved.details["after"]["parentId"]) == (
        company.org_units["root"].id,
        plant.id,
    )
    changes, _ = await pull_all(client, learner, cursor)
    key = to_global_id("CourseModule", module.id)
    assert [c["op"] for c in changes if c["entity"] == "QUIZ" and c["id"] == key] == ["UPSERT"]


async def test_cycles_in_the_file_and_through_the_company(company, tmp_path):
    content = ORG + "\n".join(
        [
            "LOOP-A,甲,LOOP-B",  # 2, 3: a cycle in the file
            "LOOP-B,乙,LOOP-A",
            "SELF,自己,SELF",  # 4: its own parent
            "ROOT,总部,SALES-E",  # 5: under a unit below it in the company
            "UNDER-A,甲下,LOOP-A",  # 6: goes with the cycle
        ]
    )
    job = await run(company, "org_units", content + "\n", tmp_path, partial=True)
    assert problems(job) == [
        (2, "Parent code", "CYCLE"),
        (3, "Parent code", "CYCLE"),
        (4, "Parent code", "CYCLE"),
        (5, "Parent code", "CYCLE"),
        (6, "Parent code", "DEPENDS_ON_BAD_ROW"),
    ]
    assert message(job, 5) == "ROOT would create a cycle (org unit)"
    assert (job.written, job.created_count, job.skipped_count) == (True, 0, 5)
    assert (await units(company))["ROOT"].parent_id is None


async def test_row_problems_and_a_partial_run(company, tmp_path):
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    content = ORG + "\n".join(
        [
            "GOOD,好的,ROOT",  # 2
            "bad code,坏编码,",  # 3: CODE_CHARS
            "ORPHAN,孤儿,NOWHERE",  # 4: UNKNOWN_REFERENCE
            "ORPHAN-KID,孤儿的下级,ORPHAN",  # 5: DEPENDS_ON_BAD_ROW
            "GOOD,又一个,",  # 6: DUPLICATE_KEY
            f"LATER,将来关闭,ROOT,{tomorrow}",  # 7: FUTURE_DATE
            "WHEN,日期,ROOT,2026/01/01",  # 8: BAD_DATE
            "NAMELESS,,ROOT",  # 9: REQUIRED
        ]
    )
    before = await snapshot(company)
    refused = await run(company, "org_units", content + "\n", tmp_path)
    expected = [
        (3, "Code", "CODE_CHARS"),
        (4, "Parent code", "UNKNOWN_REFERENCE"),
        (5, "Parent code", "DEPENDS_ON_BAD_ROW"),
        (6, "Code", "DUPLICATE_KEY"),
        (7, "Closed on", "FUTURE_DATE"),
        (8, "Closed on", "BAD_DATE"),
        (9, "Name", "REQUIRED"),
    ]
    assert problems(refused) == expected
    assert "[A-Z0-9][A-Z0-9-]{0,63}" in message(refused, 3)  # the pattern is shown
    assert (refused.written, refused.status) == (False, ImportStatus.DONE)
    assert await snapshot(company) == before  # nothing written

    dry = await run(company, "org_units", content + "\n", tmp_path, dry_run=True, partial=True)
    assert (dry.written, counts(dry)) == (False, (1, 0, 0, 7))
    assert await snapshot(company) == before

    partial = await run(company, "org_units", content + "\n", tmp_path, partial=True)
    assert (partial.written, counts(partial), partial.skipped_count) == (True, (1, 0, 0, 7), 7)
    assert set(await units(company)) == {"ROOT", "SALES", "SALES-E", "PLANT", "GOOD"}


async def unit(company: Company, code: str, parent: OrgUnit, closed_on: date | None = None) -> OrgUnit:
    created = await OrgUnit.create(tenant=company.tenant, code=code, name=code, parent=parent, closed_on=closed_on)
    created.path = f"{parent.path}{created.id}."
    await created.save(update_fields=["path"])
    return created


async def test_closing_and_reopening_follow_close_org_unit(company, tmp_path):
    today = date.today().isoformat()
    root = company.org_units["root"]
    kid = await unit(company, "KID", await unit(company, "EMPTY", root))
    await unit(company, "LONE", root)
    await unit(company, "SHUT", root, date(2026, 1, 5))
    content = ORG + "\n".join(
        [
            f"SALES-E,华东销售组,SALES,{today}",  # 2: LRN works there: STILL_IN_USE
            f"EMPTY,EMPTY,ROOT,{today}",  # 3: KID below it stays open: STILL_IN_USE
            f"LONE,LONE,ROOT,{today}",  # 4: closes
            "OLD,旧部门,ROOT,2025-12-31",  # 5: created closed
            "OLD-TEAM,旧小组,OLD,2025-12-31",  # 6: created closed under a closed one
            "UNDER-SHUT,新小组,SHUT",  # 7: an open unit under a closed one
            "NEXT,新部门,ROOT",  # 8: open
            f"NEXT-TEAM,新小组,NEXT,{today}",  # 9: closed under an open one
            f"GONE,关闭的新部门,ROOT,{today}",  # 10: GONE-KID below it is open: STILL_IN_USE
            "GONE-KID,新小组,GONE",  # 11: goes with it
        ]
    )
    job = await run(company, "org_units", content + "\n", tmp_path, partial=True)
    assert problems(job) == [
        (2, "Closed on", "STILL_IN_USE"),
        (3, "Closed on", "STILL_IN_USE"),
        (7, "Parent code", "ORG_UNIT_CLOSED"),
        (10, "Closed on", "STILL_IN_USE"),
        (11, "Parent code", "DEPENDS_ON_BAD_ROW"),
    ]
    assert message(job, 2) == "Still in use: the org unit has active employees."
    assert message(job, 3) == "Still in use: the org unit has open units below it."
    assert counts(job) == (4, 1, 0, 5)
    after = await units(company)
    assert after["LONE"].closed_on == date.today() and after["EMPTY"].closed_on is None
    assert (after["OLD-TEAM"].parent_id, after["OLD-TEAM"].closed_on) == (after["OLD"].id, date(2025, 12, 31))
    assert after["KID"].closed_on is None and kid.id == after["KID"].id
    [closed] = await audits(company, "import.org_unit.update")
    assert (closed.details["before"]["closedOn"], closed.details["after"]["closedOn"]) == (None, today)

    # Reopening: a closed unit's row without a day opens it, unless the unit above is closed.
    reopen = ORG + "SHUT,SHUT,ROOT\nOLD-TEAM,旧小组,OLD\n"
    job = await run(company, "org_units", reopen, tmp_path, partial=True)
    assert problems(job) == [(3, "Closed on", "PARENT_CLOSED")]
    assert message(job, 3) == "Invalid input: the unit above it is closed"
    assert counts(job) == (0, 1, 0, 1) and (await units(company))["SHUT"].closed_on is None


async def test_closing_a_unit_and_everything_below_it_in_one_file(company, tmp_path):
    today = date.today().isoformat()
    for key in ("LRN", "MGR"):  # nobody left working in 销售部 or below it
        await Employee.filter(id=company.employees[key].id).update(org_unit_id=None)
    content = ORG + f"SALES,销售部,ROOT,{today}\nSALES-E,华东销售组,SALES,{today}\n"
    job = await run(company, "org_units", content, tmp_path)
    assert (job.problems, counts(job)) == ([], (0, 2, 0, 0))


async def test_a_tree_deeper_than_a_path_holds(company, tmp_path):
    # 200 units each under the one before, deepest first: paths of 200 ids do not fit 512 characters.
    rows = [f"DEEP-{i:03d},第 {i} 层,{f'DEEP-{i - 1:03d}' if i else 'ROOT'}" for i in range(200)]
    job = await run(company, "org_units", ORG + "\n".join(reversed(rows)) + "\n", tmp_path, partial=True)
    assert {(column, code) for _, column, code in problems(job)} == {("Parent code", "ORG_TREE_DEPTH")}
    assert 100 < job.created_count < 200 and job.created_count + job.skipped_count == 200
    assert problem_rows(job) == set(range(2, 2 + job.skipped_count))  # the deepest units, first in the file
    deep = [u for code, u in (await units(company)).items() if code.startswith("DEEP-")]
    assert len(deep) == job.created_count and max(len(u.path) for u in deep) <= 512
    assert message(job, 2) == "Invalid input: the org tree would be too deep here"


async def test_a_change_made_while_the_file_was_checked_fails_the_job(company, tmp_path, monkeypatch):
    # At the check LRN's unit looked empty; under the lock it is not: nothing is written.
    calls = []
    original = structure.staffed_units

    async def late(connection, tenant_id, unit_ids):
        calls.append(unit_ids)
        return set() if len(calls) == 1 else await original(connection, tenant_id, unit_ids)

    monkeypatch.setattr(structure, "staffed_units", late)
    before = await snapshot(company)
    job = await run(
        company, "org_units", ORG + f"NEW-1,新部门,ROOT\nSALES-E,华东销售组,SALES,{date.today()}\n", tmp_path
    )
    assert (job.status, job.error_code, job.written) == (ImportStatus.FAILED, "STILL_IN_USE", False)
    assert len(calls) == 2 and await snapshot(company) == before


# --- export → import ------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", list(FileFormat))
async def test_export_then_import_changes_nothing_and_builds_a_new_company(company, tmp_path, password_hash, fmt):
    await run(company, "org_units", ORG + "OLD,旧部门,ROOT,2025-12-31\nA-TEAM,甲组,SALES-E\n", tmp_path)
    await run(company, "positions", POSITIONS + "SAL-AM-2,销售族,客户经理序列,中级,2\n", tmp_path)
    await run(company, "position_skills", REQUIREMENTS + "SAL-1,NEG,40\nSAL-AM-2,NEG,60\nSAL-AM-2,SAFE,20\n", tmp_path)
    other = await make_company(password_hash, courses=True)
    for kind in ("org_units", "positions", "position_skills"):
        path = tmp_path / f"export-{kind}.{fmt.value}"
        written = await write_export(KINDS[kind], company.tenant.id, path, fmt, "zh-CN")
        job = await jobs.create_job(
            company.tenant.id, KINDS[kind], path, path.name, dry_run=False, partial=False, actor_id=None
        )
        again = await jobs.run_job(job, path, via="cli", locale="en")
        assert (again.problems, counts(again)) == ([], (0, 0, written, 0)), kind
        # Into another company, which has the same base units (make_company).
        job = await jobs.create_job(
            other.tenant.id, KINDS[kind], path, path.name, dry_run=False, partial=False, actor_id=None
        )
        copied = await jobs.run_job(job, path, via="cli", locale="en")
        assert copied.problems == [], kind
    theirs = await units(other)
    assert theirs["A-TEAM"].parent_id == theirs["SALES-E"].id
    assert theirs["A-TEAM"].path == f"{theirs['SALES-E'].path}{theirs['A-TEAM'].id}."
    assert theirs["OLD"].closed_on == date(2025, 12, 31)
    assert await PositionSkill.filter(tenant_id=other.tenant.id).count() == 3


# --- positions ------------------------------------------------------------------------------------


async def test_positions_new_codes_follow_the_standard_old_ones_stay(client, company, tmp_path):
    module, _, _ = await make_quiz(company, course="S-003")  # 销售族 from grade 2
    learner = await token_for(client, company.code, "LRN")
    _, cursor = await pull_all(client, learner)
    content = POSITIONS + "\n".join(
        [
            "SAL-AM-3,销售族,客户经理序列,高级,3",  # 2: new, standard
            "SAL-1,销售族,客户经理序列,初级,2",  # 3: predates the standard: updated (grade 2)
            "SAL9,销售族,客户经理序列,高级,3",  # 4: new, not standard: CODE_FORMAT
            "SAL-AM-4,销售族,客户经理序列,专家,0",  # 5: grade out of range
            "SAL-AM-5,销售族,客户经理序列,专家,３",  # 6: full-width digit
            "SAL-AM-3,销售族,客户经理序列,高级,3",  # 7: DUPLICATE_KEY
            "SAL-AM-6,,客户经理序列,高级,3",  # 8: REQUIRED
        ]
    )
    job = await run(company, "positions", content + "\n", tmp_path, partial=True)
    assert problems(job) == [
        (4, "Code", "CODE_FORMAT"),
        (5, "Grade", "WHOLE_RANGE"),
        (6, "Grade", "WHOLE_RANGE"),
        (7, "Code", "DUPLICATE_KEY"),
        (8, "Family", "REQUIRED"),
    ]
    assert message(job, 4) == (
        "Invalid input: position code must follow the company's data standard "
        "[A-Z][A-Z0-9]{0,15}-[A-Z][A-Z0-9]{0,15}-[A-Z0-9]{1,8}, e.g. SAL-AM-1"
    )
    assert counts(job) == (1, 1, 0, 5)
    sal_1 = await Position.get(tenant_id=company.tenant.id, code="SAL-1")
    assert sal_1.grade == 2
    [updated] = await audits(company, "import.position.update")
    assert updated.details["before"] == {
        "code": "SAL-1",
        "family": "销售族",
        "sequence": "客户经理序列",
        "level": "初级",
        "grade": 1,
    }
    assert updated.details["after"]["grade"] == 2 and updated.entity_id == str(sal_1.id)
    [created] = await audits(company, "import.position.create")
    assert created.details["before"] is None and created.details["after"]["code"] == "SAL-AM-3"
    # A new grade changes who may take courses ruled by grades: LRN's phone gets S-003's quiz.
    changes, _ = await pull_all(client, learner, cursor)
    key = to_global_id("CourseModule", module.id)
    assert [c["op"] for c in changes if c["entity"] == "QUIZ" and c["id"] == key] == ["UPSERT"]

    again = await run(company, "positions", content + "\n", tmp_path, partial=True)
    assert counts(again)[:3] == (0, 0, 2)


async def test_the_companys_own_standard_and_a_new_title_on_phones(company, tmp_path):
    await DataStandard.create(
        tenant=company.tenant, subject=DataStandardSubject.POSITION_CODE, pattern="P[0-9]{3}", example="P001"
    )
    content = (
        POSITIONS
        + "P001,销售族,客户经理序列,初级,1\nSAL-AM-1,销售族,客户经理序列,初级,1\nSAL-1,销售族,大客户序列,初级,1\n"
    )
    seq = await latest_seq(company)
    job = await run(company, "positions", content, tmp_path, partial=True)
    assert problems(job) == [(3, "Code", "CODE_FORMAT")]
    assert "P[0-9]{3}" in message(job, 3) and "P001" in message(job, 3)
    assert counts(job) == (1, 1, 0, 1)
    # SAL-1's new sequence is in its people's profiles (LRN), and their manager's team rows.
    lrn, mgr = company.employees["LRN"].id, company.employees["MGR"].id
    assert await feed_after(company, seq, "PROFILE") == {(str(lrn), lrn)}
    assert await feed_after(company, seq, "TEAM_MEMBER") == {(str(lrn), mgr)}


# --- position skill requirements ------------------------------------------------------------------


async def test_position_skill_requirements(company, tmp_path):
    tenant = company.tenant
    sal_1 = await Position.get(tenant_id=tenant.id, code="SAL-1")
    prd_2 = await Position.get(tenant_id=tenant.id, code="PRD-2")
    neg, safe = company.skills["NEG"], company.skills["SAFE"]
    await PositionSkill.create(tenant=tenant, position=sal_1, skill=neg, required_level=30)
    await PositionSkill.create(tenant=tenant, position=prd_2, skill=safe, required_level=50)
    await EmployeeSkill.create(tenant=tenant, employee=company.employees["LRN"], skill=neg, level=20)
    content = REQUIREMENTS + "\n".join(
        [
            "SAL-1,NEG,60",  # 2: updated
            "SAL-1,SAFE,40",  # 3: created
            "PRD-2,SAFE,50",  # 4: unchanged
            "NOPE-1,NEG,10",  # 5: unknown position
            "SAL-1,NOPE,10",  # 6: unknown skill
            "MGT-1,NEG,101",  # 7: out of range
            "SAL-1,NEG,70",  # 8: DUPLICATE_KEY
            ",NEG,10",  # 9: REQUIRED
        ]
    )
    before = await snapshot(company)
    refused = await run(company, "position_skills", content + "\n", tmp_path)
    expected = [
        (5, "Position code", "UNKNOWN_REFERENCE"),
        (6, "Skill code", "UNKNOWN_REFERENCE"),
        (7, "Required level", "WHOLE_RANGE"),
        (8, "Position code", "DUPLICATE_KEY"),
        (9, "Position code", "REQUIRED"),
    ]
    assert problems(refused) == expected and not refused.written
    assert message(refused, 8) == "SAL-1 / NEG repeats row 2"
    assert await snapshot(company) == before

    seq = await latest_seq(company)
    job = await run(company, "position_skills", content + "\n", tmp_path, partial=True)
    assert counts(job) == (1, 1, 1, 5)
    levels = dict(
        await PositionSkill.filter(tenant_id=tenant.id, position_id=sal_1.id).values_list("skill_id", "required_level")
    )
    assert levels == {neg.id: 60, safe.id: 40}
    rows = await audits(company, "import.position.skill.set")
    assert [(a.entity, a.entity_id) for a in rows] == [("Position", str(sal_1.id))] * 2
    assert [(a.details["before"], a.details["after"]) for a in rows] == [
        (None, {"positionId": sal_1.id, "skillId": safe.id, "requiredLevel": 40}),
        (
            {"positionId": sal_1.id, "skillId": neg.id, "requiredLevel": 30},
            {"positionId": sal_1.id, "skillId": neg.id, "requiredLevel": 60},
        ),
    ]
    # LRN (SAL-1) holds NEG: the level row showing the requirement is sent again.
    assert await feed_after(company, seq, "SKILL_LEVEL") == {(str(neg.id), company.employees["LRN"].id)}

    again = await run(company, "position_skills", content + "\n", tmp_path, partial=True)
    assert counts(again)[:3] == (0, 0, 3)


# --- the CLI --------------------------------------------------------------------------------------


async def test_the_cli_imports_a_tree(company, database_url, test_settings, tmp_path):
    path = tmp_path / "组织.csv"
    path.write_text("组织编码,组织名称,上级组织编码\nNORTH-1,华北一组,NORTH\nNORTH,华北大区,SALES\n", encoding="gbk")
    tenant = ("--tenant", company.code)
    dry = xuefen(database_url, test_settings, "import", "org_units", str(path), "--dry-run", *tenant)
    assert dry.returncode == 0, dry.stderr
    assert "Org units: 2 rows; 2 created, 0 updated, 0 unchanged, 0 skipped" in dry.stdout
    done = xuefen(database_url, test_settings, "import", "org_units", str(path), *tenant)
    assert done.returncode == 0, done.stdout + done.stderr
    after = await units(company)
    assert after["NORTH-1"].path == f"{company.org_units['sales'].path}{after['NORTH'].id}.{after['NORTH-1'].id}."
