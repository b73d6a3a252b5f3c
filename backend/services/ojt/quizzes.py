"""Quizzes: grading an attempt, the learner's view of a quiz and of their attempts, and the
QUIZ_SUBMISSION record kind (with the QUIZ and QUIZ_ATTEMPT feed rows it touches; their shape is
``mobile_sync.feed_quizzes``).

Answer keys and explanations never leave this module except as grading results: the learner's
view (``quiz_for_student``) carries prompts, options and points only, and an attempt's feedback
(per question: right or wrong, points, explanation) is shown only when the quiz allows review and
its timing has come (``shows_feedback``): after every attempt, or (``AFTER_FINAL_ATTEMPT``, the
default) once the learner has passed, has no attempt left or the quiz has closed, so a failed
attempt does not hand out the key for the next one, not even by elimination.

A quiz belongs to a course: its learner must be eligible for it as for enrolling (the course's
rules and prerequisites, ``course_catalog.judge_eligibility``), to download it and to submit it.

A submission is judged by when it was finished (the record's corrected time), not when it reached
the server: a phone that finished a quiz offline before it closed and synced afterwards counts.
Attempts are numbered by the database: (quiz, employee, attempt_no) is unique and each attempt is
inserted with ``ON CONFLICT DO NOTHING``, so concurrent submissions from several devices can never
exceed the allowance.

What each kind of question asks, and how one answer is judged, is ``question_kinds``; a person
grading open answers is ``quiz_grading``; writing question banks and quizzes (the only views with
answer keys) is ``quiz_authoring``. Both build on the helpers here.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from backend.errors import DomainError, ErrorCode
from backend.models import (
    AttemptStatus,
    CourseModule,
    CourseStatus,
    CreditActivity,
    IntegrityAlertKind,
    ModuleKind,
    Question,
    Quiz,
    QuizAttempt,
    QuizQuestion,
    RecordStatus,
    ReviewTiming,
)
from backend.services.catalog import course_catalog, progress
from backend.services.credits import credit_engine
from backend.services.feed import ChangeSet, Entity
from backend.services.integrity import detectors, quiz_too_fast
from backend.services.ojt import skills
from backend.services.ojt.question_kinds import StudentQuestion, grade, learner_view
from backend.services.records.handler import ApplyContext, Outcome, ParsedRecord, invalid_payload, payload_id
from backend.services.records.spec import AnyJson, Field, GlobalId, MapOf, Moment, Nullable, Obj, Text
from backend.services.reports import rollups
from backend.services.sessions.enrollment import NotEligible
from backend.services.viewer import Viewer
from backend.sql import db_time, db_uuid, placeholders

QUIZ_SUBMISSION = "QUIZ_SUBMISSION"
SECONDS_PER_QUESTION_AT_LEAST = 2  # faster than this per question: TOO_FAST
MAX_ANSWERS = 500
MAX_SECONDS = 24 * 3600


# --- the learner's view --------------------------------------------------------------------


@dataclass(frozen=True)
class StudentQuiz:
    quiz: Quiz
    attempts_used: int
    questions: list[StudentQuestion]


def _visible(quiz: Quiz) -> bool:
    """Whether learners see ``quiz`` (with its module and course): a QUIZ module of a published course."""
    return quiz.module.kind == ModuleKind.QUIZ and quiz.module.course.status == CourseStatus.PUBLISHED


async def _quiz_of_module(viewer: Viewer, module_id: int) -> Quiz:
    quiz = await Quiz.filter(tenant_id=viewer.tenant_id, module_id=module_id).select_related("module__course").first()
    if quiz is None or not _visible(quiz):
        raise DomainError(ErrorCode.NOT_FOUND)
    return quiz


def shuffled(items: list, quiz_id: int, employee_id: int, attempt_no: int, salt: str = "") -> list:
    """The same order for the same employee and attempt, a different one for the next attempt
    (``salt`` keeps the option orders of different questions independent)."""
    seed = hashlib.sha256(f"{quiz_id}.{employee_id}.{attempt_no}{'.' + salt if salt else ''}".encode()).digest()
    ordered = list(items)
    random.Random(seed).shuffle(ordered)
    return ordered


async def quiz_for_student(viewer: Viewer, module_id: int) -> StudentQuiz:
    """The quiz of a QUIZ module of a published course, with its questions as the learner sees
    them; NOT_FOUND otherwise, NOT_ELIGIBLE (with the reasons) when the viewer may not take the
    course. When the quiz shuffles, the questions and each question's options are in an order of
    their own per employee and attempt (option keys stay, answers name keys)."""
    quiz = await _quiz_of_module(viewer, module_id)
    verdict = (await course_catalog.eligibility_for(viewer, [quiz.module.course]))[quiz.module.course_id]
    if not verdict.eligible:
        raise NotEligible(verdict.reasons)
    used = await QuizAttempt.filter(quiz_id=quiz.id, employee_id=viewer.employee_id).count()
    questions = await student_questions(quiz.id)
    if quiz.shuffle:
        attempt_no = used + 1
        questions = [
            replace(q, options=shuffled(q.options, quiz.id, viewer.employee_id, attempt_no, f"q{q.id}"))
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
        found.setdefault(link.quiz_id, []).append(learner_view(link.question))
    return found


async def downloadable_quizzes(viewer: Viewer, module_ids: list[int]) -> list[tuple[Quiz, list[StudentQuestion]]]:
    """The quizzes of the QUIZ modules among ``module_ids`` the viewer may download (module and
    course loaded), each with its questions in canonical order as a learner sees them: a learner
    gets those of published courses they may take; HR admins and instructors, who author quizzes,
    every one."""
    quizzes = await Quiz.filter(tenant_id=viewer.tenant_id, module_id__in=module_ids).select_related("module__course")
    if not course_catalog.sees_all_statuses(viewer):
        quizzes = [quiz for quiz in quizzes if _visible(quiz)]
        eligibility = await course_catalog.eligibility_for(viewer, [quiz.module.course for quiz in quizzes])
        quizzes = [quiz for quiz in quizzes if eligibility[quiz.module.course_id].eligible]
    quizzes = [quiz for quiz in quizzes if quiz.module.kind == ModuleKind.QUIZ]
    questions_of = await student_questions_of([quiz.id for quiz in quizzes])
    return [(quiz, questions_of.get(quiz.id, [])) for quiz in quizzes]


@dataclass(frozen=True)
class AttemptFeedback:
    question_id: int
    correct: bool | None
    points_awarded: Decimal
    explanation: str
    comment: str = ""


def feedback_items(feedback: Any) -> list[dict[str, Any]]:
    """The well-formed per-question items of an attempt's stored feedback."""
    return [
        item
        for item in (feedback if isinstance(feedback, list) else [])
        if isinstance(item, dict) and isinstance(item.get("questionId"), int)
    ]


