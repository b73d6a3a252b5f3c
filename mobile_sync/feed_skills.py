"""Feed rows for the learner's skill levels (see mobile_sync/entities.py for the contract).

A SKILL_LEVEL row is keyed by the skill and sent to its employee only: their level and what their
position requires."""

from __future__ import annotations

from backend.ids import to_global_id
from backend.models import EmployeeSkill, PositionSkill
from backend.services.feed import Entity
from backend.services.viewer import Viewer
from mobile_sync.entities_base import Loader, Row, ints, iso
from mobile_sync.shapes import INT, MOMENT, TEXT, gid, opt, row


async def _skill_levels(viewer: Viewer, ids: list[str]) -> dict[str, Row | None]:
    skill_ids = ints(ids)
    rows = await EmployeeSkill.filter(
        tenant_id=viewer.tenant_id, employee_id=viewer.employee_id, skill_id__in=skill_ids
    ).select_related("skill")
    required: dict[int, int] = {}
    position_id = viewer.employee.position_id
    if rows and position_id is not None:
        required = dict(
            await PositionSkill.filter(
                tenant_id=viewer.tenant_id, position_id=position_id, skill_id__in=[r.skill_id for r in rows]
            ).values_list("skill_id", "required_level")
        )
    found = {
        str(r.skill_id): {
            "id": to_global_id("Skill", r.skill_id),
            "skillId": to_global_id("Skill", r.skill_id),
            "code": r.skill.code,
            "name": r.skill.name,
            "level": r.level,
            "requiredLevel": required.get(r.skill_id),
            "updatedAt": iso(r.updated_at),
        }
        for r in rows
    }
    return {i: found.get(i) for i in ids}


LOADERS: dict[Entity, Loader] = {Entity.SKILL_LEVEL: _skill_levels}
GLOBAL_TYPES: dict[Entity, str] = {Entity.SKILL_LEVEL: "Skill"}

# The shape of each entity's data (published in the sync contract; tests check every row).

SHAPES = {
    Entity.SKILL_LEVEL: row(
        id=gid("Skill"),
        skillId=gid("Skill"),
        code=TEXT,
        name=TEXT,
        level=INT,
        requiredLevel=opt(INT),
        updatedAt=opt(MOMENT),
    )
}
