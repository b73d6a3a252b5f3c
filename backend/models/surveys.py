"""Feedback surveys (反馈问卷) and instructor ratings (讲师水平评价).

A ``survey_template`` holds the questions HR wrote (Likert 1–5, NPS 0–10, single and multiple
choice, free text; zh-CN text and optional English) and whether answers are anonymous. A template
that has answers is frozen: an edit makes a new version (a new row pointing at the old one), so the
answers keep the questions they answered. A ``survey`` attaches a template to one target (a course,
a training session, answered after check-out, or a module), open or closed.

One answer per person and survey is enforced by ``survey_receipt`` (survey, employee: unique). The
answers are a ``survey_response`` row: for a named survey it names the employee and the day, for an
anonymous one it names neither. Its primary key is a random UUID (nothing that counts in the order
of arrival, unlike the receipt's), it has no time at all and no device. ``subject`` is the person the
answer rates (the session's instructor, the respondent's mentor for a module survey), never the
respondent.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise import fields

from backend.models.base import TenantModel, XuefenModel

if TYPE_CHECKING:
    from backend.models.catalog import Course, CourseModule
    from backend.models.organisation import Tenant
    from backend.models.people import Employee
    from backend.models.sessions import TrainingSession


class SurveyQuestionKind(StrEnum):
    """How a question is answered."""

    LIKERT = "LIKERT"  # an integer 1–5
    NPS = "NPS"  # an integer 0–10 (net promoter score)
    SINGLE_CHOICE = "SINGLE_CHOICE"  # one option id
    MULTIPLE_CHOICE = "MULTIPLE_CHOICE"  # a list of distinct option ids
    FREE_TEXT = "FREE_TEXT"  # text


class SurveyTargetKind(StrEnum):
    """What a survey is attached to."""

    COURSE = "COURSE"
    SESSION = "SESSION"
    MODULE = "MODULE"


class SurveyTemplate(TenantModel):
    """A versioned list of questions. Frozen once a survey of it has answers."""

    id = fields.IntField(primary_key=True)
    title = fields.CharField(max_length=200)
    title_en = fields.CharField(max_length=200, default="")
    anonymous = fields.BooleanField(default=True)
    # [{"id", "kind", "text", "textEn", "required", "options": [{"id", "text", "textEn"}]}]
    questions: fields.JSONField[list[dict[str, Any]]] = fields.JSONField(default=list)
    version = fields.IntField(default=1)
    previous: fields.ForeignKeyNullableRelation[SurveyTemplate] = fields.ForeignKeyField(
        "xuefen.SurveyTemplate", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    previous_id: int | None
    is_current = fields.BooleanField(default=True)  # the newest version of its line
    created_by: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_by_id: int | None

    class Meta:
        table = "survey_template"
        indexes = (("tenant_id", "is_current"),)


class Survey(TenantModel):
    """A template attached to one target (exactly one of course, session and module is set)."""

    id = fields.IntField(primary_key=True)
    template: fields.ForeignKeyRelation[SurveyTemplate] = fields.ForeignKeyField(
        "xuefen.SurveyTemplate", related_name=False, on_delete=fields.RESTRICT
    )
    template_id: int
    target_kind = fields.CharEnumField(SurveyTargetKind, max_length=16)
    course: fields.ForeignKeyNullableRelation[Course] = fields.ForeignKeyField(
        "xuefen.Course", related_name=False, null=True, on_delete=fields.CASCADE
    )
    course_id: int | None  # for a session or module survey too: the target's course
    session: fields.ForeignKeyNullableRelation[TrainingSession] = fields.ForeignKeyField(
        "xuefen.TrainingSession", related_name=False, null=True, on_delete=fields.CASCADE
    )
    session_id: int | None
    module: fields.ForeignKeyNullableRelation[CourseModule] = fields.ForeignKeyField(
        "xuefen.CourseModule", related_name=False, null=True, on_delete=fields.CASCADE
    )
    module_id: int | None
    is_open = fields.BooleanField(default=True)
    closed_at = fields.DatetimeField(null=True)
    created_by: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_by_id: int | None

    class Meta:
        table = "survey"
        indexes = (("tenant_id", "course_id"), ("tenant_id", "session_id"), ("tenant_id", "is_open"))


class SurveyReceipt(TenantModel):
    """That an employee answered a survey: the one link between a person and a survey, unique."""

    id = fields.IntField(primary_key=True)
    survey: fields.ForeignKeyRelation[Survey] = fields.ForeignKeyField(
        "xuefen.Survey", related_name=False, on_delete=fields.CASCADE
    )
    survey_id: int
    employee: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, on_delete=fields.CASCADE
    )
    employee_id: int

    class Meta:
        table = "survey_receipt"
        unique_together = (("survey", "employee"),)


class SurveyResponse(XuefenModel):
    """One set of answers. Anonymous: no employee, no day (and no timestamps at all)."""

    id = fields.UUIDField(primary_key=True)  # random (uuid4), never a sequence
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "xuefen.Tenant", related_name=False, on_delete=fields.CASCADE
    )
    tenant_id: int
    survey: fields.ForeignKeyRelation[Survey] = fields.ForeignKeyField(
        "xuefen.Survey", related_name=False, on_delete=fields.CASCADE
    )
    survey_id: int
    employee: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, null=True, on_delete=fields.CASCADE
    )
    employee_id: int | None  # named surveys only
    answered_on = fields.DateField(null=True)  # named surveys only: the day, in UTC
    subject: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    subject_id: int | None  # who the answers rate: the session's instructor, the mentor
    # The mean of the Likert answers × 1000 (1000–5000): the rating the reports average; None without.
    rating_milli = fields.IntField(null=True)
    answers: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)

    class Meta:
        table = "survey_response"
        indexes = (("tenant_id", "survey_id"), ("tenant_id", "subject_id"))