async def explanations_of(tenant_id: int, feedbacks: list[Any], connection=None) -> dict[int, str]:
    """The explanations of the questions some attempts' feedback names, by question id."""
    question_ids = list({item["questionId"] for feedback in feedbacks for item in feedback_items(feedback)})
    if not question_ids:
        return {}
    query = Question.filter(tenant_id=tenant_id, id__in=question_ids)
    return dict(await (query.using_db(connection) if connection else query).values_list("id", "explanation"))


def attempt_feedback(feedback: Any, explanations: dict[int, str]) -> list[AttemptFeedback]:
    """An attempt's per-question feedback as its learner may review it."""
    return [
        AttemptFeedback(
            item["questionId"],
            item.get("correct"),
            Decimal(str(item.get("pointsAwarded", "0"))),
            explanations.get(item["questionId"], ""),
            str(item.get("comment") or ""),
        )
        for item in feedback_items(feedback)
    ]


def feedback_json(feedback: list[AttemptFeedback], with_comment: bool = False) -> list[dict[str, Any]]:
    """Per-question feedback as JSON (the push result, the feed): never an answer key."""
    shown = []
    for f in feedback:
        row: dict[str, Any] = {
            "questionId": str(f.question_id),
            "correct": f.correct,
            "pointsAwarded": points_text(f.points_awarded),
            "explanation": f.explanation,
        }
        if with_comment:
            row["comment"] = f.comment
        shown.append(row)
    return shown


