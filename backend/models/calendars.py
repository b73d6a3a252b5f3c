"""Private calendar links: an employee's sessions and due dates as an iCalendar (.ics) feed that the
phone's own calendar app subscribes to (backend/services/calendars, docs/calendars.md)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields

from backend.models.base import TenantModel

if TYPE_CHECKING:
    from backend.models.people import Employee


class CalendarFeedRevokeReason(StrEnum):
    """Why a calendar link stopped working."""

    REPLACED = "REPLACED"  # the employee made a new link
    REVOKED = "REVOKED"  # the employee turned it off
    REVOKED_BY_HR = "REVOKED_BY_HR"  # an HR admin turned it off
    LEFT = "LEFT"  # the employee left the company


class CalendarFeed(TenantModel):
    """One private calendar link of an employee.

    The link's token (256 random bits) is shown once, when it is made: only its SHA-256 is stored,
    as refresh tokens are. A link works until revoked_at, and only while the employee is active.
    Making a new link revokes the employee's previous one in the same transaction (with the
    employee's row locked), so an employee has at most one live link.
    """

    id = fields.IntField(primary_key=True)
    employee: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, on_delete=fields.CASCADE
    )
    employee_id: int
    token_hash = fields.CharField(max_length=64, unique=True)
    revoked_at = fields.DatetimeField(null=True)
    revoke_reason = fields.CharEnumField(CalendarFeedRevokeReason, max_length=16, null=True)
    # Who turned it off (the employee, an HR admin; nobody for a link replaced or a leaver's).
    revoked_by: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    revoked_by_id: int | None

    class Meta:
        table = "calendar_feed"
        # One employee's links, newest first (myCalendarFeed, revoking the live one).
        indexes = (("tenant_id", "employee_id", "id"),)
