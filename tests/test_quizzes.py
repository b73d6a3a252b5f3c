"""Quizzes: grading of every question kind (Chinese short answers too), pass/fail and module
progress, the attempts allowance under concurrent submissions, the deadline by corrected time,
risk flags, and that no answer key ever reaches a learner."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace

import pytest

from backend.ids import to_global_id
from backend.models import (
    ActivityRecord,
    CourseModule,
    CourseStatus,
    ModuleKind,
    ModuleProgress,
    Question,
    QuestionKind,
    Quiz,
    QuizAttempt,
    QuizQuestion,
)
from backend.services.quizzes import grade
from tests.factories import make_company
from tests.graphql_client import gql, token_for
from tests.sync_helpers import PULL, PUSH, pull_input, push_input

KEY_MARKER = "KEYMARK-7f3a9c"  # only in an answer key
EXPLANATION_MARKER = "EXPLAINMARK-51be02"  # only in explanations

MODULE_QUIZ = """
query Q($id: ID!) { moduleQuiz(moduleId: $id) { moduleId title passMark timeLimitSeconds attemptsAllowed
  attemptsUsed reviewAllowed closesAt questions { id kind prompt options { key text } points } } }
"""
ATTEMPTS = """
query A($id: ID!) { myQuizAttempts(moduleId: $id) { attemptNo submittedAt score maxScore percent passed
  status feedback { questionId correct pointsAwarded explanation } } }
