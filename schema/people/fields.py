"""People fields: ``me``, the signed-in employee. (Anyone else's profile is ``node(id)``, which
applies the visibility rules of backend.services.people.directory.)"""

from __future__ import annotations

import strawberry

from schema.people.employee import Employee


@strawberry.type
class PeopleQueries:
    @strawberry.field(description="The signed-in employee: profile, roles, org unit, site, position.")
    async def me(self, info: strawberry.Info) -> Employee:
        viewer = await info.context.require_viewer()
        return Employee.from_model(viewer.employee)
