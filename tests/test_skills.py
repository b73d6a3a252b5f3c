"""The skill matrix: quiz results raise levels with the evidence kept, gaps against the position,
recommendations that close the largest gaps, HR's "who is below level L in skill S" list (with its
role matrix and a constant query count), and SKILL_LEVEL feed rows for the employee only."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from backend.ids import to_global_id
from backend.models import (
    Course,
    CourseCompletion,
    CourseFormat,
    CourseModule,
    CourseSkill,
    CourseStatus,
    Employee,
    EmployeeRole,
    EmployeeSkill,
    Mentorship,
    ModuleKind,
    PositionSkill,
    Question,
    QuestionKind,
    Quiz,
    QuizQuestion,
    Role,
    Skill,
)
from backend.services.records import registry
from tests.conftest import count_queries
from tests.factories import make_company
from tests.graphql_client import gql, token_for
from tests.sync_helpers import PULL, pull_input

SUBMIT = """
mutation S($input: SubmitQuizAttemptInput!) {
  submitQuizAttempt(input: $input) { result { status code } errors { code } }
}
"""
SKILL_FIELDS = """
  skill { id code name } level requiredLevel gap
  evidence(first: $evidence) { sourceKind sourceId recordId module { id kind } scorePercent levelBefore
    levelAfter occurredAt }
"""
MY_SKILLS = f"query M($evidence: Int = 5) {{ mySkills {{ {SKILL_FIELDS} }} }}"
EMPLOYEE_SKILLS = f"query E($id: ID!, $evidence: Int = 5) {{ employeeSkills(employeeId: $id) {{ {SKILL_FIELDS} }} }}"
RECOMMENDED = """
query R($first: Int = 10) { recommendedCourses(first: $first) {
  course { code title } score reasons { skill { code } currentLevel requiredLevel targetLevel } } }
"""
SKILL_GAP = """
query G($unit: ID!, $skill: ID!, $below: Int!, $first: Int = 50, $after: String) {
  skillGap(orgUnitId: $unit, skillId: $skill, below: $below, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node { employee { id employeeNo name } level recommendedCourses { code title } } }
  }
}
"""

HOUR = timedelta(hours=1)


async def make_cloud(company):
    """云计算 (CLOUD); 云计算基础 C-101 (lesson + 5-question quiz, target 85); 云计算入门 C-102
    (target 60); LRN's position requires CLOUD 80 and NEG 60."""
    tenant = company.tenant
    cloud = await Skill.create(tenant=tenant, code="CLOUD", name="云计算", category="IT")
    company.skills["CLOUD"] = cloud

    async def course(code, title, target):
        row = await Course.create(
            tenant=tenant,
            code=code,
            title=title,
            summary=f"{title}简介",
            scenario="IT",
            format=CourseFormat.ONLINE,
            status=CourseStatus.PUBLISHED,
            hours=Decimal("2.0"),
            credits=Decimal("1.0"),
        )
        await CourseModule.create(
            tenant=tenant, course=row, position=1, title="学习", kind=ModuleKind.LESSON, credits=Decimal("1.0")
        )
        await CourseSkill.create(tenant=tenant, course=row, skill=cloud, target_level=target)
        company.courses[code] = row
        return row

    basics = await course("C-101", "云计算基础", 85)
    await course("C-102", "云计算入门", 60)
    module = await CourseModule.create(
        tenant=tenant, course=basics, position=2, title="云计算测验", kind=ModuleKind.QUIZ, credits=Decimal("1.0")
    )
    quiz = await Quiz.create(tenant=tenant, module=module, title="云计算基础测验", pass_mark=60, attempts_allowed=5)
    questions = []
    for position in range(1, 6):
        question = await Question.create(
            tenant=tenant,
            course=basics,
            kind=QuestionKind.SINGLE_CHOICE,
            prompt=f"第{position}题：云的特征？",
            options=[{"key": "A", "text": "按需自助"}, {"key": "B", "text": "一次买断"}],
            answer_key=["A"],
            points=Decimal("1"),
        )
        await QuizQuestion.create(tenant=tenant, quiz=quiz, question=question, position=position)
        questions.append(question)
    position = company.employees["LRN"].position_id
    await PositionSkill.create(tenant=tenant, position_id=position, skill=cloud, required_level=80)
    await PositionSkill.create(tenant=tenant, position_id=position, skill=company.skills["NEG"], required_level=60)
    return module, questions