def shows_feedback(quiz: Quiz, attempts_used: int, passed: bool) -> bool:
    """Whether a learner's attempts at ``quiz`` may show per-question feedback now, given how many
    attempts they have used and whether one of them passed. Never without review allowed;
    AFTER_EACH_ATTEMPT: always; AFTER_FINAL_ATTEMPT: once the learner has passed or has no attempt
    left. Before that an attempt shows its score, percent and pass only: which questions were
    right would give the key away by elimination. Closing the quiz releases nothing: an attempt
    finished offline before the closing time may still arrive and count."""
    if not quiz.review_allowed:
        return False
    if ReviewTiming(quiz.review_timing) == ReviewTiming.AFTER_EACH_ATTEMPT:
        return True
    return passed or attempts_used >= quiz.attempts_allowed


async def _attempt_states(pairs: set[tuple[int, int]], connection=None) -> dict[tuple[int, int], tuple[int, bool]]:
    """(attempts used, passed once) per (quiz id, employee id), in one query."""
    states: dict[tuple[int, int], tuple[int, bool]] = dict.fromkeys(pairs, (0, False))
    if not pairs:
        return states
    query = QuizAttempt.filter(quiz_id__in=list({q for q, _ in pairs}), employee_id__in=list({e for _, e in pairs}))
    for quiz_id, employee_id, passed in await (query.using_db(connection) if connection else query).values_list(
        "quiz_id", "employee_id", "passed"
    ):
        if (quiz_id, employee_id) in states:
            used, passed_before = states[(quiz_id, employee_id)]
            states[(quiz_id, employee_id)] = (used + 1, passed_before or bool(passed))
    return states


@dataclass(frozen=True)
class LearnerAttempt:
    """An attempt as its learner sees it: its per-question feedback (with explanations) once
    ``shows_feedback`` releases it, None before."""

    attempt: QuizAttempt
    feedback: list[AttemptFeedback] | None


async def _with_feedback_if_shown(
    tenant_id: int, attempts: list[QuizAttempt], showing: dict[int, bool]
) -> list[LearnerAttempt]:
    explanations = await explanations_of(tenant_id, [a.feedback for a in attempts if showing[a.id]])
    return [LearnerAttempt(a, attempt_feedback(a.feedback, explanations) if showing[a.id] else None) for a in attempts]


async def my_attempts(viewer: Viewer, module_id: int) -> list[LearnerAttempt]:
    """The viewer's attempts at a module's quiz, first first, as they may see them."""
    quiz = await _quiz_of_module(viewer, module_id)
    attempts = await QuizAttempt.filter(quiz_id=quiz.id, employee_id=viewer.employee_id).order_by("attempt_no")
    shown = shows_feedback(quiz, len(attempts), any(a.passed for a in attempts))
    return await _with_feedback_if_shown(viewer.tenant_id, attempts, dict.fromkeys((a.id for a in attempts), shown))


# --- the QUIZ_SUBMISSION record kind -------------------------------------------------------


@dataclass(frozen=True)
class Submission:
    module_id: int
    answers: dict[str, Any]
    started_at: datetime | None


def whole_percent(score: Decimal, max_score: Decimal) -> int:
    """Score as a whole percent of the maximum, rounded down (0 when nothing is available)."""
    if max_score <= 0:
        return 0
    return int((score * 100 / max_score).to_integral_value(rounding=ROUND_FLOOR))


def points_text(value: Decimal) -> str:
    """Points as shown and stored in feedback: one decimal ("2.5")."""
    return str(value.quantize(Decimal("0.1")))


