"""Feedback surveys and instructor ratings (issue 20): HR's templates and surveys, answers online
and offline exactly once, the anonymity threshold, what HR can and cannot see (read from the
tables), roles and tenants, malformed answers, two phones at once, the credit rule and the report."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from backend.ids import from_global_id, to_global_id
from backend.models import (
    ActivityRecord,
    Attendance,
    AttendanceStatus,
    CourseCompletion,
    CourseModule,
    CreditActivity,
    CreditEntry,
    CreditRule,
    Employee,
    EmployeeRole,
    Mentorship,
    ModuleProgress,
    Role,
    Survey,
    SurveyReceipt,
    SurveyResponse,
    SurveyTemplate,
    TrainingSession,
)
from backend.services.surveys import results
from tests.conftest import count_queries
from tests.factories import Company, make_company
from tests.graphql_client import gql, token_for
from tests.sync_helpers import PULL, PUSH, pull_input, push_input

QUESTIONS = [
    {"id": "q1", "kind": "LIKERT", "text": "课程内容实用", "textEn": "Useful"},
    {"id": "q2", "kind": "NPS", "text": "推荐给同事", "required": False},
    {
        "id": "q3",
        "kind": "SINGLE_CHOICE",
        "text": "时长",
        "options": [{"id": "short", "text": "偏短"}, {"id": "ok", "text": "合适"}],
    },
    {
        "id": "q4",
        "kind": "MULTIPLE_CHOICE",
        "text": "收获",
        "required": False,
        "options": [{"id": "a", "text": "案例"}, {"id": "b", "text": "演示"}, {"id": "c", "text": "练习"}],
    },
    {"id": "q5", "kind": "FREE_TEXT", "text": "建议", "required": False},
]

TEMPLATE_FIELDS = "id title titleEn anonymous version current previousId questions { id kind text textEn required options { id text } }"
CREATE = f"""mutation C($input: CreateSurveyTemplateInput!) {{
  createSurveyTemplate(input: $input) {{ template {{ {TEMPLATE_FIELDS} }} errors {{ code field message }} }} }}"""
UPDATE = f"""mutation U($input: UpdateSurveyTemplateInput!) {{
  updateSurveyTemplate(input: $input) {{ template {{ {TEMPLATE_FIELDS} }} errors {{ code field message }} }} }}"""
ATTACH = """mutation A($input: AttachSurveyInput!) {
  attachSurvey(input: $input) { survey { id targetKind courseId sessionId open template { id version } }
  errors { code field message } } }"""
CLOSE = """mutation X($input: CloseSurveyInput!) { closeSurvey(input: $input) { survey { id open closedAt }
  errors { code } } }"""
SUBMIT = """mutation S($input: SubmitSurveyResponseInput!) {
  submitSurveyResponse(input: $input) { result { id status code message originalStatus } errors { code field } } }"""
RESULTS = """query R($filter: SurveyResultsFilter!) { surveyResults(filter: $filter) {
  template { id version anonymous } surveys shown minimumAnswers responses averageRating
  questions { questionId kind answered average npsScore values { value count } options { optionId count } freeTexts }
} }"""
MY = "{ mySurveys { survey { id template { title } } answered eligible } }"
TEMPLATES = "{ surveyTemplates(first: 10) { totalCount edges { node { id version } } } }"


def gid(type_name: str, row_id: int) -> str:
    return to_global_id(type_name, row_id)


class World:
    """A company with HR1, an instructor INS, a past session of S-001 INS taught, and learners
    L01…L07 who completed S-001 and checked out of that session (LRN completed S-001 too)."""

    def __init__(self, client, company: Company, session: TrainingSession) -> None:
        self.client, self.company, self.session = client, company, session
        self.tokens: dict[tuple[str, str], str] = {}

    @property
    def code(self) -> str:
        return self.company.tenant.code

    async def token(self, no: str, device: str = "device-1") -> str:
        if (no, device) not in self.tokens:
            self.tokens[(no, device)] = await token_for(self.client, self.code, no, device_id=device)
        return self.tokens[(no, device)]

    async def gql(self, no: str, query: str, variables: dict | None = None, device: str = "device-1") -> dict:
        return await gql(self.client, query, variables, token=await self.token(no, device))

    async def template(self, anonymous: bool = True, questions: list | None = None) -> dict:
        body = await self.gql(
            "HR1",
            CREATE,
            {"input": {"title": "课程反馈", "anonymous": anonymous, "questions": questions or QUESTIONS}},
        )
        payload = body["data"]["createSurveyTemplate"]
        assert payload["errors"] == [], payload
        return payload["template"]

    async def attach(self, template_id: str, **target: str) -> str:
        body = await self.gql("HR1", ATTACH, {"input": {"templateId": template_id, **target}})
        payload = body["data"]["attachSurvey"]
        assert payload["errors"] == [], payload
        return payload["survey"]["id"]

    async def answer(self, no: str, survey_id: str, answers: Any, client_id: str | None = None) -> dict:
        body = await self.gql(
            no,
            SUBMIT,
            {"input": {"surveyId": survey_id, "answers": answers, "clientId": client_id or str(uuid.uuid4())}},
        )
        assert "errors" not in body, body
        return body["data"]["submitSurveyResponse"]

    async def results(self, no: str, **filter: str) -> dict:
        return await self.gql(no, RESULTS, {"filter": filter})


LEARNERS = [f"L{i:02d}" for i in range(1, 8)]


@pytest.fixture
async def world(client, password_hash) -> World:
    company = await make_company(password_hash)
    tenant = company.tenant
    root = company.org_units["east"]
    hq = company.sites["hq"]
    instructor = await Employee.create(
        tenant=tenant, employee_no="INS", name="唐讲师", password_hash=password_hash, org_unit=root, site=hq
    )
    for role in (Role.EMPLOYEE, Role.INSTRUCTOR):
        await EmployeeRole.create(tenant=tenant, employee=instructor, role=role)
    company.employees["INS"] = instructor
    starts = datetime.now(UTC) - timedelta(days=2)
    session = await TrainingSession.create(
        tenant=tenant,
        course=company.courses["S-001"],
        title="销售基础 · 第 1 期",
        instructor=instructor,
        site=hq,
        starts_at=starts,
        ends_at=starts + timedelta(hours=2),
        capacity=30,
        secret="0" * 64,
    )
    for no in LEARNERS:
        learner = await Employee.create(
            tenant=tenant,
            employee_no=no,
            name=f"学员{no}",
            password_hash=password_hash,
            org_unit=root,
            site=hq,
            position=company.employees["LRN"].position,
        )
        await EmployeeRole.create(tenant=tenant, employee=learner, role=Role.EMPLOYEE)
        company.employees[no] = learner
        await CourseCompletion.create(
            tenant=tenant, employee=learner, course=company.courses["S-001"], completed_at=starts
        )
        await Attendance.create(
            tenant=tenant,
            session=session,
            employee=learner,
            status=AttendanceStatus.PRESENT,
            checked_in_at=starts,
            checked_out_at=starts + timedelta(hours=2),
        )
    return World(client, company, session)


def good(index: int = 0) -> dict[str, Any]:
    return {
        "q1": 1 + index % 5,
        "q2": 10 - index,
        "q3": "ok" if index % 2 else "short",
        "q4": ["a", "c"],
        "q5": f"建议{index}",
    }


# --- templates -------------------------------------------------------------------------------------


async def test_hr_builds_a_template_and_an_edit_after_answers_makes_a_new_version(world):
    template = await world.template()
    assert (template["version"], template["current"], template["anonymous"]) == (1, True, True)
    assert [q["kind"] for q in template["questions"]] == [
        "LIKERT",
        "NPS",
        "SINGLE_CHOICE",
        "MULTIPLE_CHOICE",
        "FREE_TEXT",
    ]
    # Without answers an edit changes it in place.
    body = await world.gql("HR1", UPDATE, {"input": {"templateId": template["id"], "title": "课程反馈（新）"}})
    edited = body["data"]["updateSurveyTemplate"]["template"]
    assert (edited["id"], edited["version"]) == (template["id"], 1)
    survey_id = await world.attach(template["id"], courseId=gid("Course", world.company.courses["S-001"].id))
    assert (await world.answer("L01", survey_id, good()))["result"]["status"] == "ACCEPTED"
    # Frozen now: the edit is version 2, the old one stays with its survey and answers.
    body = await world.gql("HR1", UPDATE, {"input": {"templateId": template["id"], "anonymous": False}})
    second = body["data"]["updateSurveyTemplate"]["template"]
    assert (second["version"], second["previousId"], second["anonymous"]) == (2, template["id"], False)
    assert second["id"] != template["id"]
    body = await world.gql("HR1", UPDATE, {"input": {"templateId": template["id"], "title": "旧版"}})
    assert body["data"]["updateSurveyTemplate"]["errors"][0]["code"] == "INVALID_STATUS_CHANGE"
    survey = await Survey.get(tenant=world.company.tenant)
    assert (await SurveyTemplate.get(id=survey.template_id)).version == 1
    listed = (await world.gql("HR1", TEMPLATES))["data"]["surveyTemplates"]
    assert [edge["node"]["version"] for edge in listed["edges"]] == [2]


async def test_anonymity_never_changes_in_place_once_attached(world):
    """An offline phone may hold an answer written under the survey's anonymity promise: making an
    attached (still unanswered) anonymous template named is a new version, the survey keeps its own."""
    template = await world.template()
    survey_id = await world.attach(template["id"], courseId=gid("Course", world.company.courses["S-001"].id))
    body = await world.gql("HR1", UPDATE, {"input": {"templateId": template["id"], "anonymous": False}})
    changed = body["data"]["updateSurveyTemplate"]["template"]
    assert (changed["version"], changed["previousId"], changed["anonymous"]) == (2, template["id"], False)
    assert (await world.answer("L01", survey_id, good()))["result"]["status"] == "ACCEPTED"
    (response,) = await SurveyResponse.filter(tenant=world.company.tenant)
    assert (response.employee_id, response.answered_on) == (None, None)
    # Other edits of an unanswered template still change it in place.
    body = await world.gql("HR1", UPDATE, {"input": {"templateId": changed["id"], "title": "改名"}})
    assert body["data"]["updateSurveyTemplate"]["template"]["version"] == 2


@pytest.mark.parametrize(
    ("questions", "field"),
    [
        ([], "questions"),
        ([{"id": "q 1", "kind": "LIKERT", "text": "x"}], "questions.0.id"),
        ([{"id": "q1", "kind": "LIKERT", "text": " "}], "questions.0.text"),
        ([{"id": "q1", "kind": "LIKERT", "text": "x"}, {"id": "q1", "kind": "NPS", "text": "y"}], "questions"),
        (
            [{"id": "q1", "kind": "SINGLE_CHOICE", "text": "x", "options": [{"id": "a", "text": "甲"}]}],
            "questions.0.options",
        ),
        (
            [
                {
                    "id": "q1",
                    "kind": "SINGLE_CHOICE",
                    "text": "x",
                    "options": [{"id": "a", "text": "甲"}, {"id": "a", "text": "乙"}],
                }
            ],
            "questions.0.options",
        ),
        (
            [
                {
                    "id": "q1",
                    "kind": "LIKERT",
                    "text": "x",
                    "options": [{"id": "a", "text": "甲"}, {"id": "b", "text": "乙"}],
                }
            ],
            "questions.0.options",
        ),
        ([{"id": "q1", "kind": "FREE_TEXT", "text": "长" * 501}], "questions.0.text"),
    ],
)
async def test_a_bad_template_is_refused_naming_the_field(world, questions, field):
    body = await world.gql("HR1", CREATE, {"input": {"title": "坏模板", "questions": questions}})
    errors = body["data"]["createSurveyTemplate"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [("VALIDATION", field)]
    assert await SurveyTemplate.filter(tenant=world.company.tenant).count() == 0


async def test_attach_needs_exactly_one_target_of_the_company(world, password_hash):
    template = await world.template()
    body = await world.gql("HR1", ATTACH, {"input": {"templateId": template["id"]}})
    assert body["data"]["attachSurvey"]["errors"][0]["code"] == "VALIDATION"
    other = await make_company(password_hash)
    body = await world.gql(
        "HR1", ATTACH, {"input": {"templateId": template["id"], "courseId": gid("Course", other.courses["S-001"].id)}}
    )
    assert [(e["code"], e["field"]) for e in body["data"]["attachSurvey"]["errors"]] == [("NOT_FOUND", "courseId")]
    await world.attach(template["id"], sessionId=gid("TrainingSession", world.session.id))
    survey = await Survey.get(tenant=world.company.tenant)
    assert (survey.target_kind, survey.course_id) == ("SESSION", world.company.courses["S-001"].id)


# --- answering -------------------------------------------------------------------------------------


async def test_online_answer_once_retry_is_duplicate_and_a_second_answer_is_refused(world):
    template = await world.template()
    survey_id = await world.attach(template["id"], courseId=gid("Course", world.company.courses["S-001"].id))
    client_id = str(uuid.uuid4())
    first = await world.answer("L01", survey_id, good(), client_id)
    assert (first["result"]["status"], first["errors"]) == ("ACCEPTED", [])
    retry = await world.answer("L01", survey_id, good(), client_id)
    assert (retry["result"]["status"], retry["result"]["originalStatus"]) == ("DUPLICATE", "ACCEPTED")
    # A retry is a duplicate whatever answers it carries: the server keeps none to compare (the first stand).
    changed = await world.answer("L01", survey_id, good(3), client_id)
    assert changed["result"]["status"] == "DUPLICATE"
    second = await world.answer("L01", survey_id, good(2))
    assert (second["result"]["status"], second["result"]["code"]) == ("REJECTED", "SURVEY_ALREADY_ANSWERED")
    assert (
        "已"
        in (
            await gql(
                world.client,
                SUBMIT,
                {"input": {"surveyId": survey_id, "answers": good()}},
                token=await world.token("L01"),
                language="zh-CN",
            )
        )["data"]["submitSurveyResponse"]["result"]["message"]
    )
    assert await SurveyResponse.filter(tenant=world.company.tenant).count() == 1
    assert await SurveyReceipt.filter(tenant=world.company.tenant).count() == 1
    my = (await world.gql("L01", MY))["data"]["mySurveys"]
    assert [(s["answered"], s["eligible"]) for s in my] == [(True, False)]


async def test_offline_push_answers_and_the_feed_carries_the_survey(world):
    template = await world.template()
    survey_id = await world.attach(template["id"], sessionId=gid("TrainingSession", world.session.id))
    token = await world.token("L02", "phone-2")
    record_id = str(uuid.uuid4())
    record = {
        "id": record_id,
        "seq": 1,
        "kind": "SURVEY_RESPONSE",
        "occurredAt": (datetime.now(UTC) - timedelta(hours=3)).isoformat(),
        "payload": {"surveyId": survey_id, "answers": good(1)},
    }
    body = await gql(world.client, PUSH, push_input([record], device_id="phone-2"), token=token)
    assert [r["status"] for r in body["data"]["syncPush"]["results"]] == ["ACCEPTED"]
    body = await gql(world.client, PUSH, push_input([record], device_id="phone-2"), token=token)
    assert [r["status"] for r in body["data"]["syncPush"]["results"]] == ["DUPLICATE"]
    again = {**record, "id": str(uuid.uuid4()), "seq": 2}
    body = await gql(world.client, PUSH, push_input([again], device_id="phone-2"), token=token)
    assert [(r["status"], r["code"]) for r in body["data"]["syncPush"]["results"]] == [
        ("REJECTED", "SURVEY_ALREADY_ANSWERED")
    ]
    # The instructor rated is kept with the answers, the respondent is not (anonymous).
    (response,) = await SurveyResponse.filter(tenant=world.company.tenant)
    assert (response.subject_id, response.employee_id, response.answered_on) == (
        world.company.employees["INS"].id,
        None,
        None,
    )
    # The feed: the survey with its questions, answered by this viewer.
    body = await gql(world.client, PULL, pull_input(None, 500, device_id="phone-2"), token=token)
    # (Marked for everyone when attached and for the viewer when answered: the same row, maybe twice.)
    rows = [c for c in body["data"]["syncPull"]["changes"] if c["entity"] == "SURVEY"]
    assert {(r["id"], r["data"]["answered"], len(r["data"]["questions"])) for r in rows} == {(survey_id, True, 5)}
    other = await gql(
        world.client, PULL, pull_input(None, 500, device_id="phone-3"), token=await world.token("L03", "phone-3")
    )
    rows = [c for c in other["data"]["syncPull"]["changes"] if c["entity"] == "SURVEY"]
    assert [r["data"]["answered"] for r in rows] == [False]


async def test_eligibility_and_closed_surveys(world):
    template = await world.template()
    session_survey = await world.attach(template["id"], sessionId=gid("TrainingSession", world.session.id))
    module_id = (await CourseModule.filter(course=world.company.courses["S-001"]).order_by("position").first()).id
    module_survey = await world.attach(template["id"], moduleId=gid("CourseModule", module_id))
    # LRN completed S-001 but never checked out of the session nor completed the module.
    for survey_id in (session_survey, module_survey):
        refused = await world.answer("LRN", survey_id, good())
        assert refused["result"]["code"] == "SURVEY_NOT_ELIGIBLE"
    # OTH never took S-001: not even its course survey.
    course_survey = await world.attach(template["id"], courseId=gid("Course", world.company.courses["S-001"].id))
    assert (await world.answer("OTH", course_survey, good()))["result"]["code"] == "SURVEY_NOT_ELIGIBLE"
    assert (await world.answer("LRN", course_survey, good()))["result"]["status"] == "ACCEPTED"
    body = await world.gql("HR1", CLOSE, {"input": {"surveyId": session_survey}})
    assert body["data"]["closeSurvey"]["survey"]["open"] is False
    assert (await world.answer("L01", session_survey, good()))["result"]["code"] == "SURVEY_CLOSED"


async def test_my_surveys_costs_the_same_queries_whatever_the_number_of_surveys(world):
    template = await world.template()
    module_id = (await CourseModule.filter(course=world.company.courses["S-001"]).order_by("position").first()).id
    targets = {
        "sessionId": gid("TrainingSession", world.session.id),
        "courseId": gid("Course", world.company.courses["S-001"].id),
        "moduleId": gid("CourseModule", module_id),
    }

    async def mine() -> tuple[int, list[tuple[str, bool]]]:
        await world.token("L01")  # signed in before counting
        with count_queries() as statements:
            body = await world.gql("L01", MY)
        assert "errors" not in body, body
        kinds = {s.id: s.target_kind.value for s in await Survey.filter(tenant=world.company.tenant)}
        return len(statements), sorted(
            {(kinds[from_global_id(s["survey"]["id"])[1]], s["eligible"]) for s in body["data"]["mySurveys"]}
        )

    for name, target in targets.items():
        await world.attach(template["id"], **{name: target})
    few, eligible = await mine()
    # L01 checked out of the session and completed the course, never the module.
    assert eligible == [("COURSE", True), ("MODULE", False), ("SESSION", True)]
    for _ in range(3):
        for name, target in targets.items():
            await world.attach(template["id"], **{name: target})
    many, eligible = await mine()
    assert many == few and eligible == [("COURSE", True), ("MODULE", False), ("SESSION", True)]


@pytest.mark.parametrize(
    ("answers", "name"),
    [
        ({"q1": 6, "q3": "ok"}, "answers.q1"),
        ({"q1": 0, "q3": "ok"}, "answers.q1"),
        ({"q1": 1e30, "q3": "ok"}, "answers.q1"),
        ({"q1": 3.0, "q3": "ok"}, "answers.q1"),
        ({"q1": "５", "q3": "ok"}, "answers.q1"),
        ({"q1": True, "q3": "ok"}, "answers.q1"),
        ({"q1": 3, "q2": 11, "q3": "ok"}, "answers.q2"),
        ({"q1": 3, "q2": -1, "q3": "ok"}, "answers.q2"),
        ({"q1": 3, "q3": "long"}, "answers.q3"),
        ({"q1": 3, "q3": ["ok"]}, "answers.q3"),
        ({"q1": 3, "q3": "ok", "q4": ["a", "a"]}, "answers.q4"),
        ({"q1": 3, "q3": "ok", "q4": []}, "answers.q4"),
        ({"q1": 3, "q3": "ok", "q4": ["z"]}, "answers.q4"),
        ({"q1": 3, "q3": "ok", "q5": "长" * 2001}, "answers.q5"),
        ({"q1": 3, "q3": "ok", "q5": 12}, "answers.q5"),
        ({"q1": 3, "q3": "ok", "q9": 1}, "answers.q9"),
        ({"q3": "ok"}, "answers.q1"),
        ({"q1": 3, "q3": "ok", "q5": "   "} | {"q1": None}, "answers.q1"),
        ([1, 2], "answers"),
        ("都很好", "answers"),
        ({"q 1": 3}, "answers"),
    ],
)
async def test_malformed_answers_are_refused_naming_the_field(world, answers, name):
    template = await world.template()
    survey_id = await world.attach(template["id"], courseId=gid("Course", world.company.courses["S-001"].id))
    token = await world.token("L04", "phone-4")
    record = {
        "id": str(uuid.uuid4()),
        "seq": 1,
        "kind": "SURVEY_RESPONSE",
        "occurredAt": datetime.now(UTC).isoformat(),
        "payload": {"surveyId": survey_id, "answers": answers},
    }
    body = await gql(world.client, PUSH, push_input([record], device_id="phone-4"), token=token)
    (result,) = body["data"]["syncPush"]["results"]
    assert (result["status"], result["code"]) == ("REJECTED", "INVALID_PAYLOAD"), result
    assert name in result["message"]
    assert await SurveyReceipt.filter(tenant=world.company.tenant).count() == 0
    # A refused answer does not use up the person's one answer.
    assert (await world.answer("L04", survey_id, good()))["result"]["status"] == "ACCEPTED"


async def test_a_payload_that_is_not_an_object_or_names_another_kind_of_id(world):
    token = await world.token("L05", "phone-5")
    for seq, payload in enumerate(([1], {"surveyId": gid("Course", 1), "answers": {}}), 1):
        record = {
            "id": str(uuid.uuid4()),
            "seq": seq,
            "kind": "SURVEY_RESPONSE",
            "occurredAt": datetime.now(UTC).isoformat(),
            "payload": payload,
        }
        body = await gql(world.client, PUSH, push_input([record], device_id="phone-5"), token=token)
        assert body["data"]["syncPush"]["results"][0]["code"] in ("INVALID_PAYLOAD", "VALIDATION"), body


async def test_two_phones_answering_at_once_keep_one_answer(world):
    template = await world.template()
    survey_id = await world.attach(template["id"], courseId=gid("Course", world.company.courses["S-001"].id))
    tokens = [await world.token("L06", device) for device in ("phone-a", "phone-b")]

    async def send(token: str, device: str, index: int) -> str:
        record = {
            "id": str(uuid.uuid4()),
            "seq": 1,
            "kind": "SURVEY_RESPONSE",
            "occurredAt": datetime.now(UTC).isoformat(),
            "payload": {"surveyId": survey_id, "answers": good(index)},
        }
        body = await gql(world.client, PUSH, push_input([record], device_id=device), token=token)
        result = body["data"]["syncPush"]["results"][0]
        return f"{result['status']}:{result['code']}"

    outcomes = await asyncio.gather(send(tokens[0], "phone-a", 1), send(tokens[1], "phone-b", 2))
    assert sorted(outcomes) == ["ACCEPTED:None", "REJECTED:SURVEY_ALREADY_ANSWERED"]
    assert await SurveyResponse.filter(tenant=world.company.tenant).count() == 1


async def test_a_double_submit_with_one_client_id_at_once_is_one_answer_and_a_duplicate(world):
    """A phone on a bad network sends the online mutation again (same clientId) before the first
    came back: one is ACCEPTED, the other its DUPLICATE, never an error."""
    template = await world.template()
    survey_id = await world.attach(template["id"], courseId=gid("Course", world.company.courses["S-001"].id))
    client_id = str(uuid.uuid4())
    await world.token("L07")
    first, second = await asyncio.gather(
        world.answer("L07", survey_id, good(1), client_id), world.answer("L07", survey_id, good(2), client_id)
    )
    statuses = sorted((p["result"]["status"], p["result"]["originalStatus"]) for p in (first, second))
    assert statuses == [("ACCEPTED", None), ("DUPLICATE", "ACCEPTED")]
    assert first["result"]["id"] == second["result"]["id"] == client_id
    assert await SurveyResponse.filter(tenant=world.company.tenant).count() == 1


# --- what is kept, and what HR sees ------------------------------------------------------------------


async def test_anonymous_rows_keep_no_link_to_the_person(world):
    template = await world.template()
    survey_id = await world.attach(template["id"], courseId=gid("Course", world.company.courses["S-001"].id))
    for index, no in enumerate(LEARNERS[:5]):
        assert (await world.answer(no, survey_id, good(index)))["result"]["status"] == "ACCEPTED"
    tenant = world.company.tenant
    responses = await SurveyResponse.filter(tenant=tenant)
    receipts = await SurveyReceipt.filter(tenant=tenant).order_by("id")
    assert len(responses) == len(receipts) == 5
    assert all(r.employee_id is None and r.answered_on is None for r in responses)
    assert {r.id.version for r in responses} == {4}  # random UUIDs, nothing counted in arrival order
    columns = set(SurveyResponse._meta.db_fields)
    assert not columns & {"employee_no", "device_id", "created_at", "updated_at", "record_id"}
    # The stored records keep the survey, never the answers (nor a hash of them).
    records = await ActivityRecord.filter(tenant_id=tenant.id, kind="SURVEY_RESPONSE")
    assert len(records) == 5 and all(set(r.payload) == {"surveyId"} for r in records)
    stored = json.dumps([r.payload for r in records], ensure_ascii=False)
    assert "建议" not in stored
    # Unknown keys are accepted (newer phones) but only the survey is kept: whatever else a payload
    # carries could hold what the person answered.
    token = await world.token(LEARNERS[5], "phone-x")
    extra = {"surveyId": survey_id, "answers": good(5), "answersCopy": {"q5": "秘密"}, "note": "秘密"}
    record = {
        "id": str(uuid.uuid4()),
        "seq": 1,
        "kind": "SURVEY_RESPONSE",
        "occurredAt": datetime.now(UTC).isoformat(),
        "payload": extra,
    }
    body = await gql(world.client, PUSH, push_input([record], device_id="phone-x"), token=token)
    assert body["data"]["syncPush"]["results"][0]["status"] == "ACCEPTED"
    kept = await ActivityRecord.get(id=record["id"])
    assert kept.payload == {"surveyId": survey_id}
    # Results never name anyone; free texts come ordered by text, not by arrival.
    group = (await world.results("HR1", surveyId=survey_id))["data"]["surveyResults"][0]
    texts = next(q for q in group["questions"] if q["questionId"] == "q5")["freeTexts"]
    assert texts == sorted(texts)
    assert "L0" not in json.dumps(group)


async def test_anonymity_threshold_four_answers_show_nothing_five_show(world):
    template = await world.template()
    survey_id = await world.attach(template["id"], sessionId=gid("TrainingSession", world.session.id))
    for index, no in enumerate(LEARNERS[:4]):
        await world.answer(no, survey_id, good(index))
    (group,) = (await world.results("HR1", surveyId=survey_id))["data"]["surveyResults"]
    assert (group["shown"], group["responses"], group["questions"], group["averageRating"]) == (False, None, [], None)
    assert group["minimumAnswers"] == 5
    # Nor through the instructor, the course or the report.
    for filter in (
        {"instructorId": gid("Employee", world.company.employees["INS"].id)},
        {"courseId": gid("Course", world.company.courses["S-001"].id)},
    ):
        assert [g["shown"] for g in (await world.results("HR1", **filter))["data"]["surveyResults"]] == [False]
    await world.answer(LEARNERS[4], survey_id, good(4))
    (group,) = (await world.results("HR1", surveyId=survey_id))["data"]["surveyResults"]
    assert (group["shown"], group["responses"]) == (True, 5)
    likert = next(q for q in group["questions"] if q["questionId"] == "q1")
    assert likert["answered"] == 5 and likert["average"] == 3.0
    assert [v["count"] for v in likert["values"]] == [1, 1, 1, 1, 1]
    nps = next(q for q in group["questions"] if q["questionId"] == "q2")
    # Scores 10, 9, 8, 7, 6: two promoters, one detractor.
    assert (nps["npsScore"], nps["average"]) == (20, 8.0)
    choice = next(q for q in group["questions"] if q["questionId"] == "q3")
    assert {o["optionId"]: o["count"] for o in choice["options"]} == {"short": 3, "ok": 2}
    assert group["averageRating"] == 3.0


async def test_a_cell_under_the_threshold_counts_nowhere(world):
    """Two sessions of INS: one with 5 answers, one with 2. The instructor's results are the first
    session's alone, so subtracting one result from another reveals no small group."""
    template = await world.template()
    first = await world.attach(template["id"], sessionId=gid("TrainingSession", world.session.id))
    second_session = await TrainingSession.create(
        tenant=world.company.tenant,
        course=world.company.courses["S-001"],
        title="第 2 期",
        instructor=world.company.employees["INS"],
        site=world.company.sites["hq"],
        starts_at=world.session.starts_at,
        ends_at=world.session.ends_at,
        capacity=5,
        secret="1" * 64,
    )
    for no in LEARNERS[5:7]:
        await Attendance.create(
            tenant=world.company.tenant,
            session=second_session,
            employee=world.company.employees[no],
            status=AttendanceStatus.PRESENT,
            checked_in_at=world.session.starts_at,
            checked_out_at=world.session.ends_at,
        )
    second = await world.attach(template["id"], sessionId=gid("TrainingSession", second_session.id))
    for index, no in enumerate(LEARNERS[:5]):
        await world.answer(no, first, good(index))
    for no in LEARNERS[5:7]:
        await world.answer(no, second, good(0))
    instructor = gid("Employee", world.company.employees["INS"].id)
    (group,) = (await world.results("HR1", instructorId=instructor))["data"]["surveyResults"]
    assert (group["surveys"], group["responses"]) == (2, 5)
    (group,) = (await world.results("HR1", surveyId=second))["data"]["surveyResults"]
    assert group["shown"] is False


