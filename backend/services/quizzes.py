"""Quizzes: grading, the learner's view of a quiz, the QUIZ_SUBMISSION record kind, manual
grading of open answers, and the authoring of question banks and quizzes.

Answer keys and explanations never leave this module except as grading results: the learner's
view (``quiz_for_student``) carries prompts, options and points only, and an attempt's feedback
names an explanation only when the quiz allows review.

A submission is judged by when it was finished (the record's corrected time), not when it reached
the server: a phone that finished a quiz offline before it closed and synced afterwards counts.
Attempts are numbered by the database: (quiz, employee, attempt_no) is unique and each attempt is
inserted with ``ON CONFLICT DO NOTHING``, so concurrent submissions from several devices can never
exceed the allowance.

Manual grading locks the learner's attempts at the quiz (PostgreSQL; SQLite has one writer) and
writes with an UPDATE conditional on the status and pass it read, so two graders never both count
the module or both finish an attempt. Authoring views (HR admins, instructors) are the only place
answer keys are shown.
"""

from __future__ import annotations

import hashlib
import json
import random
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from backend.errors import DomainError, ErrorCode
from backend.ids import to_global_id
from backend.models import (
    AttemptStatus,
    Course,
    CourseModule,
    CourseStatus,
    Mentorship,
    ModuleKind,
    Question,
    QuestionKind,
    Quiz,
    QuizAttempt,
    QuizQuestion,
    RecordStatus,
    Role,
)
from backend.services import feed, mentoring, progress, skills
from backend.services.activity import (
    ApplyContext,
    Outcome,
    ParsedRecord,
    invalid_payload,
    payload_id,
    register,
)
from backend.services.audit import audit
from backend.services.feed import ChangeSet, Entity
from backend.services.pagination import check_page_size, decode_cursor, encode_cursor
from backend.services.viewer import Viewer
from backend.sql import db_time, db_uuid, placeholders

QUIZ_SUBMISSION = "QUIZ_SUBMISSION"
SECONDS_PER_QUESTION_AT_LEAST = 2  # faster than this per question: TOO_FAST
MAX_ANSWERS = 500
MAX_SECONDS = 24 * 3600


# --- grading -------------------------------------------------------------------------------


def normalise_text(value: str) -> str:
    """NFKC (full-width to half-width, compatibility forms), case-folded, trimmed, inner
    whitespace collapsed: "  客户需求分析 " and "客户需求分析" match, as do "ＡＢＣ" and "abc"."""
    return " ".join(unicodedata.normalize("NFKC", value).casefold().split())


def _choice(value: Any) -> str | None:
    return value.strip().upper() if isinstance(value, str) else None


def grade(question: Question, answer: Any) -> tuple[Decimal, bool | None, bool]:
    """(points awarded, correct — None while it needs a person —, needs manual grading)."""
    points = Decimal(str(question.points))
    key = question.answer_key
    kind = QuestionKind(question.kind)
    if kind == QuestionKind.SHORT_TEXT:
        key = key if isinstance(key, dict) else {}
        exact = key.get("exact") or []
        exact = [exact] if isinstance(exact, str) else [e for e in exact if isinstance(e, str)]
        keywords = [k for k in key.get("keywords") or [] if isinstance(k, str) and normalise_text(k)]
        if not isinstance(answer, str) or not normalise_text(answer):
            return Decimal(0), False, False  # nothing written is wrong, whoever would grade it
        if not exact and not keywords:
            return Decimal(0), None, True
        given = normalise_text(answer)
        correct = given in {normalise_text(e) for e in exact}
        if not correct and keywords:
            wanted = key.get("minKeywords")
            wanted = len(keywords) if isinstance(wanted, bool) or not isinstance(wanted, int) else wanted
            found = sum(normalise_text(k) in given for k in keywords)
            correct = found >= max(1, min(wanted, len(keywords)))
    elif kind == QuestionKind.TRUE_FALSE:
        correct = isinstance(answer, bool) and isinstance(key, bool) and answer == key
    elif kind == QuestionKind.MULTIPLE_CHOICE:
        keys = {_choice(k) for k in (key if isinstance(key, list) else [key])}
        given = [_choice(a) for a in answer] if isinstance(answer, list) else None
        correct = given is not None and None not in given and set(given) == keys  # all or nothing
    else:  # SINGLE_CHOICE: "A" or ["A"] as the key
        expected = key[0] if isinstance(key, list) and len(key) == 1 else key
        correct = _choice(answer) is not None and _choice(answer) == _choice(expected)
    return (points if correct else Decimal(0)), correct, False


# --- the learner's view --------------------------------------------------------------------


@dataclass(frozen=True)
class StudentQuestion:
    """A question as a learner sees it: no answer key, no explanation."""

    id: int
    kind: QuestionKind
    prompt: str
    options: list[dict[str, str]]
    points: Decimal


@dataclass(frozen=True)
class StudentQuiz:
    quiz: Quiz
    attempts_used: int
    questions: list[StudentQuestion]


def _visible(quiz: Quiz | None) -> bool:
    return (
        quiz is not None
        and quiz.module.kind == ModuleKind.QUIZ
        and quiz.module.course.status == CourseStatus.PUBLISHED
    )


async def _quiz_of_module(viewer: Viewer, module_id: int, connection=None) -> Quiz:
    query = Quiz.filter(tenant_id=viewer.tenant_id, module_id=module_id).select_related("module__course")
    quiz = await (query.using_db(connection) if connection else query).first()
    if not _visible(quiz):
        raise DomainError(ErrorCode.NOT_FOUND)
    return quiz