def quiz_passed(employee_id: int, quiz: Quiz, percent: int, at: datetime, record_id=None) -> credit_engine.Creditable:
    """Passing a quiz, for the credit rules: once per employee and quiz (a second pass is the
    same fact), with the score of the pass."""
    return credit_engine.Creditable(
        employee_id,
        CreditActivity.QUIZ_PASSED,
        f"quiz:{employee_id}:{quiz.id}",
        at,
        record_id,
        quiz.module.course_id,
        quiz.module_id,
        percent,
    )


QUIZ_PAYLOAD = Obj(
    {
        "quizId": Field(GlobalId("CourseModule", "The QUIZ module."), required=True),
        "answers": Field(
            MapOf(
                Text(),
                AnyJson(),
                max_properties=MAX_ANSWERS,
                description="Answers by question id (the QUIZ entity's questions): an option id, a list "
                "of option ids, or text, as the question's kind asks.",
            ),
            required=True,
        ),
        "startedAt": Field(Nullable(Moment("When the quiz was started (device clock)."))),
    },
    not_object="quizId",
    title="QUIZ_SUBMISSION",
)


class QuizSubmitted:
    """Payload: ``{"quizId": "<CourseModule global ID of the QUIZ module>", "answers":
    {"<question id>": answer}, "startedAt"?: ISO 8601 (device clock)}``; ``occurredAt`` is when
    it was finished."""

    kind = QUIZ_SUBMISSION
    payload_spec = QUIZ_PAYLOAD

    def parse(self, payload: dict[str, Any]) -> Submission:
        QUIZ_PAYLOAD.check(payload)
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
                started_at = started_at.replace(tzinfo=UTC)
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
        for link in (
            await QuizQuestion.filter(quiz_id__in=[q.id for q in quizzes.values()])
            .select_related("question")
            .order_by("position", "id")
            .using_db(connection)
        ):
            questions.setdefault(link.quiz_id, []).append(link.question)
        # Eligibility, and who has passed what, for the whole batch at once (not per record).
        courses = {q.module.course_id: q.module.course for q in quizzes.values() if _visible(q)}
        eligibility = await course_catalog.eligibility_for(viewer, courses.values(), connection)
        passed_before = {
            quiz_id: passed
            for (quiz_id, _), (_, passed) in (
                await _attempt_states({(q.id, viewer.employee_id) for q in quizzes.values()}, connection)
            ).items()
        }
        totals: dict[int, list] = {}
        modules: dict[int, CourseModule] = {}
        outcomes = []
        for parsed in records:
            quiz = quizzes.get(parsed.payload.module_id)
            try:
                if quiz is None or not _visible(quiz):
                    raise DomainError(ErrorCode.NOT_FOUND)
                verdict = eligibility[quiz.module.course_id]
                if not verdict.eligible and totals and any(r.code == "PREREQUISITE_MISSING" for r in verdict.reasons):
                    # A pass earlier in this batch may have completed the missing course: count
                    # the passes so far, then judge again.
                    await progress.add_progress(context, modules, totals)
                    totals, modules = {}, {}
                    eligibility = await course_catalog.eligibility_for(viewer, courses.values(), connection)
                    verdict = eligibility[quiz.module.course_id]
                if not verdict.eligible:
                    raise NotEligible(verdict.reasons)
                if quiz.closes_at is not None and (
                    parsed.occurred_at > quiz.closes_at
                    # Finished offline in time is believed only within the offline grace.
                    or context.received_at > quiz.closes_at + timedelta(seconds=context.settings.offline_grace_seconds)
                ):
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
            _note_if_fast(context, quiz, parsed, attempt, attempt_id)
            rollups.add_entries(
                context.changes.tally,
                rollups.attempt_entries(
                    viewer.employee_id,
                    quiz.module.course_id,
                    attempt_no,
                    attempt["status"] == AttemptStatus.GRADED,
                    attempt["percent"],
                    parsed.occurred_at,
                ),
            )
            if attempt["status"] == AttemptStatus.GRADED:
                await skills.record_evidence(
                    context,
                    viewer.employee_id,
                    quiz.module,
                    skills.QUIZ_ATTEMPT,
                    str(attempt_id),
                    parsed.record.id,
                    attempt["percent"],
                    parsed.occurred_at,
                )
            # Asked after the insert: a concurrent attempt that took a number first has committed
            # by now (ours waited for it), so two passes never both count the module.
            if (
                attempt["passed"]
                and not await QuizAttempt.filter(quiz_id=quiz.id, employee_id=viewer.employee_id, passed=True)
                .exclude(id=attempt_id)
                .using_db(connection)
                .exists()
            ):
                modules[quiz.module_id] = quiz.module
                totals[quiz.module_id] = [1, attempt["seconds"], parsed.occurred_at]
                if attempt["status"] == AttemptStatus.GRADED:  # else when a person has graded it
                    credit_engine.note(
                        context,
                        quiz_passed(viewer.employee_id, quiz, attempt["percent"], parsed.occurred_at, parsed.record.id),
                    )
            explanations = {q.id: q.explanation for q in questions.get(quiz.id, [])}
            # The attempt's number is a lower bound of the attempts used (another device may have
            # taken a later one meanwhile): feedback is never shown too early.
            was_released = shows_feedback(quiz, attempt_no - 1, passed_before.get(quiz.id, False))
            passed_before[quiz.id] = passed_before.get(quiz.id, False) or attempt["passed"]
            shown = shows_feedback(quiz, attempt_no, passed_before[quiz.id])
            if shown and not was_released:
                # This attempt releases the review: the earlier attempts' rows show it from now on.
                for earlier_id in (
                    await QuizAttempt.filter(quiz_id=quiz.id, employee_id=viewer.employee_id)
                    .exclude(id=attempt_id)
                    .using_db(connection)
                    .values_list("id", flat=True)
                ):
                    context.changes.touch(Entity.QUIZ_ATTEMPT, earlier_id, audience=viewer.employee_id)
            outcomes.append(
                Outcome(
                    RecordStatus.ACCEPTED,
                    params={
                        "score": points_text(attempt["score"]),
                        "maxScore": points_text(attempt["max_score"]),
                        "percent": attempt["percent"],
                        "passed": attempt["passed"],
                    },
                    result={
                        "attemptNo": attempt_no,
                        "score": points_text(attempt["score"]),
                        "maxScore": points_text(attempt["max_score"]),
                        "percent": attempt["percent"],
                        "passed": attempt["passed"],
                        "status": attempt["status"].value,
                        "feedback": feedback_json(attempt_feedback(attempt["feedback"], explanations))
                        if shown
                        else None,
                    },
                )
            )
        if totals:
            await progress.add_progress(context, modules, totals)
        return outcomes