def right_answers(questions, right: int) -> dict:
    return {str(q.id): ("A" if i < right else "B") for i, q in enumerate(questions)}


async def submit(client, token, module, answers, submitted_at, client_id=None):
    body = await gql(
        client,
        SUBMIT,
        {
            "input": {
                "clientId": client_id or str(uuid.uuid4()),
                "quizId": to_global_id("CourseModule", module.id),
                "answers": answers,
                "submittedAt": submitted_at.isoformat(),
            }
        },
        token=token,
    )
    assert "errors" not in body and body["data"]["submitQuizAttempt"]["errors"] == [], body
    return body["data"]["submitQuizAttempt"]["result"]


def by_code(levels):
    return {row["skill"]["code"]: row for row in levels}


def error_code(body):
    assert body["data"] is None, body
    return body["errors"][0]["extensions"]["code"]


@pytest.fixture
async def company(password_hash):
    company = await make_company(password_hash)
    company.quiz_module, company.questions = await make_cloud(company)
    return company


async def test_a_quiz_result_raises_the_level_once_keeps_evidence_and_never_lowers_it(client, company):
    learner = await token_for(client, company.code, "LRN")
    module, questions = company.quiz_module, company.questions
    before = by_code((await gql(client, MY_SKILLS, token=learner))["data"]["mySkills"])
    assert before["CLOUD"] | {"evidence": None} == {
        "skill": {"id": to_global_id("Skill", company.skills["CLOUD"].id), "code": "CLOUD", "name": "云计算"},
        "level": 0,
        "requiredLevel": 80,
        "gap": 80,
        "evidence": None,
    }
    assert before["CLOUD"]["evidence"] == [] and before["NEG"]["gap"] == 60

    client_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    first = await submit(client, learner, module, right_answers(questions, 4), now - 2 * HOUR, client_id)
    assert first["status"] == "ACCEPTED", first
    await submit(client, learner, module, right_answers(questions, 4), now - 2 * HOUR, client_id)  # a retry

    mine = by_code((await gql(client, MY_SKILLS, token=learner))["data"]["mySkills"])
    cloud = mine["CLOUD"]
    assert (cloud["level"], cloud["requiredLevel"], cloud["gap"]) == (68, 80, 12)  # round(85 * 80 / 100)
    assert len(cloud["evidence"]) == 1, cloud
    evidence = cloud["evidence"][0]
    assert evidence["sourceKind"] == "QUIZ_ATTEMPT" and evidence["recordId"] == client_id
    assert (evidence["scorePercent"], evidence["levelBefore"], evidence["levelAfter"]) == (80, 0, 68)
    assert evidence["module"] == {"id": to_global_id("CourseModule", module.id), "kind": "QUIZ"}
    assert await EmployeeSkill.filter(employee=company.employees["LRN"]).count() == 1

    await submit(client, learner, module, right_answers(questions, 2), now - HOUR)  # 40%: shows 34
    cloud = by_code((await gql(client, MY_SKILLS, token=learner))["data"]["mySkills"])["CLOUD"]
    assert cloud["level"] == 68
    assert [(e["scorePercent"], e["levelBefore"], e["levelAfter"]) for e in cloud["evidence"]] == [
        (40, 68, 68),
        (80, 0, 68),
    ]  # newest first
    only = await gql(client, MY_SKILLS, {"evidence": 1}, token=learner)
    assert len(by_code(only["data"]["mySkills"])["CLOUD"]["evidence"]) == 1
    too_many = await gql(client, MY_SKILLS, {"evidence": 1000}, token=learner)
    assert too_many["errors"][0]["extensions"]["code"] == "VALIDATION"

    # Largest gap first; skills neither held nor required are absent.
    assert [row["skill"]["code"] for row in (await gql(client, MY_SKILLS, token=learner))["data"]["mySkills"]] == [
        "NEG",
        "CLOUD",
    ]


