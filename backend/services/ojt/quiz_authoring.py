"""Authoring of question banks and quizzes (HR admins, instructors): the only views that show
answer keys.

Every question is checked by its kind when written (``question_kinds``: its options and its answer
key, in the form grading reads, so grading never meets a key it cannot use). A changed question
gives every quiz showing it a new version (phones fetch it again); ``set_module_quiz`` creates a
quiz with ``INSERT … ON CONFLICT`` so two authors creating it at once make one quiz.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from backend.errors import DomainError, ErrorCode
from backend.models import (
    Course,
    CourseModule,
    ModuleKind,
    Question,
    QuestionKind,
    Quiz,
    QuizAttempt,
    QuizQuestion,
    ReviewTiming,
    Role,
)
from backend.services.audit import audit
from backend.services.feed import ChangeSet, Entity
from backend.services.ojt.question_kinds import kind_of
from backend.services.ojt.quizzes import MAX_SECONDS
from backend.services.pagination import Keyset, Page, check_page_size
from backend.services.validation import invalid, text
from backend.services.viewer import Viewer
from backend.sql import db_time, placeholders

MAX_PROMPT = 2000
MAX_EXPLANATION = 2000
MAX_QUESTIONS = 200
MAX_POINTS = Decimal("1000")
# A course's questions, oldest first.
BANK_ORDER: Keyset[Question] = Keyset("question-bank", ("id",), (int,))


def require_author(viewer: Viewer) -> None:
    """FORBIDDEN unless the viewer writes question banks and quizzes (HR admins, instructors)."""
    viewer.require_role(Role.HR_ADMIN, Role.INSTRUCTOR)


def _clean_points(points: Any) -> Decimal:
    try:
        value = Decimal(str(points))
    except ArithmeticError as error:
        raise invalid("points") from error
    if not value.is_finite() or value <= 0 or value > MAX_POINTS or value != value.quantize(Decimal("0.1")):
        raise invalid("points")
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
    quiz_ids = list(
        await QuizQuestion.filter(tenant_id=tenant_id, question_id=question_id)
        .using_db(connection)
        .values_list("quiz_id", flat=True)
    )
    if not quiz_ids:
        return
    quizzes_ = Quiz.filter(tenant_id=tenant_id, id__in=quiz_ids).using_db(connection)
    await quizzes_.update(version=F("version") + 1, updated_at=now)
    for module_id in await quizzes_.values_list("module_id", flat=True):
        changes.touch(Entity.QUIZ, module_id)


async def create_question(
    viewer: Viewer, course_id: int, draft: QuestionDraft, now: datetime | None = None
) -> Question:
    """Add a question to a course's bank (HR admins, instructors). The answer key must suit the
    kind: option keys for choices (exactly one for SINGLE_CHOICE), a boolean for TRUE_FALSE,
    {exact?, keywords?, minKeywords?} for SHORT_TEXT (empty: graded by a person)."""
    require_author(viewer)
    now = now or datetime.now(UTC)
    if draft.kind is None:
        raise invalid("kind", "reason.required")
    kind = QuestionKind(draft.kind)
    prompt = text(draft.prompt, "prompt", MAX_PROMPT)
    rules = kind_of(kind)
    options = rules.clean_options(draft.options)
    answer_key = rules.clean_key(draft.answer_key, options)
    points = _clean_points(draft.points if draft.points is not None else 1)
    explanation = text(draft.explanation, "explanation", MAX_EXPLANATION, required=False)
    async with in_transaction() as connection:
        await _course(viewer, course_id, connection)
        question = await Question.create(
            tenant_id=viewer.tenant_id,
            course_id=course_id,
            kind=kind,
            prompt=prompt,
            options=options,
            answer_key=answer_key,
            points=points,
            explanation=explanation,
            using_db=connection,
        )
        await audit(
            connection,
            viewer,
            viewer.tenant_id,
            "question.create",
            "Question",
            question.id,
            {"courseId": course_id, "kind": kind.value},
        )
    return question


async def update_question(
    viewer: Viewer, question_id: int, draft: QuestionDraft, now: datetime | None = None
) -> Question:
    """Change a bank question (HR admins, instructors); omitted fields stay. The result is checked
    as a whole (a new kind needs a key that suits it). Quizzes showing it get a new version."""
    require_author(viewer)
    now = now or datetime.now(UTC)
    async with in_transaction() as connection:
        question = (
            await Question.filter(tenant_id=viewer.tenant_id, id=question_id)
            .select_for_update()
            .using_db(connection)
            .first()
        )
        if question is None:
            raise DomainError(ErrorCode.NOT_FOUND, field="questionId")
        kind = QuestionKind(draft.kind if draft.kind is not None else question.kind)
        prompt = text(draft.prompt if draft.prompt is not None else question.prompt, "prompt", MAX_PROMPT)
        rules = kind_of(kind)
        options = rules.clean_options(draft.options if draft.options is not None else question.options)
        key = draft.answer_key if draft.answer_key_given else question.answer_key
        answer_key = rules.clean_key(key, options)
        points = _clean_points(draft.points if draft.points is not None else question.points)
        explanation = text(
            draft.explanation if draft.explanation is not None else question.explanation,
            "explanation",
            MAX_EXPLANATION,
            required=False,
        )
        await (
            Question.filter(tenant_id=viewer.tenant_id, id=question.id)
            .using_db(connection)
            .update(
                kind=kind,
                prompt=prompt,
                options=options,
                answer_key=answer_key,
                points=points,
                explanation=explanation,
                updated_at=now,
            )
        )
        changes = ChangeSet(viewer.tenant_id)
        await _touch_quizzes_of(connection, changes, question.id, now)
        await audit(
            connection,
            viewer,
            viewer.tenant_id,
            "question.update",
            "Question",
            question.id,
            {"courseId": question.course_id, "kind": kind.value},
        )
        await changes.publish(connection, now)
        return await Question.filter(id=question.id).using_db(connection).get()


async def question_bank(viewer: Viewer, course_id: int) -> list[Question]:
    """A course's questions with their answer keys, oldest first (HR admins, instructors)."""
    require_author(viewer)
    await _course(viewer, course_id, None)
    return await Question.filter(tenant_id=viewer.tenant_id, course_id=course_id).order_by("id")


