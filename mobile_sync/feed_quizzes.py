"""Feed rows for quizzes (no answer keys) and the learner's attempts (see mobile_sync/entities.py for the contract).

QUIZ rows go to everyone (audience 0) and show what ``moduleQuiz`` shows, in canonical order (the
app shuffles for display when ``shuffle`` is set), to learners eligible for the course only (a
tombstone otherwise; completing a prerequisite republishes the row to that learner);
QUIZ_ATTEMPT rows go to their learner only.
"""

from __future__ import annotations

from decimal import Decimal

from backend.ids import to_global_id
from backend.models import AttemptStatus, QuestionKind, Quiz, ReviewTiming
from backend.services.feed import Entity
from backend.services.ojt import quizzes
from backend.services.ojt.question_kinds import StudentQuestion
from backend.services.viewer import Viewer
from mobile_sync.entities_base import Loader, Row, dec, ints, iso
from mobile_sync.shapes import ANY, BOOL, DECIMAL, INT, MOMENT, TEXT, enum, gid, many, opt, row


def _quiz_row(quiz: Quiz, questions: list[StudentQuestion]) -> Row:
    return {
        "id": to_global_id("CourseModule", quiz.module_id),
        "moduleId": to_global_id("CourseModule", quiz.module_id),
        "courseId": to_global_id("Course", quiz.module.course_id),
        "title": quiz.title,
        "passMark": quiz.pass_mark,
        "timeLimitSeconds": quiz.time_limit_seconds,
        "attemptsAllowed": quiz.attempts_allowed,
        "shuffle": quiz.shuffle,
        "reviewAllowed": quiz.review_allowed,
        "reviewTiming": quiz.review_timing.value,
        "closesAt": iso(quiz.closes_at),
        "version": quiz.version,
        "questions": [
            {"id": str(q.id), "kind": q.kind.value, "prompt": q.prompt, "options": q.options, "points": dec(q.points)}
            for q in questions
        ],
    }


async def _quizzes(viewer: Viewer, ids: list[str]) -> dict[str, Row | None]:
    """Quizzes the viewer may download (``quizzes.downloadable_quizzes``); never an answer key or
    explanation."""
    found = {
        str(quiz.module_id): _quiz_row(quiz, questions)
        for quiz, questions in await quizzes.downloadable_quizzes(viewer, ints(ids))
    }
    return {i: found.get(i) for i in ids}


def _attempt_row(seen: quizzes.LearnerAttempt) -> Row:
    """An attempt as its learner sees it; feedback (with explanations and the grader's comment)
    only once ``quizzes.shows_feedback`` releases it."""
    attempt = seen.attempt
    return {
        "id": to_global_id("QuizAttempt", attempt.id),
        "moduleId": to_global_id("CourseModule", attempt.quiz.module_id),
        "attemptNo": attempt.attempt_no,
        "submittedAt": iso(attempt.submitted_at),
        "score": quizzes.points_text(Decimal(str(attempt.score))),
        "maxScore": quizzes.points_text(Decimal(str(attempt.max_score))),
        "percent": attempt.percent,
        "passed": attempt.passed,
        "status": AttemptStatus(attempt.status).value,
        "feedback": None if seen.feedback is None else quizzes.feedback_json(seen.feedback, with_comment=True),
    }


async def _attempts(viewer: Viewer, ids: list[str]) -> dict[str, Row | None]:
    """The viewer's own attempts."""
    found = {seen.attempt.id: _attempt_row(seen) for seen in await quizzes.learner_attempts(viewer, ints(ids))}
    return {i: found.get(int(i)) if i.isdigit() else None for i in ids}


LOADERS: dict[Entity, Loader] = {Entity.QUIZ: _quizzes, Entity.QUIZ_ATTEMPT: _attempts}
GLOBAL_TYPES: dict[Entity, str] = {Entity.QUIZ: "CourseModule", Entity.QUIZ_ATTEMPT: "QuizAttempt"}

# The shape of each entity's data (published in the sync contract; tests check every row).

SHAPES = {
    Entity.QUIZ: row(
        "A quiz as a learner may download it: never an answer key.",
        id=gid("CourseModule"),
        moduleId=gid("CourseModule"),
        courseId=gid("Course"),
        title=TEXT,
        passMark=INT,
        timeLimitSeconds=opt(INT),
        attemptsAllowed=INT,
        shuffle=BOOL,
        reviewAllowed=BOOL,
        reviewTiming=enum(ReviewTiming),
        closesAt=opt(MOMENT),
        version=INT,
        questions=many(
            row(
                id=TEXT,
                kind=enum(QuestionKind),
                prompt=TEXT,
                options=many(ANY, "Choices ({key, text}) for choice questions."),
                points=DECIMAL,
            )
        ),
    ),
    Entity.QUIZ_ATTEMPT: row(
        id=gid("QuizAttempt"),
        moduleId=gid("CourseModule"),
        attemptNo=INT,
        submittedAt=opt(MOMENT),
        score=DECIMAL,
        maxScore=DECIMAL,
        percent=INT,
        passed=BOOL,
        status=enum(AttemptStatus),
        feedback=opt(
            many(
                row(questionId=TEXT, correct=opt(BOOL), pointsAwarded=DECIMAL, explanation=TEXT, comment=opt(TEXT)),
                "Per question, once the quiz's review releases it.",
            )
        ),
    ),
}
