"""OJT plans: what a position's people must learn, by when, and who has been given a plan.

A ``ojt_plan`` is a template per position (optionally narrowed to an org unit subtree, or
triggered by a skill gap): its items are courses or single modules, each required or optional
with a due offset in days from the start of the assignment. An ``ojt_assignment`` gives a plan to
one employee: on hire or transfer into the position, by HR or a manager, or when a skill gap
crosses the plan's threshold. Its status is derived from facts (course completions, module
progress, the due date, a waiver); ``status`` holds the last derivation, so the worker sees a
change (due soon, overdue, completed) once and tells the right people once.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields

from backend.models.base import TenantModel

if TYPE_CHECKING:
    from backend.models.catalog import Course, CourseModule
    from backend.models.organisation import OrgUnit, Position
    from backend.models.people import Employee, Skill


class OjtPlan(TenantModel):
    """A plan template."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=64)
    name = fields.CharField(max_length=200)
    description = fields.CharField(max_length=2000, default="")
    position: fields.ForeignKeyNullableRelation[Position] = fields.ForeignKeyField(
        "xuefen.Position", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    position_id: int | None
    org_unit: fields.ForeignKeyNullableRelation[OrgUnit] = fields.ForeignKeyField(
        "xuefen.OrgUnit", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    org_unit_id: int | None
    # A skill gap plan: given to whoever's gap on ``skill`` (required level of their position minus
    # their level) reaches ``gap_threshold``.
    skill: fields.ForeignKeyNullableRelation[Skill] = fields.ForeignKeyField(
        "xuefen.Skill", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    skill_id: int | None
    gap_threshold = fields.SmallIntField(null=True)
    mentor_required = fields.BooleanField(default=False)
    due_days = fields.IntField(default=30)  # the whole plan: days from the assignment's start
    remind_days = fields.IntField(default=3)  # "due soon" this many days before an item or the plan is due
    is_active = fields.BooleanField(default=True)
    version = fields.IntField(default=1)

    class Meta:
        table = "ojt_plan"
        unique_together = (("tenant", "code"),)
        indexes = (("tenant_id", "position_id"),)


class OjtPlanItem(TenantModel):
    """One course (or one module of it) of a plan."""

    id = fields.IntField(primary_key=True)
    plan: fields.ForeignKeyRelation[OjtPlan] = fields.ForeignKeyField(
        "xuefen.OjtPlan", related_name=False, on_delete=fields.CASCADE
    )
    plan_id: int
    position = fields.IntField(default=0)  # order in the plan
    course: fields.ForeignKeyRelation[Course] = fields.ForeignKeyField(
        "xuefen.Course", related_name=False, on_delete=fields.RESTRICT
    )
    course_id: int
    module: fields.ForeignKeyNullableRelation[CourseModule] = fields.ForeignKeyField(
        "xuefen.CourseModule", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    module_id: int | None
    due_days = fields.IntField(default=30)
    is_required = fields.BooleanField(default=True)

    class Meta:
        table = "ojt_plan_item"
        indexes = (("tenant_id", "plan_id", "position"), ("tenant_id", "course_id"))


class AssignmentSource(StrEnum):
    HIRE = "HIRE"
    TRANSFER = "TRANSFER"
    MANUAL = "MANUAL"
    SKILL_GAP = "SKILL_GAP"


class AssignmentStatus(StrEnum):
    NOT_STARTED = "NOT_STARTED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    OVERDUE = "OVERDUE"
    WAIVED = "WAIVED"


class OjtAssignment(TenantModel):
    """A plan given to one employee."""

    id = fields.IntField(primary_key=True)
    employee: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, on_delete=fields.CASCADE
    )
    employee_id: int
    plan: fields.ForeignKeyRelation[OjtPlan] = fields.ForeignKeyField(
        "xuefen.OjtPlan", related_name=False, on_delete=fields.RESTRICT
    )
    plan_id: int
    source = fields.CharEnumField(AssignmentSource, max_length=16)
    assigned_by: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    assigned_by_id: int | None
    starts_on = fields.DateField()
    due_on = fields.DateField()
    status = fields.CharEnumField(AssignmentStatus, max_length=16, default=AssignmentStatus.NOT_STARTED)
    completed_at = fields.DatetimeField(null=True)
    waived_reason = fields.CharField(max_length=300, default="")
    waived_by: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    waived_by_id: int | None
    waived_at = fields.DatetimeField(null=True)
    reminded_at = fields.DatetimeField(null=True)  # "due soon" told
    escalated_at = fields.DatetimeField(null=True)  # overdue: employee and manager told

    class Meta:
        table = "ojt_assignment"
        unique_together = (("tenant", "employee", "plan"),)
        indexes = (("tenant_id", "status", "due_on"), ("tenant_id", "plan_id"))