async def question_bank_page(
    viewer: Viewer, course_id: int, first: int, after: str | None, max_page_size: int
) -> Page[Question]:
    """A page of ``question_bank``."""
    require_author(viewer)
    check_page_size(first, max_page_size)
    await _course(viewer, course_id, None)
    return await BANK_ORDER.fetch(Question.filter(tenant_id=viewer.tenant_id, course_id=course_id), first, after)


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
    # When review shows answers: after each attempt, or only after the final one / a pass.
    review_timing: ReviewTiming = ReviewTiming.AFTER_FINAL_ATTEMPT


def _check_settings(settings: QuizSettings) -> str:
    title = text(settings.title, "title", 200)
    if not 0 <= settings.pass_mark <= 100:
        raise invalid("passMark")
    if not 1 <= settings.attempts_allowed <= 100:
        raise invalid("attemptsAllowed")
    if settings.time_limit_seconds is not None and not 1 <= settings.time_limit_seconds <= MAX_SECONDS:
        raise invalid("timeLimitSeconds")
    if settings.closes_at is not None and settings.closes_at.tzinfo is None:
        raise invalid("closesAt", "reason.timezone_required")
    ids = settings.question_ids
    if not ids:
        raise invalid("questionIds", "reason.required")
    if len(ids) > MAX_QUESTIONS or len(set(ids)) != len(ids):
        raise invalid("questionIds")
    return title