def _options(options: Any) -> list[dict[str, str]]:
    shown = []
    for option in options if isinstance(options, list) else []:
        if isinstance(option, dict):
            shown.append({"key": str(option.get("key", "")), "text": str(option.get("text", ""))})
    return shown


def shuffled(items: list, quiz_id: int, employee_id: int, attempt_no: int, salt: str = "") -> list:
    """The same order for the same employee and attempt, a different one for the next attempt
    (``salt`` keeps the option orders of different questions independent)."""
    seed = hashlib.sha256(f"{quiz_id}.{employee_id}.{attempt_no}{'.' + salt if salt else ''}".encode()).digest()
    ordered = list(items)
    random.Random(seed).shuffle(ordered)
    return ordered


async def quiz_for_student(viewer: Viewer, module_id: int) -> StudentQuiz:
    """The quiz of a QUIZ module of a published course, with its questions as the learner sees
    them; NOT_FOUND otherwise. When the quiz shuffles, the questions and each question's options
    are in an order of their own per employee and attempt (option keys stay, answers name keys)."""
    quiz = await _quiz_of_module(viewer, module_id)
    used = await QuizAttempt.filter(quiz_id=quiz.id, employee_id=viewer.employee_id).count()
    questions = await student_questions(quiz.id)
    if quiz.shuffle:
        attempt_no = used + 1
        questions = [
            StudentQuestion(q.id, q.kind, q.prompt, shuffled(q.options, quiz.id, viewer.employee_id, attempt_no,
                                                             f"q{q.id}"), q.points)
            for q in shuffled(questions, quiz.id, viewer.employee_id, attempt_no)
        ]
    return StudentQuiz(quiz, used, questions)


async def student_questions(quiz_id: int) -> list[StudentQuestion]:
    """A quiz's questions in their canonical order, as a learner may see them."""
    return (await student_questions_of([quiz_id])).get(quiz_id, [])


async def student_questions_of(quiz_ids: list[int]) -> dict[int, list[StudentQuestion]]:
    """Several quizzes' questions in canonical order, by quiz id, as a learner may see them."""
    found: dict[int, list[StudentQuestion]] = {}
    links = await QuizQuestion.filter(quiz_id__in=quiz_ids).select_related("question").order_by("position", "id")
    for link in links:
        found.setdefault(link.quiz_id, []).append(StudentQuestion(
            link.question.id, QuestionKind(link.question.kind), link.question.prompt,
            _options(link.question.options), Decimal(str(link.question.points)),
        ))
    return found


@dataclass(frozen=True)
class AttemptFeedback:
    question_id: int
    correct: bool | None
    points_awarded: Decimal
    explanation: str
    comment: str = ""


def _items(feedback: Any) -> list[dict[str, Any]]:
    return [
        item for item in (feedback if isinstance(feedback, list) else [])
        if isinstance(item, dict) and isinstance(item.get("questionId"), int)
    ]


async def explanations_of(tenant_id: int, feedbacks: list[Any], connection=None) -> dict[int, str]:
    """The explanations of the questions some attempts' feedback names, by question id."""
    question_ids = list({item["questionId"] for feedback in feedbacks for item in _items(feedback)})
    if not question_ids:
        return {}
    query = Question.filter(tenant_id=tenant_id, id__in=question_ids)
    return dict(await (query.using_db(connection) if connection else query).values_list("id", "explanation"))


def attempt_feedback(feedback: Any, explanations: dict[int, str]) -> list[AttemptFeedback]:
    """An attempt's per-question feedback as its learner may review it."""
    return [
        AttemptFeedback(item["questionId"], item.get("correct"), Decimal(str(item.get("pointsAwarded", "0"))),
                        explanations.get(item["questionId"], ""), str(item.get("comment") or ""))
        for item in _items(feedback)
    ]


def feedback_json(feedback: Any, explanations: dict[int, str], with_comment: bool = False) -> list[dict[str, Any]]:
    """Per-question feedback as JSON (the push result, the feed): never an answer key."""
    shown = []
    for f in attempt_feedback(feedback, explanations):
        row = {"questionId": str(f.question_id), "correct": f.correct, "pointsAwarded": _points(f.points_awarded),
               "explanation": f.explanation}
        if with_comment:
            row["comment"] = f.comment
        shown.append(row)
    return shown


async def my_attempts(viewer: Viewer, module_id: int) -> tuple[Quiz, list[QuizAttempt], dict[int, list[AttemptFeedback]] | None]:
    """The viewer's attempts at a module's quiz, first first, with per-question feedback (and
    explanations) only when the quiz allows review (None otherwise)."""
    quiz = await _quiz_of_module(viewer, module_id)
    attempts = await QuizAttempt.filter(quiz_id=quiz.id, employee_id=viewer.employee_id).order_by("attempt_no")
    if not quiz.review_allowed:
        return quiz, attempts, None
    explanations = await explanations_of(viewer.tenant_id, [a.feedback for a in attempts])
    return quiz, attempts, {attempt.id: attempt_feedback(attempt.feedback, explanations) for attempt in attempts}


# --- the QUIZ_SUBMISSION record kind -------------------------------------------------------


@dataclass(frozen=True)
class Submission:
    module_id: int
    answers: dict[str, Any]
    started_at: datetime | None


def _percent(score: Decimal, max_score: Decimal) -> int:
    if max_score <= 0:
        return 0
    return int((score * 100 / max_score).to_integral_value(rounding=ROUND_FLOOR))


