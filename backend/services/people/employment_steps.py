"""What every employment write shares (services.people.employment and employment_moves): the
transaction and its company lock, the checks of a place of work and of the manager chain, history
steps, the audited fields, and the feed rows a change of a person marks.

Every employment write is one transaction that first locks the company row (``lock_people``), so
manager-chain cycles, "the last HR admin" and employee numbers are judged on what the others
committed. It marks the person's PROFILE (audience: them) and their TEAM_MEMBER row for their
manager before and after (a manager's phone holds their direct reports; mobile_sync/feed_team.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.backends.base.client import BaseDBAsyncClient

from backend.errors import DomainError, ErrorCode
from backend.models import (
    AssignmentKind,
    Employee,
    EmployeeAssignment,
    EmployeeRole,
    EmployeeSkill,
    Position,
    Role,
    Site,
    Tenant,
)
from backend.services.audit import audit
from backend.services.feed import ChangeSet, Entity
from backend.services.people import org_units
from backend.services.validation import invalid
from backend.services.viewer import Viewer

REASON_COLUMN = 300  # EmployeeAssignment.reason


@dataclass
class EmploymentWrite:
    """One employment transaction: who writes, on which connection, the company (locked), the
    feed rows changed so far, and when."""

    viewer: Viewer
    connection: BaseDBAsyncClient
    tenant: Tenant
    changes: ChangeSet
    now: datetime

    @property
    def today(self) -> date:
        return self.now.astimezone(ZoneInfo(self.tenant.time_zone)).date()

    async def audit(self, action: str, employee_id: int, details: dict[str, Any]) -> None:
        await audit(self.connection, self.viewer, self.tenant.id, action, "Employee", employee_id, details)


async def lock_people(connection: BaseDBAsyncClient, tenant_id: int) -> Tenant:
    """The company row, locked until the transaction ends: employment writes of one company run
    one at a time (NO KEY: rows that only point at the company are written meanwhile)."""
    return await Tenant.filter(id=tenant_id).select_for_update(no_key=True).using_db(connection).get()


async def find_employee(write: EmploymentWrite, employee_id: int, field: str = "employeeId") -> Employee:
    """An employee of the company, locked; NOT_FOUND naming ``field`` (another company's too)."""
    query = Employee.filter(tenant_id=write.tenant.id, id=employee_id).select_for_update()
    employee = await query.using_db(write.connection).first()
    if employee is None:
        raise DomainError(ErrorCode.NOT_FOUND, field=field)
    return employee


async def active_employee(write: EmploymentWrite, employee_id: int, field: str) -> Employee:
    """An active employee of the company (a manager, a new manager of reports)."""
    employee = await find_employee(write, employee_id, field)
    if not employee.is_active:
        raise invalid(field, "reason.inactive_employee")
    return employee


async def check_place(write: EmploymentWrite, place: Mapping[str, int | None]) -> None:
    """The org unit (open), position, site and manager (active) a person is put in, as given in
    ``place`` (GraphQL field names: orgUnitId, positionId, siteId, managerId; None clears)."""
    tenant_id, connection = write.tenant.id, write.connection
    unit_id, manager_id = place.get("orgUnitId"), place.get("managerId")
    if unit_id is not None:
        await org_units.open_org_unit(connection, tenant_id, unit_id, "orgUnitId")
    for field, model in (("positionId", Position), ("siteId", Site)):
        row_id = place.get(field)
        if row_id is not None and not await model.filter(tenant_id=tenant_id, id=row_id).using_db(connection).exists():
            raise DomainError(ErrorCode.NOT_FOUND, field=field)
    if manager_id is not None:
        await active_employee(write, manager_id, "managerId")


async def check_chain(write: EmploymentWrite, planned: Mapping[int, int | None], field: str = "managerId") -> None:
    """WOULD_CREATE_CYCLE when, with the managers ``planned`` (employee id → manager id after the
    write), anyone would manage themself directly or through others. Chains are short: one read
    per step above the planned people."""
    known: dict[int, int | None] = dict(planned)
    for start in planned:
        seen, current = {start}, known[start]
        while current is not None:
            if current in seen:
                raise DomainError(ErrorCode.WOULD_CREATE_CYCLE, field=field, what_key="subject.manager_chain")
            seen.add(current)
            if current not in known:
                above = await Employee.filter(tenant_id=write.tenant.id, id=current).using_db(write.connection).first()
                known[current] = above.manager_id if above else None
            current = known[current]


async def latest_step(write: EmploymentWrite, employee: Employee) -> date | None:
    """The day of the employee's latest history step (or their hire day without history): a new
    step may not be dated before it."""
    query = EmployeeAssignment.filter(tenant_id=write.tenant.id, employee_id=employee.id).using_db(write.connection)
    step = await query.order_by("-effective_on", "-id").first()
    return step.effective_on if step else employee.hired_on


async def record_step(
    write: EmploymentWrite, employee: Employee, kind: AssignmentKind, effective_on: date, reason: str
) -> EmployeeAssignment:
    """Append a history step holding where ``employee`` works after it."""
    return await EmployeeAssignment.create(
        tenant_id=write.tenant.id,
        employee_id=employee.id,
        kind=kind,
        effective_on=effective_on,
        org_unit_id=employee.org_unit_id,
        position_id=employee.position_id,
        manager_id=employee.manager_id,
        site_id=employee.site_id,
        reason=reason[:REASON_COLUMN],
        recorded_by_id=write.viewer.employee_id,
        using_db=write.connection,
    )


def state_of(employee: Employee) -> dict[str, Any]:
    """The audited fields of an employee (HR sees them all; never a password hash)."""
    return {
        "employeeNo": employee.employee_no,
        "name": employee.name,
        "phone": employee.phone,
        "email": employee.email,
        "locale": employee.locale,
        "orgUnitId": employee.org_unit_id,
        "positionId": employee.position_id,
        "managerId": employee.manager_id,
        "siteId": employee.site_id,
        "hiredOn": employee.hired_on.isoformat() if employee.hired_on else None,
        "leftOn": employee.left_on.isoformat() if employee.left_on else None,
        "isActive": employee.is_active,
    }


def touch_person(changes: ChangeSet, employee: Employee, *managers: int | None) -> None:
    """Mark the employee's own PROFILE row and their TEAM_MEMBER row for each of ``managers``
    (the one before and the one after: the feed sends the latter the row and the former, who no
    longer manages them, a tombstone)."""
    changes.touch(Entity.PROFILE, employee.id, audience=employee.id)
    for manager_id in {manager for manager in managers if manager is not None}:
        changes.touch(Entity.TEAM_MEMBER, employee.id, audience=manager_id)


async def touch_new_place(write: EmploymentWrite, employee: Employee, position_changed: bool = True) -> None:
    """Mark the rows of the employee's phone that depend on where they work: the quizzes of courses
    with eligibility rules (who may take them changed: an entry or a tombstone) and, when the
    position changed, their skill levels (each shows what the position requires)."""
    tenant_id, connection = write.tenant.id, write.connection
    await org_units.touch_ruled_quizzes(connection, write.changes, tenant_id, audience=employee.id)
    if position_changed:
        held = EmployeeSkill.filter(tenant_id=tenant_id, employee_id=employee.id).using_db(connection)
        for skill_id in await held.values_list("skill_id", flat=True):
            write.changes.touch(Entity.SKILL_LEVEL, skill_id, audience=employee.id)


async def roles_of(write: EmploymentWrite, employee_id: int) -> list[Role]:
    rows = EmployeeRole.filter(tenant_id=write.tenant.id, employee_id=employee_id).using_db(write.connection)
    return sorted(Role(row.role) for row in await rows)


async def require_other_hr_admin(write: EmploymentWrite, employee_id: int, field: str) -> None:
    """STILL_IN_USE unless an active HR admin other than ``employee_id`` remains."""
    others = EmployeeRole.filter(
        tenant_id=write.tenant.id, role=Role.HR_ADMIN, employee__is_active=True, employee_id__not=employee_id
    )
    if not await others.using_db(write.connection).exists():
        raise DomainError(ErrorCode.STILL_IN_USE, field=field, reason_key="reason.last_hr_admin")
