"""``Employee``: a person's full profile as the viewer may see them (``me``, ``node``, the signed-in
viewer of login). It shows the employee's learning and credits, so it builds on those domains; they
in turn show people as a ``Colleague`` (schema/people/types.py), which keeps the imports one-way."""

from __future__ import annotations

import strawberry

from backend import models
from schema.catalog.types import Course
from schema.common import Node
from schema.credits.types import CreditSummaryType
from schema.ids import to_global_id
from schema.organisation.types import OrgUnit, Position, Site, Tenant
from schema.people.types import Colleague, Role
from schema.progress.types import CourseLearning, course_progress


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
        return Tenant.from_model(await (await info.context.loaders()).tenant.load(self._row.tenant_id))

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
    async def learning(self, info: strawberry.Info) -> list[CourseLearning]:
        return [
            CourseLearning(course=Course.from_model(course), progress=course_progress(modules, done, completion))
            for course, modules, done, completion in await (await info.context.loaders()).learning.load(self._row.id)
        ]

    @strawberry.field(
        description="Credits: balances, this period's earnings and target progress; shown only to the employee "
        "and to HR admins (null otherwise)."
    )
    async def credits(self, info: strawberry.Info) -> CreditSummaryType | None:
        summary = await (await info.context.loaders()).credit_summary.load(self._row)
        return CreditSummaryType.from_summary(summary) if summary else None

    @strawberry.field(description="Mobile phone; shown only to the employee and to HR admins.")
    async def phone(self, info: strawberry.Info) -> str | None:
        viewer = await info.context.require_viewer()
        if viewer.employee_id == self._row.id or viewer.has_role(Role.HR_ADMIN):
            return self._row.phone
        return None


async def _colleague(info: strawberry.Info, employee_id: int | None) -> Colleague | None:
    """A manager or mentor: their name and number are known inside the company; the rest of their
    profile needs node(id), which applies the visibility rules."""
    if employee_id is None:
        return None
    row = await (await info.context.loaders()).employee.load(employee_id)
    return Colleague.from_model(row) if row else None