def _points(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.1")))


class QuizSubmitted:
    """Payload: ``{"quizId": "<CourseModule global ID of the QUIZ module>", "answers":
    {"<question id>": answer}, "startedAt"?: ISO 8601 (device clock)}``; ``occurredAt`` is when
    it was finished."""

    kind = QUIZ_SUBMISSION

    def parse(self, payload: dict[str, Any]) -> Submission:
        module_id = payload_id(payload, "quizId", "CourseModule")
        answers = payload.get("answers")
        if not isinstance(answers, dict) or len(answers) > MAX_ANSWERS:
            raise invalid_payload("answers")
        started = payload.get("startedAt")
        started_at = None
        if started is not None:
            if not isinstance(started, str):
                raise invalid_payload("startedAt")
            try:
                started_at = datetime.fromisoformat(started)
            except ValueError as error:
                raise invalid_payload("startedAt") from error
            if started_at.tzinfo is None:
                started_at = started_at.replace(tzinfo=timezone.utc)
        return Submission(module_id, answers, started_at)

    async def apply(self, context: ApplyContext, records: list[ParsedRecord]) -> list[Outcome]:
        viewer, connection = context.viewer, context.connection
        module_ids = list({parsed.payload.module_id for parsed in records})
        quizzes = {
            quiz.module_id: quiz
            for quiz in await Quiz.filter(tenant_id=viewer.tenant_id, module_id__in=module_ids)
            .select_related("module__course")
            .using_db(connection)
        }
        questions: dict[int, list[Question]] = {}
        for link in await QuizQuestion.filter(quiz_id__in=[q.id for q in quizzes.values()]).select_related(
            "question"
        ).order_by("position", "id").using_db(connection):
            questions.setdefault(link.quiz_id, []).append(link.question)
        totals: dict[int, list] = {}
        modules: dict[int, CourseModule] = {}
        outcomes = []
        for parsed in records:
            quiz = quizzes.get(parsed.payload.module_id)
            try:
                if not _visible(quiz):
                    raise DomainError(ErrorCode.NOT_FOUND)
                if quiz.closes_at is not None and parsed.occurred_at > quiz.closes_at:
                    raise DomainError(ErrorCode.QUIZ_CLOSED)
                attempt = _graded(quiz, questions.get(quiz.id, []), parsed)
                inserted = await _insert_attempt(context, quiz, parsed, attempt)
                if inserted is None:
                    raise DomainError(ErrorCode.ATTEMPTS_EXHAUSTED, allowed=quiz.attempts_allowed)
            except DomainError as error:
                outcomes.append(Outcome.rejected(error))
                continue
            attempt_id, attempt_no = inserted
            context.changes.touch(Entity.QUIZ_ATTEMPT, attempt_id, audience=viewer.employee_id)
            if attempt["status"] == AttemptStatus.GRADED:
                await skills.record_evidence(
                    context, viewer.employee_id, quiz.module, skills.QUIZ_ATTEMPT, str(attempt_id),
                    parsed.record.id, attempt["percent"], parsed.occurred_at,
                )
            # Asked after the insert: a concurrent attempt that took a number first has committed
            # by now (ours waited for it), so two passes never both count the module.
            if attempt["passed"] and not await QuizAttempt.filter(
                quiz_id=quiz.id, employee_id=viewer.employee_id, passed=True
            ).exclude(id=attempt_id).using_db(connection).exists():
                modules[quiz.module_id] = quiz.module
                totals[quiz.module_id] = [1, attempt["seconds"], parsed.occurred_at]
            explanations = {q.id: q.explanation for q in questions.get(quiz.id, [])}
            outcomes.append(Outcome(RecordStatus.ACCEPTED, params={
                "score": _points(attempt["score"]), "maxScore": _points(attempt["max_score"]),
                "percent": attempt["percent"], "passed": attempt["passed"],
            }, result={
                "attemptNo": attempt_no, "score": _points(attempt["score"]),
                "maxScore": _points(attempt["max_score"]), "percent": attempt["percent"],
                "passed": attempt["passed"], "status": attempt["status"].value,
                "feedback": feedback_json(attempt["feedback"], explanations) if quiz.review_allowed else None,
            }))
        if totals:
            await progress._add_progress(context, modules, totals)
        return outcomes


def _graded(quiz: Quiz, questions: list[Question], parsed: ParsedRecord) -> dict[str, Any]:
    submission: Submission = parsed.payload
    score = max_score = Decimal(0)
    feedback = []
    manual = False
    for question in questions:
        awarded, correct, needs_manual = grade(question, submission.answers.get(str(question.id)))
        score += awarded
        max_score += Decimal(str(question.points))
        manual = manual or needs_manual
        feedback.append({"questionId": question.id, "correct": correct, "pointsAwarded": _points(awarded),
                         "needsManual": needs_manual, "maxPoints": _points(Decimal(str(question.points)))})
    percent = _percent(score, max_score)
    flags = list(parsed.flags)
    elapsed = None
    if submission.started_at is not None:
        # Both ends on the device's clock: the difference does not depend on its skew.
        elapsed = parsed.record.occurred_at - submission.started_at
        if elapsed < timedelta(seconds=SECONDS_PER_QUESTION_AT_LEAST * len(questions)):
            flags.append("TOO_FAST")
        if quiz.time_limit_seconds and elapsed > timedelta(seconds=quiz.time_limit_seconds):
            flags.append("OVER_TIME_LIMIT")
    seconds = 0 if elapsed is None else int(min(max(elapsed.total_seconds(), 0), MAX_SECONDS))
    return {
        "score": score, "max_score": max_score, "percent": percent,
        # Manual grading can only add points: a pass now stays a pass.
        "passed": max_score > 0 and percent >= quiz.pass_mark,
        "status": AttemptStatus.NEEDS_MANUAL_GRADING if manual else AttemptStatus.GRADED,
        "feedback": feedback, "flags": flags, "seconds": seconds,
        "started_at": None if elapsed is None else parsed.occurred_at - elapsed,
    }


async def _insert_attempt(
    context: ApplyContext, quiz: Quiz, parsed: ParsedRecord, attempt: dict[str, Any]
) -> tuple[int, int] | None:
    """Insert the attempt under the next free number within the allowance: (its id, its number),
    or None when every number is taken. A concurrent insert of the same number (another device) waits for that
    transaction and then yields DO NOTHING: the next number is tried."""
    connection, viewer = context.connection, context.viewer
    used = await QuizAttempt.filter(quiz_id=quiz.id, employee_id=viewer.employee_id).using_db(connection).count()
    now = db_time(connection, context.received_at)
    flags = ",".join(sorted(set(attempt["flags"])))[:200]
    for attempt_no in range(used + 1, quiz.attempts_allowed + 1):
        values = [
            viewer.tenant_id, quiz.id, viewer.employee_id, attempt_no, db_uuid(connection, parsed.record.id),
            db_time(connection, attempt["started_at"]), db_time(connection, parsed.occurred_at),
            json.dumps(parsed.payload.answers, ensure_ascii=False), attempt["score"], attempt["max_score"],
            attempt["percent"], attempt["passed"], attempt["status"].value,
            json.dumps(attempt["feedback"], ensure_ascii=False), flags, now, now,
        ]
        rows = await connection.execute_query_dict(
            "INSERT INTO quiz_attempt (tenant_id, quiz_id, employee_id, attempt_no, record_id, started_at,"
            " submitted_at, answers, score, max_score, percent, passed, status, feedback, risk_flags,"
            f" created_at, updated_at) VALUES ({placeholders(connection, 17)})"
            " ON CONFLICT (quiz_id, employee_id, attempt_no) DO NOTHING RETURNING id",
            values,
        )
        if rows:
            return rows[0]["id"], attempt_no
    return None


register(QuizSubmitted())


def _attempt_json(attempt: QuizAttempt, quiz: Quiz, explanations: dict[int, str]) -> dict[str, Any]:
    """An attempt as its learner sees it (the QUIZ_ATTEMPT feed row)."""
    return {
        "id": to_global_id("QuizAttempt", attempt.id), "moduleId": to_global_id("CourseModule", quiz.module_id),
        "attemptNo": attempt.attempt_no,
        "submittedAt": attempt.submitted_at.isoformat() if attempt.submitted_at else None,
        "score": _points(Decimal(str(attempt.score))), "maxScore": _points(Decimal(str(attempt.max_score))),
        "percent": attempt.percent, "passed": attempt.passed, "status": AttemptStatus(attempt.status).value,
        "feedback": feedback_json(attempt.feedback, explanations, with_comment=True) if quiz.review_allowed else None,
    }


async def attempts_for_feed(viewer: Viewer, attempt_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The viewer's own attempts among ``attempt_ids`` as QUIZ_ATTEMPT feed rows."""
    attempts = await QuizAttempt.filter(
        tenant_id=viewer.tenant_id, employee_id=viewer.employee_id, id__in=attempt_ids
    ).select_related("quiz")
    reviewable = [a.feedback for a in attempts if a.quiz.review_allowed]
    explanations = await explanations_of(viewer.tenant_id, reviewable)
    return {a.id: _attempt_json(a, a.quiz, explanations) for a in attempts}


async def unreviewable_records(tenant_id: int, record_ids: list) -> set:
    """Of some QUIZ_SUBMISSION records, those whose quiz no longer allows review: their stored
    result must not show per-question feedback any more."""
    if not record_ids:
        return set()
    return set(
        await QuizAttempt.filter(tenant_id=tenant_id, record_id__in=record_ids, quiz__review_allowed=False)
        .values_list("record_id", flat=True)
    )


async def _backfill(tenant_id: int, changes: ChangeSet) -> None:
    for module_id in await Quiz.filter(tenant_id=tenant_id).values_list("module_id", flat=True):
        changes.touch(Entity.QUIZ, module_id)
    for attempt_id, employee_id in await QuizAttempt.filter(tenant_id=tenant_id).values_list("id", "employee_id"):
        changes.touch(Entity.QUIZ_ATTEMPT, attempt_id, audience=employee_id)


feed.register_backfill(_backfill)


# --- manual grading ------------------------------------------------------------------------

MAX_COMMENT = 500
GRADING_CURSOR = "quiz-attempt-to-grade"


def _authors(viewer: Viewer) -> bool:
    return viewer.has_role(Role.HR_ADMIN, Role.INSTRUCTOR)


async def _require_grader(viewer: Viewer, learner_id: int, course_id: int, on: datetime, connection) -> None:
    """HR admins and instructors grade anyone's open answers; a mentor only their current mentee's."""
    if learner_id == viewer.employee_id:
        raise DomainError(ErrorCode.FORBIDDEN)
    if _authors(viewer):
        return
    mentors = await mentoring.current_mentor_ids(viewer.tenant_id, learner_id, course_id, on.date(), connection)
    if viewer.employee_id not in mentors:
        raise DomainError(ErrorCode.FORBIDDEN)


def _points_given(points: Any, most: Decimal) -> Decimal:
    try:
        given = Decimal(str(points))
    except ArithmeticError as error:
        raise DomainError(ErrorCode.VALIDATION, field="points", reason_key="reason.field", name="points") from error
    if not given.is_finite() or given < 0 or given > most or given != given.quantize(Decimal("0.1")):
        raise DomainError(ErrorCode.VALIDATION, field="points", reason_key="reason.field", name="points")
    return given


async def grade_answer(
    viewer: Viewer, attempt_id: int, question_id: int, points: Any, comment: str = "",
    now: datetime | None = None,
) -> QuizAttempt:
    """Give points to one open answer awaiting a person. The score, percent and pass are worked
    out again; when no answer awaits any more the attempt is GRADED (and counts as skill
    evidence); a first pass of the quiz counts the module once. ALREADY_GRADED when the answer
    does not await grading (a concurrent grader took it)."""
    now = now or datetime.now(timezone.utc)
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise DomainError(ErrorCode.VALIDATION, field="comment", reason_key="reason.too_long", max=MAX_COMMENT)
    async with in_transaction() as connection:
        found = await QuizAttempt.filter(tenant_id=viewer.tenant_id, id=attempt_id).using_db(connection).first()
        if found is None:
            raise DomainError(ErrorCode.NOT_FOUND)
        quiz = await Quiz.filter(tenant_id=viewer.tenant_id, id=found.quiz_id).select_related("module").using_db(connection).first()
        module = quiz.module
        await _require_grader(viewer, found.employee_id, module.course_id, now, connection)
        # Every attempt of the learner at this quiz, locked in id order: two graders finishing two
        # attempts at once must not both see "no other pass" and count the module twice.
        locked = await QuizAttempt.filter(
            tenant_id=viewer.tenant_id, quiz_id=quiz.id, employee_id=found.employee_id
        ).order_by(
            "id"
        ).select_for_update().using_db(connection)
        attempt = next(a for a in locked if a.id == attempt_id)
        feedback = [dict(item) for item in _items(attempt.feedback)]
        item = next((f for f in feedback if f["questionId"] == question_id), None)
        if item is None:
            raise DomainError(ErrorCode.NOT_FOUND, field="questionId")
        if not item.get("needsManual"):
            raise DomainError(ErrorCode.ALREADY_GRADED)
        most = item.get("maxPoints")
        if most is None:  # attempts from before the per-question maximum was kept
            most = await Question.filter(tenant_id=viewer.tenant_id, id=question_id).using_db(connection).values_list("points", flat=True)
            most = most[0] if most else 0
        most = Decimal(str(most))
        given = _points_given(points, most)
        item.update(pointsAwarded=_points(given), correct=given >= most, needsManual=False,
                    gradedBy=viewer.employee_id, comment=comment)
        score = sum((Decimal(str(f.get("pointsAwarded", "0"))) for f in feedback), Decimal(0))
        max_score = Decimal(str(attempt.max_score))
        percent = _percent(score, max_score)
        # Grading only adds points: a pass stays a pass even if the pass mark moved meanwhile.
        passed = attempt.passed or (max_score > 0 and percent >= quiz.pass_mark)
        done = not any(f.get("needsManual") for f in feedback)
        changes = {"feedback": feedback, "score": score, "percent": percent, "passed": passed, "updated_at": now}
        if done:
            changes.update(status=AttemptStatus.GRADED, graded_by_id=viewer.employee_id, graded_at=now)
        written = await QuizAttempt.filter(
            tenant_id=viewer.tenant_id, id=attempt.id, status=AttemptStatus.NEEDS_MANUAL_GRADING, passed=attempt.passed
        ).using_db(connection).update(**changes)
        if written != 1:
            raise DomainError(ErrorCode.ALREADY_GRADED)
        change_set = ChangeSet(viewer.tenant_id)
        context = ApplyContext(viewer, None, connection, change_set, now)
        others_passed = any(a.passed for a in locked if a.id != attempt.id)
        if passed and not attempt.passed and not others_passed:
            await progress._add_progress(
                context, {module.id: module}, {module.id: [1, 0, attempt.submitted_at]},
                employee_id=attempt.employee_id,
            )
        if done:
            await skills.record_evidence(
                context, attempt.employee_id, module, skills.QUIZ_ATTEMPT, str(attempt.id), attempt.record_id,
                percent, attempt.submitted_at,
            )
        change_set.touch(Entity.QUIZ_ATTEMPT, attempt.id, audience=attempt.employee_id)
        await audit(connection, viewer, viewer.tenant_id, "quiz.grade_answer", "QuizAttempt", attempt.id,
                    {"questionId": question_id, "points": _points(given), "comment": comment,
                     "employeeId": attempt.employee_id, "status": "GRADED" if done else "NEEDS_MANUAL_GRADING"})
        await change_set.publish(connection, now)
        return await QuizAttempt.filter(tenant_id=viewer.tenant_id, id=attempt.id).select_related("quiz__module", "employee").using_db(
            connection
        ).first()


@dataclass
class GradingPage:
    """Attempts awaiting a person, oldest first, with what a Relay connection needs."""

    attempts: list[QuizAttempt]
    questions: dict[int, Question]
    has_next_page: bool
    has_previous_page: bool

    @staticmethod
    def cursor_of(attempt: QuizAttempt) -> str:
        return encode_cursor(GRADING_CURSOR, [attempt.id])


async def attempts_to_grade(
    viewer: Viewer, first: int, after: str | None, max_page_size: int, now: datetime | None = None
) -> GradingPage:
    """Attempts with open answers the viewer may grade: every one of the company (HR admins,
    instructors) or their current mentees' (mentors); FORBIDDEN for anyone else."""
    check_page_size(first, max_page_size)
    today = (now or datetime.now(timezone.utc)).date()
    query = QuizAttempt.filter(tenant_id=viewer.tenant_id, status=AttemptStatus.NEEDS_MANUAL_GRADING).exclude(
        employee_id=viewer.employee_id
    )
    if not _authors(viewer):
        mentees = await Mentorship.filter(
            Q(ends_on=None) | Q(ends_on__gte=today),
            tenant_id=viewer.tenant_id, mentor_id=viewer.employee_id, starts_on__lte=today,
        ).values_list("mentee_id", "course_id")
        if not mentees:
            raise DomainError(ErrorCode.FORBIDDEN)
        query = query.filter(Q(*[
            Q(employee_id=mentee) if course is None else Q(employee_id=mentee, quiz__module__course_id=course)
            for mentee, course in mentees
        ], join_type="OR"))
    if after:
        (last_id,) = decode_cursor(GRADING_CURSOR, after, 1)
        if not isinstance(last_id, int):
            raise DomainError(ErrorCode.VALIDATION, field="after", reason_key="reason.bad_cursor")
        query = query.filter(id__gt=last_id)
    rows = await query.order_by("id").limit(first + 1).select_related("quiz__module", "employee")
    attempts = rows[:first]
    question_ids = {item["questionId"] for a in attempts for item in _items(a.feedback)}
    questions = {q.id: q for q in await Question.filter(tenant_id=viewer.tenant_id, id__in=list(question_ids))}
    return GradingPage(attempts, questions, len(rows) > first, after is not None)


async def grading_questions(viewer: Viewer, attempt: QuizAttempt) -> dict[int, Question]:
    """The questions an attempt's feedback names (for a grader's view)."""
    ids = [item["questionId"] for item in _items(attempt.feedback)]
    return {q.id: q for q in await Question.filter(tenant_id=viewer.tenant_id, id__in=ids)}


# --- authoring -----------------------------------------------------------------------------

MAX_PROMPT = 2000
MAX_EXPLANATION = 2000
MAX_OPTIONS = 10
MAX_OPTION_TEXT = 500
MAX_QUESTIONS = 200
MAX_POINTS = Decimal("1000")


def _invalid(field: str) -> DomainError:
    return DomainError(ErrorCode.VALIDATION, field=field, reason_key="reason.field", name=field)


def require_author(viewer: Viewer) -> None:
    """FORBIDDEN unless the viewer writes question banks and quizzes (HR admins, instructors)."""
    viewer.require_role(Role.HR_ADMIN, Role.INSTRUCTOR)


def _clean_text(value: Any, field: str, most: int, required: bool = True) -> str:
    if not isinstance(value, str):
        raise _invalid(field)
    text = value.strip()
    if required and not text:
        raise DomainError(ErrorCode.VALIDATION, field=field, reason_key="reason.required")
    if len(text) > most:
        raise DomainError(ErrorCode.VALIDATION, field=field, reason_key="reason.too_long", max=most)
    return text


def _clean_options(kind: QuestionKind, options: Any) -> list[dict[str, str]]:
    options = options or []
    if not isinstance(options, list):
        raise _invalid("options")
    if kind in (QuestionKind.TRUE_FALSE, QuestionKind.SHORT_TEXT):
        if options:
            raise _invalid("options")  # nothing to choose from: answered with a boolean or text
        return []
    if not 2 <= len(options) <= MAX_OPTIONS:
        raise _invalid("options")
    cleaned, seen = [], set()
    for option in options:
        key = option.get("key") if isinstance(option, dict) else None
        text = option.get("text") if isinstance(option, dict) else None
        if not isinstance(key, str) or not key.strip() or len(key.strip()) > 8 or _choice(key) in seen:
            raise _invalid("options")
        seen.add(_choice(key))
        cleaned.append({"key": key.strip(), "text": _clean_text(text, "options", MAX_OPTION_TEXT)})
    return cleaned


def _clean_answer_key(kind: QuestionKind, key: Any, options: list[dict[str, str]]) -> Any:
    """The answer key in the form ``grade`` reads, or VALIDATION naming answerKey."""
    keys = {_choice(o["key"]): o["key"] for o in options}
    if kind == QuestionKind.SINGLE_CHOICE:
        chosen = key[0] if isinstance(key, list) and len(key) == 1 else key
        if _choice(chosen) not in keys:
            raise _invalid("answerKey")
        return [keys[_choice(chosen)]]  # a list: a bare JSON string does not survive the JSON column
    if kind == QuestionKind.MULTIPLE_CHOICE:
        if not isinstance(key, list) or not key or any(_choice(k) not in keys for k in key):
            raise _invalid("answerKey")
        if len({_choice(k) for k in key}) != len(key):
            raise _invalid("answerKey")
        return [keys[_choice(k)] for k in key]
    if kind == QuestionKind.TRUE_FALSE:
        if not isinstance(key, bool):
            raise _invalid("answerKey")
        return key
    # SHORT_TEXT: exact answers and/or keywords; nothing at all means a person grades it.
    if key is None:
        return {}
    if not isinstance(key, dict) or set(key) - {"exact", "keywords", "minKeywords"}:
        raise _invalid("answerKey")
    cleaned: dict[str, Any] = {}
    exact = key.get("exact")
    if exact is not None:
        exact = [exact] if isinstance(exact, str) else exact
        if not isinstance(exact, list) or any(not isinstance(e, str) or not normalise_text(e) for e in exact):
            raise _invalid("answerKey")
        if exact:
            cleaned["exact"] = [e.strip() for e in exact]
    keywords = key.get("keywords")
    if keywords is not None:
        if not isinstance(keywords, list) or any(not isinstance(k, str) or not normalise_text(k) for k in keywords):
            raise _invalid("answerKey")
        if keywords:
            cleaned["keywords"] = [k.strip() for k in keywords]
    wanted = key.get("minKeywords")
    if wanted is not None:
        if isinstance(wanted, bool) or not isinstance(wanted, int) or not cleaned.get("keywords") \
                or not 1 <= wanted <= len(cleaned["keywords"]):
            raise _invalid("answerKey")
        cleaned["minKeywords"] = wanted
    return cleaned


def _clean_points(points: Any) -> Decimal:
    try:
        value = Decimal(str(points))
    except ArithmeticError as error:
        raise _invalid("points") from error
    if not value.is_finite() or value <= 0 or value > MAX_POINTS or value != value.quantize(Decimal("0.1")):
        raise _invalid("points")
    return value


@dataclass(frozen=True)
class QuestionDraft:
    """What an author gives for a question; None leaves a field as it is (updates)."""

    kind: QuestionKind | None = None
    prompt: str | None = None
    options: list[dict[str, Any]] | None = None
    answer_key: Any = None
    answer_key_given: bool = False
    points: Any = None
    explanation: str | None = None


async def _course(viewer: Viewer, course_id: int, connection) -> Course:
    course = await Course.filter(tenant_id=viewer.tenant_id, id=course_id).using_db(connection).first()
    if course is None:
        raise DomainError(ErrorCode.NOT_FOUND, field="courseId")
    return course


async def _touch_quizzes_of(connection, changes: ChangeSet, question_id: int, now: datetime) -> None:
    """A changed question changes every quiz showing it: a new version phones fetch again."""
    tenant_id = changes.tenant_id
    quiz_ids = list(await QuizQuestion.filter(tenant_id=tenant_id, question_id=question_id).using_db(
        connection
    ).values_list("quiz_id", flat=True))
    if not quiz_ids:
        return
    quizzes_ = Quiz.filter(tenant_id=tenant_id, id__in=quiz_ids).using_db(connection)
    await quizzes_.update(version=F("version") + 1, updated_at=now)
    for module_id in await quizzes_.values_list("module_id", flat=True):
        changes.touch(Entity.QUIZ, module_id)


async def create_question(viewer: Viewer, course_id: int, draft: QuestionDraft, now: datetime | None = None) -> Question:
    """Add a question to a course's bank (HR admins, instructors). The answer key must suit the
    kind: option keys for choices (exactly one for SINGLE_CHOICE), a boolean for TRUE_FALSE,
    {exact?, keywords?, minKeywords?} for SHORT_TEXT (empty: graded by a person)."""
    require_author(viewer)
    now = now or datetime.now(timezone.utc)
    if draft.kind is None:
        raise DomainError(ErrorCode.VALIDATION, field="kind", reason_key="reason.required")
    kind = QuestionKind(draft.kind)
    prompt = _clean_text(draft.prompt, "prompt", MAX_PROMPT)
    options = _clean_options(kind, draft.options)
    answer_key = _clean_answer_key(kind, draft.answer_key, options)
    points = _clean_points(draft.points if draft.points is not None else 1)
    explanation = _clean_text(draft.explanation or "", "explanation", MAX_EXPLANATION, required=False)
    async with in_transaction() as connection:
        await _course(viewer, course_id, connection)
        question = await Question.create(
            tenant_id=viewer.tenant_id, course_id=course_id, kind=kind, prompt=prompt, options=options,
            answer_key=answer_key, points=points, explanation=explanation, using_db=connection,
        )
        await audit(connection, viewer, viewer.tenant_id, "question.create", "Question", question.id,
                    {"courseId": course_id, "kind": kind.value})
    return question


async def update_question(viewer: Viewer, question_id: int, draft: QuestionDraft, now: datetime | None = None) -> Question:
    """Change a bank question (HR admins, instructors); omitted fields stay. The result is checked
    as a whole (a new kind needs a key that suits it). Quizzes showing it get a new version."""
    require_author(viewer)
    now = now or datetime.now(timezone.utc)
    async with in_transaction() as connection:
        question = await Question.filter(tenant_id=viewer.tenant_id, id=question_id).select_for_update().using_db(
            connection
        ).first()
        if question is None:
            raise DomainError(ErrorCode.NOT_FOUND, field="questionId")
        kind = QuestionKind(draft.kind if draft.kind is not None else question.kind)
        prompt = _clean_text(draft.prompt if draft.prompt is not None else question.prompt, "prompt", MAX_PROMPT)
        options = _clean_options(kind, draft.options if draft.options is not None else question.options)
        key = draft.answer_key if draft.answer_key_given else question.answer_key
        answer_key = _clean_answer_key(kind, key, options)
        points = _clean_points(draft.points if draft.points is not None else question.points)
        explanation = _clean_text(draft.explanation if draft.explanation is not None else question.explanation,
                                  "explanation", MAX_EXPLANATION, required=False)
        await Question.filter(tenant_id=viewer.tenant_id, id=question.id).using_db(connection).update(
            kind=kind, prompt=prompt, options=options, answer_key=answer_key, points=points,
            explanation=explanation, updated_at=now,
        )
        changes = ChangeSet(viewer.tenant_id)
        await _touch_quizzes_of(connection, changes, question.id, now)
        await audit(connection, viewer, viewer.tenant_id, "question.update", "Question", question.id,
                    {"courseId": question.course_id, "kind": kind.value})
        await changes.publish(connection, now)
        return await Question.get(id=question.id).using_db(connection)


async def question_bank(viewer: Viewer, course_id: int) -> list[Question]:
    """A course's questions with their answer keys, oldest first (HR admins, instructors)."""
    require_author(viewer)
    await _course(viewer, course_id, None)
    return await Question.filter(tenant_id=viewer.tenant_id, course_id=course_id).order_by("id")


@dataclass(frozen=True)
class QuizSettings:
    """A quiz as its author sets it."""

    title: str
    pass_mark: int
    attempts_allowed: int
    shuffle: bool
    review_allowed: bool
    question_ids: list[int]
    time_limit_seconds: int | None = None
    closes_at: datetime | None = None


def _check_settings(settings: QuizSettings) -> str:
    title = _clean_text(settings.title, "title", 200)
    if not 0 <= settings.pass_mark <= 100:
        raise _invalid("passMark")
    if not 1 <= settings.attempts_allowed <= 100:
        raise _invalid("attemptsAllowed")
    if settings.time_limit_seconds is not None and not 1 <= settings.time_limit_seconds <= MAX_SECONDS:
        raise _invalid("timeLimitSeconds")
    if settings.closes_at is not None and settings.closes_at.tzinfo is None:
        raise DomainError(ErrorCode.VALIDATION, field="closesAt", reason_key="reason.timezone_required")
    ids = settings.question_ids
    if not ids:
        raise DomainError(ErrorCode.VALIDATION, field="questionIds", reason_key="reason.required")
    if len(ids) > MAX_QUESTIONS or len(set(ids)) != len(ids):
        raise _invalid("questionIds")
    return title


async def set_module_quiz(viewer: Viewer, module_id: int, settings: QuizSettings, now: datetime | None = None) -> Quiz:
    """Create or replace the quiz of a QUIZ module (HR admins, instructors): its settings and its
    questions in order, all from the module's course. A replaced quiz gets version + 1."""
    require_author(viewer)
    now = now or datetime.now(timezone.utc)
    title = _check_settings(settings)
    async with in_transaction() as connection:
        module = await CourseModule.filter(tenant_id=viewer.tenant_id, id=module_id).using_db(connection).first()
        if module is None:
            raise DomainError(ErrorCode.NOT_FOUND, field="moduleId")
        if module.kind != ModuleKind.QUIZ:
            raise _invalid("moduleId")
        found = set(await Question.filter(
            tenant_id=viewer.tenant_id, course_id=module.course_id, id__in=settings.question_ids
        ).using_db(connection).values_list("id", flat=True))
        if found != set(settings.question_ids):
            raise _invalid("questionIds")
        values = {
            "title": title, "pass_mark": settings.pass_mark, "time_limit_seconds": settings.time_limit_seconds,
            "attempts_allowed": settings.attempts_allowed, "shuffle": settings.shuffle,
            "review_allowed": settings.review_allowed, "closes_at": settings.closes_at,
        }
        stamp = db_time(connection, now)
        # ON CONFLICT, not a check then an insert: two authors creating it at once make one quiz.
        rows = await connection.execute_query_dict(
            "INSERT INTO quiz (tenant_id, module_id, title, pass_mark, time_limit_seconds, attempts_allowed, shuffle,"
            f" review_allowed, closes_at, version, created_at, updated_at) VALUES ({placeholders(connection, 12)})"
            " ON CONFLICT (module_id) DO NOTHING RETURNING id",
            [viewer.tenant_id, module.id, title, settings.pass_mark, settings.time_limit_seconds,
             settings.attempts_allowed, settings.shuffle, settings.review_allowed,
             db_time(connection, settings.closes_at), 1, stamp, stamp],
        )
        created = bool(rows)
        quiz = await Quiz.filter(tenant_id=viewer.tenant_id, module_id=module.id).select_for_update().using_db(connection).first()
        if not created:
            await Quiz.filter(tenant_id=viewer.tenant_id, id=quiz.id).using_db(connection).update(**values, version=F("version") + 1,
                                                                       updated_at=now)
        await QuizQuestion.filter(tenant_id=viewer.tenant_id, quiz_id=quiz.id).using_db(connection).delete()
        await QuizQuestion.bulk_create(
            [QuizQuestion(tenant_id=viewer.tenant_id, quiz_id=quiz.id, question_id=question_id, position=position)
             for position, question_id in enumerate(settings.question_ids, start=1)],
            using_db=connection,
        )
        changes = ChangeSet(viewer.tenant_id)
        changes.touch(Entity.QUIZ, module.id)
        if not created and quiz.review_allowed != settings.review_allowed:
            # Attempt rows show feedback only while review is allowed: phones must fetch them again.
            for attempt_id, employee_id in await QuizAttempt.filter(tenant_id=viewer.tenant_id, quiz_id=quiz.id).using_db(
                connection
            ).values_list("id", "employee_id"):
                changes.touch(Entity.QUIZ_ATTEMPT, attempt_id, audience=employee_id)
        await audit(connection, viewer, viewer.tenant_id, "quiz.create" if created else "quiz.update", "Quiz",
                    quiz.id, {"moduleId": module.id, "questionIds": settings.question_ids,
                              "passMark": settings.pass_mark, "attemptsAllowed": settings.attempts_allowed})
        await changes.publish(connection, now)
        return await Quiz.filter(tenant_id=viewer.tenant_id, id=quiz.id).select_related("module").using_db(connection).first()


async def authored_questions(quiz_id: int) -> list[Question]:
    """A quiz's questions in order, with their keys (authoring views only)."""
    links = await QuizQuestion.filter(quiz_id=quiz_id).select_related("question").order_by("position", "id")
    return [link.question for link in links]
