"""Quizzes respect course eligibility (prerequisites and the course's rules, as for enrolling:
downloading, submitting online and offline, the QUIZ feed row), and review timing: with
AFTER_FINAL_ATTEMPT a failed attempt shows its score only, and every attempt shows its feedback
once the learner has passed or used the last attempt (closing the quiz releases nothing)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from backend.ids import to_global_id
from backend.models import (
    Course,
    CourseFormat,
    CourseModule,
    CoursePrerequisite,
    CourseStatus,
    ModuleKind,
    Quiz,
    QuizAttempt,
    ReviewTiming,
)
from tests.conftest import count_queries
from tests.factories import make_company
from tests.graphql_client import gql, token_for
from tests.sync_helpers import PULL, pull_input, push_input
from tests.test_quizzes import (
    ATTEMPTS,
    EXPLANATION_MARKER,
    MODULE_QUIZ,
    PUSH_WITH_RESULT,
    SUBMIT_WITH_RESULT,
    answers,
    grade_as,
    latest,
    make_quiz,
    pull_all,
    submission,
)


@pytest.fixture
async def company(password_hash):
    return await make_company(password_hash)


async def online(client, token, module, answers_):
    body = await gql(
        client,
        SUBMIT_WITH_RESULT,
        {"input": {"quizId": to_global_id("CourseModule", module.id), "answers": answers_}},
        token=token,
    )
    assert "errors" not in body and body["data"]["submitQuizAttempt"]["errors"] == [], body
    return body["data"]["submitQuizAttempt"]["result"]


async def push(client, token, records, device_id="device-1"):
    body = await gql(client, PUSH_WITH_RESULT, push_input(records, device_id=device_id), token=token)
    assert "errors" not in body and body["data"]["syncPush"]["errors"] == [], body
    return body["data"]["syncPush"]["results"]


async def course_with_lesson(company, code, requires=None):
    """A published course with one lesson (position 1); make_quiz adds its QUIZ module."""
    course = await Course.create(
        tenant=company.tenant,
        code=code,
        title=f"课程{code}",
        summary="",
        scenario="安全",
        format=CourseFormat.ONLINE,
        status=CourseStatus.PUBLISHED,
        hours=Decimal("1.0"),
        credits=Decimal("1.0"),
    )
    lesson = await CourseModule.create(
        tenant=company.tenant, course=course, position=1, title="学习", kind=ModuleKind.LESSON, credits=Decimal("1.0")
    )
    if requires is not None:
        await CoursePrerequisite.create(tenant=company.tenant, course=course, required_course=requires)
    company.courses[code] = course
    return course, lesson


def lesson_record(module, seq):
    import uuid

    return {
        "id": str(uuid.uuid4()),
        "seq": seq,
        "kind": "LESSON_COMPLETED",
        "occurredAt": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        "payload": {"moduleId": to_global_id("CourseModule", module.id), "secondsSpent": 60},
    }


# --- eligibility -----------------------------------------------------------------------------


async def test_a_quiz_of_a_course_the_learner_may_not_take_is_refused_everywhere(client, company):
    """S-006 needs S-003, which LRN has not completed; S-003 wants 销售族 grade 2 (LRN is grade 1).
    S-002 needs S-001, which LRN has: its quiz is taken as before."""
    missing, missing_quiz, missing_questions = await make_quiz(company, course="S-006")
    ruled, ruled_quiz, ruled_questions = await make_quiz(company, course="S-003")
    open_, _open_quiz, open_questions = await make_quiz(company, course="S-002")
    from backend.services.records import registry

    await registry.backfill(company.tenant.id)
    learner = await token_for(client, company.code, "LRN")
    for seq, (module, questions, reason) in enumerate(
        ((missing, missing_questions, "PREREQUISITE_MISSING"), (ruled, ruled_questions, "GRADE_TOO_LOW")), start=1
    ):
        module_id = to_global_id("CourseModule", module.id)
        body = await gql(client, MODULE_QUIZ, {"id": module_id}, token=learner, language="en")
        assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "NOT_ELIGIBLE", body
        assert reason in body["errors"][0]["message"]
        result = await online(client, learner, module, answers(questions))
        assert (result["status"], result["code"], result["result"]) == ("REJECTED", "NOT_ELIGIBLE", None)
        (pushed,) = await push(client, learner, [submission(module, answers(questions), seq)])
        assert (pushed["status"], pushed["code"]) == ("REJECTED", "NOT_ELIGIBLE")
    assert not await QuizAttempt.filter(quiz_id__in=[missing_quiz.id, ruled_quiz.id]).exists()
    # The course the learner may take: downloaded and submitted as before.
    view = await gql(client, MODULE_QUIZ, {"id": to_global_id("CourseModule", open_.id)}, token=learner)
    assert len(view["data"]["moduleQuiz"]["questions"]) == 6
    assert (await online(client, learner, open_, answers(open_questions)))["status"] == "ACCEPTED"
    # The feed gives the learner no QUIZ row of a course they may not take; HR (who author
    # quizzes) still get every one.
    changes, _bodies = await pull_all(client, learner)
    assert latest(changes, "QUIZ", to_global_id("CourseModule", missing.id))["op"] == "DELETE"
    assert latest(changes, "QUIZ", to_global_id("CourseModule", ruled.id))["op"] == "DELETE"
    assert latest(changes, "QUIZ", to_global_id("CourseModule", open_.id))["op"] == "UPSERT"
    hr = await token_for(client, company.code, "HR1", device_id="hr-phone")
    theirs, _ = await pull_all(client, hr, device_id="hr-phone")
    assert latest(theirs, "QUIZ", to_global_id("CourseModule", missing.id))["op"] == "UPSERT"


async def test_a_prerequisite_completed_earlier_in_the_same_push_lets_the_next_quiz_count(client, company):
    """Offline, a learner finishes course P (its lesson, then its quiz) and takes the quiz of Q,
    which needs P; one push brings all three. The QUIZ row of Q, withheld before, comes to the
    learner's next pull."""
    first, first_lesson = await course_with_lesson(company, "P-001")
    first_module, _, first_questions = await make_quiz(company, course="P-001")
    await course_with_lesson(company, "P-002", requires=first)
    second_module, second_quiz, second_questions = await make_quiz(company, course="P-002")
    from backend.services.records import registry

    await registry.backfill(company.tenant.id)
    learner = await token_for(client, company.code, "OTH", device_id="oth-phone")
    changes, _ = await pull_all(client, learner, device_id="oth-phone")
    second_id = to_global_id("CourseModule", second_module.id)
    assert latest(changes, "QUIZ", second_id)["op"] == "DELETE"
    cursor = (await gql(client, PULL, pull_input(None, limit=1000, device_id="oth-phone"), token=learner))["data"][
        "syncPull"
    ]["cursor"]
    results = await push(
        client,
        learner,
        [
            lesson_record(first_lesson, 1),
            submission(first_module, answers(first_questions), 2),
            submission(second_module, answers(second_questions), 3),
        ],
        device_id="oth-phone",
    )
    assert [(r["status"], r["code"]) for r in results] == [("ACCEPTED", None)] * 3
    assert await QuizAttempt.filter(quiz=second_quiz).count() == 1
    page = (await gql(client, PULL, pull_input(cursor, limit=1000, device_id="oth-phone"), token=learner))["data"][
        "syncPull"
    ]
    row = latest(page["changes"], "QUIZ", second_id)
    assert row["op"] == "UPSERT" and len(row["data"]["questions"]) == 6


