"""Types of the employment administration: the inputs of hiring, editing, moving, leaving and
coming back, their payloads, and one step of an employee's history."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import strawberry

from backend import models
from schema.auth.types import ActivationCode
from schema.common import UserError
from schema.organisation.types import OrgUnit, Position, Site
from schema.people.employee import Employee
from schema.people.types import Colleague, Role

UNSET: Any = strawberry.UNSET  # "not given": the field keeps its value

AssignmentKind = models.AssignmentKind
strawberry.enum(
    AssignmentKind,
    name="AssignmentKind",
    description="What a step of an employee's history was: HIRE (joined), TRANSFER (moved, or a correction), "
    "LEAVE (left the company), REHIRE (came back).",
)

DAY_OF_COMPANY = "in the company's time zone"


@strawberry.input(description="A new employee. Everything is checked before anything is written.")
class HireEmployeeInput:
    employee_no: str = strawberry.field(
        description="Employee number (工号): follows the company's EMPLOYEE_NO data standard (`dataStandards`), "
        "stored upper-case, unique in the company."
    )
    name: str = strawberry.field(description="Full name (at most 100 characters).")
    org_unit_id: strawberry.ID = strawberry.field(description="Global ID of an open org unit.")
    hired_on: date = strawberry.field(description=f"First day of work {DAY_OF_COMPANY}; at most tomorrow.")
    phone: str | None = strawberry.field(default=None, description="Mobile phone (digits, +, spaces, hyphens).")
    email: str | None = strawberry.field(default=None, description="E-mail address.")
    position_id: strawberry.ID | None = strawberry.field(default=None, description="Global ID of a position.")
    manager_id: strawberry.ID | None = strawberry.field(
        default=None, description="Global ID of the direct manager, an active employee."
    )
    site_id: strawberry.ID | None = strawberry.field(default=None, description="Global ID of the site of work.")
    roles: list[Role] = strawberry.field(
        default_factory=list, description="Roles beyond EMPLOYEE, which every employee holds."
    )
    issue_activation_code: bool = strawberry.field(
        default=False,
        description="Also issue a one-time activation code (the new account has no password): shown once, "
        "in this answer. Or later with issueActivationCode.",
    )


@strawberry.input(description="Profile fields to change; a field left out keeps its value.")
class UpdateEmployeeInput:
    employee_id: strawberry.ID = strawberry.field(description="Global ID of the employee.")
    employee_no: str | None = strawberry.field(
        default=UNSET, description="New employee number (checked against the data standard, unique)."
    )
    name: str | None = strawberry.field(default=UNSET, description="New full name.")
    phone: str | None = strawberry.field(default=UNSET, description="New mobile phone; null clears it.")
    email: str | None = strawberry.field(default=UNSET, description="New e-mail address; null clears it.")
    locale: str | None = strawberry.field(default=UNSET, description="zh-CN or en; null clears it.")


@strawberry.input(
    description="A move from an effective day: give the parts that change (left out: unchanged). At least one "
    "must differ from now."
)
class TransferEmployeeInput:
    employee_id: strawberry.ID = strawberry.field(description="Global ID of the active employee who moves.")
    effective_on: date = strawberry.field(
        description=f"Day the move takes effect {DAY_OF_COMPANY}: not in the future (moves cannot be scheduled "
        "yet), not before the employee's latest change."
    )
    reason: str = strawberry.field(description="Why (at most 300 characters); kept in the history.")
    org_unit_id: strawberry.ID | None = strawberry.field(
        default=UNSET, description="Global ID of the new org unit (open)."
    )
    position_id: strawberry.ID | None = strawberry.field(
        default=UNSET, description="Global ID of the new position; null clears it."
    )
    manager_id: strawberry.ID | None = strawberry.field(
        default=UNSET, description="Global ID of the new manager (active, no loop); null clears it."
    )
    site_id: strawberry.ID | None = strawberry.field(
        default=UNSET, description="Global ID of the new site; null clears it."
    )
    reports_to: strawberry.ID | None = strawberry.field(
        default=None,
        description="Only with a new org unit: the manager the employee's direct reports move to. If null, they "
        "move to the employee's own manager (one level up); a report named here moves one level up.",
    )


@strawberry.input(description="An employee leaving the company.")
class LeaveEmployeeInput:
    employee_id: strawberry.ID = strawberry.field(description="Global ID of the active employee.")
    left_on: date = strawberry.field(
        description=f"Last day {DAY_OF_COMPANY}: not in the future, not before the employee's latest change."
    )
    reason: str = strawberry.field(description="Why (at most 300 characters); kept in the history.")
    reports_to: strawberry.ID | None = strawberry.field(
        default=None,
        description="The manager the employee's direct reports move to; if null, the employee's own manager.",
    )


@strawberry.input(description="A former employee coming back.")
class RehireEmployeeInput:
    employee_id: strawberry.ID = strawberry.field(description="Global ID of the employee who left.")
    effective_on: date = strawberry.field(
        description=f"First day back {DAY_OF_COMPANY}: at most tomorrow, not before the day they left."
    )
    org_unit_id: strawberry.ID = strawberry.field(description="Global ID of an open org unit.")
    position_id: strawberry.ID | None = strawberry.field(default=None, description="Global ID of a position.")
    manager_id: strawberry.ID | None = strawberry.field(default=None, description="Global ID of an active manager.")
    site_id: strawberry.ID | None = strawberry.field(default=None, description="Global ID of the site of work.")
    reason: str | None = strawberry.field(default=None, description="Why (at most 300 characters).")
    issue_activation_code: bool = strawberry.field(
        default=False, description="Also issue a one-time activation code (shown once, in this answer)."
    )


@strawberry.input(description="The roles an employee holds from now on.")
class SetEmployeeRolesInput:
    employee_id: strawberry.ID = strawberry.field(description="Global ID of the employee.")
    roles: list[Role] = strawberry.field(description="Every role to hold; EMPLOYEE is always kept.")


@strawberry.type(description="Result of hireEmployee and rehireEmployee.")
class HireEmployeePayload:
    employee: Employee | None = strawberry.field(description="The employee, unless errors.")
    activation_code: ActivationCode | None = strawberry.field(
        description="The one-time activation code, when asked for: shown here only, never again."
    )
    errors: list[UserError] = strawberry.field(description="Expected failures; empty on success.")


@strawberry.type(description="Result of updateEmployee and setEmployeeRoles.")
class EmployeePayload:
    employee: Employee | None = strawberry.field(description="The employee after the change, unless errors.")
    errors: list[UserError] = strawberry.field(description="Expected failures; empty on success.")


@strawberry.type(description="Result of transferEmployee and leaveEmployee.")
class EmployeeMovePayload:
    employee: Employee | None = strawberry.field(description="The employee after the change, unless errors.")
    reassigned_reports: list[Employee] = strawberry.field(
        description="The direct reports that moved to another manager in the same change."
    )
    errors: list[UserError] = strawberry.field(description="Expected failures; empty on success.")


@strawberry.type(
    description="One step of an employee's history: what happened, from which day, and where they worked after it."
)
class EmploymentStep:
    kind: AssignmentKind = strawberry.field(description="Hire, transfer, leave or rehire.")
    effective_on: date = strawberry.field(description=f"Day it took effect {DAY_OF_COMPANY}.")
    reason: str = strawberry.field(description="Why, as recorded (empty when none was given).")
    recorded_at: datetime = strawberry.field(description="When it was recorded (UTC).")
    _row: strawberry.Private[models.EmployeeAssignment]

    @classmethod
    def from_model(cls, row: models.EmployeeAssignment) -> EmploymentStep:
        return cls(
            kind=AssignmentKind(row.kind),
            effective_on=row.effective_on,
            reason=row.reason,
            recorded_at=row.created_at,
            _row=row,
        )

    @strawberry.field(description="Org unit after the step (for a leave: the last one).")
    async def org_unit(self, info: strawberry.Info) -> OrgUnit | None:
        row = await _load(info, "org_unit", self._row.org_unit_id)
        return OrgUnit.from_model(row) if row else None

    @strawberry.field(description="Position after the step.")
    async def position(self, info: strawberry.Info) -> Position | None:
        row = await _load(info, "position", self._row.position_id)
        return Position.from_model(row) if row else None

    @strawberry.field(description="Site after the step.")
    async def site(self, info: strawberry.Info) -> Site | None:
        row = await _load(info, "site", self._row.site_id)
        return Site.from_model(row) if row else None

    @strawberry.field(description="Direct manager after the step (none after a leave).")
    async def manager(self, info: strawberry.Info) -> Colleague | None:
        row = await _load(info, "employee", self._row.manager_id)
        return Colleague.from_model(row) if row else None

    @strawberry.field(description="The HR admin who recorded the step.")
    async def recorded_by(self, info: strawberry.Info) -> Colleague | None:
        row = await _load(info, "employee", self._row.recorded_by_id)
        return Colleague.from_model(row) if row else None


async def _load(info: strawberry.Info, loader: str, row_id: int | None) -> Any:
    """A row of the viewer's company through the request's batching loaders, or None."""
    if row_id is None:
        return None
    return await getattr(await info.context.loaders(), loader).load(row_id)