async def test_recommendations_rank_by_the_gap_closed_and_drop_completed_courses(client, company):
    learner = await token_for(client, company.code, "LRN")
    body = await gql(client, RECOMMENDED, token=learner)
    assert "errors" not in body, body
    # NEG's courses: S-001 is completed, S-003 is not open to LRN's grade.
    assert [(r["course"]["code"], r["score"]) for r in body["data"]["recommendedCourses"]] == [
        ("C-101", 80),
        ("C-102", 60),
    ]
    assert body["data"]["recommendedCourses"][0]["reasons"] == [
        {"skill": {"code": "CLOUD"}, "currentLevel": 0, "requiredLevel": 80, "targetLevel": 85}
    ]

    await submit(client, learner, company.quiz_module, right_answers(company.questions, 4), datetime.now(UTC) - HOUR)
    recommended = (await gql(client, RECOMMENDED, token=learner))["data"]["recommendedCourses"]
    # At 68, a course aiming for 60 closes nothing.
    assert recommended == [
        {
            "course": {"code": "C-101", "title": "云计算基础"},
            "score": 12,
            "reasons": [{"skill": {"code": "CLOUD"}, "currentLevel": 68, "requiredLevel": 80, "targetLevel": 85}],
        }
    ]

    # A course teaching both gaps sums what it closes and goes first; ties go to the larger gap.
    both = await Course.create(
        tenant=company.tenant,
        code="C-900",
        title="云上谈判",
        summary="",
        scenario="IT",
        format=CourseFormat.ONLINE,
        status=CourseStatus.PUBLISHED,
        hours=Decimal("1"),
        credits=Decimal("1"),
    )
    await CourseSkill.create(tenant=company.tenant, course=both, skill=company.skills["CLOUD"], target_level=75)
    await CourseSkill.create(tenant=company.tenant, course=both, skill=company.skills["NEG"], target_level=90)
    draft = await Course.create(
        tenant=company.tenant,
        code="C-000",
        title="草稿",
        summary="",
        scenario="IT",
        format=CourseFormat.ONLINE,
        status=CourseStatus.DRAFT,
        hours=Decimal("1"),
        credits=Decimal("1"),
    )
    await CourseSkill.create(tenant=company.tenant, course=draft, skill=company.skills["NEG"], target_level=100)
    tie = await Course.create(
        tenant=company.tenant,
        code="C-800",
        title="谈判入门",
        summary="",
        scenario="销售",
        format=CourseFormat.ONLINE,
        status=CourseStatus.PUBLISHED,
        hours=Decimal("1"),
        credits=Decimal("1"),
    )
    await CourseSkill.create(tenant=company.tenant, course=tie, skill=company.skills["NEG"], target_level=12)
    recommended = (await gql(client, RECOMMENDED, token=learner))["data"]["recommendedCourses"]
    assert [(r["course"]["code"], r["score"]) for r in recommended] == [("C-900", 67), ("C-800", 12), ("C-101", 12)]
    assert [(r["skill"]["code"], r["targetLevel"]) for r in recommended[0]["reasons"]] == [("NEG", 90), ("CLOUD", 75)]
    assert len((await gql(client, RECOMMENDED, {"first": 1}, token=learner))["data"]["recommendedCourses"]) == 1
    assert error_code(await gql(client, RECOMMENDED, {"first": -1}, token=learner)) == "VALIDATION"

    await CourseCompletion.create(
        tenant=company.tenant,
        employee=company.employees["LRN"],
        course=company.courses["C-101"],
        completed_at=datetime.now(UTC) - HOUR,
    )
    recommended = (await gql(client, RECOMMENDED, token=learner))["data"]["recommendedCourses"]
    assert [r["course"]["code"] for r in recommended] == ["C-900", "C-800"]

    # Nothing is required of OTH's position: nothing to recommend.
    other = await token_for(client, company.code, "OTH")
    assert (await gql(client, RECOMMENDED, token=other))["data"]["recommendedCourses"] == []


async def _person(company, no, unit, level=None, active=True):
    employee = await Employee.create(
        tenant=company.tenant,
        employee_no=no,
        name=f"员工{no}",
        password_hash="x",
        org_unit=company.org_units[unit],
        is_active=active,
    )
    await EmployeeRole.create(tenant=company.tenant, employee=employee, role=Role.EMPLOYEE)
    if level is not None:
        await EmployeeSkill.create(tenant=company.tenant, employee=employee, skill=company.skills["CLOUD"], level=level)
    company.employees[no] = employee
    return employee


