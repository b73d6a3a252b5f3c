"""Quiz authoring: question banks and quizzes are written by HR admins and instructors only,
answer keys are checked against the question's kind, a changed quiz gets a new version that
reaches phones through the feed, and authoring views are the only place keys are shown."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from backend.ids import to_global_id
from backend.models import AuditEntry, CourseModule, Employee, EmployeeRole, ModuleKind, Question, Quiz, Role
from tests.factories import make_company
from tests.graphql_client import gql, token_for
from tests.sync_helpers import PULL, pull_input

KEY_MARKER = "KEYMARK-a41d"

CREATE = """
mutation C($input: CreateQuestionInput!) {
  createQuestion(input: $input) {
    question { id courseId kind prompt options { key text } answerKey points explanation }
    errors { code field message }
  }
}
"""
UPDATE = """
mutation U($input: UpdateQuestionInput!) {
  updateQuestion(input: $input) { question { id kind prompt answerKey points } errors { code field } }
}
"""
SET_QUIZ = """
mutation S($input: SetModuleQuizInput!) {
  setModuleQuiz(input: $input) {
    quiz { moduleId title passMark timeLimitSeconds attemptsAllowed shuffle reviewAllowed closesAt version
           questions { id prompt answerKey } }
    errors { code field }
  }
}
"""
BANK = "query B($id: ID!) { questionBank(courseId: $id) { id kind prompt answerKey explanation } }"
BANK_PAGE = """
query B($id: ID!, $first: Int, $after: String) {
  questionBankConnection(courseId: $id, first: $first, after: $after) {
    edges { cursor node { id prompt answerKey } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
    totalCount
  }
}
"""
MODULE_QUIZ = """
query Q($id: ID!) { moduleQuiz(moduleId: $id) { title version shuffle questions { id prompt options { key } } } }
"""

ABCD = [{"key": k, "text": t} for k, t in zip("ABCD", ("干粉灭火器", "用水", "湿毛巾", "电梯"))]


@pytest.fixture
async def company(password_hash):
    company = await make_company(password_hash)
    hq = company.sites["hq"]
    instructor = await Employee.create(
        tenant=company.tenant,
        employee_no="INS",
        name="伊讲师",
        password_hash=password_hash,
        site=hq,
        org_unit=company.org_units["root"],
    )
    for role in (Role.EMPLOYEE, Role.INSTRUCTOR):
        await EmployeeRole.create(tenant=company.tenant, employee=instructor, role=role)
    company.employees["INS"] = instructor
    return company


async def quiz_module(company, course="A-002"):
    return await CourseModule.create(
        tenant=company.tenant,
        course=company.courses[course],
        position=3,
        title="结业测验",
        kind=ModuleKind.QUIZ,
        credits=Decimal("1.0"),
    )


def question_input(company, course="A-002", **changes):
    given = {
        "courseId": to_global_id("Course", company.courses[course].id),
        "kind": "SINGLE_CHOICE",
        "prompt": "电器起火首先应使用？",
        "options": ABCD,
        "answerKey": "A",
        "points": "2",
        "explanation": "解析：先断电再用干粉灭火器",
    }
    return {"input": {**given, **changes}}


async def create(client, token, company, **changes):
    body = await gql(client, CREATE, question_input(company, **changes), token=token)
    assert "errors" not in body, body
    return body["data"]["createQuestion"]


@pytest.mark.parametrize("who,allowed", [("HR1", True), ("INS", True), ("MGR", False), ("LRN", False), ("OTH", False)])
async def test_only_hr_admins_and_instructors_author_quizzes(client, company, who, allowed):
    token = await token_for(client, company.code, who)
    created = await create(client, token, company)
    module = await quiz_module(company)
    course_id = to_global_id("Course", company.courses["A-002"].id)
    if not allowed:
        assert created["errors"][0]["code"] == "FORBIDDEN" and created["question"] is None
        existing = await Question.create(
            tenant=company.tenant,
            course=company.courses["A-002"],
            kind="TRUE_FALSE",
            prompt="可以乘电梯逃生。",
            answer_key=False,
        )
        updated = await gql(client, UPDATE, {"input": {"questionId": str(existing.id), "prompt": "改"}}, token=token)
        assert updated["data"]["updateQuestion"]["errors"][0]["code"] == "FORBIDDEN"
        set_quiz = await gql(
            client,
            SET_QUIZ,
            {
                "input": {
                    "moduleId": to_global_id("CourseModule", module.id),
                    "title": "测验",
                    "passMark": 60,
                    "questionIds": [str(existing.id)],
                }
            },
            token=token,
        )
        assert set_quiz["data"]["setModuleQuiz"]["errors"][0]["code"] == "FORBIDDEN"
        bank = await gql(client, BANK, {"id": course_id}, token=token)
        assert bank["data"] is None and bank["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert (await Question.get(id=existing.id)).prompt == "可以乘电梯逃生。"
        assert not await Quiz.filter(module=module).exists()
        return
    assert created["errors"] == []
    question = created["question"]
    assert (question["kind"], question["answerKey"], question["points"], question["options"][0]) == (
        "SINGLE_CHOICE",
        ["A"],
        "2.0",
        {"key": "A", "text": "干粉灭火器"},
    )
    bank = (await gql(client, BANK, {"id": course_id}, token=token))["data"]["questionBank"]
    assert [(q["id"], q["answerKey"]) for q in bank] == [(question["id"], ["A"])]
    audit = await AuditEntry.get(tenant=company.tenant, action="question.create")
    assert audit.actor_id == company.employees[who].id and audit.entity_id == question["id"]


@pytest.mark.parametrize(
    "changes,field",
    [
        ({"answerKey": "E"}, "answerKey"),  # not an option
        ({"answerKey": ["A", "B"]}, "answerKey"),  # single choice: exactly one
        ({"answerKey": None}, "answerKey"),
        ({"kind": "MULTIPLE_CHOICE", "answerKey": ["A", "X"]}, "answerKey"),
        ({"kind": "MULTIPLE_CHOICE", "answerKey": []}, "answerKey"),
        ({"kind": "MULTIPLE_CHOICE", "answerKey": ["A", "A"]}, "answerKey"),
        ({"kind": "TRUE_FALSE", "options": [], "answerKey": "true"}, "answerKey"),
        ({"kind": "TRUE_FALSE", "answerKey": True}, "options"),  # nothing to choose from
        ({"kind": "SHORT_TEXT", "options": [], "answerKey": {"exact": ["客户需求分析"], "regex": ".*"}}, "answerKey"),
        ({"kind": "SHORT_TEXT", "options": [], "answerKey": {"keywords": ["倾听"], "minKeywords": 2}}, "answerKey"),
        ({"kind": "SHORT_TEXT", "options": [], "answerKey": {"minKeywords": 1}}, "answerKey"),
        ({"kind": "SHORT_TEXT", "options": [], "answerKey": {"exact": ["  "]}}, "answerKey"),
        ({"kind": "SHORT_TEXT", "options": [], "answerKey": "客户需求分析"}, "answerKey"),
        ({"options": [{"key": "A", "text": "一"}, {"key": "a", "text": "二"}]}, "options"),  # keys must differ
        ({"options": [{"key": "A", "text": "一"}]}, "options"),
        ({"points": "0"}, "points"),
        ({"points": "1.25"}, "points"),
        ({"prompt": "   "}, "prompt"),
    ],
)
async def test_answer_keys_must_suit_the_kind(client, company, changes, field):
    token = await token_for(client, company.code, "HR1")
    created = await create(client, token, company, **changes)
    assert created["question"] is None
    assert (created["errors"][0]["code"], created["errors"][0]["field"]) == ("VALIDATION", field)
    assert not await Question.filter(tenant=company.tenant).exists()


@pytest.mark.parametrize(
    "changes,key",
    [
        ({"kind": "MULTIPLE_CHOICE", "answerKey": ["c", "A"]}, ["C", "A"]),
        ({"kind": "TRUE_FALSE", "options": [], "answerKey": False}, False),
        ({"kind": "SHORT_TEXT", "options": [], "answerKey": {"exact": "客户需求分析"}}, {"exact": ["客户需求分析"]}),
        (
            {"kind": "SHORT_TEXT", "options": [], "answerKey": {"keywords": ["倾听", "提问"], "minKeywords": 1}},
            {"keywords": ["倾听", "提问"], "minKeywords": 1},
        ),
        ({"kind": "SHORT_TEXT", "options": [], "answerKey": {}}, {}),  # a person grades it
        ({"kind": "SHORT_TEXT", "options": [], "answerKey": None}, {}),
    ],
)
async def test_valid_keys_of_every_kind_are_kept(client, company, changes, key):
    token = await token_for(client, company.code, "INS")
    created = await create(client, token, company, **changes)
    assert created["errors"] == [] and created["question"]["answerKey"] == key


async def test_a_quiz_is_set_versioned_and_reaches_phones_without_keys(client, company):
    hr = await token_for(client, company.code, "HR1")
    learner = await token_for(client, company.code, "LRN", device_id="lrn-phone")
    module = await quiz_module(company)
    module_id = to_global_id("CourseModule", module.id)
    single = (await create(client, hr, company, explanation="解析：EXPLAIN-77"))["question"]
    open_ = (
        await create(
            client, hr, company, kind="SHORT_TEXT", options=[], prompt="写出第一步", answerKey={"exact": [KEY_MARKER]}
        )
    )["question"]
    other_course = (await create(client, hr, company, course="A-001"))["question"]

    async def set_quiz(question_ids, **changes):
        given = {
            "moduleId": module_id,
            "title": "消防结业测验",
            "passMark": 80,
            "timeLimitSeconds": 600,
            "attemptsAllowed": 2,
            "shuffle": False,
            "reviewAllowed": False,
            "questionIds": changes.pop("questionIds", question_ids),
        }
        body = await gql(client, SET_QUIZ, {"input": {**given, **changes}}, token=hr)
        assert "errors" not in body, body
        return body["data"]["setModuleQuiz"]

    created = await set_quiz([open_["id"], single["id"]])
    assert created["errors"] == []
    quiz = created["quiz"]
    assert (quiz["version"], quiz["passMark"], quiz["attemptsAllowed"], quiz["timeLimitSeconds"]) == (1, 80, 2, 600)
    assert [q["id"] for q in quiz["questions"]] == [open_["id"], single["id"]]
    assert quiz["questions"][0]["answerKey"] == {"exact": [KEY_MARKER]}  # authors see keys

    # Refusals name the field.
    lesson = await CourseModule.get(course=company.courses["A-002"], position=1)
    for changes, field in (
        ({"questionIds": [single["id"], other_course["id"]]}, "questionIds"),  # another course's bank
        ({"questionIds": [single["id"], single["id"]]}, "questionIds"),
        ({"questionIds": []}, "questionIds"),
        ({"passMark": 101}, "passMark"),
        ({"attemptsAllowed": 0}, "attemptsAllowed"),
        ({"timeLimitSeconds": 0}, "timeLimitSeconds"),
        ({"title": ""}, "title"),
        ({"moduleId": to_global_id("CourseModule", lesson.id)}, "moduleId"),
    ):
        refused = await set_quiz(**{"question_ids": [single["id"]], **changes})
        assert (refused["errors"][0]["code"], refused["errors"][0]["field"]) == ("VALIDATION", field), changes
    assert (await Quiz.get(module=module)).version == 1

    seen = (await gql(client, MODULE_QUIZ, {"id": module_id}, token=learner))["data"]["moduleQuiz"]
    assert (seen["title"], seen["version"], [q["id"] for q in seen["questions"]]) == (
        "消防结业测验",
        1,
        [open_["id"], single["id"]],
    )

    updated = await set_quiz([single["id"]], shuffle=True, title="消防结业测验（新）")
    assert (updated["quiz"]["version"], updated["quiz"]["shuffle"]) == (2, True)
    # Changing a question on the quiz changes the quiz too.
    changed = await gql(
        client,
        UPDATE,
        {
            "input": {
                "questionId": to_global_id("Question", int(single["id"])),
                "prompt": "电器起火时首先应使用？",
                "points": "3",
            }
        },
        token=hr,
    )
    assert changed["data"]["updateQuestion"]["errors"] == []
    assert changed["data"]["updateQuestion"]["question"]["answerKey"] == ["A"]  # untouched
    assert (await Quiz.get(module=module)).version == 3
    bad = await gql(client, UPDATE, {"input": {"questionId": single["id"], "kind": "TRUE_FALSE"}}, token=hr)
    assert bad["data"]["updateQuestion"]["errors"][0]["field"] == "options"
    bad = await gql(client, UPDATE, {"input": {"questionId": single["id"], "answerKey": "Z"}}, token=hr)
    assert bad["data"]["updateQuestion"]["errors"][0]["field"] == "answerKey"
    missing = await gql(client, UPDATE, {"input": {"questionId": "999999", "prompt": "无"}}, token=hr)
    assert missing["data"]["updateQuestion"]["errors"][0]["code"] == "NOT_FOUND"

    cursor, changes, bodies = None, [], []
    while True:
        body = await gql(client, PULL, pull_input(cursor, device_id="lrn-phone"), token=learner)
        bodies.append(json.dumps(body, ensure_ascii=False))
        page = body["data"]["syncPull"]
        changes += page["changes"]
        cursor = page["cursor"]
        if not page["hasMore"]:
            break
    row = [c for c in changes if c["entity"] == "QUIZ" and c["id"] == module_id][-1]["data"]
    assert (row["version"], row["title"], row["shuffle"], row["passMark"]) == (3, "消防结业测验（新）", True, 80)
    assert row["questions"] == [
        {
            "id": single["id"],
            "kind": "SINGLE_CHOICE",
            "prompt": "电器起火时首先应使用？",
            "options": ABCD,
            "points": "3.0",
        }
    ]
    for body in bodies:
        assert KEY_MARKER not in body and "EXPLAIN-77" not in body and "answerKey" not in body
    actions = await AuditEntry.filter(tenant=company.tenant, entity__in=["Quiz", "Question"]).values_list(
        "action", flat=True
    )
    assert {"quiz.create", "quiz.update", "question.update"} <= set(actions)


async def test_unknown_courses_and_modules_are_not_found(client, company):
    hr = await token_for(client, company.code, "HR1")
    body = await gql(
        client,
        CREATE,
        {"input": {**question_input(company)["input"], "courseId": to_global_id("Course", 999999)}},
        token=hr,
    )
    assert body["data"]["createQuestion"]["errors"][0]["code"] == "NOT_FOUND"
    body = await gql(
        client,
        SET_QUIZ,
        {
            "input": {
                "moduleId": to_global_id("CourseModule", 999999),
                "title": "测验",
                "passMark": 60,
                "questionIds": ["1"],
            }
        },
        token=hr,
    )
    assert body["data"]["setModuleQuiz"]["errors"][0]["code"] == "NOT_FOUND"


async def test_the_question_bank_comes_a_page_at_a_time_oldest_first_with_its_total(client, company):
    hr = await token_for(client, company.code, "HR1")
    made = [(await create(client, hr, company, prompt=f"问题{n}"))["question"]["id"] for n in range(3)]
    await create(client, hr, company, course="A-001")  # another course's bank
    course_id = to_global_id("Course", company.courses["A-002"].id)
    page = (await gql(client, BANK_PAGE, {"id": course_id, "first": 2}, token=hr))["data"]["questionBankConnection"]
    assert [e["node"]["id"] for e in page["edges"]] == made[:2]
    assert page["edges"][0]["node"]["answerKey"] == ["A"]
    assert (page["pageInfo"]["hasNextPage"], page["pageInfo"]["hasPreviousPage"], page["totalCount"]) == (
        True,
        False,
        3,
    )
    after = page["pageInfo"]["endCursor"]
    rest = (await gql(client, BANK_PAGE, {"id": course_id, "after": after}, token=hr))["data"]["questionBankConnection"]
    assert [e["node"]["id"] for e in rest["edges"]] == made[2:]
    assert (rest["pageInfo"]["hasNextPage"], rest["pageInfo"]["hasPreviousPage"]) == (False, True)
    # The same rules as the whole bank: authors only, a course of the company.
    learner = await token_for(client, company.code, "LRN")
    denied = await gql(client, BANK_PAGE, {"id": course_id}, token=learner)
    assert denied["data"] is None and denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    bad = await gql(client, BANK_PAGE, {"id": course_id, "after": "nonsense"}, token=hr)
    assert bad["errors"][0]["extensions"]["code"] == "VALIDATION"


async def test_a_json_answer_key_reads_the_same_as_a_literal_and_as_a_variable(client, company):
    """JSON arguments written into the query text go through the same reading (and the same
    refusal of unstorable text) as variables: strawberry's JSON scalar has no literal reader."""
    token = await token_for(client, company.code, "HR1")
    course_id = to_global_id("Course", company.courses["A-002"].id)
    fields = 'kind: MULTIPLE_CHOICE, prompt: "哪些可以灭电器火？", points: "2"'
    options = ", ".join(f'{{key: "{o["key"]}", text: "{o["text"]}"}}' for o in ABCD)

    def literal(key: str) -> str:
        return (
            f'mutation {{ createQuestion(input: {{courseId: "{course_id}", {fields}, options: [{options}], '
            f"answerKey: {key}}}) {{ question {{ answerKey }} errors {{ code field }} }} }}"
        )

    body = await gql(client, literal('["A", "C"]'), {}, token=token)
    assert body["data"]["createQuestion"] == {"question": {"answerKey": ["A", "C"]}, "errors": []}
    as_variable = await create(client, token, company, kind="MULTIPLE_CHOICE", answerKey=["A", "C"])
    assert as_variable["question"]["answerKey"] == ["A", "C"]
    refused = await gql(client, literal('["A\\u0000"]'), {}, token=token)
    assert refused["errors"][0]["extensions"]["code"] == "VALIDATION", refused
