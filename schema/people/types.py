"""Employee types."""

from __future__ import annotations

from typing import Annotated

import strawberry

from backend import models
from backend.models import Role as DomainRole
from schema.common import Node
from schema.ids import to_global_id
from schema.organisation.types import OrgUnit, Position, Site, Tenant

Role = strawberry.enum(
    DomainRole,
    name="Role",
    description="What an employee may do; one person may hold several roles.",
)


@strawberry.type(
    description="A colleague as anyone in the company may see them: name and employee number. "
    "Fetch `node(id)` for the full profile, which follows the visibility rules."
)
class Colleague:
    id: strawberry.ID = strawberry.field(description="Global ID of the employee.")
    employee_no: str = strawberry.field(description="Employee number (工号).")
    name: str = strawberry.field(description="Full name.")

    @classmethod
    def from_model(cls, row: models.Employee) -> Colleague:
        return cls(
            id=strawberry.ID(to_global_id("Employee", row.id)),
            employee_no=row.employee_no,
            name=row.name,
        )


@strawberry.type(description="A person of the company, as the viewer may see them.")
class Employee(Node):
    employee_no: str = strawberry.field(description="Employee number (工号), unique in the company.")
    name: str = strawberry.field(description="Full name.")
    is_active: bool = strawberry.field(description="False once the employee is deactivated.")
    _row: strawberry.Private[models.Employee]

    @classmethod
    def from_model(cls, row: models.Employee) -> Employee:
        return cls(
            id=strawberry.ID(to_global_id("Employee", row.id)),
            employee_no=row.employee_no,
            name=row.name,
            is_active=row.is_active,
            _row=row,
        )

    @strawberry.field(description="Roles held, sorted.")
    async def roles(self, info: strawberry.Info) -> list[Role]:
        return await (await info.context.loaders()).roles_by_employee.load(self._row.id)

    @strawberry.field(description="The company.")
    async def tenant(self, info: strawberry.Info) -> Tenant:
        await self._row.fetch_related("tenant")
        return Tenant.from_model(self._row.tenant)

    @strawberry.field(description="Department or team.")
    async def org_unit(self, info: strawberry.Info) -> OrgUnit | None:
        if self._row.org_unit_id is None:
            return None
        row = await (await info.context.loaders()).org_unit.load(self._row.org_unit_id)
        return OrgUnit.from_model(row) if row else None

    @strawberry.field(description="Site where the employee works.")
    async def site(self, info: strawberry.Info) -> Site | None:
        if self._row.site_id is None:
            return None
        row = await (await info.context.loaders()).site.load(self._row.site_id)
        return Site.from_model(row) if row else None

    @strawberry.field(description="Job position.")
    async def position(self, info: strawberry.Info) -> Position | None:
        if self._row.position_id is None:
            return None
        row = await (await info.context.loaders()).position.load(self._row.position_id)
        return Position.from_model(row) if row else None

    @strawberry.field(description="Direct manager (name and number).")
    async def manager(self, info: strawberry.Info) -> Colleague | None:
        return await _colleague(info, self._row.manager_id)

    @strawberry.field(description="Mentor (师傅) (name and number).")
    async def mentor(self, info: strawberry.Info) -> Colleague | None:
        return await _colleague(info, self._row.mentor_id)

    @strawberry.field(
        description="Courses with progress or a completion, most recent first (from the employee's activity records)."
    )
    async def learning(
        self, info: strawberry.Info
    ) -> list[Annotated[CourseLearning, strawberry.lazy("schema.progress.learning")]]:
        from schema.progress.learning import learning_of

        return await learning_of(self._row)

    @strawberry.field(
        description="Credits: balances, this period's earnings and target progress; shown only to the employee "
        "and to HR admins (null otherwise)."
    )
    async def credits(
        self, info: strawberry.Info
    ) -> Annotated[CreditSummaryType, strawberry.lazy("schema.credits.types")] | None:
        from backend.services.credits import credit_accounts
        from schema.credits.types import CreditSummaryType

        summary = await credit_accounts.summary(await info.context.require_viewer(), self._row)
        return CreditSummaryType.from_summary(summary) if summary else None

    @strawberry.field(description="Mobile phone; shown only to the employee and to HR admins.")
    async def phone(self, info: strawberry.Info) -> str | None:
        viewer = await info.context.require_viewer()
        if viewer.employee_id == self._row.id or viewer.has_role(DomainRole.HR_ADMIN):
            return self._row.phone
        return None


async def _colleague(info: strawberry.Info, employee_id: int | None) -> Colleague | None:
    """A manager or mentor: their name and number are known inside the company; the rest of their
    profile needs node(id), which applies the visibility rules."""
    if employee_id is None:
        return None
    row = await (await info.context.loaders()).employee.load(employee_id)
    return Colleague.from_model(row) if row else None


__all__ = ["Colleague", "Employee", "Role"]