async def test_refused_submissions_of_a_big_push_are_judged_with_a_constant_number_of_queries(client, company):
    module, quiz, questions = await make_quiz(company, course="S-006")
    learner = await token_for(client, company.code, "LRN", device_id="bulk-phone")
    counts = []
    seq = 0
    for size in (5, 200):
        records = []
        for _ in range(size):
            seq += 1
            records.append(submission(module, answers(questions), seq))
        with count_queries() as statements:
            results = await push(client, learner, records, device_id="bulk-phone")
        assert {(r["status"], r["code"]) for r in results} == {("REJECTED", "NOT_ELIGIBLE")}
        counts.append(len(statements))
    assert 0 < counts[0] == counts[1], counts
    assert not await QuizAttempt.filter(quiz=quiz).exists()


# --- review timing ---------------------------------------------------------------------------


def feedback_free(body: str) -> bool:
    return EXPLANATION_MARKER not in body and '"correct"' not in body and "pointsAwarded" not in body


async def test_a_failed_attempt_shows_no_feedback_until_the_learner_passes(client, company):
    module, quiz, questions = await make_quiz(
        company, attempts_allowed=3, review_timing=ReviewTiming.AFTER_FINAL_ATTEMPT
    )
    learner = await token_for(client, company.code, "LRN")
    module_id = to_global_id("CourseModule", module.id)
    wrong = submission(module, answers(questions, right=False), 1, occurred_at=datetime.now(UTC) - timedelta(minutes=2))
    (first,) = await push(client, learner, [wrong])
    assert first["status"] == "ACCEPTED"
    assert {k: first["result"][k] for k in ("attemptNo", "score", "percent", "passed")} == {
        "attemptNo": 1,
        "score": "0.0",
        "percent": 0,
        "passed": False,
    }
    assert first["result"]["feedback"] is None
    (retry,) = await push(client, learner, [wrong])
    assert (retry["status"], retry["result"]) == ("DUPLICATE", first["result"])
    mine = (await gql(client, ATTEMPTS, {"id": module_id}, token=learner))["data"]["myQuizAttempts"]
    assert [a["feedback"] for a in mine] == [None] and mine[0]["percent"] == 0
    changes, bodies = await pull_all(client, learner)
    attempt_one = await QuizAttempt.get(quiz=quiz, attempt_no=1)
    row = latest(changes, "QUIZ_ATTEMPT", to_global_id("QuizAttempt", attempt_one.id))["data"]
    assert row["feedback"] is None and row["score"] == "0.0"
    assert all(feedback_free(b) for b in bodies)
    quiz_row = latest(changes, "QUIZ", module_id)
    assert quiz_row is None or quiz_row["data"]["reviewTiming"] == "AFTER_FINAL_ATTEMPT"
    cursor = (await gql(client, PULL, pull_input(None, limit=1000), token=learner))["data"]["syncPull"]["cursor"]

    # The pass releases the review: its own result shows it, and the first attempt's row comes again.
    passed = await online(client, learner, module, answers(questions))
    assert passed["result"]["passed"] is True and passed["result"]["feedback"]
    assert EXPLANATION_MARKER in passed["result"]["feedback"][0]["explanation"]
    page = (await gql(client, PULL, pull_input(cursor, limit=1000), token=learner))["data"]["syncPull"]
    row = latest(page["changes"], "QUIZ_ATTEMPT", to_global_id("QuizAttempt", attempt_one.id))
    assert row is not None and [f["correct"] for f in row["data"]["feedback"]] == [False] * 6
    mine = (await gql(client, ATTEMPTS, {"id": module_id}, token=learner))["data"]["myQuizAttempts"]
    assert all(a["feedback"] for a in mine)
    # A retry of the first record repeats what was answered then.
    (retry,) = await push(client, learner, [wrong])
    assert (retry["status"], retry["result"]) == ("DUPLICATE", first["result"])


