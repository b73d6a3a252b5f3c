"""Rubrics and mentor evaluations: rubric management by HR, drafts made offline and edited from
two devices (CONFLICT with the server copy), submission (final, weighted percent, skill evidence,
an ASSESSMENT module completed at the bar), who may score (only the current mentor), HR's
supersede with a reason (audited), and who may read what (drafts are the mentor's alone)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from backend.ids import to_global_id
from backend.models import (
    AuditEntry,
    CourseModule,
    CourseSkill,
    Employee,
    EmployeeRole,
    MentorEvaluation,
    Mentorship,
    ModuleKind,
    ModuleProgress,
    Role,
    RubricCriterion,
    SkillEvidence,
)
from tests.factories import make_company
from tests.graphql_client import gql, token_for
from tests.sync_helpers import PULL, PUSH, pull_input, push_input

CREATE_RUBRIC = """
mutation C($input: CreateRubricInput!) {
  createRubric(input: $input) {
    rubric { id code title scaleMin scaleMax criteria { id position title weight descriptors { score text } } }
    errors { code field message }
  }
}
"""
SET_MODULE_RUBRIC = """
mutation S($input: SetModuleRubricInput!) {
  setModuleRubric(input: $input) { module { id passScore } rubric { id code } errors { code field } }
}
"""
RUBRIC = "query R($id: ID!) { rubric(id: $id) { id code scaleMin scaleMax criteria { title weight } } }"
MODULE_RUBRIC = "query R($id: ID!) { moduleRubric(moduleId: $id) { id code } }"
SAVE = """
mutation S($input: SaveMentorEvaluationInput!) {
  saveMentorEvaluation(input: $input) { result { status code message serverVersion } errors { code } }
}
"""
SUPERSEDE = """
mutation S($input: SupersedeEvaluationInput!) {
  supersedeEvaluation(input: $input) {
    evaluation { id status percent supersededReason mentor { employeeNo } supersedes { id status } }
    errors { code field }
  }
}
"""
EVALUATION = """
query E($id: ID!) { evaluation(id: $id) {
  id status version percent comment submittedAt supersededReason
  mentee { employeeNo } mentor { employeeNo } module { id } rubric { code }
  scores { criterion { title weight } score } } }
"""
EVALUATIONS = """
query L($mentee: ID, $module: ID, $first: Int!, $after: String) {
  evaluations(menteeId: $mentee, moduleId: $module, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { id status } } } }