async def set_module_quiz(viewer: Viewer, module_id: int, settings: QuizSettings, now: datetime | None = None) -> Quiz:
    """Create or replace the quiz of a QUIZ module (HR admins, instructors): its settings and its
    questions in order, all from the module's course. A replaced quiz gets version + 1."""
    require_author(viewer)
    now = now or datetime.now(UTC)
    title = _check_settings(settings)
    async with in_transaction() as connection:
        module = await CourseModule.filter(tenant_id=viewer.tenant_id, id=module_id).using_db(connection).first()
        if module is None:
            raise DomainError(ErrorCode.NOT_FOUND, field="moduleId")
        if module.kind != ModuleKind.QUIZ:
            raise invalid("moduleId")
        found = set(
            await Question.filter(tenant_id=viewer.tenant_id, course_id=module.course_id, id__in=settings.question_ids)
            .using_db(connection)
            .values_list("id", flat=True)
        )
        if found != set(settings.question_ids):
            raise invalid("questionIds")
        values = {
            "title": title,
            "pass_mark": settings.pass_mark,
            "time_limit_seconds": settings.time_limit_seconds,
            "attempts_allowed": settings.attempts_allowed,
            "shuffle": settings.shuffle,
            "review_allowed": settings.review_allowed,
            "closes_at": settings.closes_at,
            "review_timing": ReviewTiming(settings.review_timing),
        }
        stamp = db_time(connection, now)
        # ON CONFLICT, not a check then an insert: two authors creating it at once make one quiz.
        rows = await connection.execute_query_dict(
            "INSERT INTO quiz (tenant_id, module_id, title, pass_mark, time_limit_seconds, attempts_allowed, shuffle,"
            f" review_allowed, review_timing, closes_at, version, created_at, updated_at)"
            f" VALUES ({placeholders(connection, 13)})"
            " ON CONFLICT (module_id) DO NOTHING RETURNING id",
            [
                viewer.tenant_id,
                module.id,
                title,
                settings.pass_mark,
                settings.time_limit_seconds,
                settings.attempts_allowed,
                settings.shuffle,
                settings.review_allowed,
                ReviewTiming(settings.review_timing).value,
                db_time(connection, settings.closes_at),
                1,
                stamp,
                stamp,
            ],
        )
        created = bool(rows)
        quiz = (
            await Quiz.filter(tenant_id=viewer.tenant_id, module_id=module.id)
            .select_for_update()
            .using_db(connection)
            .get()
        )
        if not created:
            await (
                Quiz.filter(tenant_id=viewer.tenant_id, id=quiz.id)
                .using_db(connection)
                .update(**values, version=F("version") + 1, updated_at=now)
            )
        await QuizQuestion.filter(tenant_id=viewer.tenant_id, quiz_id=quiz.id).using_db(connection).delete()
        await QuizQuestion.bulk_create(
            [
                QuizQuestion(tenant_id=viewer.tenant_id, quiz_id=quiz.id, question_id=question_id, position=position)
                for position, question_id in enumerate(settings.question_ids, start=1)
            ],
            using_db=connection,
        )
        changes = ChangeSet(viewer.tenant_id)
        changes.touch(Entity.QUIZ, module.id)
        if not created and (
            quiz.review_allowed != settings.review_allowed
            or quiz.review_timing != ReviewTiming(settings.review_timing)
            or quiz.attempts_allowed != settings.attempts_allowed
            or quiz.closes_at != settings.closes_at
        ):
            # Whether attempt rows show feedback depends on these (quizzes.shows_feedback): phones
            # must fetch them again.
            for attempt_id, employee_id in (
                await QuizAttempt.filter(tenant_id=viewer.tenant_id, quiz_id=quiz.id)
                .using_db(connection)
                .values_list("id", "employee_id")
            ):
                changes.touch(Entity.QUIZ_ATTEMPT, attempt_id, audience=employee_id)
        await audit(
            connection,
            viewer,
            viewer.tenant_id,
            "quiz.create" if created else "quiz.update",
            "Quiz",
            quiz.id,
            {
                "moduleId": module.id,
                "questionIds": settings.question_ids,
                "passMark": settings.pass_mark,
                "attemptsAllowed": settings.attempts_allowed,
                "reviewAllowed": settings.review_allowed,
                "reviewTiming": ReviewTiming(settings.review_timing).value,
            },
        )
        await changes.publish(connection, now)
        return (
            await Quiz.filter(tenant_id=viewer.tenant_id, id=quiz.id)
            .select_related("module")
            .using_db(connection)
            .get()
        )


async def authored_questions(quiz_id: int) -> list[Question]:
    """A quiz's questions in order, with their keys (authoring views only)."""
    links = await QuizQuestion.filter(quiz_id=quiz_id).select_related("question").order_by("position", "id")
    return [link.question for link in links]