async def test_the_last_attempt_releases_the_review_and_closing_does_not(client, company):
    module, quiz, questions = await make_quiz(company, attempts_allowed=2)  # the default timing
    assert quiz.review_timing == ReviewTiming.AFTER_FINAL_ATTEMPT
    learner = await token_for(client, company.code, "LRN")
    first = await online(client, learner, module, answers(questions, right=False))
    assert first["result"]["feedback"] is None
    cursor = (await gql(client, PULL, pull_input(None, limit=1000), token=learner))["data"]["syncPull"]["cursor"]
    last = await online(client, learner, module, answers(questions, right=False))
    assert last["result"]["attemptNo"] == 2 and last["result"]["feedback"]
    page = (await gql(client, PULL, pull_input(cursor, limit=1000), token=learner))["data"]["syncPull"]
    rows = {c["id"]: c["data"] for c in page["changes"] if c["entity"] == "QUIZ_ATTEMPT"}
    assert len(rows) == 2 and all(row["feedback"] for row in rows.values())  # the first one came again

    # Another quiz, closed after one failed attempt: closing releases nothing, because an attempt
    # finished offline before the closing time may still arrive (it would be taken with the key).
    other_module, other_quiz, other_questions = await make_quiz(company, course="A-001", attempts_allowed=3)
    await online(client, learner, other_module, answers(other_questions, right=False))
    other_quiz.closes_at = datetime.now(UTC) - timedelta(minutes=1)
    await other_quiz.save()
    other_id = to_global_id("CourseModule", other_module.id)
    mine = (await gql(client, ATTEMPTS, {"id": other_id}, token=learner))["data"]["myQuizAttempts"]
    assert mine[0]["feedback"] is None
    finished_in_time = other_quiz.closes_at - timedelta(hours=1)
    (late,) = await push(client, learner, [submission(other_module, answers(other_questions), 1, finished_in_time)])
    assert late["status"] == "ACCEPTED" and late["result"]["passed"]


async def test_a_submission_claimed_before_closing_but_arriving_after_the_offline_grace_is_closed(client, company):
    module, quiz, questions = await make_quiz(company, attempts_allowed=3)
    quiz.closes_at = datetime.now(UTC) - timedelta(days=2)  # the grace is a day (XUEFEN_OFFLINE_GRACE)
    await quiz.save()
    learner = await token_for(client, company.code, "LRN")
    backdated = submission(module, answers(questions), 1, quiz.closes_at - timedelta(minutes=10))
    (result,) = await push(client, learner, [backdated])
    assert (result["status"], result["code"]) == ("REJECTED", "QUIZ_CLOSED")
    assert await QuizAttempt.filter(quiz=quiz).count() == 0