"""

PAST = datetime.now(UTC) - timedelta(hours=2)


@pytest.fixture
async def company(password_hash):
    company = await make_company(password_hash)
    tenant = company.tenant
    # An ASSESSMENT module scored with the ROLEPLAY rubric, bar 70, and a skill the course teaches.
    company.assessment = await CourseModule.create(
        tenant=tenant,
        course=company.courses["S-002"],
        position=3,
        title="客户拜访考核",
        kind=ModuleKind.ASSESSMENT,
        credits=Decimal("1.0"),
        required_count=1,
        rubric=company.rubrics["ROLEPLAY"],
        pass_score=70,
    )
    await CourseSkill.create(
        tenant=tenant, course=company.courses["S-002"], skill=company.skills["NEG"], target_level=80
    )
    company.criteria = await RubricCriterion.filter(rubric=company.rubrics["ROLEPLAY"]).order_by("position")
    return company


def gid(type_name: str, row_id: int) -> str:
    return to_global_id(type_name, row_id)


def scores_of(company, *values):
    """Scores for 需求挖掘 (weight 2), 产品讲解 (1), 异议处理 (1), None leaving one out."""
    return {gid("RubricCriterion", c.id): v for c, v in zip(company.criteria, values) if v is not None}


def payload(company, uid, base, scores, submit=False, comment="", mentee="LRN", module=None):
    return {
        "evaluationId": str(uid),
        "menteeId": gid("Employee", company.employees[mentee].id),
        "moduleId": gid("CourseModule", (module or company.assessment).id),
        "baseVersion": base,
        "scores": scores,
        "comment": comment,
        "submit": submit,
    }


def record(body, seq, occurred_at=None):
    return {
        "id": str(uuid.uuid4()),
        "seq": seq,
        "kind": "MENTOR_EVALUATION",
        "occurredAt": (occurred_at or PAST).isoformat(),
        "payload": body,
    }


async def push(client, token, records, device="device-1"):
    body = await gql(client, PUSH, push_input(records, device_id=device), token=token)
    assert body["data"]["syncPush"]["errors"] == [], body
    return body["data"]["syncPush"]["results"]


async def save(client, token, body, evaluated_at=None):
    variables = {"input": {**body, "clientId": str(uuid.uuid4()), "evaluatedAt": (evaluated_at or PAST).isoformat()}}
    answer = await gql(client, SAVE, variables, token=token)
    assert answer["data"]["saveMentorEvaluation"]["errors"] == [], answer
    return answer["data"]["saveMentorEvaluation"]["result"]


async def submitted(client, company, token, values, comment="表现不错"):
    uid = uuid.uuid4()
    result = await save(
        client, token, payload(company, uid, 0, scores_of(company, *values), submit=True, comment=comment)
    )
    assert (result["status"], result["code"]) == ("ACCEPTED", None), result
    return uid


async def pull_all(client, token, device="device-1"):
    body = await gql(client, PULL, pull_input(device_id=device, limit=500), token=token)
    assert body["data"]["syncPull"]["errors"] == [], body
    return body["data"]["syncPull"]["changes"]


# --- rubrics --------------------------------------------------------------------------------


def rubric_input(code="VISIT", scale_min=0, scale_max=10, weight="1.5"):
    return {
        "input": {
            "code": code,
            "title": "门店巡检评分表",
            "scaleMin": scale_min,
            "scaleMax": scale_max,
            "criteria": [
                {
                    "title": "陈列规范",
                    "weight": weight,
                    "descriptors": [{"score": 0, "text": "未达标"}, {"score": 10, "text": "优秀"}],
                },
                {"title": "服务礼仪", "weight": "1", "descriptors": []},
            ],
        }
    }


async def test_hr_creates_rubrics_others_may_not_and_bad_ones_are_refused(client, company, password_hash):
    hr = await token_for(client, company.code, "HR1")
    body = await gql(client, CREATE_RUBRIC, rubric_input(), token=hr)
    created = body["data"]["createRubric"]
    assert created["errors"] == [], body
    rubric = created["rubric"]
    assert (rubric["code"], rubric["scaleMin"], rubric["scaleMax"]) == ("VISIT", 0, 10)
    assert [(c["position"], c["title"], c["weight"]) for c in rubric["criteria"]] == [
        (1, "陈列规范", "1.50"),
        (2, "服务礼仪", "1.00"),
    ]
    assert rubric["criteria"][0]["descriptors"] == [{"score": 0, "text": "未达标"}, {"score": 10, "text": "优秀"}]
    # Anyone signed in reads it (a mentor needs it offline); another company does not.
    learner = await token_for(client, company.code, "LRN")
    read = await gql(client, RUBRIC, {"id": rubric["id"]}, token=learner)
    assert read["data"]["rubric"]["code"] == "VISIT"
    other = await make_company(password_hash, courses=False)
    stranger = await token_for(client, other.code, "HR1")
    assert (await gql(client, RUBRIC, {"id": rubric["id"]}, token=stranger))["data"]["rubric"] is None
    # Role matrix and validation.
    for no in ("MGR", "LRN", "OTH"):
        token = await token_for(client, company.code, no)
        refused = (await gql(client, CREATE_RUBRIC, rubric_input(code=f"X-{no}"), token=token))["data"]["createRubric"]
        assert [e["code"] for e in refused["errors"]] == ["FORBIDDEN"]
    for bad, field in (
        (rubric_input(code="BAD1", scale_min=5, scale_max=5), "scaleMax"),
        (rubric_input(code="BAD2", scale_min=0, scale_max=101), "scaleMax"),
        (rubric_input(code="BAD3", scale_min=-1, scale_max=5), "scaleMin"),
        (rubric_input(code="BAD4", weight="0"), "criteria[0].weight"),
        (rubric_input(code="BAD5", scale_min=1, scale_max=5), "criteria[0].descriptors"),  # 0 and 10 off scale
        (rubric_input(code="VISIT"), "code"),  # taken
    ):
        refused = (await gql(client, CREATE_RUBRIC, bad, token=hr))["data"]["createRubric"]
        assert [(e["code"], e["field"]) for e in refused["errors"]] == [("VALIDATION", field)], (bad, refused)
    no_criteria = rubric_input(code="BAD6")
    no_criteria["input"]["criteria"] = []
    refused = (await gql(client, CREATE_RUBRIC, no_criteria, token=hr))["data"]["createRubric"]
    assert [e["code"] for e in refused["errors"]] == ["VALIDATION"]


async def test_module_rubric_is_set_by_hr_for_practice_and_assessment_modules_only(client, company):
    hr = await token_for(client, company.code, "HR1")
    practice = await CourseModule.get(course=company.courses["S-001"], position=2)
    lesson = await CourseModule.get(course=company.courses["S-001"], position=1)
    rubric_id = gid("Rubric", company.rubrics["ROLEPLAY"].id)
    given = {"moduleId": gid("CourseModule", practice.id), "rubricId": rubric_id, "passScore": 80}
    body = (await gql(client, SET_MODULE_RUBRIC, {"input": given}, token=hr))["data"]["setModuleRubric"]
    assert body["errors"] == [] and body["module"]["passScore"] == 80 and body["rubric"]["code"] == "ROLEPLAY"
    learner = await token_for(client, company.code, "LRN")
    found = await gql(client, MODULE_RUBRIC, {"id": gid("CourseModule", practice.id)}, token=learner)
    assert found["data"]["moduleRubric"]["id"] == rubric_id
    rows = {c["id"]: c for c in await pull_all(client, learner) if c["entity"] in ("COURSE_MODULE", "RUBRIC")}
    assert rows[gid("CourseModule", practice.id)]["data"]["rubricId"] == rubric_id
    assert rows[rubric_id]["data"]["scaleMax"] == 5
    assert [c["title"] for c in rows[rubric_id]["data"]["criteria"]] == ["需求挖掘", "产品讲解", "异议处理"]
    assert rows[rubric_id]["data"]["criteria"][0]["descriptors"][0] == {"score": 1, "text": "未做到"}
    cases = [
        ({**given, "moduleId": gid("CourseModule", lesson.id)}, hr, ("VALIDATION", "moduleId")),
        ({**given, "passScore": 101}, hr, ("VALIDATION", "passScore")),
        ({**given, "rubricId": gid("Rubric", 999999)}, hr, ("VALIDATION", "rubricId")),
        (given, await token_for(client, company.code, "MGR"), ("FORBIDDEN", None)),
    ]
    for input_, token, expected in cases:
        refused = (await gql(client, SET_MODULE_RUBRIC, {"input": input_}, token=token))["data"]["setModuleRubric"]
        assert [(e["code"], e["field"]) for e in refused["errors"]] == [expected]
    cleared = await gql(client, SET_MODULE_RUBRIC, {"input": {**given, "rubricId": None, "passScore": None}}, token=hr)
    assert cleared["data"]["setModuleRubric"]["rubric"] is None
    assert (await CourseModule.get(id=practice.id)).rubric_id is None


# --- drafts, conflicts, submission ----------------------------------------------------------


async def test_a_draft_made_offline_is_edited_then_submitted_and_is_final(client, company):
    mentor = await token_for(client, company.code, "MGR")
    uid = uuid.uuid4()
    draft = record(payload(company, uid, 0, scores_of(company, 4, None, None), comment="需求挖掘到位"), 1)
    edit = record(payload(company, uid, 1, scores_of(company, 4, 3, None), comment="继续加强讲解"), 2)
    results = await push(client, mentor, [draft, edit])
    assert [(r["status"], r["code"]) for r in results] == [("ACCEPTED", None), ("ACCEPTED", None)]
    row = await MentorEvaluation.get(uid=uid)
    assert (row.version, row.status, row.percent, row.comment) == (2, "DRAFT", None, "继续加强讲解")
    assert row.mentor_id == company.employees["MGR"].id
    # Retrying the push answers DUPLICATE and changes nothing.
    again = await push(client, mentor, [draft, edit])
    assert [(r["status"], r["originalStatus"]) for r in again] == [("DUPLICATE", "ACCEPTED")] * 2
    assert (await MentorEvaluation.get(uid=uid)).version == 2
    # Submitting needs every criterion.
    incomplete = record(payload(company, uid, 2, scores_of(company, 4, 3, None), submit=True), 3)
    (result,) = await push(client, mentor, [incomplete])
    assert (result["status"], result["code"]) == ("REJECTED", "EVALUATION_INCOMPLETE")
    assert "异议处理" in result["message"] and "需求挖掘" not in result["message"]
    final = record(payload(company, uid, 2, scores_of(company, 5, 5, 2), submit=True), 4)
    (result,) = await push(client, mentor, [final])
    assert (result["status"], result["code"]) == ("ACCEPTED", None)
    row = await MentorEvaluation.get(uid=uid)
    # Weighted: (2·1 + 1·1 + 1·0.25) / 4 = 81.25 (an unweighted mean would be 75).
    assert (row.version, row.status, row.percent) == (3, "SUBMITTED", 81)
    late_edit = record(payload(company, uid, 3, scores_of(company, 1, 1, 1)), 5)
    (result,) = await push(client, mentor, [late_edit])
    assert (result["status"], result["code"]) == ("REJECTED", "EVALUATION_FINAL")
    assert (await MentorEvaluation.get(uid=uid)).percent == 81


async def test_two_devices_editing_one_draft_get_a_conflict_with_the_server_copy(client, company):
    phone = await token_for(client, company.code, "MGR", device_id="mgr-phone")
    tablet = await token_for(client, company.code, "MGR", device_id="mgr-tablet")
    uid = uuid.uuid4()
    result = await save(client, phone, payload(company, uid, 0, scores_of(company, 3, None, None)))
    assert result["status"] == "ACCEPTED"
    first = record(payload(company, uid, 1, scores_of(company, 4, 4, None), comment="手机上的修改"), 1)
    second = record(payload(company, uid, 1, scores_of(company, 2, 2, 2), comment="平板上的修改"), 1)
    (one,) = await push(client, phone, [first], device="mgr-phone")
    (two,) = await push(client, tablet, [second], device="mgr-tablet")
    assert (one["status"], one["code"]) == ("ACCEPTED", None)
    assert (two["status"], two["code"]) == ("CONFLICT", "VERSION_CONFLICT")
    server = two["serverVersion"]
    assert server["version"] == 2 and server["comment"] == "手机上的修改" and server["status"] == "DRAFT"
    assert server["scores"] == scores_of(company, 4, 4, None) and server["id"] == str(uid)
    # The same answer again on retry.
    (retried,) = await push(client, tablet, [second], device="mgr-tablet")
    assert (retried["status"], retried["originalStatus"], retried["serverVersion"]) == ("DUPLICATE", "CONFLICT", server)
    # Rebased on version 2, the tablet's change goes in.
    rebased = record(payload(company, uid, 2, scores_of(company, 4, 4, 2), comment="合并后的修改"), 2)
    (three,) = await push(client, tablet, [rebased], device="mgr-tablet")
    assert (three["status"], three["code"]) == ("ACCEPTED", None)
    row = await MentorEvaluation.get(uid=uid)
    assert (row.version, row.comment) == (3, "合并后的修改")
    # Creating again at baseVersion 0 is a conflict too (the uid exists).
    recreate = await save(client, phone, payload(company, uid, 0, {}))
    assert (recreate["status"], recreate["serverVersion"]["version"]) == ("CONFLICT", 3)


async def test_scores_must_be_on_the_scale_and_of_the_rubric(client, company):
    mentor = await token_for(client, company.code, "MGR")
    other_criterion = gid("RubricCriterion", 999999)
    cases = [
        scores_of(company, 6, None, None),
        scores_of(company, 0, None, None),
        {**scores_of(company, 3, None, None), other_criterion: 3},
        {gid("Rubric", company.rubrics["ROLEPLAY"].id): 3},
        scores_of(company, "3", None, None),
        scores_of(company, 3.5, None, None),
        scores_of(company, True, None, None),
    ]
    for scores in cases:
        result = await save(client, mentor, payload(company, uuid.uuid4(), 0, scores))
        assert (result["status"], result["code"]) == ("REJECTED", "INVALID_PAYLOAD"), scores
        assert "scores" in result["message"]
    long_comment = await save(client, mentor, payload(company, uuid.uuid4(), 0, {}, comment="长" * 2001))
    assert long_comment["code"] == "INVALID_PAYLOAD" and "comment" in long_comment["message"]
    lesson = await CourseModule.get(course=company.courses["S-002"], position=1)
    no_rubric = await save(client, mentor, payload(company, uuid.uuid4(), 0, {}, module=lesson))
    assert no_rubric["code"] == "NO_RUBRIC"
    practice = await CourseModule.get(course=company.courses["S-002"], position=2)
    assert (await save(client, mentor, payload(company, uuid.uuid4(), 0, {}, module=practice)))["code"] == "NO_RUBRIC"
    assert not await MentorEvaluation.filter(mentee_id=company.employees["LRN"].id).exists()


async def test_only_the_current_mentor_may_score(client, company):
    uid = uuid.uuid4()
    for no, mentee in (("OTH", "LRN"), ("HR1", "LRN"), ("LRN", "LRN"), ("MGR", "OTH")):
        token = await token_for(client, company.code, no)
        result = await save(client, token, payload(company, uid, 0, scores_of(company, 3, 3, 3), mentee=mentee))
        assert (result["status"], result["code"]) == ("REJECTED", "NOT_YOUR_MENTEE"), no
    # A mentorship that ended: scoring a day it covered works, today does not.
    await Mentorship.filter(mentor=company.employees["MGR"]).update(ends_on=date(2026, 3, 31))
    mentor = await token_for(client, company.code, "MGR")
    in_time = datetime(2026, 3, 15, 10, tzinfo=UTC)
    result = await save(
        client, mentor, payload(company, uid, 0, scores_of(company, 3, None, None)), evaluated_at=in_time
    )
    assert result["status"] == "ACCEPTED"
    result = await save(client, mentor, payload(company, uid, 1, scores_of(company, 4, None, None)))
    assert (result["status"], result["code"]) == ("REJECTED", "NOT_YOUR_MENTEE")
    # Another mentor of LRN cannot take over MGR's draft.
    second = await _second_mentor(company)
    token = await token_for(client, company.code, second.employee_no)
    result = await save(client, token, payload(company, uid, 1, scores_of(company, 4, None, None)))
    assert (result["status"], result["code"]) == ("REJECTED", "NOT_YOUR_MENTEE")
    assert (await MentorEvaluation.get(uid=uid)).version == 1


async def _second_mentor(company, course="S-002"):
    """MT2: a mentor of LRN for one course, who is not LRN's manager."""
    tenant, hr = company.tenant, company.employees["HR1"]
    mentor = await Employee.create(
        tenant=tenant,
        employee_no="MT2",
        name="马导师",
        password_hash=hr.password_hash,
        org_unit_id=hr.org_unit_id,
        site_id=hr.site_id,
        position_id=hr.position_id,
    )
    for role in (Role.EMPLOYEE, Role.MENTOR):
        await EmployeeRole.create(tenant=tenant, employee=mentor, role=role)
    await Mentorship.create(
        tenant=tenant,
        mentor=mentor,
        mentee=company.employees["LRN"],
        course=company.courses[course],
        starts_on=date(2026, 1, 1),
    )
    company.employees["MT2"] = mentor
    return mentor