"""
SUBMIT = """
mutation S($input: SubmitQuizAttemptInput!) {
  submitQuizAttempt(input: $input) { result { status code message } errors { code } }
}
"""


async def make_quiz(company, *, course="A-002", **settings):
    """A QUIZ module with one question of each kind (two short-text rules and a manual one)."""
    tenant, row = company.tenant, company.courses[course]
    module = await CourseModule.create(tenant=tenant, course=row, position=3, title="测验", kind=ModuleKind.QUIZ,
                                       credits=Decimal("1.0"))
    quiz = await Quiz.create(tenant=tenant, module=module, title="消防知识测验", **{"pass_mark": 60, **settings})
    abcd = [{"key": k, "text": t} for k, t in zip("ABCD", ("干粉灭火器", "用水", "湿毛巾捂口鼻", "乘电梯"))]
    specs = {
        "single": (QuestionKind.SINGLE_CHOICE, "电器起火首先应使用？", abcd, ["A"], "2"),
        "multiple": (QuestionKind.MULTIPLE_CHOICE, "火场逃生正确的做法有？", abcd, ["A", "C"], "2"),
        "truefalse": (QuestionKind.TRUE_FALSE, "火灾时可以乘电梯逃生。", [], False, "1"),
        "exact": (QuestionKind.SHORT_TEXT, "拜访客户前的第一步是什么？", [], {"exact": ["客户需求分析", KEY_MARKER]}, "2"),
        "keywords": (QuestionKind.SHORT_TEXT, "沟通的要点（写出两个）？", [],
                     {"keywords": ["倾听", "提问", "复述"], "minKeywords": 2}, "2"),
        "manual": (QuestionKind.SHORT_TEXT, "谈谈你对安全生产的理解。", [], {}, "1"),
    }
    questions = {}
    for position, (name, (kind, prompt, options, key, points)) in enumerate(specs.items(), start=1):
        question = await Question.create(
            tenant=tenant, course=row, kind=kind, prompt=prompt, options=options, answer_key=key,
            points=Decimal(points), explanation=f"解析：{EXPLANATION_MARKER}",
        )
        await QuizQuestion.create(tenant=tenant, quiz=quiz, question=question, position=position)
        questions[name] = question
    return module, quiz, questions


def answers(questions, right=True):
    q = questions
    if right:
        given = {"single": "A", "multiple": ["C", "A"], "truefalse": False, "exact": "  客户需求分析　",
                 "keywords": "认真倾听，适时提问", "manual": "安全第一"}
    else:
        given = {"single": "B", "multiple": ["A"], "truefalse": True, "exact": "需求", "keywords": "倾听", "manual": ""}
    return {str(q[name].id): value for name, value in given.items()}


def submission(module, answers_, seq, occurred_at=None, started_at=None):
    payload = {"quizId": to_global_id("CourseModule", module.id), "answers": answers_}
    if started_at:
        payload["startedAt"] = started_at.isoformat()
    return {"id": str(uuid.uuid4()), "seq": seq, "kind": "QUIZ_SUBMISSION",
            "occurredAt": (occurred_at or datetime.now(timezone.utc)).isoformat(), "payload": payload}


async def submit(client, token, module, answers_, started_at=None, submitted_at=None):
    body = await gql(client, SUBMIT, {"input": {
        "clientId": str(uuid.uuid4()), "quizId": to_global_id("CourseModule", module.id), "answers": answers_,
        "startedAt": started_at.isoformat() if started_at else None,
        "submittedAt": submitted_at.isoformat() if submitted_at else None}}, token=token)
    assert body["data"]["submitQuizAttempt"]["errors"] == [], body
    return body["data"]["submitQuizAttempt"]["result"]


@pytest.fixture
async def company(password_hash):
    return await make_company(password_hash)


def _question(kind, key, points="2"):
    return SimpleNamespace(kind=kind, answer_key=key, points=Decimal(points))


@pytest.mark.parametrize("kind,key,answer,expected", [
    (QuestionKind.SINGLE_CHOICE, "B", "B", (Decimal(2), True, False)),
    (QuestionKind.SINGLE_CHOICE, "B", " b ", (Decimal(2), True, False)),
    (QuestionKind.SINGLE_CHOICE, ["B"], "B", (Decimal(2), True, False)),
    (QuestionKind.SINGLE_CHOICE, "B", "A", (Decimal(0), False, False)),
    (QuestionKind.SINGLE_CHOICE, "B", ["B"], (Decimal(0), False, False)),
    (QuestionKind.MULTIPLE_CHOICE, ["A", "C"], ["C", "A"], (Decimal(2), True, False)),
    (QuestionKind.MULTIPLE_CHOICE, ["A", "C"], ["A"], (Decimal(0), False, False)),  # all or nothing
    (QuestionKind.MULTIPLE_CHOICE, ["A", "C"], ["A", "B", "C"], (Decimal(0), False, False)),
    (QuestionKind.MULTIPLE_CHOICE, ["A", "C"], "AC", (Decimal(0), False, False)),
    (QuestionKind.TRUE_FALSE, True, True, (Decimal(2), True, False)),
    (QuestionKind.TRUE_FALSE, True, False, (Decimal(0), False, False)),
    (QuestionKind.TRUE_FALSE, True, "true", (Decimal(0), False, False)),
    (QuestionKind.SHORT_TEXT, {"exact": ["客户需求分析"]}, "客户需求分析", (Decimal(2), True, False)),
    (QuestionKind.SHORT_TEXT, {"exact": ["客户需求分析"]}, "\u3000客户需求分析 ", (Decimal(2), True, False)),
    (QuestionKind.SHORT_TEXT, {"exact": ["CRM系统"]}, "ｃｒｍ系统", (Decimal(2), True, False)),  # NFKC + case
    (QuestionKind.SHORT_TEXT, {"exact": ["客户需求分析"]}, "客户分析", (Decimal(0), False, False)),
    (QuestionKind.SHORT_TEXT, {"keywords": ["倾听", "提问", "复述"], "minKeywords": 2}, "先倾听再提问",
     (Decimal(2), True, False)),
    (QuestionKind.SHORT_TEXT, {"keywords": ["倾听", "提问", "复述"], "minKeywords": 2}, "倾听", (Decimal(0), False, False)),
    (QuestionKind.SHORT_TEXT, {}, "随便写写", (Decimal(0), None, True)),
    (QuestionKind.SHORT_TEXT, {"exact": [], "keywords": []}, "随便写写", (Decimal(0), None, True)),
    (QuestionKind.SINGLE_CHOICE, "B", None, (Decimal(0), False, False)),
])
def test_grading_of_every_kind(kind, key, answer, expected):
    assert grade(_question(kind, key), answer) == expected


async def test_a_quiz_is_graded_per_question_and_a_pass_counts_the_module_done(client, company):
    module, quiz, questions = await make_quiz(company)
    learner = await token_for(client, company.code, "LRN")
    started = datetime.now(timezone.utc) - timedelta(minutes=5)
    failed = await submit(client, learner, module, answers(questions, right=False), started_at=started)
    assert (failed["status"], failed["code"]) == ("ACCEPTED", None)
    assert not await ModuleProgress.filter(module=module).exists()
    passed = await submit(client, learner, module, answers(questions), started_at=started)
    assert passed["status"] == "ACCEPTED"
    body = await gql(client, ATTEMPTS, {"id": to_global_id("CourseModule", module.id)}, token=learner)
    first, second = body["data"]["myQuizAttempts"]
    assert (first["score"], first["maxScore"], first["percent"], first["passed"]) == ("0.0", "10.0", 0, False)
    assert (second["score"], second["percent"], second["passed"]) == ("9.0", 90, True)
    assert second["status"] == "NEEDS_MANUAL_GRADING"  # the open question waits for a person
    by_id = {f["questionId"]: f for f in second["feedback"]}
    assert [by_id[str(questions[n].id)]["correct"] for n in questions] == [True, True, True, True, True, None]
    assert [f["correct"] for f in first["feedback"]] == [False] * 6  # an empty answer is just wrong
    assert EXPLANATION_MARKER in by_id[str(questions["single"].id)]["explanation"]
    progress = await ModuleProgress.get(module=module)
    assert progress.completed_count == 1 and progress.seconds_spent >= 299
    # The outcome carries the score.
    stored = await ActivityRecord.filter(kind="QUIZ_SUBMISSION").order_by("-received_at").first()
    outcome = stored.outcome if isinstance(stored.outcome, dict) else json.loads(stored.outcome)
    assert outcome["params"] == {"score": "9.0", "maxScore": "10.0", "percent": 90, "passed": True}
    # Passing again does not count the module twice.
    await submit(client, learner, module, answers(questions))
    assert (await ModuleProgress.get(module=module)).completed_count == 1


async def test_quizzes_of_unpublished_courses_or_other_modules_are_not_found(client, company):
    draft_module, _, questions = await make_quiz(company, course="S-007")
    learner = await token_for(client, company.code, "LRN")
    result = await submit(client, learner, draft_module, answers(questions))
    assert (result["status"], result["code"]) == ("REJECTED", "NOT_FOUND")
    body = await gql(client, MODULE_QUIZ, {"id": to_global_id("CourseModule", draft_module.id)}, token=learner)
    assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    lesson = await CourseModule.get(course=company.courses["A-002"], position=1)
    result = await submit(client, learner, lesson, {})
    assert (result["status"], result["code"]) == ("REJECTED", "NOT_FOUND")


async def test_six_submissions_in_one_batch_take_exactly_the_three_attempts_allowed(client, company):
    module, quiz, questions = await make_quiz(company, attempts_allowed=3)
    learner = await token_for(client, company.code, "LRN")
    records = [submission(module, answers(questions, right=False), seq) for seq in range(1, 7)]
    body = await gql(client, PUSH, push_input(records), token=learner)
    results = body["data"]["syncPush"]["results"]
    assert [(r["status"], r["code"]) for r in results] == [("ACCEPTED", None)] * 3 + [("REJECTED", "ATTEMPTS_EXHAUSTED")] * 3
    assert sorted(await QuizAttempt.filter(quiz=quiz).values_list("attempt_no", flat=True)) == [1, 2, 3]


async def test_six_concurrent_online_submissions_from_two_devices_take_exactly_three_attempts(client, company):
    module, quiz, questions = await make_quiz(company, attempts_allowed=3)
    phone = await token_for(client, company.code, "LRN")
    tablet = await token_for(client, company.code, "LRN", device_id="tablet")
    results = await asyncio.gather(*(
        submit(client, token, module, answers(questions)) for token in (phone, tablet) * 3
    ))
    outcomes = sorted((r["status"], r["code"] or "") for r in results)
    assert outcomes == [("ACCEPTED", "")] * 3 + [("REJECTED", "ATTEMPTS_EXHAUSTED")] * 3
    assert sorted(await QuizAttempt.filter(quiz=quiz).values_list("attempt_no", flat=True)) == [1, 2, 3]
    assert await ModuleProgress.get(module=module).values_list("completed_count", flat=True) == 1


async def test_the_deadline_is_judged_by_the_corrected_time_of_finishing(client, company):
    """The quiz closed an hour ago; the phone's clock runs an hour fast and syncs only now. The
    attempt it finished before the deadline counts; the one finished after it does not."""
    now = datetime.now(timezone.utc)
    closes_at = now - timedelta(hours=1)
    module, quiz, questions = await make_quiz(company, closes_at=closes_at)
    learner = await token_for(client, company.code, "LRN")
    skew = timedelta(hours=1)
    in_time = submission(module, answers(questions), 1, occurred_at=closes_at - timedelta(minutes=10) + skew,
                         started_at=closes_at - timedelta(minutes=30) + skew)
    late = submission(module, answers(questions), 2, occurred_at=closes_at + timedelta(minutes=10) + skew)
    body = await gql(client, PUSH, push_input([in_time, late], sent_at=datetime.now(timezone.utc) + skew), token=learner)
    results = body["data"]["syncPush"]["results"]
    assert [(r["status"], r["code"]) for r in results] == [("ACCEPTED", None), ("REJECTED", "QUIZ_CLOSED")]
    attempt = await QuizAttempt.get(quiz=quiz)
    assert abs((attempt.submitted_at - (closes_at - timedelta(minutes=10))).total_seconds()) < 5
    assert "CLOCK_SKEW" in attempt.risk_flags and "TOO_FAST" not in attempt.risk_flags
    assert abs((attempt.started_at - (closes_at - timedelta(minutes=30))).total_seconds()) < 5
    # Uncorrected, the first would have been 50 minutes late: a phone showing no skew at sync time.
    colleague = await token_for(client, company.code, "OTH", device_id="oth-phone")
    stale = {**in_time, "id": str(uuid.uuid4())}
    body = await gql(client, PUSH, push_input([stale], device_id="oth-phone"), token=colleague)
    assert body["data"]["syncPush"]["results"][0]["code"] == "QUIZ_CLOSED"


async def test_risk_flags_too_fast_and_over_time_limit_are_recorded_not_rejected(client, company):
    module, quiz, questions = await make_quiz(company, time_limit_seconds=600, attempts_allowed=5)
    learner = await token_for(client, company.code, "LRN")
    now = datetime.now(timezone.utc)
    cases = [(timedelta(seconds=5), "TOO_FAST"), (timedelta(minutes=5), ""), (timedelta(minutes=20), "OVER_TIME_LIMIT")]
    for took, _ in cases:
        result = await submit(client, learner, module, answers(questions), started_at=now - took, submitted_at=now)
        assert result["status"] == "ACCEPTED"
    flags = await QuizAttempt.filter(quiz=quiz).order_by("attempt_no").values_list("risk_flags", flat=True)
    assert list(flags) == [expected for _, expected in cases]


async def test_no_answer_key_reaches_a_learner(client, company):
    module, quiz, questions = await make_quiz(company, attempts_allowed=5, shuffle=True)
    learner = await token_for(client, company.code, "LRN")
    quiz_id = {"id": to_global_id("CourseModule", module.id)}
    secrets_ = [KEY_MARKER, "客户需求分析", "倾听", "复述", "minKeywords", "answerKey", "answer_key"]
    bodies = []

    async def capture(query, variables):
        body = await gql(client, query, variables, token=learner)
        assert "errors" not in body, body
        bodies.append(json.dumps(body, ensure_ascii=False))
        return body

    view = (await capture(MODULE_QUIZ, quiz_id))["data"]["moduleQuiz"]
    assert {q["id"] for q in view["questions"]} == {str(q.id) for q in questions.values()}
    assert view["attemptsUsed"] == 0 and view["reviewAllowed"] is True
    wrong = {str(questions["single"].id): "B", str(questions["exact"].id): "不知道"}
    await submit(client, learner, module, wrong)
    again = (await capture(MODULE_QUIZ, quiz_id))["data"]["moduleQuiz"]
    assert again["attemptsUsed"] == 1
    reviewed = (await capture(ATTEMPTS, quiz_id))["data"]["myQuizAttempts"]
    assert reviewed[0]["feedback"] and EXPLANATION_MARKER in reviewed[0]["feedback"][0]["explanation"]
    quiz.review_allowed = False
    await quiz.save()
    hidden = (await capture(ATTEMPTS, quiz_id))["data"]["myQuizAttempts"]
    assert hidden[0]["feedback"] is None and hidden[0]["score"] == "0.0"
    await submit(client, learner, module, wrong)
    cursor, pages = None, 0
    while True:
        page = (await capture(PULL, pull_input(cursor, limit=5)))["data"]["syncPull"]
        pages += 1
        cursor = page["cursor"]
        if not page["hasMore"]:
            break
    assert pages > 1
    # Nothing that is only in an answer key ever appears; explanations only with review on.
    for body in bodies:
        for secret in secrets_:
            assert secret not in body, (secret, body[:300])
    review_off = bodies[3:]
    assert all(EXPLANATION_MARKER not in body for body in review_off)
    # The contract has no field that could carry one.
    sdl = (await client.post("/graphql", json={"query": "{ __schema { types { name fields { name } } } }"},
                             headers={"Authorization": f"Bearer {learner}"})).text
    assert "answerKey" not in sdl and "answer_key" not in sdl


async def test_the_same_submission_retried_is_one_attempt(client, company):
    module, quiz, questions = await make_quiz(company)
    learner = await token_for(client, company.code, "LRN")
    record = submission(module, answers(questions), 1)
    first = (await gql(client, PUSH, push_input([record]), token=learner))["data"]["syncPush"]["results"][0]
    again = (await gql(client, PUSH, push_input([record]), token=learner))["data"]["syncPush"]["results"][0]
    assert first["status"] == "ACCEPTED" and (again["status"], again["originalStatus"]) == ("DUPLICATE", "ACCEPTED")
    assert await QuizAttempt.filter(quiz=quiz).count() == 1


async def test_course_status_is_checked_at_submission(client, company):
    module, _, questions = await make_quiz(company)
    learner = await token_for(client, company.code, "LRN")
    course = company.courses["A-002"]
    course.status = CourseStatus.ARCHIVED
    await course.save()
    result = await submit(client, learner, module, answers(questions))
    assert result["code"] == "NOT_FOUND"


@pytest.mark.parametrize("change,field", [
    ({"answers": ["A"]}, "answers"), ({"startedAt": "gestern"}, "startedAt"), ({"startedAt": 5}, "startedAt"),
    ({"quizId": to_global_id("Course", 1)}, "quizId"),
])
async def test_malformed_submissions_are_invalid_payloads(client, company, change, field):
    module, quiz, questions = await make_quiz(company)
    learner = await token_for(client, company.code, "LRN", device_id="bad-phone")
    record = submission(module, answers(questions), 1)
    record["payload"].update(change)
    body = await gql(client, PUSH, push_input([record], device_id="bad-phone"), token=learner)
    result = body["data"]["syncPush"]["results"][0]
    assert (result["status"], result["code"]) == ("REJECTED", "INVALID_PAYLOAD") and field in result["message"]
    assert not await QuizAttempt.filter(quiz=quiz).exists()
