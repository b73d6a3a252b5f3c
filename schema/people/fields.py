"""People fields: ``me``, the signed-in employee, and ``employees``, the directory HR admins (the
whole company) and managers (their direct reports) page through. (Anyone else's profile is
``node(id)``, which applies the visibility rules of backend.services.people.directory.)"""

from __future__ import annotations

from typing import Annotated

import strawberry

from backend.services.people import organisation
from schema.connection import Connection
from schema.ids import expect_global_id
from schema.people.employee import Employee

EmployeeStatus = organisation.EmployeeStatus
strawberry.enum(
    EmployeeStatus,
    name="EmployeeStatus",
    description="ACTIVE: works here and may sign in; INACTIVE: has left (deactivated).",
)


@strawberry.input(description="Conditions narrowing the employee directory; every one given must hold.")
class EmployeeFilter:
    search: str | None = strawberry.field(
        default=None,
        description="Words (up to 100 characters) that must each appear in the name or the employee number, "
        "ignoring case, e.g. 李 or E001.",
    )
    org_unit_id: strawberry.ID | None = strawberry.field(
        default=None, description="Global ID of an org unit: its employees and those of every unit below it."
    )
    status: EmployeeStatus | None = strawberry.field(default=None, description="ACTIVE or INACTIVE; both if null.")
    position_id: strawberry.ID | None = strawberry.field(default=None, description="Global ID of a position.")


def _employee_filter(given: EmployeeFilter | None) -> organisation.EmployeeFilter:
    if given is None:
        return organisation.EmployeeFilter()
    return organisation.EmployeeFilter(
        search=given.search,
        org_unit_id=expect_global_id(given.org_unit_id, "OrgUnit", "filter.orgUnitId")
        if given.org_unit_id is not None
        else None,
        status=given.status,
        position_id=expect_global_id(given.position_id, "Position", "filter.positionId")
        if given.position_id is not None
        else None,
    )


@strawberry.type
class PeopleQueries:
    @strawberry.field(description="The signed-in employee: profile, roles, org unit, site, position.")
    async def me(self, info: strawberry.Info) -> Employee:
        viewer = await info.context.require_viewer()
        return Employee.from_model(viewer.employee)

    @strawberry.field(
        description="The employee directory in employee-number order, as a Relay connection: HR admins see "
        "everyone in the company, managers their direct reports; anyone else FORBIDDEN. An org unit or "
        "position of the filter that is not the company's is NOT_FOUND. Each profile shows what the viewer "
        "may see of it (the phone only to HR admins)."
    )
    async def employees(
        self,
        info: strawberry.Info,
        first: Annotated[int, strawberry.argument(description="Page size, 0 to the configured maximum (100).")] = 50,
        after: Annotated[str | None, strawberry.argument(description="endCursor of the previous page.")] = None,
        filter: Annotated[
            EmployeeFilter | None, strawberry.argument(description="Conditions to narrow the list.")
        ] = None,
    ) -> Connection[Employee]:
        viewer = await info.context.require_viewer()
        page = await organisation.employees(
            viewer, first, after, info.context.settings.max_page_size, _employee_filter(filter)
        )
        return Connection[Employee].from_page(page, Employee.from_model)