async def test_a_submission_at_the_bar_completes_the_assessment_and_is_skill_evidence(client, company):
    mentor = await token_for(client, company.code, "MGR")
    learner = company.employees["LRN"]
    # (2·0.75 + 0.5 + 0.25) / 4 = 56: below the bar of 70.
    low = await submitted(client, company, mentor, (4, 3, 2))
    assert (await MentorEvaluation.get(uid=low)).percent == 56
    assert not await ModuleProgress.filter(employee=learner, module=company.assessment).exists()
    evidence = await SkillEvidence.get(employee=learner, source_kind="MENTOR_EVALUATION", source_id=str(low))
    assert (evidence.score_percent, evidence.level_after) == (56, 45)  # 80 · 56%
    high = await submitted(client, company, mentor, (5, 5, 4))  # 93.75 -> 94
    assert (await MentorEvaluation.get(uid=high)).percent == 94
    progress = await ModuleProgress.get(employee=learner, module=company.assessment)
    assert progress.completed_count == 1
    assert (await SkillEvidence.get(employee=learner, source_id=str(high))).level_after == 75
    # A second pass does not count the module twice.
    await submitted(client, company, mentor, (5, 5, 5))
    assert (await ModuleProgress.get(employee=learner, module=company.assessment)).completed_count == 1
    # The mentee's feed: their progress and the submitted evaluations (never a draft).
    draft = uuid.uuid4()
    await save(client, mentor, payload(company, draft, 0, scores_of(company, 1, None, None)))
    learner_token = await token_for(client, company.code, "LRN")
    changes = await pull_all(client, learner_token)
    evaluations = {c["id"]: c for c in changes if c["entity"] == "MENTOR_EVALUATION"}
    assert set(evaluations) >= {str(low), str(high)} and str(draft) not in evaluations
    assert evaluations[str(high)]["data"]["percent"] == 94 and evaluations[str(high)]["data"]["status"] == "SUBMITTED"
    assert any(
        c["entity"] == "MODULE_PROGRESS" and c["id"] == gid("CourseModule", company.assessment.id) for c in changes
    )
    mentor_changes = await pull_all(client, mentor)
    mine = {c["id"]: c for c in mentor_changes if c["entity"] == "MENTOR_EVALUATION"}
    assert mine[str(draft)]["data"]["status"] == "DRAFT" and mine[str(draft)]["data"]["version"] == 1
    assert str(low) in mine


