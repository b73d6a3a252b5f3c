"""Quizzes: grading of every question kind (Chinese short answers too), pass/fail and module
progress, the attempts allowance under concurrent submissions, the deadline by corrected time,
risk flags, and that no answer key ever reaches a learner."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest

from backend.ids import to_global_id
from backend.models import (
    ActivityRecord,
    CourseModule,
    CourseStatus,
    Mentorship,
    ModuleKind,
    ModuleProgress,
    Question,
    QuestionKind,
    Quiz,
    QuizAttempt,
    QuizQuestion,
    ReviewTiming,
)
from backend.services.ojt.question_kinds import grade
from backend.services.pagination import encode_cursor
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
    module = await CourseModule.create(
        tenant=tenant, course=row, position=3, title="测验", kind=ModuleKind.QUIZ, credits=Decimal("1.0")
    )
    quiz = await Quiz.create(tenant=tenant, module=module, title="消防知识测验", **{"pass_mark": 60, **settings})
    abcd = [{"key": k, "text": t} for k, t in zip("ABCD", ("干粉灭火器", "用水", "湿毛巾捂口鼻", "乘电梯"))]
    specs = {
        "single": (QuestionKind.SINGLE_CHOICE, "电器起火首先应使用？", abcd, ["A"], "2"),
        "multiple": (QuestionKind.MULTIPLE_CHOICE, "火场逃生正确的做法有？", abcd, ["A", "C"], "2"),
        "truefalse": (QuestionKind.TRUE_FALSE, "火灾时可以乘电梯逃生。", [], False, "1"),
        "exact": (
            QuestionKind.SHORT_TEXT,
            "拜访客户前的第一步是什么？",
            [],
            {"exact": ["客户需求分析", KEY_MARKER]},
            "2",
        ),
        "keywords": (
            QuestionKind.SHORT_TEXT,
            "沟通的要点（写出两个）？",
            [],
            {"keywords": ["倾听", "提问", "复述"], "minKeywords": 2},
            "2",
        ),
        "manual": (QuestionKind.SHORT_TEXT, "谈谈你对安全生产的理解。", [], {}, "1"),
    }
    questions = {}
    for position, (name, (kind, prompt, options, key, points)) in enumerate(specs.items(), start=1):
        question = await Question.create(
            tenant=tenant,
            course=row,
            kind=kind,
            prompt=prompt,
            options=options,
            answer_key=key,
            points=Decimal(points),
            explanation=f"解析：{EXPLANATION_MARKER}",
        )
        await QuizQuestion.create(tenant=tenant, quiz=quiz, question=question, position=position)
        questions[name] = question
    return module, quiz, questions


def answers(questions, right=True):
    q = questions
    if right:
        given = {
            "single": "A",
            "multiple": ["C", "A"],
            "truefalse": False,
            "exact": "  客户需求分析　",
            "keywords": "认真倾听，适时提问",
            "manual": "安全第一",
        }
    else:
        given = {"single": "B", "multiple": ["A"], "truefalse": True, "exact": "需求", "keywords": "倾听", "manual": ""}
    return {str(q[name].id): value for name, value in given.items()}


def submission(module, answers_, seq, occurred_at=None, started_at=None):
    payload = {"quizId": to_global_id("CourseModule", module.id), "answers": answers_}
    if started_at:
        payload["startedAt"] = started_at.isoformat()
    return {
        "id": str(uuid.uuid4()),
        "seq": seq,
        "kind": "QUIZ_SUBMISSION",
        "occurredAt": (occurred_at or datetime.now(UTC)).isoformat(),
        "payload": payload,
    }


async def submit(client, token, module, answers_, started_at=None, submitted_at=None):
    body = await gql(
        client,
        SUBMIT,
        {
            "input": {
                "clientId": str(uuid.uuid4()),
                "quizId": to_global_id("CourseModule", module.id),
                "answers": answers_,
                "startedAt": started_at.isoformat() if started_at else None,
                "submittedAt": submitted_at.isoformat() if submitted_at else None,
            }
        },
        token=token,
    )
    assert body["data"]["submitQuizAttempt"]["errors"] == [], body
    return body["data"]["submitQuizAttempt"]["result"]


@pytest.fixture
async def company(password_hash):
    return await make_company(password_hash)


def _question(kind, key, points="2"):
    return SimpleNamespace(kind=kind, answer_key=key, points=Decimal(points))


@pytest.mark.parametrize(
    "kind,key,answer,expected",
    [
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
        (
            QuestionKind.SHORT_TEXT,
            {"keywords": ["倾听", "提问", "复述"], "minKeywords": 2},
            "先倾听再提问",
            (Decimal(2), True, False),
        ),
        (
            QuestionKind.SHORT_TEXT,
            {"keywords": ["倾听", "提问", "复述"], "minKeywords": 2},
            "倾听",
            (Decimal(0), False, False),
        ),
        (QuestionKind.SHORT_TEXT, {}, "随便写写", (Decimal(0), None, True)),
        (QuestionKind.SHORT_TEXT, {"exact": [], "keywords": []}, "随便写写", (Decimal(0), None, True)),
        (QuestionKind.SINGLE_CHOICE, "B", None, (Decimal(0), False, False)),
    ],
)
def test_grading_of_every_kind(kind, key, answer, expected):
    assert grade(_question(kind, key), answer) == expected


async def test_a_quiz_is_graded_per_question_and_a_pass_counts_the_module_done(client, company):
    module, _quiz, questions = await make_quiz(company)
    learner = await token_for(client, company.code, "LRN")
    started = datetime.now(UTC) - timedelta(minutes=5)
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
    assert [(r["status"], r["code"]) for r in results] == [("ACCEPTED", None)] * 3 + [
        ("REJECTED", "ATTEMPTS_EXHAUSTED")
    ] * 3
    assert sorted(await QuizAttempt.filter(quiz=quiz).values_list("attempt_no", flat=True)) == [1, 2, 3]


async def test_six_concurrent_online_submissions_from_two_devices_take_exactly_three_attempts(client, company):
    module, quiz, questions = await make_quiz(company, attempts_allowed=3)
    phone = await token_for(client, company.code, "LRN")
    tablet = await token_for(client, company.code, "LRN", device_id="tablet")
    results = await asyncio.gather(
        *(submit(client, token, module, answers(questions)) for token in (phone, tablet) * 3)
    )
    outcomes = sorted((r["status"], r["code"] or "") for r in results)
    assert outcomes == [("ACCEPTED", "")] * 3 + [("REJECTED", "ATTEMPTS_EXHAUSTED")] * 3
    assert sorted(await QuizAttempt.filter(quiz=quiz).values_list("attempt_no", flat=True)) == [1, 2, 3]
    assert await ModuleProgress.get(module=module).values_list("completed_count", flat=True) == 1


async def test_the_deadline_is_judged_by_the_corrected_time_of_finishing(client, company):
    """The quiz closed an hour ago; the phone's clock runs an hour fast and syncs only now. The
    attempt it finished before the deadline counts; the one finished after it does not."""
    now = datetime.now(UTC)
    closes_at = now - timedelta(hours=1)
    module, quiz, questions = await make_quiz(company, closes_at=closes_at)
    learner = await token_for(client, company.code, "LRN")
    skew = timedelta(hours=1)
    in_time = submission(
        module,
        answers(questions),
        1,
        occurred_at=closes_at - timedelta(minutes=10) + skew,
        started_at=closes_at - timedelta(minutes=30) + skew,
    )
    late = submission(module, answers(questions), 2, occurred_at=closes_at + timedelta(minutes=10) + skew)
    body = await gql(client, PUSH, push_input([in_time, late], sent_at=datetime.now(UTC) + skew), token=learner)
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
    now = datetime.now(UTC)
    cases = [(timedelta(seconds=5), "TOO_FAST"), (timedelta(minutes=5), ""), (timedelta(minutes=20), "OVER_TIME_LIMIT")]
    for took, _ in cases:
        result = await submit(client, learner, module, answers(questions), started_at=now - took, submitted_at=now)
        assert result["status"] == "ACCEPTED"
    flags = await QuizAttempt.filter(quiz=quiz).order_by("attempt_no").values_list("risk_flags", flat=True)
    assert list(flags) == [expected for _, expected in cases]


async def test_no_answer_key_reaches_a_learner(client, company):
    module, quiz, questions = await make_quiz(
        company, attempts_allowed=5, shuffle=True, review_timing=ReviewTiming.AFTER_EACH_ATTEMPT
    )
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
    # No type a learner's query returns has a field that could carry one (authoring types do).
    schema = (await gql(client, "{ __schema { types { name fields { name } } } }", token=learner))["data"]
    learner_types = {
        "QuizView",
        "QuizQuestionView",
        "QuizOption",
        "QuizAttemptView",
        "QuizQuestionFeedback",
        "SyncRecordResult",
        "SyncChange",
        "CourseModule",
        "Course",
    }
    fields = {t["name"]: {f["name"] for f in t["fields"] or []} for t in schema["__schema"]["types"]}
    assert learner_types <= set(fields)
    assert all("answerKey" not in fields[name] for name in learner_types)


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
    course.status = CourseStatus.RETIRED
    await course.save()
    result = await submit(client, learner, module, answers(questions))
    assert result["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    "change,field",
    [
        ({"answers": ["A"]}, "answers"),
        ({"startedAt": "gestern"}, "startedAt"),
        ({"startedAt": 5}, "startedAt"),
        ({"quizId": to_global_id("Course", 1)}, "quizId"),
    ],
)
async def test_malformed_submissions_are_invalid_payloads(client, company, change, field):
    module, quiz, questions = await make_quiz(company)
    learner = await token_for(client, company.code, "LRN", device_id="bad-phone")
    record = submission(module, answers(questions), 1)
    record["payload"].update(change)
    body = await gql(client, PUSH, push_input([record], device_id="bad-phone"), token=learner)
    result = body["data"]["syncPush"]["results"][0]
    assert (result["status"], result["code"]) == ("REJECTED", "INVALID_PAYLOAD") and field in result["message"]
    assert not await QuizAttempt.filter(quiz=quiz).exists()


# --- the result of a submission ------------------------------------------------------------

PUSH_WITH_RESULT = """
mutation Push($input: SyncPushInput!) {
  syncPush(input: $input) { results { id status code originalStatus result } errors { code } }
}
"""
SUBMIT_WITH_RESULT = """
mutation S($input: SubmitQuizAttemptInput!) {
  submitQuizAttempt(input: $input) { result { status code result } errors { code } }
}
"""


async def pull_all(client, token, device_id="device-1"):
    """Every change from zero, page by page, and the raw bodies."""
    cursor, changes, bodies = None, [], []
    while True:
        body = await gql(client, PULL, pull_input(cursor, limit=7, device_id=device_id), token=token)
        assert "errors" not in body and body["data"]["syncPull"]["errors"] == [], body
        bodies.append(json.dumps(body, ensure_ascii=False))
        page = body["data"]["syncPull"]
        changes += page["changes"]
        cursor = page["cursor"]
        if not page["hasMore"]:
            return changes, bodies


def latest(changes, entity, row_id):
    found = [c for c in changes if c["entity"] == entity and c["id"] == row_id]
    return found[-1] if found else None


async def test_the_result_comes_back_in_the_push_the_feed_and_again_on_a_retry(client, company):
    module, quiz, questions = await make_quiz(company)
    learner = await token_for(client, company.code, "LRN")
    record = submission(module, answers(questions), 1, occurred_at=datetime.now(UTC) - timedelta(minutes=1))
    first = (await gql(client, PUSH_WITH_RESULT, push_input([record]), token=learner))["data"]["syncPush"]["results"][0]
    result = first["result"]
    assert first["status"] == "ACCEPTED"
    assert {k: result[k] for k in ("attemptNo", "score", "maxScore", "percent", "passed", "status")} == {
        "attemptNo": 1,
        "score": "9.0",
        "maxScore": "10.0",
        "percent": 90,
        "passed": True,
        "status": "NEEDS_MANUAL_GRADING",
    }
    by_id = {f["questionId"]: f for f in result["feedback"]}
    assert by_id[str(questions["single"].id)] == {
        "questionId": str(questions["single"].id),
        "correct": True,
        "pointsAwarded": "2.0",
        "explanation": f"解析：{EXPLANATION_MARKER}",
    }
    assert by_id[str(questions["manual"].id)]["correct"] is None
    again = (await gql(client, PUSH_WITH_RESULT, push_input([record]), token=learner))["data"]["syncPush"]["results"][0]
    assert (again["status"], again["originalStatus"], again["result"]) == ("DUPLICATE", "ACCEPTED", result)
    # Twice in one batch: the second copy is answered like a retry of the first.
    twin = submission(module, answers(questions, right=False), 2)
    both = (await gql(client, PUSH_WITH_RESULT, push_input([twin, twin]), token=learner))["data"]["syncPush"]["results"]
    assert both[0]["status"] == "ACCEPTED" and both[1]["status"] == "DUPLICATE"
    assert both[0]["result"] == both[1]["result"] and both[0]["result"]["attemptNo"] == 2
    changes, _ = await pull_all(client, learner)
    row = latest(changes, "RECORD_OUTCOME", record["id"])
    assert row["data"]["result"] == result and row["data"]["status"] == "ACCEPTED"
    attempt = await QuizAttempt.get(quiz=quiz, attempt_no=1)
    feed_attempt = latest(changes, "QUIZ_ATTEMPT", to_global_id("QuizAttempt", attempt.id))["data"]
    assert feed_attempt["id"] == to_global_id("QuizAttempt", attempt.id)
    assert (feed_attempt["moduleId"], feed_attempt["attemptNo"], feed_attempt["score"], feed_attempt["status"]) == (
        to_global_id("CourseModule", module.id),
        1,
        "9.0",
        "NEEDS_MANUAL_GRADING",
    )
    assert EXPLANATION_MARKER in feed_attempt["feedback"][0]["explanation"]
    # Refusals and other kinds carry no result.
    late = submission(module, answers(questions), 3)
    late["payload"]["quizId"] = to_global_id("CourseModule", company.courses["S-007"].id)
    refused = (await gql(client, PUSH_WITH_RESULT, push_input([late]), token=learner))["data"]["syncPush"]["results"][0]
    assert refused["status"] == "REJECTED" and refused["result"] is None


async def test_without_review_the_result_has_no_feedback_online_or_in_the_feed(client, company):
    module, quiz, questions = await make_quiz(company, review_allowed=False)
    learner = await token_for(client, company.code, "LRN")
    body = await gql(
        client,
        SUBMIT_WITH_RESULT,
        {"input": {"quizId": to_global_id("CourseModule", module.id), "answers": answers(questions, right=False)}},
        token=learner,
    )
    result = body["data"]["submitQuizAttempt"]["result"]["result"]
    assert result["feedback"] is None and (result["score"], result["passed"], result["status"]) == (
        "0.0",
        False,
        "GRADED",
    )
    changes, bodies = await pull_all(client, learner)
    attempt = await QuizAttempt.get(quiz=quiz)
    assert latest(changes, "QUIZ_ATTEMPT", to_global_id("QuizAttempt", attempt.id))["data"]["feedback"] is None
    assert all(EXPLANATION_MARKER not in b for b in bodies)


async def test_a_quiz_whose_review_is_switched_off_stops_showing_feedback_in_the_feed(client, company):
    module, quiz, questions = await make_quiz(company, review_timing=ReviewTiming.AFTER_EACH_ATTEMPT)
    learner = await token_for(client, company.code, "LRN")
    await submit(client, learner, module, answers(questions, right=False))
    changes, bodies = await pull_all(client, learner)
    assert any(EXPLANATION_MARKER in b for b in bodies)
    quiz.review_allowed = False
    await quiz.save()
    changes, bodies = await pull_all(client, learner)
    outcome = [c for c in changes if c["entity"] == "RECORD_OUTCOME"][-1]
    assert outcome["data"]["result"]["feedback"] is None and outcome["data"]["result"]["percent"] == 0
    assert all(EXPLANATION_MARKER not in b for b in bodies)


# --- manual grading ------------------------------------------------------------------------

GRADE = """
mutation G($input: GradeQuizAnswerInput!) {
  gradeQuizAnswer(input: $input) {
    attempt { id attemptNo score percent passed status
              answers { questionId kind prompt answer points pointsAwarded correct awaitingGrading comment } }
    errors { code field }
  }
}
"""
TO_GRADE = """
query T($first: Int, $after: String) {
  quizAttemptsToGrade(first: $first, after: $after) {
    edges { cursor node { id learnerName employeeNo attemptNo status answers { questionId awaitingGrading answer } } }
    pageInfo { hasNextPage endCursor }
    totalCount
  }
}
"""


async def grade_as(client, token, attempt, question, points, comment=""):
    body = await gql(
        client,
        GRADE,
        {
            "input": {
                "attemptId": to_global_id("QuizAttempt", attempt.id),
                "questionId": str(question.id),
                "points": points,
                "comment": comment,
            }
        },
        token=token,
    )
    assert "errors" not in body, body
    return body["data"]["gradeQuizAnswer"]


async def test_an_open_answer_is_graded_by_the_mentor_and_a_pass_counts_the_module_once(client, company):
    """Pass mark 100: both attempts (9 of 10) wait for the open answer. Four graders at once (two per
    attempt) grade once each, and the module is counted once though both attempts pass."""
    module, quiz, questions = await make_quiz(company, pass_mark=100)
    learner = await token_for(client, company.code, "LRN")
    mentor = await token_for(client, company.code, "MGR", device_id="mgr-phone")
    hr = await token_for(client, company.code, "HR1", device_id="hr-phone")
    other = await token_for(client, company.code, "OTH", device_id="oth-phone")
    for _ in range(2):
        result = await submit(
            client, learner, module, answers(questions), submitted_at=datetime.now(UTC) - timedelta(minutes=1)
        )
        assert result["status"] == "ACCEPTED"
    first, second = await QuizAttempt.filter(quiz=quiz).order_by("attempt_no")
    assert first.status == "NEEDS_MANUAL_GRADING" and not first.passed
    assert not await ModuleProgress.filter(module=module).exists()

    # Who may see and grade them.
    listed = (await gql(client, TO_GRADE, {"first": 1}, token=mentor))["data"]["quizAttemptsToGrade"]
    node = listed["edges"][0]["node"]
    assert (node["id"], node["learnerName"], node["status"]) == (
        to_global_id("QuizAttempt", first.id),
        "李学员",
        "NEEDS_MANUAL_GRADING",
    )
    manual = next(a for a in node["answers"] if a["awaitingGrading"])
    assert (manual["questionId"], manual["answer"]) == (str(questions["manual"].id), "安全第一")
    assert (listed["pageInfo"]["hasNextPage"], listed["totalCount"]) == (True, 2)
    # Cursors keep their encoding: one issued before the generic pages still reads.
    assert listed["pageInfo"]["endCursor"] == encode_cursor("quiz-attempt-to-grade", [first.id])
    rest = await gql(client, TO_GRADE, {"first": 5, "after": listed["pageInfo"]["endCursor"]}, token=mentor)
    assert [e["node"]["attemptNo"] for e in rest["data"]["quizAttemptsToGrade"]["edges"]] == [2]
    assert len((await gql(client, TO_GRADE, {}, token=hr))["data"]["quizAttemptsToGrade"]["edges"]) == 2
    for token in (other, learner):
        body = await gql(client, TO_GRADE, {}, token=token)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        denied = await grade_as(client, token, first, questions["manual"], 1)
        assert denied["errors"][0]["code"] == "FORBIDDEN" and denied["attempt"] is None
    assert (await grade_as(client, mentor, first, questions["manual"], 2))["errors"][0]["field"] == "points"
    assert (await grade_as(client, mentor, first, questions["manual"], "-1"))["errors"][0]["code"] == "VALIDATION"
    assert (await grade_as(client, mentor, first, questions["single"], 1))["errors"][0]["code"] == "ALREADY_GRADED"

    outcomes = await asyncio.gather(
        grade_as(client, mentor, first, questions["manual"], 1, "理解到位"),
        grade_as(client, hr, first, questions["manual"], 1),
        grade_as(client, mentor, second, questions["manual"], 1),
        grade_as(client, hr, second, questions["manual"], 1),
    )
    codes = sorted(o["errors"][0]["code"] if o["errors"] else "OK" for o in outcomes)
    assert codes == ["ALREADY_GRADED", "ALREADY_GRADED", "OK", "OK"]
    graded = next(o["attempt"] for o in outcomes[:2] if not o["errors"])
    assert (graded["score"], graded["percent"], graded["passed"], graded["status"]) == ("10.0", 100, True, "GRADED")
    for attempt in (first, second):
        await attempt.refresh_from_db()
        assert attempt.status == "GRADED" and attempt.passed and attempt.percent == 100
        assert attempt.graded_by_id in {company.employees["MGR"].id, company.employees["HR1"].id}
        assert attempt.graded_at is not None
    progress = await ModuleProgress.get(module=module)
    assert progress.completed_count == 1
    assert (await grade_as(client, mentor, first, questions["manual"], 1))["errors"][0]["code"] == "ALREADY_GRADED"
    assert (await gql(client, TO_GRADE, {}, token=hr))["data"]["quizAttemptsToGrade"]["edges"] == []

    # The learner learns of it through the feed and their attempts.
    changes, _ = await pull_all(client, learner)
    row = latest(changes, "QUIZ_ATTEMPT", to_global_id("QuizAttempt", first.id))["data"]
    assert (row["status"], row["score"], row["percent"], row["passed"]) == ("GRADED", "10.0", 100, True)
    assert latest(changes, "MODULE_PROGRESS", to_global_id("CourseModule", module.id))["data"]["completedCount"] == 1
    mine = await gql(client, ATTEMPTS, {"id": to_global_id("CourseModule", module.id)}, token=learner)
    assert [a["status"] for a in mine["data"]["myQuizAttempts"]] == ["GRADED", "GRADED"]


async def test_partial_points_leave_the_attempt_failed_and_grading_needs_a_current_mentorship(client, company):
    module, quiz, questions = await make_quiz(company, pass_mark=100)
    learner = await token_for(client, company.code, "LRN")
    mentor = await token_for(client, company.code, "MGR", device_id="mgr-phone")
    await submit(client, learner, module, answers(questions))
    attempt = await QuizAttempt.get(quiz=quiz)
    mentorship = await Mentorship.get(mentee=company.employees["LRN"])
    mentorship.ends_on = date(2026, 1, 31)
    await mentorship.save()
    assert (await grade_as(client, mentor, attempt, questions["manual"], "0.5"))["errors"][0]["code"] == "FORBIDDEN"
    mentorship.ends_on = None
    await mentorship.save()
    done = await grade_as(client, mentor, attempt, questions["manual"], "0.5", "还可以更具体")
    assert done["errors"] == []
    manual = next(a for a in done["attempt"]["answers"] if a["questionId"] == str(questions["manual"].id))
    assert (manual["pointsAwarded"], manual["correct"], manual["awaitingGrading"], manual["comment"]) == (
        "0.5",
        False,
        False,
        "还可以更具体",
    )
    assert (done["attempt"]["score"], done["attempt"]["percent"], done["attempt"]["passed"]) == ("9.5", 95, False)
    assert not await ModuleProgress.filter(module=module).exists()


# --- shuffling -----------------------------------------------------------------------------


async def test_options_are_shuffled_per_learner_and_attempt_and_answers_stay_by_key(client, company):
    from backend.services.ojt.quizzes import shuffled

    tenant, course = company.tenant, company.courses["A-002"]
    module = await CourseModule.create(tenant=tenant, course=course, position=3, title="测验", kind=ModuleKind.QUIZ)
    quiz = await Quiz.create(tenant=tenant, module=module, title="顺序测验", shuffle=True, attempts_allowed=3)
    keys = "ABCDEFGH"
    questions = []
    for position in range(1, 4):
        options = [{"key": k, "text": f"选项{k}{position}"} for k in keys]
        question = await Question.create(
            tenant=tenant,
            course=course,
            kind=QuestionKind.SINGLE_CHOICE,
            prompt=f"第{position}题",
            options=options,
            answer_key=["C"],
            points=1,
        )
        await QuizQuestion.create(tenant=tenant, quiz=quiz, question=question, position=position)
        questions.append(question)
    learner = await token_for(client, company.code, "LRN")
    colleague = await token_for(client, company.code, "OTH", device_id="oth-phone")
    quiz_id = {"id": to_global_id("CourseModule", module.id)}

    async def orders(token):
        view = (await gql(client, MODULE_QUIZ, quiz_id, token=token))["data"]["moduleQuiz"]
        return {q["id"]: [o["key"] for o in q["options"]] for q in view["questions"]}

    lrn = company.employees["LRN"].id
    first = await orders(learner)
    assert first == await orders(learner)  # the same attempt: the same order
    for question in questions:
        expected = shuffled(list(keys), quiz.id, lrn, 1, f"q{question.id}")
        assert first[str(question.id)] == expected and sorted(expected) == list(keys)
    assert first != {str(q.id): list(keys) for q in questions}
    assert await orders(colleague) != first  # another learner: another order
    right = {str(q.id): "C" for q in questions}
    assert (await submit(client, learner, module, right))["status"] == "ACCEPTED"
    assert (await QuizAttempt.get(quiz=quiz)).percent == 100  # answers are keys, whatever the order
    second = await orders(learner)
    assert second != first
    for question in questions:
        assert second[str(question.id)] == shuffled(list(keys), quiz.id, lrn, 2, f"q{question.id}")


# --- no key ever reaches a learner, whatever they ask --------------------------------------

COURSES = """
query { courses(first: 50) { edges { node { id code title modules { id title kind requirement } } } } }
"""
COURSE = """
query C($id: ID!) { course(id: $id) { id title modules { id title kind position requirement } } }
"""
NODE = """
query N($id: ID!) { node(id: $id) { id ... on CourseModule { title kind } ... on Course { title } } }
"""
BANK = "query B($id: ID!) { questionBank(courseId: $id) { id answerKey explanation } }"


async def test_no_answer_key_or_explanation_in_anything_a_learner_can_ask_for(client, company):
    from backend.services.records import registry

    module, _quiz, questions = await make_quiz(company, review_allowed=False, shuffle=True, attempts_allowed=5)
    await registry.backfill(company.tenant.id)  # the quiz was made with the ORM: mark it for the feed
    learner = await token_for(client, company.code, "LRN")
    module_id = to_global_id("CourseModule", module.id)
    course_id = to_global_id("Course", company.courses["A-002"].id)
    bodies = []

    async def ask(query, variables=None, **extra):
        body = await gql(client, query, variables, token=learner, **extra)
        bodies.append(json.dumps(body, ensure_ascii=False))
        return body

    view = (await ask(MODULE_QUIZ, {"id": module_id}))["data"]["moduleQuiz"]
    assert len(view["questions"]) == 6
    await ask(ATTEMPTS, {"id": module_id})
    listing = (await ask(COURSES))["data"]["courses"]["edges"]
    assert any(m["id"] == module_id for e in listing for m in e["node"]["modules"])
    await ask(COURSE, {"id": course_id})
    assert (await ask(NODE, {"id": module_id}))["data"]["node"]["kind"] == "QUIZ"
    await ask(NODE, {"id": course_id})
    wrong = {
        str(questions["single"].id): "B",
        str(questions["exact"].id): "不知道",
        str(questions["truefalse"].id): True,
        str(questions["manual"].id): "安全",
    }
    online = await ask(SUBMIT_WITH_RESULT, {"input": {"quizId": module_id, "answers": wrong}})
    assert online["data"]["submitQuizAttempt"]["result"]["result"]["attemptNo"] == 1
    record = submission(module, wrong, 1, occurred_at=datetime.now(UTC) - timedelta(minutes=1))
    pushed = await ask(PUSH_WITH_RESULT, push_input([record]))
    assert pushed["data"]["syncPush"]["results"][0]["result"]["attemptNo"] == 2
    await ask(PUSH_WITH_RESULT, push_input([record]))  # the DUPLICATE answer
    await ask(ATTEMPTS, {"id": module_id})
    await ask(MODULE_QUIZ, {"id": module_id}, language="en")
    for query, variables in ((BANK, {"id": course_id}), (TO_GRADE, {})):
        denied = await ask(query, variables)
        assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    changes, pages = await pull_all(client, learner)
    bodies += pages
    quiz_row = latest(changes, "QUIZ", module_id)["data"]
    assert (quiz_row["title"], quiz_row["reviewAllowed"], quiz_row["shuffle"], quiz_row["version"]) == (
        "消防知识测验",
        False,
        True,
        1,
    )
    assert [q["id"] for q in quiz_row["questions"]] == [str(q.id) for q in questions.values()]  # canonical
    assert {"id", "kind", "prompt", "options", "points"} == set(quiz_row["questions"][0])
    assert len([c for c in changes if c["entity"] == "QUIZ_ATTEMPT"]) == 2
    secrets_ = [
        KEY_MARKER,
        "客户需求分析",
        "复述",
        "minKeywords",
        "answerKey",
        "answer_key",
        "exact",
        "keywords",
        "needsManual",
        "maxPoints",
        EXPLANATION_MARKER,
        "解析：",
    ]
    for body in bodies:
        for secret in secrets_:
            assert secret not in body, (secret, body[:300])


async def test_quiz_rows_of_draft_courses_reach_only_those_who_see_drafts(client, company):
    from backend.services.records import registry

    module, _, _ = await make_quiz(company, course="S-007")
    await registry.backfill(company.tenant.id)
    learner = await token_for(client, company.code, "LRN")
    hr = await token_for(client, company.code, "HR1", device_id="hr-phone")
    module_id = to_global_id("CourseModule", module.id)
    mine, _ = await pull_all(client, learner)
    assert latest(mine, "QUIZ", module_id)["op"] == "DELETE"
    theirs, bodies = await pull_all(client, hr, device_id="hr-phone")
    row = latest(theirs, "QUIZ", module_id)
    assert row["op"] == "UPSERT" and len(row["data"]["questions"]) == 6
    assert all(KEY_MARKER not in b and EXPLANATION_MARKER not in b for b in bodies)
    # Publishing the course brings its quiz to the learner's next pull.
    cursor = (await gql(client, PULL, pull_input(None, limit=1000), token=learner))["data"]["syncPull"]["cursor"]
    published = await gql(
        client,
        PUBLISH,
        {"input": {"courseId": to_global_id("Course", company.courses["S-007"].id), "status": "PUBLISHED"}},
        token=hr,
    )
    assert published["data"]["setCourseStatus"]["errors"] == []
    page = (await gql(client, PULL, pull_input(cursor, limit=1000), token=learner))["data"]["syncPull"]
    row = latest(page["changes"], "QUIZ", module_id)
    assert row["op"] == "UPSERT" and row["data"]["title"] == "消防知识测验"
    assert KEY_MARKER not in json.dumps(page, ensure_ascii=False)


PUBLISH = """
mutation P($input: SetCourseStatusInput!) { setCourseStatus(input: $input) { errors { code } } }
"""


async def test_a_pass_waiting_for_a_person_is_credited_with_its_final_score(client, company):
    """Auto-graded 90% passes, but credits wait for the open answer: graded to 100%, a rule asking
    for 95 credits it (judged on the partial score it never would)."""
    from backend.models import CreditAccount, CreditActivity, CreditRule

    module, quiz, questions = await make_quiz(company)
    await CreditRule.create(
        tenant=company.tenant,
        rule_key="QUIZ-95",
        name="测验 95 分",
        activity=CreditActivity.QUIZ_PASSED,
        credits=30,
        min_score=95,
    )
    learner = await token_for(client, company.code, "LRN")
    result = await submit(
        client, learner, module, answers(questions), submitted_at=datetime.now(UTC) - timedelta(minutes=1)
    )
    assert result["status"] == "ACCEPTED"
    attempt = await QuizAttempt.get(quiz=quiz)
    assert attempt.status == "NEEDS_MANUAL_GRADING" and attempt.passed
    lrn = company.employees["LRN"]
    assert not await CreditAccount.filter(employee=lrn, balance__gt=0).exists()
    mentor = await token_for(client, company.code, "MGR", device_id="mgr-phone")
    graded = await grade_as(client, mentor, attempt, questions["manual"], "1")
    assert graded["errors"] == [] and graded["attempt"]["percent"] == 100
    assert (await CreditAccount.get(employee=lrn)).balance == 30