async def test_named_surveys_keep_the_person_and_show_any_count(world):
    template = await world.template(anonymous=False)
    survey_id = await world.attach(template["id"], courseId=gid("Course", world.company.courses["S-001"].id))
    await world.answer("L01", survey_id, good())
    (response,) = await SurveyResponse.filter(tenant=world.company.tenant)
    assert response.employee_id == world.company.employees["L01"].id and response.answered_on is not None
    (group,) = (await world.results("HR1", surveyId=survey_id))["data"]["surveyResults"]
    assert (group["shown"], group["responses"]) == (True, 1)


# --- roles and tenants ---------------------------------------------------------------------------------


async def test_role_and_tenant_matrix(world, password_hash):
    template = await world.template()
    course = gid("Course", world.company.courses["S-001"].id)
    survey_id = await world.attach(template["id"], sessionId=gid("TrainingSession", world.session.id))
    for index, no in enumerate(LEARNERS[:5]):
        await world.answer(no, survey_id, good(index))
    # Writes: HR only.
    for no in ("LRN", "MGR", "INS"):
        body = await world.gql(no, CREATE, {"input": {"title": "x", "questions": QUESTIONS}})
        assert body["data"]["createSurveyTemplate"]["errors"][0]["code"] == "FORBIDDEN"
        body = await world.gql(no, ATTACH, {"input": {"templateId": template["id"], "courseId": course}})
        assert body["data"]["attachSurvey"]["errors"][0]["code"] == "FORBIDDEN"
        body = await world.gql(no, CLOSE, {"input": {"surveyId": survey_id}})
        assert body["data"]["closeSurvey"]["errors"][0]["code"] == "FORBIDDEN"
        body = await world.gql(no, TEMPLATES)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # Results: a learner FORBIDDEN; MGR (a manager and mentor) only answers rating MGR (none here);
    # the instructor their own, nobody else's.
    body = await world.results("LRN", surveyId=survey_id)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    (mentor_view,) = (await world.results("MGR", surveyId=survey_id))["data"]["surveyResults"]
    assert (mentor_view["shown"], mentor_view["responses"], mentor_view["questions"]) == (False, None, [])
    (own,) = (await world.results("INS", surveyId=survey_id))["data"]["surveyResults"]
    assert (own["shown"], own["responses"]) == (True, 5)
    body = await world.results("INS", instructorId=gid("Employee", world.company.employees["MGR"].id))
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # Another company's HR sees none of it, and cannot attach this company's template or answer.
    other = await make_company(password_hash)
    other_hr = await token_for(world.client, other.tenant.code, "HR1")
    body = await gql(world.client, RESULTS, {"filter": {"surveyId": survey_id}}, token=other_hr)
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    body = await gql(
        world.client, ATTACH, {"input": {"templateId": template["id"], "courseId": course}}, token=other_hr
    )
    assert body["data"]["attachSurvey"]["errors"][0]["code"] == "NOT_FOUND"
    other_lrn = await token_for(world.client, other.tenant.code, "LRN")
    body = await gql(world.client, SUBMIT, {"input": {"surveyId": survey_id, "answers": good()}}, token=other_lrn)
    assert body["data"]["submitSurveyResponse"]["result"]["code"] == "NOT_FOUND"
    assert (await gql(world.client, MY, token=other_lrn))["data"]["mySurveys"] == []