def _note_if_fast(
    context: ApplyContext, quiz: Quiz, parsed: ParsedRecord, attempt: dict[str, Any], attempt_id: int
) -> None:
    """A submission faster than the loosest per-question limit a company may set: a QUIZ_TOO_FAST
    signal, judged with the company's own limit when the push finishes (noting costs no statement)."""
    elapsed, questions = attempt["elapsed"], attempt["questions"]
    if elapsed is None or questions == 0:
        return
    seconds = elapsed.total_seconds()
    if 0 <= seconds < quiz_too_fast.LOOSEST_SECONDS_PER_QUESTION * questions:
        detectors.note(
            context,
            detectors.Signal(
                IntegrityAlertKind.QUIZ_TOO_FAST,
                context.viewer.employee_id,
                parsed.record.id,
                parsed.occurred_at,
                {"seconds": seconds, "questions": questions, "quiz_id": quiz.id, "attempt_id": attempt_id},
            ),
        )


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
        feedback.append(
            {
                "questionId": question.id,
                "correct": correct,
                "pointsAwarded": points_text(awarded),
                "needsManual": needs_manual,
                "maxPoints": points_text(Decimal(str(question.points))),
            }
        )
    percent = whole_percent(score, max_score)
    flags = list(parsed.flags)
    elapsed = None
    finished = parsed.record.occurred_at  # a record without a readable time never reaches a handler
    if submission.started_at is not None and finished is not None:
        # Both ends on the device's clock: the difference does not depend on its skew.
        elapsed = finished - submission.started_at
        if elapsed < timedelta(seconds=SECONDS_PER_QUESTION_AT_LEAST * len(questions)):
            flags.append("TOO_FAST")
        if quiz.time_limit_seconds and elapsed > timedelta(seconds=quiz.time_limit_seconds):
            flags.append("OVER_TIME_LIMIT")
    seconds = 0 if elapsed is None else int(min(max(elapsed.total_seconds(), 0), MAX_SECONDS))
    return {
        "score": score,
        "max_score": max_score,
        "percent": percent,
        # Manual grading can only add points: a pass now stays a pass.
        "passed": max_score > 0 and percent >= quiz.pass_mark,
        "status": AttemptStatus.NEEDS_MANUAL_GRADING if manual else AttemptStatus.GRADED,
        "feedback": feedback,
        "flags": flags,
        "seconds": seconds,
        "started_at": None if elapsed is None else parsed.occurred_at - elapsed,
        "elapsed": elapsed,
        "questions": len(questions),
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
            viewer.tenant_id,
            quiz.id,
            viewer.employee_id,
            attempt_no,
            db_uuid(connection, parsed.record.id),
            db_time(connection, attempt["started_at"]),
            db_time(connection, parsed.occurred_at),
            json.dumps(parsed.payload.answers, ensure_ascii=False),
            attempt["score"],
            attempt["max_score"],
            attempt["percent"],
            attempt["passed"],
            attempt["status"].value,
            json.dumps(attempt["feedback"], ensure_ascii=False),
            flags,
            now,
            now,
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


async def _showing(attempts: list[QuizAttempt]) -> dict[int, bool]:
    """Whether each attempt (with its quiz loaded) may show its feedback now, by attempt id."""
    states = await _attempt_states({(a.quiz_id, a.employee_id) for a in attempts if a.quiz.review_allowed})
    return {
        a.id: a.quiz.review_allowed and shows_feedback(a.quiz, *states[(a.quiz_id, a.employee_id)]) for a in attempts
    }


async def learner_attempts(viewer: Viewer, attempt_ids: list[int]) -> list[LearnerAttempt]:
    """The viewer's own attempts among ``attempt_ids`` (with their quiz), as they may see them."""
    attempts = await QuizAttempt.filter(
        tenant_id=viewer.tenant_id, employee_id=viewer.employee_id, id__in=attempt_ids
    ).select_related("quiz")
    return await _with_feedback_if_shown(viewer.tenant_id, attempts, await _showing(attempts))


async def unreviewable_records(tenant_id: int, record_ids: list) -> set:
    """Of some QUIZ_SUBMISSION records, those whose attempt may not show feedback now (review
    switched off since, or its timing changed): their stored result must not show it. A stored
    result never gains feedback it did not have; the attempt's own row (QUIZ_ATTEMPT,
    ``myQuizAttempts``) shows it once released."""
    if not record_ids:
        return set()
    attempts = await QuizAttempt.filter(tenant_id=tenant_id, record_id__in=record_ids).select_related("quiz")
    showing = await _showing(attempts)
    return {a.record_id for a in attempts if not showing[a.id]}


async def mark_feed_rows(tenant_id: int, changes: ChangeSet) -> None:
    for module_id in await Quiz.filter(tenant_id=tenant_id).values_list("module_id", flat=True):
        changes.touch(Entity.QUIZ, module_id)
    for attempt_id, employee_id in await QuizAttempt.filter(tenant_id=tenant_id).values_list("id", "employee_id"):
        changes.touch(Entity.QUIZ_ATTEMPT, attempt_id, audience=employee_id)
