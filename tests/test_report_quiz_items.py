"""Quiz item analysis over HTTP: ten learners submit a crafted quiz through the API, and every
figure is computed by hand — share correct, options chosen (the right ones marked), the common
wrong short answers, the upper–lower discrimination with its flags — first attempts by default and
all of them on request, narrowed by org unit; who may ask (HR, an instructor of the course), and
the export table.

Questions (points): Q1 single choice, key A (4); Q2 multiple choice, key A+C (3); Q3 true/false,
key false (2); Q4 short text, exact 客户需求分析 (1). Each learner's first attempt, by the
questions it gets right (1) or wrong (0), its percent and its answers:

| learner | unit | Q1 Q2 Q3 Q4 | % | Q1 | Q2 | Q3 | Q4 |
| --- | --- | --- | --- | --- | --- | --- | --- |
| L01 | east | 1 1 1 1 | 100 | A | A C | false | 客户需求分析 |
| L02 | east | 1 1 1 0 | 90 | A | C A | false | 需求 |
| L03 | east | 1 1 0 0 | 70 | A | A C | true | 报价 |
| L04 | plant | 1 0 1 0 | 60 | A | A | false | " 需求 " |
| L05 | plant | 1 0 0 1 | 50 | A | A B | true | 客户需求分析 |
| L06 | plant | 0 1 1 0 | 50 | B | A C | false | ＸＹＺ |
| L07 | plant | 1 0 0 0 | 40 | A | B | true | (none) |
| L08 | plant | 0 0 1 1 | 30 | B | A | false | 客户需求分析 |
| L09 | plant | 0 0 1 0 | 20 | C | C D | false | 需求 |
| L10 | plant | 0 0 0 1 | 10 | B | D | true | 客户需求分析 |

Ten attempts: groups of 3 (27 % of 10, rounded half up): top L01 L02 L03, bottom L08 L09 L10.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from backend.errors import DomainError, ErrorCode
from backend.ids import to_global_id
from backend.models import (
    CourseModule,
    Employee,
    EmployeeRole,
    ModuleKind,
    Position,
    Question,
    QuestionKind,
    Quiz,
    QuizQuestion,
    Role,
    TrainingSession,
)
from backend.services.reports import quiz_items
from backend.services.reports.tables import ReportOptions
from tests.factories import make_company
from tests.graphql_client import gql, token_for
from tests.report_world import viewer_of

SUBMIT = """
mutation S($input: SubmitQuizAttemptInput!) {
  submitQuizAttempt(input: $input) { result { status code } errors { code } }
}
"""
ANALYSIS = """
query A($quiz: ID!, $filter: ReportFilterInput, $all: Boolean! = false) {
  quizItemAnalysis(quizId: $quiz, filter: $filter, allAttempts: $all) {
    quizId title allAttempts attempts
    items { questionId position prompt kind attempts correct shareCorrect discrimination flags
      options { key text correct chosen } wrongAnswers { answer count } }
  }
}
"""
ROWS = {
    "L01": ("east", "A", ["A", "C"], False, "客户需求分析"),
    "L02": ("east", "A", ["C", "A"], False, "需求"),
    "L03": ("east", "A", ["A", "C"], True, "报价"),
    "L04": ("plant", "A", ["A"], False, " 需求 "),
    "L05": ("plant", "A", ["A", "B"], True, "客户需求分析"),
    "L06": ("plant", "B", ["A", "C"], False, "ＸＹＺ"),
    "L07": ("plant", "A", ["B"], True, None),
    "L08": ("plant", "B", ["A"], False, "客户需求分析"),
    "L09": ("plant", "C", ["C", "D"], False, "需求"),
    "L10": ("plant", "B", ["D"], True, "客户需求分析"),
}


@pytest.fixture(scope="module")
async def world(client, password_hash):
    company = await make_company(password_hash)
    tenant, course = company.tenant, company.courses["A-002"]
    module = await CourseModule.create(
        tenant=tenant, course=course, position=3, title="测验", kind=ModuleKind.QUIZ, credits=Decimal("1.0")
    )
    quiz = await Quiz.create(tenant=tenant, module=module, title="消防知识测验", pass_mark=60)
    abc = [{"key": k, "text": t} for k, t in zip("ABC", ("干粉灭火器", "用水", "湿毛巾"))]
    abcd = [{"key": k, "text": t} for k, t in zip("ABCD", ("报警", "乱跑", "弯腰", "乘电梯"))]
    specs = (
        (QuestionKind.SINGLE_CHOICE, "电器起火首先应使用？", abc, ["A"], "4"),
        (QuestionKind.MULTIPLE_CHOICE, "火场逃生正确的做法有？", abcd, ["A", "C"], "3"),
        (QuestionKind.TRUE_FALSE, "火灾时可以乘电梯逃生。", [], False, "2"),
        (QuestionKind.SHORT_TEXT, "拜访客户前的第一步是什么？", [], {"exact": ["客户需求分析"]}, "1"),
    )
    questions = []
    for position, (kind, prompt, options, key, points) in enumerate(specs, start=1):
        question = await Question.create(
            tenant=tenant,
            course=course,
            kind=kind,
            prompt=prompt,
            options=options,
            answer_key=key,
            points=Decimal(points),
        )
        await QuizQuestion.create(tenant=tenant, quiz=quiz, question=question, position=position)
        questions.append(question)
    position = await Position.get(tenant=tenant, code="SAL-1")
    for no in (*ROWS, "INS", "INS2"):
        unit = company.org_units[ROWS[no][0]] if no in ROWS else company.org_units["root"]
        employee = await Employee.create(
            tenant=tenant,
            employee_no=no,
            name=f"学员{no}",
            password_hash=password_hash,
            org_unit=unit,
            site=company.sites["hq"],
            position=position,
        )
        company.employees[no] = employee
        roles = (Role.EMPLOYEE, Role.INSTRUCTOR) if no.startswith("INS") else (Role.EMPLOYEE,)
        for role in roles:
            await EmployeeRole.create(tenant=tenant, employee=employee, role=role)
    # INS teaches a session of the course; INS2 teaches nothing.
    await TrainingSession.create(
        tenant=tenant,
        course=course,
        title="消防演练",
        instructor=company.employees["INS"],
        site=company.sites["hq"],
        starts_at=datetime.now(UTC) + timedelta(days=3),
        ends_at=datetime.now(UTC) + timedelta(days=3, hours=2),
        capacity=20,
        secret=secrets.token_hex(32),
    )
    for no, (_unit, q1, q2, q3, q4) in ROWS.items():
        given = {str(questions[0].id): q1, str(questions[1].id): q2, str(questions[2].id): q3}
        if q4 is not None:
            given[str(questions[3].id)] = q4
        await submit(client, company.code, no, module, given)
    company.modules = {"quiz": module}  # type: ignore[attr-defined]
    company.questions = questions  # type: ignore[attr-defined]
    return company


async def submit(client, code: str, no: str, module, given: dict) -> None:
    token = await token_for(client, code, no)
    body = await gql(
        client,
        SUBMIT,
        {"input": {"clientId": str(uuid.uuid4()), "quizId": to_global_id("CourseModule", module.id), "answers": given}},
        token=token,
    )
    assert body["data"]["submitQuizAttempt"]["errors"] == [], body
    assert body["data"]["submitQuizAttempt"]["result"]["status"] == "ACCEPTED", body


async def analyse(client, company, who: str = "HR1", **variables) -> dict:
    token = await token_for(client, company.code, who)
    quiz = to_global_id("CourseModule", company.modules["quiz"].id)
    return await gql(client, ANALYSIS, {"quiz": quiz, **variables}, token=token)


def error_code(body: dict) -> str:
    assert body.get("errors"), body
    return body["errors"][0]["extensions"]["code"]


def option(key: str, text: str, correct: bool, chosen: int) -> dict:
    return {"key": key, "text": text, "correct": correct, "chosen": chosen}


async def test_first_attempts_every_figure(client, world) -> None:
    body = await analyse(client, world)
    assert "errors" not in body, body
    report = body["data"]["quizItemAnalysis"]
    assert (report["title"], report["allAttempts"], report["attempts"]) == ("消防知识测验", False, 10)
    items = report["items"]
    assert [item["questionId"] for item in items] == [to_global_id("Question", q.id) for q in world.questions]
    assert [(i["position"], i["kind"]) for i in items] == [
        (1, "SINGLE_CHOICE"),
        (2, "MULTIPLE_CHOICE"),
        (3, "TRUE_FALSE"),
        (4, "SHORT_TEXT"),
    ]
    # Q1: right 6 of 10; top 3/3, bottom 0/3.
    assert (items[0]["attempts"], items[0]["correct"], items[0]["shareCorrect"]) == (10, 6, 0.6)
    assert (items[0]["discrimination"], items[0]["flags"]) == (1.0, [])
    assert items[0]["options"] == [
        option("A", "干粉灭火器", True, 6),
        option("B", "用水", False, 3),
        option("C", "湿毛巾", False, 1),
    ]
    # Q2: right 4 (L01 L02 L03 L06); top 3/3, bottom 0/3. A chosen by the four and L04 L05 L08.
    assert (items[1]["correct"], items[1]["shareCorrect"], items[1]["discrimination"]) == (4, 0.4, 1.0)
    assert items[1]["options"] == [
        option("A", "报警", True, 7),
        option("B", "乱跑", False, 2),
        option("C", "弯腰", True, 5),
        option("D", "乘电梯", False, 2),
    ]
    # Q3: right 6; top 2/3 (L03 wrong), bottom 2/3 (L10 wrong): 0.
    assert (items[2]["correct"], items[2]["shareCorrect"], items[2]["discrimination"]) == (6, 0.6, 0.0)
    assert items[2]["options"] == [option("TRUE", "true", False, 4), option("FALSE", "false", True, 6)]
    # Q4: right 4 (L01 L05 L08 L10); top 1/3, bottom 2/3: negative. L07 left it blank (wrong, not listed).
    assert (items[3]["attempts"], items[3]["correct"], items[3]["shareCorrect"]) == (10, 4, 0.4)
    assert (items[3]["discrimination"], items[3]["flags"]) == (-0.333, ["NEGATIVE_DISCRIMINATION"])
    assert items[3]["wrongAnswers"] == [
        {"answer": "需求", "count": 3},
        {"answer": "xyz", "count": 1},
        {"answer": "报价", "count": 1},
    ]
    assert items[3]["options"] == [] and items[0]["wrongAnswers"] == []


async def test_filter_by_unit_flags_easy_and_hard(client, world) -> None:
    east = {"from": "2026-01-01", "to": "2199-01-01", "orgUnitId": to_global_id("OrgUnit", world.org_units["east"].id)}
    body = await analyse(client, world, filter={**east, "to": "2035-12-31"})
    items = body["data"]["quizItemAnalysis"]["items"]
    assert body["data"]["quizItemAnalysis"]["attempts"] == 3
    # L01 L02 L03: Q1 and Q2 all right (too easy); below ten attempts: no discrimination.
    assert [(i["shareCorrect"], i["discrimination"], i["flags"]) for i in items] == [
        (1.0, None, ["TOO_EASY"]),
        (1.0, None, ["TOO_EASY"]),
        (0.667, None, []),
        (0.333, None, []),
    ]
    plant = {**east, "to": "2035-12-31", "orgUnitId": to_global_id("OrgUnit", world.org_units["plant"].id)}
    items = (await analyse(client, world, filter=plant))["data"]["quizItemAnalysis"]["items"]
    assert (items[1]["correct"], items[1]["attempts"], items[1]["shareCorrect"], items[1]["flags"]) == (
        1,
        7,
        0.143,
        ["TOO_HARD"],
    )
    # A period before anything was submitted: nothing analysed.
    body = await analyse(client, world, filter={"from": "2026-01-01", "to": "2026-01-31"})
    assert body["data"]["quizItemAnalysis"]["attempts"] == 0
    assert body["data"]["quizItemAnalysis"]["items"][0]["shareCorrect"] is None
    # The quiz is the course: a course (even another company's) or a scenario is refused, not ignored.
    for extra in ({"courseId": to_global_id("Course", 10**9)}, {"scenario": "安全"}):
        body = await analyse(client, world, filter={**east, "to": "2035-12-31", **extra})
        assert error_code(body) == "VALIDATION", body
        assert body["errors"][0]["extensions"]["field"] == f"filter.{next(iter(extra))}"


async def test_roles(client, world, password_hash) -> None:
    assert "errors" not in await analyse(client, world, "INS")
    assert error_code(await analyse(client, world, "INS2")) == "FORBIDDEN"
    assert error_code(await analyse(client, world, "L01")) == "FORBIDDEN"
    assert error_code(await analyse(client, world, "MGR")) == "FORBIDDEN"
    other = await make_company(password_hash)
    token = await token_for(client, other.code, "HR1")
    body = await gql(client, ANALYSIS, {"quiz": to_global_id("CourseModule", world.modules["quiz"].id)}, token=token)
    assert error_code(body) == "NOT_FOUND"


async def test_all_attempts_and_export(client, world) -> None:
    # L10 tries again and gets everything right: 11 attempts, top 3 = L01, L10's second, L02.
    q = world.questions
    given = {str(q[0].id): "A", str(q[1].id): ["A", "C"], str(q[2].id): False, str(q[3].id): "客户需求分析"}
    await submit(client, world.code, "L10", world.modules["quiz"], given)
    first = (await analyse(client, world))["data"]["quizItemAnalysis"]
    assert first["attempts"] == 10 and first["items"][0]["correct"] == 6
    report = (await analyse(client, world, all=True))["data"]["quizItemAnalysis"]
    assert (report["allAttempts"], report["attempts"]) == (True, 11)
    # Q1: 7 of 11 = 0.636; Q4: top L01 1, L10 1, L02 0 = 2/3, bottom L08 L09 L10(first) 1, 0, 1 = 2/3.
    assert report["items"][0]["shareCorrect"] == 0.636
    assert report["items"][3]["discrimination"] == 0.0 and report["items"][3]["flags"] == []

    hr = viewer_of(world, "HR1", Role.HR_ADMIN)
    table = await quiz_items.export_table(hr, ReportOptions(quiz_id=world.modules["quiz"].id))
    rows = [list(row) async for row in table.rows]
    # Each question, then its options (choice), or its wrong answers (short text).
    assert [row[0] for row in rows] == [
        1,
        None,
        None,
        None,
        2,
        None,
        None,
        None,
        None,
        3,
        None,
        None,
        4,
        None,
        None,
        None,
    ]
    assert rows[0][:8] == [1, "电器起火首先应使用？", "SINGLE_CHOICE", 10, 6, 0.6, 1.0, ""]
    assert rows[1][8:] == ["A. 干粉灭火器 ✓", 6]
    assert rows[12][7] == "NEGATIVE_DISCRIMINATION" and rows[13][8:] == ["需求", 3]
    with pytest.raises(DomainError) as refused:
        await quiz_items.quiz_item_analysis(viewer_of(world, "INS2", Role.INSTRUCTOR), world.modules["quiz"].id)
    assert refused.value.code == ErrorCode.FORBIDDEN