# --- credits and the report ------------------------------------------------------------------------


async def test_a_credit_rule_on_answering_a_course_survey(world):
    tenant = world.company.tenant
    await CreditRule.create(
        tenant=tenant,
        rule_key="survey",
        name="回答课程问卷",
        activity=CreditActivity.SURVEY_ANSWERED,
        course=world.company.courses["S-001"],
        credits=5,
    )
    template = await world.template()
    survey_id = await world.attach(template["id"], courseId=gid("Course", world.company.courses["S-001"].id))
    await world.answer("L01", survey_id, good())
    await world.answer("L01", survey_id, good())  # refused: earns nothing more
    entries = await CreditEntry.filter(tenant=tenant, employee=world.company.employees["L01"])
    assert [e.amount for e in entries] == [5]


async def test_the_instructor_report_shows_the_rating_past_the_threshold(world):
    template = await world.template()
    survey_id = await world.attach(template["id"], sessionId=gid("TrainingSession", world.session.id))
    day = world.session.starts_at.date()
    report = """query I($filter: ReportFilterInput!) { instructorReport(filter: $filter) {
      instructors { person { employeeNo } averageRating ratingCount } } }"""
    period = {"from": (day - timedelta(days=1)).isoformat(), "to": (day + timedelta(days=1)).isoformat()}

    async def line() -> dict:
        body = await world.gql("HR1", report, {"filter": period})
        assert "errors" not in body, body
        return next(i for i in body["data"]["instructorReport"]["instructors"] if i["person"]["employeeNo"] == "INS")

    for index, no in enumerate(LEARNERS[:4]):
        await world.answer(no, survey_id, good(index))
    assert (await line())["averageRating"] is None and (await line())["ratingCount"] == 0
    await world.answer(LEARNERS[4], survey_id, good(4))
    assert await line() == {"person": {"employeeNo": "INS"}, "averageRating": 3.0, "ratingCount": 5}


