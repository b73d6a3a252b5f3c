"""The course catalog: courses, their ordered modules, skills taught, eligibility, prerequisites."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.migrations.constraints import CheckConstraint

from backend.models.base import TenantModel

if TYPE_CHECKING:
    from backend.models.mentoring import Rubric
    from backend.models.organisation import OrgUnit, Position
    from backend.models.people import Employee, Skill


class CourseFormat(StrEnum):
    """How a course is delivered."""

    ONLINE = "ONLINE"
    OFFLINE = "OFFLINE"
    OJT = "OJT"
    BLENDED = "BLENDED"


class CourseStatus(StrEnum):
    """A course's life: DRAFT (being written) → PUBLISHED (learners see it) → RETIRED (kept for
    history, no new learners). Only published courses are visible to learners. (RETIRED was called
    ARCHIVED before migration 0011, which renamed the rows; the API still reads the old name.)"""

    DRAFT = "DRAFT"
    PUBLISHED = "PUBLISHED"
    RETIRED = "RETIRED"


class ModuleKind(StrEnum):
    """What a module asks of the learner."""

    LESSON = "LESSON"
    PRACTICE = "PRACTICE"
    QUIZ = "QUIZ"
    ASSESSMENT = "ASSESSMENT"


class Course(TenantModel):
    """A course such as T-001-01 新产品知识. code is unique per tenant."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=32)
    title = fields.CharField(max_length=200)
    summary = fields.TextField(default="")
    scenario = fields.CharField(max_length=64, default="")
    format = fields.CharEnumField(CourseFormat, max_length=16)
    version = fields.IntField(default=1)
    status = fields.CharEnumField(CourseStatus, max_length=16, default=CourseStatus.DRAFT)
    hours = fields.DecimalField(max_digits=6, decimal_places=1, default=0)
    credits = fields.DecimalField(max_digits=6, decimal_places=1, default=0)
    requires_approval = fields.BooleanField(default=False)
    # The version this one replaces (a new version is a new course row, so every completion,
    # progress and credit of the old one stays where it was earned).
    previous_version: fields.ForeignKeyNullableRelation[Course] = fields.ForeignKeyField(
        "xuefen.Course", related_name="next_versions", null=True, on_delete=fields.RESTRICT
    )
    previous_version_id: int | None

    class Meta:
        table = "course"
        unique_together = (("tenant", "code"),)
        indexes = (("tenant_id", "status", "scenario"),)
        constraints = (CheckConstraint(check="hours >= 0 AND credits >= 0", name="course_non_negative"),)


class CourseModule(TenantModel):
    """One step of a course, in order. required_count says e.g. "10 practice sessions"."""

    id = fields.IntField(primary_key=True)
    course: fields.ForeignKeyRelation[Course] = fields.ForeignKeyField(
        "xuefen.Course", related_name="modules", on_delete=fields.CASCADE
    )
    course_id: int
    position = fields.SmallIntField()
    title = fields.CharField(max_length=200)
    kind = fields.CharEnumField(ModuleKind, max_length=16)
    credits = fields.DecimalField(max_digits=6, decimal_places=1, default=0)
    required_count = fields.SmallIntField(default=1)
    requirement = fields.CharField(max_length=300, default="")
    # Optional modules do not hold back the course's completion.
    is_required = fields.BooleanField(default=True)
    # PRACTICE / ASSESSMENT modules: the rubric mentors score with and the bar (percent) an
    # evaluation must reach for an ASSESSMENT module to count.
    rubric: fields.ForeignKeyNullableRelation[Rubric] = fields.ForeignKeyField(
        "xuefen.Rubric", related_name="modules", null=True, on_delete=fields.SET_NULL
    )
    rubric_id: int | None
    pass_score = fields.SmallIntField(null=True)
    # LESSON modules with video, audio or PDF content: the share (percent) of each such file an
    # employee must have studied (CONTENT_PROGRESS) before LESSON_COMPLETED counts; null: no bar.
    required_study_percent = fields.SmallIntField(null=True)

    class Meta:
        table = "course_module"
        unique_together = (("course", "position"),)
        constraints = (
            CheckConstraint(check="required_count >= 1 AND credits >= 0", name="course_module_requirement"),
            CheckConstraint(
                check="pass_score IS NULL OR (pass_score >= 0 AND pass_score <= 100)",
                name="course_module_pass_score",
            ),
        )


class CourseSkill(TenantModel):
    """A skill a course teaches, and the level (0–100) it aims to bring a learner to."""

    id = fields.IntField(primary_key=True)
    course: fields.ForeignKeyRelation[Course] = fields.ForeignKeyField(
        "xuefen.Course", related_name="skills", on_delete=fields.CASCADE
    )
    course_id: int
    skill: fields.ForeignKeyRelation[Skill] = fields.ForeignKeyField(
        "xuefen.Skill", related_name="courses", on_delete=fields.CASCADE
    )
    skill_id: int
    target_level = fields.SmallIntField()

    class Meta:
        table = "course_skill"
        unique_together = (("course", "skill"),)
        constraints = (
            CheckConstraint(check="target_level >= 0 AND target_level <= 100", name="course_skill_level_range"),
        )


class CourseEligibilityRule(TenantModel):
    """Who may take a course. A learner is eligible when the course has no rules or when one
    rule matches all of its set conditions (family, grade range, org unit subtree)."""

    id = fields.IntField(primary_key=True)
    course: fields.ForeignKeyRelation[Course] = fields.ForeignKeyField(
        "xuefen.Course", related_name="eligibility_rules", on_delete=fields.CASCADE
    )
    course_id: int
    position_family = fields.CharField(max_length=64, null=True)
    # One position exactly (beside or instead of a family and grade range).
    position: fields.ForeignKeyNullableRelation[Position] = fields.ForeignKeyField(
        "xuefen.Position", related_name=False, null=True, on_delete=fields.CASCADE
    )
    position_id: int | None
    min_grade = fields.SmallIntField(null=True)
    max_grade = fields.SmallIntField(null=True)
    org_unit: fields.ForeignKeyNullableRelation[OrgUnit] = fields.ForeignKeyField(
        "xuefen.OrgUnit", related_name="course_rules", null=True, on_delete=fields.CASCADE
    )
    org_unit_id: int | None

    class Meta:
        table = "course_eligibility_rule"


class CoursePrerequisite(TenantModel):
    """A course that must be completed before this one."""

    id = fields.IntField(primary_key=True)
    course: fields.ForeignKeyRelation[Course] = fields.ForeignKeyField(
        "xuefen.Course", related_name="prerequisites", on_delete=fields.CASCADE
    )
    course_id: int
    required_course: fields.ForeignKeyRelation[Course] = fields.ForeignKeyField(
        "xuefen.Course", related_name="required_by", on_delete=fields.CASCADE
    )
    required_course_id: int

    class Meta:
        table = "course_prerequisite"
        unique_together = (("course", "required_course"),)


class CourseCompletion(TenantModel):
    """An employee completed a course (derived from their records once sync lands, seeded in the
    demo). Prerequisite checks read it."""

    id = fields.IntField(primary_key=True)
    employee: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name="completions", on_delete=fields.CASCADE
    )
    employee_id: int
    course: fields.ForeignKeyRelation[Course] = fields.ForeignKeyField(
        "xuefen.Course", related_name="completions", on_delete=fields.CASCADE
    )
    course_id: int
    completed_at = fields.DatetimeField()

    class Meta:
        table = "course_completion"
        unique_together = (("employee", "course"),)
