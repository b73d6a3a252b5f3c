"""Mentoring on the job: who mentors whom, logged practice, rubrics and mentor evaluations.

A mentor's authority comes from a Mentorship row (per OJT plan, with dates), never from a role
alone: only the mentee's current mentor may confirm practice or score them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.migrations.constraints import CheckConstraint

from backend.models.base import TenantModel

if TYPE_CHECKING:
    from backend.models.catalog import Course, CourseModule
    from backend.models.people import Employee


class Mentorship(TenantModel):
    """A mentor guiding a mentee through an OJT plan (course) from starts_on to ends_on.
    course null means every course of the mentee, ends_on null means open-ended."""

    id = fields.IntField(primary_key=True)
    mentor: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name="mentorships_given", on_delete=fields.CASCADE
    )
    mentor_id: int
    mentee: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name="mentorships", on_delete=fields.CASCADE
    )
    mentee_id: int
    course: fields.ForeignKeyNullableRelation[Course] = fields.ForeignKeyField(
        "xuefen.Course", related_name="mentorships", null=True, on_delete=fields.CASCADE
    )
    course_id: int | None
    starts_on = fields.DateField()
    ends_on = fields.DateField(null=True)

    class Meta:
        table = "mentorship"
        indexes = (("tenant_id", "mentee_id"), ("tenant_id", "mentor_id"))
        constraints = (
            CheckConstraint(
                check="mentor_id <> mentee_id AND (ends_on IS NULL OR ends_on >= starts_on)",
                name="mentorship_distinct_dates",
            ),
        )


class PracticeStatus(StrEnum):
    """Where a practice log stands: waiting for the mentor, confirmed, or rejected."""

    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    REJECTED = "REJECTED"


class PracticeLog(TenantModel):
    """Practice an employee logged for a PRACTICE module (e.g. 3 customer role-plays), from the
    PRACTICE_LOG record record_id. Confirmed quantities count towards the module."""

    id = fields.IntField(primary_key=True)
    record_id = fields.UUIDField(unique=True)
    employee: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name="practice_logs", on_delete=fields.CASCADE
    )
    employee_id: int
    module: fields.ForeignKeyRelation[CourseModule] = fields.ForeignKeyField(
        "xuefen.CourseModule", related_name="practice_logs", on_delete=fields.CASCADE
    )
    module_id: int
    course: fields.ForeignKeyRelation[Course] = fields.ForeignKeyField(
        "xuefen.Course", related_name=False, on_delete=fields.CASCADE
    )
    course_id: int
    quantity = fields.SmallIntField(default=1)
    note = fields.TextField(default="")
    practiced_at = fields.DatetimeField()
    status = fields.CharEnumField(PracticeStatus, max_length=16, default=PracticeStatus.PENDING)
    reviewer: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    reviewer_id: int | None
    reviewed_at = fields.DatetimeField(null=True)
    review_note = fields.TextField(default="")

    class Meta:
        table = "practice_log"
        # By review time: the integrity scan reads a window of reviews.
        indexes = (("tenant_id", "employee_id", "module_id"), ("tenant_id", "status"), ("tenant_id", "reviewed_at"))
        constraints = (CheckConstraint(check="quantity >= 1 AND quantity <= 100", name="practice_log_quantity"),)


class Rubric(TenantModel):
    """A scoring rubric: weighted criteria scored on one scale (scale_min..scale_max)."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=64)
    title = fields.CharField(max_length=200)
    scale_min = fields.SmallIntField(default=1)
    scale_max = fields.SmallIntField(default=5)

    class Meta:
        table = "rubric"
        unique_together = (("tenant", "code"),)
        constraints = (
            CheckConstraint(check="scale_min >= 0 AND scale_max > scale_min AND scale_max <= 100", name="rubric_scale"),
        )


class RubricCriterion(TenantModel):
    """One weighted criterion of a rubric. descriptors: {"1": "…", "5": "…"}, what each score means."""

    id = fields.IntField(primary_key=True)
    rubric: fields.ForeignKeyRelation[Rubric] = fields.ForeignKeyField(
        "xuefen.Rubric", related_name="criteria", on_delete=fields.CASCADE
    )
    rubric_id: int
    position = fields.SmallIntField()
    title = fields.CharField(max_length=200)
    weight = fields.DecimalField(max_digits=6, decimal_places=2, default=1)
    descriptors: fields.JSONField[dict[str, str]] = fields.JSONField(default=dict)

    class Meta:
        table = "rubric_criterion"
        unique_together = (("rubric", "position"),)
        constraints = (CheckConstraint(check="weight > 0", name="rubric_criterion_weight"),)


class EvaluationStatus(StrEnum):
    """A draft is mutable and versioned, a submitted evaluation is final, a superseded one was
    replaced by HR (with a reason)."""

    DRAFT = "DRAFT"
    SUBMITTED = "SUBMITTED"
    SUPERSEDED = "SUPERSEDED"


class MentorEvaluation(TenantModel):
    """A mentor's rubric score of a mentee's module. uid is chosen by the phone, so a draft made
    offline has its identity before it reaches the server. version counts accepted writes."""

    id = fields.IntField(primary_key=True)
    uid = fields.UUIDField(unique=True)
    mentor: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name="evaluations_given", on_delete=fields.CASCADE
    )
    mentor_id: int
    mentee: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name="evaluations", on_delete=fields.CASCADE
    )
    mentee_id: int
    module: fields.ForeignKeyRelation[CourseModule] = fields.ForeignKeyField(
        "xuefen.CourseModule", related_name="evaluations", on_delete=fields.CASCADE
    )
    module_id: int
    rubric: fields.ForeignKeyRelation[Rubric] = fields.ForeignKeyField(
        "xuefen.Rubric", related_name=False, on_delete=fields.RESTRICT
    )
    rubric_id: int
    scores: fields.JSONField[dict[str, int]] = fields.JSONField(default=dict)
    comment = fields.TextField(default="")
    version = fields.IntField(default=1)
    status = fields.CharEnumField(EvaluationStatus, max_length=16, default=EvaluationStatus.DRAFT)
    percent = fields.SmallIntField(null=True)
    submitted_at = fields.DatetimeField(null=True)
    last_record_id = fields.UUIDField(null=True)
    supersedes: fields.ForeignKeyNullableRelation[MentorEvaluation] = fields.ForeignKeyField(
        "xuefen.MentorEvaluation", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    supersedes_id: int | None
    superseded_reason = fields.TextField(default="")

    class Meta:
        table = "mentor_evaluation"
        # By submission time too: the integrity scan reads a window of submitted scores.
        indexes = (
            ("tenant_id", "mentee_id", "module_id"),
            ("tenant_id", "mentor_id", "status"),
            ("tenant_id", "status", "submitted_at"),
        )
        constraints = (
            CheckConstraint(
                check="percent IS NULL OR (percent >= 0 AND percent <= 100)", name="mentor_evaluation_percent"
            ),
        )
