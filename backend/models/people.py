"""Employees, their roles and devices, and the skill matrix."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.migrations.constraints import CheckConstraint

from backend.models.base import TenantModel

if TYPE_CHECKING:
    from backend.models.catalog import CourseModule
    from backend.models.organisation import OrgUnit, Position, Site


class Role(StrEnum):
    """What an employee may do. One person often holds several (a mentor is also an employee)."""

    EMPLOYEE = "EMPLOYEE"
    MENTOR = "MENTOR"
    INSTRUCTOR = "INSTRUCTOR"
    MANAGER = "MANAGER"
    HR_ADMIN = "HR_ADMIN"


class Employee(TenantModel):
    """A person of the tenant. employee_no (工号) is unique per tenant and used at login."""

    id = fields.IntField(primary_key=True)
    employee_no = fields.CharField(max_length=32)
    name = fields.CharField(max_length=100)
    # Personal data: never logged, only shown to the person and to HR.
    phone = fields.CharField(max_length=32, null=True)
    email = fields.CharField(max_length=200, null=True)
    password_hash = fields.CharField(max_length=256)
    org_unit: fields.ForeignKeyNullableRelation[OrgUnit] = fields.ForeignKeyField(
        "xuefen.OrgUnit", related_name="employees", null=True, on_delete=fields.SET_NULL
    )
    org_unit_id: int | None
    site: fields.ForeignKeyNullableRelation[Site] = fields.ForeignKeyField(
        "xuefen.Site", related_name="employees", null=True, on_delete=fields.SET_NULL
    )
    site_id: int | None
    position: fields.ForeignKeyNullableRelation[Position] = fields.ForeignKeyField(
        "xuefen.Position", related_name="employees", null=True, on_delete=fields.SET_NULL
    )
    position_id: int | None
    manager: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name="reports", null=True, on_delete=fields.SET_NULL
    )
    manager_id: int | None
    mentor: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name="mentees", null=True, on_delete=fields.SET_NULL
    )
    mentor_id: int | None
    hired_on = fields.DateField(null=True)
    # Set when the employee leaves (is_active then false); the day they left, in the company's time.
    left_on = fields.DateField(null=True)
    is_active = fields.BooleanField(default=True)
    locale = fields.CharField(max_length=16, null=True)

    class Meta:
        table = "employee"
        unique_together = (("tenant", "employee_no"),)
        # A manager's team in employee-number order (team progress, the directory).
        indexes = (("tenant_id", "manager_id", "employee_no"),)
        # Login matches employee numbers case-insensitively by storing them upper-case.
        constraints = (CheckConstraint(check="employee_no = UPPER(employee_no)", name="employee_no_upper"),)

    def __str__(self) -> str:  # never the phone or e-mail
        return f"Employee#{self.id}"


class AssignmentKind(StrEnum):
    """Why an employee's place changed: joined, moved (or was corrected), left, came back."""

    HIRE = "HIRE"
    TRANSFER = "TRANSFER"
    LEAVE = "LEAVE"
    REHIRE = "REHIRE"