async def test_a_practice_module_evaluation_is_evidence_but_counts_no_progress(client, company):
    practice = await CourseModule.get(course=company.courses["S-002"], position=2)
    practice.rubric_id = company.rubrics["ROLEPLAY"].id
    await practice.save()
    mentor = await token_for(client, company.code, "MGR")
    uid = uuid.uuid4()
    result = await save(
        client, mentor, payload(company, uid, 0, scores_of(company, 5, 5, 5), submit=True, module=practice)
    )
    assert result["status"] == "ACCEPTED"
    assert not await ModuleProgress.filter(module=practice).exists()
    assert await SkillEvidence.filter(source_id=str(uid), score_percent=100).exists()


# --- HR supersede ---------------------------------------------------------------------------


async def test_hr_supersedes_a_submitted_evaluation_with_a_reason(client, company):
    mentor = await token_for(client, company.code, "MGR")
    hr = await token_for(client, company.code, "HR1")
    old = await submitted(client, company, mentor, (4, 3, 2))  # 56, below the bar
    given = {
        "evaluationId": str(old),
        "scores": scores_of(company, 5, 4, 4),
        "comment": "复核后更正",
        "reason": "导师误把两项分数填反",
    }
    refused = (await gql(client, SUPERSEDE, {"input": given}, token=mentor))["data"]["supersedeEvaluation"]
    assert [e["code"] for e in refused["errors"]] == ["FORBIDDEN"]
    refused = (await gql(client, SUPERSEDE, {"input": {**given, "reason": "  "}}, token=hr))["data"][
        "supersedeEvaluation"
    ]
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("VALIDATION", "reason")]
    partial = {**given, "scores": scores_of(company, 5, None, 4)}
    refused = (await gql(client, SUPERSEDE, {"input": partial}, token=hr))["data"]["supersedeEvaluation"]
    assert [e["code"] for e in refused["errors"]] == ["EVALUATION_INCOMPLETE"]
    draft = uuid.uuid4()
    await save(client, mentor, payload(company, draft, 0, {}))
    refused = await gql(client, SUPERSEDE, {"input": {**given, "evaluationId": str(draft)}}, token=hr)
    assert [e["code"] for e in refused["data"]["supersedeEvaluation"]["errors"]] == ["NOT_FOUND"]

    body = (await gql(client, SUPERSEDE, {"input": given}, token=hr))["data"]["supersedeEvaluation"]
    assert body["errors"] == [], body
    new = body["evaluation"]
    # (2·1 + 0.75 + 0.75) / 4 = 87.5 -> 88
    assert (new["status"], new["percent"], new["mentor"]["employeeNo"]) == ("SUBMITTED", 88, "HR1")
    assert new["supersededReason"] == "导师误把两项分数填反"
    assert new["supersedes"] == {"id": str(old), "status": "SUPERSEDED"}
    entry = await AuditEntry.get(tenant_id=company.tenant.id, action="evaluation.supersede")
    assert entry.entity_id == str(old) and entry.actor_id == company.employees["HR1"].id
    assert (entry.details["reason"], entry.details["oldPercent"], entry.details["newPercent"]) == (
        "导师误把两项分数填反",
        56,
        88,
    )
    learner = company.employees["LRN"]
    assert (await ModuleProgress.get(employee=learner, module=company.assessment)).completed_count == 1
    assert await SkillEvidence.filter(employee=learner, source_id=new["id"], score_percent=88).exists()
    # The superseded one is final for good.
    again = (await gql(client, SUPERSEDE, {"input": given}, token=hr))["data"]["supersedeEvaluation"]
    assert [e["code"] for e in again["errors"]] == ["EVALUATION_FINAL"]
    # The mentee's feed shows both, the old one SUPERSEDED.
    rows = {
        c["id"]: c["data"]
        for c in await pull_all(client, await token_for(client, company.code, "LRN"))
        if c["entity"] == "MENTOR_EVALUATION"
    }
    assert rows[str(old)]["status"] == "SUPERSEDED" and rows[new["id"]]["supersedesId"] == str(old)