def gap_vars(company, unit="sales", below=80, **extra):
    return {
        "unit": to_global_id("OrgUnit", company.org_units[unit].id),
        "skill": to_global_id("Skill", company.skills["CLOUD"].id),
        "below": below,
        **extra,
    }


async def test_skill_gap_lists_the_subtree_below_the_level_with_the_course_to_take(client, company):
    learner = await token_for(client, company.code, "LRN")
    await submit(client, learner, company.quiz_module, right_answers(company.questions, 4), datetime.now(UTC) - HOUR)
    await _person(company, "S10", "east", 10)
    await _person(company, "S80", "east", 80)
    await _person(company, "S85", "sales", 85)
    await _person(company, "SOFF", "east", 0, active=False)
    await _person(company, "P00", "plant")  # outside the subtree
    hr = await token_for(client, company.code, "HR1")

    body = await gql(client, SKILL_GAP, gap_vars(company), token=hr)
    assert "errors" not in body, body
    gap = body["data"]["skillGap"]
    rows = [
        (e["node"]["employee"]["employeeNo"], e["node"]["level"], [c["title"] for c in e["node"]["recommendedCourses"]])
        for e in gap["edges"]
    ]
    assert rows == [("MGR", 0, ["云计算基础"]), ("S10", 10, ["云计算基础"]), ("LRN", 68, ["云计算基础"])]
    assert gap["totalCount"] == 3 and gap["pageInfo"]["hasNextPage"] is False
    lrn = gap["edges"][2]["node"]["employee"]
    assert lrn == {"id": to_global_id("Employee", company.employees["LRN"].id), "employeeNo": "LRN", "name": "李学员"}

    # Paging by cursor continues after the last level and number.
    page = (await gql(client, SKILL_GAP, gap_vars(company, first=2), token=hr))["data"]["skillGap"]
    assert [e["node"]["employee"]["employeeNo"] for e in page["edges"]] == ["MGR", "S10"]
    assert page["pageInfo"]["hasNextPage"] is True
    rest = (await gql(client, SKILL_GAP, gap_vars(company, first=2, after=page["pageInfo"]["endCursor"]), token=hr))[
        "data"
    ]["skillGap"]
    assert [e["node"]["employee"]["employeeNo"] for e in rest["edges"]] == ["LRN"]
    assert rest["pageInfo"]["hasPreviousPage"] is True and rest["pageInfo"]["hasNextPage"] is False

    # Below 50 both courses aim high enough: the smallest step over the bar first.
    low = (await gql(client, SKILL_GAP, gap_vars(company, below=50), token=hr))["data"]["skillGap"]
    assert [
        (e["node"]["employee"]["employeeNo"], [c["code"] for c in e["node"]["recommendedCourses"]])
        for e in low["edges"]
    ] == [("MGR", ["C-102", "C-101"]), ("S10", ["C-102", "C-101"])]
    # Below 100: none aims that high, so the highest target is offered; a completed course is not.
    await CourseCompletion.create(
        tenant=company.tenant,
        employee=company.employees["S10"],
        course=company.courses["C-101"],
        completed_at=datetime.now(UTC) - HOUR,
    )
    high = (await gql(client, SKILL_GAP, gap_vars(company, below=100), token=hr))["data"]["skillGap"]
    offered = {
        e["node"]["employee"]["employeeNo"]: [c["code"] for c in e["node"]["recommendedCourses"]] for e in high["edges"]
    }
    assert offered == {"MGR": ["C-101"], "S10": [], "LRN": ["C-101"], "S80": ["C-101"], "S85": []}
    # The whole company from the root; nobody below 0.
    root = (await gql(client, SKILL_GAP, gap_vars(company, unit="root"), token=hr))["data"]["skillGap"]
    assert {"OTH", "P00", "HR1"} <= {e["node"]["employee"]["employeeNo"] for e in root["edges"]}
    assert "OFF" not in {e["node"]["employee"]["employeeNo"] for e in root["edges"]}
    assert (await gql(client, SKILL_GAP, gap_vars(company, below=0), token=hr))["data"]["skillGap"]["edges"] == []


