"""Activity records (facts from phones), what they derive (module progress), and the change log
the sync feed reads."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise import fields

from backend.models.base import TenantModel, XuefenModel

if TYPE_CHECKING:
    from backend.models.catalog import Course, CourseModule
    from backend.models.organisation import Tenant
    from backend.models.people import Device, Employee


class RecordStatus(StrEnum):
    """The final outcome of an activity record."""

    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    CONFLICT = "CONFLICT"


class ActivityRecord(TenantModel):
    """An immutable fact recorded on a phone (or online): what happened, when, by whom.

    The client-generated id is the primary key and (device, device_seq) is unique: the database
    itself guarantees that a record takes effect once, whatever retries and server processes do.
    """

    id = fields.UUIDField(primary_key=True)
    employee: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, on_delete=fields.CASCADE
    )
    employee_id: int
    device: fields.ForeignKeyRelation[Device] = fields.ForeignKeyField(
        "xuefen.Device", related_name=False, on_delete=fields.CASCADE
    )
    device_id: int
    device_seq = fields.BigIntField(null=True)
    kind = fields.CharField(max_length=32)
    payload: fields.JSONField[dict[str, Any]] = fields.JSONField()
    content_hash = fields.CharField(max_length=64)
    occurred_at_device = fields.DatetimeField()
    sent_at_device = fields.DatetimeField(null=True)
    received_at = fields.DatetimeField()
    occurred_at = fields.DatetimeField()
    clock_offset_ms = fields.BigIntField(default=0)
    clock_flags = fields.CharField(max_length=64, default="")
    status = fields.CharEnumField(RecordStatus, max_length=16)
    error_code = fields.CharField(max_length=32, null=True)
    outcome: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)

    class Meta:
        table = "activity_record"
        unique_together = (("device", "device_seq"),)
        # An employee's records by when they happened: what reports and the history import's
        # "imported before with another score" check read (nothing reads by arrival time).
        indexes = (("tenant_id", "employee_id", "occurred_at"),)


class ModuleProgress(TenantModel):
    """How far an employee got in one module, derived from their records."""

    id = fields.IntField(primary_key=True)
    employee: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, on_delete=fields.CASCADE
    )
    employee_id: int
    module: fields.ForeignKeyRelation[CourseModule] = fields.ForeignKeyField(
        "xuefen.CourseModule", related_name=False, on_delete=fields.CASCADE
    )
    module_id: int
    course: fields.ForeignKeyRelation[Course] = fields.ForeignKeyField(
        "xuefen.Course", related_name=False, on_delete=fields.CASCADE
    )
    course_id: int
    completed_count = fields.IntField(default=0)
    seconds_spent = fields.BigIntField(default=0)
    last_completed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "module_progress"
        unique_together = (("employee", "module"),)


class SyncClock(XuefenModel):
    """Per-tenant feed counter. Taken as the last statement of a writing transaction, its row lock
    orders feed sequence numbers by commit (see docs/sync-protocol.md)."""

    id = fields.IntField(primary_key=True)
    tenant: fields.OneToOneRelation[Tenant] = fields.OneToOneField(
        "xuefen.Tenant", related_name=False, on_delete=fields.CASCADE
    )
    tenant_id: int
    seq = fields.BigIntField(default=0)
    purged_through = fields.BigIntField(default=0)

    class Meta:
        table = "sync_clock"


class SyncChange(XuefenModel):
    """The latest change of one synced row for one audience (0 = everyone in the tenant).

    One row per (entity, id, audience), moved forward on every change, so a pull from zero is a
    snapshot and the log never grows beyond the data plus recent tombstones.
    """

    id = fields.BigIntField(primary_key=True)
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "xuefen.Tenant", related_name=False, on_delete=fields.CASCADE
    )
    tenant_id: int
    seq = fields.BigIntField()
    entity = fields.CharField(max_length=32)
    entity_id = fields.CharField(max_length=64)
    audience = fields.IntField(default=0)
    deleted = fields.BooleanField(default=False)
    changed_at = fields.DatetimeField()

    class Meta:
        table = "sync_change"
        unique_together = (("tenant", "entity", "entity_id", "audience"),)
        indexes = (("tenant_id", "seq"),)