# --- reading --------------------------------------------------------------------------------


async def test_who_reads_which_evaluations(client, company, password_hash):
    mgr = await token_for(client, company.code, "MGR")
    second = await _second_mentor(company)
    mt2 = await token_for(client, company.code, second.employee_no)
    mgr_draft = uuid.uuid4()
    await save(client, mgr, payload(company, mgr_draft, 0, scores_of(company, 3, None, None), comment="草稿"))
    mgr_final = await submitted(client, company, mgr, (5, 5, 2))
    mt2_draft = uuid.uuid4()
    await save(client, mt2, payload(company, mt2_draft, 0, scores_of(company, 2, None, None)))
    mt2_final = await submitted(client, company, mt2, (5, 5, 5))
    tokens = {no: await token_for(client, company.code, no) for no in ("HR1", "LRN", "OTH")}
    tokens["MGR"], tokens["MT2"] = mgr, mt2
    other = await make_company(password_hash, courses=False)
    tokens["STRANGER"] = await token_for(client, other.code, "HR1")
    # MGR is MT2's mentee's manager too: reads MT2's submitted evaluation, not the draft.
    readable = {
        "MGR": {mgr_draft, mgr_final, mt2_final},
        "MT2": {mt2_draft, mt2_final},
        "LRN": {mgr_final, mt2_final},
        "HR1": {mgr_final, mt2_final},
        "OTH": set(),
        "STRANGER": set(),
    }
    everything = (mgr_draft, mgr_final, mt2_draft, mt2_final)
    for no, expected in readable.items():
        for uid in everything:
            body = await gql(client, EVALUATION, {"id": str(uid)}, token=tokens[no])
            if uid in expected:
                assert body["data"]["evaluation"]["id"] == str(uid), (no, body)
            else:
                assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND", (no, uid, body)
        listed = await gql(client, EVALUATIONS, {"first": 20}, token=tokens[no])
        assert {e["node"]["id"] for e in listed["data"]["evaluations"]["edges"]} == {str(u) for u in expected}, no
    body = await gql(client, EVALUATION, {"id": str(mgr_final)}, token=tokens["LRN"])
    evaluation = body["data"]["evaluation"]
    assert (evaluation["status"], evaluation["percent"], evaluation["version"]) == ("SUBMITTED", 81, 1)
    assert (evaluation["mentee"]["employeeNo"], evaluation["mentor"]["employeeNo"]) == ("LRN", "MGR")
    assert evaluation["rubric"]["code"] == "ROLEPLAY" and evaluation["comment"] == "表现不错"
    assert [(s["criterion"]["title"], s["criterion"]["weight"], s["score"]) for s in evaluation["scores"]] == [
        ("需求挖掘", "2.00", 5),
        ("产品讲解", "1.00", 5),
        ("异议处理", "1.00", 2),
    ]
    draft = (await gql(client, EVALUATION, {"id": str(mgr_draft)}, token=mgr))["data"]["evaluation"]
    assert [s["score"] for s in draft["scores"]] == [3, None, None] and draft["percent"] is None
    # Filters and pages.
    module_id = gid("CourseModule", company.assessment.id)
    page = (await gql(client, EVALUATIONS, {"module": module_id, "first": 1}, token=tokens["HR1"]))["data"][
        "evaluations"
    ]
    assert page["totalCount"] == 2 and page["pageInfo"]["hasNextPage"] is True
    rest = (
        await gql(
            client,
            EVALUATIONS,
            {"module": module_id, "first": 5, "after": page["pageInfo"]["endCursor"]},
            token=tokens["HR1"],
        )
    )["data"]["evaluations"]
    assert [e["node"]["id"] for e in page["edges"] + rest["edges"]] == [str(mgr_final), str(mt2_final)]
    mine = await gql(
        client, EVALUATIONS, {"mentee": gid("Employee", company.employees["OTH"].id), "first": 5}, token=tokens["HR1"]
    )
    assert mine["data"]["evaluations"]["totalCount"] == 0
    bad = await gql(client, EVALUATION, {"id": "not-a-uuid"}, token=tokens["HR1"])
    assert bad["errors"][0]["extensions"]["code"] == "VALIDATION"