class EmployeeAssignment(TenantModel):
    """One step of an employee's history: from effective_on, where they worked (org unit,
    position, manager, site: the state after the step). Append-only; the employee row holds the
    latest step, so the history of moves is these rows in (effective_on, id) order."""

    id = fields.IntField(primary_key=True)
    employee: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name="assignments", on_delete=fields.CASCADE
    )
    employee_id: int
    kind = fields.CharEnumField(AssignmentKind, max_length=16)
    effective_on = fields.DateField()
    org_unit: fields.ForeignKeyNullableRelation[OrgUnit] = fields.ForeignKeyField(
        "xuefen.OrgUnit", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    org_unit_id: int | None
    position: fields.ForeignKeyNullableRelation[Position] = fields.ForeignKeyField(
        "xuefen.Position", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    position_id: int | None
    manager: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    manager_id: int | None
    site: fields.ForeignKeyNullableRelation[Site] = fields.ForeignKeyField(
        "xuefen.Site", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    site_id: int | None
    reason = fields.CharField(max_length=300, default="")
    recorded_by: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    recorded_by_id: int | None

    class Meta:
        table = "employee_assignment"
        indexes = (("tenant_id", "employee_id", "effective_on"),)


class EmployeeRole(TenantModel):
    """One role held by one employee (a row per role, so "all mentors" is an indexed query)."""

    id = fields.IntField(primary_key=True)
    employee: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name="role_rows", on_delete=fields.CASCADE
    )
    employee_id: int
    role = fields.CharEnumField(Role, max_length=16)

    class Meta:
        table = "employee_role"
        unique_together = (("employee", "role"),)


class Device(TenantModel):
    """A phone or tablet an employee signed in from. device_uid is generated by the app."""

    id = fields.IntField(primary_key=True)
    employee: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name="devices", on_delete=fields.CASCADE
    )
    employee_id: int
    device_uid = fields.CharField(max_length=128)
    first_seen_at = fields.DatetimeField(auto_now_add=True)
    last_seen_at = fields.DatetimeField(null=True)
    # Highest per-device record sequence applied; written in the same transaction as the records.
    applied_seq = fields.BigIntField(default=0)

    class Meta:
        table = "device"
        unique_together = (("tenant", "employee", "device_uid"),)


class EmployeeSettings(TenantModel):
    """App settings of an employee: a mutable thing, written only on the version it was based on."""

    id = fields.IntField(primary_key=True)
    employee: fields.OneToOneRelation[Employee] = fields.OneToOneField(
        "xuefen.Employee", related_name="settings", on_delete=fields.CASCADE
    )
    employee_id: int
    locale = fields.CharField(max_length=16, default="zh-CN")
    version = fields.IntField(default=0)

    class Meta:
        table = "employee_settings"


class Skill(TenantModel):
    """A skill in the tenant's skill matrix (e.g. 客户需求分析)."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=64)
    name = fields.CharField(max_length=200)
    category = fields.CharField(max_length=64, default="")

    class Meta:
        table = "skill"
        unique_together = (("tenant", "code"),)


class EmployeeSkill(TenantModel):
    """An employee's level in one skill, 0–100."""

    id = fields.IntField(primary_key=True)
    employee: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name="skill_levels", on_delete=fields.CASCADE
    )
    employee_id: int
    skill: fields.ForeignKeyRelation[Skill] = fields.ForeignKeyField(
        "xuefen.Skill", related_name="holders", on_delete=fields.CASCADE
    )
    skill_id: int
    level = fields.SmallIntField()

    class Meta:
        table = "employee_skill"
        unique_together = (("employee", "skill"),)
        constraints = (CheckConstraint(check="level >= 0 AND level <= 100", name="employee_skill_level_range"),)


class PositionSkill(TenantModel):
    """The level (0–100) a position needs in a skill: what recommendations close gaps towards."""

    id = fields.IntField(primary_key=True)
    position: fields.ForeignKeyRelation[Position] = fields.ForeignKeyField(
        "xuefen.Position", related_name="skills", on_delete=fields.CASCADE
    )
    position_id: int
    skill: fields.ForeignKeyRelation[Skill] = fields.ForeignKeyField(
        "xuefen.Skill", related_name="positions", on_delete=fields.CASCADE
    )
    skill_id: int
    required_level = fields.SmallIntField()

    class Meta:
        table = "position_skill"
        unique_together = (("position", "skill"),)
        constraints = (
            CheckConstraint(check="required_level >= 0 AND required_level <= 100", name="position_skill_level_range"),
        )


class SkillEvidence(TenantModel):
    """Why a skill level changed: which record (a quiz attempt or a mentor evaluation), which
    score, and the level before and after. (employee, skill, source) is unique."""

    id = fields.IntField(primary_key=True)
    employee: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name="skill_evidence", on_delete=fields.CASCADE
    )
    employee_id: int
    skill: fields.ForeignKeyRelation[Skill] = fields.ForeignKeyField(
        "xuefen.Skill", related_name=False, on_delete=fields.CASCADE
    )
    skill_id: int
    source_kind = fields.CharField(max_length=32)
    source_id = fields.CharField(max_length=64)
    record_id = fields.UUIDField(null=True)
    module: fields.ForeignKeyNullableRelation[CourseModule] = fields.ForeignKeyField(
        "xuefen.CourseModule", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    module_id: int | None
    score_percent = fields.SmallIntField()
    level_before = fields.SmallIntField()
    level_after = fields.SmallIntField()
    occurred_at = fields.DatetimeField()

    class Meta:
        table = "skill_evidence"
        unique_together = (("employee", "skill", "source_kind", "source_id"),)
        indexes = (("tenant_id", "employee_id", "skill_id"),)
        constraints = (
            CheckConstraint(
                check="score_percent >= 0 AND score_percent <= 100 AND level_before >= 0 AND level_before <= 100 AND level_after >= 0 AND level_after <= 100",
                name="skill_evidence_ranges",
            ),
        )
