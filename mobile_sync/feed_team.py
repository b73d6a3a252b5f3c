"""Feed rows for a manager's team (see mobile_sync/entities.py for the contract).

TEAM_MEMBER goes to an employee's manager: one row per direct report. The loader answers only
while the viewer is that employee's manager, read live; so after a transfer or a leave the former
manager's next pull turns the row into a tombstone (an exit) and the new manager's brings the row
(an entry). The employment services mark both (backend/services/people/employment_steps.py).
"""

from __future__ import annotations

from backend.ids import to_global_id
from backend.models import Employee, OrgUnit, Position
from backend.services.feed import Entity
from backend.services.viewer import Viewer
from mobile_sync.entities_base import Loader, Row, ints
from mobile_sync.shapes import BOOL, TEXT, gid, opt, row


async def _team_members(viewer: Viewer, ids: list[str]) -> dict[str, Row | None]:
    """The viewer's direct reports among ``ids``; anyone else is a tombstone."""
    reports = await Employee.filter(tenant_id=viewer.tenant_id, manager_id=viewer.employee_id, id__in=ints(ids))
    unit_ids = {report.org_unit_id for report in reports if report.org_unit_id}
    position_ids = {report.position_id for report in reports if report.position_id}
    units = (
        {u.id: u for u in await OrgUnit.filter(tenant_id=viewer.tenant_id, id__in=list(unit_ids))} if unit_ids else {}
    )
    positions = (
        {p.id: p for p in await Position.filter(tenant_id=viewer.tenant_id, id__in=list(position_ids))}
        if position_ids
        else {}
    )
    found: dict[str, Row | None] = {}
    for report in reports:
        unit = units.get(report.org_unit_id or 0)
        position = positions.get(report.position_id or 0)
        found[str(report.id)] = {
            "id": to_global_id("Employee", report.id),
            "employeeNo": report.employee_no,
            "name": report.name,
            "orgUnit": {"id": to_global_id("OrgUnit", unit.id), "name": unit.name} if unit else None,
            # The same title as the PROFILE row shows.
            "position": {
                "id": to_global_id("Position", position.id),
                "title": f"{position.family}-{position.sequence}-{position.level}",
            }
            if position
            else None,
            "active": report.is_active,
        }
    return {i: found.get(i) for i in ids}


LOADERS: dict[Entity, Loader] = {Entity.TEAM_MEMBER: _team_members}
GLOBAL_TYPES: dict[Entity, str] = {Entity.TEAM_MEMBER: "Employee"}

# The shape of each entity's data (published in the sync contract; tests check every row).

SHAPES = {
    Entity.TEAM_MEMBER: row(
        id=gid("Employee"),
        employeeNo=TEXT,
        name=TEXT,
        orgUnit=opt(row(id=gid("OrgUnit"), name=TEXT)),
        position=opt(row(id=gid("Position"), title=TEXT)),
        active=BOOL,
    )
}
