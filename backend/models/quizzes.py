"""Quizzes: a question bank per course, quizzes per module, and graded attempts.

Answer keys live in Question.answer_key and never leave the server: the GraphQL types and the
sync feed read questions through services that drop them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise import fields

from backend.models.base import TenantModel

if TYPE_CHECKING:
    from backend.models.catalog import Course, CourseModule
    from backend.models.people import Employee


class QuestionKind(StrEnum):
    SINGLE_CHOICE = "SINGLE_CHOICE"
    MULTIPLE_CHOICE = "MULTIPLE_CHOICE"
    TRUE_FALSE = "TRUE_FALSE"
    SHORT_TEXT = "SHORT_TEXT"


class Question(TenantModel):
    """A question of a course's bank. options: [{"key": "A", "text": "…"}], answer_key: choice
    keys, a boolean, or {"exact": [...], "keywords": [...], "minKeywords": n} for short text."""

    id = fields.IntField(primary_key=True)
    course: fields.ForeignKeyRelation[Course] = fields.ForeignKeyField(
        "xuefen.Course", related_name="questions", on_delete=fields.CASCADE
    )
    course_id: int
    kind = fields.CharEnumField(QuestionKind, max_length=16)
    prompt = fields.TextField()
    options: fields.JSONField[list[dict[str, Any]]] = fields.JSONField(default=list)
    answer_key: fields.JSONField[Any] = fields.JSONField()
    points = fields.DecimalField(max_digits=6, decimal_places=1, default=1)
    explanation = fields.TextField(default="")

    class Meta:
        table = "question"


class ReviewTiming(StrEnum):
    """When a learner sees the answers and explanations of an attempt (with review_allowed):
    after every attempt, or only once no attempt is left or the quiz is passed, so a failed first
    attempt does not hand out the key for the next one."""

    AFTER_EACH_ATTEMPT = "AFTER_EACH_ATTEMPT"
    AFTER_FINAL_ATTEMPT = "AFTER_FINAL_ATTEMPT"


class Quiz(TenantModel):
    """The quiz of a QUIZ module: pass mark (percent), time limit, attempts, shuffling, review."""

    id = fields.IntField(primary_key=True)
    module: fields.OneToOneRelation[CourseModule] = fields.OneToOneField(
        "xuefen.CourseModule", related_name="quiz", on_delete=fields.CASCADE
    )
    module_id: int
    title = fields.CharField(max_length=200)
    pass_mark = fields.SmallIntField(default=60)
    time_limit_seconds = fields.IntField(null=True)
    attempts_allowed = fields.SmallIntField(default=3)
    shuffle = fields.BooleanField(default=True)
    review_allowed = fields.BooleanField(default=True)
    review_timing = fields.CharEnumField(ReviewTiming, max_length=24, default=ReviewTiming.AFTER_FINAL_ATTEMPT)
    closes_at = fields.DatetimeField(null=True)
    version = fields.IntField(default=1)

    class Meta:
        table = "quiz"


class QuizQuestion(TenantModel):
    """A question on a quiz, in order."""

    id = fields.IntField(primary_key=True)
    quiz: fields.ForeignKeyRelation[Quiz] = fields.ForeignKeyField(
        "xuefen.Quiz", related_name="questions", on_delete=fields.CASCADE
    )
    quiz_id: int
    question: fields.ForeignKeyRelation[Question] = fields.ForeignKeyField(
        "xuefen.Question", related_name=False, on_delete=fields.CASCADE
    )
    question_id: int
    position = fields.SmallIntField()

    class Meta:
        table = "quiz_question"
        unique_together = (("quiz", "question"),)


class AttemptStatus(StrEnum):
    GRADED = "GRADED"
    NEEDS_MANUAL_GRADING = "NEEDS_MANUAL_GRADING"


class QuizAttempt(TenantModel):
    """One graded attempt. (quiz, employee, attempt_no) is unique: the database counts attempts,
    so concurrent offline submissions can never exceed the allowance."""

    id = fields.IntField(primary_key=True)
    quiz: fields.ForeignKeyRelation[Quiz] = fields.ForeignKeyField(
        "xuefen.Quiz", related_name="attempts", on_delete=fields.CASCADE
    )
    quiz_id: int
    employee: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, on_delete=fields.CASCADE
    )
    employee_id: int
    attempt_no = fields.SmallIntField()
    record_id = fields.UUIDField(unique=True)
    started_at = fields.DatetimeField(null=True)
    submitted_at = fields.DatetimeField()
    answers: fields.JSONField[dict[str, Any]] = fields.JSONField()
    score = fields.DecimalField(max_digits=7, decimal_places=1)
    max_score = fields.DecimalField(max_digits=7, decimal_places=1)
    percent = fields.SmallIntField()
    passed = fields.BooleanField()
    status = fields.CharEnumField(AttemptStatus, max_length=24)
    feedback: fields.JSONField[list[dict[str, Any]]] = fields.JSONField(default=list)
    risk_flags = fields.CharField(max_length=200, default="")
    # Who graded the short answers by hand, and when (NEEDS_MANUAL_GRADING -> GRADED).
    graded_by: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    graded_by_id: int | None
    graded_at = fields.DatetimeField(null=True)

    class Meta:
        table = "quiz_attempt"
        unique_together = (("quiz", "employee", "attempt_no"),)
        # One person's attempts in time order: the growth profile's timeline.
        indexes = (("tenant_id", "employee_id", "submitted_at"),)
