"""Manual grading of open answers: a person gives points to the short answers a quiz's answer key
cannot judge, and lists the attempts awaiting them (``quizAttemptsToGrade``).

HR admins and instructors grade anyone's open answers; a mentor grades only their current mentee's,
"current" judged on the mentee's local day as everywhere in mentoring. Grading locks the learner's
attempts at the quiz (PostgreSQL; SQLite has one writer) and writes with an UPDATE conditional on
the status and pass it read, so two graders never both count the module or both finish an attempt.
Kept apart from ``quizzes`` because it is a grader's workflow, not the learner's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from backend.errors import DomainError, ErrorCode
from backend.ids import to_global_id
from backend.models import AttemptStatus, NotificationKind, Question, Quiz, QuizAttempt, Role
from backend.services.audit import audit
from backend.services.catalog import progress
from backend.services.credits import credit_engine
from backend.services.feed import ChangeSet, Entity
from backend.services.notifications.notices import Notice
from backend.services.ojt import mentoring, skills
from backend.services.ojt.quizzes import feedback_items, points_text, quiz_passed, whole_percent
from backend.services.pagination import Keyset, Page, check_page_size
from backend.services.records.work import UnitOfWork
from backend.services.reports import rollups
from backend.services.validation import invalid, text
from backend.services.viewer import Viewer

MAX_COMMENT = 500
# Attempts to grade, oldest first (the cursor kind and key of every cursor issued so far).
GRADING_ORDER: Keyset[QuizAttempt] = Keyset("quiz-attempt-to-grade", ("id",), (int,))


@dataclass(frozen=True)
class AttemptToGrade:
    """An attempt (with its quiz, module and learner) as a grader sees it, with the questions its
    feedback names, by id."""

    attempt: QuizAttempt
    questions: dict[int, Question]


async def _with_questions(tenant_id: int, attempts: list[QuizAttempt], connection=None) -> list[AttemptToGrade]:
    """``attempts`` with the questions their feedback names, in one query."""
    ids = list({item["questionId"] for attempt in attempts for item in feedback_items(attempt.feedback)})
    query = Question.filter(tenant_id=tenant_id, id__in=ids)
    questions = {q.id: q for q in await (query.using_db(connection) if connection else query)}
    return [AttemptToGrade(attempt, questions) for attempt in attempts]


def _authors(viewer: Viewer) -> bool:
    return viewer.has_role(Role.HR_ADMIN, Role.INSTRUCTOR)


async def _require_grader(viewer: Viewer, learner_id: int, course_id: int, on: datetime, connection) -> None:
    """HR admins and instructors grade anyone's open answers; a mentor only their current mentee's."""
    if learner_id == viewer.employee_id:
        raise DomainError(ErrorCode.FORBIDDEN)
    if _authors(viewer):
        return
    day = await mentoring.mentee_day(viewer.tenant_id, learner_id, on, connection)
    mentors = await mentoring.current_mentor_ids(viewer.tenant_id, learner_id, course_id, day, connection)
    if viewer.employee_id not in mentors:
        raise DomainError(ErrorCode.FORBIDDEN)


def _points_given(points: Any, most: Decimal) -> Decimal:
    try:
        given = Decimal(str(points))
    except ArithmeticError as error:
        raise invalid("points") from error
    if not given.is_finite() or given < 0 or given > most or given != given.quantize(Decimal("0.1")):
        raise invalid("points")
    return given


async def grade_answer(
    viewer: Viewer,
    attempt_id: int,
    question_id: int,
    points: Any,
    comment: str = "",
    now: datetime | None = None,
) -> AttemptToGrade:
    """Give points to one open answer awaiting a person. The score, percent and pass are worked
    out again; when no answer awaits any more the attempt is GRADED (and counts as skill
    evidence); a first pass of the quiz counts the module once. ALREADY_GRADED when the answer
    does not await grading (a concurrent grader took it)."""
    now = now or datetime.now(UTC)
    comment = text(comment, "comment", MAX_COMMENT, required=False)
    async with in_transaction() as connection:
        found = await QuizAttempt.filter(tenant_id=viewer.tenant_id, id=attempt_id).using_db(connection).first()
        if found is None:
            raise DomainError(ErrorCode.NOT_FOUND)
        quiz = (
            await Quiz.filter(tenant_id=viewer.tenant_id, id=found.quiz_id)
            .select_related("module")
            .using_db(connection)
            .get()
        )
        module = quiz.module
        await _require_grader(viewer, found.employee_id, module.course_id, now, connection)
        # Every attempt of the learner at this quiz, locked in id order: two graders finishing two
        # attempts at once must not both see "no other pass" and count the module twice.
        locked = (
            await QuizAttempt.filter(tenant_id=viewer.tenant_id, quiz_id=quiz.id, employee_id=found.employee_id)
            .order_by("id")
            .select_for_update()
            .using_db(connection)
        )
        attempt = next(a for a in locked if a.id == attempt_id)
        feedback = [dict(item) for item in feedback_items(attempt.feedback)]
        item = next((f for f in feedback if f["questionId"] == question_id), None)
        if item is None:
            raise DomainError(ErrorCode.NOT_FOUND, field="questionId")
        if not item.get("needsManual"):
            raise DomainError(ErrorCode.ALREADY_GRADED)
        most = item.get("maxPoints")
        if most is None:  # attempts from before the per-question maximum was kept
            most = (
                await Question.filter(tenant_id=viewer.tenant_id, id=question_id)
                .using_db(connection)
                .values_list("points", flat=True)
            )
            most = most[0] if most else 0
        most = Decimal(str(most))
        given = _points_given(points, most)
        item.update(
            pointsAwarded=points_text(given),
            correct=given >= most,
            needsManual=False,
            gradedBy=viewer.employee_id,
            comment=comment,
        )
        score = sum((Decimal(str(f.get("pointsAwarded", "0"))) for f in feedback), Decimal(0))
        max_score = Decimal(str(attempt.max_score))
        percent = whole_percent(score, max_score)
        # Grading only adds points: a pass stays a pass even if the pass mark moved meanwhile.
        passed = attempt.passed or (max_score > 0 and percent >= quiz.pass_mark)
        done = not any(f.get("needsManual") for f in feedback)
        changes = {"feedback": feedback, "score": score, "percent": percent, "passed": passed, "updated_at": now}
        if done:
            changes.update(status=AttemptStatus.GRADED, graded_by_id=viewer.employee_id, graded_at=now)
        written = (
            await QuizAttempt.filter(
                tenant_id=viewer.tenant_id,
                id=attempt.id,
                status=AttemptStatus.NEEDS_MANUAL_GRADING,
                passed=attempt.passed,
            )
            .using_db(connection)
            .update(**changes)
        )
        if written != 1:
            raise DomainError(ErrorCode.ALREADY_GRADED)
        change_set = ChangeSet(viewer.tenant_id)
        context = UnitOfWork(viewer, connection, change_set, now)
        others_passed = any(a.passed for a in locked if a.id != attempt.id)
        if passed and not attempt.passed and not others_passed:
            await progress.add_progress(
                context,
                {module.id: module},
                {module.id: [1, 0, attempt.submitted_at]},
                employee_id=attempt.employee_id,
            )
        if done and passed:  # credited with the final score, once per quiz (the fact's key)
            credit_engine.note(
                context, quiz_passed(attempt.employee_id, quiz, percent, attempt.submitted_at, attempt.record_id)
            )
        if done:  # its taker was counted when it arrived; its score counts from now on
            rollups.add_entries(
                change_set.tally,
                rollups.graded_later_entries(attempt.employee_id, module.course_id, percent, attempt.submitted_at),
            )
            await skills.record_evidence(
                context,
                attempt.employee_id,
                module,
                skills.QUIZ_ATTEMPT,
                str(attempt.id),
                attempt.record_id,
                percent,
                attempt.submitted_at,
            )
        change_set.touch(Entity.QUIZ_ATTEMPT, attempt.id, audience=attempt.employee_id)
        if done:  # graded by a person: the learner hears the final score once, when none awaits
            change_set.notify(
                Notice(
                    NotificationKind.QUIZ_GRADED,
                    attempt.employee_id,
                    f"quiz-attempt:{attempt.id}:graded",
                    {"quiz": quiz.title, "score": points_text(score), "passed": passed},
                    to_global_id("QuizAttempt", attempt.id),
                )
            )
        if passed and not attempt.passed and not others_passed:
            # A first pass releases a review held back until then (AFTER_FINAL_ATTEMPT): the
            # learner's other attempts show their feedback from now on.
            for other in locked:
                change_set.touch(Entity.QUIZ_ATTEMPT, other.id, audience=attempt.employee_id)
        await audit(
            connection,
            viewer,
            viewer.tenant_id,
            "quiz.grade_answer",
            "QuizAttempt",
            attempt.id,
            {
                "questionId": question_id,
                "points": points_text(given),
                "comment": comment,
                "employeeId": attempt.employee_id,
                "status": "GRADED" if done else "NEEDS_MANUAL_GRADING",
            },
        )
        await context.finish()
        graded = (
            await QuizAttempt.filter(tenant_id=viewer.tenant_id, id=attempt.id)
            .select_related("quiz__module", "employee")
            .using_db(connection)
            .get()
        )
        (shown,) = await _with_questions(viewer.tenant_id, [graded], connection)
        return shown


async def attempts_to_grade(
    viewer: Viewer, first: int, after: str | None, max_page_size: int, now: datetime | None = None
) -> Page[AttemptToGrade]:
    """Attempts with open answers the viewer may grade, oldest first: every one of the company (HR
    admins, instructors) or their current mentees' (mentors); FORBIDDEN for anyone else."""
    query = QuizAttempt.filter(tenant_id=viewer.tenant_id, status=AttemptStatus.NEEDS_MANUAL_GRADING).exclude(
        employee_id=viewer.employee_id
    )
    if not _authors(viewer):
        mentees = [
            (m.mentee_id, m.course_id)
            for m in await mentoring.current_mentorships(
                viewer.tenant_id, now or datetime.now(UTC), mentor_id=viewer.employee_id
            )
        ]
        if not mentees:
            raise DomainError(ErrorCode.FORBIDDEN)
        query = query.filter(
            Q(
                *[
                    Q(employee_id=mentee) if course is None else Q(employee_id=mentee, quiz__module__course_id=course)
                    for mentee, course in mentees
                ],
                join_type="OR",
            )
        )
    # Input is checked once the viewer is known to be a grader (FORBIDDEN comes first).
    check_page_size(first, max_page_size)
    page = await GRADING_ORDER.fetch(query.select_related("quiz__module", "employee"), first, after)
    return Page(
        await _with_questions(viewer.tenant_id, page.items),
        page.has_next_page,
        page.has_previous_page,
        lambda item: GRADING_ORDER.cursor_of(item.attempt),
        page.count_total,
    )
