"""Training sessions, enrollments, attendance, and the audit log of HR-visible changes."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise import fields

from backend.models.base import TenantModel, XuefenModel

if TYPE_CHECKING:
    from backend.models.catalog import Course, CourseModule
    from backend.models.organisation import Site, Tenant
    from backend.models.people import Device, Employee


class SessionStatus(StrEnum):
    """A session's lifecycle; check-in needs OPEN or SCHEDULED within its window."""

    SCHEDULED = "SCHEDULED"
    OPEN = "OPEN"
    CLOSED = "CLOSED"
    CANCELLED = "CANCELLED"


class TrainingSession(TenantModel):
    """One occurrence of training: a class at HQ, a practice round at a store, a drill at a plant.

    Times are UTC; they are shown in the site's time zone. The secret keys the rotating check-in
    codes and never leaves the server except to the session's instructor.
    """

    id = fields.IntField(primary_key=True)
    course: fields.ForeignKeyRelation[Course] = fields.ForeignKeyField(
        "xuefen.Course", related_name="sessions", on_delete=fields.CASCADE
    )
    course_id: int
    module: fields.ForeignKeyNullableRelation[CourseModule] = fields.ForeignKeyField(
        "xuefen.CourseModule", related_name="sessions", null=True, on_delete=fields.SET_NULL
    )
    module_id: int | None
    title = fields.CharField(max_length=200)
    instructor: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name="instructed_sessions", on_delete=fields.RESTRICT
    )
    instructor_id: int
    site: fields.ForeignKeyRelation[Site] = fields.ForeignKeyField(
        "xuefen.Site", related_name="sessions", on_delete=fields.RESTRICT
    )
    site_id: int
    location = fields.CharField(max_length=200, default="")
    starts_at = fields.DatetimeField()
    ends_at = fields.DatetimeField()
    capacity = fields.IntField()
    seats_taken = fields.IntField(default=0)
    checkin_opens_minutes = fields.IntField(default=30)
    late_after_minutes = fields.IntField(default=10)
    status = fields.CharEnumField(SessionStatus, max_length=16, default=SessionStatus.SCHEDULED)
    allows_walk_in = fields.BooleanField(default=False)
    # Wrapped under the key ring (``w1.<kid>.…``, backend/keyring.py); 64 hex digits from before
    # wrapping until `xuefen keys rewrap`. Read only through qr.session_secret.
    secret = fields.CharField(max_length=128)
    rotation_seconds = fields.IntField(default=15)

    class Meta:
        table = "training_session"
        indexes = (("tenant_id", "starts_at"),)


class EnrollmentStatus(StrEnum):
    """Where an enrollment stands. Only ENROLLED and PENDING hold a seat."""

    PENDING = "PENDING"
    ENROLLED = "ENROLLED"
    WAITLISTED = "WAITLISTED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"


class Enrollment(TenantModel):
    """An employee's place in a session (one row per employee and session)."""

    id = fields.IntField(primary_key=True)
    session: fields.ForeignKeyRelation[TrainingSession] = fields.ForeignKeyField(
        "xuefen.TrainingSession", related_name="enrollments", on_delete=fields.CASCADE
    )
    session_id: int
    employee: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, on_delete=fields.CASCADE
    )
    employee_id: int
    status = fields.CharEnumField(EnrollmentStatus, max_length=16)
    waitlisted_at = fields.DatetimeField(null=True)
    decided_by: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    decided_by_id: int | None
    decided_at = fields.DatetimeField(null=True)
    reason = fields.CharField(max_length=300, default="")
    version = fields.IntField(default=1)

    class Meta:
        table = "enrollment"
        unique_together = (("session", "employee"),)


class AttendanceStatus(StrEnum):
    PRESENT = "PRESENT"
    LATE = "LATE"
    ABSENT = "ABSENT"
    EXCUSED = "EXCUSED"


class Attendance(TenantModel):
    """One attendance per employee and session (a second check-in changes nothing)."""

    id = fields.IntField(primary_key=True)
    session: fields.ForeignKeyRelation[TrainingSession] = fields.ForeignKeyField(
        "xuefen.TrainingSession", related_name="attendances", on_delete=fields.CASCADE
    )
    session_id: int
    employee: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, on_delete=fields.CASCADE
    )
    employee_id: int
    status = fields.CharEnumField(AttendanceStatus, max_length=16)
    checked_in_at = fields.DatetimeField(null=True)
    checked_out_at = fields.DatetimeField(null=True)
    record_id = fields.UUIDField(null=True)
    device: fields.ForeignKeyNullableRelation[Device] = fields.ForeignKeyField(
        "xuefen.Device", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    device_id: int | None
    clock_offset_ms = fields.BigIntField(default=0)
    risk_flags = fields.CharField(max_length=200, default="")
    latitude = fields.FloatField(null=True)
    longitude = fields.FloatField(null=True)
    manual = fields.BooleanField(default=False)
    marked_by: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    marked_by_id: int | None
    reason = fields.CharField(max_length=300, default="")
    # Which code was scanned (its time step), and when the scan reached the server: one code used
    # by many people, or a scan that arrived long after it claims to have happened, shows here.
    code_step = fields.BigIntField(null=True)
    received_at = fields.DatetimeField(null=True)
    # Why the attendance is held for the instructor or HR instead of counted ("" when counted).
    hold_reason = fields.CharField(max_length=32, default="")

    class Meta:
        table = "attendance"
        unique_together = (("session", "employee"),)
        # One person's attendances: the growth profile's timeline and the team view.
        indexes = (("tenant_id", "employee_id"),)


class AuditEntry(XuefenModel):
    """An HR-visible change: who did what to which row, when, and why. Append-only."""

    id = fields.BigIntField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "xuefen.Tenant", related_name=False, on_delete=fields.CASCADE
    )
    tenant_id: int
    actor: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    actor_id: int | None
    action = fields.CharField(max_length=64)
    entity = fields.CharField(max_length=32)
    entity_id = fields.CharField(max_length=64)
    details: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "audit_entry"
        # One row's history; the audit log in time order, all of it or one actor's.
        indexes = (("tenant_id", "entity", "entity_id"), ("tenant_id", "at", "id"), ("tenant_id", "actor_id", "at"))