async def test_skill_gap_role_matrix_and_validation(client, company, password_hash):
    other = await make_company(password_hash)
    tokens = {no: await token_for(client, company.code, no) for no in ("HR1", "MGR", "LRN", "OTH")}
    cases = [
        ("HR1", "root", None),
        ("HR1", "plant", None),
        ("MGR", "sales", None),
        ("MGR", "east", None),
        ("MGR", "plant", "FORBIDDEN"),
        ("MGR", "root", "FORBIDDEN"),
        ("LRN", "east", "FORBIDDEN"),
        ("OTH", "plant", "FORBIDDEN"),
    ]
    for who, unit, expected in cases:
        body = await gql(client, SKILL_GAP, gap_vars(company, unit=unit), token=tokens[who])
        if expected is None:
            assert "errors" not in body, (who, unit, body)
        else:
            assert error_code(body) == expected, (who, unit, body)

    foreign_unit = to_global_id("OrgUnit", other.org_units["sales"].id)
    foreign_skill = to_global_id("Skill", other.skills["NEG"].id)
    hr = tokens["HR1"]
    assert (
        error_code(await gql(client, SKILL_GAP, {**gap_vars(company), "unit": foreign_unit}, token=hr)) == "NOT_FOUND"
    )
    assert (
        error_code(await gql(client, SKILL_GAP, {**gap_vars(company), "skill": foreign_skill}, token=hr)) == "NOT_FOUND"
    )
    wrong_type = to_global_id("Course", company.courses["C-101"].id)
    body = await gql(client, SKILL_GAP, {**gap_vars(company), "skill": wrong_type}, token=hr)
    assert error_code(body) == "VALIDATION" and body["errors"][0]["extensions"]["field"] == "skillId"
    for below in (-1, 101):
        body = await gql(client, SKILL_GAP, gap_vars(company, below=below), token=hr)
        assert error_code(body) == "VALIDATION" and body["errors"][0]["extensions"]["field"] == "below"
    assert error_code(await gql(client, SKILL_GAP, gap_vars(company, first=101), token=hr)) == "VALIDATION"
    assert error_code(await gql(client, SKILL_GAP, gap_vars(company, after="nonsense"), token=hr)) == "VALIDATION"
    assert error_code(await gql(client, SKILL_GAP, gap_vars(company))) == "UNAUTHENTICATED"


async def test_employee_skills_role_matrix(client, company, password_hash):
    lrn = company.employees["LRN"]
    tenant = company.tenant
    # MEN mentors LRN for one course now; OLD did last year; LEG is LRN's mentor only on the profile.
    men = await _person(company, "MEN", "sales")
    old = await _person(company, "OLD", "sales")
    leg = await _person(company, "LEG", "sales")
    for employee in (men, old, leg):
        employee.password_hash = password_hash
        await employee.save(update_fields=["password_hash"])
    await Mentorship.create(
        tenant=tenant, mentor=men, mentee=lrn, course=company.courses["C-101"], starts_on=date(2026, 1, 1)
    )
    await Mentorship.create(
        tenant=tenant, mentor=old, mentee=lrn, starts_on=date(2025, 1, 1), ends_on=date(2025, 12, 31)
    )
    mentee = await _person(company, "MEE", "sales")
    mentee.mentor = leg
    await mentee.save(update_fields=["mentor_id"])
    await EmployeeSkill.create(tenant=tenant, employee=lrn, skill=company.skills["CLOUD"], level=55)
    other = await make_company(password_hash)

    # LEG sees MEE's profile (as the mentor named on it) but mentors MEE in no current mentorship.
    cases = [
        ("LRN", lrn, None),
        ("MGR", lrn, None),
        ("HR1", lrn, None),
        ("MEN", lrn, None),
        ("OLD", lrn, "NOT_FOUND"),
        ("OTH", lrn, "NOT_FOUND"),
        ("LEG", mentee, "FORBIDDEN"),
    ]
    for who, target, expected in cases:
        token = await token_for(client, company.code, who)
        body = await gql(client, EMPLOYEE_SKILLS, {"id": to_global_id("Employee", target.id)}, token=token)
        if expected is None:
            assert "errors" not in body, (who, body)
            cloud = by_code(body["data"]["employeeSkills"])["CLOUD"]
            assert (cloud["level"], cloud["requiredLevel"], cloud["gap"]) == (55, 80, 25)
        else:
            assert error_code(body) == expected, (who, body)

    hr = await token_for(client, company.code, "HR1")
    foreign = to_global_id("Employee", other.employees["LRN"].id)
    assert error_code(await gql(client, EMPLOYEE_SKILLS, {"id": foreign}, token=hr)) == "NOT_FOUND"
    wrong = to_global_id("Skill", company.skills["CLOUD"].id)
    assert error_code(await gql(client, EMPLOYEE_SKILLS, {"id": wrong}, token=hr)) == "VALIDATION"