def test_the_threshold_and_nps_helpers():
    assert results.nps_score([]) is None and results.nps_score([10, 0]) == 0 and results.nps_score([9] * 3) == 100
    rows = [{"survey_id": 1, "subject_id": 2}] * 4 + [{"survey_id": 2, "subject_id": None}]
    assert results.kept_cells(rows, {1: True, 2: False}) == [{"survey_id": 2, "subject_id": None}]


async def test_module_surveys_rate_the_mentor_in_results_and_the_report(world):
    """Five mentees of MGR who completed module 1 of S-001 answer its survey: the answers rate MGR
    (the respondent's mentor), who sees them, and the mentors report carries the rating."""
    tenant, company = world.company.tenant, world.company
    module = await CourseModule.filter(course=company.courses["S-001"]).order_by("position").first()
    for no in LEARNERS[:5]:
        await Mentorship.create(
            tenant=tenant, mentor=company.employees["MGR"], mentee=company.employees[no], starts_on=date(2026, 1, 1)
        )
        await ModuleProgress.create(
            tenant=tenant,
            employee=company.employees[no],
            module=module,
            course=company.courses["S-001"],
            completed_count=1,
        )
    template = await world.template()
    survey_id = await world.attach(template["id"], moduleId=gid("CourseModule", module.id))
    for index, no in enumerate(LEARNERS[:5]):
        assert (await world.answer(no, survey_id, good(index)))["result"]["status"] == "ACCEPTED"
    assert {r.subject_id for r in await SurveyResponse.filter(tenant=tenant)} == {company.employees["MGR"].id}
    (own,) = (await world.results("MGR", mentorId=gid("Employee", company.employees["MGR"].id)))["data"][
        "surveyResults"
    ]
    assert (own["shown"], own["responses"], own["averageRating"]) == (True, 5, 3.0)
    today = datetime.now(UTC).date()
    report = """query M($filter: ReportFilterInput!) { mentorReport(filter: $filter) {
      mentors { person { employeeNo } averageRating ratingCount } } }"""
    period = {"from": (today - timedelta(days=7)).isoformat(), "to": today.isoformat()}
    body = await world.gql("HR1", report, {"filter": period})
    line = next(m for m in body["data"]["mentorReport"]["mentors"] if m["person"]["employeeNo"] == "MGR")
    assert (line["averageRating"], line["ratingCount"]) == (3.0, 5)