async def test_concurrent_writers_never_both_win(client, company):
    """Two devices write the same new draft at once, then edit it at once from the same version,
    then submit two passing evaluations at once: one write wins each time, the module counts once."""
    import asyncio

    phone = await token_for(client, company.code, "MGR", device_id="mgr-phone")
    tablet = await token_for(client, company.code, "MGR", device_id="mgr-tablet")
    uid = uuid.uuid4()
    created = await asyncio.gather(
        *(
            save(client, token, payload(company, uid, 0, scores_of(company, n, None, None)))
            for n, token in ((2, phone), (3, tablet))
        )
    )
    assert sorted(r["status"] for r in created) == ["ACCEPTED", "CONFLICT"]
    edits = await asyncio.gather(
        *(
            save(client, token, payload(company, uid, 1, scores_of(company, n, n, None)))
            for n, token in ((4, phone), (5, tablet))
        )
    )
    assert sorted(r["status"] for r in edits) == ["ACCEPTED", "CONFLICT"]
    assert (await MentorEvaluation.get(uid=uid)).version == 2
    passes = await asyncio.gather(
        *(
            save(client, token, payload(company, uuid.uuid4(), 0, scores_of(company, 5, 5, 5), submit=True))
            for token in (phone, tablet)
        )
    )
    assert [r["status"] for r in passes] == ["ACCEPTED", "ACCEPTED"]
    progress = await ModuleProgress.get(employee=company.employees["LRN"], module=company.assessment)
    assert progress.completed_count == 1


