"""OJT end to end through the reference phone client (mobile_sync.client.SyncClient): a learner
practises and takes a quiz offline, their mentor confirms and scores on two phones offline, and
everything meets on the server exactly once, with the documented conflict policy."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from backend.app import create_app
from backend.ids import to_global_id
from backend.models import CourseModule, CourseSkill, ModuleKind, ModuleProgress, QuizQuestion, RubricCriterion
from backend.services.records.registry import backfill
from mobile_sync.client import SyncClient
from tests.factories import TEST_PASSWORD, make_company
from tests.test_quizzes import EXPLANATION_MARKER, KEY_MARKER, answers, make_quiz

BASE = "http://xuefen.test"


@pytest.fixture(scope="module")
def app(database_url, test_settings):
    return create_app(test_settings.with_overrides(database_url=database_url), manage_db=False)


def phone(app, path, company, employee_no, device_id):
    async def no_sleep(_seconds: float) -> None:
        return None

    return SyncClient(
        path,
        BASE,
        tenant=company.code,
        employee_no=employee_no,
        password=TEST_PASSWORD,
        device_id=device_id,
        transport=httpx.ASGITransport(app=app),
        sleep=no_sleep,
        rng=random.Random(5),
    )


def gid(type_name: str, row_id: int) -> str:
    return to_global_id(type_name, row_id)


async def test_practice_quiz_and_scoring_offline_meet_on_the_server_once(app, password_hash, tmp_path):
    company = await make_company(password_hash)
    course = company.courses["S-002"]
    lesson = await CourseModule.get(course=course, kind=ModuleKind.LESSON)
    practice = await CourseModule.get(course=course, kind=ModuleKind.PRACTICE)
    await CourseModule.filter(id=practice.id).update(rubric_id=company.rubrics["ROLEPLAY"].id)
    quiz_module, _, questions = await make_quiz(company, course="A-002", review_allowed=False)
    # Without the question that needs a person, the attempt is graded at once (and is evidence).
    await QuizQuestion.filter(question=questions["manual"]).delete()
    await CourseSkill.create(
        tenant=company.tenant, course=company.courses["A-002"], skill=company.skills["SAFE"], target_level=80
    )
    await backfill(company.tenant.id)
    earlier = datetime.now(UTC) - timedelta(hours=3)

    # The learner's phone, offline: a lesson, three practice logs (4 + 4 + 2 = the 10 required), a quiz.
    learner = phone(app, tmp_path / "lrn.sqlite3", company, "LRN", "lrn-phone")
    learner.record("LESSON_COMPLETED", {"moduleId": gid("CourseModule", lesson.id), "secondsSpent": 600}, earlier)
    for quantity in (4, 4, 2):
        learner.record(
            "PRACTICE_LOG",
            {"moduleId": gid("CourseModule", practice.id), "quantity": quantity, "note": f"客户角色扮演 {quantity} 次"},
            earlier,
        )
    learner.record(
        "QUIZ_SUBMISSION",
        {"quizId": gid("CourseModule", quiz_module.id), "answers": answers(questions)},
        earlier + timedelta(minutes=5),
    )
    synced = await learner.sync()
    assert synced.pushed == 5 and synced.rejected == [] and synced.conflicts == []
    attempts = learner.store_items("QUIZ_ATTEMPT")
    assert [row["passed"] for row in attempts.values()] == [True]
    assert len(learner.store_items("PRACTICE_LOG")) == 3

    # The mentor's two phones both get the logs, then go offline and confirm them all.
    tablet = phone(app, tmp_path / "mgr-a.sqlite3", company, "MGR", "mgr-tablet")
    handset = phone(app, tmp_path / "mgr-b.sqlite3", company, "MGR", "mgr-phone")
    await tablet.sync()
    await handset.sync()
    logs = handset.store_items("PRACTICE_LOG")
    assert {row["status"] for row in logs.values()} == {"PENDING"} and len(logs) == 3
    for device in (tablet, handset):
        for _, log_id in logs:
            device.record("PRACTICE_REVIEW", {"practiceId": log_id, "decision": "CONFIRMED", "note": "很好"}, earlier)

    # The tablet starts an evaluation draft and syncs; the handset gets it, and both edit version 1.
    criteria = await RubricCriterion.filter(rubric=company.rubrics["ROLEPLAY"]).order_by("position")
    evaluation_id = "5f0c8d54-8c1e-4d43-9a51-5d1a8f0b7c11"

    def evaluation(base: int, score: int, submit: bool = False) -> dict:
        return {
            "evaluationId": evaluation_id,
            "menteeId": gid("Employee", company.employees["LRN"].id),
            "moduleId": gid("CourseModule", practice.id),
            "baseVersion": base,
            "scores": {gid("RubricCriterion", c.id): score for c in criteria},
            "comment": f"评分 {score}",
            "submit": submit,
        }

    tablet.record("MENTOR_EVALUATION", evaluation(0, 3), earlier)
    first = await tablet.sync()
    assert first.rejected == [] and first.conflicts == []
    await handset.pull()
    assert handset.store_items("MENTOR_EVALUATION")[("MENTOR_EVALUATION", evaluation_id)]["version"] == 1
    tablet.record("MENTOR_EVALUATION", evaluation(1, 4, submit=True), earlier)
    handset.record("MENTOR_EVALUATION", evaluation(1, 2), earlier)
    from_tablet = await tablet.sync()
    from_handset = await handset.sync()

    # The tablet's reviews and final score win; the handset's reviews find them decided, and its
    # stale edit gets CONFLICT with the server copy (submitted, version 2) to show the mentor.
    assert from_tablet.rejected == [] and from_tablet.conflicts == []
    assert [r["code"] for r in from_handset.rejected] == ["ALREADY_REVIEWED"] * 3
    [conflict] = from_handset.conflicts
    assert conflict["code"] == "VERSION_CONFLICT"
    assert (conflict["serverVersion"]["version"], conflict["serverVersion"]["status"]) == (2, "SUBMITTED")
    assert handset.store_items("MENTOR_EVALUATION")[("MENTOR_EVALUATION", evaluation_id)]["status"] == "SUBMITTED"

    # Counted once: 10 confirmed units complete the practice module, and with the lesson the course.
    progress = await ModuleProgress.get(employee=company.employees["LRN"], module=practice)
    assert progress.completed_count == 10
    await learner.sync()
    store = learner.store_items()
    assert store[("MODULE_PROGRESS", gid("CourseModule", practice.id))]["completed"] is True
    assert ("COURSE_COMPLETION", gid("Course", course.id)) in store
    assert {row["status"] for row in learner.store_items("PRACTICE_LOG").values()} == {"CONFIRMED"}
    evaluations = learner.store_items("MENTOR_EVALUATION")
    assert [row["status"] for row in evaluations.values()] == ["SUBMITTED"]
    skills = learner.store_items("SKILL_LEVEL")
    assert [row["level"] for row in skills.values()] == [80]  # a full score demonstrates the course's target
    # The learner's phone never held an answer key or (review off) an explanation.
    text = json.dumps(list(store.values()), ensure_ascii=False)
    assert KEY_MARKER not in text and EXPLANATION_MARKER not in text
    for device in (learner, tablet, handset):
        await device.close()
