"""People as every domain shows them: ``Colleague`` (name and number, visible to anyone in the
company) and the ``Role`` enum. The full profile, ``Employee``, is in schema/people/employee.py: it
shows the employee's learning and credits, so it sits above the domains that show a Colleague."""

from __future__ import annotations

import strawberry

from backend import models
from schema.ids import to_global_id

# The domain enums are the GraphQL enums: strawberry.enum registers each one in place.
Role = models.Role
strawberry.enum(
    Role,
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


async def colleague_of(info: strawberry.Info, employee_id: int | None) -> Colleague | None:
    """The colleague with ``employee_id`` (None: none), through the request's employee loader."""
    if employee_id is None:
        return None
    row = await (await info.context.loaders()).employee.load(employee_id)
    return Colleague.from_model(row) if row else None


__all__ = ["Colleague", "Role", "colleague_of"]
