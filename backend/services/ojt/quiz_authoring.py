"""Authoring of question banks and quizzes (HR admins, instructors), and the validation of answer
keys: the only views that show keys.

Every answer key is checked against its question's kind when written, in the form ``quizzes.grade``
reads, so grading never meets a key it cannot use. A changed question gives every quiz showing it a
new version (phones fetch it again); ``set_module_quiz`` creates a quiz with ``INSERT … ON
CONFLICT`` so two authors creating it at once make one quiz.
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
from backend.services.ojt.quizzes import MAX_SECONDS, choice_key, normalise_text
from backend.services.viewer import Viewer
from backend.sql import db_time, placeholders

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
        if not isinstance(key, str) or not key.strip() or len(key.strip()) > 8 or choice_key(key) in seen:
            raise _invalid("options")
        seen.add(choice_key(key))
        cleaned.append({"key": key.strip(), "text": _clean_text(text, "options", MAX_OPTION_TEXT)})
    return cleaned


def _clean_answer_key(kind: QuestionKind, key: Any, options: list[dict[str, str]]) -> Any:
    """The answer key in the form ``grade`` reads, or VALIDATION naming answerKey."""
    keys = {choice_key(o["key"]): o["key"] for o in options}
    if kind == QuestionKind.SINGLE_CHOICE:
        chosen = key[0] if isinstance(key, list) and len(key) == 1 else key
        if choice_key(chosen) not in keys:
            raise _invalid("answerKey")
        return [keys[choice_key(chosen)]]  # a list: a bare JSON string does not survive the JSON column
    if kind == QuestionKind.MULTIPLE_CHOICE:
        if not isinstance(key, list) or not key or any(choice_key(k) not in keys for k in key):
            raise _invalid("answerKey")
        if len({choice_key(k) for k in key}) != len(key):
            raise _invalid("answerKey")
        return [keys[choice_key(k)] for k in key]
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
        if (
            isinstance(wanted, bool)
            or not isinstance(wanted, int)
            or not cleaned.get("keywords")
            or not 1 <= wanted <= len(cleaned["keywords"])
        ):
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
        prompt = _clean_text(draft.prompt if draft.prompt is not None else question.prompt, "prompt", MAX_PROMPT)
        options = _clean_options(kind, draft.options if draft.options is not None else question.options)
        key = draft.answer_key if draft.answer_key_given else question.answer_key
        answer_key = _clean_answer_key(kind, key, options)
        points = _clean_points(draft.points if draft.points is not None else question.points)
        explanation = _clean_text(
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
    # When review shows answers: after each attempt, or only after the final one / a pass.
    review_timing: ReviewTiming = ReviewTiming.AFTER_FINAL_ATTEMPT


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
    now = now or datetime.now(UTC)
    title = _check_settings(settings)
    async with in_transaction() as connection:
        module = await CourseModule.filter(tenant_id=viewer.tenant_id, id=module_id).using_db(connection).first()
        if module is None:
            raise DomainError(ErrorCode.NOT_FOUND, field="moduleId")
        if module.kind != ModuleKind.QUIZ:
            raise _invalid("moduleId")
        found = set(
            await Question.filter(tenant_id=viewer.tenant_id, course_id=module.course_id, id__in=settings.question_ids)
            .using_db(connection)
            .values_list("id", flat=True)
        )
        if found != set(settings.question_ids):
            raise _invalid("questionIds")
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
            .first()
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
            .first()
        )


async def authored_questions(quiz_id: int) -> list[Question]:
    """A quiz's questions in order, with their keys (authoring views only)."""
    links = await QuizQuestion.filter(quiz_id=quiz_id).select_related("question").order_by("position", "id")
    return [link.question for link in links]