async def _count_gap_page(client, token, company, first):
    with count_queries() as statements:
        body = await gql(client, SKILL_GAP, gap_vars(company, unit="root", first=first), token=token)
    assert "errors" not in body, body
    return list(statements), body["data"]["skillGap"]


async def test_a_skill_gap_page_costs_the_same_queries_whatever_its_size(client, company):
    for n in range(25):
        await _person(company, f"E{n:03d}", "east" if n % 2 else "sales", level=n * 3 if n % 3 else None)
    hr = await token_for(client, company.code, "HR1")
    small, small_page = await _count_gap_page(client, hr, company, 2)
    large, large_page = await _count_gap_page(client, hr, company, 20)
    assert len(small_page["edges"]) == 2 and len(large_page["edges"]) == 20
    assert all(e["node"]["recommendedCourses"] for e in large_page["edges"])
    levels = [e["node"]["level"] for e in large_page["edges"]]
    assert levels == sorted(levels)
    listing = "\n".join(f"  {n}. {sql}" for n, sql in enumerate(large, 1))
    print(f"first=2: {len(small)}, first=20: {len(large)}\n{listing}")
    assert len(small) == len(large), f"first=2: {len(small)} statements, first=20: {len(large)}:\n{listing}"

    # mySkills with evidence: one evidence read for the whole list.
    learner = await token_for(client, company.code, "LRN")
    for code in ("K1", "K2", "K3"):
        skill = await Skill.create(tenant=company.tenant, code=code, name=f"技能{code}")
        await EmployeeSkill.create(tenant=company.tenant, employee=company.employees["LRN"], skill=skill, level=30)
    with count_queries() as statements:
        body = await gql(client, MY_SKILLS, token=learner)
    assert len(body["data"]["mySkills"]) == 5
    assert sum("skill_evidence" in sql for sql in statements) == 1, statements


async def _pull_skill_rows(client, token):
    body = await gql(client, PULL, pull_input(), token=token)
    assert "errors" not in body and body["data"]["syncPull"]["errors"] == [], body
    return [c for c in body["data"]["syncPull"]["changes"] if c["entity"] == "SKILL_LEVEL"]


async def test_the_feed_sends_skill_levels_to_their_employee_only(client, company):
    learner = await token_for(client, company.code, "LRN")
    other = await token_for(client, company.code, "OTH")
    assert await _pull_skill_rows(client, learner) == []
    await submit(client, learner, company.quiz_module, right_answers(company.questions, 4), datetime.now(UTC) - HOUR)

    rows = await _pull_skill_rows(client, learner)
    cloud = to_global_id("Skill", company.skills["CLOUD"].id)
    assert len(rows) == 1 and rows[0]["id"] == cloud and rows[0]["op"] == "UPSERT", rows
    data = rows[0]["data"]
    assert {k: data[k] for k in ("id", "skillId", "code", "name", "level", "requiredLevel")} == {
        "id": cloud,
        "skillId": cloud,
        "code": "CLOUD",
        "name": "云计算",
        "level": 68,
        "requiredLevel": 80,
    }
    assert data["updatedAt"]
    assert await _pull_skill_rows(client, other) == []

    # Levels loaded in bulk reach their employee after a backfill; OTH's position requires nothing.
    await EmployeeSkill.create(
        tenant=company.tenant, employee=company.employees["OTH"], skill=company.skills["SAFE"], level=45
    )
    await registry.backfill(company.tenant.id)
    rows = await _pull_skill_rows(client, other)
    assert [(r["data"]["code"], r["data"]["level"], r["data"]["requiredLevel"]) for r in rows] == [("SAFE", 45, None)]
    assert [r["data"]["code"] for r in await _pull_skill_rows(client, learner)] == ["CLOUD"]