async def test_a_pass_by_manual_grading_releases_the_review_of_every_attempt(client, company):
    module, quiz, questions = await make_quiz(company, pass_mark=100, attempts_allowed=3)
    learner = await token_for(client, company.code, "LRN")
    mentor = await token_for(client, company.code, "MGR", device_id="mgr-phone")
    await online(client, learner, module, answers(questions, right=False))
    waiting = await online(client, learner, module, answers(questions))
    assert waiting["result"]["status"] == "NEEDS_MANUAL_GRADING" and waiting["result"]["feedback"] is None
    cursor = (await gql(client, PULL, pull_input(None, limit=1000), token=learner))["data"]["syncPull"]["cursor"]
    attempt = await QuizAttempt.get(quiz=quiz, attempt_no=2)
    assert (await grade_as(client, mentor, attempt, questions["manual"], 1))["errors"] == []
    page = (await gql(client, PULL, pull_input(cursor, limit=1000), token=learner))["data"]["syncPull"]
    rows = {c["id"]: c["data"] for c in page["changes"] if c["entity"] == "QUIZ_ATTEMPT"}
    assert len(rows) == 2 and all(row["feedback"] for row in rows.values())


SET_QUIZ = """
mutation S($input: SetModuleQuizInput!) {
  setModuleQuiz(input: $input) { quiz { reviewAllowed reviewTiming attemptsAllowed } errors { code field } }
}
"""


async def test_authors_choose_the_review_timing_and_phones_learn_of_a_change(client, company):
    module, quiz, questions = await make_quiz(company, attempts_allowed=3)
    hr = await token_for(client, company.code, "HR1", device_id="hr-phone")
    learner = await token_for(client, company.code, "LRN")
    module_id = to_global_id("CourseModule", module.id)

    async def set_timing(timing=None):
        given = {
            "moduleId": module_id,
            "title": "消防知识测验",
            "passMark": 60,
            "attemptsAllowed": 3,
            "questionIds": [str(q.id) for q in questions.values()],
        }
        if timing:
            given["reviewTiming"] = timing
        body = await gql(client, SET_QUIZ, {"input": given}, token=hr)
        assert body["data"]["setModuleQuiz"]["errors"] == [], body
        return body["data"]["setModuleQuiz"]["quiz"]

    assert (await set_timing("AFTER_EACH_ATTEMPT"))["reviewTiming"] == "AFTER_EACH_ATTEMPT"
    view = (
        await gql(
            client, "query Q($id: ID!) { moduleQuiz(moduleId: $id) { reviewTiming } }", {"id": module_id}, token=learner
        )
    )["data"]["moduleQuiz"]
    assert view == {"reviewTiming": "AFTER_EACH_ATTEMPT"}
    failed = await online(client, learner, module, answers(questions, right=False))
    assert failed["result"]["feedback"]  # today's behaviour, when chosen
    cursor = (await gql(client, PULL, pull_input(None, limit=1000), token=learner))["data"]["syncPull"]["cursor"]
    assert (await set_timing())["reviewTiming"] == "AFTER_FINAL_ATTEMPT"  # the default
    assert (await Quiz.get(id=quiz.id)).review_timing == ReviewTiming.AFTER_FINAL_ATTEMPT
    page = (await gql(client, PULL, pull_input(cursor, limit=1000), token=learner))["data"]["syncPull"]
    attempt = await QuizAttempt.get(quiz=quiz)
    row = latest(page["changes"], "QUIZ_ATTEMPT", to_global_id("QuizAttempt", attempt.id))
    assert row is not None and row["data"]["feedback"] is None
    assert latest(page["changes"], "QUIZ", module_id)["data"]["reviewTiming"] == "AFTER_FINAL_ATTEMPT"
    # Every view of the learner hides it again, the stored push answer too.
    changes, bodies = await pull_all(client, learner)
    assert all(feedback_free(b) for b in bodies), [b[:200] for b in bodies if not feedback_free(b)]
    mine = (await gql(client, ATTEMPTS, {"id": module_id}, token=learner))["data"]["myQuizAttempts"]
    assert mine[0]["feedback"] is None
    assert json.dumps(latest(changes, "QUIZ", module_id)["data"], ensure_ascii=False).count("AFTER_FINAL") == 1