async def test_the_push_answer_names_the_new_version_to_base_the_next_edit_on(client, company):
    mentor = await token_for(client, company.code, "MGR")
    uid = uuid.uuid4()
    query = "mutation P($input: SyncPushInput!) { syncPush(input: $input) { results { status result } } }"

    async def push_one(body, seq):
        answer = await gql(client, query, push_input([record(body, seq)]), token=mentor)
        return answer["data"]["syncPush"]["results"][0]

    draft = await push_one(payload(company, uid, 0, scores_of(company, 3)), 1)
    assert draft == {"status": "ACCEPTED", "result": {"version": 1, "status": "DRAFT"}}
    final = await push_one(payload(company, uid, 1, scores_of(company, 5, 5, 5), submit=True), 2)
    assert final == {"status": "ACCEPTED", "result": {"version": 2, "status": "SUBMITTED", "percent": 100}}


async def test_a_superseded_evaluation_is_not_credited_again(client, company):
    """One creditable evaluation per mentee and module: HR correcting a score, or a mentor
    submitting a fresh evaluation of the same module, credits nothing more."""
    from backend.models import CreditAccount, CreditActivity, CreditEntry, CreditRule

    await CreditRule.create(
        tenant=company.tenant,
        rule_key="EVAL",
        name="导师评价",
        activity=CreditActivity.EVALUATION_SCORED,
        credits=50,
        min_score=60,
    )
    mentor = await token_for(client, company.code, "MGR")
    hr = await token_for(client, company.code, "HR1", device_id="hr-phone")
    uid = await submitted(client, company, mentor, (4, 4, 4))
    body = await gql(
        client,
        SUPERSEDE,
        {
            "input": {
                "evaluationId": str(uid),
                "scores": scores_of(company, 5, 5, 5),
                "comment": "更正",
                "reason": "导师录入有误",
            }
        },
        token=hr,
    )
    assert body["data"]["supersedeEvaluation"]["errors"] == [], body
    await submitted(client, company, mentor, (5, 5, 5))
    lrn = company.employees["LRN"]
    assert await CreditEntry.filter(tenant=company.tenant, employee=lrn).count() == 1
    assert (await CreditAccount.get(employee=lrn)).balance == 50
