"""Employment administration (HR admins): hireEmployee, updateEmployee, transferEmployee,
leaveEmployee, rehireEmployee, setEmployeeRoles, and employeeHistory (HR admins and the employee's
manager). Thin: IDs are read inside each mutation's work (a bad one is an error of the payload),
the rules are backend.services.people.employment and employment_moves."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from backend.services.people import employment, employment_moves
from backend.services.viewer import Viewer
from schema.auth.types import ActivationCode
from schema.common import UserError
from schema.ids import expect_global_id
from schema.payloads import mutate
from schema.people.employee import Employee
from schema.people.employment_types import (
    EmployeeMovePayload,
    EmployeePayload,
    EmploymentStep,
    HireEmployeeInput,
    HireEmployeePayload,
    LeaveEmployeeInput,
    RehireEmployeeInput,
    SetEmployeeRolesInput,
    TransferEmployeeInput,
    UpdateEmployeeInput,
)

# Input fields naming a row, with the type of global ID each takes.
_ID_TYPES = {
    "orgUnitId": "OrgUnit",
    "positionId": "Position",
    "managerId": "Employee",
    "siteId": "Site",
    "reportsTo": "Employee",
}


def _id(value: strawberry.ID | None, field: str) -> int | None:
    """The row id of an optional global ID input field (VALIDATION naming it when malformed)."""
    return None if value is None else expect_global_id(value, _ID_TYPES.get(field, "Employee"), field)


def _given(values: dict[str, Any]) -> dict[str, Any]:
    """The fields a client gave (UNSET left out; null kept: it clears)."""
    return {name: value for name, value in values.items() if value is not strawberry.UNSET}


def _hired(hired: employment.Hired | None, errors: list[UserError]) -> HireEmployeePayload:
    if hired is None:
        return HireEmployeePayload(employee=None, activation_code=None, errors=errors)
    code = hired.activation
    return HireEmployeePayload(
        employee=Employee.from_model(hired.employee),
        activation_code=ActivationCode(
            code=code.code, expires_at=code.expires_at, employee=Employee.from_model(hired.employee)
        )
        if code
        else None,
        errors=errors,
    )


def _employee(row: Any, errors: list[UserError]) -> EmployeePayload:
    return EmployeePayload(employee=Employee.from_model(row) if row else None, errors=errors)


def _moved(moved: employment_moves.Moved | None, errors: list[UserError]) -> EmployeeMovePayload:
    if moved is None:
        return EmployeeMovePayload(employee=None, reassigned_reports=[], errors=errors)
    return EmployeeMovePayload(
        employee=Employee.from_model(moved.employee),
        reassigned_reports=[Employee.from_model(row) for row in moved.reassigned],
        errors=errors,
    )


@strawberry.type
class EmploymentQueries:
    @strawberry.field(
        description="An employee's history (hire, transfers, leaving, return) in date order: HR admins for anyone "
        "of the company, managers for their direct reports; FORBIDDEN for anyone else of the company."
    )
    async def employee_history(
        self,
        info: strawberry.Info,
        employee_id: Annotated[strawberry.ID, strawberry.argument(description="Global ID of the employee.")],
    ) -> list[EmploymentStep]:
        viewer = await info.context.require_viewer()
        steps = await employment_moves.employee_history(viewer, expect_global_id(employee_id, "Employee", "employeeId"))
        return [EmploymentStep.from_model(step) for step in steps]


@strawberry.type
class EmploymentMutations:
    @strawberry.mutation(
        description="Hire an employee (HR admins): no password; optionally a one-time activation code, shown once. "
        "Writes the HIRE step of the history. Audited."
    )
    async def hire_employee(
        self, info: strawberry.Info, input: Annotated[HireEmployeeInput, strawberry.argument(description="Who.")]
    ) -> HireEmployeePayload:
        async def work(viewer: Viewer) -> employment.Hired:
            hire = employment.NewHire(
                employee_no=input.employee_no,
                name=input.name,
                org_unit_id=expect_global_id(input.org_unit_id, "OrgUnit", "orgUnitId"),
                hired_on=input.hired_on,
                roles=input.roles,
                phone=input.phone,
                email=input.email,
                position_id=_id(input.position_id, "positionId"),
                manager_id=_id(input.manager_id, "managerId"),
                site_id=_id(input.site_id, "siteId"),
            )
            return await employment.hire_employee(info.context.settings, viewer, hire, input.issue_activation_code)

        return await mutate(info, work, _hired)

    @strawberry.mutation(
        description="Change an employee's name, number, phone, e-mail or locale (HR admins). Org unit, position, "
        "manager and site change with transferEmployee. Audited."
    )
    async def update_employee(
        self,
        info: strawberry.Info,
        input: Annotated[UpdateEmployeeInput, strawberry.argument(description="The fields to change.")],
    ) -> EmployeePayload:
        async def work(viewer: Viewer) -> Any:
            employee_id = expect_global_id(input.employee_id, "Employee", "employeeId")
            given = _given(
                {
                    "employeeNo": input.employee_no,
                    "name": input.name,
                    "phone": input.phone,
                    "email": input.email,
                    "locale": input.locale,
                }
            )
            return await employment.update_employee(viewer, employee_id, given)

        return await mutate(info, work, _employee)

    @strawberry.mutation(
        description="Move an employee to another org unit, position, manager or site from a day (HR admins). A "
        "manager who changes org unit hands the direct reports over in the same change. Audited; kept in "
        "the history."
    )
    async def transfer_employee(
        self,
        info: strawberry.Info,
        input: Annotated[TransferEmployeeInput, strawberry.argument(description="The move.")],
    ) -> EmployeeMovePayload:
        async def work(viewer: Viewer) -> employment_moves.Moved:
            employee_id = expect_global_id(input.employee_id, "Employee", "employeeId")
            given = _given(
                {
                    "orgUnitId": input.org_unit_id,
                    "positionId": input.position_id,
                    "managerId": input.manager_id,
                    "siteId": input.site_id,
                }
            )
            moves = {name: _id(value, name) for name, value in given.items()}
            reports_to = _id(input.reports_to, "reportsTo")
            return await employment_moves.transfer_employee(
                viewer, employee_id, input.effective_on, moves, input.reason, reports_to
            )

        return await mutate(info, work, _moved)

    @strawberry.mutation(
        description="An employee leaves (HR admins): signed out everywhere at once, mentorships ended, direct "
        "reports handed over. The company's last active HR admin cannot leave. Audited; kept in the history."
    )
    async def leave_employee(
        self,
        info: strawberry.Info,
        input: Annotated[LeaveEmployeeInput, strawberry.argument(description="Who and when.")],
    ) -> EmployeeMovePayload:
        async def work(viewer: Viewer) -> employment_moves.Moved:
            employee_id = expect_global_id(input.employee_id, "Employee", "employeeId")
            reports_to = _id(input.reports_to, "reportsTo")
            return await employment_moves.leave_employee(viewer, employee_id, input.left_on, input.reason, reports_to)

        return await mutate(info, work, _moved)

    @strawberry.mutation(
        description="Take a former employee back (HR admins), optionally with a one-time activation code. "
        "Audited; kept in the history."
    )
    async def rehire_employee(
        self,
        info: strawberry.Info,
        input: Annotated[RehireEmployeeInput, strawberry.argument(description="Who, when and where.")],
    ) -> HireEmployeePayload:
        async def work(viewer: Viewer) -> employment.Hired:
            employee_id = expect_global_id(input.employee_id, "Employee", "employeeId")
            back = employment_moves.Return(
                effective_on=input.effective_on,
                org_unit_id=expect_global_id(input.org_unit_id, "OrgUnit", "orgUnitId"),
                position_id=_id(input.position_id, "positionId"),
                manager_id=_id(input.manager_id, "managerId"),
                site_id=_id(input.site_id, "siteId"),
                reason=input.reason or "",
            )
            return await employment_moves.rehire_employee(
                info.context.settings, viewer, employee_id, back, input.issue_activation_code
            )

        return await mutate(info, work, _hired)

    @strawberry.mutation(
        description="Set the roles an employee holds (HR admins); EMPLOYEE is always kept, and the company's last "
        "active HR admin keeps HR_ADMIN. Takes effect on their next request. Audited."
    )
    async def set_employee_roles(
        self,
        info: strawberry.Info,
        input: Annotated[SetEmployeeRolesInput, strawberry.argument(description="Who and which roles.")],
    ) -> EmployeePayload:
        async def work(viewer: Viewer) -> Any:
            employee_id = expect_global_id(input.employee_id, "Employee", "employeeId")
            return await employment.set_employee_roles(viewer, employee_id, input.roles)

        return await mutate(info, work, _employee)
