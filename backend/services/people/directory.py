"""Employees and the organisation as a viewer may see them.

Who sees whom: everyone sees themselves; mentors see their mentees, managers their direct
reports, HR admins everyone in their tenant. Org units, sites, positions and skills are visible to
every employee of the tenant. Anything else looks exactly like a missing row.
"""

from __future__ import annotations

from collections.abc import Iterable

from tortoise.models import Model

from backend.models import Employee, EmployeeRole, OrgUnit, Position, Role, Site, Skill, Tenant
from backend.services.viewer import Viewer


def can_view_employee(viewer: Viewer, employee: Employee) -> bool:
    """Whether ``viewer`` may see ``employee``'s profile (same tenant assumed checked)."""
    if employee.tenant_id != viewer.tenant_id:
        return False
    if employee.id == viewer.employee_id or viewer.has_role(Role.HR_ADMIN):
        return True
    return employee.manager_id == viewer.employee_id or employee.mentor_id == viewer.employee_id


async def get_employee(viewer: Viewer, employee_id: int) -> Employee | None:
    """An employee the viewer may see, or None."""
    employee = await Employee.filter(tenant_id=viewer.tenant_id, id=employee_id).first()
    if employee is None or not can_view_employee(viewer, employee):
        return None
    return employee


_TENANT_READABLE: dict[str, type[Model]] = {
    "OrgUnit": OrgUnit,
    "Site": Site,
    "Position": Position,
    "Skill": Skill,
}


async def get_tenant_row(viewer: Viewer, kind: str, row_id: int) -> Model | None:
    """An org unit, site, position or skill of the viewer's tenant, or None."""
    model = _TENANT_READABLE[kind]
    return await model.filter(tenant_id=viewer.tenant_id, id=row_id).first()


async def rows_by_id(model: type[Model], tenant_id: int, ids: Iterable[int]) -> dict[int, Model]:
    """Tenant rows by id in one query (for loaders)."""
    rows = await model.filter(tenant_id=tenant_id, id__in=list(set(ids)))
    return {row.pk: row for row in rows}


async def tenants_by_id(ids: Iterable[int]) -> dict[int, Tenant]:
    """Companies by id in one query (for loaders: an employee's company is the viewer's)."""
    return {row.id: row for row in await Tenant.filter(id__in=list(set(ids)))}


async def roles_by_employee(tenant_id: int, employee_ids: Iterable[int]) -> dict[int, list[Role]]:
    result: dict[int, list[Role]] = {}
    rows = await EmployeeRole.filter(tenant_id=tenant_id, employee_id__in=list(set(employee_ids))).order_by("role")
    for row in rows:
        result.setdefault(row.employee_id, []).append(Role(row.role))
    return result
